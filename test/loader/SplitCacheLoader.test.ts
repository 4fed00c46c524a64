/**
 * The loader over a split document (format 3): every method answers as it does over the same
 * document stored whole, fetching only the parts it needs, through a least-recently-used part
 * cache; a part that cannot be fetched fails the call by name and leaves the manifest served.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import { type CacheDocument, type Example, makeCacheDocument, renderCacheDocument, type TableEntry } from "../../src/contract/CacheDocument.ts"
import { type Field, flattenFields } from "../../src/contract/Field.ts"
import {
  type CacheManifest,
  makeManifest,
  makePart,
  planParts,
  renderManifestChunks,
  renderPartChunks,
  type StoredPart
} from "../../src/contract/SplitDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { CacheLoader, type CacheLoaderOptions } from "../../src/loader/CacheLoader.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { storeSplit } from "../support/SplitStore.ts"

const OBJECT = "metadata_cache.json"
const WHOLE = "whole/metadata_cache.json"
const LOCATION = `gs://test-bucket/${OBJECT}`
const NOW = DateTime.unsafeMake("2026-11-30T00:00:00Z")

const ORDERS = TableId.make("shop-prod.shop.orders")
const CUSTOMERS = TableId.make("shop-prod.shop.customers")
const EVENTS = TableId.make("shop-prod.web.events_20261101")
const EMPLOYEES = TableId.make("shop-prod.hr.employees")
const EVENT_SHARD = "shop-prod.web.events_20261115"

const field = (name: string, type = "STRING", description: string | null = null, fields?: ReadonlyArray<Field>): Field =>
  fields === undefined ? { name, type, mode: "NULLABLE", description } : { name, type, mode: "NULLABLE", description, fields }

const table = (table_id: TableId, description: string, columns: ReadonlyArray<Field>, extra: Partial<TableEntry> = {}): TableEntry =>
  makeTableEntry({ table_id, last_updated: DateTime.unsafeMake("2026-11-29T12:00:00Z"), description, columns, ...extra })

const example = (question: string, tables: ReadonlyArray<string>, language: Example["language"] = "en"): Example => ({
  question,
  sql: `SELECT COUNT(*) FROM \`${tables[0]}\``,
  tables: tables.map((t) => TableId.make(t)),
  source: "template",
  generator: "template:count_total",
  language
})

/** Four tables in three datasets; with one table per part, four parts, and examples across them. */
const documentOf = (employeesDescription = "Employees of the company and their salaries"): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-29T18:00:00Z"),
    generator: { name: "metasync", version: "9.9.9" },
    tables: [
      table(ORDERS, "Customer orders with their amounts", [
        field("order_id", "INT64"),
        field("customer_id", "INT64", "The customer who ordered"),
        field("amount", "NUMERIC", "Order amount in dollars")
      ]),
      table(CUSTOMERS, "Customers of the shop", [field("customer_id", "INT64"), field("name"), field("country", "STRING", "Customer country")]),
      table(EVENTS, "Website events by device", [field("event_name"), field("device", "RECORD", null, [field("category")])], {
        sharding: { prefix: "events_", first_suffix: "20261101", last_suffix: "20261129", shard_count: 29 }
      }),
      table(EMPLOYEES, employeesDescription, [field("employee_id", "INT64"), field("salary", "NUMERIC")])
    ],
    examples: [
      example("How many orders are there?", [ORDERS]),
      example("주문은 몇 건인가요?", [ORDERS], "ko"),
      example("Order amount per customer country", [ORDERS, CUSTOMERS]),
      example("Customers with website events", [CUSTOMERS, EVENT_SHARD]),
      example("How many employees are there?", [EMPLOYEES]),
      example("Events by device category", [EVENTS])
    ],
    relationships: [{
      from: { table_id: ORDERS, columns: ["customer_id"] },
      to: { table_id: CUSTOMERS, columns: ["customer_id"] },
      source: "curated",
      confidence: 1,
      evidence: "orders.customer_id names customers",
      cardinality: "many-to-one"
    }]
  })

