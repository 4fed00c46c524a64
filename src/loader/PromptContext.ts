/**
 * Prompt context: what the backend pastes into its text-to-SQL prompt for one question — the
 * tables most relevant to it (columns with types and descriptions, nested paths with the UNNEST
 * joins that reach them, partition and shard rules, sampled values) and the closest worked
 * examples, packed greedily under a token budget.
 *
 * - Relevance is lexical: BM25 over one document per table (its id, description, field paths and
 *   their descriptions, sampled top values, and the questions of the examples that read it — so a
 *   Korean question finds a table with English metadata through its Korean examples) and one per
 *   example (question and SQL). Ties keep the document's order.
 * - Packing: the best table first (whole, or its most relevant columns when it is too big, with a
 *   line saying how many were left out), then the most relevant examples that read only chosen
 *   tables, then the next table, until the budget or the table and example limits are reached.
 * - Descriptions, values, names and questions come from the warehouse and its users: they are
 *   rendered inline as data, after a fixed prefix on one line, so they can never open a section.
 *
 * Every function here is pure: the same document and request always give the same text.
 */
import * as DateTime from "effect/DateTime"
import { describeRelationship, type Relationship } from "../contract/Relationship.ts"
import { joinGraphOf } from "./JoinGraph.ts"
import type { CacheDocument, Example, Language, TableEntry } from "../contract/CacheDocument.ts"
import { flattenFields } from "../contract/Field.ts"
import { denseScores, hybridScores } from "./DenseScores.ts"

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

const CJK = "\\p{Script=Hangul}\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}"
/** A word: letters, marks, digits and `_` (identifiers stay whole until split below). */
const WORD = /[\p{L}\p{M}\p{N}_]+/gu
/** A word's CJK and non-CJK stretches (`GA4이벤트` → `GA4`, `이벤트`). */
const SCRIPT_STRETCH = new RegExp(`([${CJK}]+)|([^${CJK}]+)`, "gu")
const HAS_CJK = new RegExp(`[${CJK}]`, "u")
const PLAIN_WORD = /^[a-z0-9]+$/
/** camelCase and PascalCase boundaries: `eventName` → `event|Name`, `HTTPStatus` → `HTTP|Status`. */
const CAMEL_BOUNDARY = /(?<=[\p{Ll}\p{N}])(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})/u

/** English words that say nothing about which table or column a question needs. */
const STOPWORDS: ReadonlySet<string> = new Set([
  "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "and", "or", "is", "are", "was", "were", "be",
  "what", "which", "who", "how", "many", "much", "me", "show", "list", "give", "get", "find", "with", "from",
  "per", "each", "do", "does", "did", "that", "this", "there", "it", "its", "as", "i", "we", "you", "please", "s"
])

/**
 * A light English suffix rule so that inflections meet (`names`/`name`, `purchased`/`purchase`,
 * `countries`/`country` all reduce alike): plural, then `-ed`/`-ing`, then a final `e`/`y`,
 * each only when at least three letters remain. Not a real stemmer; it only has to be consistent.
 */
const stem = (word: string): string => {
  if (word.length < 4 || !/^[a-z]+$/.test(word)) return word
  const strip = (w: string, suffix: string, replacement = "") =>
    w.endsWith(suffix) && w.length - suffix.length + replacement.length >= 3
      ? w.slice(0, w.length - suffix.length) + replacement
      : w
  let w = word
  if (w.endsWith("ies")) w = strip(w, "ies", "i")
  else if (w.endsWith("sses")) w = strip(w, "es")
  else if (w.endsWith("es")) w = strip(w, "es")
  // `-ss`, `-us`, `-is` are not plurals (`address`, `status`, `analysis`).
  else if (w.endsWith("s") && !/(ss|us|is)$/.test(w)) w = strip(w, "s")
  if (w.endsWith("ing")) w = strip(w, "ing")
  else if (w.endsWith("ed")) w = strip(w, "ed")
  if (w.length >= 4) {
    if (w.endsWith("e")) w = strip(w, "e")
    else if (w.endsWith("y")) w = strip(w, "y", "i")
  }
  return w
}

