/**
 * Publishing over an in-memory bucket: the snapshot is written first (create-only), then copied
 * over the latest object under the generation read before; a write whose reply was lost is
 * recognised on retry; a lost race or a failed copy leaves no trace; a newer document is never
 * replaced. Expected names, generations and calls are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { SyncConfig, type SyncSettings } from "../../src/config/SyncConfig.ts"
import { type CacheDocument, makeCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { PermissionDenied, PreconditionFailed, RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { GcsStorage } from "../../src/services/Storage/GcsStorage.ts"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import * as Either from "effect/Either"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { allClosed } from "../support/OpenConnections.ts"
import { dryRunPublish, publishDocument, readPublished } from "../../src/sync/publish.ts"
import { Fault, start as startGcs } from "../support/FakeGcsServer.ts"
import { testSettings } from "../support/TestLayers.ts"

const OBJECT = "metadata_cache.json"

const doc = (generatedAt: string, description = "orders"): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(generatedAt),
    generator: { name: "metasync", version: "test" },
    tables: [
      makeTableEntry({
        table_id: TableId.make("proj-one.sales.orders"),
        description,
        last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
        columns: [{ name: "id", type: "INTEGER", mode: "REQUIRED", description: null }]
      })
    ],
    examples: []
  })

/** Publishes drawing the snapshot's tag from a fixed seed: the same name every time. */
const sameTag = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withRandom(effect, Random.make("snapshot tag"))
const utf8 = (text: string) => new TextEncoder().encode(text)

/** A document of `tables` tables (about 330 bytes each): rendered in several chunks. */
const bigDoc = (generatedAt: string, tables = 600, description = "orders"): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(generatedAt),
    generator: { name: "metasync", version: "test" },
    tables: Array.from({ length: tables }, (_, i) =>
      makeTableEntry({
        table_id: TableId.make(`proj-one.sales.orders_${i}`),
        description: `${description} ${i}`,
        last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
        columns: [{ name: "id", type: "INTEGER", mode: "REQUIRED", description: null }]
      })) as unknown as CacheDocument["tables"],
    examples: []
  })

/** The document's text as the codec renders it whole. */
const rendered = (document: CacheDocument) => Buffer.from(Either.getOrThrow(renderCacheDocument(document)), "utf8")

/** The reply a client sees when the connection drops after the server has done the work. */
const replyLost = (operation: string, name: string) =>
  new RemoteUnavailable({
    service: "storage",
    operation,
    resource: `gs://test-bucket/${name}`,
    status: null,
    reason: "ECONNRESET",
    message: "socket hang up",
    attempts: 1
  })

/**
 * The in-memory bucket, with the first `write` (or `copy`) whose target matches `lose` carried
 * out and then answered with a dropped connection, as Cloud Storage does when a reply is lost.
 */
const bucketLosingReply = (lose: { readonly write?: RegExp; readonly copy?: RegExp }) =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const context = yield* Layer.build(MemoryStorage.layer("test-bucket"))
      const inner = Context.get(context, StorageService)
      let writeLost = lose.write === undefined
      let copyLost = lose.copy === undefined
      return Context.add(
        context,
        StorageService,
        StorageService.of({
          ...inner,
          write: (name, bytes, options) =>
            !writeLost && lose.write!.test(name)
              ? inner.write(name, bytes, options).pipe(
                Effect.tap(() => (writeLost = true)),
                Effect.zipRight(Effect.fail(replyLost("objects.insert", name)))
              )
              : inner.write(name, bytes, options),
          copy: (source, destination, options) =>
            !copyLost && lose.copy!.test(destination)
              ? inner.copy(source, destination, options).pipe(
                Effect.tap(() => (copyLost = true)),
                Effect.zipRight(Effect.fail(replyLost("objects.rewrite", destination)))
              )
              : inner.copy(source, destination, options)
        })
      )
    })
  )

const settingsLayer = (overrides: Partial<SyncSettings> = {}) => Layer.succeed(SyncConfig, testSettings(overrides))

const plainBucket = (overrides: Partial<SyncSettings> = {}) =>
  Layer.merge(settingsLayer(overrides), MemoryStorage.layer("test-bucket"))

