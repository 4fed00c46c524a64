/**
 * The HTTP contract of the sync function: which requests start a sync, and how a run's outcome
 * becomes a status code and a JSON body.
 *
 * Statuses are chosen for Cloud Scheduler, which retries non-2xx answers per its retry config:
 * 503 for a transient failure (worth retrying), 409 when another run already published a newer
 * document (retrying cannot help), 4xx for the caller's mistakes, 500 for everything else.
 */
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

/** Request fields that try to choose what is synced: the deployment's configuration decides that. */
const TARGETING_FIELDS = new Set(["table", "tables", "table_id", "target", "targets", "bucket", "object", "project"])

/**
 * Checks the method and body. The body is optional; when present it is a JSON object whose only
 * field is `dry_run` (boolean).
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
  if (rawBody.byteLength > MAX_REQUEST_BYTES) {
    return Either.left(
      refuse(413, "RequestTooLarge", `the request body has ${rawBody.byteLength} bytes; at most ${MAX_REQUEST_BYTES} are accepted`)
    )
  }
  if (contentType !== undefined && !/^application\/json\b/i.test(contentType)) {
    return Either.left(refuse(400, "InvalidRequest", `the request body must be application/json, not ${contentType}`))
  }
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(rawBody))
  } catch (cause) {
    return Either.left(refuse(400, "InvalidRequest", `the request body is not JSON: ${String(cause)}`))
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
    if (key !== "dry_run") {
      return Either.left(refuse(400, "InvalidRequest", `unknown field "${key}"; the only field accepted is "dry_run"`))
    }
  }
  const dryRun = (body as { dry_run?: unknown }).dry_run
  if (dryRun !== undefined && typeof dryRun !== "boolean") {
    return Either.left(refuse(400, "InvalidRequest", `"dry_run" must be true or false, not ${JSON.stringify(dryRun)}`))
  }
  return Either.right(dryRun === true ? { dryRun: true } : {})
}

const STATUS_BY_TAG: Record<string, number> = {
  RemoteUnavailable: 503,
  RemoteTimeout: 503,
  PreconditionFailed: 409
}

const statusOf = (error: { readonly _tag: string }): number =>
  error._tag === "AllTablesFailed" && (error as { readonly transient?: boolean }).transient === true
    ? 503
    : STATUS_BY_TAG[error._tag] ?? 500

/** The HTTP answer for a finished run. */
export const answerOf = (exit: Exit.Exit<SyncSummary, { readonly _tag: string; readonly message: string }>): HttpAnswer =>
  Exit.match(exit, {
    onSuccess: (summary) => ({ status: 200, body: summary }),
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onSome: (error) => ({
          status: statusOf(error),
          body: { error: { ...error, tag: error._tag, message: error.message } }
        }),
        onNone: () => refuse(500, "Defect", Cause.pretty(cause))
      })
  })