/**
 * Lexical tokens of `text`, for matching questions against tables and examples:
 *
 * - Text is NFKC-normalized and split into words on anything but letters, marks, digits and `_`.
 * - Non-CJK words are split further on `_` and camelCase, lowercased, stripped of English
 *   stopwords and reduced by a light suffix rule; an identifier that split into several parts
 *   (`item_name`, `eventName`) is also kept whole, lowercased, so naming it exactly counts double.
 * - Hangul, Han, Hiragana and Katakana stretches become overlapping character bigrams (a single
 *   character stays a unigram): Korean writes compounds without spaces and attaches particles to
 *   nouns, so `이벤트는` (이벤, 벤트, 트는) still shares most of its bigrams with `이벤트` (이벤, 벤트).
 */
export const tokenize = (text: string): ReadonlyArray<string> => {
  const tokens: Array<string> = []
  for (const word of text.normalize("NFKC").match(WORD) ?? []) {
    // Most words are plain lowercase ASCII: no stretches or identifier parts to find.
    if (PLAIN_WORD.test(word)) {
      if (!STOPWORDS.has(word)) tokens.push(stem(word))
      continue
    }
    const parts: Array<string> = []
    let hasCjk = false
    const stretches = HAS_CJK.test(word) ? word.matchAll(SCRIPT_STRETCH) : [[word, undefined, word] as const]
    for (const [, cjk, other] of stretches) {
      if (cjk !== undefined) {
        hasCjk = true
        const chars = Array.from(cjk.toLowerCase())
        if (chars.length === 1) tokens.push(chars[0])
        for (let i = 0; i + 1 < chars.length; i++) tokens.push(chars[i] + chars[i + 1])
        continue
      }
      for (const piece of other.split("_")) {
        for (const part of piece.split(CAMEL_BOUNDARY)) if (part.length > 0) parts.push(part.toLowerCase())
      }
    }
    for (const part of parts) if (!STOPWORDS.has(part)) tokens.push(stem(part))
    if (!hasCjk && parts.length > 1) tokens.push(word.toLowerCase())
  }
  return tokens
}

/**
 * A conservative token count for `text`, without a tokenizer: one token per 3 ASCII characters
 * (rounded up) plus 2 per non-ASCII character. English prose runs about 4 characters a token and
 * SQL or snake_case identifiers about 3; a Hangul syllable (3 UTF-8 bytes) is usually 1 token and
 * rarely more than 2 in byte-level BPE vocabularies. Counting high keeps a prompt inside its
 * window. The count never decreases when text is appended, and the count of joined parts is at
 * most the sum of the parts' counts — which is what lets packing add up lines.
 */
export const estimateTokens = (text: string): number => {
  let ascii = 0
  let other = 0
  for (const ch of text) {
    if ((ch.codePointAt(0) ?? 0) < 0x80) ascii += 1
    else other += 1
  }
  return Math.ceil(ascii / 3) + 2 * other
}

// ---------------------------------------------------------------------------------------------
// Relevance (BM25)
// ---------------------------------------------------------------------------------------------

const BM25_K1 = 1.2
const BM25_B = 0.75

/** Term frequencies of one document, weights already applied. */
interface Bag {
  readonly terms: ReadonlyMap<string, number>
  readonly length: number
}

interface Corpus {
  readonly bags: ReadonlyArray<Bag>
  /** In how many documents each term occurs. */
  readonly df: ReadonlyMap<string, number>
  readonly averageLength: number
}

class BagBuilder {
  readonly terms = new Map<string, number>()
  length = 0
  add(text: string | null | undefined, weight = 1): void {
    if (text === null || text === undefined) return
    for (const token of tokenize(text)) {
      this.terms.set(token, (this.terms.get(token) ?? 0) + weight)
      this.length += weight
    }
  }
}

const corpusOf = (bags: ReadonlyArray<Bag>): Corpus => {
  const df = new Map<string, number>()
  let total = 0
  for (const bag of bags) {
    total += bag.length
    for (const term of bag.terms.keys()) df.set(term, (df.get(term) ?? 0) + 1)
  }
  return { bags, df, averageLength: bags.length === 0 ? 0 : total / bags.length }
}

const idf = (corpus: Corpus, term: string): number => {
  const n = corpus.df.get(term) ?? 0
  return Math.log(1 + (corpus.bags.length - n + 0.5) / (n + 0.5))
}

const bm25 = (corpus: Corpus, query: ReadonlyArray<string>, bag: Bag): number => {
  let score = 0
  const norm = corpus.averageLength === 0 ? 1 : 1 - BM25_B + BM25_B * (bag.length / corpus.averageLength)
  for (const term of query) {
    const tf = bag.terms.get(term)
    if (tf === undefined) continue
    score += idf(corpus, term) * ((tf * (BM25_K1 + 1)) / (tf + BM25_K1 * norm))
  }
  return score
}

