/**
 * Publishing the split layout over an in-memory bucket: the manifest and its parts read back as
 * exactly the document; an incremental run rewrites only the parts whose tables changed; a part
 * over the cap, a lost race or a failed copy leave the published cache as it was; pruning keeps
 * every part a kept manifest references and spares a newer run's; layouts switch either way.
 * Times come from the TestClock and the documents; names are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { loadSyncSettings, SyncConfig, type SyncSettings } from "../../src/config/SyncConfig.ts"
import { type CacheDocument, makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { type CacheManifest, makePart, planParts, renderPartChunks } from "../../src/contract/SplitDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { readStoredDocument } from "../../src/loader/StoredDocument.ts"
import { rollback } from "../../src/operations/Operations.ts"
import { RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { indexedSnapshot, listSnapshots, partIndexName, partName, partRunTime, partsPrefix, pruneParts, snapshotName, snapshotTag, snapshotTime } from "../../src/sync/history.ts"
import { type DocumentTooLarge, readPublished } from "../../src/sync/publish.ts"
import { chooseLayout, dryRunCache, publishCache } from "../../src/sync/publishSplit.ts"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { captureLogs } from "../support/CapturedLogs.ts"
import { testSettings } from "../support/TestLayers.ts"

const OBJECT = "metadata_cache.json"
const T1 = "2026-11-27T17:00:00.000Z"
const T2 = "2026-11-28T17:00:00.000Z"
const T3 = "2026-11-29T17:00:00.000Z"
const T4 = "2026-11-30T17:00:00.000Z"

/** Three datasets of two tables each, interleaved; an example per table, and one across datasets. */
const TABLES = [
  "proj-one.sales.orders",
  "proj-one.web.sessions",
  "proj-one.ops.jobs",
  "proj-one.sales.refunds",
  "proj-one.web.pages",
  "proj-one.ops.alerts"
]

/** The document generated at `at`; `changed` gives some tables another description. */
const docAt = (at: string, changed: Readonly<Record<string, string>> = {}, extraExamples = 0): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(at),
    generator: { name: "metasync", version: "test" },
    tables: TABLES.map((id) =>
      makeTableEntry({
        table_id: TableId.make(id),
        description: changed[id] ?? `the ${id.split(".")[2]} table`,
        last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
        columns: [
          { name: "id", type: "INTEGER", mode: "REQUIRED", description: null },
          { name: "device", type: "RECORD", mode: "NULLABLE", description: null, fields: [{ name: "category", type: "STRING", mode: "NULLABLE", description: null }] }
        ]
      })
    ) as unknown as CacheDocument["tables"],
    examples: [
      ...TABLES.map((id, i) => ({
        question: `질문 ${i}`,
        sql: `SELECT id FROM \`${id}\``,
        tables: [TableId.make(id)],
        source: "template" as const,
        generator: "template:test",
        language: "ko" as const
      })),
      {
        question: "주문과 세션",
        sql: "SELECT 1",
        tables: [TableId.make("proj-one.web.sessions"), TableId.make("proj-one.sales.orders")],
        source: "template" as const,
        generator: "template:test",
        language: "ko" as const
      },
      // Long examples of one web table: they make the web part (and only it) large.
      ...Array.from({ length: extraExamples }, (_, i) => ({
        question: `긴 질문 ${i}`,
        sql: `SELECT ${"x, ".repeat(200)}id FROM \`proj-one.web.pages\` -- ${i}`,
        tables: [TableId.make("proj-one.web.pages")],
        source: "template" as const,
        generator: "template:test",
        language: "ko" as const
      }))
    ]
  })

const splitSettings = (overrides: Partial<SyncSettings> = {}) => testSettings({ documentLayout: "split", ...overrides })

/** A fresh bucket with the split layout (or `overrides`); the TestClock at T1. */
const bucket = (overrides: Partial<SyncSettings> = {}) =>
  Layer.merge(Layer.succeed(SyncConfig, splitSettings(overrides)), MemoryStorage.layer("test-bucket"))

/** Runs `effect` with other settings over the same bucket. */
const withSettings = (overrides: Partial<SyncSettings>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, SyncConfig, splitSettings(overrides))

/** Reads what is published and publishes `doc` over it, the clock set to the document's time. */
const run = (doc: CacheDocument) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(DateTime.toEpochMillis(doc.generated_at))
    return yield* publishCache(doc, OBJECT, yield* readPublished(OBJECT))
  })

const readBack = Effect.map(readStoredDocument(OBJECT), Option.getOrThrow)
const names = Effect.flatMap(MemoryStorageControl, (b) => b.names)
const partNames = Effect.map(names, (all) => all.filter((n) => n.startsWith(partsPrefix(OBJECT))))
const manifestOf = Effect.map(readBack, (stored) => stored.manifest!)
const writesSince = (from: number) =>
  Effect.map(Effect.flatMap(MemoryStorageControl, (b) => b.calls), (calls) =>
    calls.slice(from).filter((c) => c.operation === "write").map((c) => c.name))
const callCount = Effect.map(Effect.flatMap(MemoryStorageControl, (b) => b.calls), (calls) => calls.length)

/** The object name of `key` in `manifest`. */
const objectOf = (manifest: CacheManifest, key: string) => manifest.parts.find((p) => p.key === key)!.object

/** Runs `effect`, keeping its outcome and the warnings it logged. */
const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const result = yield* Effect.exit(Effect.provide(effect, logs.layer))
    return { result, warnings: logs.warnings().join("\n") }
  })
const valueOf = <A, E>(exit: Exit.Exit<A, E>): A => {
  if (Exit.isFailure(exit)) throw new Error(`failed: ${String(exit.cause)}`)
  return exit.value
}

