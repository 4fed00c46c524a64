import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { flattenFields } from "../../src/contract/Field.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import {
  PermissionDenied,
  RemoteRejected,
  RemoteTimeout,
  RemoteUnavailable,
  ResourceNotFound
} from "../../src/services/RemoteErrors.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import {
  MemoryExampleGenerator,
  MemoryExampleGeneratorControl
} from "../../src/services/ExampleGenerator/MemoryExampleGenerator.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Logger from "effect/Logger"
import { DEFAULT_MAX_DOCUMENT_BYTES, loadSyncSettings } from "../../src/config/SyncConfig.ts"
import { type Alert, AlertService } from "../../src/services/Alerting/AlertService.ts"
import { GA4_TABLE_ID, ga4Table, testLayer } from "../support/TestLayers.ts"

const OBJECT = "metadata_cache.json"

const unavailable = (status = 503) =>
  new RemoteUnavailable({
    service: "bigquery",
    operation: "tables.get",
    resource: GA4_TABLE_ID,
    status,
    reason: "backendError",
    message: "Backend error",
    attempts: 1
  })

/** The published document, decoded. */
const published = Effect.gen(function*() {
  const bucket = yield* MemoryStorageControl
  const text = Option.getOrThrow(yield* bucket.text(OBJECT))
  return Either.getOrThrow(parseCacheDocument(text))
})

/**
 * Runs `effect` in the background and moves the TestClock a minute at a time until it is done,
 * letting real I/O (the curated-examples directory) make progress in between.
 */
const withTimePassing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let minute = 0; minute < 600; minute++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust("1 minute")
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
    }
    return yield* Fiber.join(fiber)
  })