/** Runs `effect` in the background, moving the TestClock on until it is done (retries wait). */
const withTimePassing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let step = 0; step < 10_000; step++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) break
      yield* TestClock.adjust("100 millis")
    }
    return yield* Fiber.await(fiber)
  })

const publish = (document: CacheDocument) =>
  Effect.flatMap(readPublished(OBJECT), (previous) => publishDocument(document, OBJECT, previous))

const text = (name: string) =>
  Effect.flatMap(MemoryStorageControl, (bucket) => Effect.map(bucket.text(name), Option.getOrThrow))

/** Publishes while the history listing fails (pruning cannot run). */
const pruneFails = Effect.gen(function*() {
  const bucket = yield* MemoryStorageControl
  yield* bucket.failNext(
    "list",
    new PermissionDenied({ service: "storage", operation: "objects.list", resource: "gs://test-bucket/history/", status: 403, message: "no list" })
  )
  const published = yield* publish(doc("2026-11-27T17:00:00Z"))
  expect(published.pruned).toEqual([])
  expect(published.generation).toBe("2")
})

describe("publishDocument", () => {
  it.effect("writes the snapshot first, then copies it over the latest object", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const published = yield* publish(doc("2026-11-27T17:00:00Z"))

      const latest = Option.getOrThrow(yield* bucket.get(OBJECT))
      const snapshot = published.snapshot!
      expect(snapshot).toMatch(/^history\/metadata_cache\.json\/20261127T170000\.000Z-[0-9a-f]{12}\.json$/)
      expect(published).toEqual({
        location: "gs://test-bucket/metadata_cache.json",
        generation: "2",
        bytes: latest.bytes.byteLength,
        snapshot,
        pruned: [],
        replacedFutureDocument: null,
        layout: "single",
        partsWritten: 0,
        partsReused: 0,
        prunedParts: []
      })
      expect(yield* bucket.names).toEqual([snapshot, OBJECT])
      expect(yield* text(snapshot)).toBe(yield* text(OBJECT))
      expect(latest.info).toMatchObject({ generation: "2", contentType: "application/json; charset=utf-8" })
      expect(Option.getOrThrow(yield* bucket.get(snapshot)).info.contentType).toBe("application/json; charset=utf-8")
      const written = JSON.parse(yield* text(OBJECT))
      expect(written.generated_at).toBe("2026-11-27T17:00:00.000Z")
      expect(written.tables.map((t: { table_id: string }) => t.table_id)).toEqual(["proj-one.sales.orders"])
      expect((yield* text(OBJECT)).endsWith("}\n")).toBe(true)
      expect(yield* bucket.calls).toEqual([
        { operation: "stat", name: OBJECT }, // nothing published yet: the size check finds no object
        { operation: "write", name: snapshot },
        { operation: "copy", name: OBJECT },
        { operation: "list", name: "history/metadata_cache.json/" },
        // no part of an earlier split document: no snapshot is read
        { operation: "list", name: "parts/metadata_cache.json/" }
      ])
    }).pipe(Effect.provide(plainBucket())))

  it.effect("a snapshot write that landed but whose reply was lost is recognised on retry, not reported as a conflict", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const exit = yield* withTimePassing(publish(doc("2026-11-27T17:00:00Z")))
      expect(Exit.isSuccess(exit)).toBe(true)
      const published = Exit.isSuccess(exit) ? exit.value : undefined
      const names = yield* bucket.names
      expect(names).toHaveLength(2)
      expect(names).toEqual([published?.snapshot, OBJECT])
      expect(yield* text(OBJECT)).toBe(yield* text(published!.snapshot!))
      // write (landed, reply lost) → write again (412: it exists) → its size and MD5 are the document's → copy;
      // then the history and the parts are listed for pruning
      expect((yield* bucket.calls).map((c) => c.operation)).toEqual(["stat", "write", "write", "stat", "copy", "list", "list"])
      expect(published?.generation).toBe("2")
    }).pipe(Effect.provide(Layer.merge(settingsLayer(), bucketLosingReply({ write: /^history\// })))))

  it.effect("a copy that landed but whose reply was lost is recognised on retry", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const exit = yield* withTimePassing(publish(doc("2026-11-27T17:00:00Z")))
      expect(Exit.isSuccess(exit)).toBe(true)
      const published = Exit.isSuccess(exit) ? exit.value : undefined
      expect(yield* bucket.names).toEqual([published?.snapshot, OBJECT])
      expect(published?.generation).toBe("2")
      expect((yield* bucket.calls).map((c) => c.operation)).toEqual(["stat", "write", "copy", "copy", "stat", "list", "list"])
    }).pipe(Effect.provide(Layer.merge(settingsLayer(), bucketLosingReply({ copy: /^metadata_cache\.json$/ })))))

  it.effect("a different document under the snapshot's name is a conflict, and nothing is published", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const document = doc("2026-11-27T17:00:00Z")
      // Find the name the snapshot will take, then occupy it with other bytes.
      const probe = yield* sameTag(publish(document)).pipe(Effect.provide(plainBucket()))
      yield* bucket.put(probe.snapshot!, "{\"not\":\"the same\"}")
      const exit = yield* sameTag(publish(document)).pipe(Effect.exit)
      expect(exit._tag).toBe("Failure")
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("PreconditionFailed")
      expect(yield* bucket.names).toEqual([probe.snapshot])
    }).pipe(Effect.provide(plainBucket())))

  it.effect("a truncated object under the snapshot's name is a conflict, not our earlier write", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const document = doc("2026-11-27T17:00:00Z")
      const probe = yield* sameTag(publish(document)).pipe(Effect.provide(plainBucket()))
      const ours = probe.snapshot!
      // The start of the very bytes this run writes: a prefix, not the document.
      yield* bucket.put(ours, "{\"format_version\":2,")
      const exit = yield* sameTag(publish(document)).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("PreconditionFailed")
      expect(yield* bucket.names).toEqual([ours])
    }).pipe(Effect.provide(plainBucket())))

  it.effect("an object of the same size but other bytes under the snapshot's name is a conflict", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const document = doc("2026-11-27T17:00:00Z", "orders")
      const [probe, ours] = yield* sameTag(publish(document)).pipe(
        Effect.zip(text(OBJECT)),
        Effect.provide(plainBucket())
      )
      const tampered = ours.replace("\"orders\"", "\"ordars\"")
      expect(tampered).not.toBe(ours)
      expect(tampered.length).toBe(ours.length)
      yield* bucket.put(probe.snapshot!, tampered)
      const exit = yield* sameTag(publish(document)).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("PreconditionFailed")
      expect(yield* bucket.names).toEqual([probe.snapshot])
    }).pipe(Effect.provide(plainBucket())))

  it.effect("a lost race on the latest object fails and removes the snapshot it wrote", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, "corrupt, but it has a generation")
      const previous = yield* readPublished(OBJECT)
      // Another run publishes after we read.
      yield* bucket.put(OBJECT, "someone else's document")
      const exit = yield* publishDocument(doc("2026-11-27T17:00:00Z"), OBJECT, previous).pipe(Effect.exit)
      expect(exit).toEqual(
        Exit.fail(
          new PreconditionFailed({
            service: "storage",
            operation: "objects.rewrite",
            resource: "gs://test-bucket/metadata_cache.json",
            expected_generation: "1",
            message: "generation is 2, the operation required 1"
          })
        )
      )
      expect(yield* bucket.names).toEqual([OBJECT])
      expect(yield* text(OBJECT)).toBe("someone else's document")
    }).pipe(Effect.provide(plainBucket())))

  it.effect("a copy that fails for good removes the snapshot and reports the failure", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const denied = new PermissionDenied({
        service: "storage",
        operation: "objects.rewrite",
        resource: "gs://test-bucket/metadata_cache.json",
        status: 403,
        message: "denied"
      })
      yield* bucket.failNext("copy", denied)
      const exit = yield* publish(doc("2026-11-27T17:00:00Z")).pipe(Effect.exit)
      expect(exit).toEqual(Exit.fail(denied))
      expect(yield* bucket.names).toEqual([])
      expect((yield* bucket.calls).map((c) => c.operation)).toEqual(["stat", "write", "copy", "remove"])
    }).pipe(Effect.provide(plainBucket())))

  it.effect("replaces an older published document, under the generation it read", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* publish(doc("2026-11-26T17:00:00Z", "yesterday"))
      const published = yield* publish(doc("2026-11-27T17:00:00Z", "today"))
      expect(JSON.parse(yield* text(OBJECT)).tables[0].description).toBe("today")
      expect(published.generation).toBe("4")
      expect((yield* bucket.names).filter((n) => n.startsWith("history/"))).toHaveLength(2)
    }).pipe(Effect.provide(plainBucket())))

  it.effect("republishing a document generated at the same time replaces it", () =>
    Effect.gen(function*() {
      yield* publish(doc("2026-11-27T17:00:00Z", "first"))
      yield* publish(doc("2026-11-27T17:00:00Z", "second"))
      expect(JSON.parse(yield* text(OBJECT)).tables[0].description).toBe("second")
    }).pipe(Effect.provide(plainBucket())))

  it.effect("never replaces a document generated later, and writes nothing", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      // Two minutes apart, as overlapping runs are (more than MAX_FUTURE_SKEW ahead would be suspect and replaced).
      yield* publish(doc("2026-11-27T17:02:00Z", "newer"))
      const before = yield* bucket.names
      const previous = yield* readPublished(OBJECT)
      const exit = yield* publishDocument(doc("2026-11-27T17:00:00Z", "older"), OBJECT, previous).pipe(Effect.exit)
      expect(exit).toEqual(
        Exit.fail(
          new PreconditionFailed({
            service: "storage",
            operation: "objects.insert",
            resource: "gs://test-bucket/metadata_cache.json",
            expected_generation: "2",
            message:
              "a newer document (generated at 2026-11-27T17:02:00.000Z) is already published; this run's document (generated at 2026-11-27T17:00:00.000Z) was not written"
          })
        )
      )
      expect(yield* bucket.names).toEqual(before)
      expect(JSON.parse(yield* text(OBJECT)).tables[0].description).toBe("newer")
    }).pipe(Effect.provide(plainBucket())))

  it.effect("prunes snapshots beyond HISTORY_KEEP and reports the names removed", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-28T00:00:00Z")))
      const bucket = yield* MemoryStorageControl
      const first = yield* publish(doc("2026-11-25T17:00:00Z"))
      const second = yield* publish(doc("2026-11-26T17:00:00Z"))
      const third = yield* publish(doc("2026-11-27T17:00:00Z"))
      expect(second.pruned).toEqual([])
      expect(third.pruned).toEqual([first.snapshot])
      expect(yield* bucket.names).toEqual([second.snapshot, third.snapshot, OBJECT])
    }).pipe(Effect.provide(plainBucket({ historyKeep: 2 }))))

  it.effect("a pruning failure is only a warning: the document is published", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const capture = Logger.make(({ message }) => {
        warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
      })
      yield* Effect.provide(pruneFails, Logger.replace(Logger.defaultLogger, capture))
      expect(warnings).toEqual(["history pruning failed: no list"])
    }).pipe(Effect.provide(plainBucket())))
})