/** The distinct query terms, in first-seen order (a fixed order keeps float sums identical). */
const queryTerms = (question: string): ReadonlyArray<string> => [...new Set(tokenize(question))]

/** A field as the prompt shows it: what the schema says of it, and how to reach it. */
interface FieldView {
  readonly path: string
  readonly type: string
  readonly mode: string
  readonly description: string | null
  readonly unnest: ReadonlyArray<string>
  readonly joins: ReadonlyArray<string>
  readonly expression: string
}

/**
 * Each field's path, how to reach it, and what the document says about it. Documents written
 * before field paths existed (version 1) carry none: their fields are listed with the repeated
 * fields on the way but no ready-made joins (the sync's join builder stays out of the loader).
 */
const fieldPathsOf = (table: TableEntry): ReadonlyArray<FieldView> => {
  const access = new Map(table.field_paths.map((p) => [p.path, p]))
  return flattenFields(table.columns).map((field) => {
    const known = access.get(field.path)
    return {
      path: field.path,
      type: field.type,
      mode: field.mode,
      description: field.description,
      unnest: field.repeated,
      joins: known?.joins ?? [],
      expression: known?.expression ?? field.path
    }
  })
}

const topValuesOf = (table: TableEntry): ReadonlyMap<string, ReadonlyArray<string>> => {
  const values = new Map<string, ReadonlyArray<string>>()
  for (const column of table.profile?.columns ?? []) {
    if (column.top_values !== null && column.top_values.length > 0) {
      values.set(column.column, column.top_values.map((v) => v.value))
    }
  }
  return values
}

/** What a question is matched against, built once per document. */
interface DocumentIndex {
  readonly tables: Corpus
  readonly examples: Corpus
  /** For each example, the indexes of the tables it reads; `null` when one is not in the document. */
  readonly exampleTables: ReadonlyArray<ReadonlyArray<number> | null>
  /** Each table's rendered column lines, filled the first time the table is rendered. */
  readonly columnLines: Array<ReadonlyArray<ColumnLine> | undefined>
}

/** A field's line in a table section, and what its relevance is judged on. */
interface ColumnLine {
  readonly text: string
  readonly cost: number
  readonly path: string
  /** Its description and sampled values. */
  readonly about: string
  /** The partition column: kept whatever its score, since every query must filter it. */
  readonly pinned: boolean
}

/**
 * The table an example's table id names: the exact id, or the date-sharded family a shard id or
 * `prefix*` belongs to (as the loader's `findTable` resolves it).
 */
const resolveTable = (tables: ReadonlyArray<TableEntry>, byId: ReadonlyMap<string, number>, id: string) => {
  const exact = byId.get(id)
  if (exact !== undefined) return exact
  const found = tables.findIndex((t) => {
    if (t.sharding === null) return false
    const family = t.table_id.slice(0, t.table_id.lastIndexOf(".") + 1) + t.sharding.prefix
    if (!id.startsWith(family)) return false
    const suffix = id.slice(family.length)
    return suffix === "*" ||
      (suffix.length === t.sharding.first_suffix.length && suffix >= t.sharding.first_suffix &&
        suffix <= t.sharding.last_suffix)
  })
  return found < 0 ? null : found
}

const buildIndex = (document: CacheDocument): DocumentIndex => {
  const byId = new Map(document.tables.map((t, i) => [t.table_id as string, i]))
  const exampleTables = document.examples.map((example) => {
    if (example.tables.length === 0) return null
    const resolved: Array<number> = []
    for (const id of example.tables) {
      const index = resolveTable(document.tables, byId, id)
      if (index === null) return null
      if (!resolved.includes(index)) resolved.push(index)
    }
    return resolved
  })
  const questionsByTable = document.tables.map((): Array<string> => [])
  exampleTables.forEach((tables, e) => {
    for (const t of tables ?? []) questionsByTable[t].push(document.examples[e].question)
  })
  const tableBags = document.tables.map((table, t): Bag => {
    const bag = new BagBuilder()
    const name = table.table_id.slice(table.table_id.lastIndexOf(".") + 1)
    bag.add(table.table_id)
    bag.add(name)
    bag.add(table.description)
    const values = topValuesOf(table)
    for (const field of fieldPathsOf(table)) {
      bag.add(field.path, 2)
      bag.add(field.description)
      for (const value of values.get(field.path) ?? []) bag.add(value)
    }
    for (const question of questionsByTable[t]) bag.add(question)
    return bag
  })
  const exampleBags = document.examples.map((example): Bag => {
    const bag = new BagBuilder()
    bag.add(example.question)
    bag.add(example.sql)
    return bag
  })
  return {
    tables: corpusOf(tableBags),
    examples: corpusOf(exampleBags),
    exampleTables,
    columnLines: document.tables.map(() => undefined)
  }
}

