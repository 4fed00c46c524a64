/**
 * The HTTP function in-process, through functions-framework's own test server, on the local
 * layers (sample table definitions, a temporary directory as the bucket).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "@effect/vitest"
import * as Exit from "effect/Exit"
import type { Server } from "node:http"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { traceOf } from "../../src/entry/logging.ts"
import { answerOf, answerOfFrameworkError } from "../../src/entry/SyncHttp.ts"
import { PreconditionFailed } from "../../src/services/RemoteErrors.ts"
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

// Every test starts from an empty bucket and arranges what it needs: none relies on another's document.
beforeEach(async () => {
  for (const entry of await fs.readdir(bucketDir)) await fs.rm(path.join(bucketDir, entry), { recursive: true, force: true })
})

const documentPath = () => path.join(bucketDir, "metadata_cache.json")

const published = () => fs.readFile(documentPath()).then((bytes) => bytes, () => undefined)

const post = (body?: string, contentType = "application/json") =>
  fetch(base, {
    method: "POST",
    ...(body === undefined ? {} : { body, headers: { "content-type": contentType } })
  })

/** A POST whose body goes without a Content-Type (fetch adds one to string bodies, not to bytes). */
const postUntyped = (body: string) => fetch(base, { method: "POST", body: new TextEncoder().encode(body) })

/** Publishes a document through the function, as the arrangement of a test that needs one. */
const publishOnce = async () => {
  const response = await post()
  expect(response.status, await response.clone().text()).toBe(200)
  return (await response.json()) as SyncSummary
}

/**
 * Sends `head` (request line and headers, and whatever body bytes it holds) on a raw connection and
 * resolves with the server's answer, without ever sending the rest of the body the head announces.
 */
const answerToPartialRequest = (head: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const socket = net.connect((server.address() as AddressInfo).port, "127.0.0.1")
    let received = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      received += chunk
      const headerEnd = received.indexOf("\r\n\r\n")
      const length = /\r\ncontent-length: *(\d+)/i.exec(received)?.[1]
      if (headerEnd >= 0 && length !== undefined && received.length >= headerEnd + 4 + Number(length)) {
        socket.destroy()
        resolve({ status: Number(received.slice(9, 12)), body: received.slice(headerEnd + 4) })
      }
    })
    socket.on("error", reject)
    socket.on("close", () => reject(new Error(`the connection closed before a full answer: ${received}`)))
    socket.write(head)
  })

