/**
 * Publish: write the document to storage without ever losing a better one.
 *
 * - The document is rendered through the codec first; an invalid document is never written.
 * - It is written as a history snapshot, then copied over the latest object, conditional on the
 *   generation read just before, so two overlapping runs cannot both win; the loser fails with
 *   `PreconditionFailed`.
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
import { type CacheDocument, type CacheDocumentError, parseCacheDocument, renderCacheDocumentBytes } from "../contract/CacheDocument.ts"
import { isGeneratedInTheFuture } from "../contract/Limits.ts"
import { DEFAULT_MAX_DOCUMENT_BYTES, SyncConfig } from "../config/SyncConfig.ts"
import { PreconditionFailed } from "../services/RemoteErrors.ts"
import {
  type ObjectContent,
  type ObjectInfo,
  type StorageError,
  StorageService
} from "../services/Storage/StorageService.ts"
import { pruneHistory, snapshotName } from "./history.ts"
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

/**
 * The document as bytes, within the configured cap. Vectors are optional: a document that fits
 * only without them goes out without them, with a warning.
 */
const renderWithinCap = (doc: CacheDocument, location: string): Effect.Effect<Uint8Array, CacheDocumentError | DocumentTooLarge, SyncConfig> =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const bytes = yield* renderCacheDocumentBytes(doc, location)
    const maxBytes = settings.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES
    if (bytes.byteLength > maxBytes) {
      if (doc.embeddings !== null) {
        yield* Effect.logWarning(
          `the document has ${bytes.byteLength} bytes with its vectors, over MAX_DOCUMENT_BYTES (${maxBytes}): published without them (lower EMBEDDING_MAX_VECTORS or EMBEDDING_DIMENSION)`
        )
        return yield* renderWithinCap({ ...doc, embeddings: null }, location)
      }
      return yield* new DocumentTooLarge({ location, bytes: bytes.byteLength, max_bytes: maxBytes })
    }
    return bytes
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
    const bytes = yield* renderWithinCap(doc, location)
    return {
      location,
      generation: null,
      bytes: bytes.byteLength,
      snapshot: null,
      pruned: [],
      replacedFutureDocument: null
    } satisfies Published
  })

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i])

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
      document: Either.getRight(parseCacheDocument(new TextDecoder().decode(content.bytes), location))
    })
  })

/** Succeeds with the object's info when it already holds exactly `bytes` (our own earlier attempt landed). */
const alreadyWritten = (name: string, bytes: Uint8Array, conflict: PreconditionFailed) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const now = yield* storage.read(name).pipe(retryRemote(settings))
    return Option.isSome(now) && sameBytes(now.value.bytes, bytes) ? now.value.info : yield* conflict
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
    const bytes = yield* renderWithinCap(doc, location)

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
    const snapshot = snapshotName(objectName, doc.generated_at, bytes)
    const snapshotInfo = yield* storage.write(snapshot, bytes, { contentType: DOCUMENT_CONTENT_TYPE, ifGenerationMatch: "0" }).pipe(
      retryRemote(settings),
      Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(snapshot, bytes, conflict))
    )
    // Then the latest object, replaced whole by a server-side copy, only if nobody published since we read it.
    const written: ObjectInfo = yield* storage.copy(snapshot, objectName, { ifGenerationMatch }).pipe(
      retryRemote(settings),
      Effect.catchTag("PreconditionFailed", (conflict) => alreadyWritten(objectName, bytes, conflict)),
      // The snapshot never became the latest document (a lost race, or a failed copy): it leaves no trace.
      Effect.tapError(() => Effect.ignore(storage.remove(snapshot, { ifGenerationMatch: snapshotInfo.generation })))
    )
    const pruned = yield* pruneHistory(objectName, { keep: settings.historyKeep, maxAge: settings.historyMaxAge }).pipe(
      Effect.catchAll((error) => Effect.as(Effect.logWarning(`history pruning failed: ${error.message}`), []))
    )
    return {
      location,
      generation: written.generation,
      bytes: bytes.byteLength,
      snapshot,
      pruned,
      replacedFutureDocument
    } satisfies Published
  }).pipe(Effect.withSpan("sync.publish"))
