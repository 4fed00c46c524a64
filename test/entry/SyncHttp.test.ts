/**
 * The HTTP contract of the sync function, unit by unit (no server): which requests start a sync,
 * which are refused and how, and how a run's outcome becomes a status and a body. Every expected
 * status and message is written out by hand from the contract in SyncHttp.ts's doc comments.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type { IncomingMessage } from "node:http"
import { PassThrough } from "node:stream"
import {
  answerOf,
  answerOfFrameworkError,
  type HttpAnswer,
  internalError,
  MAX_REQUEST_BYTES,
  newIncidentId,
  parseSyncRequest,
  readRequestBody
} from "../../src/entry/SyncHttp.ts"
import { PreconditionFailed, RemoteTimeout, RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { AllTablesFailed } from "../../src/sync/assemble.ts"
import type { SyncSummary } from "../../src/sync/SyncProgram.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const JSON_TYPE = "application/json"

/** The refusal, or a failed expectation when the request was accepted. */
const refusal = <A>(result: Either.Either<A, HttpAnswer>): HttpAnswer => {
  if (Either.isRight(result)) throw new Error(`accepted: ${JSON.stringify(result.right)}`)
  return result.left
}

const invalid = (message: string): HttpAnswer => ({ status: 400, body: { error: { tag: "InvalidRequest", message } } })

