/**
 * BigQuery's REST `Table` resource (what `tables.get` returns and `bq show --format=prettyjson`
 * prints), decoded and turned into the cache contract's table description.
 *
 * The live layer and the local table-definition files both go through here, so the two read
 * BigQuery's JSON the same way.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Field, FieldMode } from "../../contract/Field.ts"
import { type TableEntry, TableEntryStruct, type TableKind } from "../../contract/CacheDocument.ts"
import { formatTableRef, makeTableId, type TableRef } from "../../contract/TableId.ts"

/** `TableFieldSchema` as the REST API sends it: `mode` may be absent (NULLABLE). */
export interface RestField {
  readonly name: string
  readonly type: string
  readonly mode?: RestMode | undefined
  readonly description?: string | undefined
  readonly fields?: ReadonlyArray<RestField> | undefined
  readonly policyTags?: { readonly names?: ReadonlyArray<string> | undefined } | undefined
}

const RestMode = Schema.Literal("NULLABLE", "REQUIRED", "REPEATED", "nullable", "required", "repeated")
type RestMode = typeof RestMode.Type

/**
 * BigQuery allows at most 15 levels of nested RECORDs: a field has at most 15 RECORD ancestors,
 * so the deepest leaf is at depth 15 (top-level columns at 0).
 */
export const MAX_NESTING_DEPTH = 15

/**
 * Why `fields` (a `schema.fields` array as read, not yet decoded) nests deeper than BigQuery
 * allows, or `undefined`. Walks with an explicit stack, so a hostile tree of any depth is refused
 * before any recursive code (schema decoding, flattening, encoding) sees it.
 */
export const fieldNestingProblem = (fields: unknown): string | undefined => {
  const stack: Array<{ readonly fields: unknown; readonly depth: number; readonly path: string }> = [
    { fields, depth: 0, path: "" }
  ]
  while (stack.length > 0) {
    const level = stack.pop()!
    if (!Array.isArray(level.fields)) continue
    for (const field of level.fields as ReadonlyArray<unknown>) {
      if (typeof field !== "object" || field === null || !("fields" in field)) continue
      const name = "name" in field && typeof field.name === "string" ? field.name : "?"
      const path = level.path === "" ? name : `${level.path}.${name}`
      if (level.depth + 1 > MAX_NESTING_DEPTH && Array.isArray(field.fields) && field.fields.length > 0) {
        return `field ${path.length > 200 ? `${path.slice(0, 200)}…` : path} nests deeper than BigQuery's ${MAX_NESTING_DEPTH} levels of RECORDs`
      }
      stack.push({ fields: field.fields, depth: level.depth + 1, path })
    }
  }
  return undefined
}

const RestField: Schema.Schema<RestField> = Schema.Struct({
  name: Schema.NonEmptyString,
  type: Schema.NonEmptyString,
  mode: Schema.optional(RestMode),
  description: Schema.optional(Schema.String),
  fields: Schema.optional(Schema.Array(Schema.suspend((): Schema.Schema<RestField> => RestField))),
  policyTags: Schema.optional(Schema.Struct({ names: Schema.optional(Schema.Array(Schema.String)) }))
})

/** Int64 values arrive as decimal strings. */
const Int64String = Schema.Union(Schema.NumberFromString, Schema.Number).pipe(
  Schema.compose(Schema.NonNegativeInt, { strict: false })
)

/** The most milliseconds from the epoch a JavaScript date (and so a `DateTime`) can hold. */
export const MAX_DATE_MS = 8_640_000_000_000_000

/** A time in milliseconds since the epoch, within the range of dates. */
export const EpochMillis = Int64String.pipe(
  Schema.filter((ms) => ms <= MAX_DATE_MS || `${ms} ms since the epoch is beyond the last representable date`)
)

