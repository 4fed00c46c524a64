/**
 * The cache as stored, whichever its layout: one document object (formats 1 and 2), or a split
 * layout's manifest whose parts live in objects of their own (format 3, `SplitDocument.ts`).
 *
 * Shared by everything that reads a published cache: the sync (the previous document), the
 * operator's commands, and the loader (which fetches parts one at a time, on demand).
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { CacheDocumentError } from "../contract/DocumentError.ts"
import { decodeStoredBytes } from "../contract/DocumentBytes.ts"
import { type CacheManifest, type CachePart, joinDocument } from "../contract/SplitDocument.ts"
import { ResourceNotFound } from "../services/RemoteErrors.ts"
import { type ObjectInfo, type StorageError, StorageService } from "../services/Storage/StorageService.ts"

/** Wraps each storage call (the sync retries them by its policy; the loader as it is). */
export type Retry = <A, E, R>(call: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
const asIs: Retry = (call) => call

export interface ReadOptions {
  /** An object larger than this is refused unread (default: no cap). */
  readonly maxBytes?: number | undefined
  readonly retry?: Retry | undefined
  /** Parts fetched at once when a whole split document is read; default 8. */
  readonly concurrency?: number | undefined
}

/** A published cache read whole: the document, and for a split one its manifest. */
export interface StoredDocument {
  /** The object at the name read: the document, or the manifest. */
  readonly info: ObjectInfo
  readonly document: CacheDocument
  /** As written: 1, 2 or 3 (split). */
  readonly formatVersion: number
  /** The manifest, for a split document; `null` for one whole document. */
  readonly manifest: CacheManifest | null
}

const overCap = (location: string, size: number, maxBytes: number) =>
  new CacheDocumentError({
    source: location,
    problems: `- (object): ${size} bytes, over MAX_DOCUMENT_BYTES (${maxBytes}); not downloaded`
  })

/**
 * Part `index` of `manifest`: read, checked to be the generation the manifest references (parts
 * are create-only; another generation means it was deleted and written again), decoded, and
 * checked to be the part the manifest names.
 */
export const readPart = (manifest: CacheManifest, index: number, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const retry = options.retry ?? asIs
    const ref = manifest.parts[index]
    if (ref === undefined) {
      return yield* new CacheDocumentError({ source: "manifest", problems: `- parts: no part ${index}; the manifest has ${manifest.parts.length}` })
    }
    const location = storage.locate(ref.object)
    if (options.maxBytes !== undefined && ref.bytes > options.maxBytes) return yield* overCap(location, ref.bytes, options.maxBytes)
    const content = yield* retry(storage.read(ref.object))
    if (Option.isNone(content)) {
      return yield* new ResourceNotFound({
        service: "storage",
        operation: "objects.get",
        resource: location,
        message: `part ${ref.key} of the manifest generated at ${DateTime.formatIso(manifest.generated_at)} is missing: ${location} does not exist`
      })
    }
    const { bytes, info } = content.value
    if (info.generation !== ref.generation) {
      return yield* new CacheDocumentError({
        source: location,
        problems: `- (object): generation ${info.generation}; the manifest references part ${ref.key} at generation ${ref.generation} (the part was replaced since)`
      })
    }
    if (options.maxBytes !== undefined && bytes.byteLength > options.maxBytes) return yield* overCap(location, bytes.byteLength, options.maxBytes)
    const stored = yield* decodeStoredBytes(bytes, location)
    if (stored._tag !== "Part") {
      return yield* new CacheDocumentError({ source: location, problems: `- (object): expected part ${ref.key} of a split document, found a ${stored._tag.toLowerCase()}` })
    }
    const part = stored.part
    if (part.key !== ref.key || part.tables.length !== ref.tables || part.examples.length !== ref.examples) {
      return yield* new CacheDocumentError({
        source: location,
        problems: `- (object): holds part ${part.key} with ${part.tables.length} tables and ${part.examples.length} examples; the manifest expects ${ref.key} with ${ref.tables} and ${ref.examples}`
      })
    }
    return part
  })

/** Every part of `manifest`, in its order. */
export const readParts = (manifest: CacheManifest, options: ReadOptions = {}): Effect.Effect<ReadonlyArray<CachePart>, StorageError | CacheDocumentError | ResourceNotFound, StorageService> =>
  Effect.forEach(manifest.parts, (_, i) => readPart(manifest, i, options), { concurrency: options.concurrency ?? 8 })

/**
 * The document stored at `name`, read whole (a split one with all its parts); none when the
 * object does not exist. A part that is missing, replaced or does not match fails the read.
 */
export const readStoredDocument = (name: string, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const retry = options.retry ?? asIs
    const location = storage.locate(name)
    const content = yield* retry(storage.read(name))
    if (Option.isNone(content)) return Option.none<StoredDocument>()
    const { bytes, info } = content.value
    if (options.maxBytes !== undefined && bytes.byteLength > options.maxBytes) return yield* overCap(location, bytes.byteLength, options.maxBytes)
    return Option.some(yield* storedDocumentOf(bytes, info, location, options))
  })

/** The document of an object already read: decoded, and for a manifest, joined with its parts. */
export const storedDocumentOf = (bytes: Uint8Array, info: ObjectInfo, location: string, options: ReadOptions = {}) =>
  Effect.gen(function*() {
    const stored = yield* decodeStoredBytes(bytes, location)
    switch (stored._tag) {
      case "Document":
        return { info, document: stored.document, formatVersion: stored.formatVersion, manifest: null } satisfies StoredDocument
      case "Part":
        return yield* new CacheDocumentError({
          source: location,
          problems: `- (object): a part (${stored.part.key}) of a split document, not a document or a manifest`
        })
      case "Manifest": {
        const parts = yield* readParts(stored.manifest, options)
        const document = yield* joinDocument(stored.manifest, parts, location)
        return { info, document, formatVersion: 3, manifest: stored.manifest } satisfies StoredDocument
      }
    }
  })