// Documents are immutable values; a backend asks many questions of the same one.
const indexes = new WeakMap<CacheDocument, DocumentIndex>()

const indexOf = (document: CacheDocument): DocumentIndex => {
  const known = indexes.get(document)
  if (known !== undefined) return known
  const built = buildIndex(document)
  indexes.set(document, built)
  return built
}

/** Examples in another language than the one asked for count half. */
const OTHER_LANGUAGE_WEIGHT = 0.5

export interface ScoredTable {
  /** Index into `document.tables`. */
  readonly index: number
  readonly table_id: string
  readonly score: number
}

export interface ScoredExample {
  /** Index into `document.examples`. */
  readonly index: number
  readonly score: number
}

/** Every table and example scored against a question, most relevant first (ties: document order). */
export interface Relevance {
  readonly tables: ReadonlyArray<ScoredTable>
  readonly examples: ReadonlyArray<ScoredExample>
}

const byScore = <A extends { readonly index: number; readonly score: number }>(a: A, b: A) =>
  b.score - a.score || a.index - b.index

/**
 * BM25 scores of the document's tables and examples for `question`. With `language`, an example in
 * another language scores half, and among equal scores the asked language comes first.
 */
export const relevance = (
  document: CacheDocument,
  question: string,
  language?: Language,
  questionEmbedding?: ArrayLike<number>
): Relevance => {
  const index = indexOf(document)
  const query = queryTerms(question)
  // With the question's embedding and a document with vectors: the hybrid rule of DenseScores.ts.
  const dense = questionEmbedding === undefined ? null : denseScores(document, questionEmbedding)
  const withDense = (lexical: ReadonlyArray<number>, scores: ReadonlyArray<number | undefined> | undefined) =>
    scores === undefined ? lexical : hybridScores(lexical, scores)
  const tableScores = withDense(index.tables.bags.map((bag) => bm25(index.tables, query, bag)), dense?.tables)
  const exampleScores = withDense(index.examples.bags.map((bag) => bm25(index.examples, query, bag)), dense?.examples)
  const tables = document.tables
    .map((table, i): ScoredTable => ({ index: i, table_id: table.table_id, score: tableScores[i] }))
    .sort(byScore)
  const preferred = (example: Example) => language === undefined || example.language === language
  const examples = document.examples
    .map((example, i): ScoredExample => ({
      index: i,
      score: exampleScores[i] * (preferred(example) ? 1 : OTHER_LANGUAGE_WEIGHT)
    }))
    .sort((a, b) =>
      b.score - a.score ||
      Number(preferred(document.examples[b.index])) - Number(preferred(document.examples[a.index])) ||
      a.index - b.index
    )
  return { tables, examples }
}

// ---------------------------------------------------------------------------------------------
// Rendering untrusted text
// ---------------------------------------------------------------------------------------------

const MAX_TABLE_DESCRIPTION = 400
const MAX_COLUMN_DESCRIPTION = 200
const MAX_QUESTION = 300
const MAX_VALUE = 40
const MAX_VALUES = 5
const MAX_SQL_LINE = 500

/** Control, format and line/paragraph separator characters: never rendered. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu

/**
 * `text` as one line of inline data: unprintable characters and runs of white space become one
 * space, backticks become `'` (they would open code spans), it is cut to `max` characters with
 * `…`, and a leading `#` is escaped so that even at the start of a line it is not a heading.
 */