describe("one sync", () => {
  it.effect("publishes the GA4 table's columns, nested tree and examples, stamped with the clock's time", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table({ description: "GA4 export" }))
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-27T17:00:00Z")))

      const summary = yield* syncOnce()

      const doc = yield* published
      expect(DateTime.formatIso(doc.generated_at)).toBe("2026-11-27T17:00:00.000Z")
      expect(doc.schema.table_id).toBe(GA4_TABLE_ID)
      expect(doc.tables[0].description).toBe("GA4 export")
      const items = doc.tables[0].columns.find((c) => c.name === "items")
      expect(items?.mode).toBe("REPEATED")
      expect(items?.fields?.map((f) => f.name)).toContain("item_name")
      const paths = flattenFields(doc.tables[0].columns).map((p) => p.path)
      expect(paths).toContain("event_params.value.string_value")
      expect(doc.examples.length).toBeGreaterThanOrEqual(4)
      expect(doc.examples.every((e) => e.sql.includes("`nlq-ex.test_dataset.events_20210131`"))).toBe(true)

      expect(summary).toMatchObject({
        status: "ok",
        generated_at: "2026-11-27T17:00:00.000Z",
        table_count: 1,
        column_count: 23,
        field_count: paths.length,
        example_count: doc.examples.length,
        object: "gs://test-bucket/metadata_cache.json"
      })
      expect(summary.generation).not.toBeNull()
    }).pipe(Effect.provide(testLayer())))

  it.effect("writes English questions when configured", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncOnce()
      const doc = yield* published
      expect(doc.examples.every((e) => e.language === "en" && !/[가-힣]/.test(e.question))).toBe(true)
    }).pipe(Effect.provide(testLayer({ language: "en" }))))

  it.effect("retries a transient failure and succeeds, counting the attempts", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* warehouse.failNext("getTables", unavailable(503))
      yield* warehouse.failNext("getTables", unavailable(429))

      const summary = yield* withTimePassing(syncOnce())

      expect(summary.status).toBe("ok")
      const calls = yield* warehouse.calls
      expect(calls.filter((c) => c.operation === "getTables")).toHaveLength(3)
    }).pipe(Effect.provide(testLayer())))

  it.effect("gives up after the policy's attempts with the attempt count, leaving the published document alone", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      const before = yield* bucket.put(OBJECT, "{\"previous\": true}")
      // The batch times out, and so does the table when read again by itself.
      for (const operation of ["getTables", "getTable"] as const) {
        for (let i = 0; i < 10; i++) {
          yield* warehouse.failNext(
            operation,
            new RemoteTimeout({ service: "bigquery", operation: "tables.get", resource: GA4_TABLE_ID, timeout_ms: 30_000, attempts: 1 })
          )
        }
      }

      const error = yield* Effect.flip(withTimePassing(syncOnce()))

      expect(error._tag).toBe("AllTablesFailed")
      expect(error).toMatchObject({ transient: true, failures: [{ table_id: GA4_TABLE_ID, tag: "RemoteTimeout" }] })
      expect(error.message).toMatch(/nlq-ex\.test_dataset\.events_20210131: RemoteTimeout: .*attempts: 3/)
      expect((yield* warehouse.calls).filter((c) => c.operation === "getTables")).toHaveLength(3)
      expect((yield* warehouse.calls).filter((c) => c.operation === "getTable")).toHaveLength(3)
      const after = Option.getOrThrow(yield* bucket.get(OBJECT))
      expect(after.info.generation).toBe(before)
      expect(new TextDecoder().decode(after.bytes)).toBe("{\"previous\": true}")
    }).pipe(Effect.provide(testLayer({ retryAttempts: 3 }))))

  it.effect.each<readonly [string, ResourceNotFound | PermissionDenied]>([
    ["missing table", new ResourceNotFound({ service: "bigquery", operation: "tables.get", resource: GA4_TABLE_ID, message: "Not found" })],
    ["permission lost", new PermissionDenied({ service: "bigquery", operation: "tables.get", resource: GA4_TABLE_ID, status: 403, message: "Access Denied" })]
  ])("fails at once on a permanent error (%s) and writes nothing", ([, failure]) =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      // The batch fails, and so does the table when read again by itself: no retries of either.
      yield* warehouse.failNext("getTables", failure)
      yield* warehouse.failNext("getTable", failure)

      const error = yield* Effect.flip(syncOnce())

      expect(error).toMatchObject({ _tag: "AllTablesFailed", transient: false, failures: [{ tag: failure._tag }] })
      expect((yield* warehouse.calls).map((c) => c.operation)).toEqual(["getTables", "getTable"])
      expect(yield* bucket.names).toEqual([])
    }).pipe(Effect.provide(testLayer())))

  it.effect("retries a failed write under the same generation precondition", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      yield* bucket.failNext(
        "write",
        new RemoteUnavailable({ service: "storage", operation: "objects.insert", resource: "gs://test-bucket/metadata_cache.json", status: 500, reason: "backendError", message: "boom", attempts: 1 })
      )

      const summary = yield* withTimePassing(syncOnce())

      expect(summary.status).toBe("ok")
      expect((yield* bucket.calls).filter((c) => c.operation === "write")).toHaveLength(2)
      expect((yield* published).schema.table_id).toBe(GA4_TABLE_ID)
    }).pipe(Effect.provide(testLayer())))

  it.effect("never replaces a document generated later than its own", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      // An overlapping run that finished two minutes after this one started.
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-28T00:02:00Z")))
      yield* syncOnce()
      const newer = Option.getOrThrow(yield* bucket.get(OBJECT))

      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-28T00:00:00Z")))
      const error = yield* Effect.flip(syncOnce())

      expect(error._tag).toBe("PreconditionFailed")
      expect(error.message).toMatch(/a newer document \(generated at 2026-11-28T00:02:00.000Z\) is already published/)
      const after = Option.getOrThrow(yield* bucket.get(OBJECT))
      expect(after.info.generation).toBe(newer.info.generation)
    }).pipe(Effect.provide(testLayer())))

  it.effect("replaces a corrupt published object with a valid document", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      yield* bucket.put(OBJECT, "{ not json")
      yield* syncOnce()
      expect((yield* published).schema.table_id).toBe(GA4_TABLE_ID)
    }).pipe(Effect.provide(testLayer())))

  it.effect("a dry run renders and checks the document but writes nothing", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      const summary = yield* syncOnce({ dryRun: true })
      expect(summary).toMatchObject({ status: "dry_run", generation: null, table_count: 1 })
      expect(summary.bytes).toBeGreaterThan(1000)
      expect(yield* bucket.names).toEqual([])
    }).pipe(Effect.provide(testLayer())))

  it.effect("takes the LLM's examples through the same validator, rejecting the unsafe ones", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const llm = yield* MemoryExampleGeneratorControl
      yield* warehouse.putTable(ga4Table())
      yield* llm.answer(GA4_TABLE_ID, [
        { question: "모바일 기기 이벤트 수는?", sql: "SELECT COUNT(*) AS n FROM `nlq-ex.test_dataset.events_20210131` WHERE device.category = 'mobile'" },
        { question: "Delete everything", sql: "DELETE FROM `nlq-ex.test_dataset.events_20210131` WHERE TRUE" },
        { question: "Unknown column", sql: "SELECT nope FROM `nlq-ex.test_dataset.events_20210131`" }
      ])

      const summary = yield* syncOnce()

      const doc = yield* published
      const fromLlm = doc.examples.filter((e) => e.source === "llm")
      expect(fromLlm).toEqual([expect.objectContaining({ question: "모바일 기기 이벤트 수는?", generator: "llm:memory-model", language: "ko" })])
      expect(summary.rejected_examples).toMatchObject({ not_read_only: 1, unknown_column: 1 })
      expect(doc.metrics?.examples_by_source.llm).toBe(1)
      expect((yield* llm.calls).map((c) => c.table.table_id)).toEqual([GA4_TABLE_ID])
    }).pipe(Effect.provide(Layer.merge(testLayer(), MemoryExampleGenerator.layer()))))

  it.effect("dry-runs every example in live mode, recording estimates and rejecting what BigQuery refuses or what costs too much", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      // The breakdown by event name would scan 20 GiB: over the 10 GiB cap.
      yield* warehouse.answerQuery((sql) => sql.includes("GROUP BY event_name"), { rows: [], totalBytesProcessed: 20 * 1024 ** 3 })
      yield* warehouse.answerQuery(() => true, { rows: [], totalBytesProcessed: 4096 })
      yield* warehouse.failNext(
        "dryRun",
        new RemoteRejected({ service: "bigquery", operation: "jobs.insert", resource: "nlq-ex", status: 400, reason: "invalidQuery", message: "Unrecognized name" })
      )

      const summary = yield* syncOnce()

      expect(summary.rejected_examples).toMatchObject({ over_bytes_cap: 1, dry_run_rejected: 1 })
      const doc = yield* published
      expect(doc.examples.length).toBeGreaterThan(0)
      expect(doc.examples.every((e) => e.estimated_bytes === 4096)).toBe(true)
      expect(doc.examples.some((e) => e.sql.includes("GROUP BY event_name"))).toBe(false)
      const dryRuns = (yield* warehouse.calls).filter((c) => c.operation === "dryRun")
      expect(dryRuns.length).toBe(doc.examples.length + 2)
    }).pipe(Effect.provide(testLayer())))

  it.effect("skips dry runs in local mode", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncOnce()
      expect((yield* warehouse.calls).filter((c) => c.operation === "dryRun")).toEqual([])
      expect((yield* published).examples.every((e) => e.estimated_bytes === undefined)).toBe(true)
    }).pipe(Effect.provide(testLayer({ mode: "local" }))))

})

