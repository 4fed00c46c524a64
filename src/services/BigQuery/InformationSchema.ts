/**
 * Many tables of one dataset from its INFORMATION_SCHEMA in three queries, giving the same
 * `TableMetadata` as one `tables.get` per table (`TableResource.ts`).
 *
 * What comes from where:
 * - `INFORMATION_SCHEMA.TABLES`: which tables exist, their type, and their DDL. The DDL's
 *   top-level clauses give partitioning (`PARTITION BY`), clustering (`CLUSTER BY`) and the table
 *   options (`OPTIONS(description=…, labels=…, require_partition_filter=…,
 *   partition_expiration_days=…)`); a view's or materialized view's SQL is what follows its
 *   DDL's `AS`. The DDL is read rather than TABLE_OPTIONS and VIEWS so that options, partitioning
 *   and view SQL cost one query, not three.
 * - `INFORMATION_SCHEMA.COLUMN_FIELD_PATHS` joined with `COLUMNS`: one row per field at every
 *   depth. The column's `data_type` (`ARRAY<STRUCT<key STRING, …>>`) gives the nested tree, its
 *   names, order and types; each `field_path` row gives that field's description and policy tags
 *   (`policy_tags`, documented for both views); COLUMNS gives column order and top-level
 *   `NOT NULL`. Pseudo-columns (`_PARTITIONTIME`) are left out, as `tables.get` leaves them out.
 * - `` `project.dataset`.__TABLES__ ``: rows, bytes, creation and last-modified times (ms).
 *
 * GoogleSQL type names become the REST API's names (INT64 → INTEGER, FLOAT64 → FLOAT, BOOL →
 * BOOLEAN, STRUCT → RECORD; parameters such as `STRING(10)` dropped) so both paths agree.
 *
 * Known differences from `tables.get`, each rare: a nested field is REQUIRED only when its type
 * string says `NOT NULL` (INFORMATION_SCHEMA's nullability is per top-level column); a view's SQL
 * loses surrounding white space; a legacy-SQL view has no DDL. A table whose rows cannot be read
 * (no DDL, a partitioning or type this module does not know, a row that does not decode, a type
 * nested deeper than BigQuery's 15 levels) is reported as unreadable, for the caller to read
 * through `tables.get`. Type strings and option lists are refused past their nesting limits before
 * they are recursed into, so no hostile row can overflow the stack.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { Field, FieldMode } from "../../contract/Field.ts"
import type { Partitioning, TableKind } from "../../contract/CacheDocument.ts"
import { makeTableId } from "../../contract/TableId.ts"
import { MAX_DATE_MS, MAX_NESTING_DEPTH, type TableMetadata } from "./TableResource.ts"

// ---------------------------------------------------------------------------------------------
// The queries

/** The ARRAY<STRING> query parameter every query filters on: the requested table names. */
export const TABLE_NAMES_PARAMETER = "tables"

const quoteIdentifier = (name: string) => `\`${name.replace(/[\\`]/g, (c) => `\\${c}`)}\``

/** The three queries that read `tables` of `project.dataset`; each filters on `@tables`. */
export const informationSchemaQueries = (project: string, dataset: string) => {
  const schema = `${quoteIdentifier(project)}.${quoteIdentifier(dataset)}`
  return {
    tables: [
      "SELECT table_name, table_type, ddl",
      `FROM ${schema}.INFORMATION_SCHEMA.TABLES`,
      `WHERE table_name IN UNNEST(@${TABLE_NAMES_PARAMETER})`
    ].join("\n"),
    columns: [
      "SELECT p.table_name, p.column_name, p.field_path, p.data_type, p.description, p.policy_tags,",
      "  c.ordinal_position, c.is_nullable",
      `FROM ${schema}.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS AS p`,
      `JOIN ${schema}.INFORMATION_SCHEMA.COLUMNS AS c`,
      "  ON c.table_name = p.table_name AND c.column_name = p.column_name",
      `WHERE p.table_name IN UNNEST(@${TABLE_NAMES_PARAMETER}) AND c.is_system_defined = 'NO'`
    ].join("\n"),
    storage: [
      "SELECT table_id, creation_time, last_modified_time, row_count, size_bytes",
      `FROM ${schema}.__TABLES__`,
      `WHERE table_id IN UNNEST(@${TABLE_NAMES_PARAMETER})`
    ].join("\n")
  } as const
}

// ---------------------------------------------------------------------------------------------
// The rows, as the query layer returns them (INT64 as number, or as digits beyond 2^53)

const Int64 = Schema.Union(Schema.Number, Schema.NumberFromString)

/** A time in milliseconds since the epoch, within the range of dates. */
const EpochMillis = Int64.pipe(
  Schema.filter((ms) => Math.abs(ms) <= MAX_DATE_MS || `${ms} ms since the epoch is beyond the range of dates`)
)

export const TablesRow = Schema.Struct({
  table_name: Schema.String,
  table_type: Schema.String,
  ddl: Schema.NullOr(Schema.String)
})
export type TablesRow = typeof TablesRow.Type

export const ColumnRow = Schema.Struct({
  table_name: Schema.String,
  column_name: Schema.String,
  field_path: Schema.String,
  data_type: Schema.String,
  description: Schema.NullOr(Schema.String),
  policy_tags: Schema.Array(Schema.String),
  ordinal_position: Schema.NullOr(Int64),
  is_nullable: Schema.String
})
export type ColumnRow = typeof ColumnRow.Type