describe("readPublished and dryRunPublish", () => {
  it.effect("reads nothing from an empty bucket, a generation from a corrupt object, the document from a good one", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      expect(yield* readPublished(OBJECT)).toEqual(Option.none())
      yield* bucket.put(OBJECT, "not json")
      const corrupt = Option.getOrThrow(yield* readPublished(OBJECT))
      expect(corrupt.info.generation).toBe("1")
      expect(corrupt.document).toEqual(Option.none())
      yield* publish(doc("2026-11-27T17:00:00Z"))
      const good = Option.getOrThrow(yield* readPublished(OBJECT))
      expect(good.info.generation).toBe("3")
      expect(Option.map(good.document, (d) => DateTime.formatIso(d.generated_at))).toEqual(
        Option.some("2026-11-27T17:00:00.000Z")
      )
    }).pipe(Effect.provide(plainBucket())))

  it.effect("a published document of exactly MAX_DOCUMENT_BYTES is read; over it, only its generation is", () =>
    Effect.gen(function*() {
      const document = doc("2026-11-27T17:00:00Z")
      const size = rendered(document).byteLength
      yield* publish(document).pipe(Effect.provide(settingsLayer({ maxDocumentBytes: size })))
      const atCap = Option.getOrThrow(yield* readPublished(OBJECT).pipe(Effect.provide(settingsLayer({ maxDocumentBytes: size }))))
      expect(Option.isSome(atCap.document)).toBe(true)
      const over = Option.getOrThrow(yield* readPublished(OBJECT).pipe(Effect.provide(settingsLayer({ maxDocumentBytes: size - 1 }))))
      expect(over.document).toEqual(Option.none())
      expect(over.info.generation).toBe(atCap.info.generation)
    }).pipe(Effect.provide(MemoryStorage.layer("test-bucket"))))

  it.effect("reading retries a transient failure", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(OBJECT, "x")
      yield* bucket.failNext("read", replyLost("objects.get", OBJECT))
      const exit = yield* withTimePassing(readPublished(OBJECT))
      expect(Exit.isSuccess(exit) && Option.isSome(exit.value)).toBe(true)
    }).pipe(Effect.provide(plainBucket({ retryBudget: Duration.minutes(2) }))))

  it.effect("a dry run renders the document and writes nothing", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const dry = yield* dryRunPublish(doc("2026-11-27T17:00:00Z"), OBJECT)
      yield* publish(doc("2026-11-27T17:00:00Z"))
      const written = Option.getOrThrow(yield* bucket.get(OBJECT))
      expect(dry).toEqual({
        location: "gs://test-bucket/metadata_cache.json",
        generation: null,
        bytes: written.bytes.byteLength,
        snapshot: null,
        pruned: [],
        replacedFutureDocument: null,
        layout: "single",
        partsWritten: 0,
        partsReused: 0,
        prunedParts: []
      })
      expect(utf8(yield* text(OBJECT)).byteLength).toBe(dry.bytes)
    }).pipe(Effect.provide(plainBucket())))
})