describe("publishing the split layout", () => {
  it.effect("a manifest and one part per dataset, read back as exactly the document; parts share the snapshot's stamp and tag", () =>
    Effect.gen(function*() {
      const doc = docAt(T1)
      const published = yield* Effect.withRandom(run(doc), Random.make("tag"))
      const tag = yield* Effect.withRandom(snapshotTag, Random.make("tag"))
      expect(published).toMatchObject({
        location: "gs://test-bucket/metadata_cache.json",
        layout: "split",
        partsWritten: 3,
        partsReused: 0,
        snapshot: snapshotName(OBJECT, DateTime.unsafeMake(T1), tag)
      })
      const stored = yield* readBack
      expect(stored.document).toEqual(doc)
      expect(stored.formatVersion).toBe(3)
      expect(stored.info.generation).toBe(published.generation)
      expect(stored.info.size).toBe(published.bytes)
      const keys = ["proj-one.sales", "proj-one.web", "proj-one.ops"]
      expect(stored.manifest!.parts.map((p) => [p.key, p.object])).toEqual(
        keys.map((key) => [key, `parts/metadata_cache.json/20261127T170000.000Z-${tag}/${key}.json`])
      )
      expect(stored.manifest!.parts.map((p) => partName(OBJECT, DateTime.unsafeMake(T1), tag, p.key))).toEqual(stored.manifest!.parts.map((p) => p.object))
      // The snapshot is the manifest: a rollback to it finds the same parts.
      const bucketControl = yield* MemoryStorageControl
      expect(yield* bucketControl.text(published.snapshot!)).toEqual(yield* bucketControl.text(OBJECT))
      // Beside the snapshot, its part index: what it references, for pruning.
      expect(yield* names).toEqual([
        published.snapshot,
        partIndexName(published.snapshot!),
        OBJECT,
        ...[...keys].sort().map((key) => `parts/metadata_cache.json/20261127T170000.000Z-${tag}/${key}.json`)
      ].sort())
      // Each reference carries the part's generation, size and MD5, as storage reports them.
      for (const ref of stored.manifest!.parts) {
        const object = Option.getOrThrow(yield* bucketControl.get(ref.object))
        expect([ref.generation, ref.bytes, ref.md5]).toEqual([object.info.generation, object.bytes.byteLength, object.info.md5])
      }
    }).pipe(Effect.provide(bucket())))

  it.effect("an incremental run rewrites exactly the part of the table that changed, and reuses the others", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const first = yield* manifestOf
      const before = yield* callCount
      const second = docAt(T2, { "proj-one.web.pages": "pages, described anew" })
      const published = yield* run(second)
      expect(published).toMatchObject({ layout: "split", partsWritten: 1, partsReused: 2 })
      const manifest = yield* manifestOf
      const webPart = objectOf(manifest, "proj-one.web")
      expect(webPart).toMatch(/^parts\/metadata_cache\.json\/20261128T170000\.000Z-[0-9a-f]{12}\/proj-one\.web\.json$/)
      // Written: the web part, the snapshot and its index; the others are the first run's, untouched.
      expect(yield* writesSince(before)).toEqual([webPart, published.snapshot, partIndexName(published.snapshot!)])
      for (const key of ["proj-one.sales", "proj-one.ops"]) {
        expect(manifest.parts.find((p) => p.key === key)).toEqual(first.parts.find((p) => p.key === key))
      }
      expect((yield* readBack).document).toEqual(second)

      // Nothing changed: every part reused, only the manifest's snapshot (and its index) written.
      const third = yield* run(docAt(T3, { "proj-one.web.pages": "pages, described anew" }))
      expect(third).toMatchObject({ partsWritten: 0, partsReused: 3 })
      expect((yield* manifestOf).parts).toEqual(manifest.parts)
    }).pipe(Effect.provide(bucket())))

  it.effect("a part replaced since (another generation) is written again, not reused", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const first = yield* manifestOf
      const control = yield* MemoryStorageControl
      // Someone rewrote the ops part with the same bytes: a new generation, so the manifest is broken.
      const ops = objectOf(first, "proj-one.ops")
      yield* control.put(ops, Option.getOrThrow(yield* control.get(ops)).bytes)
      const logs = yield* logged(readPublished(OBJECT))
      expect(Option.getOrThrow(valueOf(logs.result)).document).toEqual(Option.none())
      expect(logs.warnings).toContain("the part was replaced since")
      expect(logs.warnings).toContain(ops)
      const published = yield* run(docAt(T2))
      expect(published).toMatchObject({ partsWritten: 3, partsReused: 0 })
      expect((yield* readBack).document).toEqual(docAt(T2))
    }).pipe(Effect.provide(bucket())))

  it.effect("a part over MAX_DOCUMENT_BYTES fails the run naming the part; no manifest is written and no part is left", () =>
    Effect.gen(function*() {
      const doc = docAt(T1, {}, 40)
      const plan = planParts(doc)
      const sizes = plan.parts.map((p) => [...Either.getOrThrow(renderPartChunks(makePart(p, doc.generated_at)))()].reduce((n, c) => n + c.byteLength, 0))
      expect(plan.parts[1]!.key).toBe("proj-one.web")
      const cap = sizes[1]! - 1
      expect(Math.max(sizes[0]!, sizes[2]!)).toBeLessThan(cap)
      const overCap = withSettings({ maxDocumentBytes: cap })

      const dry = yield* Effect.flip(dryRunCache(doc, OBJECT).pipe(overCap))
      expect(dry).toMatchObject({ _tag: "DocumentTooLarge", bytes: sizes[1], max_bytes: cap, part: "proj-one.web" })
      expect((dry as DocumentTooLarge).location).toMatch(/^gs:\/\/test-bucket\/parts\/metadata_cache\.json\/20261127T170000\.000Z-[0-9a-f]{12}\/proj-one\.web\.json$/)
      expect(yield* writesSince(0)).toEqual([])

      const error = yield* Effect.flip(run(doc).pipe(overCap))
      expect(error).toMatchObject({ _tag: "DocumentTooLarge", bytes: sizes[1], max_bytes: cap })
      expect(error.message).toMatch(
        /^part proj-one\.web of the split document \(gs:\/\/test-bucket\/parts\/metadata_cache\.json\/20261127T170000\.000Z-[0-9a-f]{12}\/proj-one\.web\.json\) has \d+ bytes, over MAX_DOCUMENT_BYTES \(\d+\); nothing was written \(lower PART_MAX_TABLES/
      )
      expect(yield* names).toEqual([])
      // Within the cap, the same document publishes.
      expect((yield* run(doc).pipe(withSettings({ maxDocumentBytes: sizes[1] })))).toMatchObject({ partsWritten: 3 })
    }).pipe(Effect.provide(bucket())))

  it.effect("a dry run measures every part and the manifest, counts what it would reuse, and writes nothing", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const before = yield* callCount
      const doc = docAt(T2, { "proj-one.sales.orders": "changed" })
      const dry = yield* dryRunCache(doc, OBJECT, yield* readPublished(OBJECT))
      expect(dry).toMatchObject({ layout: "split", generation: null, snapshot: null, partsWritten: 1, partsReused: 2 })
      expect(yield* writesSince(before)).toEqual([])
      const published = yield* run(doc)
      // The dry run measures with a 16-digit generation; the bucket's are shorter.
      expect(Math.abs(dry.bytes - published.bytes)).toBeLessThan(100)
    }).pipe(Effect.provide(bucket())))

  it.effect("a manifest that fits only without its vectors is published without them, with a warning; the parts are as they were", () =>
    Effect.gen(function*() {
      const plain = docAt(T1)
      const withVectors: CacheDocument = {
        ...plain,
        embeddings: {
          model: "test-model",
          dimension: 64,
          encoding: "int8",
          vectors: Array.from({ length: 200 }, (_, i) => ({ key: `e:${i}`, text_hash: "0123456789abcdef", scale: 0.01, vector: "A".repeat(88) }))
        }
      }
      // The manifest without vectors fits (measured with longer generations than the bucket's); with them it does not.
      const fits = (yield* dryRunCache(plain, OBJECT)).bytes
      const logs = yield* logged(run(withVectors).pipe(withSettings({ maxDocumentBytes: fits })))
      const published = valueOf(logs.result)
      expect(published.bytes).toBeLessThanOrEqual(fits)
      expect(logs.warnings).toContain("published without them")
      expect((yield* readBack).document).toEqual(plain)
    }).pipe(Effect.provide(bucket())))

  it.effect("a part written whose reply was lost is recognised on retry, and written once", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      const doc = docAt(T1)
      yield* TestClock.setTime(DateTime.toEpochMillis(doc.generated_at))
      const inner = yield* StorageService
      let lost = false
      const losing = StorageService.of({
        ...inner,
        write: (name, body, options) =>
          !lost && name.startsWith("parts/")
            ? inner.write(name, body, options).pipe(
              Effect.tap(() => (lost = true)),
              Effect.zipRight(Effect.fail(
                new RemoteUnavailable({ service: "storage", operation: "objects.insert", resource: name, status: null, reason: "ECONNRESET", message: "socket hang up", attempts: 1 })
              ))
            )
            : inner.write(name, body, options)
      })
      const fiber = yield* Effect.fork(publishCache(doc, OBJECT, Option.none()).pipe(Effect.provideService(StorageService, losing)))
      // The retry waits by the policy's backoff: move the clock on.
      yield* TestClock.adjust("10 seconds")
      const published = yield* fiber.await.pipe(Effect.flatMap((exit) => exit))
      expect(published).toMatchObject({ partsWritten: 3 })
      expect(lost).toBe(true)
      expect((yield* readBack).document).toEqual(doc)
      expect((yield* control.names).filter((n) => n.startsWith("parts/"))).toHaveLength(3)
    }).pipe(Effect.provide(bucket())))
})

