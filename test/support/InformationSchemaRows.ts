/**
 * A table's INFORMATION_SCHEMA rows derived from its REST `Table` resource, the way BigQuery
 * presents the same table in both: TABLES (GoogleSQL type names, the DDL with its column list,
 * `PARTITION BY`, `CLUSTER BY` and `OPTIONS(…)`), COLUMN_FIELD_PATHS joined with COLUMNS (one row
 * per field at every depth, `ARRAY<STRUCT<…>>` types, `is_nullable` NO for REQUIRED and REPEATED)
 * and `__TABLES__` (sizes and millisecond times).
 *
 * Column rows come sorted by field path, not in BigQuery's column order, as a query without
 * ORDER BY may return them: the reader must rebuild the order itself.
 */
import type { ColumnRow, InformationSchemaRows, StorageRow, TablesRow } from "../../src/services/BigQuery/InformationSchema.ts"
import type { FakeBigQuery, FakeField, QueryParams } from "./FakeBigQueryServer.ts"

export type RestFieldJson = {
  readonly name: string
  readonly type: string
  readonly mode?: string
  readonly description?: string
  readonly fields?: ReadonlyArray<RestFieldJson>
  readonly policyTags?: { readonly names: ReadonlyArray<string> }
}

/** A schema fixture (as `bq show --schema` writes it) as the REST API sends it: `mode` left out where it is NULLABLE. */
export const asRest = (field: RestFieldJson): RestFieldJson => {
  const { fields, mode, ...rest } = field
  return {
    ...rest,
    ...(mode === undefined || mode === "NULLABLE" ? {} : { mode }),
    ...(fields === undefined ? {} : { fields: fields.map(asRest) })
  }
}

/** A REST `Table` resource, as `tables.get` answers and `fake.tables.put` takes it. */
export type TableResourceFixture = {
  readonly tableReference: { readonly tableId: string }
  readonly type?: string
  readonly description?: string
  readonly schema?: { readonly fields: ReadonlyArray<RestFieldJson> }
  readonly numRows?: string
  readonly numBytes?: string
  readonly creationTime?: string
  readonly lastModifiedTime?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly timePartitioning?: {
    readonly type?: string
    readonly field?: string
    readonly expirationMs?: string
    readonly requirePartitionFilter?: boolean
  }
  readonly rangePartitioning?: {
    readonly field: string
    readonly range: { readonly start: string; readonly end: string; readonly interval: string }
  }
  readonly requirePartitionFilter?: boolean
  readonly clustering?: { readonly fields: ReadonlyArray<string> }
  readonly view?: { readonly query: string; readonly useLegacySql?: boolean }
  readonly materializedView?: { readonly query: string }
}

const SQL_TYPE_NAMES: Readonly<Record<string, string>> = {
  INTEGER: "INT64",
  FLOAT: "FLOAT64",
  BOOLEAN: "BOOL",
  RECORD: "STRUCT"
}

const identifier = (name: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name}\``)

/** A GoogleSQL string literal; JSON's escapes are all GoogleSQL escapes too. */
const literal = (text: string) => JSON.stringify(text)

const isRecord = (field: RestFieldJson) => field.type === "RECORD" || field.type === "STRUCT"

/** The type as INFORMATION_SCHEMA's `data_type` writes it (nullability not included). */
const dataType = (field: RestFieldJson): string => {
  const element = isRecord(field)
    ? `STRUCT<${(field.fields ?? []).map((f) => `${identifier(f.name)} ${dataType(f)}`).join(", ")}>`
    : SQL_TYPE_NAMES[field.type] ?? field.type
  return field.mode === "REPEATED" ? `ARRAY<${element}>` : element
}

/** The column as the DDL writes it: nested NOT NULL and descriptions included. */
const ddlColumn = (field: RestFieldJson): string => {
  const element = isRecord(field)
    ? `STRUCT<${(field.fields ?? []).map(ddlColumn).join(", ")}>`
    : SQL_TYPE_NAMES[field.type] ?? field.type
  const type = field.mode === "REPEATED" ? `ARRAY<${element}>` : element
  return [
    `${identifier(field.name)} ${type}`,
    field.mode === "REQUIRED" ? " NOT NULL" : "",
    field.description === undefined || field.description === "" ? "" : ` OPTIONS(description=${literal(field.description)})`
  ].join("")
}

