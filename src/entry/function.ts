/**
 * The HTTP Cloud Function `update_metadata_cache`: Cloud Scheduler POSTs, one sync runs, the
 * answer is a JSON summary. Parsing the request and mapping results to HTTP is all that lives here.
 */
import * as functions from "@google-cloud/functions-framework"
import type { IncomingMessage, ServerResponse } from "node:http"
import { createRequire } from "node:module"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { syncAndNotify } from "../sync/notify.ts"
import { runtimeLogger, TRACE_ANNOTATION, traceOf } from "./logging.ts"
import { SyncLayer } from "./ServiceLayers.ts"
import {
  answerOf,
  answerOfFrameworkError,
  type HttpAnswer,
  internalError,
  newIncidentId,
  parseSyncRequest,
  readRequestBody
} from "./SyncHttp.ts"

export const FUNCTION_NAME = "update_metadata_cache"

/**
 * Settings are read and services built once per instance, on the first request; a configuration
 * error fails every request with the same `InvalidConfig`.
 */
const runtime = ManagedRuntime.make(runtimeLogger("json")(SyncLayer))

/** Logs even when the runtime above could not be built. */
const logger = ManagedRuntime.make(runtimeLogger("json")(Layer.empty))

/** One sync at a time per instance: a second request waits for the first to finish. */
const oneAtATime = Effect.unsafeMakeSemaphore(1)

/** Tags every log line of `effect` with the request's trace, when it carries one. */
const withTrace = (headers: Parameters<typeof traceOf>[1]) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Config.option(Config.string("GOOGLE_CLOUD_PROJECT")).pipe(Effect.orDie), (project) => {
    const trace = Option.flatMap(project, (p) => Option.fromNullable(traceOf(p, headers)))
    return Option.isSome(trace) ? Effect.annotateLogs(effect, TRACE_ANNOTATION, trace.value) : effect
  })

const send = (res: ServerResponse, answer: HttpAnswer) => {
  if (res.headersSent) return
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value)
  res.statusCode = answer.status
  res.setHeader("Content-Type", "application/json; charset=utf-8")
  res.end(JSON.stringify(answer.body))
}

/** Logs `cause` under `incidentId`, the id a 500 answer carries instead of the details. */
const logIncident = (message: string, incidentId: string, cause: Cause.Cause<unknown>) =>
  logger.runPromise(Effect.logError(message, cause).pipe(Effect.annotateLogs("incident_id", incidentId)))

/**
 * functions-framework reads every body with body-parser before the function runs — up to 1 GiB,
 * only for the content types it knows (so a body without one is silently left unread), answering
 * its errors with Express's HTML page — and has no hook to change that. Its Express app's
 * `handle` is the one place every request passes first: there, the body is read here, within
 * `MAX_REQUEST_BYTES`, before any parser (which then finds it consumed and skips it), and
 * Express's final handler is replaced by one that answers in this function's JSON shape.
 * The change is made to functions-framework's own copy of Express, before it builds its app
 * (it loads this module first); a function instance runs no other Express app.
 */
const takeOverRequestBodies = () => {
  const frameworkRequire = createRequire(createRequire(import.meta.url).resolve("@google-cloud/functions-framework"))
  const application = (frameworkRequire("express") as { application: ExpressApplication }).application
  const handle = application.handle
  application.handle = function(this: unknown, req, res, done) {
    void readRequestBody(req).then((body) =>
      Either.match(body, {
        onLeft: (refusal) => send(res, refusal),
        onRight: (bytes) => {
          ;(req as IncomingMessage & { rawBody?: Buffer }).rawBody = Buffer.from(bytes)
          handle.call(this, req, res, done ?? ((error?: unknown) => {
            const incidentId = newIncidentId()
            const answer = error === undefined
              ? { status: 404, body: { error: { tag: "NotFound", message: "no such route" } } }
              : answerOfFrameworkError(error, incidentId)
            if (answer.status === 500) void logIncident("request failed in the framework", incidentId, Cause.die(error))
            send(res, answer)
          }))
        }
      })
    )
  }
}

interface ExpressApplication {
  handle: (req: IncomingMessage, res: ServerResponse, done?: (error?: unknown) => void) => void
}

takeOverRequestBodies()

functions.http(FUNCTION_NAME, async (req, res) => {
  const incidentId = newIncidentId()
  try {
    const traced = withTrace({ cloudTraceContext: req.get("x-cloud-trace-context"), traceparent: req.get("traceparent") })
    const answer = await Either.match(parseSyncRequest(req.method, req.rawBody, req.get("content-type")), {
      onLeft: async (refusal) => refusal,
      onRight: async (options) => {
        const exit = await runtime.runPromiseExit(traced(oneAtATime.withPermits(1)(syncAndNotify(options))))
        await logger.runPromise(traced(
          Exit.match(exit, {
            onSuccess: (summary) =>
              Effect.logInfo(summary.status === "ok" ? "sync published" : "sync dry run").pipe(
                Effect.annotateLogs({ object: summary.object, generation: summary.generation ?? "", tables: summary.table_count })
              ),
            onFailure: (cause) => Effect.logError("sync failed", cause).pipe(Effect.annotateLogs("incident_id", incidentId))
          })
        ))
        return answerOf(exit, incidentId)
      }
    })
    send(res, answer)
  } catch (error) {
    await logIncident("request failed", incidentId, Cause.die(error))
    send(res, internalError(incidentId))
  }
})
