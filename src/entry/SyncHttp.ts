/**
 * The HTTP contract of the sync function: which requests start a sync, and how a run's outcome
 * becomes a status code and a JSON body.
 *
 * Statuses are chosen for Cloud Scheduler, which retries non-2xx answers per its retry config:
 * 503 for a transient failure (worth retrying), 409 when another run already published a newer
 * document (retrying cannot help), 4xx for the caller's mistakes, 500 for everything else.
 */
import { randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import * as Cause from "effect/Cause"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type { SyncOptions, SyncSummary } from "../sync/SyncProgram.ts"

export interface HttpAnswer {
  readonly status: number
  readonly body: unknown
  readonly headers?: Readonly<Record<string, string>>
}

/** The largest request body accepted; a sync request needs a few bytes at most. */
export const MAX_REQUEST_BYTES = 16 * 1024

const refuse = (status: number, tag: string, message: string, headers?: Record<string, string>): HttpAnswer => ({
  status,
  body: { error: { tag, message } },
  ...(headers === undefined ? {} : { headers })
})

/** An id that ties a 500 answer to the log entry holding its details. */
export const newIncidentId = (): string => randomUUID()

/**
 * The answer to a fault inside the function: a short message and an id, never the cause itself
 * (a stack trace names source files); the caller logs the cause under the same id.
 */
export const internalError = (incidentId: string): HttpAnswer => ({
  status: 500,
  body: {
    error: {
      tag: "InternalError",
      message: `the function failed unexpectedly; its log has the details under incident_id ${incidentId}`,
      incident_id: incidentId
    }
  }
})

const tooLarge = (bytes: string): HttpAnswer =>
  refuse(413, "RequestTooLarge", `the request body has ${bytes} bytes; at most ${MAX_REQUEST_BYTES} are accepted`, {
    // The rest of the body is never read: the connection cannot carry another request.
    Connection: "close"
  })

/**
 * Reads the request body, at most `MAX_REQUEST_BYTES` of it, before anything else does: a body
 * announced larger is refused from its `Content-Length` without reading a byte, and a chunked
 * body is refused as soon as it passes the cap, so an instance never holds more than the cap
 * per request whatever is sent.
 */
export const readRequestBody = (req: IncomingMessage): Promise<Either.Either<Uint8Array, HttpAnswer>> => {
  const encoding = req.headers["content-encoding"]
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
    return Promise.resolve(Either.left(
      refuse(415, "UnsupportedMediaType", `the request body must not be compressed (Content-Encoding: ${encoding})`)
    ))
  }
  const declared = req.headers["content-length"]
  if (declared !== undefined && Number(declared) > MAX_REQUEST_BYTES) return Promise.resolve(Either.left(tooLarge(declared)))
  return new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    let received = 0
    const finish = (result: Either.Either<Uint8Array, HttpAnswer>) => {
      req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onError)
      resolve(result)
    }
    const onData = (chunk: Buffer) => {
      received += chunk.byteLength
      if (received > MAX_REQUEST_BYTES) {
        req.pause()
        finish(Either.left(tooLarge(`more than ${MAX_REQUEST_BYTES}`)))
      } else {
        chunks.push(chunk)
      }
    }
    const onEnd = () => finish(Either.right(Buffer.concat(chunks)))
    const onError = () => finish(Either.left(refuse(400, "InvalidRequest", "the request body could not be read")))
    // A client that goes away mid-body ends the read without an `end`.
    req.on("data", onData).on("end", onEnd).on("error", onError).on("close", onError)
  })
}

/** Request fields that try to choose what is synced: the deployment's configuration decides that. */
const TARGETING_FIELDS = new Set(["table", "tables", "table_id", "target", "targets", "bucket", "object", "project"])

