/**
 * Prompt context: what the backend pastes into its text-to-SQL prompt for one question — the
 * glossary terms it names, the tables most relevant to it (columns with types, aliases and
 * descriptions, nested paths with the UNNEST joins that reach them, partition and shard rules,
 * sampled values), how they join, and the closest worked examples, packed under a token budget.
 *
 * - Selection: tables scored by the scorers (`Scoring.ts`); tables that matched only common terms
 *   are left out; tables of the best table's dataset come before others; bridges and directly
 *   joined tables follow (`Relationships.ts`).
 * - Packing: the note line, the glossary terms named (within a quarter of the budget), then the
 *   best table first (whole, or its most relevant columns when it is too big — key, join and
 *   partition columns and the columns named by the glossary always kept — with a line saying how
 *   many were left out), then the examples that read only chosen tables, then the next table.
 * - Two stages for warehouses too big for any budget: `renderTableCatalog` lists every table on
 *   one line for the backend's model to choose from; `renderPromptContext` with `tables` renders
 *   the chosen ones.
 *
 * Every function here is pure: the same document and request always give the same text.
 */
import type { CacheDocument, Language } from "../contract/CacheDocument.ts"
import { estimateTokens } from "./Analysis.ts"
import { type DocumentIndex, idf, indexOf, resolveTable } from "./DocumentIndex.ts"
import { joinLines, withBridges } from "./Relationships.ts"
import {
  catalogLine,
  columnLinesOf,
  columnTermsOf,
  costOf,
  costOfLines,
  exampleLines,
  glossaryLine,
  omittedColumnsLine,
  PROMPT_CONTEXT_NOTE,
  SEPARATOR_COST,
  tableHead
} from "./Render.ts"
import { analyzeQuestion, DEFAULT_SCORERS, type Query, scoreExamples, scoreTables, type TableScorer } from "./Scoring.ts"

export interface PromptContextRequest {
  readonly question: string
  /** The most the text may cost, by `estimateTokens`. */
  readonly maxTokens: number
  /** Default: one per 250 tokens of budget, at least 5 (with `tables`: as many as named). */
  readonly maxTables?: number | undefined
  /** Default 8. */
  readonly maxExamples?: number | undefined
  /** Prefer examples in this language. */
  readonly language?: Language | undefined
  /**
   * The second stage: render these tables (ids; a date shard finds its family), in this order,
   * instead of choosing them — e.g. the ones a model picked from `renderTableCatalog`.
   */
  readonly tables?: ReadonlyArray<string> | undefined
  /** The question's embedding, for a dense scorer among `ScoringOptions.scorers` (ignored by the lexical ones). */
  readonly questionEmbedding?: ArrayLike<number> | undefined
  /**
   * `true` opens the context with `PROMPT_CONTEXT_NOTE` (when it fits). Default `false`: the
   * backend keeps the note in its own prompt, once, and the budget goes to the data.
   */
  readonly note?: boolean | undefined
}

