/**
 * The operations behind the CLI, in-process on the in-memory bucket and warehouse, with the
 * TestClock standing in for time: history retention, rollback, diff and the freshness check.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { type CacheDocument, parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { describeDrift } from "../../src/contract/Drift.ts"
import { formatShow } from "../../src/operations/report.ts"
import { checkFreshness, DEFAULT_MAX_AGE, diff, history, readLatest, rollback } from "../../src/operations/Operations.ts"
import { type Alert, AlertService } from "../../src/services/Alerting/AlertService.ts"
import { MemoryBigQuery, MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { ExampleGeneratorService } from "../../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { historyPrefix, pruneHistory } from "../../src/sync/history.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { ageLatestDocument, type CliWorkspace, makeCliWorkspace } from "../support/CliRunner.ts"
import { GA4_TABLE_ID, ga4Table, testLayer, testSettings } from "../support/TestLayers.ts"

const OBJECT = "metadata_cache.json"
const START = DateTime.unsafeMake("2026-11-27T00:00:00Z")

const setTime = (at: DateTime.Utc) => TestClock.setTime(DateTime.toEpochMillis(at))
const at = (hours: number) => DateTime.add(START, { hours })

/** One sync at `time`, which stamps the document and names its snapshot. */
const syncAt = (time: DateTime.Utc) => Effect.zipRight(setTime(time), syncOnce())

const snapshotTimes = Effect.map(history, (snapshots) => snapshots.map((s) => DateTime.formatIso(s.generatedAt)))

const decode = (bytes: Uint8Array): CacheDocument => Either.getOrThrow(parseCacheDocument(new TextDecoder().decode(bytes)))

const bytesOf = (name: string) =>
  Effect.flatMap(MemoryStorageControl, (bucket) => Effect.map(bucket.get(name), (c) => Option.getOrThrow(c).bytes))

/** The GA4 table after a breaking change: `event_value_in_usd` dropped, `stream_id` now a STRING. */
const brokenGa4 = () => {
  const table = ga4Table()
  return {
    ...table,
    columns: table.columns
      .filter((c) => c.name !== "event_value_in_usd")
      .map((c) => (c.name === "stream_id" ? { ...c, type: "STRING" } : c))
  }
}

describe("history retention", () => {
  it.effect("keeps only the newest HISTORY_KEEP snapshots", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      for (let hour = 0; hour < 5; hour++) yield* syncAt(at(hour))

      expect(yield* snapshotTimes).toEqual([2, 3, 4].map((h) => DateTime.formatIso(at(h))))
      const bucket = yield* MemoryStorageControl
      expect((yield* bucket.names).filter((n) => n.startsWith(historyPrefix(OBJECT)))).toHaveLength(3)
      // The newest snapshot is the latest document.
      const [newest] = (yield* history).slice(-1)
      expect(yield* bytesOf(newest.info.name)).toEqual(yield* bytesOf(OBJECT))
    }).pipe(Effect.provide(testLayer({ historyKeep: 3 }))))

  it.effect("removes snapshots older than the maximum age, never the newest", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      for (const hours of [0, 24, 48]) yield* syncAt(at(hours))
      expect(yield* snapshotTimes).toHaveLength(3)

      // Day 3.5: the cutoff is day 1.5, so days 0 and 1 go.
      yield* syncAt(at(84))
      expect(yield* snapshotTimes).toEqual([48, 84].map((h) => DateTime.formatIso(at(h))))

      // A month later, with no sync in between: everything is past the maximum age, but the newest stays.
      yield* setTime(at(24 * 30))
      const removed = yield* pruneHistory(OBJECT, { keep: 30, maxAge: Duration.days(2) })
      expect(removed).toHaveLength(1)
      expect(yield* snapshotTimes).toEqual([DateTime.formatIso(at(84))])
    }).pipe(Effect.provide(testLayer({ historyMaxAge: Duration.days(2) }))))
})

