/**
 * The join pairs a query uses (for the query log, and the evaluation's gold SQL): every `a.x = b.y` between columns of two different base tables,
 * with table aliases resolved in their scope (a subquery sees its own aliases, then its parents').
 * Columns of CTEs and derived tables are not base-table columns and are left out, as are
 * self-joins (`da1.aid = da2.aid` over one table).
 */
import nodeSqlParser from "node-sql-parser"

export interface ColumnRef {
  /** `project.dataset.table` */
  readonly table: string
  readonly column: string
}
export interface JoinPair {
  readonly left: ColumnRef
  readonly right: ColumnRef
}

/** `a.x=b.y`, the two sides in a fixed order, so `a.x = b.y` and `b.y = a.x` are one pair. */
export const pairKey = (p: JoinPair): string => {
  const [a, b] = [`${p.left.table}.${p.left.column}`, `${p.right.table}.${p.right.column}`].sort()
  return `${a}=${b}`
}

const parser = new nodeSqlParser.Parser()

/** Aliases in scope, innermost last: alias → base table id, or `null` for a CTE or subquery. */
export type Scope = ReadonlyArray<ReadonlyMap<string, string | null>>

/** `project.dataset.table` of a FROM item naming a base table (`ds.t`, `p.ds.t`, `` `p.ds.t` ``); `null` for a CTE or subquery. */
export const baseTable = (item: Record<string, unknown>, project: string): string | null => {
  const table = item.table as string
  const parts = table.split(".")
  if (parts.length === 3) return table
  if (parts.length === 2) return `${project}.${table}`
  if (typeof item.schema === "string" && item.schema !== "" && typeof item.db === "string") return `${item.db}.${item.schema}.${table}`
  return typeof item.db === "string" && item.db !== "" ? `${project}.${item.db}.${table}` : null
}

/** The name of a column reference's column, however the parser spells it. */
export const columnName = (column: unknown): string | undefined => {
  if (typeof column === "string") return column
  if (typeof column === "object" && column !== null && "expr" in column) {
    const value = (column as { expr: { value?: unknown } }).expr.value
    return typeof value === "string" ? value : undefined
  }
  return undefined
}

/** What `alias` names in `scope`: a base table id, `null` (a CTE or subquery), or `undefined` (nothing). */
export const resolve = (scope: Scope, alias: string): string | null | undefined => {
  for (let i = scope.length - 1; i >= 0; i--) {
    const map = scope[i]!
    if (map.has(alias.toLowerCase())) return map.get(alias.toLowerCase())
  }
  return undefined
}

/**
 * Visits every node of a parsed query with the aliases in scope where it stands: a SELECT's FROM
 * items open a scope for everything below that SELECT (a base table under its alias and its short
 * name). `derivedAliases`: a subquery's or CTE's alias is in scope too, naming no base table (so it
 * hides a same-named alias of an outer query). `onBaseTable` sees each FROM item that names a table.
 */
export const walkScoped = (
  ast: unknown,
  project: string,
  onNode: (record: Record<string, unknown>, scope: Scope) => void,
  options: { readonly derivedAliases?: boolean; readonly onBaseTable?: (base: string | null) => void } = {}
): void => {
  const visit = (node: unknown, scope: Scope): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child, scope)
      return
    }
    if (typeof node !== "object" || node === null) return
    const record = node as Record<string, unknown>
    let inner = scope
    if (record.type === "select" && Array.isArray(record.from)) {
      const aliases = new Map<string, string | null>()
      for (const item of record.from as Array<Record<string, unknown>>) {
        if (typeof item.table !== "string") {
          if (options.derivedAliases === true && typeof item.as === "string") aliases.set(item.as.toLowerCase(), null)
          continue
        }
        const short = item.table.split(".").pop()!
        const base = baseTable(item, project)
        options.onBaseTable?.(base)
        aliases.set(String(item.as ?? short).toLowerCase(), base)
        if (item.as !== null && item.as !== undefined) aliases.set(short.toLowerCase(), base)
      }
      inner = [...scope, aliases]
    }
    onNode(record, inner)
    for (const value of Object.values(record)) if (typeof value === "object") visit(value, inner)
  }
  visit(ast, [])
}

