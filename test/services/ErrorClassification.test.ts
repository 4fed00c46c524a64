/**
 * Which failures of the Google clients are retried and which fail at once: every rule of the one
 * mapping (`fromGoogleError`), with the error shapes the clients really throw and the tagged error
 * each must become. Expected values are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import { fromGoogleError, type RemoteCallContext } from "../../src/services/GoogleErrors.ts"
import {
  isTransient,
  PermissionDenied,
  PreconditionFailed,
  RemoteRejected,
  RemoteTimeout,
  RemoteUnavailable,
  ResourceNotFound
} from "../../src/services/RemoteErrors.ts"

const context: RemoteCallContext = { service: "storage", operation: "objects.insert", resource: "gs://b/doc.json" }
const call = { service: "storage", operation: "objects.insert", resource: "gs://b/doc.json" } as const

/** An `ApiError` as both Google clients throw it: numeric `code`, `errors[].reason`, a message. */
const apiError = (code: number, message: string, reasons: ReadonlyArray<string> = []) =>
  Object.assign(new Error(message), { code, errors: reasons.map((reason) => ({ reason, message })) })

/** A socket-level failure: a string `code`. */
const networkError = (code: string, message = `connect ${code} 127.0.0.1:443`) => Object.assign(new Error(message), { code })

/** The error's fields as plain data (an Error's `message` is not an own enumerable property). */
const plain = (error: { readonly _tag: string; readonly message: string }) => ({ ...error, message: error.message })

describe("transient failures become RemoteUnavailable", () => {
  it("a 503 without any reason is transient (not only the ones that carry backendError)", () => {
    const error = fromGoogleError(context, apiError(503, "Service Unavailable"))
    expect(error).toBeInstanceOf(RemoteUnavailable)
    expect(plain(error)).toEqual({
      _tag: "RemoteUnavailable",
      ...call,
      status: 503,
      reason: "unavailable",
      message: "Service Unavailable",
      attempts: 1
    })
    expect(isTransient(error)).toBe(true)
  })

  it.each([408, 429, 500, 502, 503, 504])("HTTP %i with no reason is transient", (status) => {
    const error = fromGoogleError(context, apiError(status, `HTTP ${status}`))
    expect(error._tag).toBe("RemoteUnavailable")
    expect(plain(error)).toMatchObject({ status, reason: "unavailable", message: `HTTP ${status}` })
  })

  it("a 503 that carries backendError keeps the reason", () => {
    const error = fromGoogleError(context, apiError(503, "Backend Error", ["backendError"]))
    expect(plain(error)).toEqual({ _tag: "RemoteUnavailable", ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 1 })
  })

  it.each(["rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError", "jobRateLimitExceeded"])(
    "reason %s is transient even on a 403 or a 400",
    (reason) => {
      for (const status of [403, 400]) {
        const error = fromGoogleError(context, apiError(status, "slow down", [reason]))
        expect(error._tag).toBe("RemoteUnavailable")
        expect(plain(error)).toMatchObject({ status, reason })
      }
    }
  )

  it("the first string reason counts, whatever comes before it", () => {
    const error = fromGoogleError(context, {
      code: 403,
      message: "quota",
      errors: [{ message: "no reason here" }, { reason: 7 }, { reason: "rateLimitExceeded" }, { reason: "forbidden" }]
    })
    expect(plain(error)).toMatchObject({ _tag: "RemoteUnavailable", status: 403, reason: "rateLimitExceeded" })
  })

  it.each([
    "ECONNRESET",
    "ECONNREFUSED",
    "EPIPE",
    "ETIMEDOUT",
    "EAI_AGAIN",
    "ENOTFOUND",
    "UND_ERR_SOCKET",
    "ERR_STREAM_PREMATURE_CLOSE"
  ])("network code %s is transient, with no status and the code as reason", (code) => {
    const error = fromGoogleError(context, networkError(code, "socket hang up"))
    expect(error._tag).toBe("RemoteUnavailable")
    expect(plain(error)).toEqual({ _tag: "RemoteUnavailable", ...call, status: null, reason: code, message: "socket hang up", attempts: 1 })
  })

  it("reads the network code from errno when code is absent", () => {
    const error = fromGoogleError(context, { errno: "ECONNRESET", message: "read ECONNRESET" })
    expect(plain(error)).toEqual({ _tag: "RemoteUnavailable", ...call, status: null, reason: "ECONNRESET", message: "read ECONNRESET", attempts: 1 })
  })

  it("reads the status from `status` when `code` is not a number", () => {
    const error = fromGoogleError(context, { status: 502, message: "Bad Gateway" })
    expect(plain(error)).toEqual({ _tag: "RemoteUnavailable", ...call, status: 502, reason: "unavailable", message: "Bad Gateway", attempts: 1 })
  })

  it("a wrapped socket error (FetchError with a cause) is transient and keeps the outer message", () => {
    const error = fromGoogleError(context, {
      message: "request to https://storage.googleapis.com failed",
      cause: { code: "ECONNRESET", message: "socket hang up" }
    })
    expect(plain(error)).toEqual({
      _tag: "RemoteUnavailable",
      ...call,
      status: null,
      reason: "ECONNRESET",
      message: "request to https://storage.googleapis.com failed",
      attempts: 1
    })
  })
})

