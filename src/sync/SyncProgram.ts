/**
 * One sync: resolve targets → collect → describe (and profile) → assemble with the previous
 * document → examples → drift and metrics → publish.
 *
 * One table failing does not sink the run: the others are published and the failed one keeps its
 * previous entry, marked stale. Only when every table fails is the run a failure, and then
 * nothing is written.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { type CacheDocument, makeCacheDocument } from "../contract/CacheDocument.ts"
import { computeDrift, describeDrift } from "../contract/Drift.ts"
import { MAX_FUTURE_SKEW } from "../contract/Limits.ts"
import { AlertService } from "../services/Alerting/AlertService.ts"
import { countFields } from "../contract/Field.ts"
import { computeMetrics, metricsLogFields } from "../contract/Metrics.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { withFreshCallBudget } from "../services/ExampleGenerator/ExampleGeneratorService.ts"
import { GENERATOR } from "../version.ts"
import { collectTables } from "./collect.ts"
import { assembleTables, describeTable, type TableFailureSummary } from "./assemble.ts"
import { gatherExamples } from "./gatherExamples.ts"
import { dryRunPublish, publishDocument, readPublished } from "./publish.ts"
import { PROFILE_CONCURRENCY, withProfile } from "./profile.ts"
import { countingRun, currentRunCounters } from "../services/RunCounters.ts"
import { resolveTargets } from "./targets.ts"
import { gatherGlossary } from "./glossary/gather.ts"
import { gatherRelationships } from "./relationships/gather.ts"
import { embedDocument } from "./embeddings.ts"

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

export interface SyncOptions {
  /** Collect, generate and validate, render the document, but publish nothing. */
  readonly dryRun?: boolean
}

/** Milliseconds `effect` took, by the Clock. */
const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const result = yield* effect
    return [result, (yield* Clock.currentTimeMillis) - start] as const
  })

/** Every step up to the document, timed; publishing is left to the caller. */
const plan = (options: SyncOptions) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const now = yield* DateTime.now
    const [previousObject, readMs] = yield* timed(readPublished(settings.objectName))
    const previous = Option.flatMap(previousObject, (p) => p.document)
    const previousEntries = new Map(
      Option.match(previous, { onNone: () => [], onSome: (doc) => doc.tables.map((t) => [t.table_id as string, t] as const) })
    )

    const [resolution, resolveMs] = yield* timed(resolveTargets(settings.targets))
    const [collected, collectMs] = yield* timed(collectTables(resolution.tables))
    const [described, profileMs] = yield* timed(
      Effect.forEach(
        collected,
        ({ result, table }) =>
          Either.isRight(result)
            ? withProfile(table, describeTable(result.right, table.sharding), previousEntries.get(table.id))
            : Effect.succeed(undefined),
        { concurrency: PROFILE_CONCURRENCY }
      )
    )
    const { entries, failures, fresh } = yield* assembleTables({
      resolution,
      collected,
      described,
      previous: previousEntries,
      now,
      primaryNamed: settings.primaryNamed === true
    })
    const [examples, examplesMs] = yield* timed(gatherExamples({ entries, fresh, previous }))
    const [relationships, relationshipsMs] = yield* timed(gatherRelationships({ tables: entries, fresh: [...fresh.values()] }))
    const [embeddings, embeddingsMs] = yield* timed(embedDocument({ tables: entries, examples: examples.examples, previous }))

    const draft = makeCacheDocument({
      generated_at: yield* DateTime.now,
      generator: GENERATOR,
      tables: [entries[0], ...entries.slice(1)],
      examples: examples.examples,
      relationships,
      embeddings,
      ...(yield* gatherGlossary({ tables: entries }))
    })
    return {
      draft,
      drift: Option.map(previous, (doc) => computeDrift(doc, draft)),
      failures,
      rejected: examples.rejected,
      previousObject,
      publish: options.dryRun === true ? dryRunPublish : publishDocument,
      stageMs: { read_previous: readMs, resolve: resolveMs, collect: collectMs, profile: profileMs, examples: examplesMs, relationships: relationshipsMs, embeddings: embeddingsMs }
    }
  })

/**
 * A document stamped in the future was replaced: say so in the log and to the team, whose clock or
 * hand-edit produced it. Alerted as a stale cache — the published document could not be trusted —
 * with its (negative) age.
 */
const reportFutureDocument = (generatedAt: DateTime.Utc, replacement: CacheDocument, location: string) =>
  Effect.gen(function*() {
    const ahead = DateTime.distance(replacement.generated_at, generatedAt)
    yield* Effect.logWarning(
      `replaced a document generated in the future (${DateTime.formatIso(generatedAt)}, ${
        Math.round(ahead / 60_000)
      } min ahead of this run's clock)`
    ).pipe(Effect.annotateLogs({ object: location, published_generated_at: DateTime.formatIso(generatedAt) }))
    const alerts = yield* AlertService
    yield* alerts.notify({
      kind: "stale_cache",
      generated_at: DateTime.formatIso(generatedAt),
      age_hours: -Math.round(ahead / 360_000) / 10,
      threshold_hours: Math.round(Duration.toHours(MAX_FUTURE_SKEW) * 100) / 100,
      target: location
    })
  })

/** Drift lines logged per run at most; the document keeps them all. */
const MAX_DRIFT_LOG_LINES = 50

export const syncOnce = (options: SyncOptions = {}) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const started = yield* Clock.currentTimeMillis
    const [[run, document, published], calls] = yield* countingRun(
      Effect.gen(function*() {
        const planned = yield* withFreshCallBudget(plan(options))
        // Metrics count the calls made up to now; the publish itself is a handful more.
        const counters = yield* FiberRef.get(currentRunCounters)
        const document: CacheDocument = {
          ...planned.draft,
          drift: Option.getOrNull(planned.drift),
          metrics: computeMetrics({
            document: planned.draft,
            rejected: planned.rejected,
            run: {
              remote_calls: counters?.calls ?? 0,
              retries: counters?.retries ?? 0,
              bytes_processed: counters?.bytesProcessed ?? 0,
              bytes_billed: counters?.bytesBilled ?? 0,
              stage_ms: planned.stageMs
            }
          })
        }
        return [planned, document, yield* planned.publish(document, settings.objectName, planned.previousObject)] as const
      })
    )
    const finished = yield* Clock.currentTimeMillis
    if (published.replacedFutureDocument !== null) yield* reportFutureDocument(published.replacedFutureDocument, run.draft, published.location)
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

    const perTable = run.draft.tables.map((t) => ({
      table_id: t.table_id,
      columns: t.columns.length,
      fields: countFields(t.columns),
      state: t.status.state
    }))
    return {
      status: options.dryRun === true ? "dry_run" : run.failures.length > 0 ? "partial" : "ok",
      generated_at: DateTime.formatIso(run.draft.generated_at),
      tables: perTable,
      table_count: perTable.length,
      column_count: perTable.reduce((n, t) => n + t.columns, 0),
      field_count: perTable.reduce((n, t) => n + t.fields, 0),
      example_count: run.draft.examples.length,
      rejected_examples: run.rejected,
      failed_tables: run.failures,
      drift: Option.match(run.drift, {
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