const partitionClause = (resource: TableResourceFixture): string | undefined => {
  const fields = resource.schema?.fields ?? []
  const tp = resource.timePartitioning
  if (tp !== undefined) {
    const unit = tp.type ?? "DAY"
    if (tp.field === undefined) return unit === "DAY" ? "_PARTITIONDATE" : `TIMESTAMP_TRUNC(_PARTITIONTIME, ${unit})`
    const column = identifier(tp.field)
    switch (fields.find((f) => f.name === tp.field)?.type) {
      case "DATE":
        return unit === "DAY" ? column : `DATE_TRUNC(${column}, ${unit})`
      case "DATETIME":
        return `DATETIME_TRUNC(${column}, ${unit})`
      default:
        return unit === "DAY" ? `DATE(${column})` : `TIMESTAMP_TRUNC(${column}, ${unit})`
    }
  }
  const range = resource.rangePartitioning
  if (range === undefined) return undefined
  return `RANGE_BUCKET(${identifier(range.field)}, GENERATE_ARRAY(${range.range.start}, ${range.range.end}, ${range.range.interval}))`
}

const optionsClause = (resource: TableResourceFixture): string | undefined => {
  const options: Array<string> = []
  const expirationMs = resource.timePartitioning?.expirationMs
  if (expirationMs !== undefined) {
    const days = Number(expirationMs) / 86_400_000
    options.push(`partition_expiration_days=${Number.isInteger(days) ? days.toFixed(1) : String(days)}`)
  }
  if (resource.requirePartitionFilter ?? resource.timePartitioning?.requirePartitionFilter) {
    options.push("require_partition_filter=true")
  }
  if (resource.description !== undefined && resource.description !== "") {
    options.push(`description=${literal(resource.description)}`)
  }
  const labels = Object.entries(resource.labels ?? {})
  if (labels.length > 0) {
    options.push(`labels=[${labels.map(([k, v]) => `(${literal(k)}, ${literal(v)})`).join(", ")}]`)
  }
  return options.length === 0 ? undefined : `OPTIONS(\n${options.map((o) => `  ${o}`).join(",\n")}\n)`
}

const TABLE_TYPES: Readonly<Record<string, string>> = {
  TABLE: "BASE TABLE",
  MATERIALIZED_VIEW: "MATERIALIZED VIEW"
}

/** The DDL INFORMATION_SCHEMA.TABLES shows for the resource. */
export const ddlOf = (project: string, dataset: string, resource: TableResourceFixture): string => {
  const name = `\`${project}.${dataset}.${resource.tableReference.tableId}\``
  const kind = resource.type ?? "TABLE"
  const partition = partitionClause(resource)
  const clustering = resource.clustering?.fields ?? []
  const tail = [
    partition === undefined ? undefined : `PARTITION BY ${partition}`,
    clustering.length === 0 ? undefined : `CLUSTER BY ${clustering.map(identifier).join(", ")}`,
    optionsClause(resource)
  ].filter((clause) => clause !== undefined)
  if (kind === "VIEW" || kind === "MATERIALIZED_VIEW") {
    const query = resource.view?.query ?? resource.materializedView?.query ?? ""
    const create = kind === "VIEW" ? "CREATE VIEW" : "CREATE MATERIALIZED VIEW"
    return [`${create} ${name}`, ...tail, `AS ${query};`].join("\n")
  }
  const create = kind === "EXTERNAL" ? "CREATE EXTERNAL TABLE" : "CREATE TABLE"
  const columns = (resource.schema?.fields ?? []).map((f) => `  ${ddlColumn(f)}`).join(",\n")
  return `${[`${create} ${name}\n(\n${columns}\n)`, ...tail].join("\n")};`
}

const fieldPathRows = (
  table: string,
  column: RestFieldJson,
  ordinal: number
): ReadonlyArray<ColumnRow> => {
  const rows: Array<ColumnRow> = []
  const walk = (field: RestFieldJson, path: string) => {
    rows.push({
      table_name: table,
      column_name: column.name,
      field_path: path,
      data_type: dataType(field),
      description: field.description === undefined || field.description === "" ? null : field.description,
      policy_tags: field.policyTags?.names ?? [],
      ordinal_position: ordinal,
      is_nullable: column.mode === "REQUIRED" || column.mode === "REPEATED" ? "NO" : "YES"
    })
    for (const child of field.fields ?? []) walk(child, `${path}.${child.name}`)
  }
  walk(column, column.name)
  return rows
}

