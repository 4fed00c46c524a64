import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberStatus from "effect/FiberStatus"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { readFileSync } from "node:fs"
import {
  type CacheDocument,
  type Example,
  makeCacheDocument,
  renderCacheDocument,
  type TableEntry
} from "../../src/contract/CacheDocument.ts"
import { Field } from "../../src/contract/Field.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { CacheLoader } from "../../src/loader/CacheLoader.ts"
import { RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"

const OBJECT = "metadata_cache.json"
const LOCATION = "gs://test-bucket/metadata_cache.json"
const NOW = DateTime.unsafeMake("2024-01-16T00:00:00Z")

const fixture = (path: string) => readFileSync(new URL(`../fixtures/${path}`, import.meta.url), "utf8")

const ga4Columns = Schema.decodeUnknownSync(Schema.Array(Field))(
  JSON.parse(fixture("bigquery/ga4_obfuscated_sample_ecommerce.events_20210131.schema.json"))
)
const shakespeareColumns = Schema.decodeUnknownSync(Schema.Array(Field))(
  JSON.parse(fixture("bigquery/samples.shakespeare.schema.json"))
)

const EVENTS = TableId.make("bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131")
const SHAKESPEARE = TableId.make("bigquery-public-data.samples.shakespeare")

const table = (table_id: TableId, columns: TableEntry["columns"], extra: Partial<TableEntry> = {}): TableEntry =>
  makeTableEntry({ table_id, last_updated: DateTime.unsafeMake("2024-01-15T12:00:00Z"), columns, ...extra })

const example = (question: string, tables: ReadonlyArray<TableId>, language: Example["language"]): Example => ({
  question,
  sql: `SELECT COUNT(*) FROM \`${tables[0]}\``,
  tables,
  source: "template",
  generator: "template:count_total",
  language
})

const documentAt = (generatedAt: string, version = "1.0.0"): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(generatedAt),
    generator: { name: "metasync", version },
    tables: [
      table(EVENTS, ga4Columns, {
        description: "GA4 export, obfuscated Google Merchandise Store",
        sharding: { prefix: "events_", first_suffix: "20201101", last_suffix: "20210131", shard_count: 92 }
      }),
      table(SHAKESPEARE, shakespeareColumns)
    ],
    examples: [
      example("총 이벤트 수는 얼마인가요?", [EVENTS], "ko"),
      example("How many events are there?", [EVENTS], "en"),
      example("How many words are there?", [SHAKESPEARE], "en")
    ]
  })

const render = (doc: CacheDocument) => Either.getOrThrow(renderCacheDocument(doc))

const testLayer = (options?: Parameters<typeof CacheLoader.layer>[0]) =>
  CacheLoader.layer(options).pipe(Layer.provideMerge(MemoryStorage.layer()))

/** Runs `body` with a loader over an in-memory bucket, the test clock at `NOW`. */
const withLoader = <A, E>(
  body: Effect.Effect<A, E, CacheLoader | MemoryStorageControl | StorageService>,
  layer = testLayer()
) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(DateTime.toEpochMillis(NOW))
    return yield* body
  }).pipe(Effect.provide(layer))

const callsOf = Effect.flatMap(MemoryStorageControl, (bucket) => bucket.calls)

/** The first load: a `stat` (whose size decides whether to download), then one download. */
const FIRST_LOAD = [{ operation: "stat", name: OBJECT }, { operation: "read", name: OBJECT }]