/** A JSON value named by its kind, never echoed: a request's value may be huge or deeply nested. */
const kindOf = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`

/**
 * Checks the method and body. The body is optional; when present it is a JSON object, sent as
 * `application/json`, whose only fields are `dry_run` and `full` (booleans). A body is never ignored: one this
 * function cannot read is refused, so a request never does something other than it asked.
 */
export const parseSyncRequest = (
  method: string,
  rawBody: Uint8Array | undefined,
  contentType: string | undefined
): Either.Either<SyncOptions, HttpAnswer> => {
  if (method !== "POST") {
    return Either.left(refuse(405, "MethodNotAllowed", `${method} is not supported; POST starts a sync`, { Allow: "POST" }))
  }
  if (rawBody === undefined || rawBody.byteLength === 0) return Either.right({})
  if (rawBody.byteLength > MAX_REQUEST_BYTES) return Either.left(tooLarge(String(rawBody.byteLength)))
  if (contentType === undefined || !/^application\/json\s*(;|$)/i.test(contentType)) {
    return Either.left(
      refuse(
        415,
        "UnsupportedMediaType",
        `the request body must be sent as application/json, not ${contentType ?? "without a Content-Type"}`
      )
    )
  }
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(rawBody))
  } catch (cause) {
    return Either.left(
      refuse(400, "InvalidRequest", `the request body is not JSON: ${cause instanceof Error ? cause.message : "unreadable"}`)
    )
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return Either.left(refuse(400, "InvalidRequest", "the request body must be a JSON object, such as {} or {\"dry_run\": true}"))
  }
  for (const key of Object.keys(body)) {
    if (TARGETING_FIELDS.has(key)) {
      return Either.left(
        refuse(
          400,
          "InvalidRequest",
          `"${key}" cannot be set by a request: this function syncs only what its configuration names (TARGET_TABLE_ID, GCS_BUCKET, CACHE_OBJECT)`
        )
      )
    }
    if (key !== "dry_run" && key !== "full") {
      return Either.left(
        refuse(400, "InvalidRequest", `unknown field "${key.slice(0, 64)}"; the only fields accepted are "dry_run" and "full"`)
      )
    }
  }
  const options: { dryRun?: boolean; full?: boolean } = {}
  for (const [key, option] of [["dry_run", "dryRun"], ["full", "full"]] as const) {
    const value = (body as Record<string, unknown>)[key]
    if (value !== undefined && typeof value !== "boolean") {
      return Either.left(refuse(400, "InvalidRequest", `"${key}" must be true or false, not ${kindOf(value)}`))
    }
    if (value === true) options[option] = true
  }
  return Either.right(options)
}

/**
 * The answer to an error raised by the framework around the function (Express's router, say a
 * malformed URL): its status when it is the caller's mistake, otherwise an internal error, in
 * this function's JSON shape rather than Express's HTML page.
 */
export const answerOfFrameworkError = (error: unknown, incidentId: string): HttpAnswer => {
  const status = typeof error === "object" && error !== null
    ? (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode
    : undefined
  return typeof status === "number" && status >= 400 && status < 500
    ? refuse(status, "InvalidRequest", `the request could not be read (HTTP ${status})`)
    : internalError(incidentId)
}

/** A Map, not an object literal: a tag such as "toString" must not find `Object.prototype`'s. */
const STATUS_BY_TAG: ReadonlyMap<string, number> = new Map([
  ["RemoteUnavailable", 503],
  ["RemoteTimeout", 503],
  ["PreconditionFailed", 409]
])

const statusOf = (error: { readonly _tag: string }): number =>
  error._tag === "AllTablesFailed" && (error as { readonly transient?: boolean }).transient === true
    ? 503
    : STATUS_BY_TAG.get(error._tag) ?? 500

/** A failure's fields as the caller needs them; a stack or cause (which name source files) stays in the log. */
const failureBody = (error: { readonly _tag: string; readonly message: string }) => {
  const { cause: _cause, stack: _stack, ...fields } = error as typeof error & { cause?: unknown; stack?: unknown }
  return { error: { ...fields, tag: error._tag, message: error.message } }
}

/**
 * The HTTP answer for a finished run. A defect answers `internalError(incidentId)`: log the
 * cause under the same id.
 */
export const answerOf = (
  exit: Exit.Exit<SyncSummary, { readonly _tag: string; readonly message: string }>,
  incidentId: string = newIncidentId()
): HttpAnswer =>
  Exit.match(exit, {
    onSuccess: (summary) => ({ status: 200, body: summary }),
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onSome: (error) => ({ status: statusOf(error), body: failureBody(error) }),
        onNone: () => internalError(incidentId)
      })
  })