export interface PromptContext {
  /** The note (when asked for), then Markdown-ish sections: `## Glossary`, `## Table \`…\`` for each table, `## Joins`, `## Examples`. */
  readonly text: string
  /** `estimateTokens(text)`; never more than the request's `maxTokens`. */
  readonly tokens: number
  /** The ids of the tables rendered, in the text's order. */
  readonly tables: ReadonlyArray<string>
  /** The field paths shown of each rendered table (parallel to `tables`). */
  readonly columns: ReadonlyArray<ReadonlyArray<string>>
  /** Indexes into `document.examples` of the examples rendered, in the text's order. */
  readonly examples: ReadonlyArray<number>
  /** The glossary terms rendered. */
  readonly glossary: ReadonlyArray<string>
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

/** Options for callers that bring their own scorers (a dense one, say). */
export interface ScoringOptions {
  readonly scorers?: ReadonlyArray<TableScorer> | undefined
}

/** The fewest tables a context may hold by default; a larger budget allows one more per `TOKENS_PER_TABLE`. */
export const DEFAULT_MAX_TABLES = 5
/** With no `maxTables`, a budget allows one table per this many tokens (at least `DEFAULT_MAX_TABLES`). */
export const TOKENS_PER_TABLE = 250
export const DEFAULT_MAX_EXAMPLES = 8
/** The share of the remaining budget a table leaves for the examples it brings in. */
const EXAMPLE_RESERVE_SHARE = 0.3
/** How many of a table's best examples its reserve is sized for, and it brings before the next table. */
const EXAMPLES_RESERVED_PER_TABLE = 2
/** A join example's score is multiplied by this, times half the number of tables it reads, when examples are ranked. */
const JOIN_EXAMPLE_WEIGHT = 2
/** The most of the budget glossary terms may take. */
const GLOSSARY_SHARE = 0.25
/** While other candidates wait, a table may take this share of the budget, or `TABLE_MIN_CAP` tokens if more. */
const TABLE_SHARE = 0.25
const TABLE_MIN_CAP = 600
/** A table of another dataset than the best table's counts this much of its score. */
const OTHER_DATASET_FACTOR = 0.5

const countOr = (value: number | undefined, fallback: number) =>
  value === undefined || !Number.isFinite(value) ? fallback : Math.max(0, Math.floor(value))

interface TableBlock {
  readonly lines: ReadonlyArray<string>
  /** The field paths shown, in schema order. */
  readonly paths: ReadonlyArray<string>
  /** The lines' cost plus the separator before the next section. */
  readonly cost: number
  readonly omittedColumns: number
}

/**
 * A table's section within `allowance` tokens: whole when it fits, else its heading and rules with
 * the columns most relevant to the query (pinned ones first: partition, key and join columns, and
 * `named` — the columns a glossary term the question names points at), in schema order, and a
 * line counting the rest. `null` when not even one column fits.
 */
const renderTable = (
  document: CacheDocument,
  index: DocumentIndex,
  t: number,
  query: Query,
  named: ReadonlySet<string>,
  allowance: number
): TableBlock | null => {
  const table = document.tables[t]!
  const head = tableHead(table, index.tableAliases[t]!)
  const headCost = costOfLines(head) + SEPARATOR_COST
  if (headCost > allowance) return null
  // A table rendered before, whose cheapest column does not fit, is refused without rendering it again.
  const count = index.lineCosts[t * 3]!
  if (count >= 0 && headCost + index.lineCosts[t * 3 + 2]! > allowance) {
    if (index.lineCosts[t * 3 + 1]! > allowance - headCost - costOf(omittedColumnsLine(count))) return null
  }
  const lines = columnLinesOf(index, table, t)
  const allCost = headCost + lines.reduce((sum, c) => sum + c.cost, 0)
  if (allCost <= allowance) {
    return { lines: [...head, ...lines.map((c) => c.text)], paths: lines.map((c) => c.path), cost: allCost, omittedColumns: 0 }
  }
  // The count line is reserved at its widest, so whatever is left out it still fits.
  let left = allowance - headCost - costOf(omittedColumnsLine(lines.length))
  if (!lines.some((line) => line.cost <= left)) return null
  // Too big: a name (or alias) that holds a question term counts double a description or value that does.
  const terms = columnTermsOf(index, table, t)
  const columns = lines.map((line, position) => {
    let score = 0
    const { aboutTerms, nameTerms } = terms[position]!
    for (const [term, weight] of query.weighted) {
      if (nameTerms.has(term)) score += 2 * weight * idf(index.tables, term)
      else if (aboutTerms.has(term)) score += weight * idf(index.tables, term)
    }
    const pinned = named.has(line.path) ? 2 : line.pinned ? 1 : 0
    return { line, score, position, pinned }
  })
  const ranked = [...columns].sort((a, b) => b.pinned - a.pinned || b.score - a.score || a.position - b.position)
  const kept: typeof columns = []
  for (const column of ranked) {
    if (column.line.cost <= left) {
      kept.push(column)
      left -= column.line.cost
    }
  }
  if (kept.length === 0) return null
  kept.sort((a, b) => a.position - b.position)
  const omitted = columns.length - kept.length
  const shown = [...head, ...kept.map((c) => c.line.text), omittedColumnsLine(omitted)]
  return { lines: shown, paths: kept.map((c) => c.line.path), cost: costOfLines(shown) + SEPARATOR_COST, omittedColumns: omitted }
}

const JOINS_HEADING = "## Joins"
const JOINS_HEADING_COST = costOf(JOINS_HEADING) + SEPARATOR_COST
const EXAMPLES_HEADING = "## Examples"
const EXAMPLES_HEADING_COST = costOf(EXAMPLES_HEADING) + SEPARATOR_COST
const GLOSSARY_HEADING = "## Glossary"
const GLOSSARY_HEADING_COST = costOf(GLOSSARY_HEADING) + SEPARATOR_COST
const NOTE_COST = costOf(PROMPT_CONTEXT_NOTE) + SEPARATOR_COST

/**
 * Builds the index the context needs from `document` once per document (the loader calls it when
 * a document generation is loaded), so that each question only scores, renders its tables and
 * packs. Column lines are rendered when a question needs their table (`COLUMN_LINES_KEPT`).
 */
export const prepareDocument = (document: CacheDocument): DocumentIndex => indexOf(document)

/** The tables to try, in order: the named ones (stage two), or the matched ones ranked for coherence. */
export const candidatesOf = (
  document: CacheDocument,
  index: DocumentIndex,
  scores: Float64Array,
  request: PromptContextRequest,
  maxTables: number
): ReadonlyArray<number> => {
  if (request.tables !== undefined) {
    const out: Array<number> = []
    for (const id of request.tables) {
      const t = resolveTable(document.tables, index.byId, id)
      if (t !== null && !out.includes(t)) out.push(t)
    }
    return out
  }
  const matched = [...scores.keys()].filter((t) => scores[t]! > 0).sort((a, b) => scores[b]! - scores[a]! || a - b)
  // A question that matches nothing still gets the primary table and its neighbours.
  if (matched.length === 0) return document.tables.map((_, i) => i)
  // Tables that hang together: those of the best table's dataset first.
  const home = index.datasets[matched[0]!]
  const adjusted = (t: number) => scores[t]! * (index.datasets[t] === home ? 1 : OTHER_DATASET_FACTOR)
  const ranked = [...matched].sort((a, b) => adjusted(b) - adjusted(a) || a - b)
  // A bridge must itself have matched the question: an unrelated path spends the budget of the tables asked for.
  return withBridges(document, ranked, maxTables, (t) => scores[t]! > 0)
}

/**
 * The prompt context for `request.question` from `document`: the most relevant tables, glossary
 * terms and examples, greedily packed so that `tokens` never exceeds `request.maxTokens`.
 */
export const renderPromptContext = (
  document: CacheDocument,
  request: PromptContextRequest,
  options?: ScoringOptions
): PromptContext => {
  const budget = Number.isFinite(request.maxTokens) ? Math.max(0, Math.floor(request.maxTokens)) : 0
  const maxTables = countOr(
    request.maxTables,
    request.tables === undefined ? Math.max(DEFAULT_MAX_TABLES, Math.floor(budget / TOKENS_PER_TABLE)) : request.tables.length
  )
  const maxExamples = countOr(request.maxExamples, DEFAULT_MAX_EXAMPLES)
  const index = prepareDocument(document)
  const query = analyzeQuestion(index, request.question, request.questionEmbedding)
  const scores = scoreTables(document, index, query, options?.scorers ?? DEFAULT_SCORERS)
  const candidates = candidatesOf(document, index, scores, request, maxTables)
  // A join example shows what a model most often gets wrong: its score counts more the more tables
  // it joins (stable: equal scores keep the relevance order, the language asked first).
  const exampleOrder = scoreExamples(document, index, query, request.language)
    .map((e) => ({ ...e, score: e.score * Math.max(1, ((index.exampleTables[e.index]?.length ?? 0) * JOIN_EXAMPLE_WEIGHT) / 2) }))
    .sort((a, b) => b.score - a.score)
    .map((e) => e.index)

  let remaining = budget
  const withNote = request.note === true && NOTE_COST <= remaining
  if (withNote) remaining -= NOTE_COST

  // The glossary terms the question names, within their share of the budget.
  const glossary: Array<{ readonly term: string; readonly line: string }> = []
  let glossaryLeft = Math.floor(budget * GLOSSARY_SHARE)
  const named = new Map<number, Set<string>>()
  for (const g of query.glossary) {
    const entry = index.glossary[g]!
    for (const [t, paths] of entry.columns) for (const p of paths) named.set(t, (named.get(t) ?? new Set()).add(p))
    const line = glossaryLine(entry)
    const cost = (glossary.length === 0 ? GLOSSARY_HEADING_COST : 0) + costOf(line)
    if (cost > glossaryLeft || cost > remaining) continue
    glossary.push({ term: entry.term.term, line })
    glossaryLeft -= cost
    remaining -= cost
  }

  const chosenTables: Array<{ readonly index: number; readonly block: TableBlock }> = []
  const chosen = new Set<number>()
  const chosenExamples: Array<number> = []
  const joins: Array<string> = []
  const readsOnly = (tables: ReadonlySet<number>, e: number) => {
    const reads = index.exampleTables[e]
    return reads !== null && reads !== undefined && reads.every((t) => tables.has(t))
  }
  // The examples' places in `exampleOrder`.
  const rank = new Int32Array(document.examples.length)
  exampleOrder.forEach((e, r) => {
    rank[e] = r
  })
  /**
   * The first `most` examples in `exampleOrder` not yet chosen that read only `tables`: each reads
   * one of them, so only those tables' examples are looked at (not all of the document's).
   */
  const usableExamples = (tables: ReadonlySet<number>, most: number): Array<number> => {
    const found = new Set<number>()
    const { examples, offsets } = index.tableExamples
    for (const t of tables) {
      for (let p = offsets[t]!; p < offsets[t + 1]!; p++) {
        const e = examples[p]!
        if (!found.has(e) && !chosenExamples.includes(e) && readsOnly(tables, e)) found.add(e)
      }
    }
    return [...found].sort((a, b) => rank[a]! - rank[b]!).slice(0, most)
  }
  const headingCostIfFirst = () => (chosenExamples.length === 0 ? EXAMPLES_HEADING_COST : 0)
  const none = new Set<string>()
  const takeExamples = (most: number, joinsOnly: boolean) => {
    let taken = 0
    for (const e of exampleOrder) {
      if (chosenExamples.length >= maxExamples || taken >= most) break
      if (chosenExamples.includes(e) || !readsOnly(chosen, e)) continue
      if (joinsOnly && (index.exampleTables[e]?.length ?? 0) < 2) continue
      const cost = headingCostIfFirst() + costOfLines(exampleLines(document.examples[e]!))
      if (cost > remaining) continue
      chosenExamples.push(e)
      taken++
      remaining -= cost
    }
    return taken
  }

  for (const t of candidates) {
    if (chosenTables.length >= maxTables || remaining <= 0) break
    const withTable = new Set(chosen).add(t)
    // Leave room for the best examples this table makes usable, unless that squeezes it out.
    let reserve = 0
    const slots = Math.min(maxExamples - chosenExamples.length, EXAMPLES_RESERVED_PER_TABLE)
    if (slots > 0) {
      const brought = usableExamples(withTable, slots)
      if (brought.length > 0) {
        const wanted = headingCostIfFirst() +
          brought.reduce((sum, e) => sum + costOfLines(exampleLines(document.examples[e]!)), 0)
        reserve = Math.min(wanted, Math.floor(remaining * EXAMPLE_RESERVE_SHARE))
      }
    }
    const pins = named.get(t) ?? none
    // One wide table may not take more than its share while other candidates wait: it is cut to
    // its relevant, key and join columns instead, and the next table still fits.
    const cap = chosenTables.length + 1 < Math.min(maxTables, candidates.length) ? Math.max(Math.floor(budget * TABLE_SHARE), TABLE_MIN_CAP) : remaining
    const block = renderTable(document, index, t, query, pins, Math.min(cap, remaining - reserve)) ??
      (reserve > 0 ? renderTable(document, index, t, query, pins, Math.min(cap, remaining)) : null)
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

    // Each table brings its best few examples, the joins it completes first, so that the tables
    // after it keep slots for theirs.
    const joinsTaken = takeExamples(EXAMPLES_RESERVED_PER_TABLE, true)
    // The best table brings its own examples in full; a later one, one of its own at most.
    takeExamples(chosen.size === 1 ? EXAMPLES_RESERVED_PER_TABLE : Math.min(1, EXAMPLES_RESERVED_PER_TABLE - joinsTaken), false)
  }
  // Then the slots left go to the best examples over every chosen table.
  takeExamples(maxExamples, false)

  // Examples stay in the order they were packed: the best table's best examples first.
  const examples = chosenExamples
  const sections: Array<string> = []
  if (withNote) sections.push(PROMPT_CONTEXT_NOTE)
  if (glossary.length > 0) sections.push([GLOSSARY_HEADING, ...glossary.map((g) => g.line)].join("\n"))
  sections.push(...chosenTables.map((c) => c.block.lines.join("\n")))
  if (joins.length > 0) sections.push([JOINS_HEADING, ...joins].join("\n"))
  if (examples.length > 0) {
    sections.push([EXAMPLES_HEADING, ...examples.flatMap((e) => exampleLines(document.examples[e]!))].join("\n"))
  }
  const text = sections.join("\n\n")
  const eligible = document.examples.filter((_, e) => readsOnly(chosen, e)).length
  return {
    text,
    tokens: estimateTokens(text),
    tables: chosenTables.map((c) => document.tables[c.index]!.table_id),
    columns: chosenTables.map((c) => c.block.paths),
    examples,
    glossary: glossary.map((g) => g.term),
    omitted: {
      tables: candidates.length - chosenTables.length,
      examples: eligible - examples.length,
      columns: chosenTables.reduce((sum, c) => sum + c.block.omittedColumns, 0)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The table catalog (the first of two stages)
// ---------------------------------------------------------------------------------------------

export interface TableCatalogRequest {
  /** The most the text may cost, by `estimateTokens`. */
  readonly maxTokens: number
  /** `true` opens the catalog with `PROMPT_CONTEXT_NOTE`. Default `false`. */
  readonly note?: boolean | undefined
}

export interface TableCatalog {
  /** The note, then `## Tables` and one line per table: `` - `id` — «short description» (also «alias», …) ``. */
  readonly text: string
  readonly tokens: number
  /** The ids listed, in document order. */
  readonly tables: ReadonlyArray<string>
  /** Tables left out because even their bare ids did not fit. */
  readonly omitted: number
}

const CATALOG_HEADING = "## Tables"
/** The description widths tried, widest first, until every table fits. */
const CATALOG_WIDTHS = [160, 100, 60, 30, 0] as const

/**
 * Every table of the document on one compact line — id, the first sentence of its description,
 * its aliases — for the backend's model to choose from when the warehouse is too big for any
 * context. The descriptions shrink (to none) until every table fits; if even bare ids do not,
 * the first tables that fit are listed and the rest counted.
 */
export const renderTableCatalog = (document: CacheDocument, request: TableCatalogRequest): TableCatalog => {
  const budget = Number.isFinite(request.maxTokens) ? Math.max(0, Math.floor(request.maxTokens)) : 0
  const index = indexOf(document)
  const head: Array<string> = request.note === true ? [PROMPT_CONTEXT_NOTE, ""] : []
  const headCost = costOfLines([...head, CATALOG_HEADING])
  for (const width of CATALOG_WIDTHS) {
    const lines = document.tables.map((t, i) => catalogLine(t, width === 0 ? [] : index.tableAliases[i]!, width))
    const cost = headCost + costOfLines(lines)
    if (cost <= budget || width === 0) {
      const kept: Array<string> = []
      let left = budget - headCost
      for (const line of lines) {
        const c = costOf(line)
        if (c > left) break
        kept.push(line)
        left -= c
      }
      if (left < 0 || budget < headCost) return { text: "", tokens: 0, tables: [], omitted: document.tables.length }
      const text = [...head, CATALOG_HEADING, ...kept].join("\n")
      return {
        text,
        tokens: estimateTokens(text),
        tables: document.tables.slice(0, kept.length).map((t) => t.table_id),
        omitted: document.tables.length - kept.length
      }
    }
  }
  return { text: "", tokens: 0, tables: [], omitted: document.tables.length }
}
