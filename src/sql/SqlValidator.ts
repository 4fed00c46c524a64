/**
 * The one gate every example's SQL passes, whatever made it (templates, curated files, an LLM):
 * a single read-only BigQuery query over catalog tables and columns that exist.
 *
 * Two independent checks, both of which must pass:
 * 1. A lexical guard that reads the text the way BigQuery's lexer does (comments, string literals
 *    and quoted identifiers set aside) and refuses statement separators, statement keywords and
 *    external and identity functions. It does not depend on the parser, so a gap in the parser's
 *    grammar cannot let DML, scripting or those calls through.
 * 2. node-sql-parser's BigQuery grammar; whatever it cannot parse is refused (fail closed). The
 *    tree it returns is then resolved name by name: tables against the catalog, columns and
 *    nested paths against the tables' field trees, through UNNEST aliases (a nested UNNEST must
 *    start from one), CTEs and subqueries; every function against the allow-list of
 *    BigQueryFunctions.ts; the partition filter of a table that requires one against every OR
 *    branch of WHERE. The query must read at least one catalog table.
 *
 * A catalog table whose id ends in `*` is a wildcard table (a date-sharded family); queries over
 * it may read its `_TABLE_SUFFIX` pseudo column, and only queries over it may.
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import sqlParser from "node-sql-parser/build/bigquery.js"
import { isRecord, type Field } from "../contract/Field.ts"
import { isWildcardTable, type TableId, tableRefOf } from "../contract/TableId.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { EXTERNAL_FUNCTIONS, FORBIDDEN_NAMESPACES, functionVerdict, IDENTITY_FUNCTIONS } from "./BigQueryFunctions.ts"

export const SqlRejectionReason = Schema.Literal(
  "parse_error",
  "multiple_statements",
  "not_read_only",
  "unknown_table",
  "unknown_column",
  "forbidden_function",
  "missing_partition_filter",
  "no_table",
  "query_parameter"
)
export type SqlRejectionReason = typeof SqlRejectionReason.Type

/** Why a query was refused: a machine-readable reason and a message naming the offending thing. */
export class SqlRejection extends Schema.TaggedError<SqlRejection>()("SqlRejection", {
  reason: SqlRejectionReason,
  message: Schema.String
}) {}

/** A query that passed every check. */
export interface ValidatedSql {
  /** The query as given, trimmed, without a trailing semicolon. */
  readonly sql: string
  /** Comments dropped, white space collapsed, bare words upper-cased: equal for equal queries. */
  readonly normalized: string
  /** The catalog tables the query reads, in order of first mention. */
  readonly tables: ReadonlyArray<TableId>
}

export interface SqlCatalog {
  readonly tables: ReadonlyArray<TableMetadata>
}

class Rejected extends Error {
  readonly reason: SqlRejectionReason
  constructor(reason: SqlRejectionReason, message: string) {
    super(message)
    this.reason = reason
  }
}

const reject = (reason: SqlRejectionReason, message: string): never => {
  throw new Rejected(reason, message)
}

// ---------------------------------------------------------------------------------------------
// Lexical guard
// ---------------------------------------------------------------------------------------------

type TokenKind = "word" | "quoted" | "string" | "number" | "punct"

export interface Token {
  readonly kind: TokenKind
  /** The token's source text. */
  readonly text: string
  /** Upper-cased text for words; the character for punctuation. */
  readonly value: string
  /** Where the token starts in the SQL. */
  readonly start: number
}

// Character classes by code unit: a regular expression per character was the tokenizer's main cost.
const isWordStartCode = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isWordPartCode = (c: number) => isWordStartCode(c) || (c >= 48 && c <= 57)
const isWordStart = (ch: string) => ch.length === 1 && isWordStartCode(ch.charCodeAt(0))
const isDigit = (ch: string) => ch >= "0" && ch <= "9"
/** `\s` of a regular expression, without one for the common ASCII characters. */
const isSpace = (ch: string) => {
  const c = ch.charCodeAt(0)
  return c === 32 || (c >= 9 && c <= 13) || (c > 127 && /\s/.test(ch))
}
/** Characters that may open a string or bytes literal (`'`, `"`, or an r/b prefix). */
const mayOpenLiteral = (c: number) => c === 39 || c === 34 || c === 114 || c === 82 || c === 98 || c === 66

/** Where the quoted run that opens at `start` with `quote` ends (index after the closing quote). */
const endOfQuoted = (sql: string, start: number, quote: string, what: string): number => {
  const multiline = quote.length === 3
  let i = start + quote.length
  while (i < sql.length) {
    const ch = sql[i]
    if (ch === "\\") {
      i += 2
      continue
    }
    if (sql.startsWith(quote, i)) return i + quote.length
    if (!multiline && (ch === "\n" || ch === "\r")) break
    i += 1
  }
  return reject("parse_error", `unterminated ${what} starting at offset ${start}: ${sql.slice(start, start + 30)}`)
}

/** Splits `sql` into tokens the way BigQuery's lexer does, dropping white space and comments. */
const tokenize = (sql: string): ReadonlyArray<Token> => {
  const tokens: Array<Token> = []
  let i = 0
  while (i < sql.length) {
    const ch = sql[i]
    if (isSpace(ch)) {
      i += 1
      continue
    }
    if (ch === "#" || sql.startsWith("--", i)) {
      const end = sql.indexOf("\n", i)
      i = end < 0 ? sql.length : end + 1
      continue
    }
    if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2)
      if (end < 0) reject("parse_error", `unterminated comment starting at offset ${i}`)
      i = end + 2
      continue
    }
    // String and bytes literals, with optional r/b prefixes and triple quotes.
    const prefix = mayOpenLiteral(sql.charCodeAt(i)) ? /^(?:[rRbB]|[rR][bB]|[bB][rR])?(?='|")/.exec(sql.slice(i, i + 3)) : null
    if (prefix !== null && (prefix[0].length > 0 || ch === "'" || ch === '"')) {
      const at = i + prefix[0].length
      const q = sql[at]
      const quote = sql.startsWith(q.repeat(3), at) ? q.repeat(3) : q
      const end = endOfQuoted(sql, at, quote, "string literal")
      tokens.push({ kind: "string", text: sql.slice(i, end), value: "", start: i })
      i = end
      continue
    }
    if (ch === "`") {
      const end = endOfQuoted(sql, i, "`", "quoted identifier")
      tokens.push({ kind: "quoted", text: sql.slice(i, end), value: sql.slice(i + 1, end - 1), start: i })
      i = end
      continue
    }
    if (isWordStart(ch)) {
      let end = i + 1
      while (end < sql.length && isWordPartCode(sql.charCodeAt(end))) end += 1
      const text = sql.slice(i, end)
      tokens.push({ kind: "word", text, value: text.toUpperCase(), start: i })
      i = end
      continue
    }
    if (isDigit(ch) || (ch === "." && isDigit(sql[i + 1] ?? ""))) {
      let end = i + 1
      while (end < sql.length && /[A-Za-z0-9_.]/.test(sql[end])) end += 1
      tokens.push({ kind: "number", text: sql.slice(i, end), value: sql.slice(i, end), start: i })
      i = end
      continue
    }
    tokens.push({ kind: "punct", text: ch, value: ch, start: i })
    i += 1
  }
  return tokens
}

