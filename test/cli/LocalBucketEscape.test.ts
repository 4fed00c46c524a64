/**
 * Local mode keeps everything inside LOCAL_BUCKET_DIR: `metasync sync` refuses, with a message
 * naming the path and why, to publish through a symbolic link that leads out of it or over the
 * directory's own generation records.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { type CliWorkspace, filesUnder, makeCliWorkspace } from "../support/CliRunner.ts"

/** The CLI's exit code of a failed run (`EXIT_FAILED` in src/entry/cli.ts, which runs when imported). */
const EXIT_FAILED_CODE = 1

const workspace = Effect.acquireRelease(Effect.promise(() => makeCliWorkspace()), (ws) => Effect.promise(() => ws.remove()))
const outsideDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "metasync-outside-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)
const sync = (ws: CliWorkspace, env?: Readonly<Record<string, string>>) => Effect.promise(() => ws.run(["sync"], env))

describe("metasync sync in local mode stays inside LOCAL_BUCKET_DIR", () => {
  it.scopedLive("a history symlink to another directory: refused, nothing written there or published", () =>
    Effect.gen(function*() {
      const ws = yield* workspace
      const outside = yield* outsideDir
      yield* Effect.promise(() => fs.mkdir(ws.bucketDir))
      yield* Effect.promise(() => fs.symlink(outside, path.join(ws.bucketDir, "history")))

      const result = yield* sync(ws)
      expect(result.code).toBe(EXIT_FAILED_CODE)
      const target = yield* Effect.promise(() => fs.realpath(outside))
      expect(result.stderr).toContain(
        `outside the storage directory ${ws.bucketDir}: ${path.join(ws.bucketDir, "history")} is a symbolic link to ${target}`
      )
      expect(yield* Effect.promise(() => filesUnder(outside))).toEqual([])
      expect(yield* Effect.promise(() => filesUnder(ws.bucketDir))).toEqual([])
    }))

  it.scopedLive("CACHE_OBJECT inside the generations sidecar: refused, the sidecar untouched", () =>
    Effect.gen(function*() {
      const ws = yield* workspace
      expect((yield* sync(ws)).code).toBe(0)
      const before = yield* Effect.promise(() => filesUnder(ws.bucketDir))
      const sidecar = path.join(ws.bucketDir, ".metasync-generations", "metadata_cache.json")
      const generation = yield* Effect.promise(() => fs.readFile(sidecar, "utf8"))

      const result = yield* sync(ws, { CACHE_OBJECT: ".metasync-generations/metadata_cache.json" })
      expect(result.code).toBe(EXIT_FAILED_CODE)
      expect(result.stderr).toContain(
        `object name ".metasync-generations/metadata_cache.json" is inside ${path.join(ws.bucketDir, ".metasync-generations")}`
      )
      expect(yield* Effect.promise(() => fs.readFile(sidecar, "utf8"))).toBe(generation)
      expect(yield* Effect.promise(() => filesUnder(ws.bucketDir))).toEqual(before)
    }))
})
