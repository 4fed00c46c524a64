/**
 * An in-memory bucket for tests: objects live in a Ref, the test arranges and inspects them through
 * `MemoryStorageControl`, and can script failures for the next calls of an operation.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { createHash } from "node:crypto"
import { PreconditionFailed, RemoteRejected, ResourceNotFound } from "../RemoteErrors.ts"
import {
  BODY_FAILED,
  bodyChunks,
  type ObjectBody,
  type ObjectContent,
  type ObjectInfo,
  type StorageError,
  StorageService
} from "./StorageService.ts"

export type StorageOperation = "stat" | "read" | "write" | "copy" | "list" | "remove"

/**
 * An object's bytes as kept: in the chunks they were written in, joined when first read and kept
 * joined. A copy shares them with its source, so the bucket holds one copy of them.
 */
interface Bytes {
  chunks: ReadonlyArray<Uint8Array>
}

interface Stored {
  readonly info: ObjectInfo
  readonly bytes: Bytes
}

const join = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

const contentOf = (stored: Stored): ObjectContent => {
  const bytes = join(stored.bytes.chunks)
  stored.bytes.chunks = [bytes]
  return { info: stored.info, bytes }
}

interface State {
  readonly objects: ReadonlyMap<string, Stored>
  readonly nextGeneration: number
  readonly faults: ReadonlyArray<{ readonly operation: StorageOperation; readonly error: StorageError }>
  readonly calls: ReadonlyArray<{ readonly operation: StorageOperation; readonly name: string }>
}

/** What a test can do to the in-memory bucket. */
export interface MemoryBucket {
  readonly bucket: string
  /** Puts an object as if written by someone else; returns its generation. */
  readonly put: (name: string, content: string | Uint8Array, contentType?: string) => Effect.Effect<string>
  /** The current object, if any. */
  readonly get: (name: string) => Effect.Effect<Option.Option<ObjectContent>>
  /** The object's text, if any. */
  readonly text: (name: string) => Effect.Effect<Option.Option<string>>
  /** Every object name, sorted. */
  readonly names: Effect.Effect<ReadonlyArray<string>>
  /** The next call of `operation` fails with `error` (queued in order). */
  readonly failNext: (operation: StorageOperation, error: StorageError) => Effect.Effect<void>
  /** Every call made so far, in order. */
  readonly calls: Effect.Effect<ReadonlyArray<{ readonly operation: StorageOperation; readonly name: string }>>
}

export class MemoryStorageControl extends Context.Tag("MetaSync/MemoryStorageControl")<
  MemoryStorageControl,
  MemoryBucket
>() {}

const encoder = new TextEncoder()

export interface MemoryStorageOptions {
  /** Simulated round-trip time of every call (benchmarks); none by default. */
  readonly latency?: Duration.DurationInput
}