const inline = (text: string, max: number): string => {
  const flat = text.replace(UNPRINTABLE, " ").replace(/\s+/gu, " ").replace(/`/g, "'").trim()
  const chars = Array.from(flat)
  const cut = chars.length > max ? `${chars.slice(0, max - 1).join("").trimEnd()}…` : flat
  return cut.startsWith("#") ? `\\${cut}` : cut
}

/** SQL written by the sync (an expression, a join) on one line: backticks stay, SQL quotes with them. */
const inlineSql = (sql: string): string => sql.replace(UNPRINTABLE, " ").replace(/\s+/gu, " ").trim()

/** One line of SQL: unprintable characters become spaces; backticks stay (SQL quotes with them). */
const sqlLine = (line: string): string => {
  const flat = line.replace(UNPRINTABLE, " ").trimEnd()
  const chars = Array.from(flat)
  return chars.length > MAX_SQL_LINE ? `${chars.slice(0, MAX_SQL_LINE - 1).join("")}…` : flat
}

// ---------------------------------------------------------------------------------------------
// Rendering tables and examples
// ---------------------------------------------------------------------------------------------

/** What a line adds to the estimate, its newline included. */
const costOf = (line: string): number => estimateTokens(`${line}\n`)

const costOfLines = (lines: ReadonlyArray<string>): number => lines.reduce((sum, line) => sum + costOf(line), 0)

/** The blank line between sections. */
const SEPARATOR_COST = costOf("")

const tableHeading = (table: TableEntry): string =>
  `## Table \`${inline(table.table_id, 1100)}\`${table.status.state === "stale" ? " (stale)" : ""}`

/** The lines every rendering of a table carries: heading, status, description, query rules. */
const tableHead = (table: TableEntry): ReadonlyArray<string> => {
  const lines = [tableHeading(table)]
  if (table.status.state === "stale") {
    lines.push(
      `Stale: the last sync could not read this table (since ${
        DateTime.formatIso(table.status.failure.since)
      }); its metadata may be out of date.`
    )
  }
  if (table.description !== null && table.description.trim() !== "") {
    lines.push(`Description: ${inline(table.description, MAX_TABLE_DESCRIPTION)}`)
  }
  if (table.kind !== "TABLE") lines.push(`Kind: ${table.kind}`)
  if (table.sharding !== null) {
    const { first_suffix, last_suffix, prefix, shard_count } = table.sharding
    const dataset = table.table_id.slice(0, table.table_id.lastIndexOf(".") + 1)
    const wildcard = table.table_id.endsWith("*") ? table.table_id : `${dataset}${prefix}*`
    const first = inline(first_suffix, 40)
    const last = inline(last_suffix, 40)
    lines.push(
      `Sharded: ${shard_count} date shards, \`${inline(`${dataset}${prefix}`, 1100)}${first}\` to ` +
        `\`${inline(`${dataset}${prefix}`, 1100)}${last}\`; query \`${inline(wildcard, 1100)}\` and choose shards ` +
        `with _TABLE_SUFFIX (e.g. WHERE _TABLE_SUFFIX BETWEEN '${first}' AND '${last}').`
    )
  }
  if (table.partitioning !== null) {
    const { field, require_partition_filter, type } = table.partitioning
    const column = field === null ? "_PARTITIONTIME" : inline(field, 300)
    lines.push(
      type === "RANGE"
        ? `Partitioned by integer range of \`${column}\`.`
        : `Partitioned by \`${column}\` (${type}${field === null ? ", ingestion time" : ""}).`
    )
    if (require_partition_filter) {
      lines.push(`Partition filter required on \`${column}\`: every query must filter \`${column}\` in WHERE.`)
    }
  }
  if (table.clustering.length > 0) {
    lines.push(`Clustered by: ${table.clustering.map((c) => `\`${inline(c, 300)}\``).join(", ")}.`)
  }
  lines.push("Columns:")
  return lines
}

const columnLine = (field: FieldView, values: ReadonlyArray<string> | undefined): string => {
  let line = `- ${inline(field.path, 300)} ${inline(field.type, 40)} ${field.mode}`
  if (field.description !== null && field.description.trim() !== "") {
    line += ` — ${inline(field.description, MAX_COLUMN_DESCRIPTION)}`
  }
  const expression = inlineSql(field.expression)
  if (field.joins.length > 0) {
    line += ` (needs: ${field.joins.map(inlineSql).join(" ")}; read as ${expression})`
  } else if (field.unnest.length > 0) {
    line += ` (needs: UNNEST of ${field.unnest.map((p) => inlineSql(p)).join(", ")})`
  } else if (field.expression !== field.path) {
    line += ` (read as ${expression})`
  }
  if (values !== undefined) {
    const quoted = values.slice(0, MAX_VALUES).map((v) => `"${inline(v, MAX_VALUE).replace(/"/g, "'")}"`)
    line += ` Values: ${quoted.join(", ")}`
  }
  return line
}