describe("the split layout in a local directory (no MD5 kept)", () => {
  it.scoped("publishes, reads back, reuses unchanged parts and prunes, as in a bucket", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "metasync-split-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const local = Layer.merge(Layer.succeed(SyncConfig, splitSettings({ historyKeep: 1 })), LocalStorage.layer(dir))
      const first = yield* run(docAt(T1)).pipe(Effect.provide(local))
      expect(first).toMatchObject({ layout: "split", partsWritten: 3, partsReused: 0 })
      const second = yield* run(docAt(T2, { "proj-one.ops.alerts": "changed" })).pipe(Effect.provide(local))
      expect(second).toMatchObject({ partsWritten: 1, partsReused: 2 })
      expect((yield* readBack.pipe(Effect.provide(local))).document).toEqual(docAt(T2, { "proj-one.ops.alerts": "changed" }))
      // One snapshot kept: the first run's ops part is referenced no more.
      expect(second.prunedParts).toHaveLength(1)
      expect(second.prunedParts[0]).toMatch(/^parts\/metadata_cache\.json\/20261127T170000\.000Z-[0-9a-f]{12}\/proj-one\.ops\.json$/)
      yield* Effect.promise(() => fs.access(path.join(dir, second.prunedParts[0]!)).then(() => expect.fail("not pruned"), () => undefined))
    }))
})

