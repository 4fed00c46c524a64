/**
 * Publishing in the split layout (format 3, `contract/SplitDocument.ts`): parts first, then the
 * manifest that references them, through the same snapshot-then-copy path as a whole document
 * (`publish.ts`), with the same promises.
 *
 * - A part with a previous one of the same key is rendered once (a chunk at a time) to compare
 *   size and MD5: equal, and its object still at the generation referenced, it is reused as it is,
 *   so a run that changed 1 % of the tables writes only the parts of their datasets.
 * - A new part is written create-only under `parts/<object>/<stamp>-<tag>/<key>.json`, the stamp
 *   and tag of the run's snapshot, streamed and retried, its size and MD5 taken as it streams; a
 *   write whose reply was lost is recognised.
 * - Every object (the manifest and each part) is held to `MAX_DOCUMENT_BYTES`: a part over it fails
 *   the run, naming the part, before any manifest is written.
 * - A run that does not publish its manifest removes the parts it wrote (never the reused ones), so
 *   it leaves no trace, unless its copy may have landed (a transport failure): then they stay, and
 *   a later run's pruning removes them once no manifest references them.
 *
 * Why a part keeps the `generated_at` of the run that wrote it: a part's bytes must not change
 * when its tables did not, or no part would ever be reused. That time is its folder's stamp.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import {
  type CacheManifest,
  makeManifest,
  makePart,
  type PartRef,
  type PlannedPart,
  planParts,
  renderManifestChunks,
  renderPartChunks,
  type SplitPlan,
  type StoredPart
} from "../contract/SplitDocument.ts"
import { DEFAULT_MAX_PART_TABLES, DEFAULT_SPLIT_ABOVE_TABLES, SyncConfig, type SyncSettings } from "../config/SyncConfig.ts"
import { type ObjectInfo, StorageService } from "../services/Storage/StorageService.ts"
import { partIndexBytes, partIndexName, partName, partRunTime, snapshotName, snapshotTag } from "./history.ts"
import {
  alreadyWritten,
  checkNotNewer,
  digestOf,
  DOCUMENT_CONTENT_TYPE,
  DocumentTooLarge,
  dryRunPublish,
  dryRunPublished,
  generationToReplace,
  maxDocumentBytes,
  measureWithinCap,
  type PreviousParts,
  type Published,
  type PublishedObject,
  publishDocument,
  pruneAfterPublish,
  type Rendering,
  snapshotThenCopy,
  streamWithinCap
} from "./publish.ts"
import { retryRemote } from "./RetryPolicy.ts"

/** Parts written (or measured) at once. */
export const PART_CONCURRENCY = 4

/** A manifest's rendering: without vectors when only that fits (the parts never hold any). */
export const manifestRendering = (manifest: CacheManifest, location: string): Rendering => ({
  render: renderManifestChunks(manifest, location),
  withoutVectors: manifest.embeddings === null ? undefined : () => manifestRendering({ ...manifest, embeddings: null }, location)
})

/** The layout a document of `tables` tables is published in, by `DOCUMENT_LAYOUT`. */
export const chooseLayout = (settings: SyncSettings, tables: number): "single" | "split" => {
  const layout = settings.documentLayout ?? "auto"
  if (layout !== "auto") return layout
  return tables > (settings.splitAboveTables ?? DEFAULT_SPLIT_ABOVE_TABLES) ? "split" : "single"
}

/** What became of one planned part. */
interface PartOutcome {
  readonly stored: StoredPart
  /** Written by this run (not reused). */
  readonly written: boolean
}

/** The previous manifest's parts by key, when the previous object is a split document read whole. */
const previousParts = (previous: Option.Option<PublishedObject>): ReadonlyMap<string, PreviousPart> => {
  const parts = Option.flatMap(previous, (p) => p.parts)
  if (Option.isNone(parts)) return new Map()
  return new Map(parts.value.refs.map((ref) => [ref.key, { ref, generatedAt: parts.value.generatedAt }] as const))
}

/** A previous part, and when its manifest was generated. */
interface PreviousPart {
  readonly ref: PartRef
  readonly generatedAt: PreviousParts["generatedAt"]
}

/**
 * The previous part of the same key, when it is exactly `planned` as that run rendered it (same
 * size and MD5, rendered with that run's time) and its object is still the generation referenced.
 */
const reusablePart = (
  objectName: string,
  planned: PlannedPart,
  previous: PreviousPart | undefined
) =>
  Effect.gen(function*() {
    if (previous === undefined || previous.ref.md5 === null) return Option.none<StoredPart>()
    const { ref } = previous
    // Other counts: changed, no rendering needed to tell.
    if (ref.tables !== planned.tables.length || ref.examples !== planned.examples.length) return Option.none<StoredPart>()
    const storage = yield* StorageService
    const settings = yield* SyncConfig
    // A part's time is its run's: the folder's stamp (the manifest's time for names not of ours).
    const writtenAt = partRunTime(objectName, ref.object) ?? previous.generatedAt
    const location = storage.locate(ref.object)
    const render = yield* renderPartChunks(makePart(planned, writtenAt), location)
    const digest = yield* digestOf(render, location)
    if (digest.size !== ref.bytes || digest.md5 !== ref.md5) return Option.none<StoredPart>()
    const found = yield* storage.stat(ref.object).pipe(retryRemote(settings))
    if (Option.isNone(found) || found.value.generation !== ref.generation) return Option.none<StoredPart>()
    if (found.value.md5 !== undefined && found.value.md5 !== ref.md5) return Option.none<StoredPart>()
    return Option.some<StoredPart>({ object: ref.object, generation: ref.generation, bytes: ref.bytes, md5: ref.md5 })
  })

