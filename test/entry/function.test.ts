/**
 * The HTTP function in-process, through functions-framework's own test server, on the local
 * layers (sample table definitions, a temporary directory as the bucket).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "@effect/vitest"
import type { Server } from "node:http"
import * as fs from "node:fs/promises"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { traceOf } from "../../src/entry/logging.ts"
import type { SyncSummary } from "../../src/sync/SyncProgram.ts"

interface ErrorBody {
  readonly error: { readonly tag: string; readonly message: string }
}

let server: Server
let base: string
let bucketDir: string

beforeAll(async () => {
  bucketDir = await fs.mkdtemp(path.join(os.tmpdir(), "metasync-fn-"))
  process.env.METASYNC_MODE = "local"
  process.env.GOOGLE_CLOUD_PROJECT = "nlq-ex"
  process.env.LOCAL_BUCKET_DIR = bucketDir
  process.env.LOCAL_TABLES_DIR = path.resolve("samples/tables")
  await import("../../src/entry/function.ts")
  const { getTestServer } = await import("@google-cloud/functions-framework/testing")
  server = getTestServer("update_metadata_cache")
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await fs.rm(bucketDir, { recursive: true, force: true })
})

const post = (body?: string, contentType = "application/json") =>
  fetch(base, {
    method: "POST",
    ...(body === undefined ? {} : { body, headers: { "content-type": contentType } })
  })

describe("the update_metadata_cache function", () => {
  it("runs one sync on POST and answers with its summary", async () => {
    const response = await post()
    expect(response.status).toBe(200)
    const summary = (await response.json()) as SyncSummary
    expect(summary).toMatchObject({
      status: "ok",
      table_count: 1,
      column_count: 23,
      tables: [{ table_id: "nlq-ex.test_dataset.events_20210131", columns: 23 }],
      object: path.join(bucketDir, "metadata_cache.json")
    })
    expect(summary.field_count).toBeGreaterThan(summary.column_count)
    expect(summary.example_count).toBeGreaterThanOrEqual(4)
    expect(typeof summary.generation).toBe("string")
    expect(typeof summary.duration_ms).toBe("number")
    const written = JSON.parse(await fs.readFile(path.join(bucketDir, "metadata_cache.json"), "utf8"))
    expect(written.schema.table_id).toBe("nlq-ex.test_dataset.events_20210131")
  })

  it("serves concurrent requests one at a time, each publishing a newer generation", async () => {
    const answers = await Promise.all([post(), post("{}"), post()])
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200])
    const summaries = (await Promise.all(answers.map((r) => r.json()))) as ReadonlyArray<SyncSummary>
    const generations = summaries.map((s) => BigInt(s.generation ?? "0"))
    expect(new Set(generations).size).toBe(3)
  })

  it("answers a dry run without writing", async () => {
    const before = await fs.stat(path.join(bucketDir, "metadata_cache.json"))
    const response = await post("{\"dry_run\": true}")
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ status: "dry_run", generation: null })
    const after = await fs.stat(path.join(bucketDir, "metadata_cache.json"))
    expect(after.mtimeMs).toBe(before.mtimeMs)
  })

  it("refuses malformed JSON before the function runs (functions-framework's body parser answers 400)", async () => {
    const before = await fs.readFile(path.join(bucketDir, "metadata_cache.json"))
    const response = await post("{nope")
    expect(response.status).toBe(400)
    expect(await fs.readFile(path.join(bucketDir, "metadata_cache.json"))).toEqual(before)
  })

  it.each([
    ["GET", 405, "MethodNotAllowed", /GET is not supported; POST starts a sync/],
    ["PUT", 405, "MethodNotAllowed", /PUT is not supported/]
  ])("answers %s with %d", async (method, status, tag, message) => {
    const response = await fetch(base, { method })
    expect(response.status).toBe(status)
    expect(response.headers.get("allow")).toBe("POST")
    const body = (await response.json()) as ErrorBody
    expect(body.error.tag).toBe(tag)
    expect(body.error.message).toMatch(message)
  })

  it.each([
    ["JSON sent as text/plain", "{nope", 400, /the request body must be application\/json/],
    ["a JSON array", "[1,2]", 400, /must be a JSON object/],
    ["a table the config did not name", "{\"table_id\": \"evil-project.ds.t\"}", 400, /"table_id" cannot be set by a request: this function syncs only what its configuration names/],
    ["another bucket", "{\"bucket\": \"elsewhere\"}", 400, /"bucket" cannot be set by a request/],
    ["an unknown field", "{\"force\": true}", 400, /unknown field "force"/],
    ["a non-boolean dry_run", "{\"dry_run\": \"yes\"}", 400, /"dry_run" must be true or false/],
    ["too large a body", JSON.stringify({ dry_run: true, pad: "x".repeat(20_000) }), 413, /at most 16384 are accepted/]
  ])("refuses %s with a clear message", async (name, body, status, message) => {
    const before = await fs.readFile(path.join(bucketDir, "metadata_cache.json"))
    const response = await post(body, name.includes("text/plain") ? "text/plain" : "application/json")
    expect(response.status).toBe(status)
    expect(((await response.json()) as ErrorBody).error.message).toMatch(message)
    expect(await fs.readFile(path.join(bucketDir, "metadata_cache.json"))).toEqual(before)
  })

  it("logs JSON lines for Cloud Logging, tagged with the request's trace", async () => {
    const lines: Array<string> = []
    const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line))
    })
    try {
      const response = await fetch(base, {
        method: "POST",
        headers: { "x-cloud-trace-context": "105445aa7843bc8bf206b12000100000/1;o=1" }
      })
      expect(response.status).toBe(200)
    } finally {
      spy.mockRestore()
    }
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    const published = entries.find((e) => e.message === "sync published")
    expect(published).toMatchObject({
      severity: "INFO",
      "logging.googleapis.com/trace": "projects/nlq-ex/traces/105445aa7843bc8bf206b12000100000"
    })
    expect(entries.find((e) => e.message === "sync metrics")).toMatchObject({
      "logging.googleapis.com/trace": "projects/nlq-ex/traces/105445aa7843bc8bf206b12000100000"
    })
  })
})

describe("traces", () => {
  it("reads X-Cloud-Trace-Context and W3C traceparent", () => {
    expect(traceOf("p-1", { cloudTraceContext: "ABCDEF0123456789abcdef0123456789/42;o=1" })).toBe(
      "projects/p-1/traces/abcdef0123456789abcdef0123456789"
    )
    expect(traceOf("p-1", { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" })).toBe(
      "projects/p-1/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    expect(traceOf("p-1", { cloudTraceContext: "not-a-trace" })).toBeUndefined()
  })
})
