/**
 * A directory standing in for a bucket, for runs with no GCP project: `<dir>/<object name>`.
 *
 * Generations work as in Cloud Storage, so the same publish logic (preconditions, history) runs
 * unchanged. An object's generation is kept in a sidecar file under `.metasync-generations/`
 * (a file put there by hand has its modification time in nanoseconds as generation); every write
 * takes a strictly larger one, even when file times are too coarse to tell two writes apart.
 * Writes go to a temporary file renamed into place (readers never see half a document), and
 * precondition checks and renames are serialised within the process.
 *
 * Every object stays inside the directory: a name that leads out of it (`../x`), into its
 * internals (the generations sidecar, temporary files) or through a symbolic link to somewhere
 * outside it is refused before anything is read or written. (A link created between that check
 * and the write is not caught: the directory is trusted not to be changed under a running sync.)
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { PermissionDenied, PreconditionFailed, RemoteRejected, ResourceNotFound } from "../RemoteErrors.ts"
import { BODY_FAILED, bodyChunks, type ObjectBody, type ObjectInfo, type StorageError, StorageService } from "./StorageService.ts"

const CONTENT_TYPES: Record<string, string> = { ".json": "application/json", ".yaml": "application/yaml" }
const TEMP_SUFFIX = ".metasync-tmp"
const GENERATIONS_DIR = ".metasync-generations"

const errorCode = (cause: unknown) =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

const make = (directory: string) =>
  Effect.gen(function*() {
    const root = path.resolve(directory)
    const lock = yield* Effect.makeSemaphore(1)

    const fileOf = (name: string) => {
      const file = path.resolve(root, name)
      return file.startsWith(root + path.sep) ? file : undefined
    }

    const fail = (operation: string, name: string, cause: unknown): StorageError => {
      const code = errorCode(cause)
      const resource = path.join(root, name)
      const message = cause instanceof Error ? cause.message : String(cause)
      return code === "EACCES" || code === "EPERM"
        ? new PermissionDenied({ service: "storage", operation, resource, status: 403, message })
        : new RemoteRejected({ service: "storage", operation, resource, status: null, reason: code ?? "io", message })
    }

    const generationFile = (name: string) => path.join(root, GENERATIONS_DIR, name)

    /** Why `name`, at `file`, would reach into the directory's internals, or undefined. */
    const reserved = (name: string, file: string) => {
      const [top] = path.relative(root, file).split(path.sep)
      if (top === GENERATIONS_DIR) {
        return `object name "${name}" is inside ${path.join(root, GENERATIONS_DIR)}, where the storage directory keeps its objects' generations`
      }
      if (file.endsWith(TEMP_SUFFIX)) {
        return `object name "${name}" ends in ${TEMP_SUFFIX}, which the storage directory uses for files being written`
      }
      return undefined
    }

    /**
     * Why `name` may not be reached through the file system at `file`: the first symbolic link on
     * the way there that points outside the directory (reading, writing or creating directories
     * through it would touch files elsewhere) or into its generations sidecar. Undefined if none.
     */
    const linkedAway = async (name: string, file: string) => {
      const realRoot = await fs.realpath(root).catch(() => undefined)
      if (realRoot === undefined) return undefined // nothing exists yet, so no link either
      const within = (target: string, dir: string) => target === dir || target.startsWith(dir + path.sep)
      let at = root
      for (const part of path.relative(root, file).split(path.sep)) {
        at = path.join(at, part)
        const entry = await fs.lstat(at).catch((cause: unknown) => {
          if (errorCode(cause) === "ENOENT") return undefined
          throw cause
        })
        if (entry === undefined) return undefined
        if (!entry.isSymbolicLink()) continue
        const target = await fs.realpath(at).catch(() => fs.readlink(at).then((link) => path.resolve(path.dirname(at), link)))
        const lands = path.join(target, path.relative(at, file))
        if (!within(target, realRoot)) {
          return `object name "${name}" would be stored at ${lands}, outside the storage directory ${root}: ${at} is a symbolic link to ${target}`
        }
        if (within(target, path.join(realRoot, GENERATIONS_DIR)) && !within(file, path.join(root, GENERATIONS_DIR))) {
          return `object name "${name}" would be stored at ${lands}, where the storage directory keeps its objects' generations: ${at} is a symbolic link to ${target}`
        }
      }
      return undefined
    }

    const refuse = (operation: string, name: string, message: string) =>
      new RemoteRejected({ service: "storage", operation, resource: name, status: 400, reason: "invalid", message })

    /**
     * The file of object `name`, once it is sure that the object and its generation record stay
     * inside the directory and out of its internals.
     */
    const resolve = (operation: string, name: string) =>
      Effect.gen(function*() {
        const file = fileOf(name)
        if (file === undefined) {
          return yield* Effect.fail(refuse(operation, name, `object name "${name}" leaves the storage directory ${root}`))
        }
        const refused = reserved(name, file) ?? (yield* Effect.tryPromise({
          try: async () => (await linkedAway(name, file)) ?? (await linkedAway(name, generationFile(name))),
          catch: (cause) => fail(operation, name, cause)
        }))
        return refused === undefined ? file : yield* Effect.fail(refuse(operation, name, refused))
      })

    const statFile = (name: string, file: string) =>
      Effect.tryPromise({
        try: async () => {
          const s = await fs.stat(file, { bigint: true })
          const recorded = await fs.readFile(generationFile(name), "utf8").catch(() => undefined)
          return { s, generation: recorded?.trim() || s.mtimeNs.toString() }
        },
        catch: (cause) => cause
      }).pipe(
        Effect.map(({ generation, s }): Option.Option<ObjectInfo> =>
          Option.some({
            name,
            generation,
            size: Number(s.size),
            contentType: CONTENT_TYPES[path.extname(name)] ?? "application/octet-stream",
            updated: DateTime.unsafeMake(Number(s.mtimeMs))
          })
        ),
        Effect.catchAll((cause) =>
          errorCode(cause) === "ENOENT" ? Effect.succeed(Option.none()) : Effect.fail(fail("objects.get", name, cause))
        )
      )

    const stat = (name: string) => Effect.flatMap(resolve("objects.get", name), (file) => statFile(name, file))

    const checkGeneration = (operation: string, name: string, file: string, expected: string) =>
      Effect.flatMap(statFile(name, file), (info) => {
        const actual = Option.match(info, { onNone: () => "0", onSome: (i) => i.generation })
        return actual === expected
          ? Effect.succeed(info)
          : Effect.fail(
            new PreconditionFailed({
              service: "storage",
              operation,
              resource: file,
              expected_generation: expected,
              message: `generation is ${actual}, the operation required ${expected}`
            })
          )
      })

    /**
     * Replaces `file` atomically under a generation precondition; the caller holds the lock. The
     * body is streamed into a temporary file: if producing it throws, that file is removed and the
     * object is untouched.
     */
    const writeUnlocked = (operation: string, name: string, file: string, body: ObjectBody, ifGenerationMatch: string) =>
      Effect.gen(function*() {
        const previous = yield* checkGeneration(operation, name, file, ifGenerationMatch)
        const temp = `${file}.${randomUUID()}${TEMP_SUFFIX}`
        let bodyError: unknown = undefined
        yield* Effect.tryPromise({
          try: async () => {
            await fs.mkdir(path.dirname(file), { recursive: true })
            const handle = await fs.open(temp, "w")
            try {
              const chunks = bodyChunks(body)[Symbol.iterator]()
              for (;;) {
                let next: IteratorResult<Uint8Array>
                try {
                  next = chunks.next()
                } catch (cause) {
                  bodyError = cause
                  throw cause
                }
                if (next.done === true) break
                await handle.write(next.value)
              }
            } finally {
              await handle.close()
            }
            const written = (await fs.stat(temp, { bigint: true })).mtimeNs
            const floor = Option.match(previous, { onNone: () => 0n, onSome: (i) => BigInt(i.generation) + 1n })
            const generation = written > floor ? written : floor
            await fs.mkdir(path.dirname(generationFile(name)), { recursive: true })
            await fs.writeFile(generationFile(name), generation.toString())
            await fs.rename(temp, file)
          },
          catch: (cause) =>
            bodyError === undefined ? fail(operation, name, cause) : new RemoteRejected({
              service: "storage",
              operation,
              resource: path.join(root, name),
              status: null,
              reason: BODY_FAILED,
              message: `the object's bytes could not be produced: ${cause instanceof Error ? cause.message : String(cause)}`
            })
        }).pipe(Effect.tapError(() => Effect.promise(() => fs.rm(temp, { force: true }))))
        const info = yield* statFile(name, file)
        return Option.getOrElse(info, (): ObjectInfo => {
          throw new Error(`${file} vanished right after it was written`)
        })
      })

    return StorageService.of({
      locate: (name) => fileOf(name) ?? path.join(root, name),
      stat,
      read: (name) =>
        Effect.gen(function*() {
          const file = yield* resolve("objects.get", name)
          // Read under the lock so the bytes and the generation belong together.
          return yield* lock.withPermits(1)(
            Effect.gen(function*() {
              const info = yield* statFile(name, file)
              if (Option.isNone(info)) return Option.none()
              const bytes = yield* Effect.tryPromise({
                try: () => fs.readFile(file),
                catch: (cause) => fail("objects.get", name, cause)
              })
              return Option.some({ info: info.value, bytes: new Uint8Array(bytes) })
            })
          )
        }),
      write: (name, body, options) =>
        Effect.flatMap(resolve("objects.insert", name), (file) =>
          lock.withPermits(1)(writeUnlocked("objects.insert", name, file, body, options.ifGenerationMatch))),
      copy: (source, destination, options) =>
        Effect.gen(function*() {
          const from = yield* resolve("objects.rewrite", source)
          const to = yield* resolve("objects.rewrite", destination)
          return yield* lock.withPermits(1)(
            Effect.tryPromise({
              try: () => fs.readFile(from),
              catch: (cause) =>
                errorCode(cause) === "ENOENT"
                  ? new ResourceNotFound({
                    service: "storage",
                    operation: "objects.rewrite",
                    resource: from,
                    message: `${from} does not exist`
                  })
                  : fail("objects.rewrite", source, cause)
            }).pipe(
              Effect.flatMap((bytes) =>
                writeUnlocked("objects.rewrite", destination, to, new Uint8Array(bytes), options.ifGenerationMatch)
              )
            )
          )
        }),
      list: (prefix) =>
        Effect.tryPromise({
          try: () => fs.readdir(root, { recursive: true, withFileTypes: true }),
          catch: (cause) => cause
        }).pipe(
          Effect.catchAll((cause) =>
            errorCode(cause) === "ENOENT" ? Effect.succeed([]) : Effect.fail(fail("objects.list", prefix, cause))
          ),
          Effect.map((entries) =>
            entries
              .filter((e) => e.isFile() && !e.name.endsWith(TEMP_SUFFIX))
              .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
              .filter((name) => name.startsWith(prefix) && !name.startsWith(`${GENERATIONS_DIR}/`))
              .sort()
          ),
          Effect.flatMap((names) => Effect.forEach(names, stat)),
          Effect.map((infos) => infos.flatMap(Option.toArray))
        ),
      remove: (name, options) =>
        Effect.gen(function*() {
          const file = yield* resolve("objects.delete", name)
          yield* lock.withPermits(1)(
            Effect.gen(function*() {
              const info = yield* statFile(name, file)
              if (Option.isNone(info)) return
              yield* checkGeneration("objects.delete", name, file, options.ifGenerationMatch)
              yield* Effect.tryPromise({
                try: async () => {
                  await fs.rm(file, { force: true })
                  await fs.rm(generationFile(name), { force: true })
                },
                catch: (cause) => fail("objects.delete", name, cause)
              })
            })
          )
        })
    })
  })

export const LocalStorage = {
  /** A `StorageService` over `directory` (created on first write). */
  layer: (directory: string): Layer.Layer<StorageService> => Layer.effect(StorageService, make(directory))
} as const