export const StorageRow = Schema.Struct({
  table_id: Schema.String,
  creation_time: Schema.NullOr(EpochMillis),
  last_modified_time: Schema.NullOr(EpochMillis),
  row_count: Schema.NullOr(Int64),
  size_bytes: Schema.NullOr(Int64)
})
export type StorageRow = typeof StorageRow.Type

export const InformationSchemaRows = Schema.Struct({
  tables: Schema.Array(TablesRow),
  columns: Schema.Array(ColumnRow),
  storage: Schema.Array(StorageRow)
})
export type InformationSchemaRows = typeof InformationSchemaRows.Type

export interface RawInformationSchemaRows {
  readonly tables: ReadonlyArray<unknown>
  readonly columns: ReadonlyArray<unknown>
  readonly storage: ReadonlyArray<unknown>
}

const formatIssues = (error: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join(".")}: ${issue.message}`)
    .join("; ")

/** The three queries' rows, checked; or a readable account of what is wrong with them. */
export const decodeInformationSchemaRows = (rows: RawInformationSchemaRows): Either.Either<InformationSchemaRows, string> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(InformationSchemaRows, { errors: "all", onExcessProperty: "ignore" })(rows),
    formatIssues
  )

export interface DecodedRows {
  /** The rows that decode. */
  readonly rows: InformationSchemaRows
  /** Tables with a row that does not decode, with what is wrong with it: their other rows are not to be trusted. */
  readonly unreadable: ReadonlyMap<string, string>
}

/**
 * The rows checked one by one: a bad row makes only its own table unreadable. Fails (with what
 * is wrong) only for a row that does not even say which table it is about.
 */
export const decodeRowsPerTable = (raw: RawInformationSchemaRows): Either.Either<DecodedRows, string> => {
  const unreadable = new Map<string, string>()
  const decodeAll = <A, I>(view: string, schema: Schema.Schema<A, I>, rows: ReadonlyArray<unknown>, key: string) => {
    const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
    const good: Array<A> = []
    for (const [index, row] of rows.entries()) {
      const decoded = decode(row)
      if (Either.isRight(decoded)) {
        good.push(decoded.right)
        continue
      }
      const name = typeof row === "object" && row !== null ? (row as Record<string, unknown>)[key] : undefined
      const problem = `${view} row: ${formatIssues(decoded.left)}`
      if (typeof name !== "string") return Either.left(`${view} row ${index}: ${formatIssues(decoded.left)}`)
      if (!unreadable.has(name)) unreadable.set(name, problem)
    }
    return Either.right(good)
  }
  return Either.all({
    tables: decodeAll("INFORMATION_SCHEMA.TABLES", TablesRow, raw.tables, "table_name"),
    columns: decodeAll("INFORMATION_SCHEMA.COLUMN_FIELD_PATHS", ColumnRow, raw.columns, "table_name"),
    storage: decodeAll("__TABLES__", StorageRow, raw.storage, "table_id")
  }).pipe(Either.map((rows) => ({ rows, unreadable })))
}

// ---------------------------------------------------------------------------------------------
// GoogleSQL tokens

class Unreadable extends Error {}

interface Token {
  readonly kind: "word" | "quoted" | "string" | "number" | "symbol"
  /** A word or number as written; a quoted identifier or string unescaped; a symbol's character. */
  readonly text: string
  readonly start: number
  readonly end: number
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  "?": "?",
  "\"": "\"",
  "'": "'",
  "`": "`"
}

const ESCAPE_FORMS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^[0-7]{3}/, 8],
  [/^[xX][0-9a-fA-F]{2}/, 16],
  [/^u[0-9a-fA-F]{4}/, 16],
  [/^U[0-9a-fA-F]{8}/, 16]
]

/** Reads a quoted literal or identifier from `start` (its opening quote); GoogleSQL escapes. */
const readQuoted = (text: string, start: number, raw: boolean): { value: string; end: number } => {
  const quote = text[start]
  const triple = quote !== "`" && text.startsWith(quote.repeat(3), start)
  const close = triple ? quote.repeat(3) : quote
  let i = start + close.length
  let value = ""
  while (i < text.length) {
    if (text.startsWith(close, i)) return { value, end: i + close.length }
    const c = text[i]
    if (!triple && c === "\n") break
    if (c !== "\\") {
      value += c
      i += 1
      continue
    }
    const rest = text.slice(i + 1)
    if (rest.length === 0) break
    if (raw) {
      value += c + rest[0]
      i += 2
      continue
    }
    const simple = SIMPLE_ESCAPES[rest[0]]
    if (simple !== undefined) {
      value += simple
      i += 2
      continue
    }
    const form = ESCAPE_FORMS.find(([pattern]) => pattern.test(rest))
    if (form === undefined) throw new Unreadable(`unknown escape \\${rest[0]} at offset ${i}`)
    const digits = rest.match(form[0])![0]
    value += String.fromCodePoint(parseInt(form[1] === 8 ? digits : digits.slice(1), form[1]))
    i += 1 + digits.length
  }
  throw new Unreadable(`unterminated ${quote === "`" ? "quoted identifier" : "string"} at offset ${start}`)
}