/** The tokens of `sql` as the validator reads them (comments dropped), or `null` when it cannot be split. */
export const sqlTokens = (sql: string): ReadonlyArray<Token> | null => {
  try {
    return tokenize(sql)
  } catch {
    return null
  }
}

/** Never valid bare in a read-only query (GoogleSQL reserves them or the parser refuses them as names). */
const DML_DDL_KEYWORDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "SET", "CALL"])

/** Statement keywords GoogleSQL also allows as names: refused where a statement could start. */
const STATEMENT_KEYWORDS = new Set([
  "GRANT", "REVOKE", "DECLARE", "BEGIN", "EXECUTE", "EXPORT", "LOAD", "COMMIT", "ROLLBACK", "ASSERT",
  "RAISE", "RETURN", "LOOP", "WHILE", "BREAK", "LEAVE", "CONTINUE", "ITERATE", "ELSEIF", "TRANSACTION"
])

/** Words that may follow a column name inside parentheses. */
const OPERATOR_WORDS = new Set(["AS", "AND", "OR", "IS", "IN", "NOT", "LIKE", "BETWEEN", "ASC", "DESC", "IGNORE", "RESPECT", "LIMIT", "ORDER"])

/** Two-word statement openers refused anywhere. */
const STATEMENT_PHRASES: ReadonlyArray<readonly [string, string]> = [
  ["EXECUTE", "IMMEDIATE"],
  ["EXPORT", "DATA"],
  ["EXPORT", "MODEL"],
  ["LOAD", "DATA"],
  ["BEGIN", "TRANSACTION"],
  ["COMMIT", "TRANSACTION"],
  ["ROLLBACK", "TRANSACTION"]
]

const lexicalGuard = (tokens: ReadonlyArray<Token>): void => {
  if (tokens.length === 0) reject("parse_error", "the query is empty")
  const first = tokens.find((t) => t.value !== "(")
  if (first === undefined || first.kind !== "word" || (first.value !== "SELECT" && first.value !== "WITH")) {
    reject(
      "not_read_only",
      `the statement starts with ${first?.text ?? "("}; only a SELECT query (optionally with WITH) is allowed`
    )
  }
  const separator = tokens.findIndex((t, i) => t.value === ";" && i < tokens.length - 1)
  if (separator >= 0) {
    const statements = tokens.filter((t, i) => t.value === ";" && i < tokens.length - 1).length + 1
    const next = tokens[separator + 1]
    reject(
      "multiple_statements",
      `found ${statements} statements separated by ';' (the second starts with ${next.text}); only one query is allowed`
    )
  }
  tokens.forEach((token, i) => {
    // `@name` and `@@system_variable`: an example must run as written, and `@@session_id`-like
    // variables tell who or where it runs, not what the data holds.
    if (token.value === "@") {
      const name = tokens[i + 1]?.value === "@" ? `@@${tokens[i + 2]?.text ?? ""}` : `@${tokens[i + 1]?.text ?? ""}`
      reject("query_parameter", `${name} is not allowed: an example must run as written, without query parameters or system variables`)
    }
    if (token.kind !== "word") return
    const previous = tokens[i - 1]
    const next = tokens[i + 1]
    // A name after a dot (`t.set`) is a field, not a keyword; the parser still sees the text.
    if (previous?.value === ".") return
    if (DML_DDL_KEYWORDS.has(token.value)) {
      reject("not_read_only", `${token.value} is not allowed: only read-only SELECT queries are`)
    }
    // After `(` these words may be column names (`SUM(load)`); a statement there goes on with
    // another name or literal (`(DECLARE x …`, `(BEGIN SELECT …`, `(GRANT \`role\` …`).
    const opensStatement = previous === undefined || previous.value === ";" ||
      (previous.value === "(" && next !== undefined &&
        (next.kind === "quoted" || next.kind === "string" || (next.kind === "word" && !OPERATOR_WORDS.has(next.value))))
    if (opensStatement && STATEMENT_KEYWORDS.has(token.value)) {
      reject("not_read_only", `${token.value} is not allowed: only read-only SELECT queries are`)
    }
    for (const [a, b] of STATEMENT_PHRASES) {
      if (token.value === a && next?.kind === "word" && next.value === b) {
        reject("not_read_only", `${a} ${b} is not allowed: only read-only SELECT queries are`)
      }
    }
    // The parser-independent half of the function check: calls refused whatever the grammar makes of them.
    if ((EXTERNAL_FUNCTIONS.has(token.value) || IDENTITY_FUNCTIONS.has(token.value)) && next?.value === "(") {
      const verdict = functionVerdict(token.value)
      if (!verdict.allowed) reject("forbidden_function", verdict.why)
    }
    if (
      FORBIDDEN_NAMESPACES.has(token.value) && next?.value === "." && tokens[i + 2]?.kind === "word" &&
      tokens[i + 3]?.value === "("
    ) {
      reject("forbidden_function", `${token.value}.${tokens[i + 2].text} is not allowed in an example query`)
    }
  })
}

