/**
 * The operator's operations on a split cache (format 3), in-process on the in-memory bucket: the
 * document read whole through its manifest and parts, `show`'s layout, diff against a split
 * snapshot, the freshness check, and rollback to a split snapshot, refused while a part it
 * references is missing or replaced.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { type CacheDocument, makeCacheDocument, parseCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"
import { describeDrift } from "../../src/contract/Drift.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { checkFreshness, DEFAULT_MAX_AGE, diff, history, IncompleteSnapshot, readLatest, rollback } from "../../src/operations/Operations.ts"
import { formatShow } from "../../src/operations/report.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { historyPrefix } from "../../src/sync/history.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { storeSplit } from "../support/SplitStore.ts"
import { ga4Table, testLayer } from "../support/TestLayers.ts"

const OBJECT = "metadata_cache.json"
const START = DateTime.unsafeMake("2026-11-27T00:00:00Z")
const USERS = "nlq-ex.test_dataset.users"
const SESSIONS = "nlq-ex.web_dataset.sessions"
const SNAPSHOT = `${historyPrefix(OBJECT)}20261126T000000.000Z-0123456789ab.json`

const rendered = (doc: CacheDocument) => Either.getOrThrow(renderCacheDocument(doc))

const bytesOf = (name: string) =>
  Effect.flatMap(MemoryStorageControl, (bucket) => Effect.map(bucket.get(name), (c) => Option.getOrThrow(c).bytes))

/** The synced GA4 document grown to two datasets: a second table in its own, one in web's, with an example reading both. */
const grow = (doc: CacheDocument): CacheDocument => {
  const primary = doc.tables[0]
  const clone = (id: string) => ({ ...primary, table_id: TableId.make(id), description: id })
  return makeCacheDocument({
    ...doc,
    tables: [primary, clone(USERS), clone(SESSIONS)],
    examples: [...doc.examples, {
      question: "sessions per event",
      sql: `SELECT COUNT(*) FROM \`${SESSIONS}\``,
      tables: [TableId.make(SESSIONS), primary.table_id],
      source: "curated",
      generator: "curated",
      language: "en"
    }]
  })
}

/** A sync of the GA4 table (the latest document, format 2), and that document grown; nothing split yet. */
const syncedAndGrown = Effect.gen(function*() {
  yield* TestClock.setTime(DateTime.toEpochMillis(START))
  yield* (yield* MemoryBigQueryControl).putTable(ga4Table())
  yield* syncOnce()
  const published = Either.getOrThrow(parseCacheDocument(new TextDecoder().decode(yield* bytesOf(OBJECT))))
  return { published, grown: grow(published) }
})

describe("reading a split cache", () => {
  it.effect("gives the document that was split, and show says the layout and each part", () =>
    Effect.gen(function*() {
      const { grown } = yield* syncedAndGrown
      const manifest = yield* storeSplit(grown)
      const latest = yield* readLatest
      expect(rendered(latest.document)).toBe(rendered(grown))
      expect(latest.formatVersion).toBe(3)
      expect(latest.manifest?.parts.map((p) => p.key)).toEqual(["nlq-ex.test_dataset", "nlq-ex.web_dataset"])

      const text = formatShow(latest, START, DEFAULT_MAX_AGE)
      const total = manifest.parts.reduce((sum, p) => sum + p.bytes, 0)
      expect(text).toContain(`Format 3, written by metasync`)
      expect(text).toContain(`Layout: split, a manifest and 2 parts (${(total / 1024).toFixed(1)} KiB in parts)`)
      const [primary, web] = manifest.parts
      expect(text).toContain(
        `  nlq-ex.test_dataset  2 tables, ${primary.examples} examples, ${(primary.bytes / 1024).toFixed(1)} KiB, generation ${primary.generation}`
      )
      expect(text).toContain(`  nlq-ex.web_dataset   1 tables, 1 examples, ${(web.bytes / 1024).toFixed(1)} KiB, generation ${web.generation}`)
      expect(text).toContain("Tables: 3")
    }).pipe(Effect.provide(testLayer())))

  it.effect("show says a whole document is one", () =>
    Effect.gen(function*() {
      yield* syncedAndGrown
      const latest = yield* readLatest
      expect(latest.formatVersion).toBe(2)
      expect(latest.manifest).toBeNull()
      const text = formatShow(latest, START, DEFAULT_MAX_AGE)
      expect(text).toContain("Format 2, written by")
      expect(text).toContain("\nLayout: one document\n")
    }).pipe(Effect.provide(testLayer())))

  it.effect("the freshness check reads the manifest and stats each part, downloading none: it counts them, and fails naming a missing or replaced one", () =>
    Effect.gen(function*() {
      const { grown } = yield* syncedAndGrown
      const manifest = yield* storeSplit(grown)
      const bucket = yield* MemoryStorageControl
      const partObjects = manifest.parts.map((p) => p.object)
      const before = (yield* bucket.calls).length
      const freshness = yield* checkFreshness()
      expect(freshness).toMatchObject({ parts: 2, stale: false, future: false })
      const calls = (yield* bucket.calls).slice(before)
      // The manifest read, each part only stat'ed.
      expect(calls.filter((c) => c.operation === "read").map((c) => c.name)).toEqual([OBJECT])
      expect(calls.filter((c) => c.operation === "stat").map((c) => c.name).sort()).toEqual([...partObjects].sort())

      // Written again with the very same bytes: another generation, so not the part referenced.
      const [primary, web] = manifest.parts
      const replaced = yield* bucket.put(primary.object, yield* bytesOf(primary.object))
      const changed = yield* Effect.flip(checkFreshness())
      expect(changed._tag).toBe("CacheDocumentError")
      expect(changed.message).toContain(
        `part nlq-ex.test_dataset of the manifest generated at ${DateTime.formatIso(manifest.generated_at)} was replaced since: gs://test-bucket/${primary.object} is at generation ${replaced}, the manifest references generation ${primary.generation}`
      )

      const storage = yield* StorageService
      yield* storage.remove(web.object, { ifGenerationMatch: web.generation })
      const mark = (yield* bucket.calls).length
      const error = yield* Effect.flip(checkFreshness())
      expect(error._tag).toBe("ResourceNotFound")
      expect(error.message).toContain(`part nlq-ex.web_dataset of the manifest generated at`)
      expect(error.message).toContain(`gs://test-bucket/${web.object} does not exist`)
      // Every problem named, the replaced part too.
      expect(error.message).toContain(`part nlq-ex.test_dataset of the manifest generated at`)
      expect((yield* bucket.calls).slice(mark).filter((c) => c.operation === "read" && partObjects.includes(c.name))).toEqual([])
    }).pipe(Effect.provide(testLayer())))

  it.effect("diff compares a split snapshot with a whole latest document", () =>
    Effect.gen(function*() {
      const { grown } = yield* syncedAndGrown
      yield* storeSplit(grown, { objectName: SNAPSHOT, run: "snapshot" })
      expect((yield* history).map((s) => s.info.name)).toContain(SNAPSHOT)

      const result = yield* diff(SNAPSHOT.split("/").pop()!, "latest")
      expect(result.from.manifest?.parts).toHaveLength(2)
      expect(result.to.manifest).toBeNull()
      expect(describeDrift(result.drift)).toEqual(expect.arrayContaining([expect.stringContaining(SESSIONS), expect.stringContaining(USERS)]))
      expect(result.drift.total).toBeGreaterThan(0)
    }).pipe(Effect.provide(testLayer())))
})