const renderWhole = (doc: CacheDocument) => Either.getOrThrow(renderCacheDocument(doc))

/** Runs `body` with a loader over an in-memory bucket, the test clock at `NOW`. */
const withLoader = <A, E>(
  body: Effect.Effect<A, E, CacheLoader | MemoryStorageControl | StorageService>,
  layer: Layer.Layer<CacheLoader | MemoryStorageControl | StorageService> = CacheLoader.layer().pipe(Layer.provideMerge(MemoryStorage.layer()))
) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(DateTime.toEpochMillis(NOW))
    return yield* body
  }).pipe(Effect.provide(layer))

/** A second loader, with `options`, over the bucket of the test's. */
const loaderWith = (options: CacheLoaderOptions) =>
  Effect.flatMap(StorageService, (storage) =>
    Effect.provide(CacheLoader, CacheLoader.layer(options).pipe(Layer.provide(Layer.succeed(StorageService, storage)))))

/** `doc` stored split, one table per part; returns the manifest. */
const arrange = (doc = documentOf()) => storeSplit(doc, { maxPartTables: 1 })

const readsOf = Effect.map(
  Effect.flatMap(MemoryStorageControl, (bucket) => bucket.calls),
  (calls) => calls.filter((c) => c.operation === "read").map((c) => c.name)
)
const partObject = (manifest: CacheManifest, key: string) => manifest.parts.find((p) => p.key === key)!.object

/** A loader over `doc` stored whole, in the same bucket: what the split one must answer alike. */
const wholeLoader = (doc: CacheDocument) =>
  Effect.gen(function*() {
    const bucket = yield* MemoryStorageControl
    yield* bucket.put(WHOLE, renderWhole(doc))
    return yield* loaderWith({ objectName: WHOLE })
  })

