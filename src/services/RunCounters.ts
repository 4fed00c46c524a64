/**
 * What one sync run spent on remote services, counted where it happens: calls and retries by the
 * retry policy, bytes by the BigQuery layers. Counting is off outside a run.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"

export interface RunCounters {
  calls: number
  retries: number
  bytesProcessed: number
  bytesBilled: number
}

/** The counters of the run in progress; `undefined` outside one. */
export const currentRunCounters = FiberRef.unsafeMake<RunCounters | undefined>(undefined)

/** Runs `effect` counting into fresh counters, returned with the result. */
export const countingRun = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const counters: RunCounters = { calls: 0, retries: 0, bytesProcessed: 0, bytesBilled: 0 }
    return Effect.map(Effect.locally(effect, currentRunCounters, counters), (result) => [result, counters] as const)
  })

/** Adds to the current run's counters, if there is a run. */
export const count = (update: (counters: RunCounters) => void): Effect.Effect<void> =>
  Effect.map(FiberRef.get(currentRunCounters), (counters) => {
    if (counters !== undefined) update(counters)
  })

/** Counts the bytes a query processed and billed (billed: as processed when BigQuery did not say). */
export const countQueryBytes = (result: { readonly totalBytesProcessed: number; readonly totalBytesBilled?: number | undefined }) =>
  count((c) => {
    c.bytesProcessed += result.totalBytesProcessed
    c.bytesBilled += result.totalBytesBilled ?? result.totalBytesProcessed
  })
