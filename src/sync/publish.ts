/**
 * Publish: write the document to storage without ever losing a better one.
 *
 * - The document is streamed out: rendered through the codec a table or an example at a time,
 *   straight into the upload, so that its whole text or bytes never exist in memory. A retried
 *   upload renders it again from the start. A problem found while rendering (a table that does
 *   not encode, more bytes than `MAX_DOCUMENT_BYTES`) cuts the upload before its end, and storage
 *   creates no object from an incomplete upload: an invalid or oversized document is never written.
 * - It is written as a history snapshot, then copied over the latest object, conditional on the
 *   generation read just before, so two overlapping runs cannot both win; the loser fails with
 *   `PreconditionFailed`.
 * - A write whose reply was lost is recognised on retry by the object's MD5 and size against the
 *   document's, computed by rendering it once more (only then); a store that keeps no MD5 (the
 *   local directory) has its bytes compared instead.
 * - A document generated later than ours that is already published is never replaced, unless it
 *   claims to be generated in the future (beyond `MAX_FUTURE_SKEW`): no working sync wrote it, and
 *   kept, it would block every run for ever.
 * - A document over `maxDocumentBytes` is never written: the backend could not load it. A published
 *   one over it is never downloaded either; it is replaced as a corrupt one would be.
 * - A split document (`publishSplit.ts`) goes through the same path: its manifest is the object
 *   snapshotted and copied, and the cap holds for the manifest and for each part. The previous
 *   object may be of either layout; a manifest is read whole, with its parts.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import {
  type CacheDocument,
  CacheDocumentError,
  renderCacheDocumentChunks
} from "../contract/CacheDocument.ts"
import { isGeneratedInTheFuture } from "../contract/Limits.ts"
import type { CacheManifest } from "../contract/SplitDocument.ts"
import { DEFAULT_MAX_DOCUMENT_BYTES, SyncConfig, type SyncSettings } from "../config/SyncConfig.ts"
import { type Retry, storedDocumentOf } from "../loader/StoredDocument.ts"
import { PreconditionFailed, type RemoteRejected } from "../services/RemoteErrors.ts"
import { BODY_FAILED, type ObjectInfo, type StorageError, StorageService } from "../services/Storage/StorageService.ts"
import { partsPrefix, pruneHistory, pruneParts, snapshotName, snapshotTag } from "./history.ts"
import { retryRemote } from "./RetryPolicy.ts"

export const DOCUMENT_CONTENT_TYPE = "application/json; charset=utf-8"

/** The rendered document is larger than `MAX_DOCUMENT_BYTES`; nothing was written. */
export class DocumentTooLarge extends Schema.TaggedError<DocumentTooLarge>()("DocumentTooLarge", {
  /** Where the document would have gone. */
  location: Schema.String,
  bytes: Schema.Number,
  max_bytes: Schema.Number,
  /** The key of the split layout's part that is over the cap (at `location`); absent: the document or manifest. */
  part: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const what = this.part === undefined ? `the document for ${this.location}` : `part ${this.part} of the split document (${this.location})`
    const remedy = this.part === undefined
      ? "target fewer tables, or raise the cap if the backend can load it"
      : "lower PART_MAX_TABLES, or raise the cap if the backend can load it"
    return `${what} has ${this.bytes} bytes, over MAX_DOCUMENT_BYTES (${this.max_bytes}); nothing was written (${remedy})`
  }
}

/** The document's chunks, rendered again at every call. */
export type Render = () => Iterable<Uint8Array>

/**
 * What `streamWithinCap` writes: the object's chunks (or why it does not render), and, when its
 * vectors may be dropped to fit the cap, the same object without them.
 */
export interface Rendering {
  readonly render: Either.Either<Render, CacheDocumentError>
  readonly withoutVectors?: (() => Rendering) | undefined
}

/** A whole document (formats 1 and 2) to write. */
export const documentRendering = (doc: CacheDocument, location: string): Rendering => ({
  render: renderCacheDocumentChunks(doc, location),
  withoutVectors: doc.embeddings === null ? undefined : () => documentRendering({ ...doc, embeddings: null }, location)
})

/** The cap every object written is held to: `MAX_DOCUMENT_BYTES`. */
export const maxDocumentBytes = Effect.map(SyncConfig, (settings) => settings.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES)

