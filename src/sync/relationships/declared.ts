/**
 * Declared relationships: BigQuery's primary and foreign keys. They are not enforced, but their
 * owner stated them, so they rank just below curated files.
 *
 * - Tables read one by one carry them in `tables.get`'s `tableConstraints`.
 * - Datasets read in batches (more than `TABLES_GET_LIMIT` targets, through INFORMATION_SCHEMA)
 *   get them from `INFORMATION_SCHEMA.TABLE_CONSTRAINTS`, `KEY_COLUMN_USAGE` and
 *   `CONSTRAINT_COLUMN_USAGE`: one query per such dataset (8 at once), capped by `MAX_BYTES_BILLED`.
 *
 * A foreign key whose columns are the child's whole primary key is one-to-one; others many-to-one.
 */
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { Relationship } from "../../contract/Relationship.ts"
import { TableId } from "../../contract/TableId.ts"
import { type BigQueryError, BigQueryService, type QueryResult } from "../../services/BigQuery/BigQueryService.ts"
import type { TableConstraints, TableMetadata } from "../../services/BigQuery/TableResource.ts"
import { quoteIdentifier } from "../../sql/Identifiers.ts"

/** `LiveBigQuery.TABLES_GET_LIMIT`: above this many targets, a dataset is read through INFORMATION_SCHEMA. */
export const BATCHED_ABOVE = 10

const sameColumns = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  a.length === b.length && a.every((c) => b.includes(c))

const makeId = (project: string, dataset: string, table: string) => TableId.make(`${project}.${dataset}.${table}`)

/** The foreign keys of one table's `tableConstraints`. */
export const fromTableConstraints = (tableId: string, constraints: TableConstraints): Array<Relationship> => {
  const primary = constraints.primaryKey?.columns ?? []
  return (constraints.foreignKeys ?? []).flatMap((fk): Array<Relationship> => {
    const pairs = fk.columnReferences
    if (pairs.length === 0) return []
    const from = pairs.map((p) => p.referencingColumn)
    const { datasetId, projectId, tableId: parent } = fk.referencedTable
    return [{
      from: { table_id: TableId.make(tableId), columns: [from[0]!, ...from.slice(1)] },
      to: {
        table_id: makeId(projectId, datasetId, parent),
        columns: [pairs[0]!.referencedColumn, ...pairs.slice(1).map((p) => p.referencedColumn)]
      },
      source: "declared",
      confidence: 1,
      evidence: `foreign key${fk.name === undefined ? "" : ` ${fk.name}`} (tables.get)`,
      cardinality: primary.length > 0 && sameColumns(from, primary) ? "one-to-one" : "many-to-one"
    }]
  })
}

/** One row of KEY_COLUMN_USAGE joined with its constraint's type. */
export interface KeyColumnRow {
  readonly table_name: string
  readonly constraint_name: string
  readonly constraint_type: string
  readonly column_name: string
  readonly ordinal_position: number
  readonly position_in_unique_constraint: number | null
}

/** One row of CONSTRAINT_COLUMN_USAGE of a foreign key: a referenced column. */
export interface ReferencedColumnRow {
  readonly constraint_name: string
  readonly table_catalog: string
  readonly table_schema: string
  readonly table_name: string
  readonly column_name: string
}

/** The foreign keys of one dataset's INFORMATION_SCHEMA rows. */
export const fromInformationSchema = (
  project: string,
  dataset: string,
  keys: ReadonlyArray<KeyColumnRow>,
  references: ReadonlyArray<ReferencedColumnRow>
): Array<Relationship> => {
  const byConstraint = new Map<string, Array<KeyColumnRow>>()
  for (const row of keys) byConstraint.set(row.constraint_name, [...(byConstraint.get(row.constraint_name) ?? []), row])
  const primaryOf = new Map<string, Array<string>>()
  for (const rows of byConstraint.values()) {
    if (rows[0]!.constraint_type !== "PRIMARY KEY") continue
    primaryOf.set(rows[0]!.table_name, [...rows].sort((a, b) => a.ordinal_position - b.ordinal_position).map((r) => r.column_name))
  }
  const out: Array<Relationship> = []
  for (const [name, rows] of byConstraint) {
    if (rows[0]!.constraint_type !== "FOREIGN KEY") continue
    const refs = references.filter((r) => r.constraint_name === name)
    const parent = refs[0]
    if (parent === undefined) continue
    const ordered = [...rows].sort((a, b) => a.ordinal_position - b.ordinal_position)
    const parentKey = parent.table_catalog === project && parent.table_schema === dataset
      ? primaryOf.get(parent.table_name)
      : undefined
    // A referenced column is the parent key's column at `position_in_unique_constraint`; else CCU's order.
    const to = ordered.map((row, i) =>
      row.position_in_unique_constraint !== null && parentKey?.[row.position_in_unique_constraint - 1] !== undefined
        ? parentKey[row.position_in_unique_constraint - 1]!
        : refs[i]?.column_name ?? refs[0]!.column_name
    )
    const from = ordered.map((r) => r.column_name)
    const childKey = primaryOf.get(rows[0]!.table_name) ?? []
    out.push({
      from: { table_id: makeId(project, dataset, rows[0]!.table_name), columns: [from[0]!, ...from.slice(1)] },
      to: { table_id: makeId(parent.table_catalog, parent.table_schema, parent.table_name), columns: [to[0]!, ...to.slice(1)] },
      source: "declared",
      confidence: 1,
      evidence: `foreign key ${name} (INFORMATION_SCHEMA)`,
      cardinality: childKey.length > 0 && sameColumns(from, childKey) ? "one-to-one" : "many-to-one"
    })
  }
  return out
}

