/**
 * One sync: resolve targets → collect → describe → examples → assemble (with drift and metrics)
 * → publish.
 *
 * One table failing does not sink the run: the others are published and the failed one keeps its
 * previous entry, marked stale. Only when every table fails is the run a failure, and then
 * nothing is written.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type CacheDocument, makeCacheDocument, type TableEntry } from "../contract/CacheDocument.ts"
import { computeDrift, describeDrift } from "../contract/Drift.ts"
import { countFields } from "../contract/Field.ts"
import { computeMetrics, metricsLogFields } from "../contract/Metrics.ts"
import { parseTableRef } from "../contract/TableId.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { formatTarget, matchesTable } from "../config/Targets.ts"
import type { BigQueryError } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { withFreshCallBudget } from "../services/ExampleGenerator/ExampleGeneratorService.ts"
import { GENERATOR } from "../version.ts"
import { collectTables } from "./collect.ts"
import { gatherCurated, mergeCurated } from "./curated.ts"
import { dryRunExamples, llmCandidates } from "./examples.ts"
import { templateExamples } from "./examples/TemplateExamples.ts"
import { fieldPathEntries } from "./fieldPaths.ts"
import { dryRunPublish, publishDocument, readPublished } from "./publish.ts"
import { PROFILE_CONCURRENCY, withProfile } from "./profile.ts"
import { countingRun, currentRunCounters, type RunCounters } from "../services/RunCounters.ts"
import { resolveTargets } from "./targets.ts"

/** A table (or pattern) this run could not read. */
export interface TableFailureSummary {
  /** The table id, or the pattern whose dataset could not be listed. */
  readonly table_id: string
  readonly tag: string
  readonly message: string
  /** Whether its previous entry was kept (marked stale) in the published document. */
  readonly kept_stale: boolean
}

/** What one run did, as the HTTP function answers it and the CLI prints it. */
export interface SyncSummary {
  /** `partial`: some tables failed; the others were published. */
  readonly status: "ok" | "partial" | "dry_run"
  readonly generated_at: string
  readonly tables: ReadonlyArray<{
    readonly table_id: string
    readonly columns: number
    /** Every field at every depth, top-level columns included. */
    readonly fields: number
    readonly state: "fresh" | "stale"
  }>
  readonly table_count: number
  readonly column_count: number
  readonly field_count: number
  readonly example_count: number
  readonly rejected_examples: Readonly<Record<string, number>>
  readonly failed_tables: ReadonlyArray<TableFailureSummary>
  /** Changes since the previous document: how many, how many breaking, and those in words. */
  readonly drift: { readonly total: number; readonly breaking: number; readonly breaking_changes: ReadonlyArray<string> }
  /** Where the document went (or would go, in a dry run). */
  readonly object: string
  /** The published object's generation; `null` in a dry run. */
  readonly generation: string | null
  readonly bytes: number
  readonly remote_calls: number
  readonly retries: number
  readonly duration_ms: number
}

/** Every table failed: nothing was published. */
export class AllTablesFailed extends Schema.TaggedError<AllTablesFailed>()("AllTablesFailed", {
  failures: Schema.Array(Schema.Struct({ table_id: Schema.String, tag: Schema.String, message: Schema.String })),
  /** Every failure was transient (rate limits, 5xx, timeouts): a later run may succeed. */
  transient: Schema.Boolean
}) {
  override get message(): string {
    return `no table could be read, so nothing was published: ${
      this.failures.map((f) => `${f.table_id}: ${f.tag}: ${f.message}`).join("; ")
    }`
  }
}

export interface SyncOptions {
  /** Collect, generate and validate, render the document, but publish nothing. */
  readonly dryRun?: boolean
}

const describe = (table: TableMetadata, sharding: TableEntry["sharding"]): TableEntry => ({
  ...table,
  sharding,
  profile: null,
  field_paths: fieldPathEntries(table.columns),
  status: { state: "fresh" }
})