const normalize = (tokens: ReadonlyArray<Token>): string => {
  const kept = tokens[tokens.length - 1]?.value === ";" ? tokens.slice(0, -1) : tokens
  let out = ""
  let previous: Token | undefined
  for (const token of kept) {
    // Keywords, functions, columns and aliases are case-insensitive; table names must match the
    // catalog exactly, so two valid queries never differ only in a table name's case.
    const text = token.kind === "word" ? token.value : token.text
    const tight = previous === undefined || [")", ",", ".", "(", "[", "]"].includes(token.value) ||
      ["(", ".", "["].includes(previous.value)
    out += tight ? text : ` ${text}`
    previous = token
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const parserOptions = { database: "bigquery" }
let parserInstance: InstanceType<typeof sqlParser.Parser> | undefined
const parser = () => (parserInstance ??= new sqlParser.Parser())

/** Whether node-sql-parser's BigQuery grammar accepts `sql` (used by tests and callers that only need parsing). */
export const parseBigQuery = (sql: string): Either.Either<unknown, string> => {
  try {
    return Either.right(parser().astify(sql, parserOptions))
  } catch (cause) {
    return Either.left(cause instanceof Error ? cause.message : String(cause))
  }
}

// ---------------------------------------------------------------------------------------------
// Name resolution
// ---------------------------------------------------------------------------------------------

type SqlType =
  | { readonly kind: "struct"; readonly members: ReadonlyArray<Member> }
  | { readonly kind: "array"; readonly element: SqlType }
  | { readonly kind: "scalar"; readonly name: string }
  | { readonly kind: "unknown" }

interface Member {
  readonly name: string
  readonly type: SqlType
}

const UNKNOWN: SqlType = { kind: "unknown" }
const INT64: SqlType = { kind: "scalar", name: "INT64" }

/** Ingestion-time partitioning's pseudo columns; lower-cased, as names are compared. */
const PARTITION_PSEUDO_COLUMNS: ReadonlyArray<Member> = [
  { name: "_partitiontime", type: { kind: "scalar", name: "TIMESTAMP" } },
  { name: "_partitiondate", type: { kind: "scalar", name: "DATE" } }
]
/** What the `*` of a wildcard table matched in each row's shard name. */
const TABLE_SUFFIX: Member = { name: "_table_suffix", type: { kind: "scalar", name: "STRING" } }

const fieldType = (field: Field): SqlType => {
  const base: SqlType = isRecord(field)
    ? { kind: "struct", members: (field.fields ?? []).map((f) => ({ name: f.name, type: fieldType(f) })) }
    : { kind: "scalar", name: field.type.toUpperCase() }
  return field.mode === "REPEATED" ? { kind: "array", element: base } : base
}

/** A table's row type and the pseudo columns BigQuery adds to it. */
interface TableRow {
  readonly type: SqlType
  readonly pseudoColumns: ReadonlyArray<Member>
}

/** A table's row, built once per catalog (`rows`) and table: a run validates thousands of queries against one catalog. */
const tableRow = (table: TableMetadata, rows: Map<TableMetadata, TableRow>): TableRow => {
  let row = rows.get(table)
  if (row === undefined) {
    row = {
      type: { kind: "struct", members: table.columns.map((c) => ({ name: c.name, type: fieldType(c) })) },
      pseudoColumns: [
        ...(table.partitioning !== null && table.partitioning.field === null ? PARTITION_PSEUDO_COLUMNS : []),
        ...(isWildcardTable(tableRefOf(table.table_id)) ? [TABLE_SUFFIX] : [])
      ]
    }
    rows.set(table, row)
  }
  return row
}

/** Members by lower-cased name (the first of each), built once per members list. */
const memberIndexes = new WeakMap<ReadonlyArray<Member>, ReadonlyMap<string, Member>>()

/** The member named `name` (lower-cased) case-insensitively: the first, as `find` would. */
const findMember = (members: ReadonlyArray<Member>, name: string): Member | undefined => {
  if (members.length < 8) return members.find((m) => lower(m.name) === name)
  let index = memberIndexes.get(members)
  if (index === undefined) {
    const built = new Map<string, Member>()
    for (const m of members) {
      const key = lower(m.name)
      if (!built.has(key)) built.set(key, m)
    }
    memberIndexes.set(members, built)
    index = built
  }
  return index.get(name)
}

/** Something in FROM that names can reach. */
interface Relation {
  /** Lower-cased names that refer to it (its alias, or a table's implicit names). */
  readonly names: ReadonlyArray<string>
  /**
   * `row`: the name is the row and the row's columns are visible unqualified (tables, subqueries).
   * `value`: the name is the value itself (UNNEST, array paths, WITH OFFSET); a struct value's
   * fields are visible unqualified too.
   */
  readonly kind: "row" | "value"
  readonly type: SqlType
  readonly table: TableMetadata | null
  /** Columns BigQuery adds to the table's own (`_PARTITIONTIME`, `_TABLE_SUFFIX`), lower-cased; unqualified only. */
  readonly pseudoColumns: ReadonlyArray<Member>
}

interface Scope {
  readonly relations: Array<Relation>
  readonly parent: Scope | null
  /** Select-list aliases, where the clause may use them (GROUP BY, HAVING, QUALIFY, ORDER BY). */
  readonly aliases: ReadonlySet<string> | null
}

/** Table lookup by the path written in the query. */
interface CatalogView {
  readonly get: (path: string) => TableMetadata | undefined
  readonly keys: () => Iterable<string>
  /** The row of one of its tables. */
  readonly row: (table: TableMetadata) => TableRow
}

interface Context {
  readonly catalog: CatalogView
  readonly tablesRead: Array<TableId>
  /** Column references resolved directly in the clause being walked (not in its subqueries). */
  readonly onResolved: ((relation: Relation, path: ReadonlyArray<string>) => void) | null
  readonly inFunctionArgs: boolean
  /** The CTEs visible here: name → output row type. */
  readonly env: CteEnv
}

/** A CTE's name → its output row type. */
type CteEnv = ReadonlyMap<string, SqlType>

/** Date parts and weekdays the parser reads as column names inside DATE_DIFF(…, DAY), WEEK(SUNDAY), etc. */
const DATE_PARTS = new Set([
  "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "DAYOFWEEK", "DAYOFYEAR", "WEEK",
  "ISOWEEK", "MONTH", "QUARTER", "YEAR", "ISOYEAR", "DATE", "DATETIME", "TIME", "SUNDAY", "MONDAY",
  "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"
])

const lower = (s: string) => s.toLowerCase()

const GOOGLE_SQL_ESCAPES: Record<string, string> = {
  n: "\n", r: "\r", t: "\t", a: "\x07", b: "\b", f: "\f", v: "\v", "\\": "\\", "?": "?", "'": "'", '"': '"', "`": "`"
}

/** node-sql-parser keeps quoted identifiers as written; undo GoogleSQL's escapes. */
const unescapeQuoted = (raw: string): string =>
  raw.replace(/\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0-7]{3}|.)/g, (whole, seq: string) => {
    if (/^[xuU]/.test(seq) && seq.length > 1) return String.fromCodePoint(parseInt(seq.slice(1), 16))
    if (/^[0-7]{3}$/.test(seq)) return String.fromCodePoint(parseInt(seq, 8))
    return GOOGLE_SQL_ESCAPES[seq] ?? whole
  })