const vectorsDropped = (size: number, maxBytes: number, location: string) =>
  Effect.logWarning(
    `the document has ${size} bytes with its vectors, over MAX_DOCUMENT_BYTES (${maxBytes}): published without them (lower EMBEDDING_MAX_VECTORS or EMBEDDING_DIMENSION)`
  ).pipe(Effect.annotateLogs({ object: location }))

/**
 * Renders the document once, holding one chunk at a time: its size and, when asked, its MD5
 * (base64, as Cloud Storage reports it).
 */
export const digestOf = (render: Render, source: string, withMd5 = true) =>
  Effect.try({
    try: () => {
      const md5 = withMd5 ? createHash("md5") : undefined
      let size = 0
      for (const chunk of render()) {
        size += chunk.byteLength
        md5?.update(chunk)
      }
      return { size, md5: md5?.digest("base64") }
    },
    catch: (error) =>
      error instanceof CacheDocumentError ? error : new CacheDocumentError({ source, problems: `- (document): ${String(error)}` })
  })

/** Why producing a body stopped: a document that does not encode, or one over the cap. */
type BodyProblem = CacheDocumentError | { readonly _tag: "OverCap" }

/**
 * The document as a storage body: chunks rendered as the upload takes them, counted against
 * `maxBytes`; producing them throws at the first problem, which is kept in `problem` (one per
 * attempt: every call starts over).
 */
const cappedBody = (render: Render, maxBytes: number) => {
  const state: { problem: BodyProblem | undefined } = { problem: undefined }
  const chunks = function*() {
    state.problem = undefined
    let bytes = 0
    try {
      for (const chunk of render()) {
        bytes += chunk.byteLength
        if (bytes > maxBytes) {
          state.problem = { _tag: "OverCap" }
          throw new Error(`the document is over MAX_DOCUMENT_BYTES (${maxBytes}): upload cut`)
        }
        yield chunk
      }
    } catch (error) {
      if (error instanceof CacheDocumentError) state.problem = error
      throw error
    }
  }
  return { chunks, state }
}

/**
 * Streams the object into `write` (one storage write, retried as a whole), within the cap.
 * Vectors are optional: an object that fits only without them goes out without them, with a
 * warning; one that does not fit at all fails with `DocumentTooLarge`, its size measured by a
 * rendering that keeps nothing, and nothing is written.
 */
export const streamWithinCap = <E, R>(
  rendering: Rendering,
  location: string,
  write: (body: Render) => Effect.Effect<ObjectInfo, E | RemoteRejected, R>
): Effect.Effect<ObjectInfo, E | RemoteRejected | CacheDocumentError | DocumentTooLarge, R | SyncConfig> =>
  Effect.gen(function*() {
    const maxBytes = yield* maxDocumentBytes
    const render = yield* rendering.render
    const body = cappedBody(render, maxBytes)
    const written = yield* Effect.either(write(body.chunks))
    if (Either.isRight(written)) return written.right
    const problem = body.state.problem
    const error = written.left as { readonly _tag?: string; readonly reason?: string }
    if (problem === undefined || error._tag !== "RemoteRejected" || error.reason !== BODY_FAILED) {
      return yield* Effect.fail(written.left)
    }
    if (problem._tag === "CacheDocumentError") return yield* problem
    const { size } = yield* digestOf(render, location, false)
    if (rendering.withoutVectors !== undefined) {
      yield* vectorsDropped(size, maxBytes, location)
      return yield* streamWithinCap(rendering.withoutVectors(), location, write)
    }
    return yield* new DocumentTooLarge({ location, bytes: size, max_bytes: maxBytes })
  })

/** Counts the object's bytes as `streamWithinCap` would write them, writing nothing. */
export const measureWithinCap = (rendering: Rendering, location: string): Effect.Effect<number, CacheDocumentError | DocumentTooLarge, SyncConfig> =>
  Effect.gen(function*() {
    const maxBytes = yield* maxDocumentBytes
    const { size } = yield* digestOf(yield* rendering.render, location, false)
    if (size <= maxBytes) return size
    if (rendering.withoutVectors !== undefined) {
      yield* vectorsDropped(size, maxBytes, location)
      return yield* measureWithinCap(rendering.withoutVectors(), location)
    }
    return yield* new DocumentTooLarge({ location, bytes: size, max_bytes: maxBytes })
  })

