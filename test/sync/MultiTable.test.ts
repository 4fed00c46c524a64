import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { parseTargets } from "../../src/config/Targets.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { PermissionDenied, ResourceNotFound } from "../../src/services/RemoteErrors.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { groupShards, shardOf } from "../../src/sync/targets.ts"
import { captureLogs } from "../support/CapturedLogs.ts"
import { fixtureTable, ga4Table, testLayer } from "../support/TestLayers.ts"

const targets = (list: string) => Either.getOrThrow(parseTargets(list))

const published = Effect.gen(function*() {
  const bucket = yield* MemoryStorageControl
  return Either.getOrThrow(parseCacheDocument(Option.getOrThrow(yield* bucket.text("metadata_cache.json"))))
})

/** A warehouse with two datasets: GA4 shards and three ordinary tables. */
const arrange = Effect.gen(function*() {
  const warehouse = yield* MemoryBigQueryControl
  for (const day of ["20210129", "20210130", "20210131"]) {
    yield* warehouse.putTable(
      ga4Table({ table_id: `nlq-ex.ga4.events_${day}` as never, description: `GA4 events of ${day}` })
    )
  }
  yield* warehouse.putTable(fixtureTable("nlq-ex.public.shakespeare", "samples.shakespeare", { description: "Word counts" }))
  yield* warehouse.putTable(fixtureTable("nlq-ex.public.usa_names", "usa_names.usa_1910_current"))
  yield* warehouse.putTable(fixtureTable("nlq-ex.public.tmp_scratch", "samples.shakespeare"))
  return warehouse
})

describe("targets", () => {
  it("parses ids, patterns and exclusions, and says which entry is wrong", () => {
    expect(targets("nlq-ex.ga4.events_*, !nlq-ex.public.tmp_*\nnlq-ex.public.*")).toEqual([
      { project: "nlq-ex", dataset: "ga4", table: "events_*", exclude: false },
      { project: "nlq-ex", dataset: "public", table: "tmp_*", exclude: true },
      { project: "nlq-ex", dataset: "public", table: "*", exclude: false }
    ])
    expect(parseTargets("nlq-ex.ga4.*, nlq-ex.bad-ds.*")).toEqual(
      Either.left("entry \"nlq-ex.bad-ds.*\": dataset name \"bad-ds\" may hold only letters, digits and underscores (at most 1024)")
    )
    expect(parseTargets("!nlq-ex.ga4.*")).toEqual(Either.left("the list only excludes tables; name at least one to include"))
    expect(parseTargets(" , ")).toEqual(Either.left("the list names no table"))
  })

  it("recognises date shards and groups them into families", () => {
    expect(shardOf("events_20210131")).toEqual({ prefix: "events_", suffix: "20210131" })
    expect(shardOf("events_20211331")).toBeUndefined()
    expect(shardOf("events_intraday_20210131")).toEqual({ prefix: "events_intraday_", suffix: "20210131" })
    const grouped = groupShards("p-roject", "d", ["events_20210102", "events_20210101", "orders", "events_intraday_20210102"])
    expect(grouped.map((t) => [t.id, t.read.table, t.sharding?.shard_count ?? null])).toEqual([
      ["p-roject.d.events_*", "events_20210102", 2],
      ["p-roject.d.events_intraday_*", "events_intraday_20210102", 1],
      ["p-roject.d.orders", "orders", null]
    ])
  })
})

