/**
 * The operator CLI (`metasync`, or `npm run cli --`), on GCS in live mode or the local directory in
 * local mode, configured by the same environment variables as the function.
 *
 * Exit codes: 0 success; 1 the run or check failed (or the file is invalid); 2 bad configuration
 * or usage; 3 partial (some tables failed, the others were published); 4 the cache is stale.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { defaultTeardown, type Teardown } from "@effect/platform/Runtime"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { SyncConfig } from "../config/SyncConfig.ts"
import { Relationship } from "../contract/Relationship.ts"
import { mcpCommand } from "../mcp/McpCommand.ts"
import { exportCandidates, formatExamples, matchTables } from "../operations/ExampleReview.ts"
import { checkFreshness, DEFAULT_MAX_AGE, diff, history, LATEST, readLatest, rollback } from "../operations/Operations.ts"
import { formatVerdict, validateFile } from "../operations/ValidateFile.ts"
import { formatAge, formatDiff, formatHistory, formatShow } from "../operations/report.ts"
import { syncAndNotify } from "../sync/notify.ts"
import type { SyncSummary } from "../sync/SyncProgram.ts"
import { GENERATOR } from "../version.ts"
import { runtimeLogger } from "./logging.ts"
import { SyncLayer } from "./ServiceLayers.ts"

export const EXIT_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_PARTIAL = 3
export const EXIT_STALE = 4

/** A document older than this is stale (`show`, `check`). */
const DEFAULT_MAX_AGE_HOURS = Duration.toHours(DEFAULT_MAX_AGE)

const json = Options.boolean("json").pipe(Options.withDescription("Print JSON instead of text"))

const encodeRelationships = Schema.encodeSync(Schema.Array(Relationship))

