/**
 * The HTTP Cloud Function `update_metadata_cache`: Cloud Scheduler POSTs, one sync runs, the
 * answer is a JSON summary. Parsing the request and mapping results to HTTP is all that lives here.
 */
import * as functions from "@google-cloud/functions-framework"
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
import { answerOf, parseSyncRequest } from "./SyncHttp.ts"

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

functions.http(FUNCTION_NAME, async (req, res) => {
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
          onFailure: (cause) => Effect.logError("sync failed", cause)
        })
      ))
      return answerOf(exit)
    }
  })
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.set(name, value)
  res.status(answer.status).json(answer.body)
})