const make = (bucket: string, options: MemoryStorageOptions) =>
  Effect.gen(function*() {
    const latency = Duration.decode(options.latency ?? Duration.zero)
    const state = yield* Ref.make<State>({ objects: new Map(), nextGeneration: 1, faults: [], calls: [] })
    const locate = (name: string) => `gs://${bucket}/${name}`

    /** Records the call and fails with the first fault scripted for this operation. */
    const enter = (operation: StorageOperation, name: string) =>
      Ref.modify(state, (s): [StorageError | undefined, State] => {
        const index = s.faults.findIndex((f) => f.operation === operation)
        const calls = [...s.calls, { operation, name }]
        if (index < 0) return [undefined, { ...s, calls }]
        return [s.faults[index].error, { ...s, calls, faults: s.faults.filter((_, i) => i !== index) }]
      }).pipe(
        Effect.zipLeft(Duration.isZero(latency) ? Effect.void : Effect.sleep(latency)),
        Effect.flatMap((error) => (error === undefined ? Effect.void : Effect.fail(error)))
      )

    const store = (name: string, bytes: Bytes, contentType: string, digest?: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (s): [ObjectInfo, State] => {
          const { chunks } = bytes
          const md5 = digest ?? chunks.reduce((h, c) => h.update(c), createHash("md5")).digest("base64")
          const info: ObjectInfo = {
            name,
            generation: String(s.nextGeneration),
            size: chunks.reduce((n, c) => n + c.byteLength, 0),
            contentType,
            updated: DateTime.unsafeMake(now),
            md5
          }
          const objects = new Map(s.objects).set(name, { info, bytes })
          return [info, { ...s, objects, nextGeneration: s.nextGeneration + 1 }]
        }))

    /** The whole body, or a `bodyFailed` rejection when producing it throws. */
    const receive = (name: string, body: ObjectBody) =>
      Effect.try({
        try: () => Array.from(bodyChunks(body)),
        catch: (cause) =>
          new RemoteRejected({
            service: "storage",
            operation: "objects.insert",
            resource: locate(name),
            status: null,
            reason: BODY_FAILED,
            message: `the object's bytes could not be produced: ${cause instanceof Error ? cause.message : String(cause)}`
          })
      })

    const stored = (name: string) => Effect.map(Ref.get(state), (s) => Option.fromNullable(s.objects.get(name)))
    const current = (name: string) => Effect.map(stored(name), Option.map(contentOf))

    /** Fails unless `name`'s generation is `expected` (`"0"`: absent). */
    const precondition = (operation: string, name: string, expected: string) =>
      Effect.flatMap(stored(name), (existing) => {
        const actual = Option.match(existing, { onNone: () => "0", onSome: (c) => c.info.generation })
        return actual === expected ? Effect.void : Effect.fail(
          new PreconditionFailed({
            service: "storage",
            operation,
            resource: locate(name),
            expected_generation: expected,
            message: `generation is ${actual}, the operation required ${expected}`
          })
        )
      })

    const storage = StorageService.of({
      locate,
      stat: (name) => enter("stat", name).pipe(Effect.zipRight(stored(name)), Effect.map(Option.map((c) => c.info))),
      read: (name) => enter("read", name).pipe(Effect.zipRight(current(name))),
      write: (name, body, options) =>
        Effect.gen(function*() {
          yield* enter("write", name)
          yield* precondition("objects.insert", name, options.ifGenerationMatch)
          const chunks = yield* receive(name, body)
          // Checked again: the object may have been written while the body was produced.
          yield* precondition("objects.insert", name, options.ifGenerationMatch)
          return yield* store(name, { chunks }, options.contentType)
        }),
      copy: (source, destination, options) =>
        Effect.gen(function*() {
          yield* enter("copy", destination)
          const from = yield* stored(source)
          if (Option.isNone(from)) {
            return yield* new ResourceNotFound({
              service: "storage",
              operation: "objects.rewrite",
              resource: locate(source),
              message: `${locate(source)} does not exist`
            })
          }
          yield* precondition("objects.rewrite", destination, options.ifGenerationMatch)
          return yield* store(destination, from.value.bytes, from.value.info.contentType, from.value.info.md5)
        }),
      list: (prefix) =>
        enter("list", prefix).pipe(
          Effect.zipRight(Ref.get(state)),
          Effect.map((s) =>
            [...s.objects.values()].map((c) => c.info).filter((i) => i.name.startsWith(prefix)).sort((a, b) =>
              a.name < b.name ? -1 : a.name > b.name ? 1 : 0
            )
          )
        ),
      remove: (name, options) =>
        Effect.gen(function*() {
          yield* enter("remove", name)
          const existing = yield* stored(name)
          if (Option.isNone(existing)) return
          yield* precondition("objects.delete", name, options.ifGenerationMatch)
          yield* Ref.update(state, (s) => {
            const objects = new Map(s.objects)
            objects.delete(name)
            return { ...s, objects }
          })
        })
    })

    const control = MemoryStorageControl.of({
      bucket,
      put: (name, content, contentType = "application/json") =>
        Effect.map(
          store(name, { chunks: [typeof content === "string" ? encoder.encode(content) : content] }, contentType),
          (i) => i.generation
        ),
      get: current,
      text: (name) => Effect.map(current(name), Option.map((c) => new TextDecoder().decode(c.bytes))),
      names: Effect.map(Ref.get(state), (s) => [...s.objects.keys()].sort()),
      failNext: (operation, error) => Ref.update(state, (s) => ({ ...s, faults: [...s.faults, { operation, error }] })),
      calls: Effect.map(Ref.get(state), (s) => s.calls)
    })
    return Context.make(StorageService, storage).pipe(Context.add(MemoryStorageControl, control))
  })

/** Provides `StorageService` and its `MemoryStorageControl`, over one empty in-memory bucket. */
export const MemoryStorage = {
  layer: (bucket = "test-bucket", options: MemoryStorageOptions = {}): Layer.Layer<StorageService | MemoryStorageControl> =>
    Layer.effectContext(make(bucket, options))
} as const