describe("a split publish that fails", () => {
  it.effect("a lost race removes the parts this run wrote, keeps the reused ones, and leaves the winner's cache readable", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const stale = yield* readPublished(OBJECT)
      // Another run publishes meanwhile.
      const winner = docAt(T2, { "proj-one.ops.jobs": "the winner's" })
      yield* run(winner)
      const partsBefore = yield* partNames
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake(T3)))
      const exit = yield* publishCache(docAt(T3, { "proj-one.web.pages": "the loser's" }), OBJECT, stale).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : undefined).toBe("PreconditionFailed")
      // The loser wrote one part (web); it is gone, and so is its snapshot.
      expect(yield* partNames).toEqual(partsBefore)
      expect((yield* names).filter((n) => n.includes("20261129T"))).toEqual([])
      expect((yield* readBack).document).toEqual(winner)
    }).pipe(Effect.provide(bucket())))

  it.effect("a copy that failed in transit may have landed: the run's parts stay, with a warning, and a later run prunes them", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      yield* run(docAt(T1))
      yield* control.failNext(
        "copy",
        new RemoteUnavailable({ service: "storage", operation: "objects.rewrite", resource: OBJECT, status: 503, reason: "backendError", message: "try again", attempts: 1 })
      )
      const failed = yield* logged(run(docAt(T2, { "proj-one.web.pages": "lost" })).pipe(withSettings({ retryAttempts: 1 })))
      expect(Exit.isFailure(failed.result)).toBe(true)
      expect(failed.warnings).toContain("may have landed")
      const orphan = (yield* partNames).filter((n) => n.includes("20261128T"))
      expect(orphan).toHaveLength(1)
      // Its snapshot was removed, and its part index with it.
      expect((yield* names).filter((n) => n.startsWith("history/") && n.includes("20261128T"))).toEqual([])
      // The next run's manifest does not reference it, and its run is older: pruned.
      const next = yield* run(docAt(T3))
      expect(next.prunedParts).toEqual(orphan)
      expect((yield* partNames).filter((n) => n.includes("20261128T"))).toEqual([])
      expect((yield* readBack).document).toEqual(docAt(T3))
    }).pipe(Effect.provide(bucket())))

  it.effect("a part index that cannot be written fails the run: its snapshot and the parts it wrote are removed, the published cache stays", () =>
    Effect.gen(function*() {
      const storage = yield* StorageService
      yield* run(docAt(T1))
      const before = yield* names
      const unavailable = new RemoteUnavailable({ service: "storage", operation: "objects.insert", resource: "index", status: 503, reason: "backendError", message: "try again", attempts: 1 })
      const failing = Effect.provideService(StorageService, {
        ...storage,
        write: (name, body, options) => name.endsWith(".parts.json") ? Effect.fail(unavailable) : storage.write(name, body, options)
      })
      const failed = yield* Effect.exit(run(docAt(T2, { "proj-one.web.pages": "changed" })).pipe(failing, withSettings({ retryAttempts: 1 })))
      const error = Exit.isFailure(failed) && failed.cause._tag === "Fail" ? failed.cause.error as { _tag: string; resource: string } : undefined
      expect([error?._tag, error?.resource]).toEqual(["RemoteUnavailable", "index"])
      expect(yield* names).toEqual(before)
      expect((yield* readBack).document).toEqual(docAt(T1))
    }).pipe(Effect.provide(bucket())))

  it.effect("a manifest over the cap fails the run; the parts it wrote are removed, the published cache stays as it was", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const before = yield* names
      const published = Option.getOrThrow(yield* Effect.flatMap(MemoryStorageControl, (b) => b.get(OBJECT)))
      const doc = docAt(T2, { "proj-one.web.pages": "changed" })
      const plan = planParts(doc)
      const largestPart = Math.max(...plan.parts.map((p) => [...Either.getOrThrow(renderPartChunks(makePart(p, doc.generated_at)))()].reduce((n, c) => n + c.byteLength, 0)))
      // Every part fits, the manifest does not.
      const cap = largestPart + 1
      expect(cap).toBeLessThan(published.bytes.byteLength)
      const calls = yield* callCount
      const error = yield* Effect.flip(run(doc).pipe(withSettings({ maxDocumentBytes: cap })))
      expect(error).toMatchObject({ _tag: "DocumentTooLarge", location: "gs://test-bucket/metadata_cache.json", max_bytes: cap })
      const writes = yield* writesSince(calls)
      // The published manifest is over this cap too, so it was read as corrupt: nothing to reuse.
      expect(writes.filter((n) => n.startsWith("parts/"))).toHaveLength(3)
      expect((error as DocumentTooLarge).part).toBeUndefined()
      // This run's parts were written, then removed; nothing else changed.
      expect(yield* names).toEqual(before)
      expect(Option.getOrThrow(yield* Effect.flatMap(MemoryStorageControl, (b) => b.get(OBJECT))).info).toEqual(published.info)
      expect((yield* readBack).document).toEqual(docAt(T1))
    }).pipe(Effect.provide(bucket())))

  it.effect("a newer document already published is not replaced, and nothing is written", () =>
    Effect.gen(function*() {
      // Five minutes later than ours: newer, not "from the future".
      yield* run(docAt("2026-11-27T17:05:00.000Z"))
      const before = yield* names
      const error = yield* Effect.flip(publishCache(docAt(T1, { "proj-one.web.pages": "older" }), OBJECT, yield* readPublished(OBJECT)))
      expect(error._tag).toBe("PreconditionFailed")
      expect(error.message).toContain("a newer document")
      expect(yield* names).toEqual(before)
    }).pipe(Effect.provide(bucket())))
})

