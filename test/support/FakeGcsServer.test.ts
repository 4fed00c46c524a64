import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { crc32c, crc32cBase64, Fault, start } from "./FakeGcsServer.ts"

const fakeGcs = Effect.acquireRelease(
  Effect.promise(() => start({ pageSize: 2 })),
  (fake) => Effect.promise(() => fake.close())
)

const fetchJson = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, body: await response.json() as Record<string, any> }
  })

const multipart = (contentType: string, data: string) => {
  const boundary = "b0undary"
  return {
    headers: { "content-type": `multipart/related; boundary=${boundary}` },
    body: `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify({ contentType })}\r\n` +
      `--${boundary}\r\nContent-Type: ${contentType}\r\n\r\n${data}\r\n--${boundary}--`
  }
}

describe("FakeGcsServer", () => {
  it("computes CRC32C (Castagnoli) as GCS reports it", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283)
    expect(crc32c(new Uint8Array())).toBe(0)
    expect(crc32cBase64(Buffer.from("123456789"))).toBe(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString("base64"))
  })

  it.scopedLive("stores a multipart upload under a precondition and serves it under both path prefixes", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs
      const upload = `${fake.url}/upload/storage/v1/b/bkt/o?uploadType=multipart&name=${encodeURIComponent("a/b.json")}`

      const createOnly = `${upload}&ifGenerationMatch=0`
      const created = yield* fetchJson(createOnly, { method: "POST", ...multipart("application/json", "{}") })
      expect(created.status).toBe(200)
      expect(created.body).toMatchObject({ name: "a/b.json", size: "2", contentType: "application/json" })
      expect(created.body.crc32c).toBe(crc32cBase64(Buffer.from("{}")))

      const again = yield* fetchJson(createOnly, { method: "POST", ...multipart("text/plain", "x") })
      expect(again.status).toBe(412)
      expect(again.body.error.errors[0].reason).toBe("conditionNotMet")
      expect(fake.objects.get("bkt", "a/b.json")?.generation).toBe(created.body.generation)

      const viaEmulatorPath = yield* fetchJson(`${fake.url}/b/bkt/o/${encodeURIComponent("a/b.json")}`)
      expect(viaEmulatorPath.body.generation).toBe(created.body.generation)
      const media = yield* Effect.promise(() => fetch(`${fake.url}/storage/v1/b/bkt/o/a%2Fb.json?alt=media`))
      expect(media.headers.get("x-goog-hash")).toContain(`crc32c=${created.body.crc32c}`)
      expect(yield* Effect.promise(() => media.text())).toBe("{}")
    }))

  it.scopedLive("pages a prefix listing and increases generations on every write", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs
      const generations = ["p/1", "p/2", "p/3", "q/1"].map((name) => fake.objects.put("bkt", name, name))
      expect(generations.map(Number)).toEqual([...generations.map(Number)].sort((a, b) => a - b))
      expect(new Set(generations).size).toBe(4)

      const first = yield* fetchJson(`${fake.url}/storage/v1/b/bkt/o?prefix=p%2F`)
      expect(first.body.items.map((item: { name: string }) => item.name)).toEqual(["p/1", "p/2"])
      const token = first.body.nextPageToken
      const second = yield* fetchJson(`${fake.url}/storage/v1/b/bkt/o?prefix=p%2F&pageToken=${token}`)
      expect(second.body.items.map((item: { name: string }) => item.name)).toEqual(["p/3"])
      expect(second.body.nextPageToken).toBeUndefined()
    }))

  it.scopedLive("copies with rewriteTo and deletes under generation preconditions", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs
      const source = fake.objects.put("bkt", "src", "bytes", "text/plain")
      const rewrite = `${fake.url}/storage/v1/b/bkt/o/src/rewriteTo/b/bkt/o/dst%2Fx?ifGenerationMatch=0`

      const copied = yield* fetchJson(rewrite, { method: "POST", body: "{}" })
      expect(copied.body).toMatchObject({ done: true, resource: { name: "dst/x", contentType: "text/plain" } })
      expect(BigInt(copied.body.resource.generation)).toBeGreaterThan(BigInt(source))
      expect((yield* fetchJson(rewrite, { method: "POST", body: "{}" })).status).toBe(412)

      const stale = yield* fetchJson(`${fake.url}/b/bkt/o/src?ifGenerationMatch=1`, { method: "DELETE" })
      expect(stale.status).toBe(412)
      const current = `${fake.url}/b/bkt/o/src?ifGenerationMatch=${source}`
      const deleted = yield* Effect.promise(() => fetch(current, { method: "DELETE" }))
      expect(deleted.status).toBe(204)
      expect((yield* fetchJson(`${fake.url}/b/bkt/o/src`, { method: "DELETE" })).status).toBe(404)
      expect(fake.objects.names("bkt")).toEqual(["dst/x"])
    }))

  it.scopedLive("answers a scripted fault once, for the matching request only, and records every request", () =>
    Effect.gen(function*() {
      const fake = yield* fakeGcs
      fake.objects.put("bkt", "doc", "hello")
      fake.faults.inject(Fault.status(503), { kind: "metadata" })

      const listed = yield* fetchJson(`${fake.url}/storage/v1/b/bkt/o`)
      expect(listed.status).toBe(200)
      const failed = yield* fetchJson(`${fake.url}/storage/v1/b/bkt/o/doc`)
      expect(failed).toMatchObject({ status: 503, body: { error: { errors: [{ reason: "backendError" }] } } })
      const served = yield* fetchJson(`${fake.url}/storage/v1/b/bkt/o/doc`)
      expect(served.status).toBe(200)

      expect(fake.faults.pending()).toBe(0)
      expect(fake.requests.map((r) => r.kind)).toEqual(["list", "metadata", "metadata"])
    }))
})