/** An alert service that keeps what it is told, for a test to read. */
const recordingAlerts = (sent: Array<Alert>) =>
  Layer.succeed(AlertService, AlertService.of({ notify: (alert) => Effect.sync(() => (sent.push(alert), "sent" as const)) }))

/** A logger that keeps `level message` lines, for a test to read. */
const recordingLogger = (lines: Array<string>) =>
  Logger.replace(Logger.defaultLogger, Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  }))

const iso = (text: string) => DateTime.toEpochMillis(DateTime.unsafeMake(text))

describe("a document generated in the future", () => {
  it.effect("is replaced, with a warning in the log and an alert", () => {
    const alerts: Array<Alert> = []
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* TestClock.setTime(iso("2099-01-01T00:00:00Z"))
      yield* syncOnce()

      yield* TestClock.setTime(iso("2026-11-28T00:00:00Z"))
      const summary = yield* syncOnce()

      expect(summary.status).toBe("ok")
      expect(DateTime.formatIso((yield* published).generated_at)).toBe("2026-11-28T00:00:00.000Z")
      expect(logs).toContainEqual(expect.stringMatching(
        /^WARN replaced a document generated in the future \(2099-01-01T00:00:00.000Z, \d+ min ahead of this run's clock\)$/
      ))
      // Its own kind, with the date it claims and this run's clock: not a stale cache of negative age.
      expect(alerts).toEqual([{
        kind: "future_document",
        generated_at: "2099-01-01T00:00:00.000Z",
        now: "2026-11-28T00:00:00.000Z",
        ahead_hours: (iso("2099-01-01T00:00:00Z") - iso("2026-11-28T00:00:00Z")) / 3_600_000,
        max_skew_minutes: 5,
        replaced: true,
        target: "gs://test-bucket/metadata_cache.json"
      }])
    }).pipe(Effect.provide(Layer.mergeAll(testLayer(), recordingAlerts(alerts), recordingLogger(logs))))
  })

  it.effect("is replaced when more than 5 minutes ahead; one up to 5 minutes ahead is newer and wins (409)", () => {
    const alerts: Array<Alert> = []
    return Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      const now = iso("2026-11-28T00:00:00Z")

      yield* TestClock.setTime(now + 5 * 60_000)
      yield* syncOnce()
      yield* TestClock.setTime(now)
      const error = yield* Effect.flip(syncOnce())
      expect(error._tag).toBe("PreconditionFailed")

      yield* TestClock.setTime(now + 5 * 60_000 + 1)
      yield* syncOnce()
      yield* TestClock.setTime(now)
      yield* syncOnce()
      expect(DateTime.formatIso((yield* published).generated_at)).toBe("2026-11-28T00:00:00.000Z")
      expect(alerts).toHaveLength(1)
    }).pipe(Effect.provide(Layer.merge(testLayer(), recordingAlerts(alerts))))
  })
})