const WORD = /^[\p{L}\p{M}\p{N}_]+/u
const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/
const STRING_PREFIX = /^(?:[rR][bB]?|[bB][rR]?)(?=["'])/

const tokenize = (text: string): ReadonlyArray<Token> => {
  const tokens: Array<Token> = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    const rest = text.slice(i)
    if (/\s/.test(c)) {
      i += 1
    } else if (rest.startsWith("--") || c === "#") {
      const newline = text.indexOf("\n", i)
      i = newline === -1 ? text.length : newline + 1
    } else if (rest.startsWith("/*")) {
      const close = text.indexOf("*/", i + 2)
      if (close === -1) throw new Unreadable(`unterminated comment at offset ${i}`)
      i = close + 2
    } else if (c === "\"" || c === "'" || c === "`" || STRING_PREFIX.test(rest)) {
      const prefix = STRING_PREFIX.exec(rest)?.[0] ?? ""
      const { end, value } = readQuoted(text, i + prefix.length, /r/i.test(prefix))
      tokens.push({ kind: c === "`" ? "quoted" : "string", text: value, start: i, end })
      i = end
    } else if (NUMBER.test(rest)) {
      const number = NUMBER.exec(rest)![0]
      tokens.push({ kind: "number", text: number, start: i, end: i + number.length })
      i += number.length
    } else if (WORD.test(rest)) {
      const word = WORD.exec(rest)![0]
      tokens.push({ kind: "word", text: word, start: i, end: i + word.length })
      i += word.length
    } else {
      tokens.push({ kind: "symbol", text: c, start: i, end: i + 1 })
      i += 1
    }
  }
  return tokens
}

/** Walks a token list of `source`; every `expect` failure is an `Unreadable`. */
class Cursor {
  readonly source: string
  readonly tokens: ReadonlyArray<Token>
  index = 0
  constructor(source: string, tokens: ReadonlyArray<Token>) {
    this.source = source
    this.tokens = tokens
  }
  peek(offset = 0): Token | undefined {
    return this.tokens[this.index + offset]
  }
  done(): boolean {
    return this.index >= this.tokens.length
  }
  next(what: string): Token {
    const token = this.tokens[this.index]
    if (token === undefined) throw new Unreadable(`expected ${what}, found the end`)
    this.index += 1
    return token
  }
  isSymbol(symbol: string, offset = 0): boolean {
    const token = this.peek(offset)
    return token?.kind === "symbol" && token.text === symbol
  }
  isWord(word: string, offset = 0): boolean {
    const token = this.peek(offset)
    return token?.kind === "word" && token.text.toUpperCase() === word
  }
  accept(symbol: string): boolean {
    if (!this.isSymbol(symbol)) return false
    this.index += 1
    return true
  }
  acceptWord(word: string): boolean {
    if (!this.isWord(word)) return false
    this.index += 1
    return true
  }
  expect(symbol: string): void {
    const token = this.next(`"${symbol}"`)
    if (token.kind !== "symbol" || token.text !== symbol) {
      throw new Unreadable(`expected "${symbol}", found "${token.text}" at offset ${token.start}`)
    }
  }
  /** Skips one token, or a whole bracketed group when it starts one. */
  skipItem(): void {
    if (this.isSymbol("(") || this.isSymbol("[")) this.skipGroup()
    else this.index += 1
  }
  /** Skips a bracketed group starting at the current `(` or `[`. */
  skipGroup(): void {
    let depth = 0
    do {
      const token = this.next("a closing bracket")
      if (token.kind === "symbol" && (token.text === "(" || token.text === "[")) depth += 1
      if (token.kind === "symbol" && (token.text === ")" || token.text === "]")) depth -= 1
    } while (depth > 0)
  }
}

const attempt = <A>(read: () => A): Either.Either<A, string> => {
  try {
    return Either.right(read())
  } catch (error) {
    if (error instanceof Unreadable) return Either.left(error.message)
    throw error
  }
}

// ---------------------------------------------------------------------------------------------
// Data types: `ARRAY<STRUCT<key STRING, value STRUCT<string_value STRING, int_value INT64>>>`

/** A column's type, scalar names already as the REST API spells them. */
export type DataType =
  | { readonly kind: "scalar"; readonly name: string }
  | { readonly kind: "array"; readonly element: DataType }
  | { readonly kind: "struct"; readonly fields: ReadonlyArray<StructField> }

export interface StructField {
  readonly name: string
  readonly type: DataType
  /** `NOT NULL` in the type string. */
  readonly required: boolean
  /** `OPTIONS(description=…)` in the type string (DDL form), else null. */
  readonly description: string | null
}

/** GoogleSQL names that the REST API (and so `tables.get`) spells differently. */
const REST_TYPE_NAMES: Readonly<Record<string, string>> = {
  INT64: "INTEGER",
  INT: "INTEGER",
  SMALLINT: "INTEGER",
  BIGINT: "INTEGER",
  TINYINT: "INTEGER",
  BYTEINT: "INTEGER",
  FLOAT64: "FLOAT",
  BOOL: "BOOLEAN",
  DECIMAL: "NUMERIC",
  BIGDECIMAL: "BIGNUMERIC",
  STRUCT: "RECORD"
}

const restTypeName = (name: string): string => {
  const upper = name.toUpperCase()
  return REST_TYPE_NAMES[upper] ?? upper
}

const readName = (cursor: Cursor, what: string): string => {
  const token = cursor.next(what)
  if (token.kind !== "word" && token.kind !== "quoted") {
    throw new Unreadable(`expected ${what}, found "${token.text}" at offset ${token.start}`)
  }
  return token.text
}

/**
 * Reads a type; `structs` is how many STRUCTs enclose it. Nesting is refused before it is
 * recursed into, so a hostile type string cannot overflow the stack.
 */
const readType = (cursor: Cursor, structs = 0): DataType => {
  const token = cursor.next("a type")
  if (token.kind !== "word") throw new Unreadable(`expected a type, found "${token.text}" at offset ${token.start}`)
  const name = token.text.toUpperCase()
  if (name === "ARRAY") {
    cursor.expect("<")
    if (cursor.isWord("ARRAY")) throw new Unreadable("an ARRAY of ARRAY is not a BigQuery column type")
    const element = readType(cursor, structs)
    cursor.expect(">")
    return { kind: "array", element }
  }
  if (name === "STRUCT") {
    if (structs >= MAX_NESTING_DEPTH) {
      throw new Unreadable(`it nests deeper than BigQuery's ${MAX_NESTING_DEPTH} levels of RECORDs`)
    }
    cursor.expect("<")
    const fields: Array<StructField> = []
    if (!cursor.accept(">")) {
      do fields.push(readStructField(cursor, structs + 1))
      while (cursor.accept(","))
      cursor.expect(">")
    }
    return { kind: "struct", fields }
  }
  if (name === "RANGE") {
    cursor.expect("<")
    const element = cursor.next("a RANGE element type")
    if (element.kind !== "word" || !["DATE", "DATETIME", "TIMESTAMP"].includes(element.text.toUpperCase())) {
      throw new Unreadable(`RANGE<${element.text}> is not a BigQuery type`)
    }
    cursor.expect(">")
    return { kind: "scalar", name: "RANGE" }
  }
  // Parameterized types, STRING(10) or NUMERIC(10, 2): tables.get reports the bare name.
  if (cursor.isSymbol("(")) cursor.skipGroup()
  return { kind: "scalar", name: restTypeName(name) }
}

const readStructField = (cursor: Cursor, structs: number): StructField => {
  const name = readName(cursor, "a field name")
  if (cursor.isSymbol(",") || cursor.isSymbol(">")) {
    throw new Unreadable(`field "${name}" has no type (BigQuery fields are named)`)
  }
  const type = readType(cursor, structs)
  let required = false
  let description: string | null = null
  for (;;) {
    if (cursor.isWord("NOT") && cursor.isWord("NULL", 1)) {
      cursor.index += 2
      required = true
    } else if (cursor.acceptWord("COLLATE")) {
      cursor.next("a collation")
    } else if (cursor.isWord("OPTIONS") && cursor.isSymbol("(", 1)) {
      cursor.index += 1
      const options = readOptionList(cursor)
      const text = options.get("description")
      if (typeof text === "string") description = text
    } else {
      break
    }
  }
  return { name, type, required, description }
}

/** Parses a GoogleSQL column type as INFORMATION_SCHEMA's `data_type` writes it. */
export const parseDataType = (text: string): Either.Either<DataType, string> =>
  attempt(() => {
    const cursor = new Cursor(text, tokenize(text))
    const type = readType(cursor)
    if (!cursor.done()) throw new Unreadable(`unexpected "${cursor.peek()!.text}" after the type`)
    return type
  }).pipe(Either.mapLeft((problem) => `type ${JSON.stringify(text.slice(0, 120))}: ${problem}`))

// ---------------------------------------------------------------------------------------------
// DDL: `CREATE TABLE … PARTITION BY … CLUSTER BY … OPTIONS(…)` and `CREATE VIEW … AS …`

/** A value in `OPTIONS(…)`: literals as JS values, `[…]` and `(…)` as arrays, anything else as its text. */
export type OptionValue =
  | string
  | number
  | boolean
  | null
  | ReadonlyArray<OptionValue>
  | { readonly expression: string }

export interface TableDdl {
  /** From `PARTITION BY`; expiration and filter requirement are table options. */
  readonly partitioning: Pick<Partitioning, "field" | "type"> | null
  readonly clustering: ReadonlyArray<string>
  /** The table's own `OPTIONS(…)` (not its columns'), names lower-cased. */
  readonly options: ReadonlyMap<string, OptionValue>
  /** A view's or materialized view's SQL: what follows the DDL's `AS`, without the final `;`. */
  readonly viewQuery: string | null
}

const atValueEnd = (cursor: Cursor, offset = 0) =>
  cursor.peek(offset) === undefined || cursor.isSymbol(",", offset) || cursor.isSymbol(")", offset) ||
  cursor.isSymbol("]", offset)

/** Lists nested deeper than this in an option value are refused rather than recursed into. */
const MAX_OPTION_NESTING = 32

const readOptionValue = (cursor: Cursor, nesting = 0): OptionValue => {
  if (nesting > MAX_OPTION_NESTING) throw new Unreadable(`an option value nests more than ${MAX_OPTION_NESTING} lists`)
  const token = cursor.next("an option value")
  if (token.kind === "string") return token.text
  if (token.kind === "number") return Number(token.text)
  if (token.kind === "symbol" && token.text === "-" && cursor.peek()?.kind === "number") {
    return -Number(cursor.next("a number").text)
  }
  if (token.kind === "symbol" && (token.text === "[" || token.text === "(")) {
    return readValueList(cursor, token.text === "[" ? "]" : ")", nesting + 1)
  }
  if (token.kind === "word") {
    const word = token.text.toUpperCase()
    if (word === "TRUE" || word === "FALSE") return word === "TRUE"
    if (word === "NULL") return null
    if (word === "STRUCT" && cursor.accept("(")) return readValueList(cursor, ")", nesting + 1)
    // A typed literal: TIMESTAMP "2025-01-01 00:00:00+00", JSON '{}'.
    if (cursor.peek()?.kind === "string" && atValueEnd(cursor, 1)) return cursor.next("a literal").text
  }
  // Anything else (an expression) is kept as its text, up to the end of the value.
  cursor.index -= 1
  const start = token.start
  while (!atValueEnd(cursor)) cursor.skipItem()
  return { expression: cursor.source.slice(start, cursor.tokens[cursor.index - 1].end) }
}

/** The values up to `close`, the opening bracket already read. */
const readValueList = (cursor: Cursor, close: string, nesting: number): ReadonlyArray<OptionValue> => {
  const values: Array<OptionValue> = []
  if (cursor.accept(close)) return values
  do values.push(readOptionValue(cursor, nesting))
  while (cursor.accept(","))
  cursor.expect(close)
  return values
}

/** `(name=value, …)` from the current `(`. */
const readOptionList = (cursor: Cursor): ReadonlyMap<string, OptionValue> => {
  cursor.expect("(")
  const options = new Map<string, OptionValue>()
  if (cursor.accept(")")) return options
  do {
    const name = readName(cursor, "an option name").toLowerCase()
    cursor.expect("=")
    options.set(name, readOptionValue(cursor))
  } while (cursor.accept(","))
  cursor.expect(")")
  return options
}

const INGESTION_TIME = new Set(["_PARTITIONTIME", "_PARTITIONDATE"])
const TRUNC_UNITS = new Set(["DAY", "HOUR", "MONTH", "YEAR"])
const TRUNC_FUNCTIONS = new Set(["DATE_TRUNC", "TIMESTAMP_TRUNC", "DATETIME_TRUNC"])

const partitionColumn = (name: string) => (INGESTION_TIME.has(name.toUpperCase()) ? null : name)

/** `PARTITION BY` expressions BigQuery accepts, as `tables.get` describes them. */
const readPartitioning = (cursor: Cursor): TableDdl["partitioning"] => {
  const text = cursor.done()
    ? ""
    : cursor.source.slice(cursor.tokens[0].start, cursor.tokens[cursor.tokens.length - 1].end)
  const unknown = () => new Unreadable(`PARTITION BY ${text} is not a partitioning MetaSync knows`)
  const first = cursor.next("a partitioning expression")
  if (first.kind !== "word" && first.kind !== "quoted") throw unknown()
  if (cursor.done()) return { field: partitionColumn(first.text), type: "DAY" }
  if (first.kind !== "word" || !cursor.accept("(")) throw unknown()
  const fn = first.text.toUpperCase()
  const column = readName(cursor, "the partitioning column")
  let partitioning: TableDdl["partitioning"]
  if (fn === "DATE" && cursor.isSymbol(")")) {
    partitioning = { field: partitionColumn(column), type: "DAY" }
  } else if (TRUNC_FUNCTIONS.has(fn) && cursor.accept(",")) {
    const unit = cursor.next("a granularity").text.toUpperCase()
    if (!TRUNC_UNITS.has(unit)) throw unknown()
    partitioning = { field: partitionColumn(column), type: unit as "DAY" }
  } else if (fn === "RANGE_BUCKET" && cursor.accept(",")) {
    // The bucket boundaries (GENERATE_ARRAY(0, 100, 10)) are not part of the contract.
    while (!cursor.done() && !cursor.isSymbol(")")) cursor.skipItem()
    partitioning = { field: column, type: "RANGE" }
  } else {
    throw unknown()
  }
  cursor.expect(")")
  if (!cursor.done()) throw unknown()
  return partitioning
}

/** Words that start a top-level clause after PARTITION BY or CLUSTER BY. */
const CLAUSE_STARTS = new Set(["PARTITION", "CLUSTER", "OPTIONS", "AS", "WITH", "DEFAULT"])

/** Parses a table's, view's or materialized view's DDL as INFORMATION_SCHEMA.TABLES writes it. */
export const parseTableDdl = (ddl: string): Either.Either<TableDdl, string> =>
  attempt((): TableDdl => {
    const tokens = tokenize(ddl)
    const cursor = new Cursor(ddl, tokens)
    if (!cursor.acceptWord("CREATE")) throw new Unreadable("it does not start with CREATE")
    // CREATE [OR REPLACE] [MATERIALIZED] VIEW | [EXTERNAL | SNAPSHOT] TABLE [IF NOT EXISTS], then the name.
    const header: Array<string> = []
    while (cursor.peek()?.kind === "word" && !cursor.isSymbol(".", 1) && !cursor.isSymbol("(", 1)) {
      header.push(cursor.next("a keyword").text.toUpperCase())
    }
    const isView = header.includes("VIEW")
    let partitioning: TableDdl["partitioning"] = null
    let clustering: ReadonlyArray<string> = []
    let options: ReadonlyMap<string, OptionValue> = new Map()
    let viewQuery: string | null = null
    const atClauseEnd = () => {
      const token = cursor.peek()!
      return (token.kind === "symbol" && token.text === ";") ||
        (token.kind === "word" && CLAUSE_STARTS.has(token.text.toUpperCase()))
    }
    /** The tokens from here to the next top-level clause. */
    const clause = (): Cursor => {
      const start = cursor.index
      while (!cursor.done() && !atClauseEnd()) cursor.skipItem()
      return new Cursor(ddl, tokens.slice(start, cursor.index))
    }
    while (!cursor.done()) {
      if (cursor.isWord("PARTITION") && cursor.isWord("BY", 1)) {
        cursor.index += 2
        partitioning = readPartitioning(clause())
      } else if (cursor.isWord("CLUSTER") && cursor.isWord("BY", 1)) {
        cursor.index += 2
        const names = clause()
        const columns: Array<string> = []
        do columns.push(readName(names, "a clustering column"))
        while (names.accept(","))
        if (!names.done()) throw new Unreadable("CLUSTER BY lists something other than columns")
        clustering = columns
      } else if (cursor.isWord("OPTIONS") && cursor.isSymbol("(", 1)) {
        cursor.index += 1
        options = readOptionList(cursor)
      } else if (isView && cursor.isWord("AS")) {
        viewQuery = ddl.slice(cursor.peek()!.end).trim().replace(/;$/, "").trim()
        break
      } else {
        // The name, the column list (its columns' OPTIONS included), and clauses MetaSync does not read.
        cursor.skipItem()
      }
    }
    return { partitioning, clustering, options, viewQuery }
  }).pipe(Either.mapLeft((problem) => `DDL: ${problem}`))

// ---------------------------------------------------------------------------------------------
// Rows → TableMetadata

export const TABLE_KINDS: Readonly<Record<string, TableKind>> = {
  "BASE TABLE": "TABLE",
  VIEW: "VIEW",
  "MATERIALIZED VIEW": "MATERIALIZED_VIEW",
  EXTERNAL: "EXTERNAL",
  SNAPSHOT: "SNAPSHOT",
  CLONE: "CLONE"
}

const MS_PER_DAY = 86_400_000

interface FieldInfo {
  readonly description: string | null
  readonly policyTags: ReadonlyArray<string>
}

const buildField = (
  name: string,
  path: string,
  type: DataType,
  mode: FieldMode,
  info: ReadonlyMap<string, FieldInfo>,
  typeDescription: string | null
): Field => {
  // ARRAY<ARRAY<…>> never gets here: readType refuses it.
  const element = type.kind === "array" ? type.element : type
  const own = info.get(path)
  const description = own?.description ?? typeDescription
  const tags = own?.policyTags ?? []
  return {
    name,
    type: element.kind === "scalar" ? element.name : "RECORD",
    mode: type.kind === "array" ? "REPEATED" : mode,
    description: description === null || description === "" ? null : description,
    ...(element.kind === "struct"
      ? {
        fields: element.fields.map((f) =>
          buildField(f.name, `${path}.${f.name}`, f.type, f.required ? "REQUIRED" : "NULLABLE", info, f.description)
        )
      }
      : {}),
    ...(tags.length === 0 ? {} : { policy_tags: tags })
  }
}

const columnsOf = (rows: ReadonlyArray<ColumnRow>): ReadonlyArray<Field> => {
  const info = new Map(rows.map((r) => [r.field_path, { description: r.description, policyTags: r.policy_tags }]))
  return rows
    .filter((r) => r.field_path === r.column_name && r.ordinal_position !== null)
    .sort((a, b) => a.ordinal_position! - b.ordinal_position!)
    .map((r) => {
      const type = Either.getOrElse(parseDataType(r.data_type), (problem) => {
        throw new Unreadable(`column ${r.column_name}: ${problem}`)
      })
      return buildField(r.column_name, r.column_name, type, r.is_nullable === "NO" ? "REQUIRED" : "NULLABLE", info, null)
    })
}

const labelsOf = (value: OptionValue | undefined): Readonly<Record<string, string>> => {
  if (!Array.isArray(value)) return {}
  const labels: Record<string, string> = {}
  for (const pair of value as ReadonlyArray<OptionValue>) {
    if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string") {
      labels[pair[0]] = pair[1]
    }
  }
  return labels
}

