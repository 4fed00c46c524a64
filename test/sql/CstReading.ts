/**
 * A second, independent reading of BigQuery SQL for tests: sql-parser-cst's BigQuery grammar, not
 * node-sql-parser, which the validator is built on. Tests that only asked the product's own
 * validator whether its own output is right could not see a bug the two share; these helpers
 * let a test state by hand what a query reads and check it against another parser's tree.
 */
import { type Node, parse } from "sql-parser-cst"
import type { Field } from "../../src/contract/Field.ts"

export interface UnnestReading {
  /** The argument as a path of names, e.g. `["i", "sub"]`; empty when it is not a plain path. */
  readonly argument: ReadonlyArray<string>
  readonly alias: string | null
}

export interface CstReading {
  /** One node type per statement, e.g. `["select_stmt"]`. */
  readonly statements: ReadonlyArray<string>
  /** `project.dataset.table` paths in FROM, in order of first mention. */
  readonly tables: ReadonlyArray<string>
  /** Names of the functions called, upper case, dotted (`SAFE.PARSE_DATE`). */
  readonly functions: ReadonlyArray<string>
  /** UNNEST operations in FROM, in order; an array path in FROM (`t.items AS i`) counts as one. */
  readonly unnests: ReadonlyArray<UnnestReading>
  /** Every name path read in an expression (columns, aliases, pseudo columns), as written; `[]` marks a subscript. */
  readonly references: ReadonlyArray<ReadonlyArray<string>>
  /** Names given with AS, or implicitly to an UNNEST-free select item: select-list, table, UNNEST and CTE aliases. */
  readonly aliases: ReadonlyArray<string>
  /** String literal values, in order. */
  readonly strings: ReadonlyArray<string>
  /** Aliases given to tables in FROM (`FROM \`p.d.t\` AS t`). */
  readonly tableAliases: ReadonlyArray<string>
}

const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

/** A path of names for identifiers and member expressions, `null` for anything else. */
const pathOf = (node: Node): Array<string> | null => {
  switch (node.type) {
    case "identifier":
      return [node.name]
    case "bigquery_quoted_member_expr":
      return pathOf(node.expr)
    case "member_expr": {
      const object = pathOf(node.object)
      if (object === null) return null
      if (node.property.type === "identifier") return [...object, node.property.name]
      if (node.property.type === "array_subscript") return [...object, "[]"]
      return null
    }
    default:
      return null
  }
}

/** Reads `sql` with sql-parser-cst's BigQuery grammar; throws its syntax error when it cannot. */
export const readWithCst = (sql: string): CstReading => {
  // Query parameters (`@name`) are read, so a test can show one is there.
  const program = parse(sql, { dialect: "bigquery", includeRange: true, paramTypes: ["@name"] })
  const tables: Array<string> = []
  const functions: Array<string> = []
  const unnests: Array<UnnestReading> = []
  const references: Array<Array<string>> = []
  const aliases: Array<string> = []
  const strings: Array<string> = []
  const tableAliases: Array<string> = []

  const children = (node: Node): Array<Node> =>
    Object.entries(node).flatMap(([key, value]) =>
      key === "range" ? [] : Array.isArray(value) ? value.filter(isNode) : isNode(value) ? [value] : []
    )

  const expression = (node: Node): void => {
    switch (node.type) {
      case "func_call": {
        const name = pathOf(node.name)
        functions.push((name ?? ["?"]).join(".").toUpperCase())
        for (const child of children(node)) if (child !== node.name) expression(child)
        return
      }
      case "alias":
        aliases.push(node.alias.name)
        expression(node.expr)
        return
      case "common_table_expr":
        aliases.push(node.table.name)
        for (const child of children(node)) if (child !== node.table) expression(child)
        return
      case "from_clause":
        fromItem(node.expr)
        return
      case "string_literal":
        strings.push(node.value)
        return
      case "identifier":
      case "member_expr": {
        const path = pathOf(node)
        if (path !== null) {
          references.push(path)
          // Subscripts hold expressions of their own.
          if (node.type === "member_expr") subscripts(node)
          return
        }
        break
      }
    }
    for (const child of children(node)) expression(child)
  }

  const subscripts = (node: Node): void => {
    if (node.type !== "member_expr") return
    subscripts(node.object)
    if (node.property.type === "array_subscript") expression(node.property.expr)
  }

  const fromItem = (node: Node): void => {
    switch (node.type) {
      case "join_expr":
        fromItem(node.left)
        fromItem(node.right)
        if (node.specification !== undefined) expression(node.specification)
        return
      case "alias":
        aliases.push(node.alias.name)
        relation(node.expr, node.alias.name)
        return
      default:
        relation(node, null)
    }
  }

  const relation = (node: Node, alias: string | null): void => {
    if (node.type === "unnest_expr") {
      const argument = node.expr.type === "paren_expr" ? pathOf(node.expr.expr) : null
      unnests.push({ argument: argument ?? [], alias })
      if (argument === null) expression(node.expr)
      return
    }
    const path = pathOf(node)
    if (path === null) return expression(node)
    // Every table the tests use is fully qualified; a shorter path is a CTE or an array path.
    if (path.length >= 3) {
      const id = path.join(".")
      if (!tables.includes(id)) tables.push(id)
      if (alias !== null) tableAliases.push(alias)
    } else if (path.length === 2) {
      unnests.push({ argument: path, alias })
    }
  }

  for (const statement of program.statements) expression(statement)
  return {
    statements: program.statements.map((s) => s.type),
    tables,
    functions,
    unnests,
    references,
    aliases,
    strings,
    tableAliases
  }
}