type Node = Record<string, unknown>
const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && !Array.isArray(value)

/** The name in the parser's many spellings: `"x"`, `{ value: "x" }`, `{ expr: { value: "x" } }`. */
const nameOf = (value: unknown): string | null => {
  if (typeof value === "string") return value
  if (!isNode(value)) return null
  if (isNode(value.expr)) return nameOf(value.expr)
  if (typeof value.value === "string") {
    return value.type === "backticks_quote_string" ? unescapeQuoted(value.value) : value.value
  }
  return null
}

const describeType = (type: SqlType): string =>
  type.kind === "struct" ? "STRUCT" : type.kind === "array" ? "ARRAY" : type.kind === "scalar" ? type.name : "?"

const memberList = (type: SqlType): string =>
  type.kind === "struct" ? type.members.slice(0, 15).map((m) => m.name).join(", ") : ""

/** Follows `rest` through nested fields; an error message when a step does not exist. */
const walkPath = (start: SqlType, rest: ReadonlyArray<string>, display: string): SqlType | string => {
  let type = start
  let shown = display
  for (const segment of rest) {
    if (type.kind === "unknown") return UNKNOWN
    if (type.kind === "scalar") {
      if (type.name === "JSON") return UNKNOWN
      return `${shown} is ${type.name}; it has no field ${segment}`
    }
    if (type.kind === "array") {
      return `${shown} is REPEATED (an array): UNNEST it to reach ${segment}`
    }
    const member = findMember(type.members, lower(segment))
    if (member === undefined) return `${shown} has no field ${segment} (it has: ${memberList(type)})`
    type = member.type
    shown = `${shown}.${member.name}`
  }
  return type
}

const relationLabel = (relation: Relation): string =>
  relation.table?.table_id ?? relation.names[0] ?? "an unnamed relation"

interface Resolved {
  readonly relation: Relation | null
  readonly path: ReadonlyArray<string>
  readonly type: SqlType
}

/** Resolves a column path in `scope`, innermost scope first; `null` when nothing matches. */
const resolvePath = (segments: ReadonlyArray<string>, scope: Scope): Resolved | string | null => {
  const head = lower(segments[0])
  let firstProblem: string | null = null
  for (let s: Scope | null = scope; s !== null; s = s.parent) {
    // A range variable (table alias, UNNEST alias) …
    for (const relation of s.relations) {
      if (!relation.names.includes(head)) continue
      const type = walkPath(relation.type, segments.slice(1), segments[0])
      if (typeof type !== "string") return { relation, path: segments.slice(1).map(lower), type }
      firstProblem ??= type
    }
    // … or a column of one of the relations in FROM.
    for (const relation of s.relations) {
      const pseudo = relation.pseudoColumns.find((m) => m.name === head)
      if (pseudo !== undefined) {
        const type = walkPath(pseudo.type, segments.slice(1), segments[0])
        if (typeof type !== "string") return { relation, path: [head], type }
        firstProblem ??= type
        continue
      }
      const row = relation.type
      // An opaque row (a PIVOT, an unaliased UNNEST of an expression) may hold any column.
      if (row.kind === "unknown" && (relation.kind === "row" || relation.names.length === 0)) {
        return { relation, path: segments.map(lower), type: UNKNOWN }
      }
      if (row.kind !== "struct") continue
      const member = findMember(row.members, head)
      if (member === undefined) continue
      const type = walkPath(member.type, segments.slice(1), member.name)
      if (typeof type !== "string") return { relation, path: segments.map(lower), type }
      firstProblem ??= `${type} in ${relationLabel(relation)}`
    }
    if (s.aliases !== null && segments.length === 1 && s.aliases.has(head)) {
      return { relation: null, path: [head], type: UNKNOWN }
    }
    if (firstProblem !== null) return firstProblem
  }
  return null
}

const scopeTables = (scope: Scope): string => {
  const names: Array<string> = []
  for (let s: Scope | null = scope; s !== null; s = s.parent) {
    for (const r of s.relations) names.push(relationLabel(r))
  }
  return names.length === 0 ? "(no tables in FROM)" : names.join(", ")
}

interface ColumnPath {
  readonly segments: ReadonlyArray<string>
  /** `items[OFFSET(0)].item_name`: subscripts after the path, then more fields. */
  readonly subscripts: ReadonlyArray<Node>
  readonly suffix: ReadonlyArray<string>
}

const columnPathOf = (ref: Node): ColumnPath | null => {
  const column = ref.column
  if (isNode(column) && isNode(column.expr) && column.expr.type === "column_ref") {
    const inner = columnPathOf(column.expr)
    if (inner === null) return null
    const suffix = typeof column.suffix === "string"
      ? column.suffix.split(".").filter((s) => s.length > 0).map((s) => s.replace(/^`|`$/g, ""))
      : []
    const offsets = Array.isArray(column.offset) ? column.offset.filter(isNode) : []
    // `w.tags[OFFSET(0)]` keeps its qualifier on the outer reference, not on the subscripted one.
    const qualifier = nameOf(ref.table)
    const segments = qualifier !== null && nameOf(column.expr.table) === null ? [qualifier, ...inner.segments] : inner.segments
    return { segments, subscripts: [...inner.subscripts, ...offsets], suffix: [...inner.suffix, ...suffix] }
  }
  const raw = nameOf(column)
  if (raw === null) return null
  // `device.web_info.*` arrives as table `device`, column `web_info.*`.
  const name = typeof column === "string" && column.endsWith(".*") ? column.slice(0, -2) : raw
  const star = name !== raw ? ["*"] : []
  const table = nameOf(ref.table)
  const subFields = Array.isArray(ref.subFields) ? ref.subFields.map(nameOf).filter((s) => s !== null) : []
  return { segments: [...(table === null ? [] : [table]), name, ...subFields, ...star], subscripts: [], suffix: [] }
}

