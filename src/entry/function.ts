/**
 * The HTTP Cloud Function `update_metadata_cache`: Cloud Scheduler POSTs, one sync runs, the
 * answer is a JSON summary. Parsing the request and mapping results to HTTP is all that lives here.
 */
import * as functions from "@google-cloud/functions-framework"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { syncAndNotify } from "../sync/notify.ts"
import { runtimeLogger } from "./logging.ts"
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

functions.http(FUNCTION_NAME, async (req, res) => {
  const answer = await Either.match(parseSyncRequest(req.method, req.rawBody, req.get("content-type")), {
    onLeft: async (refusal) => refusal,
    onRight: async (options) => {
      const exit = await runtime.runPromiseExit(oneAtATime.withPermits(1)(syncAndNotify(options)))
      await logger.runPromise(
        Exit.match(exit, {
          onSuccess: (summary) =>
            Effect.logInfo(summary.status === "ok" ? "sync published" : "sync dry run").pipe(
              Effect.annotateLogs({ object: summary.object, generation: summary.generation ?? "", tables: summary.table_count })
            ),
          onFailure: (cause) => Effect.logError("sync failed", cause)
        })
      )
      return answerOf(exit)
    }
  })
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.set(name, value)
  res.status(answer.status).json(answer.body)
})
