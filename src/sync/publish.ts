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
import { decodeDocumentBytes } from "../contract/DocumentBytes.ts"
import { isGeneratedInTheFuture } from "../contract/Limits.ts"
import { DEFAULT_MAX_DOCUMENT_BYTES, SyncConfig } from "../config/SyncConfig.ts"
import { PreconditionFailed, type RemoteRejected } from "../services/RemoteErrors.ts"
import { BODY_FAILED, type ObjectInfo, type StorageError, StorageService } from "../services/Storage/StorageService.ts"
import { pruneHistory, snapshotName, snapshotTag } from "./history.ts"
import { retryRemote } from "./RetryPolicy.ts"

export const DOCUMENT_CONTENT_TYPE = "application/json; charset=utf-8"

/** The rendered document is larger than `MAX_DOCUMENT_BYTES`; nothing was written. */
export class DocumentTooLarge extends Schema.TaggedError<DocumentTooLarge>()("DocumentTooLarge", {
  /** Where the document would have gone. */
  location: Schema.String,
  bytes: Schema.Number,
  max_bytes: Schema.Number
}) {
  override get message(): string {
    return `the document for ${this.location} has ${this.bytes} bytes, over MAX_DOCUMENT_BYTES (${this.max_bytes}); nothing was written (target fewer tables, or raise the cap if the backend can load it)`
  }
}

/** The document's chunks, rendered again at every call. */
type Render = () => Iterable<Uint8Array>

/**
 * Renders the document once, holding one chunk at a time: its size and, when asked, its MD5
 * (base64, as Cloud Storage reports it).
 */
const digestOf = (render: Render, source: string, withMd5 = true) =>
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
 * Streams the document into `write` (one storage write, retried as a whole), within the cap.
 * Vectors are optional: a document that fits only without them goes out without them, with a
 * warning; one that does not fit at all fails with `DocumentTooLarge`, its size measured by a
 * rendering that keeps nothing, and nothing is written.
 */
const streamWithinCap = <E, R>(
  doc: CacheDocument,
  location: string,
  write: (body: Render) => Effect.Effect<ObjectInfo, E | RemoteRejected, R>
): Effect.Effect<ObjectInfo, E | RemoteRejected | CacheDocumentError | DocumentTooLarge, R | SyncConfig> =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const maxBytes = settings.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES
    const render = yield* renderCacheDocumentChunks(doc, location)
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
    if (doc.embeddings !== null) {
      yield* Effect.logWarning(
        `the document has ${size} bytes with its vectors, over MAX_DOCUMENT_BYTES (${maxBytes}): published without them (lower EMBEDDING_MAX_VECTORS or EMBEDDING_DIMENSION)`
      )
      return yield* streamWithinCap({ ...doc, embeddings: null }, location, write)
    }
    return yield* new DocumentTooLarge({ location, bytes: size, max_bytes: maxBytes })
  })

/** Counts the document's bytes as `streamWithinCap` would write them, writing nothing. */
const measureWithinCap = (doc: CacheDocument, location: string): Effect.Effect<number, CacheDocumentError | DocumentTooLarge, SyncConfig> =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const maxBytes = settings.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES
    const { size } = yield* digestOf(yield* renderCacheDocumentChunks(doc, location), location, false)
    if (size <= maxBytes) return size
    if (doc.embeddings !== null) {
      yield* Effect.logWarning(
        `the document has ${size} bytes with its vectors, over MAX_DOCUMENT_BYTES (${maxBytes}): published without them (lower EMBEDDING_MAX_VECTORS or EMBEDDING_DIMENSION)`
      )
      return yield* measureWithinCap({ ...doc, embeddings: null }, location)
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
}

/** Renders and checks the document as `publishDocument` would, and writes nothing. */
export const dryRunPublish = (doc: CacheDocument, objectName: string, _previous?: Option.Option<PublishedObject>) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const bytes = yield* measureWithinCap(doc, location)
    return {
      location,
      generation: null,
      bytes,
      snapshot: null,
      pruned: [],
      replacedFutureDocument: null
    } satisfies Published
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
}