describe("rollback", () => {
  it.effect("makes an older snapshot the latest again; a later sync publishes over it", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(at(0))
      yield* warehouse.putTable(brokenGa4())
      const second = yield* syncAt(at(1))
      const [a, b] = yield* history
      expect(yield* bytesOf(OBJECT)).toEqual(yield* bytesOf(b.info.name))

      const result = yield* rollback(a.info.name.split("/").pop() ?? "")
      expect(result.from.name).toBe(a.info.name)
      expect(result.location).toBe(`gs://test-bucket/${OBJECT}`)
      expect(Number(result.generation)).toBeGreaterThan(Number(second.generation))
      expect(yield* bytesOf(OBJECT)).toEqual(yield* bytesOf(a.info.name))
      const latest = yield* readLatest
      expect(latest.info.generation).toBe(result.generation)
      expect(DateTime.formatIso(latest.document.generated_at)).toBe(DateTime.formatIso(at(0)))
      expect(latest.document.tables[0].columns.map((c) => c.name)).toContain("event_value_in_usd")

      // The warehouse still has the broken table: the next sync replaces the rollback, and its drift
      // is measured against the document rolled back to.
      const third = yield* syncAt(at(2))
      expect(third.status).toBe("ok")
      expect(third.drift.breaking).toBe(2)
      const now = decode(yield* bytesOf(OBJECT))
      expect(DateTime.formatIso(now.generated_at)).toBe(DateTime.formatIso(at(2)))
      expect(now.drift === null ? null : DateTime.formatIso(now.drift.previous_generated_at)).toBe(
        DateTime.formatIso(at(0))
      )
    }).pipe(Effect.provide(testLayer())))

  it.effect("refuses when the latest document changed after it was looked at", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(at(0))
      yield* syncAt(at(1))
      const [a] = yield* history
      const racing = new TextEncoder().encode("{\"published\":\"by another run\"}")
      yield* Ref.set(yield* RaceTrigger, bucket.put(OBJECT, racing))

      const error = yield* Effect.flip(rollback(a.info.name))
      expect(error._tag).toBe("PreconditionFailed")
      // The other run's document was not overwritten unseen.
      expect(yield* bytesOf(OBJECT)).toEqual(racing)
    }).pipe(Effect.provide(racingLayer)))

  it.effect("fails with ResourceNotFound for a snapshot that does not exist", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(at(0))
      const before = yield* bytesOf(OBJECT)
      const error = yield* Effect.flip(rollback("20200101T000000.000Z-000000000000.json"))
      expect(error._tag).toBe("ResourceNotFound")
      expect(error.message).toBe(
        `gs://test-bucket/${historyPrefix(OBJECT)}20200101T000000.000Z-000000000000.json does not exist`
      )
      expect(yield* bytesOf(OBJECT)).toEqual(before)
    }).pipe(Effect.provide(testLayer())))
})

/** What runs right after the next `stat` of the latest object: another publisher slipping in. */
class RaceTrigger extends Context.Tag("test/RaceTrigger")<RaceTrigger, Ref.Ref<Effect.Effect<unknown>>>() {}

/** The in-memory bucket, except that a `stat` of the latest object lets the race trigger write first. */
const racingStorage = Layer.effectContext(
  Effect.gen(function*() {
    const inner = yield* StorageService
    const control = yield* MemoryStorageControl
    const trigger = yield* Ref.make<Effect.Effect<unknown>>(Effect.void)
    const storage = StorageService.of({
      ...inner,
      stat: (name) =>
        inner.stat(name).pipe(
          Effect.tap(() => (name === OBJECT ? Effect.flatten(Ref.getAndSet(trigger, Effect.void)) : Effect.void))
        )
    })
    return Context.make(StorageService, storage).pipe(
      Context.add(MemoryStorageControl, control),
      Context.add(RaceTrigger, trigger)
    )
  })
).pipe(Layer.provide(MemoryStorage.layer("test-bucket")))

const racingLayer = Layer.mergeAll(
  Layer.succeed(SyncConfig, testSettings()),
  MemoryBigQuery.layer(),
  racingStorage,
  ExampleGeneratorService.Disabled,
  AlertService.Disabled
)

describe("diff", () => {
  it.effect("lists the changes between a snapshot and the latest document", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(at(0))
      yield* warehouse.putTable(brokenGa4())
      yield* syncAt(at(1))
      const [a, b] = yield* history

      const result = yield* diff(a.info.name.split("/").pop() ?? "", "latest")
      expect(result.from.name).toBe(a.info.name)
      expect(result.to.name).toBe(OBJECT)
      expect(result.drift.total).toBe(2)
      expect(result.drift.breaking).toBe(2)
      expect([...describeDrift(result.drift)].sort()).toEqual([
        `BREAKING ${GA4_TABLE_ID}: column event_value_in_usd removed (was FLOAT NULLABLE)`,
        `BREAKING ${GA4_TABLE_ID}: column stream_id type INTEGER → STRING`
      ])

      // Between two snapshots by their full names: the same changes.
      const between = yield* diff(a.info.name, b.info.name)
      expect(between.drift.changes).toEqual(result.drift.changes)
      const none = yield* diff(b.info.name, OBJECT)
      expect(none.drift.total).toBe(0)

      const missing = yield* Effect.flip(diff("nope.json", "latest"))
      expect(missing._tag).toBe("ResourceNotFound")
    }).pipe(Effect.provide(testLayer())))
})