const omittedColumnsLine = (count: number): string => `- … ${count} more columns not shown`

const columnLinesOf = (table: TableEntry): ReadonlyArray<ColumnLine> => {
  const values = topValuesOf(table)
  const partitionColumn = table.partitioning?.field ?? null
  return fieldPathsOf(table).map((field): ColumnLine => {
    const text = columnLine(field, values.get(field.path))
    return {
      text,
      cost: costOf(text),
      path: field.path,
      about: `${field.description ?? ""} ${(values.get(field.path) ?? []).join(" ")}`,
      pinned: field.path === partitionColumn
    }
  })
}

interface ColumnCandidate extends ColumnLine {
  readonly score: number
  /** Schema order. */
  readonly position: number
}

interface TableBlock {
  readonly lines: ReadonlyArray<string>
  /** The lines' cost plus the separator before the next section. */
  readonly cost: number
  readonly omittedColumns: number
}

/**
 * A table's section within `allowance` tokens: whole when it fits, else its heading and rules with
 * the columns most relevant to the query (the partition column always first), in schema order,
 * and a line counting the rest. `null` when not even one column fits.
 */
const renderTable = (
  document: CacheDocument,
  index: DocumentIndex,
  t: number,
  query: ReadonlyArray<string>,
  allowance: number
): TableBlock | null => {
  const table = document.tables[t]
  const head = tableHead(table)
  const headCost = costOfLines(head) + SEPARATOR_COST
  if (headCost > allowance) return null
  const lines = index.columnLines[t] ?? columnLinesOf(table)
  index.columnLines[t] = lines
  const allCost = headCost + lines.reduce((sum, c) => sum + c.cost, 0)
  if (allCost <= allowance) {
    return { lines: [...head, ...lines.map((c) => c.text)], cost: allCost, omittedColumns: 0 }
  }
  // The count line is reserved at its widest, so whatever is left out it still fits.
  let left = allowance - headCost - costOf(omittedColumnsLine(lines.length))
  if (!lines.some((line) => line.cost <= left)) return null
  // Too big: a name that holds a question term counts double a description or value that does.
  const columns = lines.map((line, position): ColumnCandidate => {
    const names = new Set(tokenize(line.path))
    const about = new Set(tokenize(line.about))
    let score = 0
    for (const term of query) {
      if (names.has(term)) score += 2 * idf(index.tables, term)
      else if (about.has(term)) score += idf(index.tables, term)
    }
    return { ...line, score, position }
  })
  const kept: Array<ColumnCandidate> = []
  const ranked = [...columns].sort((a, b) =>
    Number(b.pinned) - Number(a.pinned) || b.score - a.score || a.position - b.position
  )
  for (const column of ranked) {
    if (column.cost <= left) {
      kept.push(column)
      left -= column.cost
    }
  }
  if (kept.length === 0) return null
  kept.sort((a, b) => a.position - b.position)
  const omitted = columns.length - kept.length
  const shown = [...head, ...kept.map((c) => c.text), omittedColumnsLine(omitted)]
  return { lines: shown, cost: costOfLines(shown) + SEPARATOR_COST, omittedColumns: omitted }
}

const JOINS_HEADING = "## Joins"
const JOINS_HEADING_COST = costOf(JOINS_HEADING) + SEPARATOR_COST

/**
 * `candidates` in rank order, except that a table which joins the tables before it only through
 * others is preceded by those others (the shortest join path, at most `MAX_BRIDGE_JOINS` joins):
 * the bridge comes in ahead of lower-ranked, unrelated tables.
 */