/** What no answer may carry: a stack frame or a source path. */
const expectNoInternals = (text: string) => {
  expect(text).not.toMatch(/\n\s+at \S|\.ts:\d+|\.js:\d+|node_modules|<pre>/)
  expect(text).not.toContain(process.cwd())
}

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
      object: documentPath()
    })
    expect(summary.field_count).toBeGreaterThan(summary.column_count)
    expect(summary.example_count).toBeGreaterThanOrEqual(4)
    expect(typeof summary.generation).toBe("string")
    expect(typeof summary.duration_ms).toBe("number")
    const written = JSON.parse(await fs.readFile(documentPath(), "utf8"))
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
    const response = await post("{\"dry_run\": true}")
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ status: "dry_run", generation: null })
    expect(await published()).toBeUndefined()
  })

  it("answers a dry run without writing over a published document", async () => {
    await publishOnce()
    const before = await fs.stat(documentPath())
    const response = await post("{\"dry_run\": true}")
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ status: "dry_run", generation: null })
    expect((await fs.stat(documentPath())).mtimeMs).toBe(before.mtimeMs)
  })

  it("refuses malformed JSON with its own JSON error, not functions-framework's HTML page", async () => {
    const response = await post("{nope")
    const text = await response.text()
    expect(response.status).toBe(400)
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect((JSON.parse(text) as ErrorBody).error).toMatchObject({ tag: "InvalidRequest", message: expect.stringMatching(/not JSON/) })
    expectNoInternals(text)
    expect(await published()).toBeUndefined()
  })

  it("refuses deeply nested JSON with a 400", async () => {
    const depth = 5_000
    const response = await post(`{"dry_run": ${"[".repeat(depth)}${"]".repeat(depth)}}`)
    const text = await response.text()
    expect(response.status, text).toBe(400)
    expect((JSON.parse(text) as ErrorBody).error.message).toMatch(/"dry_run" must be true or false, not an array/)
    expect(await published()).toBeUndefined()
  })

  it.each([
    ["{\"dry_run\": true}", /application\/json/],
    ["{\"table_id\": \"evil-project.ds.t\"}", /application\/json/],
    ["not json at all", /application\/json/]
  ])("refuses the body %s sent without a Content-Type instead of ignoring it", async (body, message) => {
    const response = await postUntyped(body)
    expect(response.status).toBe(415)
    expect(((await response.json()) as ErrorBody).error).toMatchObject({ tag: "UnsupportedMediaType", message: expect.stringMatching(message) })
    expect(await published()).toBeUndefined()
  })

  it("refuses a body over 16 KiB sent without a Content-Type", async () => {
    const response = await postUntyped(JSON.stringify({ dry_run: true, pad: "x".repeat(20_000) }))
    expect(response.status).toBe(413)
    expect(((await response.json()) as ErrorBody).error.message).toMatch(/at most 16384 are accepted/)
    expect(await published()).toBeUndefined()
  })

  it("refuses a body announced over the cap before reading it: the answer comes before the body is sent", async () => {
    const answer = await answerToPartialRequest(
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{\"dry_run\": true, \"pad\": \""
    )
    expect(answer.status).toBe(413)
    expect((JSON.parse(answer.body) as ErrorBody).error).toMatchObject({
      tag: "RequestTooLarge",
      message: expect.stringMatching(/104857600 bytes; at most 16384 are accepted/)
    })
    expect(await published()).toBeUndefined()
  })

  it("stops reading a chunked body at the cap and answers before the body ends", async () => {
    const chunk = "x".repeat(8 * 1024)
    const chunks = Array.from({ length: 3 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("")
    // Three chunks of 8 KiB and no final empty chunk: the body never ends.
    const answer = await answerToPartialRequest(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`
    )
    expect(answer.status).toBe(413)
    expect((JSON.parse(answer.body) as ErrorBody).error.tag).toBe("RequestTooLarge")
  })

  it.each(["development", "production", undefined])(
    "answers a malformed URL with a JSON 400 and no stack trace (NODE_ENV %s)",
    async (nodeEnv) => {
      const saved = process.env.NODE_ENV
      if (nodeEnv === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = nodeEnv
      try {
        const response = await fetch(`${base}/%E0%A4%A`, { method: "POST" })
        const text = await response.text()
        expect(response.status, text).toBe(400)
        expect((JSON.parse(text) as ErrorBody).error.tag).toBe("InvalidRequest")
        expectNoInternals(text)
      } finally {
        if (saved === undefined) delete process.env.NODE_ENV
        else process.env.NODE_ENV = saved
      }
    }
  )

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
    ["JSON sent as text/plain", "{nope", 415, /the request body must be sent as application\/json, not text\/plain/],
    ["a JSON array", "[1,2]", 400, /must be a JSON object/],
    ["a table the config did not name", "{\"table_id\": \"evil-project.ds.t\"}", 400, /"table_id" cannot be set by a request: this function syncs only what its configuration names/],
    ["another bucket", "{\"bucket\": \"elsewhere\"}", 400, /"bucket" cannot be set by a request/],
    ["an unknown field", "{\"force\": true}", 400, /unknown field "force"/],
    ["a non-boolean dry_run", "{\"dry_run\": \"yes\"}", 400, /"dry_run" must be true or false/],
    ["too large a body", JSON.stringify({ dry_run: true, pad: "x".repeat(20_000) }), 413, /at most 16384 are accepted/]
  ])("refuses %s with a clear message", async (name, body, status, message) => {
    await publishOnce()
    const before = await published()
    const response = await post(body, name.includes("text/plain") ? "text/plain" : "application/json")
    expect(response.status).toBe(status)
    expect(((await response.json()) as ErrorBody).error.message).toMatch(message)
    expect(await published()).toEqual(before)
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

describe("the function's own answers and log lines", () => {
  const capturingLogs = async <A>(run: () => Promise<A>) => {
    const lines: Array<string> = []
    const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line))
    })
    try {
      const result = await run()
      return { result, entries: lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
    } finally {
      spy.mockRestore()
    }
  }

  it("answers a request that no route serves (OPTIONS *) with a JSON 404", async () => {
    const answer = await answerToPartialRequest("OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    expect(answer.status).toBe(404)
    expect(JSON.parse(answer.body)).toEqual({ error: { tag: "NotFound", message: "no such route" } })
  })

  it("logs a published run with its object, generation and table count", async () => {
    const { entries, result } = await capturingLogs(async () => {
      const response = await post()
      return (await response.json()) as SyncSummary
    })
    const entry = entries.find((e) => e.message === "sync published")
    expect(entry?.["logging.googleapis.com/labels"]).toEqual({ object: documentPath(), generation: result.generation, tables: 1 })
    expect(typeof result.generation).toBe("string")
  })

  it("logs a dry run as a dry run, with an empty generation", async () => {
    const { entries, result } = await capturingLogs(async () => (await post("{\"dry_run\": true}")).status)
    expect(result).toBe(200)
    expect(entries.find((e) => e.message === "sync published")).toBeUndefined()
    const entry = entries.find((e) => e.message === "sync dry run")
    expect(entry?.["logging.googleapis.com/labels"]).toEqual({ object: documentPath(), generation: "", tables: 1 })
  })

  it("does not log the caller's malformed URL as an incident", async () => {
    const { entries, result } = await capturingLogs(async () => (await fetch(`${base}/%E0%A4%A`, { method: "POST" })).status)
    expect(result).toBe(400)
    expect(entries.filter((e) => e.severity === "ERROR")).toEqual([])
  })
})

describe("answers to a run's outcome", () => {
  it("answers a defect with 500, a short message and an incident id, never its stack", () => {
    const answer = answerOf(Exit.die(new Error(`boom in ${process.cwd()}/src/sync/SyncProgram.ts`)), "incident-1")
    expect(answer.status).toBe(500)
    expect(answer.body).toEqual({
      error: {
        tag: "InternalError",
        message: "the function failed unexpectedly; its log has the details under incident_id incident-1",
        incident_id: "incident-1"
      }
    })
    expectNoInternals(JSON.stringify(answer.body))
  })

  it("answers an error raised around the function by its status when it is the caller's, else as internal", () => {
    const malformed = answerOfFrameworkError(Object.assign(new Error("Failed to decode param"), { status: 400 }), "incident-2")
    expect(malformed).toEqual({
      status: 400,
      body: { error: { tag: "InvalidRequest", message: "the request could not be read (HTTP 400)" } }
    })
    const broken = answerOfFrameworkError(new Error(`boom in ${process.cwd()}/node_modules/router/index.js:42`), "incident-3")
    expect(broken.status).toBe(500)
    expect(broken.body).toMatchObject({ error: { tag: "InternalError", incident_id: "incident-3" } })
    expectNoInternals(JSON.stringify(broken.body))
  })

  it("answers a failure with its tag and fields, without a stack", () => {
    const error = new PreconditionFailed({
      service: "storage",
      operation: "objects.insert",
      resource: "gs://b/o",
      expected_generation: "1",
      message: "a newer document is already published"
    })
    const answer = answerOf(Exit.fail(error))
    expect(answer.status).toBe(409)
    expect(answer.body).toEqual({
      error: {
        _tag: "PreconditionFailed",
        tag: "PreconditionFailed",
        service: "storage",
        operation: "objects.insert",
        resource: "gs://b/o",
        expected_generation: "1",
        message: "a newer document is already published"
      }
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
