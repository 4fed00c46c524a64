/**
 * Quality metrics of a cache document and of the run that wrote it, with health checks against
 * targets. The checks are reported, never enforced: a failing check does not stop a publish.
 *
 * Counting rules:
 * - `columns` counts top-level columns; `nested_fields` counts the fields inside RECORD columns at
 *   every depth below the top. Every field is one or the other.
 * - Column description coverage counts all fields at all depths (`columns + nested_fields`).
 *   A description that is empty or white space does not count as one.
 * - A table with no fields has nothing left undescribed: its coverage is 100 %.
 * - An example counts toward every table its SQL reads.
 * - Percentages are 0–100, rounded to one decimal; checks compare the exact counts.
 */
import * as Schema from "effect/Schema"
import type { CacheDocument } from "./CacheDocument.ts"
import { ExampleSource } from "./TableEntry.ts"
import { withFastPath } from "./fastPath.ts"
import { countFields, flattenFields } from "./Field.ts"
import { TableId } from "./TableId.ts"

/** ≥ 80 % of the tables have a description. */
export const TARGET_TABLES_DESCRIBED_PCT = 80
/** Per table, ≥ 50 % of its fields have a description. */
export const TARGET_FIELDS_DESCRIBED_PCT = 50
/** Per table, ≥ 8 validated examples read it. */
export const TARGET_EXAMPLES_PER_TABLE = 8

const Count = Schema.NonNegativeInt
const Percent = Schema.Number.pipe(Schema.between(0, 100))

/** A measured value against its target; `pass` when `measured ≥ target`. */
export const HealthCheck = Schema.Struct({
  measured: Schema.NonNegative,
  target: Schema.NonNegative,
  pass: Schema.Boolean
}).annotations({ identifier: "HealthCheck" })
export type HealthCheck = typeof HealthCheck.Type

export const TableHealth = Schema.Struct({
  table_id: TableId,
  /** Percent of the table's fields (all depths) that are described. */
  fields_described: HealthCheck,
  /** Validated examples that read the table. */
  examples: HealthCheck
}).annotations({ identifier: "TableHealth" })
export type TableHealth = typeof TableHealth.Type

const HEALTH_CHECK_KEYS = new Set(["measured", "target", "pass"])
const TABLE_HEALTH_KEYS = new Set(["table_id", "fields_described", "examples"])
const isTableId = Schema.is(TableId)

const isPlainObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isPlainCheck = (u: unknown): boolean => {
  if (!isPlainObject(u)) return false
  for (const key in u) if (!HEALTH_CHECK_KEYS.has(key)) return false
  const { measured, pass, target } = u
  return typeof measured === "number" && measured >= 0 && typeof target === "number" && target >= 0 && typeof pass === "boolean"
}

/** The entries themselves when each is plainly valid, with no field the schema does not know; `undefined` otherwise. */
const plainTableHealths = (u: unknown): ReadonlyArray<TableHealth> | undefined => {
  if (!Array.isArray(u)) return undefined
  for (const entry of u) {
    if (!isPlainObject(entry)) return undefined
    for (const key in entry) if (!TABLE_HEALTH_KEYS.has(key)) return undefined
    if (!isTableId(entry.table_id) || !isPlainCheck(entry.fields_described) || !isPlainCheck(entry.examples)) return undefined
  }
  return u as ReadonlyArray<TableHealth>
}

/**
 * The per-table health entries, with a fast path for the plainly valid ones: a 1,000-table document
 * holds 1,000, and the generic walk took ~5 ms of the loader's decode for them. Anything unusual
 * goes through the schema, with its own checks and messages.
 */
export const TableHealths: Schema.Schema<ReadonlyArray<TableHealth>, ReadonlyArray<typeof TableHealth.Encoded>> = withFastPath(
  Schema.Array(TableHealth),
  { decode: plainTableHealths, encode: plainTableHealths },
  "TableHealths"
)

export const QualityMetrics = Schema.Struct({
  tables: Count,
  /** Top-level columns of all tables. */
  columns: Count,
  /** Fields inside RECORD columns, at every depth below the top. */
  nested_fields: Count,
  tables_described: Count,
  tables_described_pct: Percent,
  /** Described fields at all depths (top-level columns and nested fields). */
  fields_described: Count,
  fields_described_pct: Percent,
  /** Examples in the document: those that passed validation. */
  examples_accepted: Count,
  examples_by_source: Schema.Record({ key: ExampleSource, value: Count }),
  examples_rejected: Count,
  examples_rejected_by_reason: Schema.Record({ key: Schema.String, value: Count }),
  bytes_processed: Count,
  bytes_billed: Count,
  remote_calls: Count,
  retries: Count,
  /** Wall-clock milliseconds spent in each stage of the run. */
  stage_ms: Schema.Record({ key: Schema.String, value: Schema.NonNegative }),
  stale_tables: Count,
  stale_table_ids: Schema.Array(TableId),
  health: Schema.Struct({
    tables_described: HealthCheck,
    tables: TableHealths,
    /** Whether every check above passes. */
    pass: Schema.Boolean
  })
}).annotations({ identifier: "QualityMetrics" })
export type QualityMetrics = typeof QualityMetrics.Type
export type QualityMetricsEncoded = typeof QualityMetrics.Encoded

