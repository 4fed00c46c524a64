/**
 * A BigQuery call cut by its deadline, or interrupted, cancels its HTTP request: the socket is
 * closed by the client, not left open until the server answers (which a stalled one never does).
 * The Cloud Storage calls are checked the same way in GcsStorage.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { BigQuery } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery } from "../../src/services/BigQuery/LiveBigQuery.ts"
import { type FakeBigQuery, Fault, type RequestKind, start } from "../support/FakeBigQueryServer.ts"
import { allClosed } from "../support/OpenConnections.ts"

const PROJECT = "metasync-test"
const SHORT_DEADLINE_MS = 800

const fakeBigQuery = Effect.acquireRelease(Effect.promise(() => start()), (fake) => Effect.promise(() => fake.close()))

const bigQueryOn = (fake: FakeBigQuery, timeout: Duration.DurationInput) =>
  LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: fake.url, timeout }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
  )

const calls: ReadonlyArray<{
  readonly kind: RequestKind
  readonly call: (bigquery: BigQuery) => Effect.Effect<unknown, { readonly _tag: string }>
}> = [
  { kind: "tables.get", call: (bq) => bq.getTable({ project: PROJECT, dataset: "shop", table: "orders" }) },
  { kind: "tables.list", call: (bq) => bq.listTables(PROJECT, "shop") },
  { kind: "jobs.query", call: (bq) => bq.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1e9 }) },
  { kind: "jobs.insert", call: (bq) => bq.dryRun(PROJECT, "SELECT 1") }
]

describe("LiveBigQuery cancels the request of a call it gives up on", () => {
  for (const { call, kind } of calls) {
    it.scopedLive(`a stalled ${kind} → RemoteTimeout, and its socket is closed`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery
        const bigquery = yield* bigQueryOn(fake, `${SHORT_DEADLINE_MS} millis`)
        fake.faults.inject(Fault.stall, { kind })
        expect(fake.connections.count()).toBe(0)

        const failure = yield* Effect.flip(call(bigquery))
        expect(failure).toMatchObject({ _tag: "RemoteTimeout", operation: kind, timeout_ms: SHORT_DEADLINE_MS })
        expect(fake.requests.map((r) => r.kind)).toEqual([kind])
        yield* allClosed(fake.connections)
      }))
  }

  it.scopedLive("an interrupted call (no deadline reached) closes its socket too", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery
      const bigquery = yield* bigQueryOn(fake, "10 minutes")
      fake.faults.inject(Fault.stall, { kind: "tables.get" })

      const fiber = yield* Effect.fork(bigquery.getTable({ project: PROJECT, dataset: "shop", table: "orders" }))
      yield* Effect.promise(() => fake.connections.upTo(1))
      yield* Fiber.interrupt(fiber)
      yield* allClosed(fake.connections)
    }))
})
