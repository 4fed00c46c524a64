import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as ConfigProvider from "effect/ConfigProvider"
import { loadSyncSettings, SyncConfig } from "../../src/config/SyncConfig.ts"
import { parseSyncRequest } from "../../src/entry/SyncHttp.ts"
import { exactTarget, parseTargets } from "../../src/config/Targets.ts"
import { parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { ref, testLayer } from "../support/TestLayers.ts"
import { tableMetadata } from "../support/Tables.ts"

const ORDERS = "nlq-ex.shop.orders"
const CUSTOMERS = "nlq-ex.shop.customers"
const STORES = "nlq-ex.shop.stores"

const table = tableMetadata

const orders = (extra: Partial<TableMetadata> = {}, statusDescription = "Order status") =>
  table(ORDERS, [["id", "INTEGER"], ["customer_id", "INTEGER"], ["status", "STRING", statusDescription], ["created_at", "TIMESTAMP"]], extra)
const customers = table(CUSTOMERS, [["id", "INTEGER"], ["country", "STRING", "Country"], ["signed_up", "DATE"]])
const stores = table(STORES, [["store_code", "STRING"], ["city", "STRING"], ["opened", "DATE"]])

const published = Effect.gen(function*() {
  const bucket = yield* MemoryStorageControl
  return Either.getOrThrow(parseCacheDocument(Option.getOrThrow(yield* bucket.text("metadata_cache.json"))))
})

/** Dry runs made since the calls were last counted: one per example validated by BigQuery. */
const dryRunsSince = (before: number) =>
  Effect.map(Effect.flatMap(MemoryBigQueryControl, (w) => w.calls), (calls) => calls.filter((c) => c.operation === "dryRun").length - before)

const dryRunsSoFar = dryRunsSince(0)

const layer = (overrides: Parameters<typeof testLayer>[0] = {}) =>
  testLayer({
    targets: [ORDERS, CUSTOMERS, STORES].map((id) => exactTarget(ref(id))),
    curatedExamplesPrefix: "curated/",
    ...overrides
  })

/** Three tables, one sync (full: there is no previous document); the clock at a fixed day. */
const firstSync = Effect.gen(function*() {
  yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-27T17:00:00Z")))
  const warehouse = yield* MemoryBigQueryControl
  yield* warehouse.putTable(orders())
  yield* warehouse.putTable(customers)
  yield* warehouse.putTable(stores)
  const summary = yield* syncOnce()
  expect(summary.mode).toBe("full")
  return yield* published
})

const examplesOf = <E extends { readonly tables: ReadonlyArray<string> }>(doc: { readonly examples: ReadonlyArray<E> }, id: string) =>
  doc.examples.filter((e) => e.tables.includes(id))

describe("incremental sync", () => {
  it.effect("keeps every table's entry, examples and dry-run estimates when nothing changed, with no dry run", () =>
    Effect.gen(function*() {
      const first = yield* firstSync
      expect(first.incremental?.mode).toBe("full")
      expect(first.incremental?.reused).toEqual([])
      expect(Object.keys(first.incremental?.fingerprints ?? {}).sort()).toEqual([CUSTOMERS, ORDERS, STORES])
      expect(first.examples.every((e) => e.estimated_bytes !== undefined)).toBe(true)
      const before = yield* dryRunsSoFar

      yield* TestClock.adjust("1 day")
      const summary = yield* syncOnce()
      const second = yield* published
      expect(summary.mode).toBe("incremental")
      expect(summary.reused_tables).toBe(3)
      expect(second.incremental?.mode).toBe("incremental")
      expect([...(second.incremental?.reused ?? [])].sort()).toEqual([CUSTOMERS, ORDERS, STORES])
      expect(second.incremental?.last_full_run_at).toEqual(first.incremental?.last_full_run_at)
      expect(yield* dryRunsSince(before)).toBe(0)
      expect(second.tables).toEqual(first.tables)
      expect(new Set(second.examples)).toEqual(new Set(first.examples))
      expect(second.incremental?.fingerprints).toEqual(first.incremental?.fingerprints)
    }).pipe(Effect.provide(layer())))

  it.effect("redoes only the table whose column description changed", () =>
    Effect.gen(function*() {
      const first = yield* firstSync
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(orders({}, "Where the order is: placed, paid, shipped"))
      const before = yield* dryRunsSoFar
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      const second = yield* published
      expect([...(second.incremental?.reused ?? [])].sort()).toEqual([CUSTOMERS, STORES])
      expect(second.tables.find((t) => t.table_id === ORDERS)?.columns[2]?.description).toBe("Where the order is: placed, paid, shipped")
      // Only the changed table's examples were checked again.
      expect(yield* dryRunsSince(before)).toBe(examplesOf(second, ORDERS).length)
      expect(examplesOf(second, CUSTOMERS)).toEqual(examplesOf(first, CUSTOMERS))
      expect(second.incremental?.fingerprints[ORDERS]).not.toEqual(first.incremental?.fingerprints[ORDERS])
      expect(second.incremental?.fingerprints[STORES]).toEqual(first.incremental?.fingerprints[STORES])
    }).pipe(Effect.provide(layer())))

  it.effect("redoes a table whose last modified time changed, even with the same schema", () =>
    Effect.gen(function*() {
      yield* firstSync
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(orders({ last_updated: DateTime.unsafeMake("2026-11-28T00:00:00Z") }))
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      const second = yield* published
      expect([...(second.incremental?.reused ?? [])].sort()).toEqual([CUSTOMERS, STORES])
      expect(second.tables.find((t) => t.table_id === ORDERS)?.last_updated).toEqual(DateTime.unsafeMake("2026-11-28T00:00:00Z"))
    }).pipe(Effect.provide(layer())))

  it.effect("redoes only the table a new curated example names, and publishes it", () =>
    Effect.gen(function*() {
      yield* firstSync
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(
        "curated/customers.yaml",
        [
          `table: ${CUSTOMERS}`,
          "examples:",
          "  - question: How many customers are there per country?",
          `    sql: SELECT country, COUNT(*) AS customers FROM \`${CUSTOMERS}\` GROUP BY country`
        ].join("\n")
      )
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      const second = yield* published
      expect([...(second.incremental?.reused ?? [])].sort()).toEqual([ORDERS, STORES])
      expect(examplesOf(second, CUSTOMERS).filter((e) => e.source === "curated").map((e) => e.question)).toEqual([
        "How many customers are there per country?"
      ])
    }).pipe(Effect.provide(layer())))

  it.effect("redoes both ends of a new relationship and nothing else", () =>
    Effect.gen(function*() {
      yield* firstSync
      const bucket = yield* MemoryStorageControl
      yield* bucket.put("curated/shop.relationships.yaml", ["relationships:", `  - from: ${ORDERS}.status`, `    to: ${STORES}.store_code`].join("\n"))
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      const second = yield* published
      expect(second.incremental?.reused).toEqual([CUSTOMERS])
      expect(second.relationships.some((r) => r.source === "curated")).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("redoes only the table a new glossary term names, and the table a new alias names", () =>
    Effect.gen(function*() {
      yield* firstSync
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(
        "curated/shop.glossary.yaml",
        ["terms:", "  - term: signup cohort", "    definition: The month a customer signed up", `    tables: [${CUSTOMERS}]`].join("\n")
      )
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      expect([...((yield* published).incremental?.reused ?? [])].sort()).toEqual([ORDERS, STORES])

      yield* bucket.put("curated/stores.glossary.yaml", ["aliases:", `  - table: ${STORES}`, "    names: [매장]"].join("\n"))
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      expect([...((yield* published).incremental?.reused ?? [])].sort()).toEqual([CUSTOMERS, ORDERS])
    }).pipe(Effect.provide(layer())))

  it.effect("a new table that joins to an unchanged one redoes that one too (an inferred relationship touches it)", () =>
    Effect.gen(function*() {
      yield* firstSync
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(table("nlq-ex.shop.payments", [["id", "INTEGER"], ["store_code", "STRING"], ["amount", "NUMERIC"]]))
      yield* TestClock.adjust("1 day")
      yield* syncOnce()
      const second = yield* published
      expect(second.relationships.some((r) => r.from.table_id === "nlq-ex.shop.payments" && r.to.table_id === STORES)).toBe(true)
      expect([...(second.incremental?.reused ?? [])].sort()).toEqual([CUSTOMERS, ORDERS])
    }).pipe(Effect.provide(layer({ targets: Either.getOrThrow(parseTargets("nlq-ex.shop.*")) }))))

  it.effect("redoes every table when a run-wide example setting changes (the language)", () =>
    Effect.gen(function*() {
      yield* firstSync
      const settings = yield* SyncConfig
      yield* TestClock.adjust("1 day")
      const summary = yield* syncOnce().pipe(Effect.provideService(SyncConfig, { ...settings, language: "en" }))
      expect(summary.mode).toBe("incremental")
      expect(summary.reused_tables).toBe(0)
      expect((yield* published).examples.every((e) => e.language === "en")).toBe(true)
    }).pipe(Effect.provide(layer())))

  it.effect("redoes a table that opts in to profiling (its profile inputs changed), and only that one", () =>
    Effect.gen(function*() {
      const first = yield* firstSync
      const settings = yield* SyncConfig
      yield* TestClock.adjust("1 day")
      yield* syncOnce().pipe(Effect.provideService(SyncConfig, { ...settings, profileTargets: [exactTarget(ref(ORDERS))] }))
      const second = yield* published
      expect([...(second.incremental?.reused ?? [])].sort()).toEqual([CUSTOMERS, STORES])
      expect(second.incremental?.fingerprints[ORDERS]?.metadata).not.toEqual(first.incremental?.fingerprints[ORDERS]?.metadata)
      expect(second.incremental?.fingerprints[CUSTOMERS]).toEqual(first.incremental?.fingerprints[CUSTOMERS])
    }).pipe(Effect.provide(layer())))

  it.effect("redoes every table when asked (full), and records the time of that full run", () =>
    Effect.gen(function*() {
      yield* firstSync
      const before = yield* dryRunsSoFar
      yield* TestClock.adjust("1 day")
      const summary = yield* syncOnce({ full: true })
      const second = yield* published
      expect(summary.mode).toBe("full")
      expect(summary.reused_tables).toBe(0)
      expect(second.incremental?.reused).toEqual([])
      expect(second.incremental?.last_full_run_at).toEqual(DateTime.unsafeMake("2026-11-28T17:00:00Z"))
      expect(yield* dryRunsSince(before)).toBe(second.examples.length)
    }).pipe(Effect.provide(layer())))

  it.effect("runs full once the last full run is FULL_REBUILD_EVERY old, incremental before", () =>
    Effect.gen(function*() {
      yield* firstSync
      yield* TestClock.adjust("2 days")
      expect((yield* syncOnce()).mode).toBe("incremental")
      yield* TestClock.adjust("1 day")
      expect((yield* syncOnce()).mode).toBe("full")
      expect((yield* published).incremental?.last_full_run_at).toEqual(DateTime.unsafeMake("2026-11-30T17:00:00Z"))
      yield* TestClock.adjust("1 day")
      expect((yield* syncOnce()).mode).toBe("incremental")
    }).pipe(Effect.provide(layer({ fullRebuildEvery: Duration.days(3) }))))

  it.effect("with FULL_REBUILD_EVERY=0 every run is full", () =>
    Effect.gen(function*() {
      yield* firstSync
      yield* TestClock.adjust("1 hour")
      expect((yield* syncOnce()).reused_tables).toBe(0)
    }).pipe(Effect.provide(layer({ fullRebuildEvery: Duration.zero }))))
})

describe("asking for a full run", () => {
  const load = (env: Record<string, string>) =>
    Effect.either(loadSyncSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))
  const live = { GOOGLE_CLOUD_PROJECT: "nlq-ex", TARGET_TABLE_ID: "nlq-ex.shop.orders", GCS_BUCKET: "nlq-metadata-cache" }

  it.effect("FULL_REBUILD_EVERY defaults to 7 days, takes days, hours, minutes or 0, and names itself when wrong", () =>
    Effect.gen(function*() {
      const every = (value?: string) =>
        Effect.map(load(value === undefined ? live : { ...live, FULL_REBUILD_EVERY: value }), Either.map((s) => s.fullRebuildEvery))
      expect(yield* every()).toEqual(Either.right(Duration.days(7)))
      expect(yield* every("36h")).toEqual(Either.right(Duration.hours(36)))
      expect(yield* every("90m")).toEqual(Either.right(Duration.minutes(90)))
      expect(yield* every("0")).toEqual(Either.right(Duration.minutes(0)))
      for (const bad of ["7", "weekly", "-1d"]) {
        const result = yield* load({ ...live, FULL_REBUILD_EVERY: bad })
        expect(Either.isLeft(result) && result.left.message).toContain("FULL_REBUILD_EVERY")
      }
    }))

  it("the HTTP body takes {\"full\": true} beside dry_run, and nothing but a boolean", () => {
    const body = (text: string) => parseSyncRequest("POST", new TextEncoder().encode(text), "application/json")
    expect(body("{\"full\": true}")).toEqual(Either.right({ full: true }))
    expect(body("{\"full\": true, \"dry_run\": true}")).toEqual(Either.right({ full: true, dryRun: true }))
    expect(body("{\"full\": false}")).toEqual(Either.right({}))
    const refused = body("{\"full\": \"yes\"}")
    expect(Either.isLeft(refused) && refused.left.status).toBe(400)
  })
})