const fromMillis = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : DateTime.unsafeMake(ms))

const tableMetadataOf = (
  project: string,
  dataset: string,
  table: TablesRow,
  columns: ReadonlyArray<ColumnRow>,
  storage: StorageRow | undefined,
  fallbackModified: DateTime.Utc
): TableMetadata => {
  if (table.ddl === null) throw new Unreadable("INFORMATION_SCHEMA.TABLES has no DDL for it")
  const ddl = Either.getOrElse(parseTableDdl(table.ddl), (problem) => {
    throw new Unreadable(problem)
  })
  const kind = TABLE_KINDS[table.table_type] ?? "TABLE"
  const expirationDays = ddl.options.get("partition_expiration_days")
  const description = ddl.options.get("description")
  return {
    table_id: makeTableId({ project, dataset, table: table.table_name }),
    kind,
    description: typeof description === "string" && description !== "" ? description : null,
    last_updated: fromMillis(storage?.last_modified_time) ?? fallbackModified,
    created: fromMillis(storage?.creation_time),
    row_count: storage?.row_count ?? null,
    size_bytes: storage?.size_bytes ?? null,
    labels: labelsOf(ddl.options.get("labels")),
    partitioning: ddl.partitioning === null ? null : {
      ...ddl.partitioning,
      expiration_ms: ddl.partitioning.type !== "RANGE" && typeof expirationDays === "number"
        ? Math.round(expirationDays * MS_PER_DAY)
        : null,
      require_partition_filter: ddl.options.get("require_partition_filter") === true
    },
    clustering: ddl.clustering,
    view_query: kind === "VIEW" || kind === "MATERIALIZED_VIEW" ? ddl.viewQuery : null,
    columns: columnsOf(columns)
  }
}