const MAX_BRIDGE_JOINS = 3
const withBridges = (document: CacheDocument, candidates: ReadonlyArray<number>, maxTables: number): Array<number> => {
  if (document.relationships.length === 0) return [...candidates]
  // Only the leading candidates can be rendered; the rest follow in rank order, unbridged.
  const head = candidates.slice(0, maxTables)
  const graph = joinGraphOf(document)
  const position = new Map(document.tables.map((t, i) => [t.table_id as string, i]))
  const idOf = (i: number) => document.tables[i].table_id as string
  const out: Array<number> = []
  for (const t of head) {
    if (out.includes(t)) continue
    const direct = out.some((o) => graph.path(idOf(o), idOf(t), 1) !== null)
    if (out.length > 0 && !direct) {
      let best: { readonly from: number; readonly steps: ReadonlyArray<Relationship> } | null = null
      for (const o of out) {
        const steps = graph.path(idOf(o), idOf(t), MAX_BRIDGE_JOINS)
        if (steps !== null && (best === null || steps.length < best.steps.length)) best = { from: o, steps }
      }
      if (best !== null) {
        let at = idOf(best.from)
        for (const step of best.steps.slice(0, -1)) {
          at = step.from.table_id === at ? step.to.table_id : step.from.table_id
          const bridge = position.get(at)
          if (bridge !== undefined && !out.includes(bridge)) out.push(bridge)
        }
      }
    }
    out.push(t)
  }
  const placed = new Set(out)
  for (const t of candidates.slice(maxTables)) if (!placed.has(t)) out.push(t)
  // Then the tables the leading ones join to directly, most confident first: a question about
  // customers often needs the table of their transactions, whose name it does not say.
  for (const t of head) {
    for (const r of graph.relationshipsOf(idOf(t))) {
      const other = position.get(r.from.table_id === idOf(t) ? r.to.table_id : r.from.table_id)
      if (other !== undefined && !placed.has(other)) {
        placed.add(other)
        out.push(other)
      }
    }
  }
  return out
}

/** The join hints between `t` and the tables already chosen, e.g. `- publication.cid → conference.cid (many-to-one)`. */
const joinLines = (document: CacheDocument, t: number, chosen: ReadonlySet<number>): ReadonlyArray<string> => {
  if (document.relationships.length === 0) return []
  const id = document.tables[t].table_id as string
  const ids = new Set([...chosen].map((c) => document.tables[c].table_id as string))
  return joinGraphOf(document).relationshipsOf(id)
    .filter((r) => (r.from.table_id === id ? ids.has(r.to.table_id) || r.to.table_id === id : ids.has(r.from.table_id)))
    .map((r) => `- ${inline(describeRelationship(r), 600)}`)
}

const EXAMPLES_HEADING = "## Examples"
const EXAMPLES_HEADING_COST = costOf(EXAMPLES_HEADING) + SEPARATOR_COST

const exampleLines = (example: Example): ReadonlyArray<string> => {
  const sql = example.sql.split(/\r\n|\r|\n/).map(sqlLine).filter((line) => line.trim() !== "")
  const question = `Q: ${inline(example.question, MAX_QUESTION)}`
  // Indented four spaces, a SQL line can never be read as a heading, whatever it starts with.
  return sql.length === 1
    ? [question, `SQL: ${sql[0].trim()}`]
    : [question, "SQL:", ...sql.map((line) => `    ${line}`)]
}

// ---------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------

export interface PromptContextRequest {
  readonly question: string
  /** The most the text may cost, by `estimateTokens`. */
  readonly maxTokens: number
  /** Default 5. */
  readonly maxTables?: number | undefined
  /** Default 8. */
  readonly maxExamples?: number | undefined
  /** Prefer examples in this language. */
  readonly language?: Language | undefined
  /**
   * The question's embedding, by the document's model (`document.embeddings.model`, task
   * `RETRIEVAL_QUERY`): tables and examples are then ranked by the hybrid of lexical and dense
   * scores (`DenseScores.ts`). Ignored when the document has no vectors of that length.
   */
  readonly questionEmbedding?: ArrayLike<number> | undefined
}

export interface PromptContext {
  /** Markdown-ish sections: `## Table \`…\`` for each table, then `## Examples`. */
  readonly text: string
  /** `estimateTokens(text)`; never more than the request's `maxTokens`. */
  readonly tokens: number
  /** The ids of the tables rendered, in the text's order. */
  readonly tables: ReadonlyArray<string>
  /** Indexes into `document.examples` of the examples rendered, in the text's order. */
  readonly examples: ReadonlyArray<number>
  /** What was left out for the budget or the limits. */
  readonly omitted: {
    /** Relevant tables not rendered (every table counts as relevant when none matched the question). */
    readonly tables: number
    /** Examples reading only rendered tables that were not rendered. */
    readonly examples: number
    /** Columns and nested paths of rendered tables left out. */
    readonly columns: number
  }
}

export const DEFAULT_MAX_TABLES = 5
export const DEFAULT_MAX_EXAMPLES = 8
/** The share of the remaining budget a table leaves for the examples it brings in. */
const EXAMPLE_RESERVE_SHARE = 0.3
/** How many of a table's best examples its reserve is sized for. */
const EXAMPLES_RESERVED_PER_TABLE = 2

