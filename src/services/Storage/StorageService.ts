/**
 * Object storage for the cache document: one bucket (or one local directory), chosen by the layer.
 *
 * Layers, side by side in this folder:
 * - `GcsStorage.ts`    — Cloud Storage through `@google-cloud/storage` (honours `STORAGE_EMULATOR_HOST`).
 * - `LocalStorage.ts`  — a directory on disk, with the same generation semantics.
 * - `MemoryStorage.ts` — in memory, for tests: arrange objects, inject faults, inspect writes.
 *
 * Every write carries a generation precondition, as Cloud Storage does: `"0"` means "only if
 * the object does not exist", any other value "only if the current generation is this one".
 */
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type {
  PermissionDenied,
  PreconditionFailed,
  RemoteRejected,
  RemoteTimeout,
  RemoteUnavailable,
  ResourceNotFound
} from "../RemoteErrors.ts"

/** What storage knows about an object. */
export interface ObjectInfo {
  readonly name: string
  /** Cloud Storage's generation number, as a decimal string; increases with every write. */
  readonly generation: string
  readonly size: number
  readonly contentType: string
  readonly updated: DateTime.Utc
  /**
   * Base64 of the MD5 digest of the bytes, as Cloud Storage reports it (`md5Hash`), when the store
   * knows it: a write can be recognised by it without reading the bytes back.
   */
  readonly md5?: string | undefined
}

/** An object's bytes together with the generation they belong to. */
export interface ObjectContent {
  readonly info: ObjectInfo
  readonly bytes: Uint8Array
}

/**
 * What a write stores: the bytes whole, or a function that produces them in chunks — again from
 * the start at every call, so that a retried write streams them anew and nobody holds them all.
 * If producing the chunks throws, the write fails with `RemoteRejected` (reason `bodyFailed`)
 * and the object is neither created nor changed.
 */
export type ObjectBody = Uint8Array | (() => Iterable<Uint8Array>)

/** The chunks of `body`, from the start. */
export const bodyChunks = (body: ObjectBody): Iterable<Uint8Array> => body instanceof Uint8Array ? [body] : body()

/** The failure of a write whose body threw while it was being produced. */
export const BODY_FAILED = "bodyFailed"

export interface WriteOptions {
  readonly contentType: string
  /** `"0"`: only create; otherwise only replace this generation. */
  readonly ifGenerationMatch: string
}

export type StorageError =
  | RemoteUnavailable
  | RemoteTimeout
  | ResourceNotFound
  | PermissionDenied
  | RemoteRejected

export interface Storage {
  /** Where an object lives, for messages and summaries: `gs://bucket/name` or a file path. */
  readonly locate: (name: string) => string
  /** The object's metadata, or none when it does not exist. */
  readonly stat: (name: string) => Effect.Effect<Option.Option<ObjectInfo>, StorageError>
  /** The object's bytes and generation, or none when it does not exist. */
  readonly read: (name: string) => Effect.Effect<Option.Option<ObjectContent>, StorageError>
  /** Writes the whole object under a generation precondition; a body in chunks is streamed. */
  readonly write: (
    name: string,
    body: ObjectBody,
    options: WriteOptions
  ) => Effect.Effect<ObjectInfo, StorageError | PreconditionFailed>
  /**
   * Copies `source` over `destination` inside the bucket (server-side), under a generation
   * precondition on the destination; returns the destination's new metadata.
   */
  readonly copy: (
    source: string,
    destination: string,
    options: { readonly ifGenerationMatch: string }
  ) => Effect.Effect<ObjectInfo, StorageError | PreconditionFailed>
  /** Every object whose name starts with `prefix`, in name order. */
  readonly list: (prefix: string) => Effect.Effect<ReadonlyArray<ObjectInfo>, StorageError>
  /** Deletes one generation of an object; a missing object is not an error. */
  readonly remove: (
    name: string,
    options: { readonly ifGenerationMatch: string }
  ) => Effect.Effect<void, StorageError | PreconditionFailed>
}

export class StorageService extends Context.Tag("MetaSync/StorageService")<StorageService, Storage>() {}
