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
import type { TableEntry, TableKind } from "../../contract/CacheDocument.ts"
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

export const RestTable = Schema.Struct({
  tableReference: Schema.optional(
    Schema.Struct({ projectId: Schema.String, datasetId: Schema.String, tableId: Schema.String })
  ),
  type: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  schema: Schema.optional(Schema.Struct({ fields: Schema.optional(Schema.Array(RestField)) })),
  numRows: Schema.optional(Int64String),
  numBytes: Schema.optional(Int64String),
  creationTime: Schema.optional(Int64String),
  lastModifiedTime: Schema.optional(Int64String),
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
export type RestTable = typeof RestTable.Type
/** BigQuery's primary and foreign keys of a table (declared, not enforced), as `tables.get` returns them. */
export type TableConstraints = NonNullable<RestTable["tableConstraints"]>

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