describe("reading a published split document", () => {
  it.effect("a manifest whose part is missing is read as corrupt: no document, its generation kept, a warning naming the part", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      const storage = yield* StorageService
      const published = yield* run(docAt(T1))
      const manifest = yield* manifestOf
      const web = manifest.parts.find((p) => p.key === "proj-one.web")!
      yield* storage.remove(web.object, { ifGenerationMatch: web.generation })
      const logs = yield* logged(readPublished(OBJECT))
      const previous = Option.getOrThrow(valueOf(logs.result))
      expect(previous.document).toEqual(Option.none())
      expect(previous.parts).toEqual(Option.none())
      expect(previous.info.generation).toBe(published.generation)
      expect(logs.warnings).toContain("part proj-one.web")
      expect(logs.warnings).toContain("is missing")
      // The next run replaces it (by its generation), writing every part anew.
      const next = yield* run(docAt(T2))
      expect(next).toMatchObject({ partsWritten: 3, partsReused: 0 })
      expect((yield* readBack).document).toEqual(docAt(T2))
      expect(yield* control.names).not.toContain(web.object)
    }).pipe(Effect.provide(bucket())))

  it.effect("the previous manifest's parts and time come with the document, for part reuse", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const previous = Option.getOrThrow(yield* readPublished(OBJECT))
      expect(Option.getOrThrow(previous.document)).toEqual(docAt(T1))
      const manifest = yield* manifestOf
      expect(Option.getOrThrow(previous.parts)).toEqual({ generatedAt: manifest.generated_at, refs: manifest.parts })
    }).pipe(Effect.provide(bucket())))
})

