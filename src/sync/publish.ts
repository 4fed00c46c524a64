/**
 * Publish: write the document to storage without ever losing a better one.
 *
 * - The document is rendered through the codec first; an invalid document is never written.
 * - The write is conditional on the generation read just before, so two overlapping runs cannot
 *   both win; the loser fails with `PreconditionFailed`.
 * - A document generated later than ours that is already published is never replaced.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { type CacheDocument, parseCacheDocument, renderCacheDocument } from "../contract/CacheDocument.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { PreconditionFailed } from "../services/RemoteErrors.ts"
import { type ObjectContent, type ObjectInfo, StorageService } from "../services/Storage/StorageService.ts"
import { retryRemote } from "./RetryPolicy.ts"

export const DOCUMENT_CONTENT_TYPE = "application/json; charset=utf-8"

export interface Published {
  /** Where the document went: `gs://bucket/object` or a file path. */
  readonly location: string
  /** `null` when nothing was written (a dry run). */
  readonly generation: string | null
  readonly bytes: number
}

/** Renders and checks the document as `publishDocument` would, and writes nothing. */
export const dryRunPublish = (doc: CacheDocument, objectName: string) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const text = yield* renderCacheDocument(doc, location)
    return { location, generation: null, bytes: new TextEncoder().encode(text).byteLength } satisfies Published
  })

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((x, i) => x === b[i])

/** The document currently published, if it decodes; a corrupt one counts as absent but keeps its generation. */
export const readPublished = (objectName: string) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const current = yield* storage.read(objectName).pipe(retryRemote(settings))
    return Option.map(current, (content: ObjectContent) => ({
      info: content.info,
      document: Either.getRight(
        parseCacheDocument(new TextDecoder().decode(content.bytes), storage.locate(objectName))
      )
    }))
  })

export const publishDocument = (doc: CacheDocument, objectName: string) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const location = storage.locate(objectName)
    const bytes = new TextEncoder().encode(yield* renderCacheDocument(doc, location))

    const previous = yield* readPublished(objectName)
    if (Option.isSome(previous) && Option.isSome(previous.value.document)) {
      const published = previous.value.document.value
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
    }
    const ifGenerationMatch = Option.match(previous, { onNone: () => "0", onSome: (p) => p.info.generation })

    const written: ObjectInfo = yield* storage.write(objectName, bytes, {
      contentType: DOCUMENT_CONTENT_TYPE,
      ifGenerationMatch
    }).pipe(
      retryRemote(settings),
      // A retried write whose first attempt landed meets its own precondition: if the object now
      // holds exactly our bytes, the write succeeded.
      Effect.catchTag("PreconditionFailed", (conflict) =>
        storage.read(objectName).pipe(
          retryRemote(settings),
          Effect.flatMap((now) =>
            Option.isSome(now) && sameBytes(now.value.bytes, bytes)
              ? Effect.succeed(now.value.info)
              : Effect.fail(conflict)
          )
        ))
    )
    return { location, generation: written.generation, bytes: bytes.byteLength } satisfies Published
  }).pipe(Effect.withSpan("sync.publish"))