export interface Published {
  /** Where the document went: `gs://bucket/object` or a file path. */
  readonly location: string
  /** `null` when nothing was written (a dry run). */
  readonly generation: string | null
  readonly bytes: number
  /** The history snapshot written with it; `null` in a dry run. */
  readonly snapshot: string | null
  /** Snapshots removed by retention. */
  readonly pruned: ReadonlyArray<string>
  /** The `generated_at` of a document from the future that this one replaced; `null` when none was. */
  readonly replacedFutureDocument: DateTime.Utc | null
  /** `single`: one document object; `split`: a manifest (at `location`, of `bytes`) and its parts. */
  readonly layout: "single" | "split"
  /** Parts written by this run (a dry run: that it would write); 0 for a single document. */
  readonly partsWritten: number
  /** Parts of earlier runs that the manifest references unchanged. */
  readonly partsReused: number
  /** Parts removed because no kept manifest references them any more. */
  readonly prunedParts: ReadonlyArray<string>
}

/** What a dry run reports: nothing written; for a split document, the parts it would write and reuse. */
export const dryRunPublished = (
  location: string,
  bytes: number,
  parts?: { readonly written: number; readonly reused: number }
): Published => ({
  location,
  generation: null,
  bytes,
  snapshot: null,
  pruned: [],
  replacedFutureDocument: null,
  layout: parts === undefined ? "single" : "split",
  partsWritten: parts?.written ?? 0,
  partsReused: parts?.reused ?? 0,
  prunedParts: []
})

/** Renders and checks the document as `publishDocument` would, and writes nothing. */
export const dryRunPublish = (doc: CacheDocument, objectName: string, _previous?: Option.Option<PublishedObject>) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    return dryRunPublished(location, yield* measureWithinCap(documentRendering(doc, location), location))
  })

/** Whether `bytes` are exactly the chunks `render` produces (compared a chunk at a time). */
const sameBytes = (bytes: Uint8Array, render: Render) => {
  let offset = 0
  for (const chunk of render()) {
    if (offset + chunk.byteLength > bytes.byteLength) return false
    for (let i = 0; i < chunk.byteLength; i++) if (bytes[offset + i] !== chunk[i]) return false
    offset += chunk.byteLength
  }
  return offset === bytes.byteLength
}

/** The object currently published, and its document if it decodes (a corrupt one still has a generation). */
export interface PublishedObject {
  readonly info: ObjectInfo
  readonly document: Option.Option<CacheDocument>
  /**
   * A split document's parts, whose unchanged ones this run may reference again: the manifest's
   * part references and time, not the manifest itself, whose catalog (several MiB at 10,000 tables)
   * the joined document already says.
   */
  readonly parts: Option.Option<PreviousParts>
}

/** The parts a published manifest references, and when it was generated. */
export interface PreviousParts {
  readonly generatedAt: CacheManifest["generated_at"]
  readonly refs: CacheManifest["parts"]
}

/**
 * The object published now, read as the start of a run. Its size is checked on a `stat` before
 * anything is downloaded: an object over `MAX_DOCUMENT_BYTES` is never downloaded, and is treated
 * as a corrupt one — no document, but its generation, so the publish still replaces only that
 * generation — with a warning naming its size and the cap. A split document is read whole, its
 * parts checked against the manifest (each held to the cap too); one whose parts are missing,
 * replaced or broken is treated as a corrupt document, with a warning naming the problem.
 */
export const readPublished = (objectName: string): Effect.Effect<
  Option.Option<PublishedObject>,
  StorageError,
  SyncConfig | StorageService