describe("parseSyncRequest", () => {
  it("accepts a POST without a body, or with an empty one, whatever its Content-Type", () => {
    expect(parseSyncRequest("POST", undefined, undefined)).toEqual(Either.right({}))
    expect(parseSyncRequest("POST", new Uint8Array(0), undefined)).toEqual(Either.right({}))
    expect(parseSyncRequest("POST", new Uint8Array(0), "text/plain")).toEqual(Either.right({}))
  })

  it("refuses every method but POST, naming it, with Allow: POST", () => {
    expect(refusal(parseSyncRequest("GET", undefined, undefined))).toEqual({
      status: 405,
      body: { error: { tag: "MethodNotAllowed", message: "GET is not supported; POST starts a sync" } },
      headers: { Allow: "POST" }
    })
    expect(refusal(parseSyncRequest("post", bytes("{}"), JSON_TYPE)).status).toBe(405)
  })

  it("reads dry_run: true as a dry run, false or absent as a real run", () => {
    expect(parseSyncRequest("POST", bytes("{\"dry_run\": true}"), JSON_TYPE)).toEqual(Either.right({ dryRun: true }))
    expect(parseSyncRequest("POST", bytes("{\"dry_run\": false}"), JSON_TYPE)).toEqual(Either.right({}))
    expect(parseSyncRequest("POST", bytes("{}"), JSON_TYPE)).toEqual(Either.right({}))
  })

  it("accepts application/json in any case, with parameters or trailing spaces", () => {
    for (const type of ["application/json; charset=utf-8", "APPLICATION/JSON", "Application/Json;charset=UTF-8", "application/json  "]) {
      expect(parseSyncRequest("POST", bytes("{\"dry_run\": true}"), type), type).toEqual(Either.right({ dryRun: true }))
    }
  })

  it("refuses a body sent as another type, or without one, naming what was sent", () => {
    const unsupported = (message: string): HttpAnswer => ({
      status: 415,
      body: { error: { tag: "UnsupportedMediaType", message } }
    })
    expect(refusal(parseSyncRequest("POST", bytes("{}"), undefined))).toEqual(
      unsupported("the request body must be sent as application/json, not without a Content-Type")
    )
    expect(refusal(parseSyncRequest("POST", bytes("{}"), "text/plain"))).toEqual(
      unsupported("the request body must be sent as application/json, not text/plain")
    )
    for (const type of ["application/jsonp", "text/application/json", "application/json-seq", "", "x application/json"]) {
      expect(refusal(parseSyncRequest("POST", bytes("{}"), type)).status, type).toBe(415)
    }
  })

  it("accepts a body of exactly 16 KiB and refuses one byte more, with Connection: close", () => {
    expect(MAX_REQUEST_BYTES).toBe(16384)
    const padded = (size: number) => bytes(`{"dry_run": true}${" ".repeat(size - 17)}`)
    expect(parseSyncRequest("POST", padded(16384), JSON_TYPE)).toEqual(Either.right({ dryRun: true }))
    expect(refusal(parseSyncRequest("POST", padded(16385), JSON_TYPE))).toEqual({
      status: 413,
      body: { error: { tag: "RequestTooLarge", message: "the request body has 16385 bytes; at most 16384 are accepted" } },
      headers: { Connection: "close" }
    })
  })

  it("a refusal without headers carries no headers field", () => {
    const answer = refusal(parseSyncRequest("POST", bytes("[]"), JSON_TYPE))
    expect(Object.keys(answer)).toEqual(["status", "body"])
  })

  it("refuses a body that is not JSON, or not UTF-8, saying so", () => {
    const notJson = refusal(parseSyncRequest("POST", bytes("{nope"), JSON_TYPE))
    expect(notJson.status).toBe(400)
    expect(notJson.body).toMatchObject({ error: { tag: "InvalidRequest", message: expect.stringMatching(/^the request body is not JSON: ./) } })
    // 0xFF never occurs in UTF-8: refused, not read with a replacement character.
    const latin1 = refusal(parseSyncRequest("POST", new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), JSON_TYPE))
    expect(latin1.status).toBe(400)
    expect(latin1.body).toMatchObject({ error: { tag: "InvalidRequest", message: expect.stringMatching(/^the request body is not JSON: ./) } })
  })

  it("refuses JSON that is not an object", () => {
    const notObject = invalid("the request body must be a JSON object, such as {} or {\"dry_run\": true}")
    for (const body of ["null", "[]", "[{\"dry_run\": true}]", "true", "1", "\"dry_run\""]) {
      expect(refusal(parseSyncRequest("POST", bytes(body), JSON_TYPE)), body).toEqual(notObject)
    }
  })

  it("refuses every field that would choose what is synced, naming it and the settings that do", () => {
    for (const field of ["table", "tables", "table_id", "target", "targets", "bucket", "object", "project"]) {
      expect(refusal(parseSyncRequest("POST", bytes(`{"dry_run": true, "${field}": "x"}`), JSON_TYPE)), field).toEqual(
        invalid(
          `"${field}" cannot be set by a request: this function syncs only what its configuration names (TARGET_TABLE_ID, GCS_BUCKET, CACHE_OBJECT)`
        )
      )
    }
  })

  it("refuses an unknown field, naming at most its first 64 characters", () => {
    expect(refusal(parseSyncRequest("POST", bytes("{\"force\": true}"), JSON_TYPE))).toEqual(
      invalid("unknown field \"force\"; the only fields accepted are \"dry_run\" and \"full\"")
    )
    const long = "k".repeat(100)
    expect(refusal(parseSyncRequest("POST", bytes(`{"${long}": 1}`), JSON_TYPE))).toEqual(
      invalid(`unknown field "${"k".repeat(64)}"; the only fields accepted are "dry_run" and "full"`)
    )
    // Known fields first do not excuse an unknown one after them.
    expect(refusal(parseSyncRequest("POST", bytes("{\"dry_run\": false, \"Dry_Run\": true}"), JSON_TYPE))).toEqual(
      invalid("unknown field \"Dry_Run\"; the only fields accepted are \"dry_run\" and \"full\"")
    )
  })

  it("refuses a dry_run that is not a boolean, naming its kind and never its value", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["\"yes\"", "a string"],
      ["1", "a number"],
      ["0", "a number"],
      ["null", "null"],
      ["[true]", "an array"],
      ["{\"v\": true}", "an object"]
    ]
    for (const [value, kind] of cases) {
      expect(refusal(parseSyncRequest("POST", bytes(`{"dry_run": ${value}}`), JSON_TYPE)), value).toEqual(
        invalid(`"dry_run" must be true or false, not ${kind}`)
      )
    }
  })
})

