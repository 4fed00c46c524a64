/**
 * What the cache document says about one table, and its examples: the parts of the contract that
 * the document, drift and metrics modules all build on.
 */
import * as Schema from "effect/Schema"
import { isStringArray, withFastPath } from "./fastPath.ts"
import { Columns } from "./Field.ts"
import { TableProfile } from "./Profile.ts"
import { TableId } from "./TableId.ts"

/** An ISO-8601 UTC timestamp string in the file, a `DateTime.Utc` in memory. */
const Timestamp = Schema.DateTimeUtc

/** Where an example came from. `legacy` marks examples migrated from a version-1 document. */
export const ExampleSource = Schema.Literal("template", "curated", "llm", "legacy")
export type ExampleSource = typeof ExampleSource.Type

export const Language = Schema.Literal("ko", "en")
export type Language = typeof Language.Type

/** A validated question→SQL pair the backend may show its model as a worked example. */
export const Example = Schema.Struct({
  question: Schema.NonEmptyString,
  sql: Schema.NonEmptyString,
  /** The tables the SQL reads. */
  tables: Schema.Array(TableId),
  source: ExampleSource,
  /** Which generator made it, e.g. `template:count_total`, `curated:examples/sales.yaml`, `llm:claude-…`. */
  generator: Schema.String,
  language: Language,
  /** BigQuery's dry-run estimate of the bytes the SQL would process (live runs only). */
  estimated_bytes: Schema.optionalWith(Schema.NonNegativeInt, { exact: true })
}).annotations({ identifier: "Example" })
export type Example = typeof Example.Type

/** BigQuery's table types (`tables.get` `type`). */
export const TableKind = Schema.Literal("TABLE", "VIEW", "MATERIALIZED_VIEW", "EXTERNAL", "SNAPSHOT", "CLONE")
export type TableKind = typeof TableKind.Type

export const Partitioning = Schema.Struct({
  /** The partitioning column; `null` for ingestion-time partitioning (`_PARTITIONTIME`). */
  field: Schema.NullOr(Schema.String),
  /** `DAY`, `HOUR`, `MONTH`, `YEAR` for time partitioning, `RANGE` for integer-range partitioning. */
  type: Schema.Literal("DAY", "HOUR", "MONTH", "YEAR", "RANGE"),
  expiration_ms: Schema.NullOr(Schema.NonNegativeInt),
  require_partition_filter: Schema.Boolean
}).annotations({ identifier: "Partitioning" })
export type Partitioning = typeof Partitioning.Type

/** A date-sharded family (`events_20210101`, `events_20210102`, …) described as one logical table. */
export const Sharding = Schema.Struct({
  /** The family's name before the date suffix, e.g. `events_`. */
  prefix: Schema.String,
  first_suffix: Schema.String,
  last_suffix: Schema.String,
  shard_count: Schema.NonNegativeInt
}).annotations({ identifier: "Sharding" })
export type Sharding = typeof Sharding.Type

/** The error that made a table's entry stale. */
export const TableFailure = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  since: Timestamp
}).annotations({ identifier: "TableFailure" })

/**
 * Whether this entry was refreshed by the run that wrote the document (`fresh`) or kept from an
 * earlier document because this run could not read the table (`stale`, with the failure).
 */
export const TableStatus = Schema.Union(
  Schema.Struct({ state: Schema.Literal("fresh") }),
  Schema.Struct({ state: Schema.Literal("stale"), failure: TableFailure })
).annotations({ identifier: "TableStatus" })
export type TableStatus = typeof TableStatus.Type

/**
 * One field of a table at any depth, with what a query needs to reach it: the REPEATED fields to
 * UNNEST on the way (the part of nested data models get wrong most) and a ready-made expression.
 */
export const FieldPathEntry = Schema.Struct({
  /** Dotted path from the table's top level, e.g. `event_params.value.string_value` (its type and description are in `columns`). */
  path: Schema.String,
  /** Paths of the REPEATED fields that must be UNNESTed to reach single values, outermost first. */
  unnest: Schema.Array(Schema.String),
  /** FROM-clause joins that bring it into scope, e.g. `CROSS JOIN UNNEST(event_params) AS event_param`. */
  joins: Schema.Array(Schema.String),
  /** The expression that reads one value once `joins` are in the FROM clause, e.g. `event_param.value.string_value`. */
  expression: Schema.String
}).annotations({ identifier: "FieldPathEntry" })
export type FieldPathEntry = typeof FieldPathEntry.Type

const plainFieldPaths = (u: unknown): ReadonlyArray<FieldPathEntry> | undefined => {
  if (!Array.isArray(u)) return undefined
  for (const p of u) {
    if (typeof p !== "object" || p === null) return undefined
    const { expression, joins, path, unnest } = p as Record<string, unknown>
    if (typeof path !== "string" || typeof expression !== "string" || !isStringArray(unnest) || !isStringArray(joins)) {
      return undefined
    }
  }
  return u as ReadonlyArray<FieldPathEntry>
}

/** A table's field paths, with a fast path for the common, valid case (there is one per field). */
const FieldPaths = withFastPath(Schema.Array(FieldPathEntry), { decode: plainFieldPaths, encode: plainFieldPaths }, "FieldPaths")

const nullByDefault = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optionalWith(Schema.NullOr(schema), { default: () => null })

/** Everything the document says about one table (or one sharded family). */
export const TableEntry = Schema.Struct({
  table_id: TableId,
  kind: Schema.optionalWith(TableKind, { default: () => "TABLE" as const }),
  description: nullByDefault(Schema.String),
  last_updated: Timestamp,
  created: nullByDefault(Timestamp),
  row_count: nullByDefault(Schema.NonNegativeInt),
  size_bytes: nullByDefault(Schema.NonNegativeInt),
  labels: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  partitioning: nullByDefault(Partitioning),
  clustering: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** The SQL of a view or materialized view. */
  view_query: nullByDefault(Schema.String),
  sharding: nullByDefault(Sharding),
  columns: Columns,
  /** What the values look like (opt-in per table, sampled under a cost cap); `null` when not profiled. */
  profile: nullByDefault(TableProfile),
  /** Every field at every depth, flattened, with how to reach it. */
  field_paths: Schema.optionalWith(FieldPaths, { default: () => [] }),
  status: Schema.optionalWith(TableStatus, { default: () => ({ state: "fresh" as const }) })
}).annotations({ identifier: "TableEntry" })
export type TableEntry = typeof TableEntry.Type
export type TableEntryEncoded = typeof TableEntry.Encoded

/** A table entry with every optional part at its default (no metadata beyond the columns, fresh). */
export const makeTableEntry = (
  input: Pick<TableEntry, "table_id" | "last_updated" | "columns"> & Partial<TableEntry>
): TableEntry => ({
  kind: "TABLE",
  description: null,
  created: null,
  row_count: null,
  size_bytes: null,
  labels: {},
  partitioning: null,
  clustering: [],
  view_query: null,
  sharding: null,
  profile: null,
  field_paths: [],
  status: { state: "fresh" },
  ...input
})
