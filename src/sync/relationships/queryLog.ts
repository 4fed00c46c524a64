/**
 * Query-log relationships (opt-in): the join predicates (`a.x = b.y`) of the SELECT queries that ran
 * successfully over the document's tables in the last `QUERY_LOG_DAYS` days, read from
 * `region-<location>.INFORMATION_SCHEMA.JOBS_BY_PROJECT` (one query, capped by `MAX_BYTES_BILLED`;
 * the service account needs `roles/bigquery.resourceViewer` on the project to see other users'
 * jobs) and parsed with the SQL parser. Each column pair becomes one relationship, its confidence
 * growing with the number of queries that join that way.
 */
import * as Effect from "effect/Effect"
import type { Relationship } from "../../contract/Relationship.ts"
import { TableId } from "../../contract/TableId.ts"
import type { TableEntry } from "../../contract/TableEntry.ts"
import { BigQueryService } from "../../services/BigQuery/BigQueryService.ts"
import { quoteIdentifier } from "../../sql/Identifiers.ts"
import type { LoggedQuery } from "../examples/QueryLogExamples.ts"
import { type ColumnRef, readJoinPairs } from "./joinPredicates.ts"
import { singular, words } from "./infer.ts"

/** Most logged queries read per run. */
export const QUERY_LOG_LIMIT = 5000

export const queryLogSql = (location: string) =>
  `SELECT query, user_email FROM ${quoteIdentifier(`region-${location.toLowerCase()}`)}.INFORMATION_SCHEMA.JOBS_BY_PROJECT ` +
  `WHERE creation_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days DAY) ` +
  `AND job_type = 'QUERY' AND statement_type = 'SELECT' AND state = 'DONE' AND error_result IS NULL ` +
  `AND EXISTS (SELECT 1 FROM UNNEST(referenced_tables) AS t ` +
  `WHERE CONCAT(t.project_id, '.', t.dataset_id, '.', t.table_id) IN UNNEST(SPLIT(@tables, ','))) ` +
  `ORDER BY creation_time DESC LIMIT @limit`

const tableName = (id: string) => id.slice(id.lastIndexOf(".") + 1)

/**
 * Which side of `a = b` is the parent (first): the one named `id` or whose column names its own table
 * (`customers.customer_id`), else the one the other's column names; `null` when neither tells.
 */
const parentFirst = (a: ColumnRef, b: ColumnRef): [ColumnRef, ColumnRef] | null => {
  const keyLike = (c: ColumnRef) => {
    const ws = words(c.column)
    const entity = words(tableName(c.table)).map(singular).join(" ")
    return ws.length === 1 && ws[0] === "id" || ws.slice(0, -1).map(singular).join(" ") === entity
  }
  const [ka, kb] = [keyLike(a), keyLike(b)]
  if (ka && !kb) return [a, b]
  if (kb && !ka) return [b, a]
  // A column that names the other table points at it: `lines.order_ref` → `orders`.
  const names = (c: ColumnRef, other: ColumnRef) => words(c.column).map(singular).join(" ").includes(words(tableName(other.table)).map(singular).join(" "))
  if (names(b, a) && !names(a, b)) return [a, b]
  if (names(a, b) && !names(b, a)) return [b, a]
  return null
}

/** Relationships from logged SQL: one per column pair between two tables, at least one of them in `tables`. */
export const relationshipsFromQueries = (
  queries: ReadonlyArray<string>,
  defaultProject: string,
  tables: ReadonlyArray<TableEntry>,
  days: number
): Array<Relationship> => {
  const columns = new Map(tables.map((t) => [t.table_id as string, new Set(t.columns.map((c) => c.name.toLowerCase()))]))
  const known = (c: ColumnRef) => columns.get(c.table)?.has(c.column.toLowerCase())
  const counts = new Map<string, { pair: [ColumnRef, ColumnRef]; ordered: boolean; count: number }>()
  for (const sql of queries) {
    const seen = new Set<string>()
    for (const { left, right } of readJoinPairs(sql, defaultProject).pairs) {
      if (known(left) === false || known(right) === false || (!columns.has(left.table) && !columns.has(right.table))) continue
      const ordered = parentFirst(left, right)
      const [parent, child] = ordered ?? ([left, right].sort((x, y) => `${x.table}.${x.column}`.localeCompare(`${y.table}.${y.column}`)) as [ColumnRef, ColumnRef])
      const key = `${child.table}.${child.column}->${parent.table}.${parent.column}`
      if (seen.has(key)) continue
      seen.add(key)
      const entry = counts.get(key) ?? { pair: [child, parent], ordered: ordered !== null, count: 0 }
      entry.count++
      counts.set(key, entry)
    }
  }
  return [...counts.values()].map(({ count, ordered, pair: [child, parent] }): Relationship => ({
    from: { table_id: TableId.make(child.table), columns: [child.column] },
    to: { table_id: TableId.make(parent.table), columns: [parent.column] },
    source: "query_log",
    confidence: Math.min(0.95, Math.round((0.5 + 0.1 * count) * 100) / 100),
    evidence: `joined this way in ${count} successful ${count === 1 ? "query" : "queries"} of the last ${days} days`,
    cardinality: ordered ? "many-to-one" : null
  }))
}

export interface QueryLogRead {
  readonly project: string
  readonly location: string
  readonly days: number
  readonly tables: ReadonlyArray<TableEntry>
  readonly maximumBytesBilled: number
}

/**
 * Reads the log once for every use (relationships and examples): the SQL of each successful SELECT
 * over `tables` and who ran it. A failing read is logged and gives no queries.
 */
export const readQueryLog = (input: QueryLogRead) =>
  Effect.gen(function*() {
    const bigquery = yield* BigQueryService
    const read = yield* Effect.either(bigquery.query(input.project, queryLogSql(input.location), {
      maximumBytesBilled: input.maximumBytesBilled,
      params: { days: input.days, tables: input.tables.map((t) => t.table_id).join(","), limit: QUERY_LOG_LIMIT }
    }))
    if (read._tag === "Left") {
      yield* Effect.logWarning(`query log not read: ${read.left.message}`)
      return [] as ReadonlyArray<LoggedQuery>
    }
    return read.right.rows.flatMap((r): Array<LoggedQuery> =>
      typeof r.query === "string" ? [{ query: r.query, user: typeof r.user_email === "string" ? r.user_email : null }] : []
    )
  })

/** Reads the log and turns it into relationships; a failing read is logged and gives none. */
export const queryLogRelationships = (input: QueryLogRead) =>
  Effect.map(readQueryLog(input), (logged) =>
    relationshipsFromQueries(logged.map((l) => l.query), input.project, input.tables, input.days))
