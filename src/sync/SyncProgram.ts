/**
 * One sync: resolve targets → collect → describe (and profile) → assemble with the previous
 * document → relationships → examples → drift and metrics → publish. A table whose inputs are
 * unchanged since the previous document keeps its entry and examples (`incremental.ts`).
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
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { type CacheDocument, makeCacheDocument, type TableEntry } from "../contract/CacheDocument.ts"
import type { TableFingerprint } from "../contract/Incremental.ts"
import type { Alias, GlossaryTerm } from "../contract/Glossary.ts"
import type { Relationship } from "../contract/Relationship.ts"
import type { LoggedQuery } from "./examples/QueryLogExamples.ts"
import { computeDrift, describeDrift } from "../contract/Drift.ts"
import { AlertService, futureDocumentAlert } from "../services/Alerting/AlertService.ts"
import { countFields } from "../contract/Field.ts"
import { computeMetrics, metricsLogFields } from "../contract/Metrics.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { ExampleGeneratorService, withFreshCallBudget } from "../services/ExampleGenerator/ExampleGeneratorService.ts"
import { GENERATOR } from "../version.ts"
import { assembleTables, describeTable, type TableFailureSummary } from "./assemble.ts"
import { gatherExamples } from "./gatherExamples.ts"
import { readPublished } from "./publish.ts"
import { dryRunCache, publishCache } from "./publishSplit.ts"
import { isProfiled, PROFILE_CONCURRENCY, profileInputs, withProfile } from "./profile.ts"
import { type CuratedExample, gatherCurated } from "./curated.ts"
import {
  DEFAULT_FULL_REBUILD_EVERY,
  decideRunMode,
  examplesFingerprint,
  metadataFingerprint,
  previousFingerprints
} from "./incremental.ts"
import { countingRun, currentRunCounters } from "../services/RunCounters.ts"
import { readWarehouse } from "./pipeline.ts"
import { gatherGlossary } from "./glossary/gather.ts"
import { gatherRelationships } from "./relationships/gather.ts"
import { readQueryLog } from "./relationships/queryLog.ts"
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
  /** How the document's tables join: how many relationships, and how many from each source. */
  readonly relationship_count: number
  readonly relationships_by_source: Readonly<Record<string, number>>
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
  /** `full`: every table's work was done; `incremental`: `reused_tables` kept theirs from the previous document. */
  readonly mode: "full" | "incremental"
  readonly reused_tables: number
  /**
   * `single`: one document object; `split`: a manifest at `object` (`bytes` are its own) and
   * `parts_written` + `parts_reused` parts (`DOCUMENT_LAYOUT`). In a dry run: what would be.
   */
  readonly layout: "single" | "split"
  /** Parts this run wrote (0 for a single document). */
  readonly parts_written: number
  /** Parts of earlier runs the manifest references unchanged. */
  readonly parts_reused: number
}

export interface SyncOptions {
  /** Collect, generate and validate, render the document, but publish nothing. */
  readonly dryRun?: boolean
  /** Redo every table's work, whatever the previous document recorded (`--full`, `{"full": true}`). */
  readonly full?: boolean
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
    // The previous document is read (and decoded) while the warehouse is listed and read: only the
    // description of a table needs it, to keep the entry of a table whose metadata is unchanged.
    const previousRead = yield* Effect.fork(timed(readPublished(settings.objectName)))
    const previousState = yield* Effect.cached(Effect.map(Fiber.join(previousRead), ([previousObject, readMs]) => {
      const previous = Option.flatMap(previousObject, (p) => p.document)
      const previousEntries = new Map(
        Option.match(previous, { onNone: () => [], onSome: (doc) => doc.tables.map((t) => [t.table_id as string, t] as const) })
      )
      const mode = decideRunMode({
        previous,
        now,
        every: settings.fullRebuildEvery ?? DEFAULT_FULL_REBUILD_EVERY,
        forced: options.full === true
      })
      return { previousObject, readMs, previous, previousEntries, mode, before: previousFingerprints(previous, mode) }
    }))

