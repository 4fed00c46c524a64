/**
 * History: every published document is also kept as an immutable snapshot next to the latest one,
 * `history/<object name>/<generated at>-<tag>.json`, pruned by count and age. The tag, 12 random
 * hex digits drawn once per publish, keeps two documents stamped with the same time apart, and
 * every retry of that publish writes to the same name. (It was a digest of the bytes until the
 * document was streamed out: the name is sent before the bytes exist, and a digest would have
 * cost a second rendering of the whole document.) Older names with a digest still parse.
 *
 * Publishing writes the snapshot first and then copies it over the latest object server-side, so
 * the latest object is only ever replaced whole, under a generation precondition.
 *
 * A split document's parts live in `parts/<object name>/<generated at>-<tag>/<key>.json`, the
 * stamp and tag of the run that wrote them (those of its snapshot). A later run reuses unchanged
 * parts, so a manifest references parts of many runs: a part is removed only when neither the
 * latest manifest nor any retained snapshot's manifest references it.
 *
 * A split manifest's snapshot has a part index beside it, `history/<object name>/<generated
 * at>-<tag>.parts.json`: the parts (names and generations) that snapshot references and the
 * generation of the snapshot it describes. Pruning reads these instead of the manifests (one is
 * around 10 MB at 10,000 tables, the index a few KB). The name ends `.parts.json`, so it is never
 * taken for a snapshot (its stamp would end `.parts`), and it lives under `history/`, never under
 * `parts/`, so it is never taken for a part. It is written after its snapshot and before the copy,
 * create-only; it goes with its snapshot (expired, or a failed publish), and one whose snapshot is
 * gone is removed. A snapshot without one (written before indexes, or by hand), or whose index
 * names another generation of it, is read as a manifest, as before.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import { CacheDocumentError, formatIssues } from "../contract/DocumentError.ts"
import { parseDocumentBytes } from "../contract/DocumentBytes.ts"
import { type CacheManifest, PartRef } from "../contract/SplitDocument.ts"
import { type ObjectInfo, StorageService } from "../services/Storage/StorageService.ts"

/** Where the snapshots of `objectName` live. */
export const historyPrefix = (objectName: string) => `history/${objectName}/`

/** `2026-11-27T17:00:00.000Z` → `20261127T170000.000Z`: sortable, and safe in any file system. */
export const compactStamp = (at: DateTime.Utc) => DateTime.formatIso(at).replace(/[-:]/g, "")