describe("a sync of many tables", () => {
  it.effect("describes whole datasets and sharded families, with calls growing with datasets", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      const summary = yield* syncOnce()

      const doc = yield* published
      expect(doc.tables.map((t) => t.table_id)).toEqual([
        "nlq-ex.ga4.events_*",
        "nlq-ex.public.shakespeare",
        "nlq-ex.public.usa_names"
      ])
      expect(doc.tables[0].sharding).toEqual({
        prefix: "events_",
        first_suffix: "20210129",
        last_suffix: "20210131",
        shard_count: 3
      })
      expect(doc.tables[0].description).toBe("GA4 events of 20210131")
      expect(doc.schema.table_id).toBe("nlq-ex.ga4.events_*")
      expect(summary).toMatchObject({ status: "ok", table_count: 3, failed_tables: [] })
      const calls = (yield* warehouse.calls).filter((c) => c.operation !== "dryRun").map((c) => `${c.operation} ${c.target}`)
      expect((yield* warehouse.calls).filter((c) => c.operation === "dryRun")).toHaveLength(doc.examples.length)
      expect(calls.sort()).toEqual([
        "getTables nlq-ex.ga4",
        "getTables nlq-ex.public",
        "listTables nlq-ex.ga4",
        "listTables nlq-ex.public"
      ])
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.ga4.events_*, nlq-ex.public.*, !nlq-ex.public.tmp_*") }))))

  it.effect("publishes the other tables when one fails, keeping the failed one's previous entry as stale", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-26T17:00:00Z")))
      yield* syncOnce()

      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-27T17:00:00Z")))
      const denied = new PermissionDenied({ service: "bigquery", operation: "tables.get", resource: "nlq-ex.public", status: 403, message: "Access Denied: Dataset nlq-ex:public" })
      yield* warehouse.failNext("getTables", denied, "nlq-ex.public")
      yield* warehouse.failNext("getTable", denied, "nlq-ex.public.shakespeare")
      const summary = yield* syncOnce()

      expect(summary.status).toBe("partial")
      expect(summary.failed_tables).toEqual([
        { table_id: "nlq-ex.public.shakespeare", tag: "PermissionDenied", message: "Access Denied: Dataset nlq-ex:public", kept_stale: true }
      ])
      const doc = yield* published
      expect(DateTime.formatIso(doc.generated_at)).toBe("2026-11-27T17:00:00.000Z")
      const shakespeare = doc.tables.find((t) => t.table_id === "nlq-ex.public.shakespeare")
      expect(shakespeare?.status).toEqual({
        state: "stale",
        failure: { tag: "PermissionDenied", message: "Access Denied: Dataset nlq-ex:public", since: DateTime.unsafeMake("2026-11-27T17:00:00Z") }
      })
      expect(shakespeare?.description).toBe("Word counts")
      // Its examples stay, valid against the schema kept.
      expect(doc.examples.some((e) => e.tables.includes(shakespeare!.table_id))).toBe(true)
      expect(doc.tables.find((t) => t.table_id === "nlq-ex.ga4.events_20210131")?.status).toEqual({ state: "fresh" })

      // Still failing a day later: `since` stays at the first failure.
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-28T17:00:00Z")))
      yield* warehouse.dropTable("nlq-ex.public.shakespeare")
      const next = yield* syncOnce()
      expect(next.failed_tables[0]).toMatchObject({ tag: "ResourceNotFound", kept_stale: true })
      const later = (yield* published).tables.find((t) => t.table_id === "nlq-ex.public.shakespeare")
      expect(later?.status.state === "stale" && DateTime.formatIso(later.status.failure.since)).toBe("2026-11-27T17:00:00.000Z")
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.ga4.events_20210131, nlq-ex.public.shakespeare") }))))

  it.effect("a batch that fails as a whole is read table by table: only the table that really fails goes stale, with its own error", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      yield* syncOnce()
      // The batch read of nlq-ex.public fails (as an INFORMATION_SCHEMA query would); read by
      // itself, only shakespeare is refused.
      yield* warehouse.failNext(
        "getTables",
        new PermissionDenied({ service: "bigquery", operation: "jobs.query", resource: "nlq-ex.public", status: 403, message: "Access Denied: INFORMATION_SCHEMA" }),
        "nlq-ex.public"
      )
      yield* warehouse.failNext(
        "getTable",
        new PermissionDenied({ service: "bigquery", operation: "tables.get", resource: "nlq-ex.public.shakespeare", status: 403, message: "Access Denied: Table nlq-ex:public.shakespeare" }),
        "nlq-ex.public.shakespeare"
      )
      const logs = captureLogs()

      const summary = yield* syncOnce().pipe(Effect.provide(logs.layer))

      expect(summary.status).toBe("partial")
      expect(summary.failed_tables).toEqual([{
        table_id: "nlq-ex.public.shakespeare",
        tag: "PermissionDenied",
        message: "Access Denied: Table nlq-ex:public.shakespeare",
        kept_stale: true
      }])
      const doc = yield* published
      expect(doc.tables.map((t) => [t.table_id, t.status.state])).toEqual([
        ["nlq-ex.public.shakespeare", "stale"],
        ["nlq-ex.public.usa_names", "fresh"]
      ])
      expect(logs.warnings().some((line) => line.includes("reading the 2 tables of nlq-ex.public one by one"))).toBe(true)
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.public.shakespeare, nlq-ex.public.usa_names") }))))

  it.effect("a table whose metadata the document cannot hold fails alone, saying what is wrong; the rest publish", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      const usaNames = fixtureTable("nlq-ex.public.usa_names", "usa_names.usa_1910_current")
      yield* warehouse.putTable({
        ...usaNames,
        row_count: -1,
        partitioning: { field: null, type: "DAY", expiration_ms: Number.NaN, require_partition_filter: false }
      })

      const summary = yield* syncOnce()

      expect(summary.status).toBe("partial")
      expect(summary.failed_tables).toEqual([{
        table_id: "nlq-ex.public.usa_names",
        tag: "RemoteRejected",
        message: expect.stringMatching(
          /^nlq-ex\.public\.usa_names has metadata the cache document cannot hold: .*row_count: .*partitioning\.expiration_ms: /
        ),
        kept_stale: false
      }])
      expect((yield* published).tables.map((t) => t.table_id)).toEqual(["nlq-ex.public.shakespeare"])
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.public.shakespeare, nlq-ex.public.usa_names") }))))

  it.effect("a TARGET_TABLES pattern that matches nothing is named in a warning", () =>
    Effect.gen(function*() {
      yield* arrange
      const logs = captureLogs()

      const summary = yield* syncOnce().pipe(Effect.provide(logs.layer))

      expect(summary.status).toBe("ok")
      expect(logs.warnings()).toEqual([
        expect.stringContaining("TARGET_TABLES entry nlq-ex.public.orders_* matches no table of nlq-ex.public")
      ])
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.public.shakespeare, nlq-ex.public.orders_*") }))))

  it.effect("with no TARGET_TABLE_ID, the seed-shaped schema block describes the first target that has columns", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      const shakespeare = fixtureTable("nlq-ex.shop.shakespeare", "samples.shakespeare")
      yield* warehouse.putTable({ ...shakespeare, table_id: "nlq-ex.shop.empty" as never, columns: [] })
      yield* warehouse.putTable({ ...shakespeare, table_id: "nlq-ex.shop.words" as never })

      yield* syncOnce()

      const doc = yield* published
      expect(doc.schema.table_id).toBe("nlq-ex.shop.words")
      expect(doc.schema.columns.map((c) => c.name)).toEqual(["word", "word_count", "corpus", "corpus_date"])
      expect(doc.tables.map((t) => t.table_id)).toEqual(["nlq-ex.shop.words", "nlq-ex.shop.empty"])
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.shop.*") }))))

  it.effect("a table named by TARGET_TABLE_ID stays primary, even without columns", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      const shakespeare = fixtureTable("nlq-ex.shop.shakespeare", "samples.shakespeare")
      yield* warehouse.putTable({ ...shakespeare, table_id: "nlq-ex.shop.empty" as never, columns: [] })
      yield* warehouse.putTable({ ...shakespeare, table_id: "nlq-ex.shop.words" as never })

      yield* syncOnce()

      expect((yield* published).schema.table_id).toBe("nlq-ex.shop.empty")
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.shop.empty, nlq-ex.shop.words"), primaryNamed: true }))))

  it.effect("keeps the tables of a dataset it could not list", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      yield* syncOnce()
      yield* warehouse.failNext(
        "listTables",
        new ResourceNotFound({ service: "bigquery", operation: "tables.list", resource: "nlq-ex.public", message: "Not found: Dataset nlq-ex:public" }),
        "nlq-ex.public"
      )
      const summary = yield* syncOnce()
      expect(summary.status).toBe("partial")
      expect(summary.failed_tables).toEqual([
        { table_id: "nlq-ex.public.*", tag: "ResourceNotFound", message: "Not found: Dataset nlq-ex:public", kept_stale: true }
      ])
      const doc = yield* published
      expect(doc.tables.map((t) => [t.table_id, t.status.state])).toEqual([
        ["nlq-ex.ga4.events_*", "fresh"],
        ["nlq-ex.public.shakespeare", "stale"],
        ["nlq-ex.public.tmp_scratch", "stale"],
        ["nlq-ex.public.usa_names", "stale"]
      ])
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.ga4.events_*, nlq-ex.public.*") }))))

  it.effect("writes nothing when every table fails", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      const bucket = yield* MemoryStorageControl
      yield* syncOnce()
      const before = Option.getOrThrow(yield* bucket.get("metadata_cache.json"))
      for (const table of ["nlq-ex.ga4.events_20210131", "nlq-ex.public.shakespeare"]) {
        const dataset = table.split(".").slice(0, 2).join(".")
        const denied = new PermissionDenied({ service: "bigquery", operation: "tables.get", resource: dataset, status: 403, message: "Access Denied" })
        yield* warehouse.failNext("getTables", denied, dataset)
        yield* warehouse.failNext("getTable", denied, table)
      }
      const error = yield* Effect.flip(syncOnce())
      expect(error._tag).toBe("AllTablesFailed")
      expect(error.message).toMatch(/no table could be read, so nothing was published: nlq-ex\.ga4\.events_20210131: PermissionDenied/)
      const after = Option.getOrThrow(yield* bucket.get("metadata_cache.json"))
      expect(after.info.generation).toBe(before.info.generation)
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.ga4.events_20210131, nlq-ex.public.shakespeare") }))))

  it.effect("records drift against the previous document", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      yield* syncOnce()
      const shakespeare = fixtureTable("nlq-ex.public.shakespeare", "samples.shakespeare", { description: "Word counts" })
      yield* warehouse.putTable({ ...shakespeare, columns: shakespeare.columns.filter((c) => c.name !== "corpus_date") })
      const summary = yield* syncOnce()
      expect(summary.drift).toEqual({ total: 1, breaking: 1, breaking_changes: ["BREAKING nlq-ex.public.shakespeare: column corpus_date removed (was INTEGER REQUIRED)"] })
      const doc = yield* published
      expect(doc.drift?.changes).toEqual([
        { kind: "column_removed", table_id: "nlq-ex.public.shakespeare", column: "corpus_date", type: "INTEGER", mode: "REQUIRED", breaking: true }
      ])
      expect(doc.metrics?.tables).toBe(1)
    }).pipe(Effect.provide(testLayer({ targets: targets("nlq-ex.public.shakespeare") }))))

  it.effect("profiles only the tables that opted in, never touching sensitive columns", () =>
    Effect.gen(function*() {
      const warehouse = yield* arrange
      const queries: Array<string> = []
      // Any profile query: 100 rows, no nulls, 5 distinct values, no range, no top values.
      const VALUES: Record<string, unknown> = { nulls: 0, distinct: 5, min: null, max: null, top: [] }
      yield* warehouse.answerQuery((sql) => {
        queries.push(sql)
        return sql.includes("COUNT(*) AS row_count") || sql.includes("APPROX_TOP_COUNT")
      }, (sql) => ({
        rows: [
          Object.fromEntries([
            ["row_count", 100],
            ...[...sql.matchAll(/AS (c\d+_([a-z]+))/g)].map(([, alias, kind]) => [alias, VALUES[kind]])
          ])
        ],
        totalBytesProcessed: 2048
      }))
      const summary = yield* syncOnce()
      expect(summary.status).toBe("ok")
      const doc = yield* published
      const names = doc.tables.find((t) => t.table_id === "nlq-ex.public.usa_names")
      expect(names?.profile?.rows_sampled).toBe(100)
      expect(names?.profile?.skipped).toContainEqual(expect.objectContaining({ column: "name", reason: "sensitive_name" }))
      expect(queries.length).toBeGreaterThan(0)
      expect(queries.every((q) => !q.includes("SELECT *") && !/\bname\b/.test(q.replace(/`[^`]*`/g, "")))).toBe(true)
      expect(doc.tables.find((t) => t.table_id === "nlq-ex.public.shakespeare")?.profile).toBeNull()
      // The bytes the profile queries processed are counted in the run's metrics.
      const profileQueries = new Set(queries.filter((q) => q.includes("COUNTIF(") || q.includes("APPROX_TOP_COUNT(")))
      expect(profileQueries.size).toBe(2)
      expect(doc.metrics?.bytes_processed).toBe(2048 * profileQueries.size)
      expect(doc.metrics?.bytes_billed).toBe(2048 * profileQueries.size)
      const getTableCalls = (yield* warehouse.calls).filter((c) => c.operation === "getTable").map((c) => c.target)
      expect(getTableCalls).toEqual(["nlq-ex.public.usa_names"])
    }).pipe(Effect.provide(testLayer({
      targets: targets("nlq-ex.public.shakespeare, nlq-ex.public.usa_names"),
      profileTargets: targets("nlq-ex.public.usa_*")
    }))))

  it.effect("keeps going when a profile fails", () =>
    Effect.gen(function*() {
      yield* arrange
      const summary = yield* syncOnce()
      expect(summary.status).toBe("ok")
      expect((yield* published).tables[0].profile).toBeNull()
    }).pipe(Effect.provide(testLayer({
      targets: targets("nlq-ex.public.usa_names"),
      profileTargets: targets("nlq-ex.public.*")
    }))))
})