    // A table whose metadata (and profile settings) are unchanged keeps its previous entry and profile.
    const metadataPrints = new Map<string, string>()
    const profiling = yield* Effect.makeSemaphore(PROFILE_CONCURRENCY)
    const warehouse = yield* readWarehouse(settings.targets, (table, metadata) =>
      Effect.gen(function*() {
        const { before, previousEntries } = yield* previousState
        const print = metadataFingerprint({ table: metadata, sharding: table.sharding, profile: profileInputs(settings, table) })
        metadataPrints.set(table.id, print)
        const kept = previousEntries.get(table.id)
        return kept !== undefined && kept.status.state === "fresh" && before.get(table.id)?.metadata === print
          ? kept
          : isProfiled(settings, table)
          ? yield* profiling.withPermits(1)(withProfile(table, describeTable(metadata, table.sharding), kept))
          : describeTable(metadata, table.sharding)
      }), (table) => isProfiled(settings, table))
    const { before, mode, previous, previousEntries, previousObject, readMs } = yield* previousState
    const { collected, described, resolution } = warehouse
    const { collect: collectMs, profile: profileMs, resolve: resolveMs } = warehouse.stageMs
    const { entries, failures, fresh } = yield* assembleTables({
      resolution,
      collected,
      described,
      previous: previousEntries,
      now,
      primaryNamed: settings.primaryNamed === true
    })
    // The query log (opt-in) is read once: its joins feed the relationships, its queries the examples.
    const days = settings.queryLogDays ?? 0
    const logged = days > 0 && settings.mode === "live" && settings.project !== null
      ? yield* readQueryLog({
        project: settings.project,
        location: settings.queryLogLocation ?? "us",
        days,
        tables: entries,
        maximumBytesBilled: settings.metadataMaxBytesBilled
      })
      : []
    // Relationships come before examples: a table's examples depend on the relationships touching it.
    const [relationships, relationshipsMs] = yield* timed(gatherRelationships({ tables: entries, fresh: [...fresh.values()], logged, declaredKeys: warehouse.declaredKeys }))
    const glossary = yield* gatherGlossary({ tables: entries })
    const curated = yield* gatherCurated
    const { fingerprints, reused } = yield* fingerprintTables({
      fresh,
      metadataPrints,
      curated,
      relationships,
      glossary: glossary.glossary,
      aliases: glossary.aliases,
      logged,
      before,
      previousEntries
    })
    const [examples, examplesMs] = yield* timed(
      gatherExamples({
        entries,
        fresh,
        previous,
        relationships,
        logged,
        glossary: glossary.glossary,
        aliases: glossary.aliases,
        reused,
        curated
      })
    )
    if (reused.size > 0) yield* Effect.logInfo(`incremental sync: kept the work of ${reused.size} of ${fresh.size} tables`)
    const [embeddings, embeddingsMs] = yield* timed(embedDocument({ tables: entries, examples: examples.examples, previous }))

    const draft = makeCacheDocument({
      generated_at: yield* DateTime.now,
      generator: GENERATOR,
      tables: [entries[0], ...entries.slice(1)],
      examples: examples.examples,
      relationships,
      ...glossary,
      incremental: {
        mode: mode.full ? "full" : "incremental",
        last_full_run_at: mode.lastFullRunAt,
        reused: entries.filter((e) => reused.has(e.table_id)).map((e) => e.table_id),
        // A table kept stale keeps the fingerprints of the entry it kept.
        fingerprints: Object.fromEntries(
          entries.flatMap((e) => {
            const print = fingerprints.get(e.table_id) ?? before.get(e.table_id)
            return print === undefined ? [] : [[e.table_id, print] as const]
          })
        )
      },
      embeddings
    })
    return {
      draft,
      drift: Option.map(previous, (doc) => computeDrift(doc, draft)),
      failures,
      rejected: examples.rejected,
      previousObject,
      mode,
      reused: reused.size,
      publish: options.dryRun === true ? dryRunCache : publishCache,
      stageMs: { read_previous: readMs, resolve: resolveMs, collect: collectMs, profile: profileMs, examples: examplesMs, relationships: relationshipsMs, embeddings: embeddingsMs }
    }
  })

/**
 * Each table read this run gets its fingerprints; those whose examples fingerprint equals the
 * previous document's (and whose previous entry was fresh) are reused.
 */
