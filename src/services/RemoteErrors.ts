/**
 * The errors a remote service (BigQuery, Cloud Storage, …) can fail with, as data.
 *
 * Each Google client error is mapped once, in the live layer, to one of these tags; the retry
 * policy reads the tag (`isTransient`), never a message string.
 */
import * as Schema from "effect/Schema"

/** Which remote service failed. */
export const RemoteServiceName = Schema.Literal("bigquery", "storage", "llm", "webhook", "vertex")
export type RemoteServiceName = typeof RemoteServiceName.Type

const RemoteCall = {
  service: RemoteServiceName,
  /** The client operation, e.g. `tables.get`, `objects.insert`. */
  operation: Schema.String,
  /** What was addressed: a table id, `gs://bucket/object`, a URL. */
  resource: Schema.String
}

/** A failure worth retrying: rate limit, 5xx, dropped connection. */
export class RemoteUnavailable extends Schema.TaggedError<RemoteUnavailable>()("RemoteUnavailable", {
  ...RemoteCall,
  /** HTTP status, or `null` for a network-level failure. */
  status: Schema.NullOr(Schema.Number),
  /** The API's reason (`rateLimitExceeded`, `backendError`) or the network error code (`ECONNRESET`). */
  reason: Schema.String,
  message: Schema.String,
  /** How many attempts were made before giving up (1 until the retry policy has run). */
  attempts: Schema.Number
}) {}

/** The call did not answer within its deadline. Retried like `RemoteUnavailable`. */
export class RemoteTimeout extends Schema.TaggedError<RemoteTimeout>()("RemoteTimeout", {
  ...RemoteCall,
  timeout_ms: Schema.Number,
  attempts: Schema.Number
}) {
  override get message(): string {
    return `${this.service} ${this.operation} on ${this.resource} did not answer within ${this.timeout_ms} ms (attempts: ${this.attempts})`
  }
}

/** The addressed table, dataset, bucket or object does not exist. */
export class ResourceNotFound extends Schema.TaggedError<ResourceNotFound>()("ResourceNotFound", {
  ...RemoteCall,
  message: Schema.String
}) {}

/** The credentials in use may not do this (401/403 other than rate limits). */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", {
  ...RemoteCall,
  status: Schema.Number,
  message: Schema.String
}) {}

/** Any other permanent refusal: a bad request, an invalid query, a malformed response. */
export class RemoteRejected extends Schema.TaggedError<RemoteRejected>()("RemoteRejected", {
  ...RemoteCall,
  status: Schema.NullOr(Schema.Number),
  reason: Schema.String,
  message: Schema.String
}) {}

/**
 * A write lost a race: the object changed since it was read (HTTP 412 on `ifGenerationMatch`),
 * or a newer document is already published. Never retried.
 */
export class PreconditionFailed extends Schema.TaggedError<PreconditionFailed>()("PreconditionFailed", {
  ...RemoteCall,
  /** The generation the write required (`"0"`: that the object not exist). */
  expected_generation: Schema.String,
  message: Schema.String
}) {}

export type RemoteError =
  | RemoteUnavailable
  | RemoteTimeout
  | ResourceNotFound
  | PermissionDenied
  | RemoteRejected
  | PreconditionFailed

export type TransientError = RemoteUnavailable | RemoteTimeout

export const isTransient = (error: { readonly _tag: string }): error is TransientError =>
  error._tag === "RemoteUnavailable" || error._tag === "RemoteTimeout"

/** HTTP statuses that mean "try again later". */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

/** Network error codes that mean the connection, not the request, failed. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE"
])

/** API reasons that are transient even when the HTTP status is not (BigQuery's 403 rateLimitExceeded). */
export const TRANSIENT_REASONS: ReadonlySet<string> = new Set([
  "rateLimitExceeded",
  "userRateLimitExceeded",
  "backendError",
  "internalError",
  "jobRateLimitExceeded"
])