describe("pruning parts", () => {
  it.effect("keeps every part a retained manifest references, reused ones of old runs included, and removes the rest", () =>
    Effect.gen(function*() {
      // Two snapshots kept: after the third run, the first run's snapshot is gone.
      const first = yield* run(docAt(T1))
      const m1 = yield* manifestOf
      yield* run(docAt(T2, { "proj-one.web.pages": "second" }))
      const m2 = yield* manifestOf
      const third = yield* run(docAt(T3, { "proj-one.web.pages": "third" }))
      const m3 = yield* manifestOf
      expect(third.pruned).toEqual([first.snapshot])
      // The first run's web part: referenced by no retained manifest any more.
      expect(third.prunedParts).toEqual([objectOf(m1, "proj-one.web")])
      // The first run's sales and ops parts are still the latest manifest's: kept.
      expect(objectOf(m3, "proj-one.sales")).toBe(objectOf(m1, "proj-one.sales"))
      expect(yield* partNames).toEqual(
        [objectOf(m1, "proj-one.sales"), objectOf(m1, "proj-one.ops"), objectOf(m2, "proj-one.web"), objectOf(m3, "proj-one.web")].sort()
      )
      expect((yield* readBack).document).toEqual(docAt(T3, { "proj-one.web.pages": "third" }))
    }).pipe(Effect.provide(bucket({ historyKeep: 2 }))))

  it.effect("spares the parts of a run stamped later than this one, and objects whose names are not a run's", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      const older = `${partsPrefix(OBJECT)}20261101T000000.000Z-aaaaaaaaaaaa/proj-one.x.json`
      const newer = `${partsPrefix(OBJECT)}20261201T000000.000Z-bbbbbbbbbbbb/proj-one.x.json`
      const same = `${partsPrefix(OBJECT)}20261127T170000.000Z-cccccccccccc/proj-one.x.json`
      const foreign = `${partsPrefix(OBJECT)}notes/readme.json`
      for (const name of [older, newer, same, foreign]) yield* control.put(name, "{}")
      expect(partRunTime(OBJECT, newer)).toEqual(DateTime.unsafeMake("2026-12-01T00:00:00Z"))
      expect(partRunTime(OBJECT, foreign)).toBeUndefined()
      const published = yield* run(docAt(T1))
      // Stamped at this run's very time: not later, so removed.
      expect([...published.prunedParts].sort()).toEqual([older, same].sort())
      const left = yield* partNames
      expect(left).toContain(newer)
      expect(left).toContain(foreign)
      expect(left).not.toContain(older)
    }).pipe(Effect.provide(bucket())))

  it.effect("a snapshot is read as a manifest by what it says, however it is laid out; a whole document references nothing", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      const kept = `${partsPrefix(OBJECT)}20261101T000000.000Z-aaaaaaaaaaaa/proj-one.a.json`
      const removed = `${partsPrefix(OBJECT)}20261101T000000.000Z-aaaaaaaaaaaa/proj-one.b.json`
      for (const name of [kept, removed]) yield* control.put(name, "{}")
      const ref = { key: "proj-one.a", object: kept, generation: "1", bytes: 2, md5: null, tables: 1, examples: 0, example_tables: [] }
      // Pretty-printed, as a hand-restored manifest might be.
      yield* control.put(`history/${OBJECT}/20261101T000000.000Z-aaaaaaaaaaaa.json`, JSON.stringify({ format_version: 3, layout: "manifest", parts: [ref] }, null, 2))
      // A whole document that happens to hold the word.
      yield* control.put(`history/${OBJECT}/20261102T000000.000Z-bbbbbbbbbbbb.json`, JSON.stringify({ format_version: 2, note: "manifest", parts: [{ ...ref, object: removed }] }))
      const pruned = yield* pruneParts(OBJECT, { keep: [], runAt: DateTime.unsafeMake(T1) })
      expect(pruned).toEqual([removed])
      expect(yield* partNames).toEqual([kept])
    }).pipe(Effect.provide(bucket())))

  it.effect("reads the retained snapshots' part indexes, never their manifests, and the latest's references from the run's own manifest", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      yield* run(docAt(T1))
      yield* run(docAt(T2, { "proj-one.web.pages": "second" }))
      const before = yield* callCount
      const third = yield* run(docAt(T3, { "proj-one.web.pages": "third" }))
      const calls = (yield* control.calls).slice(before)
      // The run reads the published cache (the manifest, its parts) to start; pruning reads only indexes.
      const historyReads = calls.filter((c) => c.operation === "read" && c.name.startsWith("history/")).map((c) => c.name)
      const snapshots = (yield* listSnapshots(OBJECT)).map((s) => s.info.name)
      expect(snapshots).toHaveLength(3)
      expect(historyReads.sort()).toEqual(snapshots.map(partIndexName).sort())
      // Pruning alone: one small read per retained snapshot, nothing else downloaded.
      const m3 = yield* manifestOf
      const mark = yield* callCount
      expect(yield* pruneParts(OBJECT, { keep: [m3], runAt: DateTime.unsafeMake(T3) })).toEqual([])
      const pruning = (yield* control.calls).slice(mark)
      expect(pruning.filter((c) => c.operation === "read").map((c) => c.name).sort()).toEqual(snapshots.map(partIndexName).sort())
      const indexBytes = (yield* Effect.forEach(snapshots, (n) => control.get(partIndexName(n)))).map((o) => Option.getOrThrow(o).bytes.byteLength)
      const snapshotBytes = (yield* Effect.forEach(snapshots, (n) => control.get(n))).map((o) => Option.getOrThrow(o).bytes.byteLength)
      expect(Math.max(...indexBytes)).toBeLessThan(Math.min(...snapshotBytes))
      expect(third.prunedParts).toEqual([])
      expect((yield* readBack).document).toEqual(docAt(T3, { "proj-one.web.pages": "third" }))
    }).pipe(Effect.provide(bucket({ historyKeep: 3 }))))

  it.effect("a snapshot without its index, or with an index of another generation of it, is read as a manifest, and its parts kept", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      const storage = yield* StorageService
      const first = yield* run(docAt(T1))
      const m1 = yield* manifestOf
      const second = yield* run(docAt(T2, { "proj-one.web.pages": "second" }))
      const m2 = yield* manifestOf
      // The first snapshot as written before indexes existed; the second written again by hand (another generation).
      const index1 = Option.getOrThrow(yield* control.get(partIndexName(first.snapshot!)))
      yield* storage.remove(partIndexName(first.snapshot!), { ifGenerationMatch: index1.info.generation })
      yield* control.put(second.snapshot!, Option.getOrThrow(yield* control.text(second.snapshot!)))
      const mark = yield* callCount
      const pruned = yield* pruneParts(OBJECT, { keep: [], runAt: DateTime.unsafeMake(T3) })
      const reads = (yield* control.calls).slice(mark).filter((c) => c.operation === "read").map((c) => c.name)
      expect(reads).toContain(first.snapshot)
      expect(reads).toContain(second.snapshot)
      // Both snapshots' parts are referenced: nothing removed.
      expect(pruned).toEqual([])
      expect(yield* partNames).toEqual([...new Set([...m1.parts, ...m2.parts].map((p) => p.object))].sort())
    }).pipe(Effect.provide(bucket())))

  it.effect("an expired snapshot's index goes with it, and an index whose snapshot is gone is removed; neither is a snapshot or a part", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      const orphan = `history/${OBJECT}/20261101T000000.000Z-aaaaaaaaaaaa.parts.json`
      yield* control.put(orphan, "{}")
      expect(snapshotTime(OBJECT, orphan)).toBeUndefined()
      expect(partRunTime(OBJECT, orphan)).toBeUndefined()
      expect(indexedSnapshot(OBJECT, orphan)).toBe(`history/${OBJECT}/20261101T000000.000Z-aaaaaaaaaaaa.json`)
      expect(indexedSnapshot(OBJECT, `history/${OBJECT}/notes.parts.json`)).toBeUndefined()
      const first = yield* run(docAt(T1))
      expect(yield* names).not.toContain(orphan)
      expect((yield* listSnapshots(OBJECT)).map((s) => s.info.name)).toEqual([first.snapshot])
      const second = yield* run(docAt(T2, { "proj-one.web.pages": "second" }))
      const third = yield* run(docAt(T3, { "proj-one.web.pages": "third" }))
      expect(third.pruned).toEqual([first.snapshot])
      expect((yield* names).filter((n) => n.startsWith("history/")).sort()).toEqual(
        [second.snapshot!, partIndexName(second.snapshot!), third.snapshot!, partIndexName(third.snapshot!)].sort()
      )
    }).pipe(Effect.provide(bucket({ historyKeep: 2 }))))

  it.effect("after a rollback to a split snapshot, later runs keep every part a retained snapshot or the latest references", () =>
    Effect.gen(function*() {
      /** Every retained snapshot, and the latest, read whole: each part there at its generation. */
      const everyManifestWhole = Effect.gen(function*() {
        for (const s of yield* listSnapshots(OBJECT)) expect(Option.isSome(yield* readStoredDocument(s.info.name))).toBe(true)
        return (yield* readBack).document
      })
      const a = yield* run(docAt(T1))
      const mA = yield* manifestOf
      yield* run(docAt(T2, { "proj-one.web.pages": "second" }))
      yield* rollback(a.snapshot!)
      expect(yield* everyManifestWhole).toEqual(docAt(T1))
      // The next run starts from the rolled-back manifest: it reuses A's parts and writes a new ops part.
      const c = yield* run(docAt(T3, { "proj-one.ops.jobs": "third" }))
      expect(c).toMatchObject({ partsWritten: 1, partsReused: 2, prunedParts: [] })
      expect(yield* everyManifestWhole).toEqual(docAt(T3, { "proj-one.ops.jobs": "third" }))
      // A rollback to the first snapshot still finds its parts.
      yield* rollback(a.snapshot!)
      expect(yield* everyManifestWhole).toEqual(docAt(T1))
      // Fewer snapshots kept: A's and B's expire; of their parts, those the latest reuses stay.
      const d = yield* run(docAt(T4, { "proj-one.ops.jobs": "third" })).pipe(withSettings({ historyKeep: 2 }))
      expect(d.pruned).toHaveLength(2)
      expect(yield* everyManifestWhole).toEqual(docAt(T4, { "proj-one.ops.jobs": "third" }))
      const mD = yield* manifestOf
      expect(objectOf(mD, "proj-one.sales")).toBe(objectOf(mA, "proj-one.sales"))
      expect(yield* partNames).toContain(objectOf(mA, "proj-one.sales"))
    }).pipe(Effect.provide(bucket({ historyKeep: 3 }))))

  it.effect("a part pruning failure is a warning: the publish stands", () =>
    Effect.gen(function*() {
      const control = yield* MemoryStorageControl
      yield* run(docAt(T1))
      // A retained snapshot that says it is a manifest but does not decode: nothing may be removed on a guess.
      yield* control.put(`history/${OBJECT}/20261127T180000.000Z-dddddddddddd.json`, `{"format_version":3,"layout":"manifest"}`)
      const orphan = `${partsPrefix(OBJECT)}20261101T000000.000Z-aaaaaaaaaaaa/proj-one.x.json`
      yield* control.put(orphan, "{}")
      const logs = yield* logged(run(docAt(T2, { "proj-one.ops.jobs": "changed" })))
      expect(valueOf(logs.result).prunedParts).toEqual([])
      expect(logs.warnings).toContain("part pruning failed")
      expect(yield* partNames).toContain(orphan)
    }).pipe(Effect.provide(bucket())))
})