const IDENT = "[A-Za-z_][A-Za-z0-9_]*"
const TABLE_ALIAS = new RegExp(`\\b(?:FROM|JOIN)\\s+\`?((?:[A-Za-z0-9_-]+\\.)?${IDENT})\`?\\.\`?(${IDENT})\`?(?:\\s+(?:AS\\s+)?(?!(?:ON|JOIN|WHERE|GROUP|ORDER|LEFT|RIGHT|INNER|FULL|CROSS|LIMIT|USING|WINDOW|HAVING|UNION)\\b)(${IDENT}))?`, "gi")
const EQUALITY = new RegExp(`\\b(${IDENT})\\.(${IDENT})\\s*=\\s*(${IDENT})\\.(${IDENT})\\b`, "g")

/**
 * For queries the parser does not read (BigQuery syntax it lacks): aliases collected over the whole
 * query, then every `a.x = b.y`. Less exact than scopes, but the gold queries reuse an alias for
 * one table only.
 */
export const joinPairsByPattern = (sql: string, project: string): Array<JoinPair> => {
  const aliases = new Map<string, string>()
  for (const m of sql.matchAll(TABLE_ALIAS)) {
    const table = m[1]!.includes(".") ? `${m[1]}.${m[2]}` : `${project}.${m[1]}.${m[2]}`
    aliases.set(m[2]!.toLowerCase(), table)
    if (m[3] !== undefined) aliases.set(m[3].toLowerCase(), table)
  }
  const pairs: Array<JoinPair> = []
  for (const m of sql.matchAll(EQUALITY)) {
    const lt = aliases.get(m[1]!.toLowerCase())
    const rt = aliases.get(m[3]!.toLowerCase())
    if (lt !== undefined && rt !== undefined && lt !== rt) {
      pairs.push({ left: { table: lt, column: m[2]! }, right: { table: rt, column: m[4]! } })
    }
  }
  return pairs
}

/** `NULLS FIRST/LAST` and date-part arguments the parser does not know, taken out (they hold no join). */
/** node-sql-parser cannot read `NULLS FIRST|LAST`; the order of nulls does not change what a query reads. */
export const simplify = (sql: string) => sql.replace(/\bNULLS\s+(FIRST|LAST)\b/gi, "")

/** The join pairs of one query and how they were read; `project` qualifies `dataset.table` names. */
export const readJoinPairs = (sql: string, project: string): { pairs: Array<JoinPair>; parsed: boolean } => {
  try {
    return { pairs: joinPairs(simplify(sql), project), parsed: true }
  } catch {
    return { pairs: joinPairsByPattern(sql, project), parsed: false }
  }
}

/** The join pairs of one query, by its syntax tree; throws when it does not parse. */
export const joinPairs = (sql: string, project: string): Array<JoinPair> => {
  const ast: unknown = parser.astify(sql, { database: "bigquery" })
  const pairs: Array<JoinPair> = []
  walkScoped(ast, project, (record, scope) => {
    if (record.type !== "binary_expr" || record.operator !== "=") return
    const [l, r] = [record.left as Record<string, unknown>, record.right as Record<string, unknown>]
    if (l?.type === "column_ref" && r?.type === "column_ref" && typeof l.table === "string" && typeof r.table === "string") {
      const lt = resolve(scope, l.table)
      const rt = resolve(scope, r.table)
      const lc = columnName(l.column)
      const rc = columnName(r.column)
      if (lt && rt && lc && rc && lt !== rt) pairs.push({ left: { table: lt, column: lc }, right: { table: rt, column: rc } })
    }
  })
  return pairs
}