describe("CacheLoader", () => {
  it.effect("serves a version-2 document through every method", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const generation = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
      const loader = yield* CacheLoader

      const info = yield* loader.getSchemaInfo
      expect(info.table_id).toBe(EVENTS)
      expect(info.description).toBe("GA4 export, obfuscated Google Merchandise Store")
      expect(DateTime.formatIso(info.last_updated)).toBe("2024-01-15T12:00:00.000Z")
      expect(info.columns.map((c) => c.name).slice(0, 4)).toEqual(["event_date", "event_timestamp", "event_name", "event_params"])

      expect((yield* loader.listTables).map((t) => t.table_id)).toEqual([EVENTS, SHAKESPEARE])
      expect(Option.map(yield* loader.getTable(SHAKESPEARE), (t) => t.columns.length)).toEqual(Option.some(4))
      // A shard of the family, or the family's wildcard, finds the sharded table.
      const shard = "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20201215"
      expect(Option.map(yield* loader.getTable(shard), (t) => t.table_id)).toEqual(Option.some(EVENTS))
      const wildcard = "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_*"
      expect(Option.map(yield* loader.getTable(wildcard), (t) => t.table_id)).toEqual(Option.some(EVENTS))
      const outOfRange = "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210201"
      expect(yield* loader.getTable(outOfRange)).toEqual(Option.none())

      expect((yield* loader.getFewShotExamples()).map((e) => e.question)).toEqual([
        "총 이벤트 수는 얼마인가요?",
        "How many events are there?",
        "How many words are there?"
      ])
      expect((yield* loader.getFewShotExamples({ language: "en" })).map((e) => e.question)).toEqual([
        "How many events are there?",
        "How many words are there?"
      ])
      expect((yield* loader.getFewShotExamples({ tableId: wildcard, language: "ko" })).map((e) => e.question)).toEqual([
        "총 이벤트 수는 얼마인가요?"
      ])
      expect(yield* loader.getFewShotExamples({ tableId: "other-project.x.y" })).toEqual([])

      expect(yield* loader.isCacheAvailable).toBe(true)
      const metadata = yield* loader.getCacheMetadata
      expect(metadata).toMatchObject({
        available: true,
        location: LOCATION,
        generation,
        format_version: 2,
        generator: { name: "metasync", version: "1.0.0" },
        expired: false,
        lastError: null,
        tableCount: 2,
        exampleCount: 3
      })
      expect(metadata.age).toEqual(Duration.hours(7))
      expect(metadata.loadedAt).toEqual(NOW)
      expect(metadata.checkedAt).toEqual(NOW)
      // One download served every call.
      expect(yield* callsOf).toEqual(FIRST_LOAD)
    })))

  it.effect("serves the seed's example document, written before format versions existed", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, fixture("cache/seed-example.json"))
      const loader = yield* CacheLoader

      const info = yield* loader.getSchemaInfo
      expect(info.table_id).toBe("nlq-ex.test_dataset.events_20210131")
      expect(DateTime.formatIso(info.last_updated)).toBe("2024-01-15T17:00:00.000Z")
      expect(info.columns).toEqual([
        { name: "event_timestamp", type: "TIMESTAMP", mode: "NULLABLE", description: "이벤트 발생 시간" }
      ])
      expect(info.description).toBeNull()

      expect(yield* loader.getFewShotExamples()).toEqual([{
        question: "총 이벤트 수는 얼마인가요?",
        sql: "SELECT COUNT(*) as total_events FROM `nlq-ex.test_dataset.events_20210131`",
        tables: ["nlq-ex.test_dataset.events_20210131"],
        source: "legacy",
        generator: "legacy",
        language: "ko"
      }])
      expect(yield* loader.getFewShotExamples({ language: "en" })).toEqual([])

      expect(yield* loader.getSchemaColumns()).toEqual([{
        path: "event_timestamp",
        segments: ["event_timestamp"],
        type: "TIMESTAMP",
        mode: "NULLABLE",
        description: "이벤트 발생 시간",
        repeated: [],
        depth: 0
      }])
      expect((yield* loader.listTables).map((t) => t.table_id)).toEqual(["nlq-ex.test_dataset.events_20210131"])
      expect(Option.isSome(yield* loader.getTable("nlq-ex.test_dataset.events_20210131"))).toBe(true)

      expect(yield* loader.isCacheAvailable).toBe(true)
      const metadata = yield* loader.getCacheMetadata
      expect(metadata).toMatchObject({
        available: true,
        format_version: 1,
        generator: { name: "metasync", version: "format-1" },
        tableCount: 1,
        exampleCount: 1,
        lastError: null
      })
      expect(metadata.generated_at).toEqual(DateTime.unsafeMake("2024-01-15T17:00:00Z"))
      expect(metadata.age).toEqual(Duration.hours(7))
      expect(metadata.expired).toBe(false)
    })))

  it.effect("flattens nested records into dotted paths with their repeated ancestors", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
      const loader = yield* CacheLoader

      const columns = yield* loader.getSchemaColumns()
      const byPath = new Map(columns.map((c) => [c.path, c]))
      expect(byPath.get("event_params.value.string_value")).toEqual({
        path: "event_params.value.string_value",
        segments: ["event_params", "value", "string_value"],
        type: "STRING",
        mode: "NULLABLE",
        description:
          "If the event parameter is represented by a string, such as a URL or campaign name, it is populated in this field.",
        repeated: ["event_params"],
        depth: 2
      })
      expect(byPath.get("event_params")).toMatchObject({ type: "RECORD", mode: "REPEATED", repeated: ["event_params"] })
      expect(byPath.get("items.item_id")).toMatchObject({ repeated: ["items"], depth: 1 })
      expect(byPath.get("event_name")).toMatchObject({ repeated: [], depth: 0 })
      expect(columns.slice(0, 4).map((c) => c.path)).toEqual(["event_date", "event_timestamp", "event_name", "event_params"])

      expect((yield* loader.getSchemaColumns(SHAKESPEARE)).map((c) => c.path)).toEqual([
        "word",
        "word_count",
        "corpus",
        "corpus_date"
      ])
      const missing = yield* Effect.flip(loader.getSchemaColumns("bigquery-public-data.samples.natality"))
      expect(missing._tag).toBe("TableNotCached")
      expect(missing.message).toBe(
        `bigquery-public-data.samples.natality is not in the MetaSync cache at ${LOCATION}; it describes ${EVENTS}, ${SHAKESPEARE}`
      )
    })))

  it.effect("checks storage again after an hour, downloading only a new generation", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const first = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z", "1.0.0")))
      const loader = yield* CacheLoader
      expect((yield* loader.getCacheMetadata).generator).toEqual({ name: "metasync", version: "1.0.0" })

      // Within the hour the copy in memory is served without asking storage.
      const second = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T23:00:00Z", "1.1.0")))
      yield* TestClock.adjust("59 minutes")
      expect((yield* loader.getCacheMetadata).generation).toBe(first)
      expect(yield* callsOf).toEqual(FIRST_LOAD)

      yield* TestClock.adjust("1 minute")
      const refreshed = yield* loader.getCacheMetadata
      expect(refreshed.generation).toBe(second)
      expect(refreshed.generator).toEqual({ name: "metasync", version: "1.1.0" })
      expect(refreshed.loadedAt).toEqual(DateTime.add(NOW, { hours: 1 }))
      expect(yield* callsOf).toEqual([
        ...FIRST_LOAD,
        { operation: "stat", name: OBJECT },
        { operation: "read", name: OBJECT }
      ])

      // Unchanged generation: a stat, no download.
      yield* TestClock.adjust("1 hour")
      const unchanged = yield* loader.getCacheMetadata
      expect(unchanged.generation).toBe(second)
      expect(unchanged.loadedAt).toEqual(DateTime.add(NOW, { hours: 1 }))
      expect(unchanged.checkedAt).toEqual(DateTime.add(NOW, { hours: 2 }))
      expect((yield* callsOf).slice(4)).toEqual([{ operation: "stat", name: OBJECT }])

      // `refresh` checks at once, whatever the copy's age.
      yield* loader.refresh
      expect((yield* callsOf).slice(5)).toEqual([{ operation: "stat", name: OBJECT }])
    })))

  it.effect("flags a document older than 24 hours as expired and still serves it", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(documentAt("2024-01-14T23:00:00Z")))
      const loader = yield* CacheLoader

      const metadata = yield* loader.getCacheMetadata
      expect(metadata.expired).toBe(true)
      expect(metadata.age).toEqual(Duration.hours(25))
      expect(metadata.available).toBe(true)
      expect((yield* loader.getSchemaInfo).table_id).toBe(EVENTS)
    })))

  it.effect("expires a document by default exactly when it is older than 24 hours", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(documentAt("2024-01-15T00:00:00Z")))
      const loader = yield* CacheLoader

      const atTheLimit = yield* loader.getCacheMetadata
      expect(atTheLimit.age).toEqual(Duration.hours(24))
      expect(atTheLimit.expired).toBe(false)
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* loader.getCacheMetadata).expired).toBe(true)
    })))

  it.effect("treats a document generated more than 5 minutes in the future as expired, and still serves it", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(documentAt("2099-01-01T00:00:00Z")))
      const loader = yield* CacheLoader

      const metadata = yield* loader.getCacheMetadata
      expect(metadata).toMatchObject({ available: true, expired: true })
      expect(metadata.age).toEqual(Duration.zero)
      expect((yield* loader.getSchemaInfo).table_id).toBe(EVENTS)
    })))

  it.effect("allows a document up to 5 minutes ahead of its clock", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const ahead = DateTime.add(NOW, { minutes: 5 })
      yield* bucket.put(OBJECT, render(documentAt(DateTime.formatIso(ahead))))
      const loader = yield* CacheLoader
      expect((yield* loader.getCacheMetadata).expired).toBe(false)

      yield* bucket.put(OBJECT, render(documentAt(DateTime.formatIso(DateTime.add(ahead, { millis: 1 })))))
      expect((yield* loader.refresh).expired).toBe(true)
    })))

  it.effect("does not download an object over maxDocumentBytes, and keeps its last good copy", () =>
    withLoader(
      Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        const good = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
        const loader = yield* CacheLoader
        expect((yield* loader.getCacheMetadata).generation).toBe(good)

        const huge = yield* bucket.put(OBJECT, JSON.stringify({ padding: "x".repeat(200_000) }))
        const callsBefore = (yield* callsOf).length
        const metadata = yield* loader.refresh

        expect((yield* callsOf).slice(callsBefore)).toEqual([{ operation: "stat", name: OBJECT }])
        expect(metadata).toMatchObject({ available: true, generation: good })
        expect(metadata.lastError?.tag).toBe("DocumentTooLarge")
        expect(metadata.lastError?.message).toMatch(
          new RegExp(`^gs://test-bucket/metadata_cache.json \\(generation ${huge}\\) has 2000\\d\\d bytes, over the loader's maxDocumentBytes \\(100000\\); not loaded$`)
        )
        expect((yield* loader.getSchemaInfo).table_id).toBe(EVENTS)

        // The same generation is not looked at again; a new one within the cap is loaded.
        yield* loader.refresh
        expect((yield* callsOf).slice(callsBefore + 1)).toEqual([{ operation: "stat", name: OBJECT }])
        const next = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T23:00:00Z")))
        expect((yield* loader.refresh)).toMatchObject({ generation: next, lastError: null })
      }),
      testLayer({ maxDocumentBytes: 100_000 })
    ))

  it.effect("does not download an object over maxDocumentBytes when it has no copy yet", () =>
    withLoader(
      Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
        const loader = yield* CacheLoader
        const error = yield* Effect.flip(loader.getSchemaInfo)
        expect(error._tag).toBe("CacheUnavailable")
        expect(error.message).toMatch(/over the loader's maxDocumentBytes \(1000\); not loaded/)
        expect(yield* callsOf).toEqual([{ operation: "stat", name: OBJECT }])
      }),
      testLayer({ maxDocumentBytes: 1000 })
    ))

  it.effect("honours a shorter maxAge", () =>
    withLoader(
      Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
        expect((yield* (yield* CacheLoader).getCacheMetadata).expired).toBe(true)
      }),
      testLayer({ maxAge: "6 hours" })
    ))

  it.effect("keeps serving the last good copy when the object is deleted, and says so", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const storage = yield* StorageService
      const generation = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getSchemaInfo

      yield* storage.remove(OBJECT, { ifGenerationMatch: generation })
      yield* TestClock.adjust("1 hour")
      expect((yield* loader.getSchemaInfo).table_id).toBe(EVENTS)
      const metadata = yield* loader.getCacheMetadata
      expect(metadata.available).toBe(true)
      expect(metadata.generation).toBe(generation)
      expect(metadata.lastError).toEqual({
        tag: "ResourceNotFound",
        message: `${LOCATION} does not exist`,
        at: DateTime.add(NOW, { hours: 1 })
      })

      // A failed check is retried a minute later, not an hour: the new document is picked up.
      const republished = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T23:30:00Z")))
      yield* TestClock.adjust("1 minute")
      const recovered = yield* loader.getCacheMetadata
      expect(recovered.generation).toBe(republished)
      expect(recovered.lastError).toBeNull()
    })))

  it.effect("keeps serving the last good copy when the object is corrupted, and says what is wrong", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const good = yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getSchemaInfo

      yield* bucket.put(OBJECT, "{\"generated_at\": \"2024-01-16")
      yield* TestClock.adjust("1 hour")
      expect((yield* loader.getSchemaInfo).table_id).toBe(EVENTS)
      const notJson = yield* loader.getCacheMetadata
      expect(notJson.generation).toBe(good)
      expect(notJson.lastError?.tag).toBe("CacheDocumentError")
      expect(notJson.lastError?.message).toMatch(
        new RegExp(`^${LOCATION} is not a valid MetaSync cache document:\\n- \\(document\\): not JSON`)
      )

      // Valid JSON, invalid document: every problem is named with its path.
      const { examples: _, ...withoutExamples } = JSON.parse(render(documentAt("2024-01-15T23:00:00Z")))
      yield* bucket.put(OBJECT, JSON.stringify({ ...withoutExamples, generator: { name: "metasync" } }))
      yield* TestClock.adjust("1 hour")
      const invalid = yield* loader.getCacheMetadata
      expect(invalid.generation).toBe(good)
      expect(invalid.lastError?.message).toContain(`${LOCATION} is not a valid MetaSync cache document:`)
      expect(invalid.lastError?.message).toContain("- generator.version: is missing")
      expect(invalid.lastError?.message).toContain("- examples: is missing")

      // The rejected generation is not downloaded again until it changes.
      const callsBefore = (yield* callsOf).length
      yield* TestClock.adjust("1 minute")
      expect((yield* loader.getCacheMetadata).lastError?.message).toContain("- examples: is missing")
      expect((yield* callsOf).slice(callsBefore)).toEqual([{ operation: "stat", name: OBJECT }])
    })))

  it.effect("keeps serving the last good copy while storage fails, and says why", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getSchemaInfo

      yield* bucket.failNext(
        "stat",
        new RemoteUnavailable({
          service: "storage",
          operation: "objects.get",
          resource: LOCATION,
          status: 503,
          reason: "backendError",
          message: "Service Unavailable",
          attempts: 1
        })
      )
      yield* TestClock.adjust("1 hour")
      expect((yield* loader.getFewShotExamples()).length).toBe(3)
      expect(yield* loader.isCacheAvailable).toBe(true)
      const metadata = yield* loader.getCacheMetadata
      expect(metadata.lastError).toEqual({
        tag: "RemoteUnavailable",
        message: `reading ${LOCATION} failed: Service Unavailable`,
        at: DateTime.add(NOW, { hours: 1 })
      })

      yield* TestClock.adjust("1 minute")
      expect((yield* loader.getCacheMetadata).lastError).toBeNull()
    })))

  it.effect("fails with CacheUnavailable until a good copy has been loaded", () =>
    withLoader(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const loader = yield* CacheLoader

      const missing = yield* Effect.flip(loader.getSchemaInfo)
      expect(missing).toMatchObject({ _tag: "CacheUnavailable", location: LOCATION })
      expect(missing.message).toBe(`the MetaSync cache at ${LOCATION} is unavailable: ${LOCATION} does not exist`)
      expect((yield* Effect.flip(loader.getSchemaColumns()))._tag).toBe("CacheUnavailable")
      expect((yield* Effect.flip(loader.getFewShotExamples()))._tag).toBe("CacheUnavailable")
      expect(yield* loader.isCacheAvailable).toBe(false)
      const metadata = yield* loader.getCacheMetadata
      expect(metadata).toMatchObject({
        available: false,
        location: LOCATION,
        generation: null,
        format_version: null,
        generated_at: null,
        age: null,
        expired: false,
        loadedAt: null,
        tableCount: 0,
        exampleCount: 0
      })
      expect(metadata.lastError?.tag).toBe("ResourceNotFound")

      yield* bucket.put(OBJECT, "[]")
      const corrupt = yield* Effect.flip(loader.getSchemaInfo)
      expect(corrupt.reason).toBe(
        `${LOCATION} is not a valid MetaSync cache document:\n- (document): expected a JSON object`
      )

      // With no copy to serve, the next access tries again at once.
      yield* bucket.put(OBJECT, fixture("cache/seed-example.json"))
      expect((yield* loader.getSchemaInfo).table_id).toBe("nlq-ex.test_dataset.events_20210131")
      expect((yield* loader.getCacheMetadata).lastError).toBeNull()
    })))

  it.effect("shares one check among concurrent callers", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const downloading = yield* Deferred.make<void>()
      // Holds every download until the test opens the gate.
      const gated = Layer.effect(
        StorageService,
        Effect.map(StorageService, (storage) =>
          StorageService.of({
            ...storage,
            read: (name) =>
              Deferred.succeed(downloading, undefined).pipe(
                Effect.zipRight(Deferred.await(gate)),
                Effect.zipRight(storage.read(name))
              )
          }))
      )
      const layer = CacheLoader.layer().pipe(Layer.provide(gated), Layer.provideMerge(MemoryStorage.layer()))

      yield* withLoader(
        Effect.gen(function*() {
          const bucket = yield* MemoryStorageControl
          yield* bucket.put(OBJECT, render(documentAt("2024-01-15T17:00:00Z")))
          const loader = yield* CacheLoader
          const schemaTable = Effect.map(loader.getSchemaInfo, (info): string | number => info.table_id)
          const callers = yield* Effect.forEach(
            [
              schemaTable,
              schemaTable,
              Effect.map(loader.listTables, (tables): string | number => tables.length),
              Effect.map(loader.getFewShotExamples(), (examples): string | number => examples.length),
              schemaTable
            ],
            (call) => Effect.fork(call)
          )
          yield* Deferred.await(downloading)
          // Wait until every caller is parked: one on the download, the rest on the check it shares.
          for (let round = 0; round < 1000; round++) {
            const statuses = yield* Effect.forEach(callers, Fiber.status)
            if (statuses.every(FiberStatus.isSuspended)) break
            yield* Effect.yieldNow()
          }
          expect((yield* Effect.forEach(callers, Fiber.status)).every(FiberStatus.isSuspended)).toBe(true)
          yield* Deferred.succeed(gate, undefined)

          const results = yield* Effect.forEach(callers, Fiber.join)
          expect(results).toEqual([
            EVENTS,
            EVENTS,
            2,
            3,
            EVENTS
          ])
          expect(yield* callsOf).toEqual(FIRST_LOAD)
        }),
        layer
      )
    }))
})