export interface InformationSchemaTables {
  /** The requested tables that exist, by name. */
  readonly found: ReadonlyMap<string, TableMetadata>
  /** Requested tables that exist but whose rows could not be read, with why. */
  readonly unreadable: ReadonlyMap<string, string>
}

/**
 * The requested tables of `project.dataset` from the three queries' rows. A requested table with
 * no TABLES row does not exist and is in neither map; rows of tables not requested are ignored.
 * `fallbackModified` stands in for a missing last-modified time, as in `tableMetadataFromRest`.
 */
export const tablesFromInformationSchema = (
  project: string,
  dataset: string,
  requested: ReadonlyArray<string>,
  rows: InformationSchemaRows,
  fallbackModified: DateTime.Utc
): InformationSchemaTables => {
  const wanted = new Set(requested)
  const columnsByTable = new Map<string, Array<ColumnRow>>()
  for (const row of rows.columns) {
    if (wanted.has(row.table_name)) columnsByTable.set(row.table_name, [...(columnsByTable.get(row.table_name) ?? []), row])
  }
  const storageByTable = new Map(rows.storage.map((row) => [row.table_id, row]))
  const found = new Map<string, TableMetadata>()
  const unreadable = new Map<string, string>()
  for (const table of rows.tables) {
    if (!wanted.has(table.table_name) || found.has(table.table_name)) continue
    const read = attempt(() =>
      tableMetadataOf(
        project,
        dataset,
        table,
        columnsByTable.get(table.table_name) ?? [],
        storageByTable.get(table.table_name),
        fallbackModified
      )
    )
    if (Either.isRight(read)) found.set(table.table_name, read.right)
    else unreadable.set(table.table_name, read.left)
  }
  return { found, unreadable }
}

