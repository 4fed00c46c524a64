/**
 * Writes whose body is produced in chunks, in the local directory and the in-memory bucket (the
 * Cloud Storage layer is proven over HTTP in test/live/GcsStorage.test.ts): the chunks are stored
 * byte for byte, produced anew by every write; a body that throws halfway leaves the object as it
 * was and nothing half-written behind.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import { MemoryStorage } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"

const NAME = "history/doc.json/20261130T000000.000Z-000000000000.json"
const json = (ifGenerationMatch: string) => ({ contentType: "application/json", ifGenerationMatch })
const chunk = (i: number) => new TextEncoder().encode(`{"chunk":${i}}\n`.repeat(100))
const whole = Buffer.concat(Array.from({ length: 50 }, (_, i) => chunk(i)))

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "metasync-stream-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** Every file under `dir`, relative, sorted. */
const filesIn = (dir: string) =>
  Effect.promise(async () => (await fs.readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort())

const layers: ReadonlyArray<readonly [string, Effect.Effect<{ layer: Layer.Layer<StorageService>; files: Effect.Effect<ReadonlyArray<string>> | null }, never, Scope.Scope>]> = [
  ["the in-memory bucket", Effect.succeed({ layer: MemoryStorage.layer("test-bucket"), files: null })],
  ["the local directory", Effect.map(tempDir, (dir) => ({ layer: LocalStorage.layer(dir), files: filesIn(dir) }))]
]

describe.each(layers)("streamed writes to %s", (_, make) => {
  it.scoped("store the chunks byte for byte, produced anew by each write", () =>
    Effect.gen(function*() {
      const { layer } = yield* make
      let calls = 0
      const body = function*() {
        calls += 1
        for (let i = 0; i < 50; i++) yield chunk(i)
      }
      yield* Effect.gen(function*() {
        const storage = yield* StorageService
        const first = yield* storage.write(NAME, body, json("0"))
        expect(first.size).toBe(whole.byteLength)
        const second = yield* storage.write(NAME, body, json(first.generation))
        expect(calls).toBe(2)
        const read = Option.getOrThrow(yield* storage.read(NAME))
        expect(Buffer.from(read.bytes).equals(whole)).toBe(true)
        expect(read.info.generation).toBe(second.generation)
        // A store that knows the MD5 reports the bytes' own.
        if (second.md5 !== undefined) expect(second.md5).toBe(createHash("md5").update(whole).digest("base64"))
      }).pipe(Effect.provide(layer))
    }))

  it.scoped("a body that throws halfway fails the write and leaves the object as it was", () =>
    Effect.gen(function*() {
      const { files, layer } = yield* make
      yield* Effect.gen(function*() {
        const storage = yield* StorageService
        const before = yield* storage.write(NAME, new TextEncoder().encode("old"), json("0"))
        const filesBefore = files === null ? null : yield* files
        const failing = function*() {
          for (let i = 0; i < 50; i++) {
            if (i === 25) throw new Error("table 25 does not encode")
            yield chunk(i)
          }
        }
        const error = yield* Effect.flip(storage.write(NAME, failing, json(before.generation)))
        expect(error).toMatchObject({
          _tag: "RemoteRejected",
          reason: "bodyFailed",
          message: "the object's bytes could not be produced: table 25 does not encode"
        })
        const after = Option.getOrThrow(yield* storage.read(NAME))
        expect(new TextDecoder().decode(after.bytes)).toBe("old")
        expect(after.info.generation).toBe(before.generation)
        // Nothing half-written is left behind (the local directory's temporary file is gone).
        if (files !== null) expect(yield* files).toEqual(filesBefore)
        const created = yield* Effect.flip(storage.write("other.json", failing, json("0")))
        expect(created).toMatchObject({ reason: "bodyFailed" })
        expect(yield* storage.stat("other.json")).toEqual(Option.none())
      }).pipe(Effect.provide(layer))
    }))
})
