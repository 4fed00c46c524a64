/**
 * GoogleSQL (BigQuery Standard SQL) identifiers and literals, written so that generated SQL
 * means what it says whatever a column is called: keywords, spaces, dashes, Unicode, backticks.
 *
 * @see https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical
 */
import type { TableRef } from "../contract/TableId.ts"

/** GoogleSQL's reserved keywords: never usable as bare identifiers. */
export const RESERVED_KEYWORDS: ReadonlySet<string> = new Set([
  "ALL", "AND", "ANY", "ARRAY", "AS", "ASC", "ASSERT_ROWS_MODIFIED", "AT",
  "BETWEEN", "BY",
  "CASE", "CAST", "COLLATE", "CONTAINS", "CREATE", "CROSS", "CUBE", "CURRENT",
  "DEFAULT", "DEFINE", "DESC", "DISTINCT",
  "ELSE", "END", "ENUM", "ESCAPE", "EXCEPT", "EXCLUDE", "EXISTS", "EXTRACT",
  "FALSE", "FETCH", "FOLLOWING", "FOR", "FROM", "FULL",
  "GRAPH_TABLE", "GROUP", "GROUPING", "GROUPS",
  "HASH", "HAVING",
  "IF", "IGNORE", "IN", "INNER", "INTERSECT", "INTERVAL", "INTO", "IS",
  "JOIN",
  "LATERAL", "LEFT", "LIKE", "LIMIT", "LOOKUP",
  "MERGE",
  "NATURAL", "NEW", "NO", "NOT", "NULL", "NULLS",
  "OF", "ON", "OR", "ORDER", "OUTER", "OVER",
  "PARTITION", "PRECEDING", "PROTO",
  "QUALIFY",
  "RANGE", "RECURSIVE", "RESPECT", "RIGHT", "ROLLUP", "ROWS",
  "SELECT", "SET", "SOME", "STRUCT",
  "TABLESAMPLE", "THEN", "TO", "TREAT", "TRUE",
  "UNBOUNDED", "UNION", "UNNEST", "USING",
  "WHEN", "WHERE", "WINDOW", "WITH", "WITHIN"
])

/**
 * Words GoogleSQL allows bare but that are quoted anyway: statement keywords (so generated SQL
 * never trips the validator's read-only guard), words node-sql-parser's BigQuery grammar will not
 * take as bare identifiers, and niladic functions a bare column name would be read as.
 * Quoting a word that needs none is always valid GoogleSQL.
 */
export const ALWAYS_QUOTED_WORDS: ReadonlySet<string> = new Set([
  "ALTER", "ASSERT", "BEGIN", "CALL", "COMMIT", "DECLARE", "DELETE", "DROP", "EXECUTE", "EXPORT",
  "GRANT", "INSERT", "LOAD", "PIVOT", "RAISE", "REVOKE", "ROLLBACK", "SHOW", "TABLE", "TRUNCATE",
  "UNPIVOT", "UPDATE", "VALUES",
  "CURRENT_DATE", "CURRENT_DATETIME", "CURRENT_TIME", "CURRENT_TIMESTAMP", "SESSION_USER"
])

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Whether `name` can stand bare in generated SQL. */
export const isPlainIdentifier = (name: string): boolean => {
  if (!PLAIN_IDENTIFIER.test(name)) return false
  const upper = name.toUpperCase()
  return !RESERVED_KEYWORDS.has(upper) && !ALWAYS_QUOTED_WORDS.has(upper)
}

const hex4 = (code: number) => code.toString(16).toUpperCase().padStart(4, "0")

/** Escapes the characters GoogleSQL's quoted forms cannot hold literally. */
const escapeQuoted = (text: string, quote: "'" | "`"): string => {
  let out = ""
  for (const ch of text) {
    switch (ch) {
      case "\\":
        out += "\\\\"
        break
      case quote:
        out += `\\${quote}`
        break
      case "\n":
        out += "\\n"
        break
      case "\r":
        out += "\\r"
        break
      case "\t":
        out += "\\t"
        break
      default: {
        const code = ch.codePointAt(0) ?? 0
        out += code < 0x20 || code === 0x7f ? `\\u${hex4(code)}` : ch
      }
    }
  }
  return out
}

/** Quoted identifiers by name: a sync quotes the same column names over a thousand tables. Cleared when full. */
const quoted = new Map<string, string>()
const QUOTED_LIMIT = 10_000

/** `name` bare when it is a plain, unreserved identifier; backtick-quoted and escaped otherwise. */
export const quoteIdentifier = (name: string): string => {
  const known = quoted.get(name)
  if (known !== undefined) return known
  const out = isPlainIdentifier(name) ? name : `\`${escapeQuoted(name, "`")}\``
  if (quoted.size >= QUOTED_LIMIT) quoted.clear()
  quoted.set(name, out)
  return out
}

/** The fully qualified table path in one pair of backticks: `` `project.dataset.table` ``. */
export const quoteTablePath = (ref: TableRef): string =>
  `\`${escapeQuoted(`${ref.project}.${ref.dataset}.${ref.table}`, "`")}\``

/** A dotted path into nested fields (`a.b.c`), each segment quoted as it needs. */
export const quoteFieldPath = (segments: ReadonlyArray<string>): string => segments.map(quoteIdentifier).join(".")

/** A single-quoted GoogleSQL string literal holding exactly `value`. */
export const stringLiteral = (value: string): string => `'${escapeQuoted(value, "'")}'`