> =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const maxBytes = settings.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES
    const corrupt = (info: ObjectInfo) => Option.some<PublishedObject>({ info, document: Option.none(), parts: Option.none() })
    const tooLarge = (info: ObjectInfo) =>
      Effect.as(
        Effect.logWarning(
          `the published document ${location} (generation ${info.generation}) has ${info.size} bytes, over MAX_DOCUMENT_BYTES (${maxBytes}); not downloaded, and replaced as if corrupt (no drift, no stale entries kept from it)`
        ).pipe(Effect.annotateLogs({ object: location, generation: info.generation, bytes: info.size, max_bytes: maxBytes })),
        corrupt(info)
      )

    const stat = yield* storage.stat(objectName).pipe(retryRemote(settings))
    if (Option.isNone(stat)) return Option.none()
    if (stat.value.size > maxBytes) return yield* tooLarge(stat.value)
    const current = yield* storage.read(objectName).pipe(retryRemote(settings))
    if (Option.isNone(current)) return Option.none()
    const content = current.value
    // It may have been replaced by a larger object since its stat.
    if (content.bytes.byteLength > maxBytes) return yield* tooLarge({ ...content.info, size: content.bytes.byteLength })
    // Decoded from the bytes a table at a time: the whole text never exists beside them.
    return yield* storedDocumentOf(content.bytes, content.info, location, { maxBytes, retry: retryPolicy(settings) }).pipe(
      Effect.map((stored) =>
        Option.some<PublishedObject>({
          info: content.info,
          document: Option.some(stored.document),
          parts: Option.map(Option.fromNullable(stored.manifest), (m) => ({ generatedAt: m.generated_at, refs: m.parts }))
        })
      ),
      // A document that does not decode, or a manifest whose parts cannot all be read and joined.
      Effect.catchTag("CacheDocumentError", (error) => Effect.as(unreadable(location, content.info, error.message), corrupt(content.info))),
      // Only a part can be missing here: the object itself was just read.
      Effect.catchTag("ResourceNotFound", (error) => Effect.as(unreadable(location, content.info, error.message), corrupt(content.info)))
    )
  })

/** The retry policy as `StoredDocument`'s readers take it (their calls fail only with tagged errors). */
export const retryPolicy = (settings: SyncSettings): Retry => (call) =>
  retryRemote(settings)(call as unknown as Effect.Effect<unknown, { readonly _tag: string }, unknown>) as unknown as typeof call

const unreadable = (location: string, info: ObjectInfo, problem: string) =>
  Effect.logWarning(
    `the published document ${location} (generation ${info.generation}) cannot be read: ${problem}; replaced as if corrupt (no drift, no stale entries kept from it)`
  ).pipe(Effect.annotateLogs({ object: location, generation: info.generation }))

/**
 * Succeeds with the object's info when it already holds exactly the document (our own earlier
 * attempt landed, its reply lost): same size and MD5 when the store reports an MD5, else the
 * same bytes, read back. Anything else is the conflict it looked like.
 */
export const alreadyWritten = (name: string, render: Render, location: string, conflict: PreconditionFailed) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const found = yield* storage.stat(name).pipe(retryRemote(settings))
    if (Option.isNone(found)) return yield* conflict
    const info = found.value
    if (info.md5 !== undefined) {
      const ours = yield* digestOf(render, location)
      return info.size === ours.size && info.md5 === ours.md5 ? info : yield* conflict
    }
    const now = yield* storage.read(name).pipe(retryRemote(settings))
    return Option.isSome(now) && sameBytes(now.value.bytes, render) ? now.value.info : yield* conflict
  })

/**
 * The future document `doc` replaces, if any; fails when a newer document than `doc` is published
 * (one claiming to be from the future does not count: see the module's comment).
 */
export const checkNotNewer = (doc: CacheDocument, previous: Option.Option<PublishedObject>, location: string) =>
  Effect.gen(function*() {
    if (Option.isNone(previous) || Option.isNone(previous.value.document)) return null
    const published = previous.value.document.value
    // Our own document is stamped with the clock's time: "the future" is measured from it.
    if (isGeneratedInTheFuture(published.generated_at, DateTime.toEpochMillis(doc.generated_at))) return published.generated_at
    if (DateTime.greaterThan(published.generated_at, doc.generated_at)) {
      return yield* new PreconditionFailed({
        service: "storage",
        operation: "objects.insert",
        resource: location,
        expected_generation: previous.value.info.generation,
        message: `a newer document (generated at ${
          DateTime.formatIso(published.generated_at)
        }) is already published; this run's document (generated at ${
          DateTime.formatIso(doc.generated_at)
        }) was not written`
      })
    }
    return null
  })

/** The generation the latest object is replaced under: the one read, or "0" (create) when there was none. */
export const generationToReplace = (previous: Option.Option<PublishedObject>) =>
  Option.match(previous, { onNone: () => "0", onSome: (p) => p.info.generation })

/**
 * Writes `rendering` as the history snapshot `snapshot` (create-only: a write that goes wrong can
 * only ever touch the new snapshot), then copies it over `objectName` server-side, only if its
 * generation is still `ifGenerationMatch`. A snapshot that never became the latest object is
 * removed. `onCopyFailure` sees every failed attempt of the copy (a transport failure leaves it
 * unknown whether the copy landed). `afterSnapshot` runs once the snapshot is written, before the
 * copy (a split manifest's part index); its failure fails the publish, and the snapshot is removed.
 */