const RestTableStruct = Schema.Struct({
  tableReference: Schema.optional(
    Schema.Struct({ projectId: Schema.String, datasetId: Schema.String, tableId: Schema.String })
  ),
  type: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  schema: Schema.optional(Schema.Struct({ fields: Schema.optional(Schema.Array(RestField)) })),
  numRows: Schema.optional(Int64String),
  numBytes: Schema.optional(Int64String),
  creationTime: Schema.optional(EpochMillis),
  lastModifiedTime: Schema.optional(EpochMillis),
  labels: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  timePartitioning: Schema.optional(
    Schema.Struct({
      type: Schema.optional(Schema.String),
      field: Schema.optional(Schema.String),
      expirationMs: Schema.optional(Int64String),
      requirePartitionFilter: Schema.optional(Schema.Boolean)
    })
  ),
  rangePartitioning: Schema.optional(Schema.Struct({ field: Schema.String })),
  requirePartitionFilter: Schema.optional(Schema.Boolean),
  clustering: Schema.optional(Schema.Struct({ fields: Schema.optional(Schema.Array(Schema.String)) })),
  view: Schema.optional(Schema.Struct({ query: Schema.optional(Schema.String) })),
  materializedView: Schema.optional(Schema.Struct({ query: Schema.optional(Schema.String) })),
  tableConstraints: Schema.optional(
    Schema.Struct({
      primaryKey: Schema.optional(Schema.Struct({ columns: Schema.Array(Schema.String) })),
      foreignKeys: Schema.optional(Schema.Array(Schema.Struct({
        name: Schema.optional(Schema.String),
        referencedTable: Schema.Struct({ projectId: Schema.String, datasetId: Schema.String, tableId: Schema.String }),
        columnReferences: Schema.Array(Schema.Struct({ referencingColumn: Schema.String, referencedColumn: Schema.String }))
      })))
    })
  )
})
export type RestTable = typeof RestTableStruct.Type
/** BigQuery's primary and foreign keys of a table (declared, not enforced), as `tables.get` returns them. */
export type TableConstraints = NonNullable<RestTable["tableConstraints"]>

const schemaFieldsOf = (u: unknown): unknown =>
  typeof u === "object" && u !== null && "schema" in u && typeof u.schema === "object" && u.schema !== null &&
    "fields" in u.schema
    ? u.schema.fields
    : undefined

/**
 * The REST `Table` resource. Its nesting is checked before anything else reads the field tree, so a
 * tree deeper than BigQuery's limit is a decoding error, never a stack overflow.
 */
export const RestTable: Schema.Schema<RestTable, unknown> = Schema.Unknown.pipe(
  Schema.filter((u) => {
    const problem = fieldNestingProblem(schemaFieldsOf(u))
    return problem === undefined || { path: ["schema", "fields"], message: problem }
  }),
  Schema.compose(RestTableStruct, { strict: false })
)

/** What the sync learns about a table from BigQuery (a cache `TableEntry` without run status). */
export type TableMetadata = Omit<TableEntry, "status" | "sharding" | "field_paths" | "profile"> & {
  /** Declared keys, when `tables.get` returned some (the relationships step reads them; not in the document's entry). */
  readonly table_constraints?: TableConstraints
}

const TABLE_KINDS: ReadonlySet<string> = new Set<TableKind>([
  "TABLE",
  "VIEW",
  "MATERIALIZED_VIEW",
  "EXTERNAL",
  "SNAPSHOT",
  "CLONE"
])

const PARTITION_TYPES = new Set(["DAY", "HOUR", "MONTH", "YEAR"])

export const fieldFromRest = (field: RestField): Field => {
  const base = {
    name: field.name,
    type: field.type.toUpperCase(),
    mode: (field.mode ?? "NULLABLE").toUpperCase() as FieldMode,
    description: field.description === undefined || field.description === "" ? null : field.description
  }
  const tags = field.policyTags?.names ?? []
  return {
    ...base,
    ...(field.fields === undefined ? {} : { fields: field.fields.map(fieldFromRest) }),
    ...(tags.length === 0 ? {} : { policy_tags: tags })
  }
}

const fromMillis = (ms: number | undefined) => (ms === undefined ? null : DateTime.unsafeMake(ms))

/**
 * The contract's description of `ref` from its REST resource. `fallbackModified` stands in for a
 * missing `lastModifiedTime` (a bare `schema.fields` file has none).
 */
export const tableMetadataFromRest = (
  ref: TableRef,
  table: RestTable,
  fallbackModified: DateTime.Utc
): TableMetadata => {
  const kind = table.type !== undefined && TABLE_KINDS.has(table.type) ? (table.type as TableKind) : "TABLE"
  const tp = table.timePartitioning
  const requireFilter = table.requirePartitionFilter ?? tp?.requirePartitionFilter ?? false
  const partitioning: TableMetadata["partitioning"] =
    tp !== undefined
      ? {
        field: tp.field ?? null,
        type: (tp.type !== undefined && PARTITION_TYPES.has(tp.type) ? tp.type : "DAY") as "DAY",
        expiration_ms: tp.expirationMs ?? null,
        require_partition_filter: requireFilter
      }
      : table.rangePartitioning !== undefined
      ? {
        field: table.rangePartitioning.field,
        type: "RANGE",
        expiration_ms: null,
        require_partition_filter: requireFilter
      }
      : null
  return {
    table_id: makeTableId(ref),
    kind,
    description: table.description === undefined || table.description === "" ? null : table.description,
    last_updated: fromMillis(table.lastModifiedTime) ?? fallbackModified,
    created: fromMillis(table.creationTime),
    row_count: table.numRows ?? null,
    size_bytes: table.numBytes ?? null,
    labels: table.labels ?? {},
    partitioning,
    clustering: table.clustering?.fields ?? [],
    view_query: table.view?.query ?? table.materializedView?.query ?? null,
    columns: (table.schema?.fields ?? []).map(fieldFromRest),
    ...(table.tableConstraints === undefined ? {} : { table_constraints: table.tableConstraints })
  }
}