const schemaOf = (project: string, dataset: string, view: string) =>
  `${quoteIdentifier(project)}.${quoteIdentifier(dataset)}.INFORMATION_SCHEMA.${view}`

/**
 * One query per dataset: every key column with its constraint's type and, for a foreign key, the
 * columns it references (a composite key's rows repeat per referenced column; the reader folds them).
 */
export const declaredKeysSql = (project: string, dataset: string) =>
  `SELECT k.table_name, k.constraint_name, c.constraint_type, k.column_name, k.ordinal_position, ` +
  `k.position_in_unique_constraint, u.table_catalog AS ref_catalog, u.table_schema AS ref_schema, ` +
  `u.table_name AS ref_table, u.column_name AS ref_column ` +
  `FROM ${schemaOf(project, dataset, "KEY_COLUMN_USAGE")} AS k ` +
  `JOIN ${schemaOf(project, dataset, "TABLE_CONSTRAINTS")} AS c ` +
  `ON c.constraint_name = k.constraint_name AND c.table_name = k.table_name ` +
  `LEFT JOIN ${schemaOf(project, dataset, "CONSTRAINT_COLUMN_USAGE")} AS u ` +
  `ON u.constraint_name = k.constraint_name AND c.constraint_type = 'FOREIGN KEY'`

/**
 * Whether the keys of a dataset with `count` tables read this run are asked of INFORMATION_SCHEMA
 * (live mode, a project to run the query in, a batched dataset).
 */
export const asksDeclaredKeys = (input: { readonly live: boolean; readonly project: string | null; readonly count: number }) =>
  input.live && input.project !== null && input.count > BATCHED_ABOVE

/** The key query of one dataset, run in `project`; its failure is the caller's to log. */
export const declaredKeysQuery = (runIn: string, project: string, dataset: string, maximumBytesBilled: number) =>
  Effect.flatMap(BigQueryService, (bigquery) => Effect.either(bigquery.query(runIn, declaredKeysSql(project, dataset), { maximumBytesBilled })))

/** Datasets whose keys are read at once. */
const DATASET_CONCURRENCY = 8

const asNumber = (u: unknown): number => (typeof u === "number" ? u : Number(u))

/**
 * The declared relationships of the tables read this run: `tableConstraints` where `tables.get`
 * returned them, and INFORMATION_SCHEMA for the datasets read in batches (live mode only). A
 * failing query is logged and its dataset left without declared keys.
 */
export const declaredRelationships = (input: {
  readonly tables: ReadonlyArray<TableMetadata>
  readonly project: string | null
  readonly maximumBytesBilled: number
  /** Whether INFORMATION_SCHEMA can be asked (live mode). */
  readonly live: boolean
  /**
   * Datasets' key queries already made (or in flight), by `project.dataset`, each the outcome of
   * `declaredKeysQuery`: the sync asks them as soon as a dataset's tables are read.
   */
  readonly prefetched?: ReadonlyMap<string, Effect.Effect<Either.Either<QueryResult, BigQueryError>>>
}) =>
  Effect.gen(function*() {
    const out: Array<Relationship> = []
    const datasets = new Map<string, { project: string; dataset: string; count: number }>()
    for (const table of input.tables) {
      if (table.table_constraints !== undefined) out.push(...fromTableConstraints(table.table_id, table.table_constraints))
      const [project, dataset] = table.table_id.split(".") as [string, string]
      const key = `${project}.${dataset}`
      const entry = datasets.get(key) ?? { project, dataset, count: 0 }
      entry.count++
      datasets.set(key, entry)
    }
    if (!input.live || input.project === null) return out
    const bigquery = yield* BigQueryService
    const batched = [...datasets.values()].filter((d) => d.count > BATCHED_ABOVE)
    const read = yield* Effect.forEach(batched, ({ dataset, project }) =>
      Effect.map(
        input.prefetched?.get(`${project}.${dataset}`) ??
          Effect.either(bigquery.query(input.project!, declaredKeysSql(project, dataset), { maximumBytesBilled: input.maximumBytesBilled })),
        (result) => ({ dataset, project, result })
      ), { concurrency: DATASET_CONCURRENCY })
    for (const { dataset, project, result } of read) {
      if (result._tag === "Left") {
        yield* Effect.logWarning(`declared keys of ${project}.${dataset} not read: ${result.left.message}`)
        continue
      }
      const keys = new Map<string, KeyColumnRow>()
      const refs = new Map<string, ReferencedColumnRow>()
      for (const r of result.right.rows) {
        const constraint = String(r.constraint_name)
        keys.set(`${constraint}\u0000${String(r.column_name)}`, {
          table_name: String(r.table_name),
          constraint_name: constraint,
          constraint_type: String(r.constraint_type),
          column_name: String(r.column_name),
          ordinal_position: asNumber(r.ordinal_position),
          position_in_unique_constraint: r.position_in_unique_constraint === null || r.position_in_unique_constraint === undefined
            ? null
            : asNumber(r.position_in_unique_constraint)
        })
        if (r.ref_table !== null && r.ref_table !== undefined) {
          refs.set(`${constraint}\u0000${String(r.ref_column)}`, {
            constraint_name: constraint,
            table_catalog: String(r.ref_catalog),
            table_schema: String(r.ref_schema),
            table_name: String(r.ref_table),
            column_name: String(r.ref_column)
          })
        }
      }
      out.push(...fromInformationSchema(project, dataset, [...keys.values()], [...refs.values()]))
    }
    return out
  })