describe("CacheLoader over a split document", () => {
  it.effect("answers every method as the whole document does, fetching only what each needs", () =>
    withLoader(Effect.gen(function*() {
      const doc = documentOf()
      const manifest = yield* arrange(doc)
      expect(manifest.parts.map((p) => p.key)).toEqual(["shop-prod.shop", "shop-prod.shop-2", "shop-prod.web", "shop-prod.hr"])
      const whole = yield* wholeLoader(doc)
      const loader = yield* CacheLoader
      const bucket = yield* MemoryStorageControl
      const readsSince = (before: number) => Effect.map(readsOf, (r) => r.slice(before).filter((n) => n !== WHOLE))

      // From the manifest alone.
      expect(yield* loader.getSchemaInfo).toEqual(yield* whole.getSchemaInfo)
      expect(yield* loader.getSchemaColumns()).toEqual(yield* whole.getSchemaColumns())
      expect(yield* loader.getRelationships()).toEqual(yield* whole.getRelationships())
      expect(yield* loader.getRelationships(CUSTOMERS)).toEqual(yield* whole.getRelationships(CUSTOMERS))
      expect(yield* loader.getJoinPath(ORDERS, CUSTOMERS)).toEqual(yield* whole.getJoinPath(ORDERS, CUSTOMERS))
      expect(yield* loader.getTableCatalog({ maxTokens: 500 })).toEqual(yield* whole.getTableCatalog({ maxTokens: 500 }))
      // The catalog as a document: slim entries, their field paths as the whole document's.
      const catalog = yield* loader.getCatalogDocument
      expect(catalog.tables.map((t) => [t.table_id, t.description, t.sharding, t.status])).toEqual(
        doc.tables.map((t) => [t.table_id, t.description, t.sharding, t.status])
      )
      expect(catalog.tables.map((t) => flattenFields(t.columns).map((f) => f.path))).toEqual(
        doc.tables.map((t) => flattenFields(t.columns).map((f) => f.path))
      )
      expect(catalog.tables[2]!.columns.map((c) => c.name)).toEqual(["event_name", "device"])
      expect(catalog.examples).toEqual([])
      expect(yield* whole.getCatalogDocument).toEqual(yield* whole.getDocument)
      expect(yield* readsOf).toEqual([OBJECT, WHOLE])

      // One table's part; a shard id and the family's wildcard resolve on the catalog.
      let before = (yield* readsOf).length
      expect(yield* loader.getTable(CUSTOMERS)).toEqual(yield* whole.getTable(CUSTOMERS))
      expect(yield* loader.getSchemaColumns(EVENT_SHARD)).toEqual(yield* whole.getSchemaColumns(EVENT_SHARD))
      expect(Option.map(yield* loader.getTable("shop-prod.web.events_*"), (t) => t.table_id)).toEqual(Option.some(EVENTS))
      expect(yield* loader.getTable("shop-prod.web.events_20261201")).toEqual(Option.none())
      expect(yield* readsSince(before)).toEqual([partObject(manifest, "shop-prod.shop-2"), partObject(manifest, "shop-prod.web")])

      // A table's examples: its part, and the parts whose examples read it (orders' for the join).
      before = (yield* readsOf).length
      expect(yield* loader.getFewShotExamples({ tableId: CUSTOMERS })).toEqual(yield* whole.getFewShotExamples({ tableId: CUSTOMERS }))
      expect((yield* loader.getFewShotExamples({ tableId: CUSTOMERS })).map((e) => e.question)).toEqual([
        "Order amount per customer country",
        "Customers with website events"
      ])
      expect(yield* loader.getFewShotExamples({ tableId: EVENT_SHARD })).toEqual(yield* whole.getFewShotExamples({ tableId: EVENT_SHARD }))
      expect(yield* loader.getFewShotExamples({ tableId: ORDERS, language: "ko" })).toEqual(
        yield* whole.getFewShotExamples({ tableId: ORDERS, language: "ko" })
      )
      expect(yield* readsSince(before)).toEqual([partObject(manifest, "shop-prod.shop")]) // the others were cached

      // Every part: for small caches and tools.
      expect(yield* loader.getFewShotExamples()).toEqual(yield* whole.getFewShotExamples())
      expect(yield* loader.listTables).toEqual(yield* whole.listTables)
      expect(yield* loader.getDocument).toEqual(yield* whole.getDocument)
      expect(yield* loader.getSchemaColumns("shop-prod.shop.nope").pipe(Effect.flip)).toMatchObject({
        _tag: "TableNotCached",
        cached: [ORDERS, CUSTOMERS, EVENTS, EMPLOYEES]
      })

      const metadata = yield* loader.getCacheMetadata
      const partBytes = manifest.parts.reduce((sum, p) => sum + p.bytes, 0)
      expect(metadata).toMatchObject({
        available: true,
        location: LOCATION,
        format_version: 3,
        layout: "split",
        parts: { total: 4, cached: 4, cachedBytes: partBytes, budgetBytes: 64 * 1024 * 1024 },
        tableCount: 4,
        exampleCount: 6,
        lastError: null
      })
      expect((yield* whole.getCacheMetadata)).toMatchObject({ layout: "document", parts: null, tableCount: 4, exampleCount: 6 })
      expect(yield* bucket.names).toContain(partObject(manifest, "shop-prod.hr"))
    })))

  it.effect("renders the prompt context from the candidates' parts, with the whole document's example indexes", () =>
    withLoader(Effect.gen(function*() {
      const doc = documentOf()
      const manifest = yield* arrange(doc)
      const whole = yield* wholeLoader(doc)
      const loader = yield* CacheLoader
      const request = { question: "total order amount per customer country", maxTokens: 1500 }
      const split = yield* loader.getPromptContext(request)
      const expected = yield* whole.getPromptContext(request)
      expect(split.tables).toEqual([ORDERS, CUSTOMERS])
      expect(split.tables).toEqual(expected.tables)
      expect(split.examples).toEqual(expected.examples)
      expect(split.examples.map((e) => doc.examples[e]!.question)).toContain("Order amount per customer country")
      expect(split.text).toContain("## Table `shop-prod.shop.orders`")
      expect(split.text).toContain("Order amount in dollars") // a column description: only the part has it
      expect(split.tokens).toBeLessThanOrEqual(1500)
      // The unrelated datasets' parts are not fetched.
      expect((yield* readsOf).filter((n) => n.startsWith("parts/"))).toEqual([
        partObject(manifest, "shop-prod.shop"),
        partObject(manifest, "shop-prod.shop-2")
      ])
      // The second stage with named tables: only their parts.
      const named = yield* loader.getPromptContext({ question: "salaries", maxTokens: 800, tables: [EMPLOYEES] })
      expect(named.tables).toEqual([EMPLOYEES])
      expect(named.examples.map((e) => doc.examples[e]!.question)).toEqual(["How many employees are there?"])
    })))

  it.effect("keeps parts within partCacheBytes, least recently used out first, and fetches an evicted part again", () =>
    Effect.gen(function*() {
      const manifest = yield* arrange()
      const sizes = new Map(manifest.parts.map((p) => [p.key, p.bytes]))
      // Room for the orders and customers parts, not for a third.
      const budget = sizes.get("shop-prod.shop")! + sizes.get("shop-prod.shop-2")! + Math.min(...sizes.values()) - 1
      const loader = yield* loaderWith({ partCacheBytes: budget })
      const partReads = Effect.map(readsOf, (r) => r.filter((n) => n.startsWith("parts/")))
      yield* loader.getTable(ORDERS)
      yield* loader.getTable(CUSTOMERS)
      yield* loader.getTable(ORDERS) // orders is now the most recently used
      expect(yield* partReads).toHaveLength(2)
      yield* loader.getTable(EMPLOYEES) // evicts customers, the least recently used
      expect((yield* loader.getCacheMetadata).parts).toEqual({
        total: 4,
        cached: 2,
        cachedBytes: sizes.get("shop-prod.shop")! + sizes.get("shop-prod.hr")!,
        budgetBytes: budget
      })
      yield* loader.getTable(ORDERS)
      expect(yield* partReads).toHaveLength(3)
      expect(Option.map(yield* loader.getTable(CUSTOMERS), (t) => t.table_id)).toEqual(Option.some(CUSTOMERS))
      expect(yield* partReads).toEqual([
        partObject(manifest, "shop-prod.shop"),
        partObject(manifest, "shop-prod.shop-2"),
        partObject(manifest, "shop-prod.hr"),
        partObject(manifest, "shop-prod.shop-2")
      ])
    }).pipe(withLoader))

  it.effect("does not keep a part larger than the whole budget, and still answers from it", () =>
    Effect.gen(function*() {
      const manifest = yield* arrange()
      const loader = yield* loaderWith({ partCacheBytes: 10 })
      expect(Option.isSome(yield* loader.getTable(ORDERS))).toBe(true)
      expect(Option.isSome(yield* loader.getTable(ORDERS))).toBe(true)
      expect((yield* readsOf).filter((n) => n === partObject(manifest, "shop-prod.shop"))).toHaveLength(2)
      expect((yield* loader.getCacheMetadata).parts).toMatchObject({ cached: 0, cachedBytes: 0, budgetBytes: 10 })
    }).pipe(withLoader))

  it.effect("refuses a partCacheBytes that is not a number of bytes", () =>
    Effect.gen(function*() {
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const exit = yield* Effect.exit(loaderWith({ partCacheBytes: bad }))
        expect(Exit.isFailure(exit) && String(Cause.squash(exit.cause))).toContain(
          `CacheLoader: partCacheBytes must be a number of bytes, 0 or more; got ${bad}`
        )
      }
      expect(Exit.isSuccess(yield* Effect.exit(loaderWith({ partCacheBytes: 0 })))).toBe(true)
    }).pipe(withLoader))

  it.effect("shares one fetch of a part among concurrent callers", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const fetching = yield* Deferred.make<void>()
      // Holds every read of a part until the test opens the gate.
      const gated = Layer.effect(
        StorageService,
        Effect.map(StorageService, (storage) =>
          StorageService.of({
            ...storage,
            read: (name) =>
              name.startsWith("parts/")
                ? Deferred.succeed(fetching, undefined).pipe(Effect.zipRight(Deferred.await(gate)), Effect.zipRight(storage.read(name)))
                : storage.read(name)
          }))
      )
      yield* withLoader(
        Effect.gen(function*() {
          const manifest = yield* arrange()
          const loader = yield* CacheLoader
          yield* loader.getSchemaInfo
          const callers = yield* Effect.forEach(
            [
              Effect.map(loader.getTable(CUSTOMERS), (t) => Option.map(t, (x) => x.table_id as string)),
              Effect.map(loader.getSchemaColumns(CUSTOMERS), (c) => Option.some(c.map((f) => f.path).join(","))),
              Effect.map(loader.getTable(CUSTOMERS), (t) => Option.map(t, (x) => x.description ?? ""))
            ],
            (call) => Effect.fork(call)
          )
          yield* Deferred.await(fetching)
          for (let round = 0; round < 1000; round++) {
            const statuses = yield* Effect.forEach(callers, Fiber.status)
            if (statuses.every(FiberStatus.isSuspended)) break
            yield* Effect.yieldNow()
          }
          expect((yield* Effect.forEach(callers, Fiber.status)).every(FiberStatus.isSuspended)).toBe(true)
          yield* Deferred.succeed(gate, undefined)
          expect(yield* Effect.forEach(callers, Fiber.join)).toEqual([
            Option.some(CUSTOMERS),
            Option.some("customer_id,name,country"),
            Option.some("Customers of the shop")
          ])
          expect((yield* readsOf).filter((n) => n.startsWith("parts/"))).toEqual([partObject(manifest, "shop-prod.shop-2")])
        }),
        CacheLoader.layer().pipe(Layer.provide(gated), Layer.provideMerge(MemoryStorage.layer()))
      )
    }))

  it.effect("fails a call whose part is missing with CachePartUnavailable naming it, and keeps serving the manifest", () =>
    withLoader(Effect.gen(function*() {
      const manifest = yield* arrange()
      const storage = yield* StorageService
      const loader = yield* CacheLoader
      const hr = manifest.parts.find((p) => p.key === "shop-prod.hr")!
      yield* storage.remove(hr.object, { ifGenerationMatch: hr.generation })

      const failed = yield* Effect.flip(loader.getTable(EMPLOYEES))
      expect(failed._tag).toBe("CachePartUnavailable")
      expect(failed).toMatchObject({ location: LOCATION, part: "shop-prod.hr", object: partObject(manifest, "shop-prod.hr") })
      expect(failed.message).toMatch(
        new RegExp(`^part shop-prod\\.hr \\(${hr.object}\\) of the MetaSync cache at ${LOCATION} is unavailable: part shop-prod\\.hr .* is missing: gs://test-bucket/${hr.object} does not exist$`)
      )
      // Calls that need every part fail the same way; the others are served.
      expect(yield* Effect.flip(loader.listTables)).toMatchObject({ _tag: "CachePartUnavailable", part: "shop-prod.hr" })
      expect((yield* loader.getSchemaInfo).table_id).toBe(ORDERS)
      expect(Option.isSome(yield* loader.getTable(ORDERS))).toBe(true)
      expect((yield* loader.getPromptContext({ question: "orders amount", maxTokens: 800 })).tables).toContain(ORDERS)
      expect(yield* loader.getCacheMetadata).toMatchObject({ available: true, layout: "split", lastError: null })
      // Within retryInterval (1 minute) the part is not fetched again: every call gets the same error.
      const bucket = yield* MemoryStorageControl
      const hrReads = Effect.map(bucket.calls, (calls) => calls.filter((c) => c.operation === "read" && c.name === hr.object).length)
      expect(yield* Effect.flip(loader.getTable(EMPLOYEES))).toBe(failed)
      expect(yield* hrReads).toBe(1)
    })))

  it.effect("records a part that failed in lastPartError, does not fetch it again before retryInterval, and clears it once the part loads", () =>
    Effect.gen(function*() {
      // Storage fails every read of the hr part while `broken` is set (a storage blip).
      let broken = true
      const flaky = Layer.effect(
        StorageService,
        Effect.map(StorageService, (storage) =>
          StorageService.of({
            ...storage,
            read: (name) =>
              broken && name.endsWith("/shop-prod.hr.json")
                ? Effect.fail(
                  new RemoteUnavailable({ service: "storage", operation: "objects.get", resource: name, status: 503, reason: "backendError", message: "503 backendError", attempts: 1 })
                )
                : storage.read(name)
          }))
      )
      yield* withLoader(
        Effect.gen(function*() {
          const manifest = yield* arrange()
          const bucket = yield* MemoryStorageControl
          const loader = yield* CacheLoader
          const hr = manifest.parts.find((p) => p.key === "shop-prod.hr")!
          const hrReads = Effect.map(bucket.calls, (calls) => calls.filter((c) => c.operation === "read" && c.name === hr.object).length)

          expect((yield* loader.getCacheMetadata).lastPartError).toBeNull()
          const failed = yield* Effect.flip(loader.getSchemaColumns(EMPLOYEES))
          expect(failed).toMatchObject({ _tag: "CachePartUnavailable", part: "shop-prod.hr", object: hr.object })
          expect(yield* loader.getCacheMetadata).toMatchObject({
            available: true,
            lastError: null,
            lastPartError: { tag: "RemoteUnavailable", message: failed.message, part: "shop-prod.hr", object: hr.object, at: NOW }
          })
          // Storage is back, but 59 seconds on the part is not fetched: the same error, no read.
          broken = false
          yield* TestClock.adjust("59 seconds")
          expect(yield* Effect.flip(loader.getTable(EMPLOYEES))).toBe(failed)
          expect(yield* Effect.flip(loader.getFewShotExamples({ tableId: EMPLOYEES }))).toBe(failed)
          expect(yield* hrReads).toBe(0)
          // Other parts are fetched meanwhile, and leave the failure recorded.
          expect(Option.isSome(yield* loader.getTable(ORDERS))).toBe(true)
          expect((yield* loader.getCacheMetadata).lastPartError).toMatchObject({ part: "shop-prod.hr" })
          // Once retryInterval has passed it is fetched again, loads, and the failure is cleared.
          yield* TestClock.adjust("1 second")
          expect(Option.getOrThrow(yield* loader.getTable(EMPLOYEES)).table_id).toBe(EMPLOYEES)
          expect(yield* hrReads).toBe(1)
          expect((yield* loader.getCacheMetadata).lastPartError).toBeNull()
        }),
        CacheLoader.layer().pipe(Layer.provide(flaky), Layer.provideMerge(MemoryStorage.layer()))
      )
    }))

  it.effect("forgets a failed part once a new manifest no longer references it, and fetches the new part at once", () =>
    withLoader(Effect.gen(function*() {
      const first = yield* arrange()
      const loader = yield* CacheLoader
      const storage = yield* StorageService
      const hr = first.parts.find((p) => p.key === "shop-prod.hr")!
      yield* storage.remove(hr.object, { ifGenerationMatch: hr.generation })
      yield* Effect.flip(loader.getTable(EMPLOYEES))
      expect((yield* loader.getCacheMetadata).lastPartError).toMatchObject({ part: "shop-prod.hr" })
      // The sync publishes again (the hr part rewritten); the refresh drops the old part's failure.
      yield* storeSplit(documentOf("Employees, their salaries and departments"), { maxPartTables: 1, run: "run-2" })
      const after = yield* loader.refresh
      expect(after.lastPartError).toBeNull()
      expect(Option.getOrThrow(yield* loader.getTable(EMPLOYEES)).description).toBe("Employees, their salaries and departments")
    })))

  it.effect("refuses a part replaced since the manifest was written (another generation)", () =>
    withLoader(Effect.gen(function*() {
      const manifest = yield* arrange()
      const bucket = yield* MemoryStorageControl
      const loader = yield* CacheLoader
      const object = partObject(manifest, "shop-prod.web")
      const same = Option.getOrThrow(yield* bucket.get(object)).bytes
      const generation = yield* bucket.put(object, same)
      const failed = yield* Effect.flip(loader.getSchemaColumns(EVENTS))
      expect(failed).toMatchObject({ _tag: "CachePartUnavailable", part: "shop-prod.web", object })
      expect(failed.message).toContain(
        `generation ${generation}; the manifest references part shop-prod.web at generation ${manifest.parts[2]!.generation} (the part was replaced since)`
      )
      expect((yield* loader.getSchemaInfo).table_id).toBe(ORDERS)
    })))

  it.effect("a refresh on the same generation costs one stat; a new manifest keeps the cached parts it still references", () =>
    withLoader(Effect.gen(function*() {
      const first = yield* arrange()
      const bucket = yield* MemoryStorageControl
      const storage = yield* StorageService
      const loader = yield* CacheLoader
      yield* loader.getTable(ORDERS)
      yield* loader.getTable(CUSTOMERS)
      yield* loader.getTable(EMPLOYEES)
      const callsBefore = (yield* bucket.calls).length
      yield* loader.refresh
      expect((yield* bucket.calls).slice(callsBefore)).toEqual([{ operation: "stat", name: OBJECT }])

      // The next run changes the hr dataset only: its part is new, the others are the same objects.
      const next = documentOf("Staff and their pay")
      const plan = planParts(next, 1)
      const stored: Array<StoredPart> = []
      for (const [i, planned] of plan.parts.entries()) {
        if (planned.key !== "shop-prod.hr") {
          const { bytes, generation, md5, object } = first.parts[i]!
          stored.push({ object, generation, bytes, md5 })
          continue
        }
        const bytes = Buffer.concat([...Either.getOrThrow(renderPartChunks(makePart(planned, next.generated_at)))()])
        const object = `parts/${OBJECT}/run-2/${planned.key}.json`
        const info = yield* storage.write(object, bytes, { contentType: "application/json", ifGenerationMatch: "0" })
        stored.push({ object, generation: info.generation, bytes: bytes.byteLength, md5: createHash("md5").update(bytes).digest("base64") })
      }
      const manifest = makeManifest(next, plan, stored)
      yield* bucket.put(OBJECT, Buffer.concat([...Either.getOrThrow(renderManifestChunks(manifest))()]))

      const refreshed = yield* loader.refresh
      expect(refreshed.parts).toMatchObject({ total: 4, cached: 2 })
      const readsBefore = (yield* readsOf).length
      yield* loader.getTable(ORDERS)
      yield* loader.getTable(CUSTOMERS)
      expect((yield* readsOf).slice(readsBefore)).toEqual([])
      expect(Option.map(yield* loader.getTable(EMPLOYEES), (t) => t.description)).toEqual(Option.some("Staff and their pay"))
      expect((yield* readsOf).slice(readsBefore)).toEqual([`parts/${OBJECT}/run-2/shop-prod.hr.json`])
    })))

  it.effect("refuses a part stored at the cache's own name, naming it", () =>
    withLoader(Effect.gen(function*() {
      const manifest = yield* arrange()
      const bucket = yield* MemoryStorageControl
      const loader = yield* CacheLoader
      yield* loader.getSchemaInfo
      const part = Option.getOrThrow(yield* bucket.get(manifest.parts[1]!.object)).bytes
      const generation = yield* bucket.put(OBJECT, part)
      const metadata = yield* loader.refresh
      expect(metadata.lastError?.message).toBe(
        `${LOCATION} (generation ${generation}) holds part shop-prod.shop-2 of a split document, not a document or a manifest`
      )
      expect(metadata).toMatchObject({ available: true, layout: "split", format_version: 3 })
      expect((yield* loader.getSchemaInfo).table_id).toBe(ORDERS)
    })))
})