describe("over the local GCS server", () => {
  it.scopedLive("an upload served but whose reply was cut off is recognised on retry, and publishes once", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => startGcs()), (f) => Effect.promise(() => f.close()))
      const storage = yield* GcsStorage.make({ bucket: "test-bucket", apiEndpoint: fake.url, timeout: "30 seconds" })
      // The snapshot upload is stored, then the connection drops halfway through the reply.
      fake.faults.inject(Fault.truncated, { kind: "upload" })
      const published = yield* publish(doc("2026-11-27T17:00:00Z")).pipe(
        Effect.provideService(StorageService, storage),
        Effect.provide(settingsLayer())
      )
      const names = fake.objects.names("test-bucket")
      expect(names).toEqual([published.snapshot, OBJECT])
      expect(new TextDecoder().decode(fake.objects.get("test-bucket", OBJECT)!.bytes)).toBe(
        new TextDecoder().decode(fake.objects.get("test-bucket", published.snapshot!)!.bytes)
      )
      // Two uploads of the snapshot: the one whose reply was lost, and the retry refused with 412.
      expect(fake.requestsOf("upload").map((r) => r.query.ifGenerationMatch)).toEqual(["0", "0"])
      expect(fake.requestsOf("rewrite")).toHaveLength(1)
    }))

  const onFakeGcs = (overrides: Partial<SyncSettings> = {}) =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => startGcs()), (f) => Effect.promise(() => f.close()))
      const storage = yield* GcsStorage.make({ bucket: "test-bucket", apiEndpoint: fake.url, timeout: "30 seconds" })
      const run = <A, E>(effect: Effect.Effect<A, E, StorageService | SyncConfig>) =>
        effect.pipe(Effect.provideService(StorageService, storage), Effect.provide(settingsLayer(overrides)))
      return { fake, run }
    })

  it.scopedLive("an upload cut in the middle of its body is streamed again from the start: the object is the rendered document, byte for byte, with one snapshot", () =>
    Effect.gen(function*() {
      const { fake, run } = yield* onFakeGcs()
      const document = bigDoc("2026-11-27T17:00:00Z")
      const text = rendered(document)
      expect(text.byteLength).toBeGreaterThan(3 * 65536) // several chunks
      fake.faults.inject(Fault.cutBody(Math.floor(text.byteLength / 2)), { kind: "upload" })
      const published = yield* run(publish(document))
      expect(fake.objects.names("test-bucket")).toEqual([published.snapshot, OBJECT])
      expect(fake.objects.get("test-bucket", OBJECT)!.bytes.equals(text)).toBe(true)
      expect(fake.objects.get("test-bucket", published.snapshot!)!.bytes.equals(text)).toBe(true)
      expect(published.bytes).toBe(text.byteLength)
      // The cut upload and its retry, both to the snapshot's one name; then one copy.
      expect(fake.requestsOf("upload").map((r) => r.query.name)).toEqual([published.snapshot, published.snapshot])
      expect(fake.requestsOf("rewrite")).toHaveLength(1)
    }))

  it.scopedLive("an upload cut every time fails the publish: the published object stays byte for byte what it was, and no snapshot is left", () =>
    Effect.gen(function*() {
      const { fake, run } = yield* onFakeGcs({ retryAttempts: 2 })
      const first = yield* run(publish(bigDoc("2026-11-26T17:00:00Z", 600, "yesterday")))
      const before = fake.objects.get("test-bucket", OBJECT)!
      fake.faults.inject(Fault.cutBody(100_000), { kind: "upload" }, 2)
      const error = yield* Effect.flip(run(publish(bigDoc("2026-11-27T17:00:00Z", 600, "today"))))
      expect(error).toMatchObject({ _tag: "RemoteUnavailable", operation: "objects.insert", attempts: 2 })
      expect(fake.objects.names("test-bucket")).toEqual([first.snapshot, OBJECT])
      expect(fake.objects.get("test-bucket", OBJECT)).toEqual(before)
      yield* allClosed(fake.connections)
    }))

  it.scopedLive("a document over MAX_DOCUMENT_BYTES is cut before the end of its upload: nothing is written, and the error gives its whole size", () =>
    Effect.gen(function*() {
      const document = bigDoc("2026-11-27T17:00:00Z")
      const size = rendered(document).byteLength
      const { fake, run } = yield* onFakeGcs({ maxDocumentBytes: Math.floor(size / 2) })
      const error = yield* Effect.flip(run(publish(document)))
      expect(error).toMatchObject({ _tag: "DocumentTooLarge", bytes: size, max_bytes: Math.floor(size / 2) })
      expect(fake.objects.names("test-bucket")).toEqual([])
      expect(fake.requestsOf("rewrite")).toEqual([])
      yield* allClosed(fake.connections)
    }))
})