const countOr = (value: number | undefined, fallback: number) =>
  value === undefined || !Number.isFinite(value) ? fallback : Math.max(0, Math.floor(value))

/**
 * The prompt context for `request.question` from `document`: the most relevant tables and
 * examples, greedily packed so that `tokens` never exceeds `request.maxTokens`.
 */
export const renderPromptContext = (document: CacheDocument, request: PromptContextRequest): PromptContext => {
  const budget = Number.isFinite(request.maxTokens) ? Math.max(0, Math.floor(request.maxTokens)) : 0
  const maxTables = countOr(request.maxTables, DEFAULT_MAX_TABLES)
  const maxExamples = countOr(request.maxExamples, DEFAULT_MAX_EXAMPLES)
  const index = indexOf(document)
  const query = queryTerms(request.question)
  const ranked = relevance(document, request.question, request.language, request.questionEmbedding)
  const matched = ranked.tables.filter((t) => t.score > 0).map((t) => t.index)
  // A question that matches nothing still gets the primary table and its neighbours.
  const candidates = matched.length > 0 ? withBridges(document, matched, maxTables) : document.tables.map((_, i) => i)
  const exampleOrder = ranked.examples.map((e) => e.index)

  const chosenTables: Array<{ readonly index: number; readonly block: TableBlock }> = []
  const chosen = new Set<number>()
  const chosenExamples: Array<number> = []
  const joins: Array<string> = []
  let remaining = budget

  const readsOnly = (tables: ReadonlySet<number>, e: number) => {
    const reads = index.exampleTables[e]
    return reads !== null && reads.every((t) => tables.has(t))
  }
  const headingCostIfFirst = () => (chosenExamples.length === 0 ? EXAMPLES_HEADING_COST : 0)

  for (const t of candidates) {
    if (chosenTables.length >= maxTables || remaining <= 0) break
    const withTable = new Set(chosen).add(t)
    // Leave room for the best examples this table makes usable, unless that squeezes it out.
    let reserve = 0
    const slots = Math.min(maxExamples - chosenExamples.length, EXAMPLES_RESERVED_PER_TABLE)
    if (slots > 0) {
      const brought = exampleOrder.filter((e) => !chosenExamples.includes(e) && readsOnly(withTable, e)).slice(0, slots)
      if (brought.length > 0) {
        const wanted = headingCostIfFirst() +
          brought.reduce((sum, e) => sum + costOfLines(exampleLines(document.examples[e])), 0)
        reserve = Math.min(wanted, Math.floor(remaining * EXAMPLE_RESERVE_SHARE))
      }
    }
    const block = renderTable(document, index, t, query, remaining - reserve) ??
      (reserve > 0 ? renderTable(document, index, t, query, remaining) : null)
    if (block === null) continue
    chosenTables.push({ index: t, block })
    remaining -= block.cost
    for (const line of joinLines(document, t, chosen)) {
      const cost = (joins.length === 0 ? JOINS_HEADING_COST : 0) + costOf(line)
      if (cost > remaining || joins.includes(line)) continue
      joins.push(line)
      remaining -= cost
    }
    chosen.add(t)

    for (const e of exampleOrder) {
      if (chosenExamples.length >= maxExamples) break
      if (chosenExamples.includes(e) || !readsOnly(chosen, e)) continue
      const cost = headingCostIfFirst() + costOfLines(exampleLines(document.examples[e]))
      if (cost > remaining) continue
      chosenExamples.push(e)
      remaining -= cost
    }
  }

  // Examples stay in the order they were packed: the best table's best examples first.
  const examples = chosenExamples
  const sections = chosenTables.map((c) => c.block.lines.join("\n"))
  if (joins.length > 0) sections.push([JOINS_HEADING, ...joins].join("\n"))
  if (examples.length > 0) {
    sections.push([EXAMPLES_HEADING, ...examples.flatMap((e) => exampleLines(document.examples[e]))].join("\n"))
  }
  const text = sections.join("\n\n")
  const eligible = document.examples.filter((_, e) => readsOnly(chosen, e)).length
  return {
    text,
    tokens: estimateTokens(text),
    tables: chosenTables.map((c) => document.tables[c.index].table_id),
    examples,
    omitted: {
      tables: candidates.length - chosenTables.length,
      examples: eligible - examples.length,
      columns: chosenTables.reduce((sum, c) => sum + c.block.omittedColumns, 0)
    }
  }
}