const checkColumnRef = (ref: Node, scope: Scope, ctx: Context): void => {
  const path = columnPathOf(ref)
  if (path === null) return reject("parse_error", `a column reference the validator cannot read: ${JSON.stringify(ref)}`)
  const last = path.segments[path.segments.length - 1]
  const star = last === "*"
  const segments = star ? path.segments.slice(0, -1) : path.segments
  if (segments.length === 0) return // SELECT *
  const shown = `${path.segments.join(".")}${"[…]".repeat(path.subscripts.length)}${path.suffix.map((s) => `.${s}`).join("")}`
  const resolved = resolvePath(segments, scope)
  if (resolved === null) {
    if (
      segments.length === 1 && ctx.inFunctionArgs && DATE_PARTS.has(segments[0].toUpperCase()) &&
      path.subscripts.length === 0
    ) return
    return reject("unknown_column", `column ${shown} is not in ${scopeTables(scope)}`)
  }
  if (typeof resolved === "string") return reject("unknown_column", `${shown}: ${resolved}`)
  if (resolved.relation !== null) ctx.onResolved?.(resolved.relation, resolved.path)
  let type = resolved.type
  for (const subscript of path.subscripts) {
    walkExpr(subscript.value, scope, { ...ctx, onResolved: null })
    if (type.kind === "array") type = type.element
    else if (type.kind !== "unknown" && !(type.kind === "scalar" && type.name === "JSON")) {
      return reject("unknown_column", `${shown}: ${segments.join(".")} is ${describeType(type)}, not an array`)
    } else type = UNKNOWN
  }
  if (path.suffix.length > 0) {
    const walked = walkPath(type, path.suffix, segments.join("."))
    if (typeof walked === "string") return reject("unknown_column", `${shown}: ${walked}`)
  }
  if (star && type.kind !== "struct" && type.kind !== "unknown") {
    reject("unknown_column", `${shown}: ${segments.join(".")} is ${describeType(type)}; only a row or STRUCT expands with .*`)
  }
}

/** The dotted name of a function call, e.g. `["SAFE", "PARSE_DATE"]`. */
const functionName = (node: Node): ReadonlyArray<string> => {
  const name = isNode(node.name) ? node.name : null
  if (name === null) return typeof node.name === "string" ? [node.name] : []
  const parts: Array<string> = []
  const schema = nameOf(name.schema)
  if (schema !== null) parts.push(schema)
  if (Array.isArray(name.name)) for (const part of name.name) parts.push(nameOf(part) ?? "")
  return parts.flatMap((p) => p.split("."))
}

/** Operators node-sql-parser spells as function calls (`NOT (x)`, `EXISTS (SELECT …)`). */
const OPERATORS_PARSED_AS_CALLS = new Set(["NOT", "EXISTS"])

/** Every call must be to an allowed built-in function (see BigQueryFunctions.ts). */
const checkFunction = (node: Node): void => {
  const name = node.type === "aggr_func" && typeof node.name === "string" ? node.name : functionName(node).join(".")
  if (name === "") return reject("parse_error", `a function call the validator cannot read: ${JSON.stringify(node.name)}`)
  if (OPERATORS_PARSED_AS_CALLS.has(name.toUpperCase())) return
  const verdict = functionVerdict(name)
  if (!verdict.allowed) reject("forbidden_function", verdict.why)
}

/** Keys of parser nodes that never hold expressions. */
const SKIPPED_KEYS = new Set(["loc", "surround", "tableList", "columnList", "name", "as"])

const walkExpr = (value: unknown, scope: Scope, ctx: Context): void => {
  if (Array.isArray(value)) {
    for (const item of value) walkExpr(item, scope, ctx)
    return
  }
  if (!isNode(value)) return
  if (isNode(value.ast)) {
    resolveQuery(value.ast, scope, ctx)
    return
  }
  switch (value.type) {
    case "select":
      resolveQuery(value, scope, ctx)
      return
    case "column_ref":
      checkColumnRef(value, scope, ctx)
      return
    case "function":
    case "aggr_func":
      checkFunction(value)
      for (const [key, child] of Object.entries(value)) {
        if (key === "name") continue
        walkExpr(child, scope, key === "args" ? { ...ctx, inFunctionArgs: true } : ctx)
      }
      return
  }
  for (const [key, child] of Object.entries(value)) {
    if (!SKIPPED_KEYS.has(key)) walkExpr(child, scope, ctx)
  }
}

/** The table-name parts of a FROM item, joined: `` `p.d.t` ``, `p.d.t`, `` `p`.d.t `` all give `p.d.t`. */
const fromItemPath = (item: Node): string => {
  const parts = [item.db, item.schema, item.table].map(nameOf).filter((p) => p !== null)
  return parts.join(".")
}

/** Whether `name` is a range variable (a table, subquery or UNNEST alias) in `scope` or an outer scope. */
const isRangeVariable = (name: string, scope: Scope): boolean => {
  for (let s: Scope | null = scope; s !== null; s = s.parent) {
    if (s.relations.some((relation) => relation.names.includes(lower(name)))) return true
  }
  return false
}

/**
 * A nested UNNEST must name the element it unnests: `UNNEST(i.sub)` after `UNNEST(a.items) AS i`,
 * not `UNNEST(sub)`, which reaches `sub` only through the element's implicit fields — a form
 * that breaks as soon as the table or another element has a field of that name, and that the
 * field_paths joins never use. A column of a table (`UNNEST(items)`, `UNNEST(device.tags)`)
 * needs no alias.
 */
const checkUnnestQualified = (path: ColumnPath, resolved: Resolved, scope: Scope): void => {
  const head = path.segments[0]
  if (isRangeVariable(head, scope) || resolved.relation === null || resolved.relation.kind === "row") return
  const element = resolved.relation.names[0]
  const written = path.segments.join(".")
  reject(
    "unknown_column",
    element === undefined
      ? `UNNEST(${written}) reaches ${written} through an unnamed UNNEST element: give that UNNEST an alias and write UNNEST(<alias>.${written})`
      : `UNNEST(${written}) must be qualified by the alias of the element it belongs to: write UNNEST(${element}.${written})`
  )
}

