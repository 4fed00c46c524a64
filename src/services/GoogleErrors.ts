/**
 * The one place where errors thrown by the Google clients become MetaSync's tagged errors.
 *
 * Both clients throw an `ApiError` (from @google-cloud/storage or @google-cloud/common: different
 * classes, same shape) with a numeric `code` and `errors[].reason`, or a network error with a
 * string `code` such as `ECONNRESET`. The shape is read, never `instanceof`.
 */
import {
  PermissionDenied,
  PreconditionFailed,
  RemoteRejected,
  type RemoteServiceName,
  RemoteUnavailable,
  ResourceNotFound,
  TRANSIENT_NETWORK_CODES,
  TRANSIENT_REASONS,
  TRANSIENT_STATUSES
} from "./RemoteErrors.ts"

export interface RemoteCallContext {
  readonly service: RemoteServiceName
  readonly operation: string
  readonly resource: string
}

interface ErrorShape {
  readonly status: number | null
  readonly code: string | null
  readonly reason: string | null
  readonly message: string
}

const readShape = (error: unknown): ErrorShape => {
  if (typeof error !== "object" || error === null) {
    return { status: null, code: null, reason: null, message: String(error) }
  }
  const e = error as Record<string, unknown>
  const status = typeof e.code === "number" ? e.code : typeof e.status === "number" ? e.status : null
  const code = typeof e.code === "string" ? e.code : typeof e.errno === "string" ? e.errno : null
  const errors = Array.isArray(e.errors) ? (e.errors as ReadonlyArray<Record<string, unknown>>) : []
  const reason = errors.map((x) => x.reason).find((r): r is string => typeof r === "string") ?? null
  const message = typeof e.message === "string" && e.message.length > 0 ? e.message : String(error)
  // A network failure is sometimes wrapped: the client's FetchError carries the socket error as `cause`.
  if (status === null && code === null && e.cause !== undefined && e.cause !== error) {
    const inner = readShape(e.cause)
    if (inner.code !== null) return { ...inner, message }
  }
  return { status, code, reason, message }
}

/**
 * Maps anything a Google client threw to a tagged error. `expectedGeneration` is set for writes
 * made under a generation precondition, so that a 412 becomes `PreconditionFailed`.
 */
export const fromGoogleError = (
  context: RemoteCallContext,
  error: unknown,
  expectedGeneration?: string
):
  | RemoteUnavailable
  | ResourceNotFound
  | PermissionDenied
  | RemoteRejected
  | PreconditionFailed => {
  const { code, message, reason, status } = readShape(error)
  if (status === 412 && expectedGeneration !== undefined) {
    return new PreconditionFailed({ ...context, expected_generation: expectedGeneration, message })
  }
  if (
    (status !== null && TRANSIENT_STATUSES.has(status)) ||
    (reason !== null && TRANSIENT_REASONS.has(reason)) ||
    (code !== null && TRANSIENT_NETWORK_CODES.has(code))
  ) {
    return new RemoteUnavailable({ ...context, status, reason: reason ?? code ?? "unavailable", message, attempts: 1 })
  }
  if (status === 404 || reason === "notFound") return new ResourceNotFound({ ...context, message })
  if (status === 401 || status === 403) return new PermissionDenied({ ...context, status, message })
  return new RemoteRejected({ ...context, status, reason: reason ?? code ?? "rejected", message })
}