/**
 * One part: reused when unchanged, else written (or, in a dry run, measured). Over the cap, it
 * fails with `DocumentTooLarge` naming where it would have gone. `onWritten` learns of every part
 * written, as soon as it is.
 */
const storePart = (input: {
  readonly doc: CacheDocument
  readonly objectName: string
  readonly tag: string
  readonly planned: PlannedPart
  readonly previous: PreviousPart | undefined
  readonly dryRun: boolean
  readonly onWritten: (info: ObjectInfo) => void
}) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const settings = yield* SyncConfig
    const maxBytes = yield* maxDocumentBytes
    const { doc, objectName, planned } = input
    const reused = yield* reusablePart(objectName, planned, input.previous)
    if (Option.isSome(reused)) {
      const { bytes, object } = reused.value
      // A cap lowered since it was written: the backend would refuse the part.
      if (bytes > maxBytes) return yield* new DocumentTooLarge({ location: storage.locate(object), bytes, max_bytes: maxBytes, part: planned.key })
      return { stored: reused.value, written: false } satisfies PartOutcome
    }
    const name = partName(objectName, doc.generated_at, input.tag, planned.key)
    const location = storage.locate(name)
    const render = yield* renderPartChunks(makePart(planned, doc.generated_at), location)
    if (input.dryRun) {
      const { md5, size } = yield* digestOf(render, location)
      if (size > maxBytes) return yield* new DocumentTooLarge({ location, bytes: size, max_bytes: maxBytes, part: planned.key })
      return { stored: { object: name, bytes: size, md5: md5 ?? null, generation: DRY_RUN_GENERATION }, written: true } satisfies PartOutcome
    }
    // Size and MD5 are taken on the way out, as the upload streams the part (each attempt, or a
    // lost reply's check, renders it whole and starts them over), not by a rendering of their own.
    const digest = { md5: createHash("md5"), size: 0 }
    const hashed = function*() {
      digest.md5 = createHash("md5")
      digest.size = 0
      for (const chunk of render()) {
        digest.md5.update(chunk)
        digest.size += chunk.byteLength
        yield chunk
      }
    }
    const info = yield* streamWithinCap({ render: Either.right(hashed) }, location, (body) =>
      storage.write(name, body, { contentType: DOCUMENT_CONTENT_TYPE, ifGenerationMatch: "0" }).pipe(
        retryRemote(settings),
        Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(name, body, location, conflict))
      )).pipe(Effect.catchTag("DocumentTooLarge", (e) => new DocumentTooLarge({ location: e.location, bytes: e.bytes, max_bytes: e.max_bytes, part: planned.key })))
    input.onWritten(info)
    const stored = { object: name, bytes: digest.size, md5: digest.md5.digest("base64"), generation: info.generation }
    return { stored, written: true } satisfies PartOutcome
  })

/** The generation a dry run's manifest is measured with: as long as Cloud Storage's (16 digits). */
const DRY_RUN_GENERATION = "1000000000000000"

/** Every part of `plan`, in order, `PART_CONCURRENCY` at a time. */
const storeParts = (
  doc: CacheDocument,
  objectName: string,
  tag: string,
  plan: SplitPlan,
  previous: Option.Option<PublishedObject>,
  dryRun: boolean,
  onWritten: (info: ObjectInfo) => void
) => {
  const before = previousParts(previous)
  return Effect.forEach(
    plan.parts,
    (planned) => storePart({ doc, objectName, tag, planned, previous: before.get(planned.key), dryRun, onWritten }),
    { concurrency: PART_CONCURRENCY }
  )
}

const settingsPartMax = Effect.map(SyncConfig, (settings) => settings.partMaxTables ?? DEFAULT_MAX_PART_TABLES)

/** Removes parts this run wrote, each only at the generation it wrote; best effort. */
const removeParts = (written: ReadonlyArray<ObjectInfo>) =>
  Effect.flatMap(StorageService, (storage) =>
    Effect.forEach(
      written,
      (info) => Effect.ignore(storage.remove(info.name, { ifGenerationMatch: info.generation })),
      { concurrency: PART_CONCURRENCY, discard: true }
    ))

/** Writes the part index of `snapshot` (holding `manifest`), create-only; a write whose reply was lost is recognised. */
const writePartIndex = (snapshot: ObjectInfo, manifest: CacheManifest) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const settings = yield* SyncConfig
    const name = partIndexName(snapshot.name)
    const bytes = partIndexBytes(snapshot, manifest)
    const render = () => [bytes]
    return yield* storage.write(name, render, { contentType: DOCUMENT_CONTENT_TYPE, ifGenerationMatch: "0" }).pipe(
      retryRemote(settings),
      Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(name, render, storage.locate(name), conflict))
    )
  })

