/**
 * The one retry policy for remote calls. The Google clients' own retries are switched off in the
 * live layers, so the attempts counted here are the requests a server sees.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Schedule from "effect/Schedule"
import { isTransient, RemoteTimeout, RemoteUnavailable, type TransientError } from "../services/RemoteErrors.ts"

export interface RetrySettings {
  /** Attempts per call, the first included. */
  readonly retryAttempts: number
  /** No retry starts after this much time has passed since the first attempt. */
  readonly retryBudget: Duration.Duration
}

/** Counts of one run's remote calls, for its metrics. */
export interface CallCounter {
  calls: number
  retries: number
}

/** The counter of the run in progress; calls outside a run are not counted. */
export const currentCallCounter = FiberRef.unsafeMake<CallCounter | undefined>(undefined)

/** Runs `effect` counting its remote calls into a fresh counter, returned with the result. */
export const countingCalls = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const counter: CallCounter = { calls: 0, retries: 0 }
    return Effect.map(Effect.locally(effect, currentCallCounter, counter), (result) => [result, counter] as const)
  })

/** The first retry waits about this long; each further one twice as long (with jitter). */
export const RETRY_BASE_DELAY = Duration.millis(500)

/** Exponential backoff with jitter, bounded by attempts and by total time. */
export const remoteCallSchedule = (settings: RetrySettings) =>
  Schedule.exponential(RETRY_BASE_DELAY, 2).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, settings.retryAttempts - 1))),
    Schedule.upTo(settings.retryBudget)
  )

const withAttempts = (error: TransientError, attempts: number): TransientError =>
  error._tag === "RemoteUnavailable"
    ? new RemoteUnavailable({
      service: error.service,
      operation: error.operation,
      resource: error.resource,
      status: error.status,
      reason: error.reason,
      message: error.message,
      attempts
    })
    : new RemoteTimeout({
      service: error.service,
      operation: error.operation,
      resource: error.resource,
      timeout_ms: error.timeout_ms,
      attempts
    })

/**
 * Retries `call` on transient failures (`RemoteUnavailable`, `RemoteTimeout`) under the policy;
 * permanent failures pass through at once. A transient failure that outlasts the policy reports
 * how many attempts were made.
 */
export const retryRemote = (settings: RetrySettings) =>
<A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    let attempts = 0
    return FiberRef.get(currentCallCounter).pipe(
      Effect.tap((counter) => {
        attempts += 1
        if (counter !== undefined) {
          counter.calls += 1
          if (attempts > 1) counter.retries += 1
        }
      }),
      Effect.zipRight(call),
      Effect.tapError((error) =>
        isTransient(error)
          ? Effect.logWarning(`${error.service} ${error.operation} failed (attempt ${attempts}): ${error.message}`).pipe(
            Effect.annotateLogs({ resource: error.resource, tag: error._tag })
          )
          : Effect.void
      ),
      Effect.retry({ schedule: remoteCallSchedule(settings), while: isTransient }),
      Effect.mapError((error) => (isTransient(error) ? (withAttempts(error, attempts) as unknown as E) : error))
    )
  })