/**
 * The object published now, read as the start of a run. Its size is checked on a `stat` before
 * anything is downloaded: an object over `MAX_DOCUMENT_BYTES` is never downloaded, and is treated
 * as a corrupt one — no document, but its generation, so the publish still replaces only that
 * generation — with a warning naming its size and the cap.
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
    const tooLarge = (info: ObjectInfo) =>
      Effect.as(
        Effect.logWarning(
          `the published document ${location} (generation ${info.generation}) has ${info.size} bytes, over MAX_DOCUMENT_BYTES (${maxBytes}); not downloaded, and replaced as if corrupt (no drift, no stale entries kept from it)`
        ).pipe(Effect.annotateLogs({ object: location, generation: info.generation, bytes: info.size, max_bytes: maxBytes })),
        Option.some<PublishedObject>({ info, document: Option.none() })
      )

    const stat = yield* storage.stat(objectName).pipe(retryRemote(settings))
    if (Option.isNone(stat)) return Option.none()
    if (stat.value.size > maxBytes) return yield* tooLarge(stat.value)
    const current = yield* storage.read(objectName).pipe(retryRemote(settings))
    if (Option.isNone(current)) return Option.none()
    const content = current.value
    // It may have been replaced by a larger object since its stat.
    if (content.bytes.byteLength > maxBytes) return yield* tooLarge({ ...content.info, size: content.bytes.byteLength })
    return Option.some<PublishedObject>({
      info: content.info,
      // Decoded from the bytes a table at a time: the whole text never exists beside them.
      document: Either.getRight(Either.map(decodeDocumentBytes(content.bytes, location), (d) => d.document))
    })
  })

/**
 * Succeeds with the object's info when it already holds exactly the document (our own earlier
 * attempt landed, its reply lost): same size and MD5 when the store reports an MD5, else the
 * same bytes, read back. Anything else is the conflict it looked like.
 */
const alreadyWritten = (name: string, render: Render, location: string, conflict: PreconditionFailed) =>
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
 * Publishes `doc` over the object read as `previous` (read it with `readPublished`; none: the
 * object did not exist).
 */
export const publishDocument = (doc: CacheDocument, objectName: string, previous: Option.Option<PublishedObject>) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const location = storage.locate(objectName)

    let replacedFutureDocument: DateTime.Utc | null = null
    if (Option.isSome(previous) && Option.isSome(previous.value.document)) {
      const published = previous.value.document.value
      // Our own document is stamped with the clock's time: "the future" is measured from it.
      if (isGeneratedInTheFuture(published.generated_at, DateTime.toEpochMillis(doc.generated_at))) {
        replacedFutureDocument = published.generated_at
      } else if (DateTime.greaterThan(published.generated_at, doc.generated_at)) {
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
    }
    const ifGenerationMatch = Option.match(previous, { onNone: () => "0", onSome: (p) => p.info.generation })

    // The snapshot first (create-only): a write that goes wrong can only ever touch the new snapshot.
    const snapshot = snapshotName(objectName, doc.generated_at, yield* snapshotTag)
    let rendered: Render | undefined
    const snapshotInfo = yield* streamWithinCap(doc, location, (render) => {
      rendered = render
      return storage.write(snapshot, render, { contentType: DOCUMENT_CONTENT_TYPE, ifGenerationMatch: "0" }).pipe(
        retryRemote(settings),
        Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(snapshot, render, location, conflict))
      )
    })
    const render = rendered!
    // Then the latest object, replaced whole by a server-side copy, only if nobody published since we read it.
    const written: ObjectInfo = yield* storage.copy(snapshot, objectName, { ifGenerationMatch }).pipe(
      retryRemote(settings),
      Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(objectName, render, location, conflict)),
      // The snapshot never became the latest document (a lost race, or a failed copy): it leaves no trace.
      Effect.tapError(() => Effect.ignore(storage.remove(snapshot, { ifGenerationMatch: snapshotInfo.generation })))
    )
    const pruned = yield* pruneHistory(objectName, { keep: settings.historyKeep, maxAge: settings.historyMaxAge }).pipe(
      Effect.catchAll((error) => Effect.as(Effect.logWarning(`history pruning failed: ${error.message}`), []))
    )
    return {
      location,
      generation: written.generation,
      bytes: snapshotInfo.size,
      snapshot,
      pruned,
      replacedFutureDocument
    } satisfies Published
  }).pipe(Effect.withSpan("sync.publish"))