/**
 * Publishes `doc` as a manifest and its parts over the object read as `previous` (read it with
 * `readPublished`); the previous object may be of either layout.
 */
export const publishSplitDocument = (doc: CacheDocument, objectName: string, previous: Option.Option<PublishedObject>) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const replacedFutureDocument = yield* checkNotNewer(doc, previous, location)
    const tag = yield* snapshotTag
    const snapshot = snapshotName(objectName, doc.generated_at, tag)
    const plan = planParts(doc, yield* settingsPartMax)

    const written: Array<ObjectInfo> = []
    let index: ObjectInfo | undefined
    // Once a copy attempt failed in transit, it may have landed: the parts stay referenced then.
    let copyMayHaveLanded = false
    const published = yield* Effect.gen(function*() {
      const parts = yield* storeParts(doc, objectName, tag, plan, previous, false, (info) => written.push(info))
      const manifest = makeManifest(doc, plan, parts.map((p) => p.stored))
      const { snapshotInfo, written: latest } = yield* snapshotThenCopy({
        rendering: manifestRendering(manifest, location),
        objectName,
        snapshot,
        ifGenerationMatch: generationToReplace(previous),
        afterSnapshot: (snapshotInfo) => Effect.map(writePartIndex(snapshotInfo, manifest), (info) => {
          index = info
        }),
        onCopyFailure: (error) => Effect.sync(() => {
          if (error._tag !== "PreconditionFailed") copyMayHaveLanded = true
        })
      })
      return { parts, manifest, snapshotInfo, latest }
    }).pipe(
      Effect.onExit((exit) => {
        if (exit._tag === "Success") return Effect.void
        // Its snapshot was removed (whatever became of the copy): the index goes with it.
        const removeIndex = index === undefined
          ? Effect.void
          : Effect.ignore(Effect.flatMap(StorageService, (s) => s.remove(index!.name, { ifGenerationMatch: index!.generation })))
        return Effect.zipRight(
          removeIndex,
          copyMayHaveLanded
            ? Effect.logWarning(
              `the manifest's copy over ${location} failed in transit and may have landed: the ${written.length} parts this run wrote are kept (pruning removes them once no manifest references them)`
            )
            : removeParts(written)
        )
      })
    )
    const { pruned, prunedParts } = yield* pruneAfterPublish(objectName, [published.manifest], doc.generated_at)
    const partsWritten = published.parts.filter((p) => p.written).length
    return {
      location,
      generation: published.latest.generation,
      bytes: published.snapshotInfo.size,
      snapshot,
      pruned,
      replacedFutureDocument,
      layout: "split",
      partsWritten,
      partsReused: published.parts.length - partsWritten,
      prunedParts
    } satisfies Published
  }).pipe(Effect.withSpan("sync.publishSplit"))

/** Measures every part and the manifest against the cap as `publishSplitDocument` would; writes nothing. */
export const dryRunSplit = (doc: CacheDocument, objectName: string, previous: Option.Option<PublishedObject> = Option.none()) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const plan = planParts(doc, yield* settingsPartMax)
    const parts = yield* storeParts(doc, objectName, "000000000000", plan, previous, true, () => {})
    const manifest = makeManifest(doc, plan, parts.map((p) => p.stored))
    const bytes = yield* measureWithinCap(manifestRendering(manifest, location), location)
    const written = parts.filter((p) => p.written).length
    return dryRunPublished(location, bytes, { written, reused: parts.length - written })
  })

type Publishing<F extends (...args: ReadonlyArray<any>) => Effect.Effect<Published, any, any>> = Effect.Effect<
  Published,
  Effect.Effect.Error<ReturnType<F>>,
  Effect.Effect.Context<ReturnType<F>>
>

/** Publishes `doc` in the layout `DOCUMENT_LAYOUT` chooses for it. */
export const publishCache = (
  doc: CacheDocument,
  objectName: string,
  previous: Option.Option<PublishedObject>
): Publishing<typeof publishSplitDocument | typeof publishDocument> =>
  Effect.flatMap(SyncConfig, (settings): Publishing<typeof publishSplitDocument | typeof publishDocument> =>
    chooseLayout(settings, doc.tables.length) === "split"
      ? publishSplitDocument(doc, objectName, previous)
      : publishDocument(doc, objectName, previous))

/** What `publishCache` would publish, measured; nothing is written. */
export const dryRunCache = (
  doc: CacheDocument,
  objectName: string,
  previous: Option.Option<PublishedObject> = Option.none()
): Publishing<typeof dryRunSplit | typeof dryRunPublish> =>
  Effect.flatMap(SyncConfig, (settings): Publishing<typeof dryRunSplit | typeof dryRunPublish> =>
    chooseLayout(settings, doc.tables.length) === "split"
      ? dryRunSplit(doc, objectName, previous)
      : dryRunPublish(doc, objectName, previous))
