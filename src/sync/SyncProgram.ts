/**
 * One sync: collect → describe → generate and validate examples → assemble → publish.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { makeCacheDocument, type TableEntry } from "../contract/CacheDocument.ts"
import { countFields } from "../contract/Field.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { GENERATOR } from "../version.ts"
import { collectTables } from "./collect.ts"
import { buildExamples } from "./examples.ts"
import { fieldPathEntries } from "./fieldPaths.ts"
import { dryRunPublish, publishDocument } from "./publish.ts"

/** What one run did, as the HTTP function answers it and the CLI prints it. */
export interface SyncSummary {
  readonly status: "ok" | "dry_run"
  readonly generated_at: string
  readonly tables: ReadonlyArray<{
    readonly table_id: string
    readonly columns: number
    /** Every field at every depth, top-level columns included. */
    readonly fields: number
  }>
  readonly table_count: number
  readonly column_count: number
  readonly field_count: number
  readonly example_count: number
  readonly rejected_examples: Readonly<Record<string, number>>
  /** Where the document went (or would go, in a dry run). */
  readonly object: string
  /** The published object's generation; `null` in a dry run. */
  readonly generation: string | null
  readonly bytes: number
  readonly duration_ms: number
}

const describe = (table: TableMetadata): TableEntry => ({
  ...table,
  sharding: null,
  field_paths: fieldPathEntries(table.columns),
  status: { state: "fresh" }
})

export interface SyncOptions {
  /** Collect, generate and validate, render the document, but publish nothing. */
  readonly dryRun?: boolean
}

export const syncOnce = (options: SyncOptions = {}) => Effect.gen(function*() {
  const settings = yield* SyncConfig
  const started = yield* Clock.currentTimeMillis

  const tables = yield* collectTables(settings.targets)
  const entries = tables.map(describe)
  const { examples, rejected } = buildExamples(tables, settings.language)
  const generatedAt = yield* DateTime.now
  const document = makeCacheDocument({
    generated_at: generatedAt,
    generator: GENERATOR,
    tables: [entries[0], ...entries.slice(1)],
    examples
  })
  const published = options.dryRun === true
    ? yield* dryRunPublish(document, settings.objectName)
    : yield* publishDocument(document, settings.objectName)
  const finished = yield* Clock.currentTimeMillis

  const perTable = entries.map((t) => ({
    table_id: t.table_id,
    columns: t.columns.length,
    fields: countFields(t.columns)
  }))
  const summary: SyncSummary = {
    status: options.dryRun === true ? "dry_run" : "ok",
    generated_at: DateTime.formatIso(generatedAt),
    tables: perTable,
    table_count: perTable.length,
    column_count: perTable.reduce((n, t) => n + t.columns, 0),
    field_count: perTable.reduce((n, t) => n + t.fields, 0),
    example_count: examples.length,
    rejected_examples: rejected,
    object: published.location,
    generation: published.generation,
    bytes: published.bytes,
    duration_ms: finished - started
  }
  return summary
}).pipe(Effect.withSpan("sync"))