describe("freshness check", () => {
  it.effect("is fresh up to the maximum age, then stale, with the alert reported as disabled", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(at(0))

      yield* setTime(at(26))
      const edge = yield* checkFreshness(Duration.hours(26))
      expect(edge).toMatchObject({ location: `gs://test-bucket/${OBJECT}`, stale: false, alert: null })
      expect(Duration.toHours(edge.age)).toBe(26)

      yield* TestClock.adjust(Duration.minutes(1))
      const stale = yield* checkFreshness(Duration.hours(26))
      expect(stale.stale).toBe(true)
      expect(stale.alert).toBe("disabled")
      expect(Duration.toMinutes(stale.age)).toBe(26 * 60 + 1)
      expect(DateTime.formatIso(stale.generated_at)).toBe(DateTime.formatIso(at(0)))
    }).pipe(Effect.provide(testLayer())))

  it.effect("uses 26 hours when no maximum age is given", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(at(0))
      expect(Duration.toHours(DEFAULT_MAX_AGE)).toBe(26)

      yield* setTime(at(26))
      expect((yield* checkFreshness()).stale).toBe(false)
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* checkFreshness()).stale).toBe(true)
    }).pipe(Effect.provide(testLayer())))

  it.effect("reports a document generated more than 5 minutes in the future, and alerts", () => {
    const alerts: Array<Alert> = []
    return Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(DateTime.unsafeMake("2099-01-01T00:00:00Z"))

      yield* setTime(at(0))
      const freshness = yield* checkFreshness()
      expect(freshness).toMatchObject({ future: true, stale: false, alert: "sent" })
      expect(Duration.toMillis(freshness.age)).toBe(0)
      expect(Duration.toMillis(freshness.ahead)).toBe(DateTime.distance(at(0), DateTime.unsafeMake("2099-01-01T00:00:00Z")))
      expect(alerts).toEqual([{
        kind: "future_document",
        generated_at: "2099-01-01T00:00:00.000Z",
        now: DateTime.formatIso(at(0)),
        ahead_hours: Math.round(Duration.toMillis(freshness.ahead) / 360_000) / 10,
        max_skew_minutes: 5,
        replaced: false,
        target: `gs://test-bucket/${OBJECT}`
      }])
    }).pipe(Effect.provide(Layer.merge(testLayer(), recordingAlerts(alerts))))
  })

  it.effect("is shown by `show` as suspect, not as fresh", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(DateTime.add(START, { hours: 50 }))
      yield* setTime(START)
      const text = formatShow(yield* readLatest, START, DEFAULT_MAX_AGE)
      expect(text).toContain(`Generated at: ${DateTime.formatIso(at(50))} (2 d 2 h in the future: SUSPECT, ahead of this clock)`)
    }).pipe(Effect.provide(testLayer())))

  it.effect("allows up to 5 minutes of clock skew", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncAt(DateTime.add(START, { minutes: 5 }))

      yield* setTime(START)
      expect(yield* checkFreshness()).toMatchObject({ future: false, stale: false, alert: null })
      yield* setTime(DateTime.subtract(START, { millis: 1 }))
      expect((yield* checkFreshness()).future).toBe(true)
    }).pipe(Effect.provide(testLayer())))

  it.effect("fails when nothing is published", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(checkFreshness(Duration.hours(1)))
      expect(error._tag).toBe("ResourceNotFound")
      expect(error.message).toBe(`gs://test-bucket/${OBJECT} does not exist`)
    }).pipe(Effect.provide(testLayer())))
})

/** An alert service that keeps what it is told, for a test to read. */
const recordingAlerts = (sent: Array<Alert>) =>
  Layer.succeed(AlertService, AlertService.of({ notify: (alert) => Effect.sync(() => (sent.push(alert), "sent" as const)) }))

describe("metasync check, the command", () => {
  const workspaces: Array<CliWorkspace> = []
  afterEach(async () => {
    await Promise.all(workspaces.splice(0).map((w) => w.remove()))
  })

  it("exits 4 for a document dated in the future, and by default at 26 hours", async () => {
    const ws = await makeCliWorkspace()
    workspaces.push(ws)
    const sync = await ws.run(["sync", "--json"])
    expect(sync.code, sync.stderr).toBe(0)

    // Minutes of slack either side of the default threshold, for a busy machine's clock.
    await ageLatestDocument(ws, 25.9)
    const fresh = await ws.run(["check"])
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0)
    await ageLatestDocument(ws, 26.1)
    expect((await ws.run(["check"])).code).toBe(4)

    const future = await ageLatestDocument(ws, -24 * 365)
    const suspect = await ws.run(["check"])
    expect(suspect.code, suspect.stdout + suspect.stderr).toBe(4)
    expect(suspect.stdout.trim()).toMatch(/in the future: SUSPECT, ahead of this clock \(alert disabled\)$/)
    expect(suspect.stdout.trim()).toContain(`${ws.documentFile}: generated ${future}, 36`)
  }, 120_000)
})
