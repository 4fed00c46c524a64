/**
 * The function as a user runs it: the built bundle (`npm run build`) served by functions-framework
 * in a child process, configured only through its environment, talking to a local BigQuery and a
 * local Cloud Storage through the emulator variables. The published document is read back the
 * way the backend reads it, through MetaSync's loader.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { createCacheLoader } from "../../src/loader/index.ts"
import type { SyncSummary } from "../../src/sync/SyncProgram.ts"
import { type FakeBigQuery, type FakeField, Fault, start as startBigQuery } from "../support/FakeBigQueryServer.ts"
import { type FakeGcs, start as startGcs } from "../support/FakeGcsServer.ts"
import {
  arrangeGa4,
  BUCKET,
  GA4_FIELDS,
  GA4_LAST_MODIFIED_MS,
  GA4_REST_TABLE,
  OBJECT,
  PROJECT,
  publishedObject
} from "../support/LiveTestEnvironment.ts"
import { GA4_TABLE_ID } from "../support/TestLayers.ts"

const ROOT = fileURLToPath(new URL("../..", import.meta.url))
const FUNCTIONS_FRAMEWORK = path.join(ROOT, "node_modules/@google-cloud/functions-framework/build/src/main.js")
/** Generous: the child loads the bundle and both Google clients on a possibly busy machine. */
const STARTUP_DEADLINE_MS = 30_000

interface ErrorBody {
  readonly error: {
    readonly tag: string
    readonly message: string
    readonly failures?: ReadonlyArray<{ readonly table_id: string; readonly tag: string }>
  }
}