/** The field at a path of names in a field tree (names compared case-insensitively), if there is one. */
export const fieldAt = (columns: ReadonlyArray<Field>, path: ReadonlyArray<string>): Field | undefined => {
  let level: ReadonlyArray<Field> | undefined = columns
  let found: Field | undefined
  for (const name of path) {
    found = level?.find((f) => f.name.toLowerCase() === name.toLowerCase())
    if (found === undefined) return undefined
    level = found.fields
  }
  return found
}

/** Every function a template example may call, by hand (EXTRACT and CAST are syntax, not calls). */
export const TEMPLATE_FUNCTIONS: ReadonlySet<string> = new Set([
  "COUNT", "SUM", "AVG", "CONCAT", "COALESCE", "DATE", "PARSE_DATE", "TIMESTAMP_MICROS", "TIMESTAMP_MILLIS",
  "TIMESTAMP_SECONDS", "CURRENT_DATE", "DATE_SUB", "CURRENT_TIMESTAMP", "TIMESTAMP_SUB", "CURRENT_DATETIME", "DATETIME_SUB"
])

/** Date parts and weekdays, which sql-parser-cst reads as names inside DATE_DIFF(…, DAY), WEEK(MONDAY). */
const DATE_PARTS = new Set([
  "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "DAYOFWEEK", "DAYOFYEAR", "WEEK", "ISOWEEK",
  "MONTH", "QUARTER", "YEAR", "ISOYEAR", "SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"
])
const PSEUDO_COLUMNS = new Set(["_TABLE_SUFFIX", "_PARTITIONTIME", "_PARTITIONDATE"])

/**
 * What is wrong with a one-table example query, checked by rules simple enough to verify by eye
 * against the table's field tree, on sql-parser-cst's reading:
 * - one SELECT statement reading exactly `table`;
 * - only functions from `functions`;
 * - each UNNEST's argument is a top-level column or `<alias of an earlier UNNEST>.<field>`, and
 *   names a REPEATED field reached without crossing another REPEATED one;
 * - each name read is a select-list alias, a pseudo column, a date part, or a field path from the
 *   top or from an UNNEST alias that exists and crosses no REPEATED field.
 * An empty list means none of these rules is broken.
 */
export const exampleProblems = (
  sql: string,
  table: { readonly table_id: string; readonly columns: ReadonlyArray<Field> },
  functions: ReadonlySet<string>
): ReadonlyArray<string> => {
  let reading: CstReading
  try {
    reading = readWithCst(sql)
  } catch (error) {
    return [`sql-parser-cst cannot parse it: ${error instanceof Error ? error.message : String(error)}`]
  }
  const problems: Array<string> = []
  if (reading.statements.join() !== "select_stmt") problems.push(`statements: ${reading.statements.join(", ")}`)
  if (reading.tables.join("\n") !== table.table_id) problems.push(`tables read: ${reading.tables.join(", ")}`)
  for (const name of reading.functions) if (!functions.has(name)) problems.push(`function ${name}`)

  const shown = (path: ReadonlyArray<string>) => path.join(".")
  const elements = new Map<string, ReadonlyArray<string>>()
  const tableAliases = new Set(reading.tableAliases.map((a) => a.toLowerCase()))
  /** The field path a name path stands for: through an UNNEST alias when it starts with one. */
  const fieldPath = (qualified: ReadonlyArray<string>) => {
    // `t.items` with `t` the table's alias is the column `items`.
    const path = qualified.length > 1 && tableAliases.has(qualified[0].toLowerCase()) ? qualified.slice(1) : qualified
    const element = elements.get(path[0].toLowerCase())
    return element === undefined
      ? { base: [] as ReadonlyArray<string>, path }
      : { base: element, path: [...element, ...path.slice(1)] }
  }
  /** Whether a REPEATED field lies after `base` and before the end of `path`: one that needs an UNNEST of its own. */
  const crossesRepeated = (base: ReadonlyArray<string>, path: ReadonlyArray<string>) => {
    for (let end = base.length + 1; end < path.length; end++) {
      if (fieldAt(table.columns, path.slice(0, end))?.mode === "REPEATED") return true
    }
    return false
  }

  for (const unnest of reading.unnests) {
    if (unnest.argument.length === 0) {
      problems.push("UNNEST of something other than a path")
      continue
    }
    const qualified = elements.has(unnest.argument[0].toLowerCase())
    const topLevel = fieldAt(table.columns, fieldPath(unnest.argument).path.slice(0, 1)) !== undefined
    if (!qualified && !topLevel) {
      problems.push(`UNNEST(${shown(unnest.argument)}) is not qualified by an UNNEST alias in scope`)
      continue
    }
    const { base, path } = fieldPath(unnest.argument)
    if (fieldAt(table.columns, path)?.mode !== "REPEATED") problems.push(`UNNEST(${shown(unnest.argument)}) is not a REPEATED field`)
    else if (crossesRepeated(base, path)) problems.push(`UNNEST(${shown(unnest.argument)}) crosses another REPEATED field`)
    if (unnest.alias !== null) elements.set(unnest.alias.toLowerCase(), path)
  }

  for (const reference of reading.references) {
    const head = reference[0]
    if (reference.length === 1 && (PSEUDO_COLUMNS.has(head.toUpperCase()) || DATE_PARTS.has(head.toUpperCase()))) continue
    if (reference.length === 1 && reading.aliases.some((a) => a.toLowerCase() === head.toLowerCase())) continue
    if (elements.has(head.toLowerCase()) && reference.length === 1) continue
    const { base, path } = fieldPath(reference.filter((name) => name !== "[]"))
    if (fieldAt(table.columns, path) === undefined) problems.push(`${shown(reference)} is not a field of ${table.table_id}`)
    else if (!reference.includes("[]") && crossesRepeated(base, path)) {
      problems.push(`${shown(reference)} reaches into a REPEATED field without UNNEST`)
    }
  }
  return problems
}
