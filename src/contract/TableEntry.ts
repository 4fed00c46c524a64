/**
 * What the cache document says about one table, and its examples: the parts of the contract that
 * the document, drift and metrics modules all build on.
 */
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { isStringArray, withFastPath } from "./fastPath.ts"
import { Columns, plainFields } from "./Field.ts"
import { TableProfile } from "./Profile.ts"
import { TableId } from "./TableId.ts"

/** An ISO-8601 UTC timestamp string in the file, a `DateTime.Utc` in memory. */
const Timestamp = Schema.DateTimeUtc

/** Where an example came from. `legacy` marks examples migrated from a version-1 document. */
export const ExampleSource = Schema.Literal("template", "curated", "llm", "legacy")
export type ExampleSource = typeof ExampleSource.Type

export const Language = Schema.Literal("ko", "en")
export type Language = typeof Language.Type

/** The example schema itself, without the fast path (what `Example` checks everything unusual with). */
export const ExampleStruct = Schema.Struct({
  question: Schema.NonEmptyString,
  sql: Schema.NonEmptyString,
  /** The tables the SQL reads. */
  tables: Schema.Array(TableId),
  source: ExampleSource,
  /** Which generator made it, e.g. `template:count_total`, `curated:examples/sales.yaml`, `llm:claude-…`. */
  generator: Schema.String,
  language: Language,
  /** BigQuery's dry-run estimate of the bytes the SQL would process (live runs only). */
  estimated_bytes: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  /**
   * Why the example was kept among its table's candidates: what it covers that the ones kept before
   * it did not (`join orders→customers`, `key column customer_id`, `shape count_by_category`).
   * Absent in documents written before the choice existed, and on curated examples, which are always kept.
   */
  kept_because: Schema.optionalWith(Schema.Array(Schema.NonEmptyString), { exact: true })
}).annotations({ identifier: "Example" })
export type Example = typeof ExampleStruct.Type
export type ExampleEncoded = typeof ExampleStruct.Encoded

const EXAMPLE_KEYS = new Set(["question", "sql", "tables", "source", "generator", "language", "estimated_bytes", "kept_because"])
const EXAMPLE_SOURCES = new Set<unknown>(ExampleSource.literals)
const LANGUAGES = new Set<unknown>(Language.literals)

/** Table ids already found valid: a document names its few thousand tables in every example. */
const validTableIds = new Set<string>()
const isValidTableId = (u: unknown): boolean => {
  if (typeof u !== "string") return false
  if (validTableIds.has(u)) return true
  if (!Schema.is(TableId)(u)) return false
  if (validTableIds.size >= 65_536) validTableIds.clear()
  validTableIds.add(u)
  return true
}

/** The example itself when plainly valid, with no field the schema does not know; `undefined` otherwise. */
const plainExample = (u: unknown): Example | undefined => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const e = u as Record<string, unknown>
  for (const key in e) if (!EXAMPLE_KEYS.has(key)) return undefined
  if (typeof e.question !== "string" || e.question.length === 0 || typeof e.sql !== "string" || e.sql.length === 0) return undefined
  if (typeof e.generator !== "string" || !EXAMPLE_SOURCES.has(e.source) || !LANGUAGES.has(e.language)) return undefined
  if (!Array.isArray(e.tables) || !e.tables.every(isValidTableId)) return undefined
  if ("estimated_bytes" in e && !(Number.isSafeInteger(e.estimated_bytes) && (e.estimated_bytes as number) >= 0)) return undefined
  if ("kept_because" in e && !(isStringArray(e.kept_because) && e.kept_because.every((r) => r.length > 0))) return undefined
  return u as Example
}

/**
 * A validated question→SQL pair the backend may show its model as a worked example. A fast path
 * checks the plainly valid ones (a 1,000-table document holds 6,000) without the generic walk.
 */
export const Example: Schema.Schema<Example, ExampleEncoded> = withFastPath(
  ExampleStruct,
  { decode: plainExample, encode: plainExample },
  "Example"
)

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

/**
 * Everything the document says about one table (or one sharded family): the schema itself. Use
 * `TableEntry`, which adds a fast path; this one is exported so tests can hold the two together.
 */
export const TableEntryStruct = Schema.Struct({
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
})
export type TableEntry = typeof TableEntryStruct.Type
export type TableEntryEncoded = typeof TableEntryStruct.Encoded

const isTableId = Schema.is(TableId)
const isKind = Schema.is(TableKind)
const isPartitioning = Schema.is(Partitioning)
const isSharding = Schema.is(Sharding)
const isLabels = Schema.is(Schema.Record({ key: Schema.String, value: Schema.String }))
const isCount = Schema.is(Schema.NonNegativeInt)

/**
 * Entries this fast path produced. The schema runs a declaration on both sides of a
 * transformation, so a decoded entry comes back once more: it is known good, and not checked again.
 */
const decodedEntries = new WeakSet<object>()

/** A marker for "not plainly valid": the entry goes through the schema instead. */
const NOT_PLAIN = Symbol("not plain")

const utcOf = (u: unknown): DateTime.Utc | typeof NOT_PLAIN => {
  if (typeof u !== "string") return NOT_PLAIN
  const parsed = DateTime.make(u)
  return Option.isSome(parsed) ? DateTime.toUtc(parsed.value) : NOT_PLAIN
}