describe("permanent failures fail at once", () => {
  it("404 is ResourceNotFound", () => {
    const error = fromGoogleError(context, apiError(404, "No such object: b/doc.json", ["notFound"]))
    expect(error).toBeInstanceOf(ResourceNotFound)
    expect(plain(error)).toEqual({ _tag: "ResourceNotFound", ...call, message: "No such object: b/doc.json" })
    expect(isTransient(error)).toBe(false)
  })

  it("a 404 without any reason is ResourceNotFound", () => {
    expect(fromGoogleError(context, { code: 404, message: "Not Found" })._tag).toBe("ResourceNotFound")
  })

  it("reason notFound without a 404 is ResourceNotFound too", () => {
    const error = fromGoogleError(context, apiError(400, "Not found: Dataset p:d", ["notFound"]))
    expect(error._tag).toBe("ResourceNotFound")
  })

  it.each([401, 403])("HTTP %i without a rate-limit reason is PermissionDenied", (status) => {
    const error = fromGoogleError(context, apiError(status, "denied", ["forbidden"]))
    expect(error).toBeInstanceOf(PermissionDenied)
    expect(plain(error)).toEqual({ _tag: "PermissionDenied", ...call, status, message: "denied" })
  })

  it("412 on a write under a generation precondition is PreconditionFailed with that generation", () => {
    const error = fromGoogleError(context, apiError(412, "conditionNotMet", ["conditionNotMet"]), "1234")
    expect(error).toBeInstanceOf(PreconditionFailed)
    expect(plain(error)).toEqual({ _tag: "PreconditionFailed", ...call, expected_generation: "1234", message: "conditionNotMet" })
  })

  it("412 without a precondition is an ordinary rejection", () => {
    const error = fromGoogleError(context, apiError(412, "precondition", ["conditionNotMet"]))
    expect(plain(error)).toEqual({
      _tag: "RemoteRejected",
      ...call,
      status: 412,
      reason: "conditionNotMet",
      message: "precondition"
    })
  })

  it("a 400 is RemoteRejected with the API's reason", () => {
    const error = fromGoogleError(context, apiError(400, "Syntax error", ["invalidQuery"]))
    expect(error).toBeInstanceOf(RemoteRejected)
    expect(plain(error)).toEqual({ _tag: "RemoteRejected", ...call, status: 400, reason: "invalidQuery", message: "Syntax error" })
  })

  it("an unknown network code is a rejection named by the code", () => {
    const error = fromGoogleError(context, networkError("ERR_TLS_CERT_ALTNAME_INVALID", "bad cert"))
    expect(plain(error)).toEqual({
      _tag: "RemoteRejected",
      ...call,
      status: null,
      reason: "ERR_TLS_CERT_ALTNAME_INVALID",
      message: "bad cert"
    })
  })

  it("an error with neither status, reason nor code is `rejected`", () => {
    const error = fromGoogleError(context, new Error("response was not JSON"))
    expect(plain(error)).toEqual({ _tag: "RemoteRejected", ...call, status: null, reason: "rejected", message: "response was not JSON" })
  })

  it("a cause without a code does not make the error transient", () => {
    const error = fromGoogleError(context, { message: "outer", cause: { message: "inner" } })
    expect(plain(error)).toEqual({ _tag: "RemoteRejected", ...call, status: null, reason: "rejected", message: "outer" })
  })

  it("a cause is not read when the error already has a status", () => {
    const error = fromGoogleError(context, { code: 400, message: "bad", cause: { code: "ECONNRESET" } })
    expect(plain(error)).toMatchObject({ _tag: "RemoteRejected", status: 400, reason: "rejected" })
  })

  it("a cause is not read when the error already has a network code", () => {
    const error = fromGoogleError(context, { code: "ERR_OSSL_BAD", message: "tls", cause: { code: "ECONNRESET" } })
    expect(plain(error)).toMatchObject({ _tag: "RemoteRejected", status: null, reason: "ERR_OSSL_BAD" })
  })

  it("a cause without a code leaves the error's own reason in place", () => {
    const error = fromGoogleError(context, { message: "outer", errors: [{ reason: "invalid" }], cause: { message: "inner" } })
    expect(plain(error)).toEqual({ _tag: "RemoteRejected", ...call, status: null, reason: "invalid", message: "outer" })
  })

  it("an error object without a message is named by its string form", () => {
    expect(plain(fromGoogleError(context, { code: 503 }))).toEqual({
      _tag: "RemoteUnavailable",
      ...call,
      status: 503,
      reason: "unavailable",
      message: "[object Object]",
      attempts: 1
    })
  })

  it("an error that is its own cause is read once", () => {
    const error: Record<string, unknown> = { message: "loop" }
    error.cause = error
    expect(plain(fromGoogleError(context, error))).toMatchObject({ _tag: "RemoteRejected", reason: "rejected", message: "loop" })
  })

  it("anything thrown that is not an object becomes its string", () => {
    expect(plain(fromGoogleError(context, "boom"))).toEqual({
      _tag: "RemoteRejected",
      ...call,
      status: null,
      reason: "rejected",
      message: "boom"
    })
    expect(plain(fromGoogleError(context, null))).toMatchObject({ _tag: "RemoteRejected", message: "null" })
    expect(plain(fromGoogleError(context, 503))).toMatchObject({ _tag: "RemoteRejected", status: null, message: "503" })
  })

  it("an empty message falls back to the error's string form", () => {
    expect(fromGoogleError(context, Object.assign(new Error(""), { code: 400 })).message).toBe("Error")
    expect(fromGoogleError(context, { code: 400, message: 42 }).message).toBe("[object Object]")
  })
})

describe("isTransient reads the tag", () => {
  it("only RemoteUnavailable and RemoteTimeout are transient", () => {
    expect(isTransient({ _tag: "RemoteUnavailable" })).toBe(true)
    expect(isTransient({ _tag: "RemoteTimeout" })).toBe(true)
    for (const tag of ["ResourceNotFound", "PermissionDenied", "RemoteRejected", "PreconditionFailed", "InvalidConfig"]) {
      expect(isTransient({ _tag: tag })).toBe(false)
    }
  })

  it("a timeout says which call, how long and how many attempts", () => {
    const timeout = new RemoteTimeout({ ...call, timeout_ms: 30000, attempts: 2 })
    expect(timeout.message).toBe("storage objects.insert on gs://b/doc.json did not answer within 30000 ms (attempts: 2)")
    expect(timeout._tag).toBe("RemoteTimeout")
  })
})