/** The previous entry of a table this run could not read, kept and marked stale since its first failure. */
const keepStale = (previous: TableEntry, error: BigQueryError, now: DateTime.Utc): TableEntry => ({
  ...previous,
  status: {
    state: "stale",
    failure: {
      tag: error._tag,
      message: error.message,
      since: previous.status.state === "stale" ? previous.status.failure.since : now
    }
  }
})

/** Milliseconds `effect` took, by the Clock. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* effect
    return [result, (yield* Clock.currentTimeMillis) - start] as const
  })

const run = (options: SyncOptions) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const now = yield* DateTime.now
    const [previousObject, readMs] = yield* timed(readPublished(settings.objectName))
    const previous: Option.Option<CacheDocument> = Option.flatMap(previousObject, (p) => p.document)
    const previousEntries = Option.match(previous, {
      onNone: () => new Map<string, TableEntry>(),
      onSome: (doc) => new Map(doc.tables.map((t) => [t.table_id as string, t]))
    })

    const [resolution, resolveMs] = yield* timed(resolveTargets(settings.targets))
    const [collected, collectMs] = yield* timed(collectTables(resolution.tables))

    const [profiled, profileMs] = yield* timed(
      Effect.forEach(
        collected,
        ({ result, table }) =>
          Either.isRight(result)
            ? Effect.map(
              withProfile(table, describe(result.right, table.sharding), previousEntries.get(table.id)),
              Option.some
            )
            : Effect.succeedNone,
        { concurrency: PROFILE_CONCURRENCY }
      )
    )

    const fresh = new Map<string, TableMetadata>()
    const entries: Array<TableEntry> = []
    const failures: Array<TableFailureSummary> = []
    for (const [index, { result, table }] of collected.entries()) {
      if (Either.isRight(result)) {
        fresh.set(table.id, result.right)
        entries.push(Option.getOrThrow(profiled[index]))
        continue
      }
      const kept = previousEntries.get(table.id)
      if (kept !== undefined) entries.push(keepStale(kept, result.left, now))
      failures.push({ table_id: table.id, tag: result.left._tag, message: result.left.message, kept_stale: kept !== undefined })
    }
    // A pattern whose dataset could not be listed keeps the previous entries it had matched.
    for (const { error, target } of resolution.failures) {
      const kept = [...previousEntries.values()].filter((entry) => {
        const ref = Either.getOrUndefined(parseTableRef(entry.table_id))
        return ref !== undefined && matchesTable(target, ref) && !entries.some((e) => e.table_id === entry.table_id)
      })
      entries.push(...kept.map((entry) => keepStale(entry, error, now)))
      failures.push({ table_id: formatTarget(target), tag: error._tag, message: error.message, kept_stale: kept.length > 0 })
    }

    if (fresh.size === 0) {
      const errors = [
        ...collected.flatMap((c) => (Either.isLeft(c.result) ? [c.result.left] : [])),
        ...resolution.failures.map((f) => f.error)
      ]
      return yield* new AllTablesFailed({
        failures: failures.map(({ message, table_id, tag }) => ({ table_id, tag, message })),
        transient: errors.length > 0 && errors.every((e) => e._tag === "RemoteUnavailable" || e._tag === "RemoteTimeout")
      })
    }

    const freshTables = [...fresh.values()]
    const curated = yield* gatherCurated
    const [llm, llmMs] = yield* timed(
      llmCandidates(freshTables, curated.map((c) => c.example), settings.language)
    )
    const [merged, examplesMs] = yield* timed(Effect.sync(() =>
      mergeCurated(
        curated,
        [...entries.filter((e) => fresh.has(e.table_id)).flatMap((entry) => templateExamples(entry, settings.language)), ...llm],
        freshTables
      )
    ))
    for (const error of merged.errors) yield* Effect.logWarning(error.message)
    const [generated, dryRunMs] = yield* timed(dryRunExamples(merged))
    // Examples of tables kept stale stay as they were: they were valid against the schema kept.
    const staleIds = new Set(entries.filter((e) => e.status.state === "stale").map((e) => e.table_id as string))
    const keptExamples = Option.match(previous, {
      onNone: () => [],
      onSome: (doc) => doc.examples.filter((e) => e.tables.length > 0 && e.tables.every((t) => staleIds.has(t)))
    })
    const examples = [...generated.examples, ...keptExamples]

    const draft = makeCacheDocument({
      generated_at: yield* DateTime.now,
      generator: GENERATOR,
      tables: [entries[0], ...entries.slice(1)],
      examples
    })
    const drift = Option.map(previous, (doc) => computeDrift(doc, draft))
    const publish = options.dryRun === true ? dryRunPublish : publishDocument
    const stageMs = { read_previous: readMs, resolve: resolveMs, collect: collectMs, profile: profileMs, llm: llmMs, examples: examplesMs, dry_run: dryRunMs }
    const withMetrics = (document: CacheDocument, counters: RunCounters | undefined): CacheDocument => ({
      ...document,
      drift: Option.getOrNull(drift),
      metrics: computeMetrics({
        document,
        rejected: generated.rejected,
        run: {
          remote_calls: counters?.calls ?? 0,
          retries: counters?.retries ?? 0,
          bytes_processed: counters?.bytesProcessed ?? 0,
          bytes_billed: counters?.bytesBilled ?? 0,
          stage_ms: stageMs
        }
      })
    })
    return { draft, drift, failures, generated, previousObject, publish, withMetrics }
  })

/** Drift lines logged per run at most; the document keeps them all. */
const MAX_DRIFT_LOG_LINES = 50