export interface RunStats {
  readonly remote_calls: number
  readonly retries: number
  readonly bytes_processed: number
  readonly bytes_billed: number
  readonly stage_ms: Readonly<Record<string, number>>
}

const isDescribed = (description: string | null): boolean => description !== null && description.trim() !== ""

const percent = (part: number, whole: number): number => whole === 0 ? 100 : Math.round((part * 1000) / whole) / 10

/** `part / whole ≥ target %`, in integers so that exactly the target passes. */
const meets = (part: number, whole: number, targetPct: number): boolean => part * 100 >= targetPct * whole

const percentCheck = (part: number, whole: number, target: number): HealthCheck => ({
  measured: percent(part, whole),
  target,
  pass: meets(part, whole, target)
})

const sum = (values: ReadonlyArray<number>): number => values.reduce((a, b) => a + b, 0)

export const computeMetrics = (input: {
  readonly document: CacheDocument
  readonly rejected: Readonly<Record<string, number>>
  readonly run: RunStats
}): QualityMetrics => {
  const { document, rejected, run } = input
  const tables = document.tables
  const fieldsOf = tables.map((t) => flattenFields(t.columns))
  const columns = sum(tables.map((t) => t.columns.length))
  const allFields = sum(tables.map((t) => countFields(t.columns)))
  const fieldsDescribed = sum(fieldsOf.map((fs) => fs.filter((f) => isDescribed(f.description)).length))
  const tablesDescribed = tables.filter((t) => isDescribed(t.description)).length

  const examplesBySource: Record<ExampleSource, number> = { template: 0, curated: 0, llm: 0, legacy: 0 }
  for (const example of document.examples) examplesBySource[example.source] += 1

  const examplesPerTable = new Map<string, number>()
  for (const example of document.examples) {
    for (const id of new Set(example.tables)) examplesPerTable.set(id, (examplesPerTable.get(id) ?? 0) + 1)
  }
  const tableHealth = tables.map((table, i): TableHealth => {
    const fields = fieldsOf[i]
    const examples = examplesPerTable.get(table.table_id) ?? 0
    return {
      table_id: table.table_id,
      fields_described: percentCheck(
        fields.filter((f) => isDescribed(f.description)).length,
        fields.length,
        TARGET_FIELDS_DESCRIBED_PCT
      ),
      examples: {
        measured: examples,
        target: TARGET_EXAMPLES_PER_TABLE,
        pass: examples >= TARGET_EXAMPLES_PER_TABLE
      }
    }
  })
  const tablesDescribedCheck = percentCheck(tablesDescribed, tables.length, TARGET_TABLES_DESCRIBED_PCT)
  const stale = tables.filter((t) => t.status.state === "stale").map((t) => t.table_id)

  return {
    tables: tables.length,
    columns,
    nested_fields: allFields - columns,
    tables_described: tablesDescribed,
    tables_described_pct: percent(tablesDescribed, tables.length),
    fields_described: fieldsDescribed,
    fields_described_pct: percent(fieldsDescribed, allFields),
    examples_accepted: document.examples.length,
    examples_by_source: examplesBySource,
    examples_rejected: sum(Object.values(rejected)),
    examples_rejected_by_reason: { ...rejected },
    bytes_processed: run.bytes_processed,
    bytes_billed: run.bytes_billed,
    remote_calls: run.remote_calls,
    retries: run.retries,
    stage_ms: { ...run.stage_ms },
    stale_tables: stale.length,
    stale_table_ids: stale,
    health: {
      tables_described: tablesDescribedCheck,
      tables: tableHealth,
      pass: tablesDescribedCheck.pass && tableHealth.every((t) => t.fields_described.pass && t.examples.pass)
    }
  }
}

/**
 * The metrics as one flat record for a single structured log line per run. Per-key maps become
 * dotted keys (`stage_ms.collect`, `examples_rejected.dry_run_failed`); id lists are comma-joined.
 */
export const metricsLogFields = (metrics: QualityMetrics): Readonly<Record<string, string | number | boolean>> => {
  const failing = (check: (t: TableHealth) => HealthCheck) =>
    metrics.health.tables.filter((t) => !check(t).pass).map((t) => t.table_id).join(",")
  const prefixed = (prefix: string, record: Readonly<Record<string, number>>) =>
    Object.fromEntries(Object.entries(record).map(([key, value]) => [`${prefix}.${key}`, value]))
  return {
    tables: metrics.tables,
    columns: metrics.columns,
    nested_fields: metrics.nested_fields,
    tables_described_pct: metrics.tables_described_pct,
    fields_described_pct: metrics.fields_described_pct,
    examples_accepted: metrics.examples_accepted,
    ...prefixed("examples_by_source", metrics.examples_by_source),
    examples_rejected: metrics.examples_rejected,
    ...prefixed("examples_rejected", metrics.examples_rejected_by_reason),
    bytes_processed: metrics.bytes_processed,
    bytes_billed: metrics.bytes_billed,
    remote_calls: metrics.remote_calls,
    retries: metrics.retries,
    ...prefixed("stage_ms", metrics.stage_ms),
    stale_tables: metrics.stale_tables,
    stale_table_ids: metrics.stale_table_ids.join(","),
    health_pass: metrics.health.pass,
    health_tables_described_pass: metrics.health.tables_described.pass,
    health_tables_under_fields_described_target: failing((t) => t.fields_described),
    health_tables_under_examples_target: failing((t) => t.examples)
  }
}