let bigQuery: FakeBigQuery
let gcs: FakeGcs
let curatedDir: string
let child: ChildProcess
let childExit: Promise<unknown>
let stdout = ""
let stderr = ""
let base: string

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** Resolves once `check` holds, polling; rejects after `deadlineMs` (or when the child has exited). */
const waitFor = async (what: string, check: () => boolean | Promise<boolean>, deadlineMs: number) => {
  const deadline = Date.now() + deadlineMs
  while (!(await check())) {
    if (child.exitCode !== null) {
      throw new Error(`the function exited (${child.exitCode}) before ${what}:\n${stdout}\n${stderr}`)
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within ${deadlineMs} ms; output so far:\n${stdout}\n${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The complete JSON lines of `output` (a line still being written is left out). */
const jsonLines = (output: string): ReadonlyArray<Record<string, unknown>> =>
  output.split("\n").slice(0, -1).flatMap((line) => {
    try {
      const value: unknown = JSON.parse(line)
      return typeof value === "object" && value !== null ? [value as Record<string, unknown>] : []
    } catch {
      return []
    }
  })

const listening = () =>
  fetch(base, { method: "GET" }).then(() => true, () => false)

const post = (body = "{}") => fetch(base, { method: "POST", body, headers: { "content-type": "application/json" } })

beforeAll(async () => {
  // `npm run build` is `node scripts/build.ts`: run it with this Node (22) directly.
  await promisify(execFile)(process.execPath, ["scripts/build.ts"], { cwd: ROOT })
  ;[bigQuery, gcs] = await Promise.all([startBigQuery(), startGcs()])
  arrangeGa4(bigQuery)
  curatedDir = await fs.mkdtemp(path.join(os.tmpdir(), "metasync-curated-"))
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  // Only what the deployment sets: no credentials, no LLM key, no webhook from the developer's shell.
  child = spawn(process.execPath, [FUNCTIONS_FRAMEWORK, "--target=update_metadata_cache", `--port=${port}`], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      METASYNC_MODE: "live",
      GOOGLE_CLOUD_PROJECT: PROJECT,
      TARGET_TABLE_ID: GA4_TABLE_ID,
      GCS_BUCKET: BUCKET,
      STORAGE_EMULATOR_HOST: gcs.url,
      BIGQUERY_EMULATOR_HOST: bigQuery.url,
      CURATED_EXAMPLES_DIR: curatedDir,
      RETRY_MAX_ATTEMPTS: "2"
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  childExit = new Promise((resolve) => child.once("exit", resolve))
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  await waitFor("listening port", listening, STARTUP_DEADLINE_MS)
})

afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    child.kill("SIGTERM")
    await childExit
  }
  await Promise.all([bigQuery?.close(), gcs?.close()])
  if (curatedDir !== undefined) await fs.rm(curatedDir, { recursive: true, force: true })
})

interface EncodedField {
  readonly name: string
  readonly type: string
  readonly mode: string
  readonly description?: string | null | undefined
  readonly fields?: ReadonlyArray<EncodedField> | undefined
}

/** Every column at every depth, as BigQuery served it (mode NULLABLE when absent, description null when absent). */
const expectSameColumns = (
  actual: ReadonlyArray<EncodedField>,
  served: ReadonlyArray<FakeField>,
  parent = ""
) => {
  expect(actual.map((f) => f.name), `the fields of ${parent || "the table"}`).toEqual(served.map((f) => f.name))
  served.forEach((field, i) => {
    const column = actual[i]
    const at = parent === "" ? field.name : `${parent}.${field.name}`
    expect({ at, type: column.type, mode: column.mode, description: column.description ?? null }).toEqual({
      at,
      type: field.type,
      mode: field.mode ?? "NULLABLE",
      description: field.description ?? null
    })
    expect(column.fields === undefined, `whether ${at} has nested fields`).toBe(field.fields === undefined)
    if (field.fields !== undefined) expectSameColumns(column.fields ?? [], field.fields, at)
  })
}


describe("the function in its own process", () => {
  it("answers a POST with the run's summary and publishes what BigQuery described", async () => {
    const tableReadsBefore = bigQuery.requestsOf("tables.get").length
    const response = await post()
    const text = await response.text()
    expect(response.status, text).toBe(200)
    const summary = JSON.parse(text) as SyncSummary
    const stored = publishedObject(gcs)
    expect(summary).toMatchObject({
      status: "ok",
      table_count: 1,
      column_count: GA4_FIELDS.length,
      tables: [{ table_id: GA4_TABLE_ID, columns: GA4_FIELDS.length, state: "fresh" }],
      failed_tables: [],
      object: `gs://${BUCKET}/${OBJECT}`,
      generation: stored?.generation
    })
    expect(bigQuery.requestsOf("tables.get")).toHaveLength(tableReadsBefore + 1)

    const loader = createCacheLoader({ bucket: BUCKET, apiEndpoint: gcs.url })
    try {
      const table = await loader.getTable(GA4_TABLE_ID)
      expect(table).toBeDefined()
      expect(table).toMatchObject({
        table_id: GA4_TABLE_ID,
        kind: "TABLE",
        description: GA4_REST_TABLE.description,
        last_updated: new Date(GA4_LAST_MODIFIED_MS).toISOString(),
        row_count: Number(GA4_REST_TABLE.numRows),
        size_bytes: Number(GA4_REST_TABLE.numBytes),
        status: { state: "fresh" }
      })
      expectSameColumns(table?.columns ?? [], GA4_FIELDS)

      const examples = await loader.getFewShotExamples()
      expect(examples.length).toBe(summary.example_count)
      expect(examples.length).toBeGreaterThanOrEqual(4)
      for (const example of examples) {
        expect(example.tables).toEqual([GA4_TABLE_ID])
        expect(example.sql).toContain("`nlq-ex.test_dataset.events_20210131`")
      }
      expect((await loader.getCacheMetadata()).generation).toBe(summary.generation)
    } finally {
      await loader.close()
    }
  })

  it("answers a run that fails for good with 500 and its tag, and logs it as an ERROR entry", async () => {
    // Arranged here, not left by another test: a document that the failed run must leave as it was.
    const arranged = await post()
    expect(arranged.status, await arranged.text()).toBe(200)
    const before = publishedObject(gcs)
    expect(before).toBeDefined()
    const logFrom = stdout.length
    bigQuery.faults.inject(Fault.status(403, "accessDenied"), { kind: "tables.get" })

    const response = await post()

    expect(response.status).toBe(500)
    const body = (await response.json()) as ErrorBody
    expect(body.error).toMatchObject({
      tag: "AllTablesFailed",
      failures: [{ table_id: GA4_TABLE_ID, tag: "PermissionDenied" }]
    })
    expect(body.error.message).toContain("Injected fault: HTTP 403")
    const errorLine = () =>
      jsonLines(stdout.slice(logFrom)).find((entry) => entry.severity === "ERROR" && entry.message === "sync failed")
    await waitFor("ERROR log line", () => errorLine() !== undefined, 10_000)
    expect(String(errorLine()?.error)).toContain("AllTablesFailed")
    // The document published before is still there, untouched.
    expect(publishedObject(gcs)?.generation).toBe(before?.generation)
  })

  it("reads request bodies itself: none ignored, none buffered past the cap, no HTML error page", async () => {
    const before = publishedObject(gcs)
    // No Content-Type: functions-framework's parsers skip such a body; the function must not.
    const untyped = await fetch(base, { method: "POST", body: new TextEncoder().encode("{\"dry_run\": true}") })
    expect(untyped.status).toBe(415)
    expect(((await untyped.json()) as ErrorBody).error.tag).toBe("UnsupportedMediaType")

    const malformed = await post("{nope")
    const text = await malformed.text()
    expect(malformed.status).toBe(400)
    expect((JSON.parse(text) as ErrorBody).error.tag).toBe("InvalidRequest")
    expect(text).not.toMatch(/\n\s+at \S|\.js:\d+|node_modules|<pre>/)

    // A body announced at 100 MB gets its 413 while the client has sent none of it.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(base).port), "127.0.0.1")
      let received = ""
      socket.setEncoding("utf8").on("data", (chunk: string) => {
        received += chunk
        if (received.includes("RequestTooLarge")) {
          socket.destroy()
          resolve(received)
        }
      })
      socket.on("error", reject).on("close", () => reject(new Error(`closed without an answer: ${received}`)))
      socket.write("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
    })
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(publishedObject(gcs)?.generation).toBe(before?.generation)
  })
})