export const syncOnce = (options: SyncOptions = {}) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const started = yield* Clock.currentTimeMillis
    const [[plan, document, published], calls] = yield* countingRun(
      Effect.gen(function*() {
        const plan = yield* withFreshCallBudget(run(options))
        // Metrics count the calls made up to now; the publish itself is a handful more.
        const counters = yield* FiberRef.get(currentRunCounters)
        const document = plan.withMetrics(plan.draft, counters)
        return [plan, document, yield* plan.publish(document, settings.objectName, plan.previousObject)] as const
      })
    )
    const finished = yield* Clock.currentTimeMillis
    if (document.metrics !== null) {
      yield* Effect.logInfo("sync metrics").pipe(Effect.annotateLogs(metricsLogFields(document.metrics)))
    }
    if (document.drift !== null) {
      const lines = describeDrift(document.drift)
      for (const line of lines.slice(0, MAX_DRIFT_LOG_LINES)) {
        yield* line.startsWith("BREAKING") ? Effect.logWarning(`drift: ${line}`) : Effect.logInfo(`drift: ${line}`)
      }
      if (lines.length > MAX_DRIFT_LOG_LINES) yield* Effect.logInfo(`drift: … and ${lines.length - MAX_DRIFT_LOG_LINES} more changes`)
    }

    const perTable = plan.draft.tables.map((t) => ({
      table_id: t.table_id,
      columns: t.columns.length,
      fields: countFields(t.columns),
      state: t.status.state
    }))
    return {
      status: options.dryRun === true ? "dry_run" : plan.failures.length > 0 ? "partial" : "ok",
      generated_at: DateTime.formatIso(plan.draft.generated_at),
      tables: perTable,
      table_count: perTable.length,
      column_count: perTable.reduce((n, t) => n + t.columns, 0),
      field_count: perTable.reduce((n, t) => n + t.fields, 0),
      example_count: plan.draft.examples.length,
      rejected_examples: plan.generated.rejected,
      failed_tables: plan.failures,
      drift: Option.match(plan.drift, {
        onNone: () => ({ total: 0, breaking: 0, breaking_changes: [] }),
        onSome: (d) => ({
          total: d.total,
          breaking: d.breaking,
          breaking_changes: describeDrift({ ...d, changes: d.changes.filter((c) => c.breaking) })
        })
      }),
      object: published.location,
      generation: published.generation,
      bytes: published.bytes,
      remote_calls: calls.calls,
      retries: calls.retries,
      duration_ms: finished - started
    } satisfies SyncSummary
  }).pipe(Effect.withSpan("sync"))