describe("the document's size cap", () => {
  it.effect("fails a run whose document is over MAX_DOCUMENT_BYTES, writing nothing", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())

      const error = yield* Effect.flip(syncOnce())

      expect(error._tag).toBe("DocumentTooLarge")
      expect(error.message).toMatch(
        /^the document for gs:\/\/test-bucket\/metadata_cache.json has \d+ bytes, over MAX_DOCUMENT_BYTES \(2000\); nothing was written/
      )
      expect(yield* bucket.names).toEqual([])
      expect((yield* Effect.flip(syncOnce({ dryRun: true })))._tag).toBe("DocumentTooLarge")
    }).pipe(Effect.provide(testLayer({ maxDocumentBytes: 2000 }))))

  it.effect("publishes a document within the cap", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      const summary = yield* syncOnce()
      expect(summary.bytes).toBeGreaterThan(2000)
    }).pipe(Effect.provide(testLayer({ maxDocumentBytes: 1024 ** 2 }))))

  it.effect("never downloads a published document over the cap: it is replaced as a corrupt one, with a warning", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      yield* syncOnce()
      // The same valid document, padded past the cap (as a run with a larger MAX_DOCUMENT_BYTES could have published it).
      const padded = `${Option.getOrThrow(yield* bucket.text(OBJECT))}${" ".repeat(1024 ** 2)}`
      const generation = yield* bucket.put(OBJECT, padded)
      const callsBefore = (yield* bucket.calls).length

      yield* TestClock.adjust("1 hour")
      const summary = yield* syncOnce()

      const calls = (yield* bucket.calls).slice(callsBefore).filter((c) => c.name === OBJECT).map((c) => c.operation)
      expect(calls).toEqual(["stat", "copy"])
      expect(logs).toContainEqual(
        `WARN the published document gs://test-bucket/${OBJECT} (generation ${generation}) has ${new TextEncoder().encode(padded).byteLength} bytes, over MAX_DOCUMENT_BYTES (${
          1024 ** 2
        }); not downloaded, and replaced as if corrupt (no drift, no stale entries kept from it)`
      )
      // Replaced under that generation's precondition, as a corrupt document is: no drift from what it could not read.
      expect(summary.status).toBe("ok")
      const doc = yield* published
      expect(doc.drift).toBeNull()
      expect(DateTime.formatIso(doc.generated_at)).toBe(summary.generated_at)
    }).pipe(Effect.provide(Layer.merge(testLayer({ maxDocumentBytes: 1024 ** 2 }), recordingLogger(logs))))
  })

  it.effect("leaves a published document over the cap in place when every table fails", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      const oversized = " ".repeat(4096)
      const generation = yield* bucket.put(OBJECT, oversized)
      const failure = new ResourceNotFound({ service: "bigquery", operation: "tables.get", resource: GA4_TABLE_ID, message: "Not found" })
      yield* warehouse.failNext("getTables", failure)
      yield* warehouse.failNext("getTable", failure)

      expect((yield* Effect.flip(syncOnce()))._tag).toBe("AllTablesFailed")
      const after = Option.getOrThrow(yield* bucket.get(OBJECT))
      expect(after.info.generation).toBe(generation)
      expect(new TextDecoder().decode(after.bytes)).toBe(oversized)
      expect((yield* bucket.calls).filter((c) => c.name === OBJECT).map((c) => c.operation)).toEqual(["stat"])
    }).pipe(Effect.provide(testLayer({ maxDocumentBytes: 4000 }))))

  it.effect("is read from MAX_DOCUMENT_BYTES, 64 MiB by default, and checked at start", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) =>
        Effect.withConfigProvider(loadSyncSettings, ConfigProvider.fromMap(new Map(Object.entries({ METASYNC_MODE: "local", ...env }))))
      expect((yield* withEnv({})).maxDocumentBytes).toBe(64 * 1024 ** 2)
      expect(DEFAULT_MAX_DOCUMENT_BYTES).toBe(64 * 1024 ** 2)
      expect((yield* withEnv({ MAX_DOCUMENT_BYTES: "1048576" })).maxDocumentBytes).toBe(1048576)
      const invalid = yield* Effect.flip(withEnv({ MAX_DOCUMENT_BYTES: "64MiB" }))
      expect(invalid).toMatchObject({ _tag: "InvalidConfig", variable: "MAX_DOCUMENT_BYTES", value: "64MiB" })
    }))
})