const addFromItem = (item: Node, scope: Scope, ctx: Context): void => {
  const alias = nameOf(item.as)
  if (item.type === "unnest") {
    const expr = item.expr
    let element: SqlType = UNKNOWN
    if (isNode(expr) && expr.type === "column_ref") {
      checkColumnRef(expr, scope, ctx)
      const path = columnPathOf(expr)
      const resolved = path === null || path.subscripts.length > 0 ? null : resolvePath(path.segments, scope)
      if (path !== null && resolved !== null && typeof resolved !== "string") checkUnnestQualified(path, resolved, scope)
      if (resolved !== null && typeof resolved !== "string") {
        if (resolved.type.kind === "array") element = resolved.type.element
        else if (resolved.type.kind !== "unknown") {
          reject("unknown_column", `UNNEST(${path?.segments.join(".")}) needs an array; it is ${describeType(resolved.type)}`)
        }
      }
    } else {
      walkExpr(expr, scope, ctx)
    }
    scope.relations.push({ names: alias === null ? [] : [lower(alias)], kind: "value", type: element, table: null, pseudoColumns: [] })
    if (isNode(item.with_offset)) {
      const offset = nameOf(item.with_offset.as) ?? "offset"
      scope.relations.push({ names: [lower(offset)], kind: "value", type: INT64, table: null, pseudoColumns: [] })
    }
  } else if (isNode(item.expr) && isNode(item.expr.ast)) {
    const output = resolveQuery(item.expr.ast, scope, ctx)
    scope.relations.push({ names: alias === null ? [] : [lower(alias)], kind: "row", type: output, table: null, pseudoColumns: [] })
  } else if (item.type === "expr" || (isNode(item.expr) && item.table === undefined)) {
    walkExpr(item.expr, scope, ctx)
    const name = isNode(item.expr) ? functionName(item.expr).join(".") : "an expression"
    reject("forbidden_function", `table function ${name} is not allowed: read catalog tables directly`)
  } else {
    addTableRef(item, alias, scope, ctx)
  }
  if (item.operator !== undefined && item.operator !== null) {
    // PIVOT/UNPIVOT reshape the row: check their expressions, then stop checking its columns.
    walkExpr(item.operator, scope, ctx)
    const last = scope.relations.pop()
    if (last !== undefined) scope.relations.push({ ...last, type: UNKNOWN })
  }
  walkExpr(item.for_sys_time_as_of, scope, ctx)
  walkExpr(item.on, scope, ctx)
  if (Array.isArray(item.using)) {
    for (const column of item.using) {
      const name = nameOf(column)
      if (name !== null && resolvePath([name], scope) === null) {
        reject("unknown_column", `USING column ${name} is not in ${scopeTables(scope)}`)
      }
    }
  }
}

const addTableRef = (item: Node, alias: string | null, scope: Scope, ctx: Context): void => {
  const path = fromItemPath(item)
  const qualified = nameOf(item.db) !== null || nameOf(item.schema) !== null || path.includes(".")
  if (!qualified) {
    const cte = ctx.env.get(lower(path))
    if (cte === undefined) {
      return reject("unknown_table", `table ${path} is not fully qualified (project.dataset.table) and names no CTE`)
    }
    scope.relations.push({ names: [lower(alias ?? path)], kind: "row", type: cte, table: null, pseudoColumns: [] })
    return
  }
  const table = ctx.catalog.get(path)
  if (table === undefined) {
    // `FROM t, t.items AS i`: a path into an array of a relation already in FROM.
    const db = nameOf(item.db)
    if (db !== null && nameOf(item.schema) === null) {
      const resolved = resolvePath([db, ...(nameOf(item.table) ?? "").split(".")], scope)
      if (resolved !== null && typeof resolved !== "string" && resolved.type.kind === "array") {
        const name = alias ?? nameOf(item.table) ?? ""
        scope.relations.push({ names: [lower(name)], kind: "value", type: resolved.type.element, table: null, pseudoColumns: [] })
        return
      }
    }
    const parts = path.split(".")
    const known = [...ctx.catalog.keys()].join(", ") || "none"
    return reject(
      "unknown_table",
      parts.length < 3
        ? `table ${path} is not fully qualified (project.dataset.table)`
        : path.endsWith("*")
        ? `wildcard table ${path} is not in the catalog: only the catalog's own families can be queried with * (known: ${known})`
        : `table ${path} is not in the catalog (known: ${known})`
    )
  }
  if (!ctx.tablesRead.includes(table.table_id)) ctx.tablesRead.push(table.table_id)
  const shortName = table.table_id.split(".").slice(-1)[0]
  scope.relations.push({
    names: alias !== null ? [lower(alias)] : [lower(shortName), lower(path)],
    kind: "row",
    type: ctx.catalog.row(table).type,
    table,
    pseudoColumns: ctx.catalog.row(table).pseudoColumns
  })
}

/** The columns a SELECT produces, as a row type. */
const outputOf = (columns: unknown, scope: Scope): SqlType => {
  if (!Array.isArray(columns)) return UNKNOWN
  const members: Array<Member> = []
  const expand = (type: SqlType): boolean => {
    if (type.kind !== "struct") return false
    members.push(...type.members)
    return true
  }
  for (const column of columns) {
    if (!isNode(column)) continue
    const expr = isNode(column.expr) ? column.expr : null
    const alias = nameOf(column.as)
    if (expr !== null && expr.type === "column_ref") {
      const path = columnPathOf(expr)
      if (path === null) return UNKNOWN
      const last = path.segments[path.segments.length - 1]
      if (last === "*") {
        const before = members.length
        const qualifier = path.segments.slice(0, -1)
        if (qualifier.length > 0) {
          const resolved = resolvePath(qualifier, scope)
          if (resolved === null || typeof resolved === "string" || !expand(resolved.type)) return UNKNOWN
        } else {
          for (const relation of scope.relations) {
            if (relation.kind === "row" || relation.names.length === 0) {
              if (!expand(relation.type)) return UNKNOWN
            } else members.push({ name: relation.names[0], type: relation.type })
          }
        }
        // `* EXCEPT (a, b)` drops columns; `* REPLACE (expr AS a)` keeps the name, not the type.
        const listed = new Set(
          (Array.isArray(column.expr_list) ? column.expr_list : [])
            .filter(isNode)
            .map((item) => column.type === "except" ? nameOf(isNode(item.expr) ? item.expr.column : null) : nameOf(item.as))
            .filter((n) => n !== null)
            .map(lower)
        )
        const expanded = members.splice(before)
        for (const member of expanded) {
          if (!listed.has(lower(member.name))) members.push(member)
          else if (column.type === "replace") members.push({ name: member.name, type: UNKNOWN })
        }
        continue
      }
      const resolved = path.subscripts.length === 0 && path.suffix.length === 0 ? resolvePath(path.segments, scope) : null
      const type = resolved !== null && typeof resolved !== "string" ? resolved.type : UNKNOWN
      members.push({ name: alias ?? last, type })
      continue
    }
    if (alias !== null) members.push({ name: alias, type: UNKNOWN })
  }
  return { kind: "struct", members }
}