const fingerprintTables = (input: {
  readonly fresh: ReadonlyMap<string, TableMetadata>
  readonly metadataPrints: ReadonlyMap<string, string>
  readonly curated: ReadonlyArray<CuratedExample>
  readonly relationships: ReadonlyArray<Relationship>
  readonly glossary: ReadonlyArray<GlossaryTerm>
  readonly aliases: ReadonlyArray<Alias>
  readonly logged: ReadonlyArray<LoggedQuery>
  readonly before: ReadonlyMap<string, TableFingerprint>
  readonly previousEntries: ReadonlyMap<string, TableEntry>
}) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const generator = yield* ExampleGeneratorService
    const runWide = {
      language: settings.language,
      mode: settings.mode,
      project: settings.project,
      dry_run: settings.exampleDryRun,
      max_bytes: settings.exampleMaxBytes,
      llm: generator.enabled
    }
    const byTable = <A>(items: ReadonlyArray<A>, tablesOf: (a: A) => ReadonlyArray<string>) => {
      const index = new Map<string, Array<A>>()
      for (const item of items) {
        for (const id of new Set(tablesOf(item))) {
          const list = index.get(id) ?? []
          list.push(item)
          index.set(id, list)
        }
      }
      return index
    }
    const curatedOf = byTable(input.curated.map((c) => c.example), (e) => e.tables)
    const relationshipsOf = byTable(input.relationships, (r) => [r.from.table_id, r.to.table_id])
    // Glossary terms name their tables (or columns); a term naming none may become an example of any
    // table, so it counts for every table. Logged queries count for the tables whose name they mention.
    const termTables = (t: GlossaryTerm) => [...t.tables, ...t.columns.map((c) => c.table_id)]
    const glossaryOf = byTable(input.glossary.filter((t) => termTables(t).length > 0), termTables)
    const unattachedTerms = input.glossary.filter((t) => termTables(t).length === 0)
    const aliasesOf = byTable(input.aliases, (a) => [a.table_id])
    const loggedOf = (id: string) => {
      const name = id.split(".").slice(1).join(".").toLowerCase()
      return input.logged.map((q) => q.query).filter((q) => q.toLowerCase().includes(name)).sort()
    }
    const fingerprints = new Map<string, TableFingerprint>()
    const reused = new Set<string>()
    for (const id of input.fresh.keys()) {
      const metadata = input.metadataPrints.get(id)
      if (metadata === undefined) continue
      const examples = examplesFingerprint({
        metadata,
        curated: curatedOf.get(id) ?? [],
        relationships: relationshipsOf.get(id) ?? [],
        settings: runWide,
        vocabulary: {
          glossary: [...(glossaryOf.get(id) ?? []), ...unattachedTerms],
          aliases: aliasesOf.get(id) ?? [],
          logged: loggedOf(id)
        }
      })
      fingerprints.set(id, { metadata, examples })
      if (input.before.get(id)?.examples === examples && input.previousEntries.get(id)?.status.state === "fresh") reused.add(id)
    }
    return { fingerprints, reused }
  })

/**
 * A document stamped in the future was replaced: say so in the log and to the team, whose clock or
 * hand-edit produced it, with the date it claimed and this run's clock.
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
    yield* alerts.notify(futureDocumentAlert({ generatedAt, now: replacement.generated_at, replaced: true, target: location }))
  })

const countBySource = (relationships: ReadonlyArray<{ readonly source: string }>): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const r of relationships) counts[r.source] = (counts[r.source] ?? 0) + 1
  return counts
}

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
    if (published.layout === "split") {
      yield* Effect.logInfo(
        `split layout: ${published.partsWritten} parts written, ${published.partsReused} reused${published.prunedParts.length > 0 ? `, ${published.prunedParts.length} pruned` : ""}`
      ).pipe(Effect.annotateLogs({ object: published.location, parts_written: published.partsWritten, parts_reused: published.partsReused }))
    }
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
      relationship_count: run.draft.relationships.length,
      relationships_by_source: countBySource(run.draft.relationships),
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
      duration_ms: finished - started,
      mode: run.mode.full ? "full" : "incremental",
      reused_tables: run.reused,
      layout: published.layout,
      parts_written: published.partsWritten,
      parts_reused: published.partsReused
    } satisfies SyncSummary
  }).pipe(Effect.withSpan("sync"))
