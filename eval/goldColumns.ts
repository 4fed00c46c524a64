/**
 * The tables and columns a gold query needs, read with node-sql-parser (BigQuery dialect): every
 * base table of a FROM, and every column reference resolved to a base table — through its alias
 * when it is qualified (in its scope: a subquery sees its own aliases, then its parents'), else to
 * the query's base tables that have a column of that name. Names that are no base table's column
 * (select aliases, CTE columns) are left out. A query the parser cannot read is read by pattern.
 */
import nodeSqlParser from "node-sql-parser"
import type { TableEntry } from "../src/contract/TableEntry.ts"
import { flattenFields } from "../src/contract/Field.ts"
import { columnName, resolve, simplify, walkScoped } from "../src/sync/relationships/joinPredicates.ts"

export interface GoldNeeds {
  /** `project.dataset.table` ids. */
  readonly tables: ReadonlyArray<string>
  /** `project.dataset.table.column` (top-level column names, as the schema spells them). */
  readonly columns: ReadonlyArray<string>
  readonly parsed: boolean
}

const parser = new nodeSqlParser.Parser()

export const goldNeeds = (sql: string, project: string, catalog: ReadonlyMap<string, TableEntry>): GoldNeeds => {
  const tables = new Set<string>()
  const qualified: Array<{ table: string; column: string }> = []
  const unqualified = new Set<string>()
  let parsed = true
  try {
    const ast: unknown = parser.astify(simplify(sql), { database: "bigquery" })
    walkScoped(ast, project, (record, scope) => {
      if (record.type !== "column_ref") return
      const column = columnName(record.column)
      if (column === undefined || column === "*") return
      if (typeof record.table === "string" && record.table !== "") {
        const table = resolve(scope, record.table)
        if (table) qualified.push({ table, column })
      } else unqualified.add(column)
    }, { derivedAliases: true, onBaseTable: (base) => base !== null && catalog.has(base) && void tables.add(base) })
  } catch {
    parsed = false
    for (const m of sql.matchAll(/\b(?:FROM|JOIN)\s+`?(?:[\w-]+\.)?(\w+)\.(\w+)`?/gi)) {
      const id = `${project}.${m[1]}.${m[2]}`
      if (catalog.has(id)) tables.add(id)
    }
    for (const m of sql.matchAll(/\b[A-Za-z_]\w*\b/g)) unqualified.add(m[0])
  }
  const columns = new Set<string>()
  const columnOf = (table: string, name: string) => {
    const entry = catalog.get(table)
    return entry === undefined ? undefined : flattenFields(entry.columns).find((f) => f.path.toLowerCase() === name.toLowerCase())?.path
  }
  for (const { table, column } of qualified) {
    const found = columnOf(table, column)
    if (found !== undefined) columns.add(`${table}.${found}`)
  }
  for (const column of unqualified) {
    for (const table of tables) {
      const found = columnOf(table, column)
      if (found !== undefined) columns.add(`${table}.${found}`)
    }
  }
  return { tables: [...tables].sort(), columns: [...columns].sort(), parsed }
}