/** A request whose body arrives as the test writes it. */
const request = (headers: Record<string, string>) =>
  Object.assign(new PassThrough(), { headers }) as unknown as PassThrough & IncomingMessage

describe("readRequestBody", () => {
  it("reads the whole body, in its chunks' order", async () => {
    const req = request({ "content-type": JSON_TYPE })
    const read = readRequestBody(req)
    req.write("{\"dry_")
    req.end("run\": true}")
    expect(await read).toEqual(Either.right(Buffer.from("{\"dry_run\": true}")))
  })

  it("reads a body of exactly 16 KiB and refuses one that grows past it, without a Content-Length", async () => {
    const exact = request({})
    const readExact = readRequestBody(exact)
    exact.write(Buffer.alloc(8192, 0x20))
    exact.end(Buffer.alloc(8192, 0x20))
    const body = await readExact
    expect(Either.isRight(body) && body.right.byteLength).toBe(16384)

    const over = request({})
    const readOver = readRequestBody(over)
    over.write(Buffer.alloc(8192, 0x20))
    over.write(Buffer.alloc(8193, 0x20))
    // The body never ends: the answer comes anyway.
    expect(await readOver).toEqual(Either.left({
      status: 413,
      body: { error: { tag: "RequestTooLarge", message: "the request body has more than 16384 bytes; at most 16384 are accepted" } },
      headers: { Connection: "close" }
    }))
    expect(over.isPaused()).toBe(true)
  })

  it("refuses a body announced over 16 KiB without reading it; one announced at 16 KiB is read", async () => {
    const announced = request({ "content-length": "16385" })
    expect(await readRequestBody(announced)).toEqual(Either.left({
      status: 413,
      body: { error: { tag: "RequestTooLarge", message: "the request body has 16385 bytes; at most 16384 are accepted" } },
      headers: { Connection: "close" }
    }))
    expect(announced.listenerCount("data")).toBe(0)

    const atCap = request({ "content-length": "16384" })
    const read = readRequestBody(atCap)
    atCap.end(Buffer.alloc(16384, 0x20))
    const body = await read
    expect(Either.isRight(body) && body.right.byteLength).toBe(16384)
  })

  it("refuses a compressed body, naming its encoding; identity in any case is no encoding", async () => {
    expect(await readRequestBody(request({ "content-encoding": "gzip" }))).toEqual(Either.left({
      status: 415,
      body: { error: { tag: "UnsupportedMediaType", message: "the request body must not be compressed (Content-Encoding: gzip)" } }
    }))
    const identity = request({ "content-encoding": "IDENTITY" })
    const read = readRequestBody(identity)
    identity.end("{}")
    expect(await read).toEqual(Either.right(Buffer.from("{}")))
  })

  it("answers 400 when the body cannot be read or the client goes away mid-body", async () => {
    const unreadable = invalid("the request body could not be read")
    const failing = request({})
    const readFailing = readRequestBody(failing)
    failing.write("{\"dry")
    failing.destroy(new Error("socket hang up"))
    expect(await readFailing).toEqual(Either.left(unreadable))

    const gone = request({})
    const readGone = readRequestBody(gone)
    gone.write("{\"dry")
    gone.emit("close")
    expect(await readGone).toEqual(Either.left(unreadable))
  })

  it("lets go of the request once the body is read", async () => {
    const req = request({})
    const read = readRequestBody(req)
    req.end("{}")
    await read
    for (const event of ["data", "end", "error", "close"]) expect(req.listenerCount(event), event).toBe(0)
  })
})

