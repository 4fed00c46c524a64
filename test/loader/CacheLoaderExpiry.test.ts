/**
 * The loader's clock-driven behaviour on the TestClock — when a copy expires, when storage is
 * checked again (after success and after failure), what is re-downloaded — and the lookups the
 * backend relies on (date-sharded families, example filters, the errors it is told). Every expected
 * value is written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { type CacheDocument, type Example, makeCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { CacheLoader, findTable } from "../../src/loader/CacheLoader.ts"
import { RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import type { StorageService } from "../../src/services/Storage/StorageService.ts"

const OBJECT = "metadata_cache.json"
const LOCATION = "gs://test-bucket/metadata_cache.json"
const START = "2026-11-28T12:00:00Z"

const EVENTS = TableId.make("proj-one.analytics.events_20261101")
const ORDERS = TableId.make("proj-one.sales.orders")

const example = (question: string, tables: ReadonlyArray<TableId>, language: Example["language"]): Example => ({
  question,
  sql: `SELECT 1 FROM \`${tables[0]}\``,
  tables,
  source: "template",
  generator: "template:test",
  language
})

const document = (generatedAt: string): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(generatedAt),
    generator: { name: "metasync", version: "9.9.9" },
    tables: [
      makeTableEntry({
        table_id: EVENTS,
        description: "events, sharded by day",
        last_updated: DateTime.unsafeMake("2026-11-27T00:00:00Z"),
        columns: [
          { name: "event_name", type: "STRING", mode: "NULLABLE", description: null },
          {
            name: "items",
            type: "RECORD",
            mode: "REPEATED",
            description: null,
            fields: [{ name: "price", type: "FLOAT", mode: "NULLABLE", description: null }]
          }
        ],
        sharding: { prefix: "events_", first_suffix: "20261101", last_suffix: "20261127", shard_count: 27 }
      }),
      makeTableEntry({
        table_id: ORDERS,
        description: "orders",
        last_updated: DateTime.unsafeMake("2026-11-27T00:00:00Z"),
        columns: [{ name: "id", type: "INTEGER", mode: "REQUIRED", description: null }]
      })
    ],
    examples: [
      example("이벤트 수는?", [EVENTS], "ko"),
      example("How many events?", [EVENTS], "en"),
      example("How many orders?", [ORDERS], "en"),
      example("Orders per event?", [ORDERS, EVENTS], "en")
    ]
  })

const render = (doc: CacheDocument) => Either.getOrThrow(renderCacheDocument(doc))

const layer = (options?: Parameters<typeof CacheLoader.layer>[0]) =>
  CacheLoader.layer(options).pipe(Layer.provideMerge(MemoryStorage.layer("test-bucket")))

const run = <A, E>(body: Effect.Effect<A, E, CacheLoader | MemoryStorageControl | StorageService>, l = layer()) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake(START)))
    return yield* body
  }).pipe(Effect.provide(l))

const operations = Effect.flatMap(MemoryStorageControl, (bucket) => Effect.map(bucket.calls, (calls) => calls.map((c) => c.operation)))

const unavailable = new RemoteUnavailable({
  service: "storage",
  operation: "objects.get",
  resource: LOCATION,
  status: 503,
  reason: "backendError",
  message: "Backend Error",
  attempts: 1
})

describe("expiry", () => {
  it.effect("a document is expired only once it is more than 24 hours old, and is still served", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-27T12:00:00.001Z"))) // 23 h 59 min 59.999 s old
      const loader = yield* CacheLoader
      const young = yield* loader.getCacheMetadata
      expect(young.expired).toBe(false)
      expect(young.age).toEqual(Duration.millis(24 * 3600_000 - 1))

      yield* TestClock.adjust("1 millis") // exactly 24 h: not yet
      expect((yield* loader.getCacheMetadata).expired).toBe(false)
      yield* TestClock.adjust("1 millis") // 24 h and 1 ms
      const old = yield* loader.getCacheMetadata
      expect(old.expired).toBe(true)
      expect(old.available).toBe(true)
      expect((yield* loader.listTables).map((t) => t.table_id)).toEqual([EVENTS, ORDERS])
    })))

  it.effect("12 hours old is fresh", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-27T23:00:00Z")))
      const metadata = yield* (yield* CacheLoader).getCacheMetadata
      expect(metadata.age).toEqual(Duration.hours(13))
      expect(metadata.expired).toBe(false)
    })))

  it.effect("a document stamped up to 5 minutes in the future has age zero and is not expired", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-28T12:05:00Z")))
      const metadata = yield* (yield* CacheLoader).getCacheMetadata
      expect(metadata.age).toEqual(Duration.millis(0))
      expect(metadata.expired).toBe(false)
    })))

  it.effect("a document stamped more than 5 minutes in the future is suspect: expired", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-28T12:05:00.001Z")))
      expect((yield* (yield* CacheLoader).getCacheMetadata).expired).toBe(true)
    })))

  it.effect("maxAge is configurable", () =>
    run(
      Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        yield* bucket.put(OBJECT, render(document("2026-11-28T10:00:00Z")))
        expect((yield* (yield* CacheLoader).getCacheMetadata).expired).toBe(true)
      }),
      layer({ maxAge: "1 hour" })
    ))
})

describe("when storage is checked again", () => {
  it.effect("not before an hour has passed; then a stat, and no download while the generation is the same", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getDocument
      expect(yield* operations).toEqual(["stat", "read"])
      yield* TestClock.adjust(Duration.toMillis("1 hour") - 1)
      yield* loader.getDocument
      expect(yield* operations).toEqual(["stat", "read"])
      yield* TestClock.adjust("1 millis")
      yield* loader.getDocument
      expect(yield* operations).toEqual(["stat", "read", "stat"])
      const metadata = yield* loader.getCacheMetadata
      expect(metadata.checkedAt).toEqual(DateTime.unsafeMake("2026-11-28T13:00:00Z"))
      expect(metadata.loadedAt).toEqual(DateTime.unsafeMake("2026-11-28T12:00:00Z"))
      expect(metadata.generation).toBe("1")
    })))

  it.effect("downloads a new generation when the stat shows one", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getDocument
      yield* bucket.put(OBJECT, render(document("2026-11-28T12:30:00Z")))
      yield* TestClock.adjust("1 hour")
      const metadata = yield* loader.getCacheMetadata
      expect(yield* operations).toEqual(["stat", "read", "stat", "read"])
      expect(metadata.generation).toBe("2")
      expect(metadata.generated_at).toEqual(DateTime.unsafeMake("2026-11-28T12:30:00Z"))
      expect(metadata.loadedAt).toEqual(DateTime.unsafeMake("2026-11-28T13:00:00Z"))
    })))

  it.effect("after a failed check, again after a minute (not an hour), keeping the good copy meanwhile", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getDocument
      yield* TestClock.adjust("1 hour")
      yield* bucket.failNext("stat", unavailable)
      const failed = yield* loader.getCacheMetadata
      expect(failed.available).toBe(true)
      expect(failed.lastError).toEqual({
        tag: "RemoteUnavailable",
        message: "reading gs://test-bucket/metadata_cache.json failed: Backend Error",
        at: DateTime.unsafeMake("2026-11-28T13:00:00Z")
      })
      yield* TestClock.adjust("59 seconds")
      yield* loader.getDocument
      expect(yield* operations).toEqual(["stat", "read", "stat"])
      yield* TestClock.adjust("1 second")
      const recovered = yield* loader.getCacheMetadata
      expect(yield* operations).toEqual(["stat", "read", "stat", "stat"])
      expect(recovered.lastError).toBeNull()
      expect(recovered.checkedAt).toEqual(DateTime.unsafeMake("2026-11-28T13:01:00Z"))
    })))

  it.effect("the retry interval is never longer than the refresh interval", () =>
    run(
      Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
        const loader = yield* CacheLoader
        yield* loader.getDocument
        yield* TestClock.adjust("10 minutes")
        yield* bucket.failNext("stat", unavailable)
        yield* loader.getDocument
        expect(yield* operations).toEqual(["stat", "read", "stat"])
        yield* TestClock.adjust("10 minutes")
        yield* loader.getDocument
        expect(yield* operations).toEqual(["stat", "read", "stat", "stat"])
      }),
      layer({ refreshInterval: "10 minutes", retryInterval: "1 hour" })
    ))

  it.effect("until a first copy loads, every access tries again", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const loader = yield* CacheLoader
      const missing = yield* loader.getDocument.pipe(Effect.flip)
      expect(missing._tag).toBe("CacheUnavailable")
      expect(missing.message).toBe(
        "the MetaSync cache at gs://test-bucket/metadata_cache.json is unavailable: gs://test-bucket/metadata_cache.json does not exist"
      )
      expect(yield* loader.isCacheAvailable).toBe(false)
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      expect(yield* loader.isCacheAvailable).toBe(true)
      // A missing object is found by the size check, before any download.
      expect(yield* operations).toEqual(["stat", "stat", "stat", "read"])
    })))

  it.effect("refresh checks now, whatever the copy's age", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      const loader = yield* CacheLoader
      yield* loader.getDocument
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:30:00Z")))
      const refreshed = yield* loader.refresh
      expect(refreshed.generation).toBe("2")
      expect(yield* operations).toEqual(["stat", "read", "stat", "read"])
    })))

  it.effect("a corrupt generation is not downloaded again until the object changes", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, "{ not json")
      const loader = yield* CacheLoader
      const first = yield* loader.getCacheMetadata
      expect(first.lastError).toEqual({
        tag: "CacheDocumentError",
        message: expect.stringContaining(
          "gs://test-bucket/metadata_cache.json is not a valid MetaSync cache document:\n- (document): not JSON"
        ),
        at: DateTime.unsafeMake(START)
      })
      yield* loader.getCacheMetadata
      expect(yield* operations).toEqual(["stat", "read", "stat"])
      const again = yield* loader.getCacheMetadata
      expect(again.lastError?.message).toBe(first.lastError?.message)
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      expect((yield* loader.getCacheMetadata).available).toBe(true)
      expect(yield* operations).toEqual(["stat", "read", "stat", "stat", "stat", "read"])
    })))

  it.effect("a corrupt generation met again is still a failure, stamped with the new check's time", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, "{ not json")
      const loader = yield* CacheLoader
      yield* loader.getCacheMetadata
      yield* TestClock.adjust("1 minute")
      const again = yield* loader.getCacheMetadata
      expect(yield* operations).toEqual(["stat", "read", "stat"])
      expect(again.available).toBe(false)
      expect(again.checkedAt).toEqual(DateTime.unsafeMake("2026-11-28T12:01:00Z"))
      expect(again.lastError?.tag).toBe("CacheDocumentError")
      expect(again.lastError?.at).toEqual(DateTime.unsafeMake("2026-11-28T12:01:00Z"))
    })))

  it.effect("a seed document (no format_version) is reported as format 1", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(
        OBJECT,
        JSON.stringify({
          generated_at: "2026-11-28T11:00:00Z",
          schema: { table_id: "proj-one.sales.orders", last_updated: "2026-11-28T11:00:00Z", columns: [] },
          examples: []
        })
      )
      const metadata = yield* (yield* CacheLoader).getCacheMetadata
      expect(metadata.format_version).toBe(1)
      expect(metadata.available).toBe(true)
    })))

  it.effect("bytes that are not UTF-8 are rejected as such", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))
      const metadata = yield* (yield* CacheLoader).getCacheMetadata
      expect(metadata.lastError?.message).toBe(
        "gs://test-bucket/metadata_cache.json is not a valid MetaSync cache document:\n- (document): not UTF-8 text"
      )
    })))

  it.effect("a JSON value that is not a document says what is wrong", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, "[1, 2]")
      const metadata = yield* (yield* CacheLoader).getCacheMetadata
      expect(metadata.lastError?.tag).toBe("CacheDocumentError")
      expect(metadata.lastError?.message).toBe(
        "gs://test-bucket/metadata_cache.json is not a valid MetaSync cache document:\n- (document): expected a JSON object"
      )
    })))

  it.effect("logs a problem when it starts or changes, not on every access", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ message }) => {
        warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      yield* run(
        Effect.gen(function*() {
          const bucket = yield* MemoryStorageControl
          const loader = yield* CacheLoader
          yield* loader.isCacheAvailable
          yield* loader.isCacheAvailable
          yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
          yield* loader.isCacheAvailable
          yield* TestClock.adjust("1 hour")
          yield* bucket.failNext("stat", unavailable)
          yield* loader.isCacheAvailable
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      )
      expect(warnings).toEqual([
        "gs://test-bucket/metadata_cache.json does not exist",
        "keeping the MetaSync cache copy of generation 1: reading gs://test-bucket/metadata_cache.json failed: Backend Error"
      ])
    }))
})

describe("metadata", () => {
  it.effect("before anything is loaded, and after", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const loader = yield* CacheLoader
      const none = yield* loader.getCacheMetadata
      expect(none).toEqual({
        available: false,
        location: LOCATION,
        generation: null,
        format_version: null,
        generated_at: null,
        generator: null,
        age: null,
        expired: false,
        loadedAt: null,
        checkedAt: DateTime.unsafeMake(START),
        lastError: { tag: "ResourceNotFound", message: `${LOCATION} does not exist`, at: DateTime.unsafeMake(START) },
        lastPartError: null,
        layout: null,
        parts: null,
        tableCount: 0,
        exampleCount: 0
      })
      yield* bucket.put(OBJECT, render(document("2026-11-28T11:00:00Z")))
      expect(yield* loader.getCacheMetadata).toEqual({
        available: true,
        location: LOCATION,
        generation: "1",
        format_version: 2,
        generated_at: DateTime.unsafeMake("2026-11-28T11:00:00Z"),
        generator: { name: "metasync", version: "9.9.9" },
        age: Duration.hours(1),
        expired: false,
        loadedAt: DateTime.unsafeMake(START),
        checkedAt: DateTime.unsafeMake(START),
        lastError: null,
        lastPartError: null,
        layout: "document",
        parts: null,
        tableCount: 2,
        exampleCount: 4
      })
    })))

  it.effect("a declared version that is not a number is reported, and the document refused", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const text = render(document("2026-11-28T11:00:00Z")).replace("\"format_version\":2", "\"format_version\":\"2\"")
      yield* bucket.put(OBJECT, text)
      const metadata = yield* (yield* CacheLoader).getCacheMetadata
      expect(metadata.available).toBe(false)
      expect(metadata.lastError?.message).toContain("- format_version: expected 2 (or no field, for version 1), got \"2\"")
    })))

  it.effect("an object name can be chosen", () =>
    run(
      Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        yield* bucket.put("other.json", render(document("2026-11-28T11:00:00Z")))
        const metadata = yield* (yield* CacheLoader).getCacheMetadata
        expect(metadata.location).toBe("gs://test-bucket/other.json")
        expect(metadata.available).toBe(true)
      }),
      layer({ objectName: "other.json" })
    ))
})

describe("lookups", () => {
  const doc = document("2026-11-28T11:00:00Z")
  const found = (requested: string) => Option.map(findTable(doc, requested), (t) => t.table_id)

  it("finds a table by id, a sharded family by any shard in its range or by its wildcard", () => {
    expect(found("proj-one.sales.orders")).toEqual(Option.some(ORDERS))
    expect(found("proj-one.analytics.events_20261101")).toEqual(Option.some(EVENTS))
    expect(found("proj-one.analytics.events_20261115")).toEqual(Option.some(EVENTS))
    expect(found("proj-one.analytics.events_20261127")).toEqual(Option.some(EVENTS))
    expect(found("proj-one.analytics.events_*")).toEqual(Option.some(EVENTS))
  })

  it("finds the first shard of a family whose entry is named after its last shard", () => {
    const lastNamed = makeCacheDocument({
      ...doc,
      tables: [{ ...doc.tables[0], table_id: TableId.make("proj-one.analytics.events_20261127") }, doc.tables[1]]
    })
    expect(Option.isSome(findTable(lastNamed, "proj-one.analytics.events_20261101"))).toBe(true)
    expect(Option.isSome(findTable(lastNamed, "proj-one.analytics.events_20261031"))).toBe(false)
  })

  it("does not find shards outside the range, of another length, or in another dataset", () => {
    // Same length as the family's name, and a suffix within the range: still another family.
    expect(found("proj-one.analytics.evenTs_20261115")).toEqual(Option.none())
    expect(found("proj-one.analytics.events_20261031")).toEqual(Option.none())
    expect(found("proj-one.analytics.events_20261128")).toEqual(Option.none())
    expect(found("proj-one.analytics.events_2026111")).toEqual(Option.none())
    expect(found("proj-one.analytics.events_202611150")).toEqual(Option.none())
    expect(found("proj-one.other.events_20261115")).toEqual(Option.none())
    expect(found("proj-one.analytics.events")).toEqual(Option.none())
    expect(found("proj-one.sales.orders_20261115")).toEqual(Option.none())
    expect(found("proj-one.sales.*")).toEqual(Option.none())
  })

  it.effect("filters examples by table (a shard finds its family's) and by language", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(doc))
      const loader = yield* CacheLoader
      const questions = (examples: ReadonlyArray<Example>) => examples.map((e) => e.question)
      expect(questions(yield* loader.getFewShotExamples())).toEqual([
        "이벤트 수는?",
        "How many events?",
        "How many orders?",
        "Orders per event?"
      ])
      expect(questions(yield* loader.getFewShotExamples({ tableId: ORDERS }))).toEqual([
        "How many orders?",
        "Orders per event?"
      ])
      expect(questions(yield* loader.getFewShotExamples({ tableId: "proj-one.analytics.events_20261120" }))).toEqual([
        "이벤트 수는?",
        "How many events?",
        "Orders per event?"
      ])
      expect(questions(yield* loader.getFewShotExamples({ language: "ko" }))).toEqual(["이벤트 수는?"])
      expect(questions(yield* loader.getFewShotExamples({ tableId: EVENTS, language: "en" }))).toEqual([
        "How many events?",
        "Orders per event?"
      ])
      expect(yield* loader.getFewShotExamples({ tableId: "proj-one.sales.unknown" })).toEqual([])
    })))

  it.effect("schema info is the primary table's; columns are flattened; an unknown table is named in the error", () =>
    run(Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, render(doc))
      const loader = yield* CacheLoader
      const info = yield* loader.getSchemaInfo
      expect(info.table_id).toBe(EVENTS)
      expect(info.description).toBe("events, sharded by day")
      expect((yield* loader.getSchemaColumns()).map((c) => c.path)).toEqual(["event_name", "items", "items.price"])
      expect((yield* loader.getSchemaColumns(ORDERS)).map((c) => c.path)).toEqual(["id"])
      expect((yield* loader.getSchemaColumns("proj-one.analytics.events_20261102")).map((c) => c.path)).toEqual([
        "event_name",
        "items",
        "items.price"
      ])
      const missing = yield* loader.getSchemaColumns("proj-one.sales.refunds").pipe(Effect.flip)
      expect(missing.message).toBe(
        "proj-one.sales.refunds is not in the MetaSync cache at gs://test-bucket/metadata_cache.json; it describes proj-one.analytics.events_20261101, proj-one.sales.orders"
      )
      expect(Option.map(yield* loader.getTable("proj-one.analytics.events_*"), (t) => t.table_id)).toEqual(
        Option.some(EVENTS)
      )
      expect(yield* loader.getTable("proj-one.sales.refunds")).toEqual(Option.none())
      expect((yield* loader.getDocument).examples).toHaveLength(4)
    })))
})