describe("rollback to a split snapshot", () => {
  it.effect("copies the manifest over the latest when every part is there; the parts are shared", () =>
    Effect.gen(function*() {
      const { grown } = yield* syncedAndGrown
      const manifest = yield* storeSplit(grown, { objectName: SNAPSHOT, run: "snapshot" })
      const result = yield* rollback(SNAPSHOT.split("/").pop()!)
      expect(result.from.manifest).not.toBeNull()
      expect(yield* bytesOf(OBJECT)).toEqual(yield* bytesOf(SNAPSHOT))
      const latest = yield* readLatest
      expect(latest.info.generation).toBe(result.generation)
      expect(latest.manifest?.parts.map((p) => p.object)).toEqual(manifest.parts.map((p) => p.object))
      expect(rendered(latest.document)).toBe(rendered(grown))
    }).pipe(Effect.provide(testLayer())))

  it.effect("refuses, naming every part missing or replaced, and leaves the latest document as it was", () =>
    Effect.gen(function*() {
      const { grown } = yield* syncedAndGrown
      const manifest = yield* storeSplit(grown, { objectName: SNAPSHOT, run: "snapshot" })
      const before = yield* bytesOf(OBJECT)
      const [primary, web] = manifest.parts
      const storage = yield* StorageService
      yield* storage.remove(primary.object, { ifGenerationMatch: primary.generation })
      // Written again with the very same bytes: another generation, so not the part referenced.
      const bucket = yield* MemoryStorageControl
      const replaced = yield* bucket.put(web.object, yield* bytesOf(web.object))

      const error = yield* Effect.flip(rollback(SNAPSHOT))
      expect(error).toBeInstanceOf(IncompleteSnapshot)
      expect(error._tag).toBe("IncompleteSnapshot")
      expect(error.message).toBe(
        `gs://test-bucket/${SNAPSHOT} is a split manifest, and 2 of its 2 parts cannot be read as it references them: ` +
          `nlq-ex.test_dataset (gs://test-bucket/${primary.object}) does not exist; ` +
          `nlq-ex.web_dataset (gs://test-bucket/${web.object}) is at generation ${replaced}, not ${web.generation}; not rolled back`
      )
      expect(yield* bytesOf(OBJECT)).toEqual(before)
    }).pipe(Effect.provide(testLayer())))

  it.effect("refuses a snapshot that holds a part", () =>
    Effect.gen(function*() {
      const { grown } = yield* syncedAndGrown
      const manifest = yield* storeSplit(grown, { objectName: SNAPSHOT, run: "snapshot" })
      const before = yield* bytesOf(OBJECT)
      const bucket = yield* MemoryStorageControl
      yield* bucket.put(SNAPSHOT, yield* bytesOf(manifest.parts[0].object))
      const error = yield* Effect.flip(rollback(SNAPSHOT))
      expect(error._tag).toBe("CacheDocumentError")
      expect(error.message).toContain(`a part (nlq-ex.test_dataset) of a split document, not a snapshot of one; not rolled back`)
      expect(yield* bytesOf(OBJECT)).toEqual(before)
    }).pipe(Effect.provide(testLayer())))
})