/** The three queries' rows for the resources of `project.dataset`. */
export const informationSchemaRowsOf = (
  project: string,
  dataset: string,
  resources: ReadonlyArray<TableResourceFixture>
): InformationSchemaRows => {
  const tables: Array<TablesRow> = []
  const columns: Array<ColumnRow> = []
  const storage: Array<StorageRow> = []
  for (const resource of resources) {
    const table = resource.tableReference.tableId
    const kind = resource.type ?? "TABLE"
    tables.push({ table_name: table, table_type: TABLE_TYPES[kind] ?? kind, ddl: ddlOf(project, dataset, resource) })
    ;(resource.schema?.fields ?? []).forEach((column, i) => columns.push(...fieldPathRows(table, column, i + 1)))
    storage.push({
      table_id: table,
      creation_time: resource.creationTime === undefined ? null : Number(resource.creationTime),
      last_modified_time: resource.lastModifiedTime === undefined ? null : Number(resource.lastModifiedTime),
      // __TABLES__ says 0 where a resource (a view) has no counts.
      row_count: Number(resource.numRows ?? 0),
      size_bytes: Number(resource.numBytes ?? 0)
    })
  }
  const byPath = (a: ColumnRow, b: ColumnRow) =>
    a.table_name === b.table_name
      ? (a.field_path < b.field_path ? -1 : a.field_path > b.field_path ? 1 : 0)
      : (a.table_name < b.table_name ? -1 : 1)
  return { tables, columns: columns.sort(byPath), storage }
}

// ---------------------------------------------------------------------------------------------
// The same rows as the fake's query answers

export const TABLES_SCHEMA: ReadonlyArray<FakeField> = [
  { name: "table_name", type: "STRING" },
  { name: "table_type", type: "STRING" },
  { name: "ddl", type: "STRING" }
]

export const COLUMNS_SCHEMA: ReadonlyArray<FakeField> = [
  { name: "table_name", type: "STRING" },
  { name: "column_name", type: "STRING" },
  { name: "field_path", type: "STRING" },
  { name: "data_type", type: "STRING" },
  { name: "description", type: "STRING" },
  { name: "policy_tags", type: "STRING", mode: "REPEATED" },
  { name: "ordinal_position", type: "INTEGER" },
  { name: "is_nullable", type: "STRING" }
]

export const STORAGE_SCHEMA: ReadonlyArray<FakeField> = [
  { name: "table_id", type: "STRING" },
  { name: "creation_time", type: "INTEGER" },
  { name: "last_modified_time", type: "INTEGER" },
  { name: "row_count", type: "INTEGER" },
  { name: "size_bytes", type: "INTEGER" }
]

/** Which of the three queries a SQL text is. */
export const informationSchemaQueryOf = (sql: string): "tables" | "columns" | "storage" | undefined =>
  /INFORMATION_SCHEMA\.TABLES\b/.test(sql)
    ? "tables"
    : /INFORMATION_SCHEMA\.COLUMN_FIELD_PATHS\b/.test(sql)
    ? "columns"
    : /__TABLES__/.test(sql)
    ? "storage"
    : undefined

export interface ArrangeOptions {
  /** What each query bills (BigQuery bills an INFORMATION_SCHEMA query at least 10 MB). */
  readonly totalBytesBilled?: number
  /** Rows per page of the COLUMN_FIELD_PATHS answer. */
  readonly columnsPageSize?: number
  /** Changes the rows before they are served (to serve rows BigQuery might send but the fixture would not give). */
  readonly adjust?: (rows: InformationSchemaRows) => InformationSchemaRows
}

/**
 * Arranges the fake to answer the three queries on `project.dataset` from the resources, each
 * answer restricted to the table names in the query's `@tables` parameter.
 */
export const arrangeInformationSchema = (
  fake: FakeBigQuery,
  project: string,
  dataset: string,
  resources: ReadonlyArray<TableResourceFixture>,
  options: ArrangeOptions = {}
): void => {
  const all = (options.adjust ?? ((rows) => rows))(informationSchemaRowsOf(project, dataset, resources))
  const requested = (params: QueryParams) => new Set(Array.isArray(params.tables) ? params.tables : [])
  const answer = <Row>(
    which: "tables" | "columns" | "storage",
    schema: ReadonlyArray<FakeField>,
    rows: ReadonlyArray<Row>,
    nameOf: (row: Row) => string,
    pageSize?: number
  ) =>
    fake.queries.answer({
      // Not the region queries, which name each dataset's __TABLES__ too: the fake answers those from its tables.
      match: (sql) =>
        informationSchemaQueryOf(sql) === which && sql.includes(`\`${project}\`.\`${dataset}\``) &&
        !sql.includes("@qualified_tables"),
      schema,
      rows: (params) => {
        const names = requested(params)
        return rows
          .filter((row) => names.has(nameOf(row)))
          .map((row) => schema.map((field) => (row as Record<string, unknown>)[field.name]))
      },
      totalBytesProcessed: 1_048_576,
      totalBytesBilled: options.totalBytesBilled ?? 10_485_760,
      ...(pageSize === undefined ? {} : { pageSize })
    })
  answer("tables", TABLES_SCHEMA, all.tables, (row) => row.table_name)
  answer("columns", COLUMNS_SCHEMA, all.columns, (row) => row.table_name, options.columnsPageSize)
  answer("storage", STORAGE_SCHEMA, all.storage, (row) => row.table_id)
}