/** node-sql-parser reads `NOT (x)` as a call of a function named NOT: its operand, else undefined. */
const notOperand = (expr: unknown): unknown => {
  if (!isNode(expr)) return undefined
  if (expr.type === "unary_expr" && String(expr.operator).toUpperCase() === "NOT") return expr.expr
  if (expr.type !== "function" || functionName(expr).join(".").toUpperCase() !== "NOT") return undefined
  const args = isNode(expr.args) && Array.isArray(expr.args.value) ? expr.args.value : []
  return args.length === 1 ? args[0] : undefined
}

/** A WHERE condition as its AND/OR tree, NOTs pushed down to the leaves (De Morgan). */
type Condition =
  | { readonly kind: "all" | "any"; readonly parts: ReadonlyArray<Condition> }
  | { readonly kind: "leaf"; readonly node: unknown }

const conditionTree = (expr: unknown, negated = false): Condition => {
  if (isNode(expr) && expr.type === "binary_expr") {
    const operator = String(expr.operator).toUpperCase()
    if (operator === "AND" || operator === "OR") {
      return {
        kind: (operator === "AND") !== negated ? "all" : "any",
        parts: [conditionTree(expr.left, negated), conditionTree(expr.right, negated)]
      }
    }
  }
  const operand = notOperand(expr)
  return operand === undefined ? { kind: "leaf", node: expr } : conditionTree(operand, !negated)
}

const conditionLeaves = (condition: Condition): ReadonlyArray<unknown> =>
  condition.kind === "leaf" ? [condition.node] : condition.parts.flatMap(conditionLeaves)

/** Operators of a comparison that can prune partitions (`d >= x`, `d BETWEEN a AND b`, `d IN (…)`, `d IS NOT NULL`). */
const COMPARISON_OPERATORS = new Set([
  "=", "!=", "<>", "<", "<=", ">", ">=", "BETWEEN", "NOT BETWEEN", "IN", "NOT IN", "IS", "IS NOT", "LIKE", "NOT LIKE"
])

/**
 * Whether `condition` holds only for rows whose partition column the condition restricts: every
 * OR branch must restrict it (an `OR TRUE` or an `OR status = 'x'` branch lets every partition
 * through); one restricted conjunct of an AND is enough.
 */
const restrictsPartition = (condition: Condition, restricting: (leaf: unknown) => boolean): boolean =>
  condition.kind === "leaf"
    ? restricting(condition.node)
    : condition.kind === "all"
    ? condition.parts.some((part) => restrictsPartition(part, restricting))
    : condition.parts.every((part) => restrictsPartition(part, restricting))

const resolveQuery = (node: Node, outer: Scope | null, ctx: Context): SqlType => {
  if (node.type !== "select") {
    return reject("not_read_only", `a ${String(node.type).toUpperCase()} statement is not allowed: only SELECT queries are`)
  }
  let localEnv: CteEnv = ctx.env
  if (Array.isArray(node.with)) {
    for (const cte of node.with) {
      if (!isNode(cte)) continue
      const name = nameOf(cte.name)
      const body = isNode(cte.stmt) ? (isNode(cte.stmt.ast) ? cte.stmt.ast : cte.stmt) : null
      if (name === null || body === null) return reject("parse_error", "a WITH clause the validator cannot read")
      const output = resolveQuery(body, outer, { ...ctx, env: localEnv })
      localEnv = new Map(localEnv).set(lower(name), output)
    }
  }
  const inner: Context = { ...ctx, onResolved: null, inFunctionArgs: false, env: localEnv }
  const scope: Scope = { relations: [], parent: outer, aliases: null }
  if (Array.isArray(node.from)) {
    for (const item of node.from) if (isNode(item)) addFromItem(item, scope, inner)
  }
  walkExpr(node.columns, scope, inner)
  const output = outputOf(node.columns, scope)

  // Which tables that demand a partition filter get one: every way the WHERE condition can hold
  // must go through a comparison that reads the partition column and no other column of that
  // table (so it can prune partitions). Every leaf is walked, which also checks its columns.
  const where = conditionTree(node.where)
  const restrictedBy = new Map<unknown, ReadonlySet<Relation>>()
  for (const leaf of conditionLeaves(where)) {
    const partitionHits = new Set<Relation>()
    const otherHits = new Set<Relation>()
    walkExpr(leaf, scope, {
      ...inner,
      onResolved: (relation, path) => {
        const partitioning = relation.table?.partitioning
        if (partitioning === null || partitioning === undefined) return
        const column = partitioning.field === null ? null : lower(partitioning.field)
        const hit = column === null
          ? path.length === 1 && PARTITION_PSEUDO_COLUMNS.some((m) => m.name === path[0])
          : path.length === 1 && path[0] === column
        ;(hit ? partitionHits : otherHits).add(relation)
      }
    })
    const comparison = isNode(leaf) && leaf.type === "binary_expr" &&
      COMPARISON_OPERATORS.has(String(leaf.operator).toUpperCase())
    restrictedBy.set(leaf, comparison ? new Set([...partitionHits].filter((r) => !otherHits.has(r))) : new Set())
  }
  const filtered = (relation: Relation) =>
    node.where !== null && node.where !== undefined &&
    restrictsPartition(where, (leaf) => restrictedBy.get(leaf)?.has(relation) === true)

  const aliases = new Set(output.kind === "struct" ? output.members.map((m) => lower(m.name)) : [])
  const withAliases: Scope = { ...scope, aliases }
  const groupBy = isNode(node.groupby) ? node.groupby.columns : node.groupby
  walkExpr(groupBy, withAliases, inner)
  walkExpr(node.having, withAliases, inner)
  walkExpr(node.qualify, withAliases, inner)
  walkExpr(node.orderby, withAliases, inner)
  walkExpr(node.window, scope, inner)
  walkExpr(node.limit, scope, inner)

  for (const relation of scope.relations) {
    const table = relation.table
    if (table?.partitioning?.require_partition_filter !== true || filtered(relation)) continue
    const column = table.partitioning.field ?? "_PARTITIONTIME"
    const comparedSomewhere = [...restrictedBy.values()].some((relations) => relations.has(relation))
    reject(
      "missing_partition_filter",
      comparedSomewhere
        ? `${table.table_id} requires a partition filter: the condition on ${column} must hold in every OR branch (a branch that does not compare ${column} alone lets every partition through)`
        : `${table.table_id} requires a partition filter: add a WHERE condition on ${column}`
    )
  }
  if (isNode(node._next)) resolveQuery(node._next, outer, { ...ctx, env: localEnv })
  return output
}