describe("streaming problems and stores without an MD5", () => {
  it.effect("a document of exactly MAX_DOCUMENT_BYTES is published; one byte more is refused, with its size, and nothing is written", () =>
    Effect.gen(function*() {
      const document = bigDoc("2026-11-27T17:00:00Z", 300)
      const size = rendered(document).byteLength
      const atCap = yield* publish(document).pipe(Effect.provide(plainBucket({ maxDocumentBytes: size })))
      expect(atCap.bytes).toBe(size)
      const dryAtCap = yield* dryRunPublish(document, OBJECT).pipe(Effect.provide(plainBucket({ maxDocumentBytes: size })))
      expect(dryAtCap.bytes).toBe(size)

      const over = Effect.gen(function*() {
        const bucket = yield* MemoryStorageControl
        const error = yield* Effect.flip(publish(document))
        expect(error).toMatchObject({ _tag: "DocumentTooLarge", bytes: size, max_bytes: size - 1 })
        expect(yield* bucket.names).toEqual([])
        const dryError = yield* Effect.flip(dryRunPublish(document, OBJECT))
        expect(dryError).toMatchObject({ _tag: "DocumentTooLarge", bytes: size, max_bytes: size - 1 })
      })
      yield* over.pipe(Effect.provide(plainBucket({ maxDocumentBytes: size - 1 })))
    }))

  it.effect("a table that does not encode stops the upload: the run fails naming it, and nothing is written", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const document = bigDoc("2026-11-27T17:00:00Z", 300)
      const broken = { ...document, tables: document.tables.map((t, i) => (i === 250 ? { ...t, columns: [{ ...t.columns[0]!, name: "" }] } : t)) } as unknown as CacheDocument
      const error = yield* Effect.flip(publish(broken))
      expect(error._tag).toBe("CacheDocumentError")
      expect(error.message).toMatch(/^gs:\/\/test-bucket\/metadata_cache\.json is not a valid MetaSync cache document:\n- tables\.250\.columns\.0\.name: /)
      expect(yield* bucket.names).toEqual([])
      expect((yield* bucket.calls).map((c) => c.operation)).toEqual(["stat", "write"])
    }).pipe(Effect.provide(plainBucket())))

  it.scoped("in the local directory (no MD5 kept), a snapshot already there is ours only if its bytes are the document's", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "metasync-publish-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const document = bigDoc("2026-11-27T17:00:00Z", 300)
      const text = rendered(document)
      // The name this publish takes (the tag from a fixed seed), found on a throw-away bucket.
      const name = (yield* sameTag(publish(document)).pipe(Effect.provide(plainBucket()))).snapshot!
      const local = Layer.merge(settingsLayer(), LocalStorage.layer(dir))

      // Our own earlier write, whose reply was lost: recognised by reading its bytes back.
      yield* Effect.promise(async () => {
        await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true })
        await fs.writeFile(path.join(dir, name), text)
      })
      const published = yield* sameTag(publish(document)).pipe(Effect.provide(local))
      expect(published.snapshot).toBe(name)
      expect((yield* Effect.promise(() => fs.readFile(path.join(dir, OBJECT)))).equals(text)).toBe(true)

      // Other bytes of the same size under that name: a conflict.
      const tampered = Buffer.from(text)
      tampered[text.byteLength - 10] = "x".charCodeAt(0)
      yield* Effect.promise(() => fs.rm(path.join(dir, OBJECT)))
      yield* Effect.promise(() => fs.writeFile(path.join(dir, name), tampered))
      const exit = yield* sameTag(publish(document)).pipe(Effect.provide(local), Effect.exit)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("PreconditionFailed")
      yield* Effect.promise(() => fs.access(path.join(dir, OBJECT)).then(() => expect.fail("published"), () => undefined))

      // The document's bytes and more, or fewer of them: conflicts too.
      for (const other of [Buffer.concat([text, Buffer.from(" ")]), text.subarray(0, text.byteLength - 1)]) {
        yield* Effect.promise(() => fs.writeFile(path.join(dir, name), other))
        const conflict = yield* sameTag(publish(document)).pipe(Effect.provide(local), Effect.exit)
        expect(Exit.isFailure(conflict) && String(conflict.cause)).toContain("PreconditionFailed")
      }
      yield* Effect.promise(() => fs.access(path.join(dir, OBJECT)).then(() => expect.fail("published"), () => undefined))
    }))
})

describe("pruning after a publish", () => {
  it.effect("lists the split layout's parts while it prunes the history: a single-layout deployment pays no round trip for them", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      const fiber = yield* Effect.fork(publishDocument(doc("2026-11-27T17:00:00Z"), OBJECT, Option.none()))
      // One second a call: the snapshot's write, the copy, then the history's and the parts' listings at once.
      for (let second = 0; second < 3; second++) yield* TestClock.adjust("1 second")
      expect(Option.isSome(yield* Fiber.poll(fiber)), "published within three calls' time").toBe(true)
      const published = yield* Fiber.join(fiber)
      expect(published.generation).not.toBeNull()
      expect((yield* bucket.calls).map((c) => `${c.operation} ${c.name}`)).toEqual([
        `write history/${OBJECT}/${published.snapshot!.slice(`history/${OBJECT}/`.length)}`,
        `copy ${OBJECT}`,
        `list history/${OBJECT}/`,
        `list parts/${OBJECT}/`
      ])
    }).pipe(Effect.provide(Layer.merge(settingsLayer(), MemoryStorage.layer("test-bucket", { latency: "1 second" })))))
})