/**
 * A table definition in BigQuery's own JSON: either the whole `Table` resource or a bare
 * `schema.fields` array. Returns the resource, or a readable account of what is wrong.
 */
export const decodeTableDefinition = (json: unknown): Either.Either<RestTable, string> => {
  const resource = Array.isArray(json) ? { schema: { fields: json } } : json
  return Either.mapLeft(
    Schema.decodeUnknownEither(RestTable, { errors: "all", onExcessProperty: "ignore" })(resource),
    (error) =>
      ParseResult.ArrayFormatter.formatErrorSync(error)
        .map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`)
        .join("; ")
  )
}

/** Does the resource's own `tableReference` (when it has one) name `ref`? */
export const referenceMismatch = (ref: TableRef, table: RestTable): string | undefined => {
  const own = table.tableReference
  if (own === undefined) return undefined
  const ownId = formatTableRef({ project: own.projectId, dataset: own.datasetId, table: own.tableId })
  return ownId === formatTableRef(ref) ? undefined : `it describes ${ownId}, not ${formatTableRef(ref)}`
}

/** BigQuery's own limits on descriptions, in characters. */
export const MAX_TABLE_DESCRIPTION = 16_384
export const MAX_COLUMN_DESCRIPTION = 1_024

/** A description cut to its limit: which one (`null` for the table's own) and how long it was. */
export interface TruncatedDescription {
  /** The field's dotted path, or `null` for the table description. */
  readonly column: string | null
  readonly length: number
}

/** What a cut description ends with, so a reader sees that text is missing. */
const truncationMarker = (length: number) => ` … [truncated from ${length} characters]`

/** `text` cut to at most `limit` UTF-16 units, marker included, never splitting a surrogate pair. */
const truncate = (text: string, limit: number): string => {
  const marker = truncationMarker(text.length)
  let end = limit - marker.length
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end -= 1
  return `${text.slice(0, end)}${marker}`
}

/**
 * The table with descriptions longer than BigQuery allows cut to BigQuery's limits (a source that
 * is not BigQuery — a file, an emulator — may hold anything), and which were cut. Deterministic:
 * the same input is always cut the same way.
 */
export const capDescriptions = (
  table: TableMetadata
): { readonly table: TableMetadata; readonly truncated: ReadonlyArray<TruncatedDescription> } => {
  const truncated: Array<TruncatedDescription> = []
  const capField = (field: Field, parent: string): Field => {
    const path = parent === "" ? field.name : `${parent}.${field.name}`
    const fields = field.fields?.map((child) => capField(child, path))
    const long = field.description !== null && field.description.length > MAX_COLUMN_DESCRIPTION
    if (long) truncated.push({ column: path, length: field.description!.length })
    if (!long && (fields === undefined || fields.every((f, i) => f === field.fields![i]))) return field
    return {
      ...field,
      ...(long ? { description: truncate(field.description!, MAX_COLUMN_DESCRIPTION) } : {}),
      ...(fields === undefined ? {} : { fields })
    }
  }
  const description = table.description !== null && table.description.length > MAX_TABLE_DESCRIPTION
    ? (truncated.push({ column: null, length: table.description.length }), truncate(table.description, MAX_TABLE_DESCRIPTION))
    : table.description
  const columns = table.columns.map((column) => capField(column, ""))
  return truncated.length === 0 ? { table, truncated } : { table: { ...table, description, columns }, truncated }
}

const validateMetadata = Schema.validateEither(
  Schema.typeSchema(TableEntryStruct.omit("status", "sharding", "field_paths", "profile")),
  { errors: "all", onExcessProperty: "ignore" }
)

/**
 * What is wrong with `table` for the cache document (a negative row count, an expiration that is
 * not a whole number of milliseconds, …), or `undefined`. Checked per table as it is read, so one
 * table's odd metadata fails that table, not the document that would hold it.
 */
export const metadataProblem = (table: TableMetadata): string | undefined => {
  const checked = validateMetadata(table)
  return Either.isRight(checked)
    ? undefined
    : ParseResult.ArrayFormatter.formatErrorSync(checked.left)
      .slice(0, 5)
      .map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`)
      .join("; ")
}