/** The time a compact stamp stands for, if it is one. */
const stampTime = (stamp: string): DateTime.Utc | undefined => {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(stamp)
  if (match === null) return undefined
  const [, y, mo, d, h, mi, s, frac] = match
  return DateTime.make(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac ?? ""}Z`).pipe((o) =>
    o._tag === "Some" ? DateTime.toUtc(o.value) : undefined
  )
}

/** The name of the snapshot of the document generated at `generatedAt`, with `tag` (see `snapshotTag`). */
export const snapshotName = (objectName: string, generatedAt: DateTime.Utc, tag: string) =>
  `${historyPrefix(objectName)}${compactStamp(generatedAt)}-${tag}.json`

const hex6 = Effect.map(Random.nextIntBetween(0, 1 << 24), (n) => n.toString(16).padStart(6, "0"))

/** 12 hex digits (48 bits) from Effect's `Random`: drawn once per publish. */
export const snapshotTag: Effect.Effect<string> = Effect.map(Effect.zip(hex6, hex6), ([a, b]) => `${a}${b}`)

/** The generation time a snapshot's name carries, if it is one of ours. */
export const snapshotTime = (objectName: string, name: string): DateTime.Utc | undefined => {
  if (!name.startsWith(historyPrefix(objectName))) return undefined
  return stampTime(name.slice(historyPrefix(objectName).length).replace(/(-[0-9a-f]+)?\.json$/, ""))
}

export interface Snapshot {
  readonly info: ObjectInfo
  readonly generatedAt: DateTime.Utc
}

const INDEX_SUFFIX = ".parts.json"

/** The name of the part index of snapshot `snapshot` (a name `snapshotName` gives). */
export const partIndexName = (snapshot: string) => `${snapshot.replace(/\.json$/, "")}${INDEX_SUFFIX}`

/** The snapshot a part index is named after, if `name` is the name of one under `objectName`'s history. */
export const indexedSnapshot = (objectName: string, name: string): string | undefined => {
  if (!name.startsWith(historyPrefix(objectName)) || !name.endsWith(INDEX_SUFFIX)) return undefined
  const snapshot = `${name.slice(0, -INDEX_SUFFIX.length)}.json`
  return snapshotTime(objectName, snapshot) === undefined ? undefined : snapshot
}

/** What `objectName`'s history folder holds: its snapshots, oldest first, and the part indexes by snapshot name. */
const listHistory = (objectName: string) =>
  Effect.map(
    Effect.flatMap(StorageService, (storage) => storage.list(historyPrefix(objectName))),
    (objects) => {
      const indexes = new Map<string, ObjectInfo>()
      const snapshots: Array<Snapshot> = []
      for (const info of objects) {
        const generatedAt = snapshotTime(objectName, info.name)
        if (generatedAt !== undefined) snapshots.push({ info, generatedAt })
        const snapshot = indexedSnapshot(objectName, info.name)
        if (snapshot !== undefined) indexes.set(snapshot, info)
      }
      snapshots.sort((a, b) => DateTime.toEpochMillis(a.generatedAt) - DateTime.toEpochMillis(b.generatedAt))
      return { snapshots: snapshots as ReadonlyArray<Snapshot>, indexes: indexes as ReadonlyMap<string, ObjectInfo> }
    }
  )

/** Every snapshot of `objectName`, oldest first. */
export const listSnapshots = (objectName: string) => Effect.map(listHistory(objectName), (h) => h.snapshots)

export interface Retention {
  /** Snapshots kept at most. */
  readonly keep: number
  /** Snapshots older than this are removed. */
  readonly maxAge: Duration.Duration
}

/** Which snapshots retention removes: beyond the newest `keep`, or older than `maxAge`; never the newest. */
export const expiredSnapshots = (
  snapshots: ReadonlyArray<Snapshot>,
  retention: Retention,
  now: DateTime.Utc
): ReadonlyArray<Snapshot> => {
  const cutoff = DateTime.subtractDuration(now, retention.maxAge)
  const newestFirst = [...snapshots].reverse()
  return newestFirst.filter((snapshot, index) =>
    index > 0 && (index >= retention.keep || DateTime.lessThan(snapshot.generatedAt, cutoff))
  )
}

/**
 * Removes expired snapshots, then their part indexes and any index whose snapshot is gone (its
 * snapshot is always written first, so an index listed without one lost it); returns the names
 * of the snapshots removed.
 */
export const pruneHistory = (objectName: string, retention: Retention) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const now = yield* DateTime.now
    const { indexes, snapshots } = yield* listHistory(objectName)
    const expired = expiredSnapshots(snapshots, retention, now)
    yield* Effect.forEach(
      expired,
      (s) => storage.remove(s.info.name, { ifGenerationMatch: s.info.generation }),
      { concurrency: 4, discard: true }
    )
    const kept = new Set(snapshots.map((s) => s.info.name))
    for (const s of expired) kept.delete(s.info.name)
    const orphans = [...indexes].filter(([snapshot]) => !kept.has(snapshot)).map(([, info]) => info)
    yield* Effect.forEach(
      orphans,
      (info) =>
        storage.remove(info.name, { ifGenerationMatch: info.generation }).pipe(
          // Written again since it was listed (by hand): not the index we judged, so it stays.
          Effect.catchTag("PreconditionFailed", () => Effect.void)
        ),
      { concurrency: 4, discard: true }
    )
    return expired.map((s) => s.info.name)
  })

/** Where the parts of `objectName`'s split documents live, a folder per run. */
export const partsPrefix = (objectName: string) => `parts/${objectName}/`

/** The object name of part `key` written by the run stamped `generatedAt` with `tag` (its snapshot's). */
export const partName = (objectName: string, generatedAt: DateTime.Utc, tag: string, key: string) =>
  `${partsPrefix(objectName)}${compactStamp(generatedAt)}-${tag}/${key}.json`

/** The generation time of the run that wrote a part, from its folder's name, if it is one of ours. */
export const partRunTime = (objectName: string, name: string): DateTime.Utc | undefined => {
  if (!name.startsWith(partsPrefix(objectName))) return undefined
  const rest = name.slice(partsPrefix(objectName).length)
  const slash = rest.indexOf("/")
  if (slash < 0) return undefined
  const folder = /^(.+)-[0-9a-f]+$/.exec(rest.slice(0, slash))
  return folder === null ? undefined : stampTime(folder[1]!)
}

/** The bytes `"manifest"`: every manifest holds them (its `layout`); most documents do not. */
const MANIFEST_MARK = new TextEncoder().encode(`"manifest"`)

/**
 * The parts a snapshot's manifest references, or none when it holds a whole document. Only an
 * object holding `"manifest"` is parsed (a whole document can be large); one that says it is a
 * manifest but whose references do not decode fails, so that nothing is removed on a guess.
 */
const snapshotManifest = (snapshot: ObjectInfo, maxBytes: number | undefined) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const name = snapshot.name
    // Over the cap, it is no manifest a reader would load (none is ever written so): not downloaded.
    if (maxBytes !== undefined && snapshot.size > maxBytes) return Option.none<ManifestParts>()
    const content = yield* storage.read(name)
    // Removed meanwhile.
    if (Option.isNone(content)) return Option.none<ManifestParts>()
    const bytes = content.value.bytes
    if (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(MANIFEST_MARK) < 0) return Option.none<ManifestParts>()
    const json = parseDocumentBytes(bytes) ?? parseWhole(bytes)
    if (typeof json !== "object" || json === null || (json as { layout?: unknown }).layout !== "manifest") return Option.none<ManifestParts>()
    // Only its references are needed: the catalog (most of a manifest) is not decoded.
    const decoded = decodeManifestParts(json)
    if (Either.isLeft(decoded)) {
      return yield* new CacheDocumentError({
        source: storage.locate(name),
        problems: `- (object): a manifest whose parts do not decode, so what it references cannot be told; no part was removed\n${formatIssues(decoded.left)}`
      })
    }
    return Option.some(decoded.right)
  })

/** JSON the slicer leaves to the whole-text parser; `undefined` when it is not JSON at all. */
const parseWhole = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    return undefined
  }
}

/** What pruning reads of a manifest: its references. */
const ManifestParts = Schema.Struct({ format_version: Schema.Literal(3), layout: Schema.Literal("manifest"), parts: Schema.Array(PartRef) })
type ManifestParts = typeof ManifestParts.Type
const decodeManifestParts = Schema.decodeUnknownEither(ManifestParts, { errors: "all", onExcessProperty: "ignore" })

/** A part index as written: what one snapshot of a split manifest references. */
const PartIndex = Schema.Struct({
  format_version: Schema.Literal(3),
  layout: Schema.Literal("part_index"),
  /** The snapshot it describes, by name and generation: another generation is another object. */
  snapshot: Schema.String,
  snapshot_generation: Schema.String,
  parts: Schema.Array(Schema.Struct({ key: Schema.String, object: Schema.String, generation: Schema.String }))
})
const decodePartIndex = Schema.decodeUnknownEither(Schema.parseJson(PartIndex), { onExcessProperty: "ignore" })

/** The bytes of the part index of `snapshot` (as written, with its generation), which holds `manifest`. */
export const partIndexBytes = (snapshot: ObjectInfo, manifest: CacheManifest): Uint8Array =>
  new TextEncoder().encode(JSON.stringify({
    format_version: 3,
    layout: "part_index",
    snapshot: snapshot.name,
    snapshot_generation: snapshot.generation,
    parts: manifest.parts.map((ref) => ({ key: ref.key, object: ref.object, generation: ref.generation }))
  } satisfies typeof PartIndex.Encoded))

/**
 * The part objects `snapshot` references, from its index when it has one that describes this
 * very object; none when the index is missing, names another generation of the snapshot, or does
 * not decode (the caller reads the manifest then).
 */
const indexedParts = (snapshot: ObjectInfo, index: ObjectInfo | undefined) =>
  Effect.gen(function*() {
    if (index === undefined) return Option.none<ReadonlyArray<string>>()
    const storage = yield* StorageService
    const content = yield* storage.read(index.name)
    if (Option.isNone(content)) return Option.none<ReadonlyArray<string>>()
    const decoded = decodePartIndex(new TextDecoder().decode(content.value.bytes))
    if (Either.isLeft(decoded)) {
      yield* Effect.logWarning(`the part index ${storage.locate(index.name)} does not decode; its snapshot's manifest is read instead`)
      return Option.none<ReadonlyArray<string>>()
    }
    const found = decoded.right
    if (found.snapshot !== snapshot.name || found.snapshot_generation !== snapshot.generation) return Option.none<ReadonlyArray<string>>()
    return Option.some(found.parts.map((p) => p.object))
  })

