/**
 * The operator CLI: `metasync sync` runs one sync with the settings from the environment and
 * prints what it published.
 *
 * Exit codes: 0 success, 1 the run failed, 2 bad configuration or usage, 3 partial (some tables
 * failed; the others were published).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { SyncConfig } from "../config/SyncConfig.ts"
import { syncOnce, type SyncSummary } from "../sync/SyncProgram.ts"
import { GENERATOR } from "../version.ts"
import { runtimeLogger } from "./logging.ts"
import { SyncLayer } from "./ServiceLayers.ts"

export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_PARTIAL = 3

const json = Options.boolean("json").pipe(Options.withDescription("Print the summary as JSON"))
const dryRun = Options.boolean("dry-run").pipe(
  Options.withDescription("Collect, generate and validate, but publish nothing")
)

const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`

/** The summary as a person reads it. */
export const formatSummary = (summary: SyncSummary, mode: string): string => {
  const width = Math.max(...summary.tables.map((t) => t.table_id.length))
  const rejected = Object.entries(summary.rejected_examples)
  return [
    `${summary.status === "dry_run" ? "Dry run: would publish" : summary.status === "partial" ? "Published (partial)" : "Published"} ${summary.table_count} table${
      summary.table_count === 1 ? "" : "s"
    } in ${(summary.duration_ms / 1000).toFixed(2)} s (${mode} mode)`,
    ...summary.tables.map((t) =>
      `  ${t.table_id.padEnd(width)}  ${t.columns} columns, ${t.fields} fields${t.state === "stale" ? "  (stale: kept from the previous document)" : ""}`
    ),
    ...summary.failed_tables.map((f) => `  failed: ${f.table_id}: ${f.tag}: ${f.message}`),
    ...(summary.drift.total === 0 ? [] : [`Drift: ${summary.drift.total} changes, ${summary.drift.breaking} breaking`]),
    `Examples: ${summary.example_count}${
      rejected.length === 0 ? "" : ` (rejected: ${rejected.map(([reason, n]) => `${reason} ${n}`).join(", ")})`
    }`,
    `Document: ${summary.object}${summary.generation === null ? "" : ` (generation ${summary.generation}`}${
      summary.generation === null ? ` (${kilobytes(summary.bytes)})` : `, ${kilobytes(summary.bytes)})`
    }`,
    `Generated at: ${summary.generated_at}`
  ].join("\n")
}

/** Prints a failure and sets the exit code; the error's own message says what went wrong. */
const reportFailure = (error: { readonly _tag: string; readonly message: string }) =>
  Effect.zipRight(
    Console.error(`metasync: ${error._tag}: ${error.message}`),
    Effect.sync(() => {
      process.exitCode = error._tag === "InvalidConfig" ? EXIT_USAGE : EXIT_FAILED
    })
  )

const sync = Command.make("sync", { json, dryRun }, (options) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const summary = yield* syncOnce({ dryRun: options.dryRun })
    yield* Console.log(options.json ? JSON.stringify(summary, null, 2) : formatSummary(summary, settings.mode))
    if (summary.status === "partial") process.exitCode = EXIT_PARTIAL
  }).pipe(
    Effect.provide(SyncLayer.pipe(runtimeLogger("pretty"))),
    Effect.catchAll(reportFailure)
  )).pipe(Command.withDescription("Run one sync and publish the cache document"))

const metasync = Command.make("metasync").pipe(
  Command.withDescription("Publishes BigQuery table metadata and few-shot SQL examples as one cache document"),
  Command.withSubcommands([sync])
)

export const cli = Command.run(metasync, { name: "metasync", version: GENERATOR.version })

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  // Sync failures are reported by the command itself: what reaches here is a usage error.
  Effect.tapError(() => Effect.sync(() => (process.exitCode = EXIT_USAGE))),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