/**
 * The requested tables from the three queries' rows as they came: rows are checked one by one,
 * so a row that does not decode makes only its own table unreadable (for the caller to read
 * through `tables.get`). Fails only when a row does not say which table it is about.
 */
export const readInformationSchemaTables = (
  project: string,
  dataset: string,
  requested: ReadonlyArray<string>,
  raw: RawInformationSchemaRows,
  fallbackModified: DateTime.Utc
): Either.Either<InformationSchemaTables, string> =>
  Either.map(decodeRowsPerTable(raw), ({ rows, unreadable: badRows }) => {
    const wanted = new Set(requested)
    const { found, unreadable } = tablesFromInformationSchema(project, dataset, requested, rows, fallbackModified)
    const badWanted = [...badRows].filter(([table]) => wanted.has(table))
    if (badWanted.length === 0) return { found, unreadable }
    return {
      found: new Map([...found].filter(([table]) => !badRows.has(table))),
      unreadable: new Map([...unreadable, ...badWanted])
    }
  })

// ---------------------------------------------------------------------------------------------
// Many datasets of one region at once

/** The ARRAY<STRING> parameter of the region queries: the datasets read. */
export const DATASETS_PARAMETER = "datasets"
/** The ARRAY<STRING> parameter of the region queries: the tables read, each as `dataset.table`. */
export const QUALIFIED_TABLES_PARAMETER = "qualified_tables"