// ---------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------

/**
 * Checks that `sql` is one read-only BigQuery query over the catalog's tables and columns, and
 * that it filters on the partition column of every table that requires it.
 */
/** The catalog's tables by id, built once per catalog (a run validates thousands of queries against one). */
interface CatalogIndex {
  readonly index: ReadonlyMap<string, TableMetadata>
  /** Its tables' rows, built as queries name them; gone with the catalog. */
  readonly rows: Map<TableMetadata, TableRow>
}

const catalogIndexes = new WeakMap<ReadonlyArray<TableMetadata>, CatalogIndex>()

const catalogIndex = (catalog: SqlCatalog): CatalogIndex => {
  const known = catalogIndexes.get(catalog.tables)
  if (known !== undefined) return known
  const built = { index: new Map(catalog.tables.map((t) => [t.table_id as string, t])), rows: new Map<TableMetadata, TableRow>() }
  catalogIndexes.set(catalog.tables, built)
  return built
}

const PLACEHOLDER_PROJECT = "metasync_placeholder"

/**
 * The query with each quoted catalog table path replaced by a placeholder (`t0`, `t1`, … in
 * order), so that the same query over tables of one shape — a template run over a thousand tables —
 * has one text, parsed once. A path whose table name also appears elsewhere in the query (used as
 * a qualifier) is left as written, so resolution sees exactly what the author wrote.
 */
const canonicalize = (sql: string, tokens: ReadonlyArray<Token>, index: ReadonlyMap<string, TableMetadata>) => {
  const names = new Set(tokens.filter((t) => t.kind === "word" || t.kind === "quoted").map((t) => lower(t.kind === "word" ? t.text : t.value)))
  const placeholders = new Map<string, TableMetadata>()
  const byId = new Map<string, string>()
  let canonical = ""
  let from = 0
  for (const token of tokens) {
    if (token.kind !== "quoted") continue
    const table = index.get(token.value)
    const tableName = token.value.slice(token.value.lastIndexOf(".") + 1)
    if (table === undefined || names.has(lower(tableName))) continue
    let placeholder = byId.get(token.value)
    if (placeholder === undefined) {
      placeholder = `${PLACEHOLDER_PROJECT}.p.t${byId.size}`
      byId.set(token.value, placeholder)
      placeholders.set(placeholder, table)
    }
    canonical += `${sql.slice(from, token.start)}\`${placeholder}\``
    from = token.start + token.text.length
  }
  return { canonical: canonical + sql.slice(from), placeholders }
}

/** Parsed canonical queries; the resolver only reads them. Cleared when full. */
const parsedQueries = new Map<string, unknown>()
const PARSED_QUERIES_LIMIT = 2_000

const parseCanonical = (canonical: string): unknown => {
  if (parsedQueries.has(canonical)) return parsedQueries.get(canonical)
  const parsed = parser().astify(canonical, parserOptions)
  if (parsedQueries.size >= PARSED_QUERIES_LIMIT) parsedQueries.clear()
  parsedQueries.set(canonical, parsed)
  return parsed
}

export const validateSql = (sql: string, catalog: SqlCatalog): Either.Either<ValidatedSql, SqlRejection> => {
  try {
    const tokens = tokenize(sql)
    lexicalGuard(tokens)
    const { index, rows } = catalogIndex(catalog)
    const { canonical, placeholders } = canonicalize(sql, tokens, index)
    let parsed: unknown
    try {
      parsed = parseCanonical(canonical)
    } catch (cause) {
      return reject("parse_error", `not BigQuery SQL the validator can parse: ${cause instanceof Error ? cause.message : String(cause)}`)
    }
    const statements = Array.isArray(parsed) ? parsed : [parsed]
    if (statements.length !== 1) reject("multiple_statements", `found ${statements.length} statements; only one query is allowed`)
    const root = statements[0]
    if (!isNode(root)) return reject("parse_error", "the parser returned no statement")
    const ctx: Context = {
      catalog: {
        get: (path) => placeholders.get(path) ?? index.get(path),
        keys: () => index.keys(),
        row: (table) => tableRow(table, rows)
      },
      tablesRead: [],
      onResolved: null,
      inFunctionArgs: false,
      env: new Map()
    }
    resolveQuery(root, null, ctx)
    // An example is labelled with the tables it reads: one that reads none (`SELECT SESSION_USER()`,
    // `SELECT 1`) teaches nothing about the data and would carry a false label.
    if (ctx.tablesRead.length === 0) {
      reject("no_table", "the query reads no catalog table; an example must read at least one of the catalog's tables")
    }
    const trimmed = sql.trim().replace(/;\s*$/, "").trim()
    return Either.right({ sql: trimmed, normalized: normalize(tokens), tables: ctx.tablesRead })
  } catch (error) {
    if (error instanceof Rejected) return Either.left(new SqlRejection({ reason: error.reason, message: error.message }))
    throw error
  }
}