export const snapshotThenCopy = <E = never, R = never>(input: {
  readonly rendering: Rendering
  readonly objectName: string
  readonly snapshot: string
  readonly ifGenerationMatch: string
  readonly onCopyFailure?: (error: StorageError | PreconditionFailed) => Effect.Effect<void>
  readonly afterSnapshot?: (snapshot: ObjectInfo) => Effect.Effect<void, E, R>
}) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const { objectName, snapshot } = input
    const location = storage.locate(objectName)
    let rendered: Render | undefined
    const snapshotInfo = yield* streamWithinCap(input.rendering, location, (render) => {
      rendered = render
      return storage.write(snapshot, render, { contentType: DOCUMENT_CONTENT_TYPE, ifGenerationMatch: "0" }).pipe(
        retryRemote(settings),
        Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(snapshot, render, location, conflict))
      )
    })
    const render = rendered!
    const removeSnapshot = Effect.ignore(storage.remove(snapshot, { ifGenerationMatch: snapshotInfo.generation }))
    if (input.afterSnapshot !== undefined) yield* Effect.tapError(input.afterSnapshot(snapshotInfo), () => removeSnapshot)
    const onCopyFailure = input.onCopyFailure ?? (() => Effect.void)
    // Then the latest object, replaced whole by a server-side copy, only if nobody published since we read it.
    const written: ObjectInfo = yield* storage.copy(snapshot, objectName, { ifGenerationMatch: input.ifGenerationMatch }).pipe(
      Effect.tapError(onCopyFailure),
      retryRemote(settings),
      Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(objectName, render, location, conflict)),
      // The snapshot never became the latest document (a lost race, or a failed copy): it leaves no trace.
      Effect.tapError(() => removeSnapshot)
    )
    return { snapshotInfo, written }
  })

/**
 * Retention after a publish: expired snapshots, then the parts no kept manifest references
 * (`keep`: the manifest just published, if any). A failure is a warning: the next run prunes again.
 */
export const pruneAfterPublish = (objectName: string, keep: ReadonlyArray<CacheManifest>, runAt: DateTime.Utc) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const warn = (what: string) => (error: { readonly message: string }) =>
      Effect.as(Effect.logWarning(`${what} failed: ${error.message}`), [] as ReadonlyArray<string>)
    const storage = yield* StorageService
    // The parts are listed while the history is pruned: a deployment without parts pays no round
    // trip for it. Which snapshots reference them is read after, from the history as pruned.
    const [pruned, parts] = yield* Effect.all([
      pruneHistory(objectName, { keep: settings.historyKeep, maxAge: settings.historyMaxAge }).pipe(
        Effect.catchAll(warn("history pruning"))
      ),
      Effect.either(storage.list(partsPrefix(objectName)))
    ], { concurrency: 2 })
    const prunedParts = yield* Either.match(parts, {
      onLeft: warn("part pruning"),
      onRight: (listed) => Effect.flatMap(maxDocumentBytes, (maxBytes) => pruneParts(objectName, { keep, runAt, maxBytes }, listed))
    }).pipe(Effect.catchAll(warn("part pruning")))
    return { pruned, prunedParts }
  })

/**
 * Publishes `doc` over the object read as `previous` (read it with `readPublished`; none: the
 * object did not exist).
 */
export const publishDocument = (doc: CacheDocument, objectName: string, previous: Option.Option<PublishedObject>) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const replacedFutureDocument = yield* checkNotNewer(doc, previous, location)
    const snapshot = snapshotName(objectName, doc.generated_at, yield* snapshotTag)
    const { snapshotInfo, written } = yield* snapshotThenCopy({
      rendering: documentRendering(doc, location),
      objectName,
      snapshot,
      ifGenerationMatch: generationToReplace(previous)
    })
    // A previous split document's parts stay while a retained snapshot references them.
    const { pruned, prunedParts } = yield* pruneAfterPublish(objectName, [], doc.generated_at)
    return {
      location,
      generation: written.generation,
      bytes: snapshotInfo.size,
      snapshot,
      pruned,
      replacedFutureDocument,
      layout: "single",
      partsWritten: 0,
      partsReused: 0,
      prunedParts
    } satisfies Published
  }).pipe(Effect.withSpan("sync.publish"))
