/**
 * The Cloud Storage layer against a local GCS over real HTTP: what each call returns, what each
 * server failure becomes, and that every call makes exactly the requests it should (the client's
 * own retries are off; retrying belongs to the Effect retry policy).
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { GcsStorage } from "../../src/services/Storage/GcsStorage.ts"
import type { Storage } from "../../src/services/Storage/StorageService.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { type FakeGcs, Fault, type FakeGcsOptions, type RequestKind, start } from "../support/FakeGcsServer.ts"
import { allClosed } from "../support/OpenConnections.ts"

const BUCKET = "metasync-cache"
const DOC = "cache/metadata.json"
/** Generous: only the stall tests are meant to reach a deadline. */
const DEADLINE = "30 seconds"
const SHORT_DEADLINE_MS = 800

const fakeGcs = (options?: FakeGcsOptions) =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (fake) => Effect.promise(() => fake.close()))

const gcsOn = (fake: FakeGcs, timeout: Duration.DurationInput = DEADLINE) =>
  GcsStorage.make({ bucket: BUCKET, apiEndpoint: fake.url, timeout })

const utf8 = (text: string) => new TextEncoder().encode(text)
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const json = (options: { readonly ifGenerationMatch: string }) => ({ contentType: "application/json", ...options })

describe("GcsStorage", () => {
  it.scopedLive("writes, reads, stats, lists and removes objects", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs({ pageSize: 2 })
      const storage = yield* gcsOn(fake)
      expect(storage.locate(DOC)).toBe(`gs://${BUCKET}/${DOC}`)

      const written = yield* storage.write(DOC, utf8(`{"v":1}`), json({ ifGenerationMatch: "0" }))
      const stored = fake.objects.get(BUCKET, DOC)!
      expect(written).toEqual({
        name: DOC,
        generation: stored.generation,
        size: 7,
        contentType: "application/json",
        updated: DateTime.unsafeMake(stored.updated),
        md5: "oZFHWuK/fbnH4yD32kVbuw==" // `openssl md5 -binary | base64` of {"v":1}
      })
      expect(text(stored.bytes)).toBe(`{"v":1}`)
      expect(fake.requestsOf("upload")).toMatchObject([
        { query: { uploadType: "multipart", name: DOC, ifGenerationMatch: "0" } }
      ])

      const read = yield* storage.read(DOC)
      expect(Option.map(read, ({ bytes, info }) => ({ text: text(bytes), info }))).toEqual(
        Option.some({ text: `{"v":1}`, info: written })
      )
      // The bytes come from the very generation the metadata reported.
      expect(fake.requestsOf("download")).toMatchObject([{ query: { alt: "media", generation: written.generation } }])
      expect(yield* storage.stat(DOC)).toEqual(Option.some(written))

      for (const name of ["cache/a", "cache/b", "cache/c", "cache/d", "other/x"]) fake.objects.put(BUCKET, name, name)
      const listed = yield* storage.list("cache/")
      expect(listed.map((info) => info.name)).toEqual(["cache/a", "cache/b", "cache/c", "cache/d", DOC])
      expect(listed.at(-1)).toEqual(written)
      expect(fake.requestsOf("list")).toHaveLength(3) // five objects, pages of two
      expect(yield* storage.list("none/")).toEqual([])

      yield* storage.remove(DOC, { ifGenerationMatch: written.generation })
      expect(fake.objects.get(BUCKET, DOC)).toBeUndefined()
      expect(yield* storage.read(DOC)).toEqual(Option.none())
      expect(yield* storage.stat(DOC)).toEqual(Option.none())
      yield* storage.remove(DOC, { ifGenerationMatch: written.generation }) // already gone: fine

      const replaced = yield* storage.write("cache/a", utf8("A2"), json({ ifGenerationMatch: listed[0].generation }))
      expect(BigInt(replaced.generation)).toBeGreaterThan(BigInt(written.generation))
      expect(text(fake.objects.get(BUCKET, "cache/a")!.bytes)).toBe("A2")
    }))

  it.scopedLive("provides StorageService as a layer", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs()
      fake.objects.put(BUCKET, DOC, "{}", "application/json")
      const info = yield* StorageService.pipe(
        Effect.flatMap((storage) => storage.stat(DOC)),
        Effect.provide(GcsStorage.layer({ bucket: BUCKET, apiEndpoint: fake.url, timeout: DEADLINE }))
      )
      expect(Option.map(info, (i) => [i.name, i.size, i.contentType])).toEqual(
        Option.some([DOC, 2, "application/json"])
      )
    }))

  describe("streamed writes", () => {
    /** 300 chunks of 4 KiB, each filled with its own number: 1.2 MB streamed. */
    const CHUNKS = 300
    const chunk = (i: number) => new Uint8Array(4096).fill(i % 251)
    const whole = Buffer.concat(Array.from({ length: CHUNKS }, (_, i) => chunk(i)))
    const md5 = (bytes: Uint8Array) => createHash("md5").update(bytes).digest("base64")
    /** The CHUNKS chunks as a body, and how many times a write asked for them. */
    const countedBody = () => {
      let produced = 0
      const body = function*() {
        produced += 1
        for (let i = 0; i < CHUNKS; i++) yield chunk(i)
      }
      return { body, calls: () => produced }
    }

    it.scopedLive("stream a body in chunks into one upload, stored byte for byte and checked by CRC32C", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        const { body, calls } = countedBody()
        const written = yield* storage.write(DOC, body, json({ ifGenerationMatch: "0" }))
        expect(fake.objects.get(BUCKET, DOC)!.bytes.equals(whole)).toBe(true)
        expect(written).toMatchObject({ size: whole.byteLength, md5: md5(whole) })
        expect(calls()).toBe(1)
        expect(fake.requestsOf("upload")).toHaveLength(1)
        expect(fake.requestsOf("upload")[0]!.headers["transfer-encoding"]).toBe("chunked")
      }))

    it.scopedLive("a body that throws halfway cuts the upload: no object, the old one untouched, no connection left open", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        const generation = fake.objects.put(BUCKET, DOC, "old", "application/json")
        const body = function*() {
          for (let i = 0; i < CHUNKS; i++) {
            if (i === CHUNKS / 2) throw new Error("the renderer found a bad table")
            yield chunk(i)
          }
        }
        const error = yield* Effect.flip(storage.write(DOC, body, json({ ifGenerationMatch: generation })))
        expect(error).toMatchObject({
          _tag: "RemoteRejected",
          operation: "objects.insert",
          reason: "bodyFailed",
          message: "the object's bytes could not be produced: the renderer found a bad table"
        })
        yield* allClosed(fake.connections)
        expect(fake.objects.get(BUCKET, DOC)).toMatchObject({ generation, bytes: Buffer.from("old") })
        expect(fake.objects.names(BUCKET)).toEqual([DOC])
      }))

    it.scopedLive("an upload cut by the server halfway through its body is transient and stores nothing; the retry streams again from the start", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        const { body, calls } = countedBody()
        fake.faults.inject(Fault.cutBody(whole.byteLength / 2), { kind: "upload" })
        const error = yield* Effect.flip(storage.write(DOC, body, json({ ifGenerationMatch: "0" })))
        expect(error).toMatchObject({ _tag: "RemoteUnavailable", operation: "objects.insert" })
        expect(fake.objects.names(BUCKET)).toEqual([])
        yield* storage.write(DOC, body, json({ ifGenerationMatch: "0" }))
        expect(calls()).toBe(2)
        expect(fake.objects.get(BUCKET, DOC)!.bytes.equals(whole)).toBe(true)
      }))

    it.scopedLive("a connection cut while the body is still being produced is the transport's failure, not the body's", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        // Far more chunks than the stream buffers: the producer is suspended mid-body when the
        // server cuts the connection, and the stream's teardown throws the socket error into it.
        const many = 4096
        const body = function*() {
          for (let i = 0; i < many; i++) yield chunk(i)
        }
        fake.faults.inject(Fault.cutBody(64 * 1024), { kind: "upload" })
        const error = yield* Effect.flip(storage.write(DOC, body, json({ ifGenerationMatch: "0" })))
        expect(error).toMatchObject({ _tag: "RemoteUnavailable", operation: "objects.insert" })
        expect(fake.objects.names(BUCKET)).toEqual([])
        yield* allClosed(fake.connections)
      }))
  })

  describe("generation preconditions", () => {
    it.scopedLive("refuses to create an object that exists, and changes nothing", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        const generation = fake.objects.put(BUCKET, DOC, "old", "application/json")

        const error = yield* Effect.flip(storage.write(DOC, utf8("new"), json({ ifGenerationMatch: "0" })))
        expect(error).toMatchObject({
          _tag: "PreconditionFailed",
          service: "storage",
          operation: "objects.insert",
          resource: `gs://${BUCKET}/${DOC}`,
          expected_generation: "0"
        })
        expect(fake.objects.get(BUCKET, DOC)).toMatchObject({ generation, bytes: Buffer.from("old") })
        expect(fake.requests).toHaveLength(1)
      }))

    it.scopedLive("refuses to replace or remove a stale generation, and changes nothing", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        const stale = fake.objects.put(BUCKET, DOC, "first")
        const current = fake.objects.put(BUCKET, DOC, "second")

        const replace = yield* Effect.flip(storage.write(DOC, utf8("third"), json({ ifGenerationMatch: stale })))
        expect(replace).toMatchObject({ _tag: "PreconditionFailed", expected_generation: stale })
        const remove = yield* Effect.flip(storage.remove(DOC, { ifGenerationMatch: stale }))
        expect(remove).toMatchObject({
          _tag: "PreconditionFailed",
          operation: "objects.delete",
          expected_generation: stale
        })

        expect(fake.objects.get(BUCKET, DOC)).toMatchObject({ generation: current, bytes: Buffer.from("second") })
        expect(fake.requests.map((r) => r.kind)).toEqual(["upload", "delete"])
      }))
  })

  describe("server failures become tagged errors, one request per call", () => {
    type Call = (storage: Storage) => Effect.Effect<unknown, { readonly _tag: string }>
    /** Title, fault, the request it hits, the call, the error the call fails with. */
    type FailureCase = readonly [string, Fault, RequestKind, Call, Record<string, unknown>]

    const write: Call = (storage) => storage.write("cache/new.json", utf8("{}"), json({ ifGenerationMatch: "0" }))
    const read: Call = (storage) => storage.read(DOC)
    const stat: Call = (storage) => storage.stat(DOC)
    const list: Call = (storage) => storage.list("cache/")
    const remove: Call = (storage) => storage.remove(DOC, { ifGenerationMatch: "1" })

    const unavailable = (status: number | null, reason: string) => ({
      _tag: "RemoteUnavailable",
      status,
      reason,
      attempts: 1
    })
    const rejected = (status: number | null, reason: string) => ({ _tag: "RemoteRejected", status, reason })
    const denied = { _tag: "PermissionDenied", status: 403 }

    const cases: ReadonlyArray<FailureCase> = [
      ["429 on write", Fault.status(429), "upload", write, unavailable(429, "rateLimitExceeded")],
      ["500 on list", Fault.status(500), "list", list, unavailable(500, "backendError")],
      ["503 on stat", Fault.status(503), "metadata", stat, unavailable(503, "backendError")],
      ["503 on the download of a read", Fault.status(503), "download", read, unavailable(503, "backendError")],
      ["503 on remove", Fault.status(503), "delete", remove, unavailable(503, "backendError")],
      ["403 on read", Fault.status(403), "metadata", read, denied],
      ["403 on write", Fault.status(403), "upload", write, denied],
      ["400 on write", Fault.status(400), "upload", write, rejected(400, "invalid")],
      ["400 on list", Fault.status(400), "list", list, rejected(400, "invalid")],
      ["reset on write", Fault.reset, "upload", write, unavailable(null, "ECONNRESET")],
      ["reset on stat", Fault.reset, "metadata", stat, unavailable(null, "ECONNRESET")],
      ["reset on the download of a read", Fault.reset, "download", read, unavailable(null, "ECONNRESET")],
      ["malformed body on stat", Fault.malformed, "metadata", stat, rejected(null, "malformedResponse")],
      ["malformed body on write", Fault.malformed, "upload", write, rejected(null, "malformedResponse")],
      ["malformed body on list", Fault.malformed, "list", list, rejected(null, "malformedResponse")],
      ["damaged bytes on a download", Fault.malformed, "download", read, rejected(null, "CONTENT_DOWNLOAD_MISMATCH")],
      ["truncated body on stat", Fault.truncated, "metadata", stat, unavailable(null, "ECONNRESET")],
      ["truncated body on write", Fault.truncated, "upload", write, unavailable(null, "ECONNRESET")],
      ["truncated body on list", Fault.truncated, "list", list, unavailable(null, "ECONNRESET")],
      ["truncated body on a download", Fault.truncated, "download", read, unavailable(null, "ECONNRESET")]
    ]

    for (const [title, fault, kind, call, error] of cases) {
      it.scopedLive(`${title} → ${error._tag}`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeGcs()
          const storage = yield* gcsOn(fake)
          fake.objects.put(BUCKET, DOC, `{"v":1}`, "application/json")
          fake.faults.inject(fault, { kind })

          const failure = yield* Effect.flip(call(storage))
          expect(failure).toMatchObject({ service: "storage", resource: expect.stringContaining(`gs://${BUCKET}/`) })
          expect(failure).toMatchObject(error)
          expect(fake.faults.pending()).toBe(0)
          expect(fake.requestsOf(kind)).toHaveLength(1)
          // A read asks for the metadata first, then the bytes; every other call is one request.
          expect(fake.requests.map((r) => r.kind)).toEqual(kind === "download" ? ["metadata", "download"] : [kind])
        }))
    }

    // The client parses JSON replies itself; a reply nested thousands of levels deep (what crashed
    // the BigQuery client's recursive copy) must neither crash it nor stop a call.
    const DEEP = 5_000
    const copy: Call = (storage) => storage.copy(DOC, "cache/copy.json", { ifGenerationMatch: "0" })
    const deepCases: ReadonlyArray<readonly [RequestKind, Call]> = [
      ["metadata", stat],
      ["list", list],
      ["upload", write],
      ["rewrite", copy]
    ]
    for (const [kind, call] of deepCases) {
      it.scopedLive(`a ${kind} reply with a member nested ${DEEP} levels deep → the call's result`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeGcs()
          const storage = yield* gcsOn(fake)
          fake.objects.put(BUCKET, DOC, `{"v":1}`, "application/json")
          fake.faults.inject(Fault.deep(DEEP), { kind })

          yield* call(storage)
          expect(fake.faults.pending()).toBe(0)
        }))
    }
    for (const [kind, call] of [...deepCases, ["delete", remove] as const]) {
      it.scopedLive(`a 400 on ${kind} whose error has a detail nested ${DEEP} levels deep → RemoteRejected`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeGcs()
          const storage = yield* gcsOn(fake)
          fake.objects.put(BUCKET, DOC, `{"v":1}`, "application/json")
          const detail = `${"[".repeat(DEEP)}${"]".repeat(DEEP)}`
          fake.faults.inject(
            Fault.raw(400, `{"error":{"code":400,"message":"Invalid: deep","errors":[{"reason":"invalid","message":"Invalid: deep","detail":${detail}}]}}`),
            { kind }
          )

          expect(yield* Effect.flip(call(storage))).toMatchObject({ _tag: "RemoteRejected", status: 400, reason: "invalid" })
        }))
    }

    it.scopedLive("404 on read → none", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        fake.objects.put(BUCKET, DOC, "{}")
        fake.faults.inject(Fault.status(404), { kind: "metadata" }, 2)

        expect(yield* storage.read(DOC)).toEqual(Option.none())
        expect(yield* storage.stat(DOC)).toEqual(Option.none())
        expect(fake.requests.map((r) => r.kind)).toEqual(["metadata", "metadata"])
      }))

    it.scopedLive("a generation replaced between metadata and download → transient, to be read again", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        fake.objects.put(BUCKET, DOC, "{}")
        fake.faults.inject(Fault.status(404), { kind: "download" })

        const failure = yield* Effect.flip(storage.read(DOC))
        expect(failure).toMatchObject({ _tag: "RemoteUnavailable", status: 404, reason: "generationChanged" })
        expect(fake.requests.map((r) => r.kind)).toEqual(["metadata", "download"])
        expect(Option.map(yield* storage.read(DOC), ({ bytes }) => text(bytes))).toEqual(Option.some("{}"))
      }))

    it.scopedLive("a write whose reply carries the wrong checksum fails, and the client deletes what it wrote", () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        const storage = yield* gcsOn(fake)
        fake.faults.inject(Fault.badChecksum, { kind: "upload" })

        const failure = yield* Effect.flip(write(storage))
        expect(failure).toMatchObject(rejected(null, "FILE_NO_UPLOAD"))
        // The client's crc32c validation is on: it removes the object it cannot vouch for.
        expect(fake.requests.map((r) => r.kind)).toEqual(["upload", "delete"])
        expect(fake.objects.get(BUCKET, "cache/new.json")).toBeUndefined()
      }))

    const stalls: ReadonlyArray<readonly [string, RequestKind, Call, string]> = [
      ["a stalled stat", "metadata", stat, "objects.get"],
      ["a stalled read", "metadata", read, "objects.get"],
      ["a stalled download of a read", "download", read, "objects.get"],
      ["a stalled write", "upload", write, "objects.insert"],
      ["a stalled list", "list", list, "objects.list"],
      ["a stalled copy", "rewrite", copy, "objects.rewrite"],
      ["a stalled remove", "delete", remove, "objects.delete"]
    ]
    for (const [title, kind, call, operation] of stalls) {
      it.scopedLive(`${title} → RemoteTimeout at the deadline, and its request is cancelled`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeGcs()
          const storage = yield* gcsOn(fake, SHORT_DEADLINE_MS)
          fake.objects.put(BUCKET, DOC, `{"v":1}`, "application/json")
          fake.faults.inject(Fault.stall, { kind })
          expect(fake.connections.count()).toBe(0)

          const failure = yield* Effect.flip(call(storage))
          expect(failure).toMatchObject({
            _tag: "RemoteTimeout",
            service: "storage",
            operation,
            timeout_ms: SHORT_DEADLINE_MS,
            attempts: 1
          })
          expect(fake.requests.map((r) => r.kind)).toEqual(kind === "download" ? ["metadata", kind] : [kind])
          // The client closed the stalled request's socket; it was not left for the server to end.
          yield* allClosed(fake.connections)
        }))
    }
  })

  for (const form of ["http://host:port", "host:port"] as const) {
    it.scopedLive(`honours STORAGE_EMULATOR_HOST as ${form}, with no credentials and no metadata server`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeGcs()
        // A credential lookup would fail on the missing key file; a metadata probe would reach the fake.
        yield* withEnv({
          STORAGE_EMULATOR_HOST: form === "host:port" ? `127.0.0.1:${fake.port}` : fake.url,
          GCE_METADATA_HOST: `127.0.0.1:${fake.port}`,
          GOOGLE_APPLICATION_CREDENTIALS: "/nonexistent/metasync-test-key.json"
        })
        const storage = yield* GcsStorage.make({ bucket: BUCKET, timeout: DEADLINE })

        const written = yield* storage.write(DOC, utf8("{}"), json({ ifGenerationMatch: "0" }))
        const read = yield* storage.read(DOC)
        expect(Option.map(read, ({ bytes, info }) => [text(bytes), info.generation])).toEqual(
          Option.some(["{}", written.generation])
        )
        expect(yield* storage.list("")).toEqual([written])
        yield* storage.remove(DOC, { ifGenerationMatch: written.generation })

        expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
          `POST /upload/storage/v1/b/${BUCKET}/o`,
          `GET /b/${BUCKET}/o/${encodeURIComponent(DOC)}`,
          `GET /b/${BUCKET}/o/${encodeURIComponent(DOC)}`,
          `GET /b/${BUCKET}/o`,
          `DELETE /b/${BUCKET}/o/${encodeURIComponent(DOC)}`
        ])
        expect(fake.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([])
      }))
  }

  it.scopedLive("an apiEndpoint given wins over STORAGE_EMULATOR_HOST, for every call", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs()
      const other = yield* fakeGcs()
      yield* withEnv({ STORAGE_EMULATOR_HOST: `127.0.0.1:${other.port}` })
      const storage = yield* gcsOn(fake)

      const written = yield* storage.write(DOC, utf8("{}"), json({ ifGenerationMatch: "0" }))
      expect(yield* storage.stat(DOC)).toEqual(Option.some(written))
      expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        `POST /upload/storage/v1/b/${BUCKET}/o`,
        `GET /storage/v1/b/${BUCKET}/o/${encodeURIComponent(DOC)}`
      ])
      expect(other.requests).toEqual([])
    }))
})

/** Sets environment variables for the rest of the scope, then restores them. */
const withEnv = (values: Readonly<Record<string, string>>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const saved = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]))
      Object.assign(process.env, values)
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [key, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[key]
          else process.env[key] = value
        }
      })
  )