export interface PartRetention {
  /** Manifests whose parts are kept whatever the snapshots say: the one just published. */
  readonly keep: ReadonlyArray<CacheManifest>
  /** This run's `generated_at`: parts of a run stamped later are spared (it may still be publishing). */
  readonly runAt: DateTime.Utc
  /** Snapshots larger than this are not read: no manifest is (`MAX_DOCUMENT_BYTES`). */
  readonly maxBytes?: number | undefined
}

/**
 * Removes the parts no kept manifest references: run after `pruneHistory`, the kept manifests
 * are `retention.keep` and every retained snapshot that is a manifest (its references read from
 * its part index, or from the snapshot itself when it has none). A part whose run is stamped
 * later than `retention.runAt`, or whose name is not one of ours, is never removed; each removal
 * is conditional on the generation listed. Returns the names removed.
 */
export const pruneParts = (objectName: string, retention: PartRetention, listed?: ReadonlyArray<ObjectInfo>) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    // Listed by the caller when it could list them beside other work (see `pruneAfterPublish`).
    const parts = listed ?? (yield* storage.list(partsPrefix(objectName)))
    // No parts (a single-layout deployment): no snapshot needs reading.
    if (parts.length === 0) return []
    const referenced = new Set<string>()
    for (const manifest of retention.keep) for (const ref of manifest.parts) referenced.add(ref.object)
    const { indexes, snapshots } = yield* listHistory(objectName)
    // Indexes are small: read several at once.
    const fromIndexes = yield* Effect.forEach(
      snapshots,
      (snapshot) => Effect.map(indexedParts(snapshot.info, indexes.get(snapshot.info.name)), (objects) => ({ snapshot, objects })),
      { concurrency: 8 }
    )
    // The others one at a time: a whole document's snapshot may be large.
    for (const { objects, snapshot } of fromIndexes) {
      if (Option.isSome(objects)) {
        for (const object of objects.value) referenced.add(object)
        continue
      }
      const manifest = yield* snapshotManifest(snapshot.info, retention.maxBytes)
      if (Option.isSome(manifest)) for (const ref of manifest.value.parts) referenced.add(ref.object)
    }
    const unreferenced = parts.filter((info) => {
      if (referenced.has(info.name)) return false
      const runAt = partRunTime(objectName, info.name)
      return runAt !== undefined && !DateTime.greaterThan(runAt, retention.runAt)
    })
    const removed = yield* Effect.forEach(
      unreferenced,
      (info) =>
        storage.remove(info.name, { ifGenerationMatch: info.generation }).pipe(
          Effect.as([info.name]),
          // Written again since it was listed: not the part we judged, so it stays.
          Effect.catchTag("PreconditionFailed", () => Effect.succeed([]))
        ),
      { concurrency: 4 }
    )
    return removed.flat()
  })