describe("switching layouts", () => {
  it.effect("single, then split, then single: each run reads the previous one and replaces it by its generation", () =>
    Effect.gen(function*() {
      const single = withSettings({ documentLayout: "single" })
      const first = yield* run(docAt(T1)).pipe(single)
      expect(first).toMatchObject({ layout: "single", partsWritten: 0 })
      expect((yield* readBack).formatVersion).toBe(2)

      const second = yield* run(docAt(T2, { "proj-one.sales.orders": "split now" }))
      expect(second).toMatchObject({ layout: "split", partsWritten: 3, partsReused: 0 })
      expect((yield* readBack).document).toEqual(docAt(T2, { "proj-one.sales.orders": "split now" }))

      const third = yield* run(docAt(T3)).pipe(single)
      expect(third).toMatchObject({ layout: "single", partsWritten: 0 })
      const stored = yield* readBack
      expect(stored.formatVersion).toBe(2)
      expect(stored.manifest).toBeNull()
      expect(stored.document).toEqual(docAt(T3))
      // The split run's snapshot is retained: its parts stay for a rollback.
      expect(yield* partNames).toHaveLength(3)

      // Once that snapshot expires, its parts go.
      const fourth = yield* run(docAt(T4)).pipe(withSettings({ documentLayout: "single", historyKeep: 1 }))
      expect(fourth.pruned).toHaveLength(3)
      expect(fourth.prunedParts).toHaveLength(3)
      expect(yield* partNames).toEqual([])
    }).pipe(Effect.provide(bucket())))

  it("auto splits above SPLIT_ABOVE_TABLES tables", () => {
    expect(chooseLayout(testSettings({}), 2000)).toBe("single")
    expect(chooseLayout(testSettings({}), 2001)).toBe("split")
    expect(chooseLayout(testSettings({ documentLayout: "auto", splitAboveTables: 5 }), 6)).toBe("split")
    expect(chooseLayout(testSettings({ documentLayout: "auto", splitAboveTables: 6 }), 6)).toBe("single")
    expect(chooseLayout(testSettings({ documentLayout: "single", splitAboveTables: 0 }), 10_000)).toBe("single")
    expect(chooseLayout(testSettings({ documentLayout: "split" }), 1)).toBe("split")
  })

  it.effect("auto publishes a run over the threshold split, and PART_MAX_TABLES cuts a dataset", () =>
    Effect.gen(function*() {
      const published = yield* run(docAt(T1)).pipe(withSettings({ documentLayout: "auto", splitAboveTables: 5, partMaxTables: 1 }))
      expect(published).toMatchObject({ layout: "split", partsWritten: 6 })
      expect((yield* manifestOf).parts.map((p) => p.key)).toEqual([
        "proj-one.sales",
        "proj-one.web",
        "proj-one.ops",
        "proj-one.sales-2",
        "proj-one.web-2",
        "proj-one.ops-2"
      ])
      expect((yield* readBack).document).toEqual(docAt(T1))
    }).pipe(Effect.provide(bucket())))
})