const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`

/** The summary as a person reads it. */
export const formatSummary = (summary: SyncSummary, mode: string): string => {
  const width = Math.max(...summary.tables.map((t) => t.table_id.length))
  const rejected = Object.entries(summary.rejected_examples)
  const headline = summary.status === "dry_run"
    ? "Dry run: would publish"
    : summary.status === "partial"
    ? "Published (partial)"
    : "Published"
  return [
    `${headline} ${summary.table_count} table${summary.table_count === 1 ? "" : "s"} in ${
      (summary.duration_ms / 1000).toFixed(2)
    } s (${mode} mode)`,
    ...summary.tables.map((t) =>
      `  ${t.table_id.padEnd(width)}  ${t.columns} columns, ${t.fields} fields${
        t.state === "stale" ? "  (stale: kept from the previous document)" : ""
      }`
    ),
    ...summary.failed_tables.map((f) => `  failed: ${f.table_id}: ${f.tag}: ${f.message}`),
    `Examples: ${summary.example_count}${
      rejected.length === 0 ? "" : ` (rejected: ${rejected.map(([reason, n]) => `${reason} ${n}`).join(", ")})`
    }`,
    `Relationships: ${summary.relationship_count}${
      summary.relationship_count === 0
        ? ""
        : ` (${Object.entries(summary.relationships_by_source).map(([source, n]) => `${source} ${n}`).join(", ")})`
    }`,
    ...(summary.drift.total === 0
      ? []
      : [`Drift: ${summary.drift.total} changes, ${summary.drift.breaking} breaking`, ...summary.drift.breaking_changes.map((c) => `  ${c}`)]),
    `Document: ${summary.object}${
      summary.generation === null ? ` (${kilobytes(summary.bytes)})` : ` (generation ${summary.generation}, ${kilobytes(summary.bytes)})`
    }`,
    ...(summary.layout === "split"
      ? [`Layout: split, ${summary.parts_written} part${summary.parts_written === 1 ? "" : "s"} ${summary.status === "dry_run" ? "to write" : "written"}, ${summary.parts_reused} reused`]
      : []),
    `Generated at: ${summary.generated_at}`
  ].join("\n")
}

const setExitCode = (code: number) => Effect.sync(() => {
  process.exitCode = code
})

/** Runs a command's work on the configured services; failures are printed with their tag and set the exit code. */
const withServices = <E extends { readonly _tag: string; readonly message: string }>(
  work: Effect.Effect<void, E, Layer.Layer.Success<typeof SyncLayer>>
) =>
  work.pipe(
    Effect.provide(SyncLayer.pipe(runtimeLogger("pretty"))),
    Effect.catchAll((error: { readonly _tag: string; readonly message: string }) =>
      Effect.zipRight(
        Console.error(`metasync: ${error._tag}: ${error.message}`),
        setExitCode(error._tag === "InvalidConfig" ? EXIT_USAGE : EXIT_FAILED)
      )
    )
  )

const sync = Command.make(
  "sync",
  {
    json,
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Collect, generate and validate, but publish nothing")),
    full: Options.boolean("full").pipe(Options.withDescription("Redo every table's work, even those unchanged since the previous document"))
  },
  (options) =>
    withServices(Effect.gen(function*() {
      const settings = yield* SyncConfig
      const summary = yield* syncAndNotify({ dryRun: options.dryRun, full: options.full })
      yield* Console.log(options.json ? JSON.stringify(summary, null, 2) : formatSummary(summary, settings.mode))
      if (summary.status === "partial") yield* setExitCode(EXIT_PARTIAL)
    }))
).pipe(Command.withDescription("Run one sync and publish the cache document"))

const maxAgeHours = Options.integer("max-age-hours").pipe(
  Options.withDefault(DEFAULT_MAX_AGE_HOURS),
  Options.withDescription("A document older than this many hours is stale")
)

const show = Command.make("show", { json, maxAgeHours }, (options) =>
  withServices(Effect.gen(function*() {
    const latest = yield* readLatest
    if (options.json) return yield* Console.log(JSON.stringify({
      location: latest.location,
      generation: latest.info.generation,
      format_version: latest.formatVersion,
      layout: latest.manifest === null ? "document" : "split",
      parts: latest.manifest === null
        ? null
        : latest.manifest.parts.map((p) => ({ key: p.key, object: p.object, generation: p.generation, bytes: p.bytes, tables: p.tables, examples: p.examples })),
      generated_at: DateTime.formatIso(latest.document.generated_at),
      tables: latest.document.tables.map((t) => ({ table_id: t.table_id, state: t.status.state })),
      relationships: encodeRelationships(latest.document.relationships),
      metrics: latest.document.metrics
    }, null, 2))
    yield* Console.log(formatShow(latest, yield* DateTime.now, Duration.hours(options.maxAgeHours)))
  }))).pipe(Command.withDescription("Summarise the published document: tables, freshness, relationships, metrics"))

const historyCommand = Command.make("history", { json }, (options) =>
  withServices(Effect.gen(function*() {
    const snapshots = yield* history
    const latest = yield* Effect.option(readLatest)
    yield* Console.log(
      options.json
        ? JSON.stringify(snapshots.map((s) => ({ name: s.info.name, generated_at: DateTime.formatIso(s.generatedAt), size: s.info.size })), null, 2)
        : formatHistory(snapshots, Option.getOrUndefined(Option.map(latest, (l) => l.document)))
    )
  }))).pipe(Command.withDescription("List the snapshots kept of the document, newest first"))

const diffCommand = Command.make(
  "diff",
  {
    from: Args.text({ name: "from" }).pipe(Args.withDescription("A snapshot name, or latest")),
    to: Args.text({ name: "to" }).pipe(Args.withDefault(LATEST), Args.withDescription("A snapshot name, or latest (the default)"))
  },
  ({ from, to }) =>
    withServices(Effect.gen(function*() {
      const result = yield* diff(from, to)
      yield* Console.log(formatDiff(result.from, result.to, result.drift))
    }))
).pipe(Command.withDescription("Show the schema drift between two snapshots"))

const rollbackCommand = Command.make(
  "rollback",
  { snapshot: Args.text({ name: "snapshot" }).pipe(Args.withDescription("The snapshot to make the latest document again")) },
  ({ snapshot }) =>
    withServices(Effect.gen(function*() {
      const result = yield* rollback(snapshot)
      yield* Console.log(
        `Rolled back ${result.location} to ${result.from.name} (generated ${
          DateTime.formatIso(result.from.document.generated_at)
        }); new generation ${result.generation}`
      )
    }))
).pipe(Command.withDescription("Make a snapshot the latest document again (recorded as a new generation)"))

const check = Command.make("check", { maxAgeHours }, (options) =>
  withServices(Effect.gen(function*() {
    const freshness = yield* checkFreshness(Duration.hours(options.maxAgeHours))
    // A split document's manifest is at the location; each part was stat'ed at the generation it references.
    const layout = freshness.parts === null ? "" : ` (split, ${freshness.parts} part${freshness.parts === 1 ? "" : "s"})`
    yield* Console.log(
      `${freshness.location}${layout}: generated ${DateTime.formatIso(freshness.generated_at)}, ${
        freshness.future
          ? `${formatAge(freshness.ahead)} in the future: SUSPECT, ahead of this clock (alert ${freshness.alert})`
          : `${formatAge(freshness.age)} ago: ${freshness.stale ? `STALE (alert ${freshness.alert})` : "fresh"}`
      }`
    )
    if (freshness.stale || freshness.future) yield* setExitCode(EXIT_STALE)
  }))).pipe(Command.withDescription("Check the document's age; alert and exit 4 when it is stale or dated in the future"))

const validate = Command.make(
  "validate",
  {
    file: Args.file({ name: "file", exists: "yes" }).pipe(
      Args.withDescription("A cache document, or a split cache's manifest or part (JSON)")
    )
  },
  ({ file }) =>
    validateFile(file).pipe(
      Effect.flatMap((verdict) => Console.log(formatVerdict(file, verdict))),
      Effect.catchAll((error) => Effect.zipRight(Console.error(error.message), setExitCode(EXIT_FAILED)))
    )
).pipe(Command.withDescription(
  "Check a cache document file against the contract. For a split cache's manifest, its parts are looked for as the local bucket directory holds them (<bucket>/parts/...: the file's directory or the nearest parent holding them) and checked when found; parts not found are listed as not checked, and the manifest alone still passes"
))

const examplesCommand = Command.make(
  "examples",
  {
    first: Args.text({ name: "table | export" }).pipe(Args.optional, Args.withDescription("A table (id or its last parts), or export")),
    second: Args.text({ name: "table" }).pipe(Args.optional, Args.withDescription("With export: only this table")),
    out: Options.directory("out").pipe(Options.withDefault("example-candidates"), Options.withDescription("With export: where the candidate files go"))
  },
  ({ first, out, second }) =>
    withServices(Effect.gen(function*() {
      const latest = yield* readLatest
      const exporting = Option.getOrUndefined(first) === "export"
      const name = Option.getOrUndefined(exporting ? second : first)
      let tableId: string | null = null
      if (name !== undefined) {
        const found = matchTables(latest.document, name)
        if (found.length !== 1) {
          yield* Console.error(found.length === 0 ? `no table ${name} in ${latest.location}` : `${name} is ambiguous: ${found.join(", ")}`)
          return yield* setExitCode(EXIT_USAGE)
        }
        tableId = found[0]!
      }
      if (!exporting) return yield* Console.log(formatExamples(latest.document, tableId))
      const files = exportCandidates(latest.document, tableId)
      yield* Effect.promise(() => mkdir(out, { recursive: true }))
      for (const f of files) yield* Effect.promise(() => writeFile(join(out, f.file), f.text))
      yield* Console.log(`Wrote ${files.length} candidate file(s) to ${out}/: review them, then move them into the curated examples directory`)
    }))
).pipe(Command.withDescription("List a table's examples with their source and why kept; export writes candidates as curated files"))

const metasync = Command.make("metasync").pipe(
  Command.withDescription("Publishes BigQuery table metadata and few-shot SQL examples as one cache document"),
  Command.withSubcommands([sync, show, historyCommand, diffCommand, rollbackCommand, check, validate, examplesCommand, mcpCommand])
)

export const cli = Command.run(metasync, { name: "metasync", version: GENERATOR.version })

/** Calls `done` once everything written to `stream` so far is handed to the OS. */
const flushed = (stream: NodeJS.WriteStream, done: () => void) => void stream.write("", done)

/**
 * The process exits once the command is done, with the code it set, rather than when nothing is
 * left on the event loop: a handle a library keeps open (a request nobody answers) must not keep
 * the operator's shell or scheduler waiting. Output is flushed first.
 */
const exitWhenDone: Teardown = (exit, onExit) =>
  defaultTeardown(exit, (code) => {
    onExit(code)
    const exitCode = code === 0 ? process.exitCode : code
    flushed(process.stdout, () => flushed(process.stderr, () => process.exit(exitCode)))
  })

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  // Failures of the work are reported by each command: what reaches here is a usage error,
  // which @effect/cli has already printed. Defects are left to runMain to report.
  Effect.catchAll(() => setExitCode(EXIT_USAGE)),
  NodeRuntime.runMain({ disablePrettyLogger: true, teardown: exitWhenDone })
)