describe("answerOfFrameworkError", () => {
  it("answers the caller's mistakes (4xx, from status or statusCode) with their status", () => {
    const mistake = (status: number): HttpAnswer => ({ ...invalid(`the request could not be read (HTTP ${status})`), status })
    expect(answerOfFrameworkError({ status: 400 }, "i")).toEqual(mistake(400))
    expect(answerOfFrameworkError({ statusCode: 414 }, "i")).toEqual(mistake(414))
    expect(answerOfFrameworkError({ status: 499 }, "i")).toEqual(mistake(499))
    expect(answerOfFrameworkError(Object.assign(new Error("x"), { status: 413, statusCode: 500 }), "i")).toEqual(mistake(413))
  })

  it("answers anything else as an internal error carrying the incident id", () => {
    for (const error of [{ status: 500 }, { status: 399 }, { statusCode: 503 }, { status: "400" }, new Error("boom"), "400", 400, null, undefined]) {
      expect(answerOfFrameworkError(error, "incident-9"), String(error)).toEqual(internalError("incident-9"))
    }
  })
})

describe("answerOf", () => {
  const call = { service: "storage", operation: "objects.insert", resource: "gs://b/o" } as const

  it("answers a finished run with 200 and its summary", () => {
    const summary = { status: "ok", object: "gs://b/o", table_count: 1 } as unknown as SyncSummary
    expect(answerOf(Exit.succeed(summary), "i")).toEqual({ status: 200, body: summary })
  })

  it("answers transient failures with 503, a newer document with 409, anything else with 500", () => {
    const unavailable = new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 5 })
    const timeout = new RemoteTimeout({ ...call, timeout_ms: 30000, attempts: 5 })
    const newer = new PreconditionFailed({ ...call, expected_generation: "1", message: "newer" })
    const failures = [{ table_id: "p.d.t", tag: "RemoteTimeout", message: "slow" }]
    const statuses = [
      unavailable,
      timeout,
      newer,
      new AllTablesFailed({ failures, transient: true }),
      new AllTablesFailed({ failures, transient: false }),
      { _tag: "InvalidConfig", message: "GCS_BUCKET is missing" },
      { _tag: "toString", message: "a tag named like an Object method" },
      // Only AllTablesFailed reads `transient`.
      { _tag: "InvalidConfig", message: "GCS_BUCKET is missing", transient: true }
    ].map((error) => answerOf(Exit.fail(error), "i").status)
    expect(statuses).toEqual([503, 503, 409, 503, 500, 500, 500, 500])
  })

  it("answers a failure with its fields, its tag and message, never its cause or stack", () => {
    const error = Object.assign(new Error("bad config"), { _tag: "InvalidConfig", setting: "GCS_BUCKET", cause: new Error("inner") })
    const answer = answerOf(Exit.fail(error), "i")
    expect(answer).toEqual({ status: 500, body: { error: { _tag: "InvalidConfig", setting: "GCS_BUCKET", tag: "InvalidConfig", message: "bad config" } } })
    const timeout = answerOf(Exit.fail(new RemoteTimeout({ ...call, timeout_ms: 30000, attempts: 2 })), "i")
    expect(timeout.body).toEqual({
      error: {
        _tag: "RemoteTimeout",
        tag: "RemoteTimeout",
        ...call,
        timeout_ms: 30000,
        attempts: 2,
        message: "storage objects.insert on gs://b/o did not answer within 30000 ms (attempts: 2)"
      }
    })
  })

  it("answers a defect or an interruption as an internal error, with a fresh incident id when none is given", () => {
    expect(answerOf(Exit.die("bug"), "incident-7")).toEqual(internalError("incident-7"))
    expect(answerOf(Exit.interrupt(0 as never), "incident-8")).toEqual(internalError("incident-8"))
    const fresh = answerOf(Exit.die("bug"))
    const id = (fresh.body as { error: { incident_id: string } }).error.incident_id
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(newIncidentId()).not.toBe(newIncidentId())
  })

  it("internalError says where the details are, and nothing else", () => {
    expect(internalError("abc")).toEqual({
      status: 500,
      body: {
        error: {
          tag: "InternalError",
          message: "the function failed unexpectedly; its log has the details under incident_id abc",
          incident_id: "abc"
        }
      }
    })
  })
})