describe("the split layout's settings", () => {
  const load = (env: Record<string, string>) =>
    loadSyncSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  const live = { GOOGLE_CLOUD_PROJECT: "nlq-ex", TARGET_TABLE_ID: "nlq-ex.test_dataset.events_20210131", GCS_BUCKET: "nlq-metadata-cache" }

  it.effect("auto above 2000 tables, parts of 500 tables, by default; each is read", () =>
    Effect.gen(function*() {
      expect(yield* load(live)).toMatchObject({ documentLayout: "auto", splitAboveTables: 2000, partMaxTables: 500 })
      expect(yield* load({ ...live, DOCUMENT_LAYOUT: "split", SPLIT_ABOVE_TABLES: "0", PART_MAX_TABLES: "50" })).toMatchObject({
        documentLayout: "split",
        splitAboveTables: 0,
        partMaxTables: 50
      })
      expect((yield* load({ ...live, DOCUMENT_LAYOUT: "single" })).documentLayout).toBe("single")
    }))

  it.effect.each<readonly [Record<string, string>, string]>([
    [{ ...live, DOCUMENT_LAYOUT: "manifest" }, "DOCUMENT_LAYOUT is \"manifest\": expected \"auto\" (the default: split above SPLIT_ABOVE_TABLES tables), \"single\" (one document object) or \"split\""],
    [{ ...live, SPLIT_ABOVE_TABLES: "-1" }, "SPLIT_ABOVE_TABLES is \"-1\": expected a number of tables from 0 (always split)"],
    [{ ...live, SPLIT_ABOVE_TABLES: "2k" }, "SPLIT_ABOVE_TABLES is \"2k\": expected a number of tables"],
    [{ ...live, PART_MAX_TABLES: "0" }, "PART_MAX_TABLES is \"0\": expected a whole number greater than 0"],
    [{ ...live, PART_MAX_TABLES: "1.5" }, "PART_MAX_TABLES is \"1.5\": expected a whole number greater than 0"],
    [{ ...live, CURATED_EXAMPLES_PREFIX: "parts/" }, "CURATED_EXAMPLES_PREFIX is \"parts/\": the prefix would take in the cache document (metadata_cache.json), its history or its parts"]
  ])("stops on a bad value, naming it: %j", ([env, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load(env))
      expect(error._tag).toBe("InvalidConfig")
      expect(error.message).toContain(message)
    }))
})


describe("reusing a part only when it is the same part, still stored as referenced", () => {
  const keyed = (manifest: CacheManifest, key: string) => manifest.parts.find((p) => p.key === key)!

  it.effect("rewrites a part whose content changed at the same size", () =>
    Effect.gen(function*() {
      yield* run(docAt(T1))
      const m1 = yield* manifestOf
      const second = yield* run(docAt(T2, { "proj-one.sales.orders": "the ORDERS table" }))
      const m2 = yield* manifestOf
      expect(keyed(m2, "proj-one.sales").bytes).toBe(keyed(m1, "proj-one.sales").bytes)
      expect(second.partsWritten).toBe(1)
      expect(objectOf(m2, "proj-one.sales")).not.toBe(objectOf(m1, "proj-one.sales"))
      expect(objectOf(m2, "proj-one.web")).toBe(objectOf(m1, "proj-one.web"))
      expect((yield* readBack).document.tables[0].description).toBe("the ORDERS table")
    }).pipe(Effect.provide(bucket())))

  it.effect("writes again a part that went missing, or was replaced, after the previous manifest was read", () =>
    Effect.gen(function*() {
      const storage = yield* StorageService
      yield* run(docAt(T1))
      const m1 = yield* manifestOf
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake(T2)))
      const previous = yield* readPublished(OBJECT)
      const web = keyed(m1, "proj-one.web")
      const ops = keyed(m1, "proj-one.ops")
      yield* storage.remove(web.object, { ifGenerationMatch: web.generation })
      // The same bytes written again: another generation than the manifest references.
      const opsBytes = Option.getOrThrow(yield* storage.read(ops.object)).bytes
      yield* storage.remove(ops.object, { ifGenerationMatch: ops.generation })
      yield* storage.write(ops.object, opsBytes, { contentType: "application/json", ifGenerationMatch: "0" })
      const second = yield* publishCache(docAt(T2), OBJECT, previous)
      expect(second.partsWritten).toBe(2)
      expect(second.partsReused).toBe(1)
      const m2 = yield* manifestOf
      expect(objectOf(m2, "proj-one.web")).not.toBe(web.object)
      expect(objectOf(m2, "proj-one.ops")).not.toBe(ops.object)
      expect(objectOf(m2, "proj-one.sales")).toBe(objectOf(m1, "proj-one.sales"))
      // Whole, every part at the generation its manifest names.
      expect((yield* readBack).document.tables.map((t) => t.table_id)).toEqual(TABLES)
    }).pipe(Effect.provide(bucket())))

  it.effect("holds a part to the cap as it is now: at the cap it is reused, one byte over it fails naming the part", () =>
    Effect.gen(function*() {
      // Long examples make the web part the largest object, the manifest included.
      yield* run(docAt(T1, {}, 20))
      const web = keyed(yield* manifestOf, "proj-one.web")
      const atCap = yield* run(docAt(T2, {}, 20)).pipe(withSettings({ maxDocumentBytes: web.bytes }))
      expect(atCap.partsReused).toBe(3)
      const over = yield* Effect.flip(run(docAt(T3, {}, 20)).pipe(withSettings({ maxDocumentBytes: web.bytes - 1 })))
      expect(over._tag).toBe("DocumentTooLarge")
      // The previous document's web part is over the cap too, so it is not read back for reuse.
      expect((over as DocumentTooLarge).part).toBe("proj-one.web")
      expect(over.message).toContain(`part proj-one.web of the split document`)
      expect(over.message).toContain(`has ${web.bytes} bytes, over MAX_DOCUMENT_BYTES (${web.bytes - 1})`)
    }).pipe(Effect.provide(bucket())))
})