/** `region-us`, `region-asia-northeast3`: the qualifier of a location's INFORMATION_SCHEMA. */
export const regionQualifier = (location: string) => `region-${location.toLowerCase()}`

/**
 * The queries that read the tables of many datasets of `project` in `location`: the same three
 * reads as `informationSchemaQueries`, each once for the region, every row saying its dataset.
 *
 * - TABLES and COLUMN_FIELD_PATHS ⋈ COLUMNS are region-qualified
 *   (`` `project`.`region-us`.INFORMATION_SCHEMA.TABLES ``), filtered to `@datasets` and to the
 *   requested tables (`CONCAT(table_schema, '.', table_name) IN UNNEST(@qualified_tables)`; a
 *   dataset name has no dots, so the pair is unambiguous).
 * - Sizes and times come from the datasets' own `__TABLES__`, one `UNION ALL` branch per dataset,
 *   in one query. Not from the region's `INFORMATION_SCHEMA.TABLE_STORAGE`: its
 *   `storage_last_modified_time` moves only when data is written (a description or schema change
 *   leaves it), and the view is not kept in real time (BigQuery documents a delay of seconds to
 *   minutes, up to a day for expirations), so it would differ from `tables.get`'s
 *   `lastModifiedTime` — which the incremental sync's fingerprints read — and from its counts.
 *   `__TABLES__`' times and counts are `tables.get`'s.
 *
 * Declared keys are not read here: KEY_COLUMN_USAGE, TABLE_CONSTRAINTS and CONSTRAINT_COLUMN_USAGE
 * accept only a dataset qualifier.
 */