/** `undefined` → the default, `null` → null, else the value if `check` passes it. */
const nullable = <A>(u: unknown, check: (u: unknown) => boolean, fallback: A | null = null): A | null | typeof NOT_PLAIN =>
  u === undefined ? fallback : u === null ? null : check(u) ? (u as A) : NOT_PLAIN

const statusOf = (u: unknown): TableStatus | typeof NOT_PLAIN => {
  if (u === undefined) return { state: "fresh" }
  if (typeof u !== "object" || u === null) return NOT_PLAIN
  const status = u as { readonly state?: unknown; readonly failure?: Record<string, unknown> }
  if (status.state === "fresh") return { state: "fresh" }
  const failure = status.failure
  if (status.state !== "stale" || typeof failure !== "object" || failure === null) return NOT_PLAIN
  const since = utcOf(failure.since)
  if (typeof failure.tag !== "string" || typeof failure.message !== "string" || since === NOT_PLAIN) return NOT_PLAIN
  return { state: "stale", failure: { tag: failure.tag, message: failure.message, since } }
}

/**
 * A plainly valid table entry as written (or as built in memory: the same checks pass), decoded;
 * `undefined` for anything else, including a profiled entry (profiles are rare: the schema
 * decodes those).
 */
const plainTableEntry = (u: unknown): TableEntry | undefined => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  if (decodedEntries.has(u)) return u as TableEntry
  const t = u as Record<string, unknown>
  if (!isTableId(t.table_id) || (t.profile !== undefined && t.profile !== null)) return undefined
  const kind = t.kind === undefined ? "TABLE" : isKind(t.kind) ? t.kind : NOT_PLAIN
  const lastUpdated = DateTime.isDateTime(t.last_updated) ? t.last_updated as DateTime.Utc : utcOf(t.last_updated)
  const created = t.created === undefined || t.created === null
    ? null
    : DateTime.isDateTime(t.created)
    ? t.created as DateTime.Utc
    : utcOf(t.created)
  const description = nullable<string>(t.description, (v) => typeof v === "string")
  const rowCount = nullable<number>(t.row_count, isCount)
  const sizeBytes = nullable<number>(t.size_bytes, isCount)
  const labels = t.labels === undefined ? {} : isLabels(t.labels) ? t.labels : NOT_PLAIN
  const partitioning = nullable<Partitioning>(t.partitioning, isPartitioning)
  const clustering = t.clustering === undefined ? [] : isStringArray(t.clustering) ? t.clustering : NOT_PLAIN
  const viewQuery = nullable<string>(t.view_query, (v) => typeof v === "string")
  const sharding = nullable<Sharding>(t.sharding, isSharding)
  const columns = plainFields(t.columns)
  const fieldPaths = t.field_paths === undefined ? [] : plainFieldPaths(t.field_paths)
  const status = DateTime.isDateTime((t.status as { failure?: { since?: unknown } } | undefined)?.failure?.since)
    ? t.status as TableStatus
    : statusOf(t.status)
  if (
    kind === NOT_PLAIN || lastUpdated === NOT_PLAIN || created === NOT_PLAIN || description === NOT_PLAIN ||
    rowCount === NOT_PLAIN || sizeBytes === NOT_PLAIN || labels === NOT_PLAIN || partitioning === NOT_PLAIN ||
    clustering === NOT_PLAIN || viewQuery === NOT_PLAIN || sharding === NOT_PLAIN || columns === undefined ||
    fieldPaths === undefined || status === NOT_PLAIN
  ) return undefined
  const entry: TableEntry = {
    table_id: t.table_id,
    kind,
    description,
    last_updated: lastUpdated,
    created,
    row_count: rowCount,
    size_bytes: sizeBytes,
    labels,
    partitioning,
    clustering,
    view_query: viewQuery,
    sharding,
    columns,
    profile: null,
    field_paths: fieldPaths,
    status
  }
  decodedEntries.add(entry)
  return entry
}

/**
 * An unprofiled entry as written to the file; `undefined` sends it through the schema. Like the
 * decoder it takes either form (the schema runs a declaration on both sides of a transformation).
 */
const plainTableEntryEncoded = (u: unknown): TableEntryEncoded | undefined => {
  const entry = plainTableEntry(u)
  if (entry === undefined) return undefined
  return {
    ...entry,
    profile: null,
    last_updated: DateTime.formatIso(entry.last_updated),
    created: entry.created === null ? null : DateTime.formatIso(entry.created),
    status: entry.status.state === "fresh"
      ? entry.status
      : { state: "stale", failure: { ...entry.status.failure, since: DateTime.formatIso(entry.status.failure.since) } }
  }
}

/**
 * Everything the document says about one table, with a fast path for the common, valid entry: a
 * 1,000-table document decodes several times faster than through the generic walk, and anything
 * unusual still gets the schema's own checks and messages.
 */
export const TableEntry: Schema.Schema<TableEntry, TableEntryEncoded> = withFastPath(
  TableEntryStruct,
  { decode: plainTableEntry, encode: plainTableEntryEncoded },
  "TableEntry"
)

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