export const regionInformationSchemaQueries = (
  project: string,
  location: string,
  datasets: ReadonlyArray<string>
) => {
  const region = `${quoteIdentifier(project)}.${quoteIdentifier(regionQualifier(location))}.INFORMATION_SCHEMA`
  const wanted = (alias: string) =>
    `${alias}table_schema IN UNNEST(@${DATASETS_PARAMETER}) AND ` +
    `CONCAT(${alias}table_schema, '.', ${alias}table_name) IN UNNEST(@${QUALIFIED_TABLES_PARAMETER})`
  return {
    tables: [
      "SELECT table_schema, table_name, table_type, ddl",
      `FROM ${region}.TABLES`,
      `WHERE ${wanted("")}`
    ].join("\n"),
    columns: [
      "SELECT p.table_schema, p.table_name, p.column_name, p.field_path, p.data_type, p.description, p.policy_tags,",
      "  c.ordinal_position, c.is_nullable",
      `FROM ${region}.COLUMN_FIELD_PATHS AS p`,
      `JOIN ${region}.COLUMNS AS c`,
      "  ON c.table_schema = p.table_schema AND c.table_name = p.table_name AND c.column_name = p.column_name",
      `WHERE ${wanted("p.")} AND c.table_schema IN UNNEST(@${DATASETS_PARAMETER}) AND c.is_system_defined = 'NO'`
    ].join("\n"),
    storage: [
      "SELECT dataset_id, table_id, creation_time, last_modified_time, row_count, size_bytes",
      "FROM (",
      datasets.map((dataset) =>
        `  SELECT dataset_id, table_id, creation_time, last_modified_time, row_count, size_bytes ` +
        `FROM ${quoteIdentifier(project)}.${quoteIdentifier(dataset)}.__TABLES__`
      ).join("\n  UNION ALL\n"),
      ")",
      `WHERE CONCAT(dataset_id, '.', table_id) IN UNNEST(@${QUALIFIED_TABLES_PARAMETER})`
    ].join("\n")
  } as const
}

/** What each dataset's rows gave: its tables, or nothing when the region's rows name none of them. */
export type RegionTables = ReadonlyMap<string, InformationSchemaTables>

const datasetOfRow = (row: unknown, key: string): string | undefined => {
  const value = typeof row === "object" && row !== null ? (row as Record<string, unknown>)[key] : undefined
  return typeof value === "string" ? value : undefined
}

/**
 * The requested tables of many datasets from the region queries' rows, each dataset read as
 * `readInformationSchemaTables` reads one: a bad row makes only its own table unreadable. A dataset
 * none of whose requested tables has a TABLES row is left out of the result (it may be missing, or
 * in another location: the caller reads it by itself). Fails only for a row that does not say
 * which dataset or table it is about.
 */
export const readRegionInformationSchemaTables = (
  project: string,
  requested: ReadonlyMap<string, ReadonlyArray<string>>,
  raw: RawInformationSchemaRows,
  fallbackModified: DateTime.Utc
): Either.Either<RegionTables, string> => {
  const byDataset = new Map<string, { tables: Array<unknown>; columns: Array<unknown>; storage: Array<unknown> }>()
  for (const dataset of requested.keys()) byDataset.set(dataset, { tables: [], columns: [], storage: [] })
  const views = [
    ["tables", "INFORMATION_SCHEMA.TABLES", "table_schema"],
    ["columns", "INFORMATION_SCHEMA.COLUMN_FIELD_PATHS", "table_schema"],
    ["storage", "__TABLES__", "dataset_id"]
  ] as const
  for (const [which, view, key] of views) {
    for (const [index, row] of raw[which].entries()) {
      const dataset = datasetOfRow(row, key)
      if (dataset === undefined) return Either.left(`${view} row ${index}: ${key}: expected the dataset's name`)
      byDataset.get(dataset)?.[which].push(row)
    }
  }
  const out = new Map<string, InformationSchemaTables>()
  for (const [dataset, rows] of byDataset) {
    if (rows.tables.length === 0) continue
    const read = readInformationSchemaTables(project, dataset, requested.get(dataset)!, rows, fallbackModified)
    if (Either.isLeft(read)) return Either.left(`${project}.${dataset}: ${read.left}`)
    out.set(dataset, read.right)
  }
  return Either.right(out)
}

/** The region's tables of `@datasets`, for listing them (what `tables.list` gives: names and kinds). */
export const regionTableListSql = (project: string, location: string) =>
  [
    "SELECT table_schema, table_name, table_type",
    `FROM ${quoteIdentifier(project)}.${quoteIdentifier(regionQualifier(location))}.INFORMATION_SCHEMA.TABLES`,
    `WHERE table_schema IN UNNEST(@${DATASETS_PARAMETER})`
  ].join("\n")

export const TableListRow = Schema.Struct({
  table_schema: Schema.String,
  table_name: Schema.String,
  table_type: Schema.String
})

/** `tables.list`'s `type` for an INFORMATION_SCHEMA `table_type` (`BASE TABLE` → `TABLE`). */
export const listingKindOf = (tableType: string): string => TABLE_KINDS[tableType] ?? tableType
