/**
 * What questions are matched against, built once per document (the loader keeps one per document
 * generation) and kept apart from per-question scoring:
 *
 * - one BM25 field bag per table: its id and name, description, field paths (twice) and their
 *   descriptions, sampled top values, aliases of the table and its columns (twice), the glossary
 *   terms that point at it, and the questions of the examples that read it; inverted into postings;
 * - one bag per example (question and SQL);
 * - the synonym map: the glossary's terms and synonyms (the built-in Korean vocabulary expands
 *   questions in `Scoring.ts`);
 * - per table: its dataset, its aliases, the columns its relationships use (kept when a big table
 *   is pruned); the rendered column lines of the tables rendered last (`COLUMN_LINES_KEPT`).
 */
import type { CacheDocument, TableEntry } from "../contract/CacheDocument.ts"
import { flattenFields } from "../contract/Field.ts"
import type { GlossaryTerm } from "../contract/Glossary.ts"
import { type SynonymGroup, type SynonymMap, synonymMap, tokenize } from "./Analysis.ts"

/**
 * An inverted index of weighted term frequencies, kept compact because a backend holds it for the
 * document's whole life: one string per distinct term (its id is its position), and the postings
 * of every term in three flat typed arrays (compressed sparse rows) instead of a map per document.
 * A 1,000-table document holds ~140,000 (table, term) pairs: a `Map` per table and a tuple per
 * posting cost ~40 MiB, these arrays ~1 MiB.
 */
export interface Corpus {
  /** How many documents (tables or examples) it indexes. */
  readonly size: number
  /** Each document's length: the sum of its terms' weights. */
  readonly lengths: Float64Array
  readonly averageLength: number
  /** Each distinct term's id. */
  readonly termIds: ReadonlyMap<string, number>
  /** The postings of term `id` are positions `offsets[id]` to `offsets[id + 1]` (exclusive) of `documents` and `frequencies`. */
  readonly offsets: Int32Array
  /** The documents holding each term, in document order. */
  readonly documents: Int32Array
  /** The term's weighted frequency in that document (in 32 bits when every one is exact so: weights are small integers). */
  readonly frequencies: Float32Array | Float64Array
}

/** How many documents of `corpus` hold `term`. */
export const documentFrequency = (corpus: Corpus, term: string): number => {
  const id = corpus.termIds.get(term)
  return id === undefined ? 0 : corpus.offsets[id + 1]! - corpus.offsets[id]!
}

/**
 * Builds a corpus a document at a time. With `repeats`, each distinct text is analyzed once (a
 * warehouse repeats its column names and descriptions across tables; examples' SQL does not). The
 * (document, term) pairs go into typed arrays that double as they fill: growing plain arrays left
 * tens of MiB of old backing stores for the garbage collector, on top of the document, at load.
 */
class CorpusBuilder {
  private readonly termIds = new Map<string, number>()
  private readonly analyzed: Map<string, ReadonlyArray<number>> | undefined
  private readonly current = new Map<number, number>()
  private currentLength = 0
  private readonly lengths: Array<number> = []
  // One entry per (document, term) pair, in document order.
  private entries = 0
  private entryTerms = new Int32Array(1024)
  private entryDocuments = new Int32Array(1024)
  private entryFrequencies = new Float64Array(1024)

  constructor(repeats: boolean) {
    this.analyzed = repeats ? new Map() : undefined
  }

  private idsOf(text: string): ReadonlyArray<number> {
    const known = this.analyzed?.get(text)
    if (known !== undefined) return known
    const ids = tokenize(text).map((term) => {
      const id = this.termIds.get(term)
      if (id !== undefined) return id
      this.termIds.set(term, this.termIds.size)
      return this.termIds.size - 1
    })
    this.analyzed?.set(text, ids)
    return ids
  }

  add(text: string | null | undefined, weight = 1): void {
    if (text === null || text === undefined) return
    for (const id of this.idsOf(text)) {
      this.current.set(id, (this.current.get(id) ?? 0) + weight)
      this.currentLength += weight
    }
  }

  endDocument(): void {
    const d = this.lengths.length
    if (this.entries + this.current.size > this.entryTerms.length) {
      const capacity = Math.max(2 * this.entryTerms.length, this.entries + this.current.size)
      const grow = <A extends Int32Array | Float64Array>(from: A, to: A): A => {
        to.set(from.subarray(0, this.entries))
        return to
      }
      this.entryTerms = grow(this.entryTerms, new Int32Array(capacity))
      this.entryDocuments = grow(this.entryDocuments, new Int32Array(capacity))
      this.entryFrequencies = grow(this.entryFrequencies, new Float64Array(capacity))
    }
    for (const [id, tf] of this.current) {
      this.entryTerms[this.entries] = id
      this.entryDocuments[this.entries] = d
      this.entryFrequencies[this.entries] = tf
      this.entries += 1
    }
    this.lengths.push(this.currentLength)
    this.current.clear()
    this.currentLength = 0
  }

  build(): Corpus {
    const terms = this.termIds.size
    const entries = this.entries
    const offsets = new Int32Array(terms + 1)
    for (let e = 0; e < entries; e++) offsets[this.entryTerms[e]! + 1]! += 1
    for (let id = 0; id < terms; id++) offsets[id + 1]! += offsets[id]!
    const next = offsets.slice(0, terms)
    let exact = true
    for (let e = 0; e < entries && exact; e++) exact = Math.fround(this.entryFrequencies[e]!) === this.entryFrequencies[e]
    const documents = new Int32Array(entries)
    const frequencies = exact ? new Float32Array(entries) : new Float64Array(entries)
    // Entries are in document order, so each term's postings are too.
    for (let e = 0; e < entries; e++) {
      const at = next[this.entryTerms[e]!]!++
      documents[at] = this.entryDocuments[e]!
      frequencies[at] = this.entryFrequencies[e]!
    }
    let total = 0
    for (const length of this.lengths) total += length
    const size = this.lengths.length
    return {
      size,
      lengths: Float64Array.from(this.lengths),
      averageLength: size === 0 ? 0 : total / size,
      termIds: this.termIds,
      offsets,
      documents,
      frequencies
    }
  }
}

export const idf = (corpus: Corpus, term: string): number => {
  const n = documentFrequency(corpus, term)
  return Math.log(1 + (corpus.size - n + 0.5) / (n + 0.5))
}

/** A field as the prompt shows it: what the schema says of it, and how to reach it. */
export interface FieldView {
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
export const fieldPathsOf = (table: TableEntry): ReadonlyArray<FieldView> => {
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

export const topValuesOf = (table: TableEntry): ReadonlyMap<string, ReadonlyArray<string>> => {
  const values = new Map<string, ReadonlyArray<string>>()
  for (const column of table.profile?.columns ?? []) {
    if (column.top_values !== null && column.top_values.length > 0) {
      values.set(column.column, column.top_values.map((v) => v.value))
    }
  }
  return values
}

/** A field's line in a table section. */
export interface ColumnLine {
  readonly text: string
  readonly cost: number
  readonly path: string
  /** The partition column, or a column a relationship uses: kept whatever its score. */
  readonly pinned: boolean
}

/** What a column's relevance is judged on when its table is too big to show whole. */
export interface ColumnTerms {
  /** The terms of its name and aliases. */
  readonly nameTerms: ReadonlySet<string>
  /** The terms of its description and sampled values. */
  readonly aboutTerms: ReadonlySet<string>
}

/** A rendered table's column lines, and their terms once a question needed them. */
export interface TableColumns {
  readonly lines: ReadonlyArray<ColumnLine>
  terms: ReadonlyArray<ColumnTerms> | undefined
}

/**
 * How many tables' column lines the index keeps (the most recently rendered). Lines are rendered
 * when a question's context needs the table, not at load: rendered for every column of a
 * 1,000-table document they cost ~4× the document's memory, for tables most questions never show.
 */
export const COLUMN_LINES_KEPT = 128

export interface GlossaryEntry {
  readonly term: GlossaryTerm
  /** The tables it points at (its tables, and its columns' tables), as indexes. */
  readonly tables: ReadonlyArray<number>
  /** Per table index, the column paths it points at. */
  readonly columns: ReadonlyMap<number, ReadonlyArray<string>>
}

export interface DocumentIndex {
  readonly tables: Corpus
  readonly examples: Corpus
  /** For each example, the indexes of the tables it reads; `null` when one is not in the document. */
  readonly exampleTables: ReadonlyArray<ReadonlyArray<number> | null>
  /**
   * The examples that read each table (every table of theirs in the document), by example index:
   * those of table `t` are `tableExamples.examples` from `offsets[t]` to `offsets[t + 1]`.
   */
  readonly tableExamples: { readonly offsets: Int32Array; readonly examples: Int32Array }
  readonly byId: ReadonlyMap<string, number>
  /** `project.dataset` of each table. */
  readonly datasets: ReadonlyArray<string>
  /** The terms of each table's name (`offering_instructor` → offer, instructor). */
  readonly nameTerms: ReadonlyArray<ReadonlyArray<string>>
  /** Business names of each table. */
  readonly tableAliases: ReadonlyArray<ReadonlyArray<string>>
  /** Business names of each table's columns, by path. */
  readonly columnAliases: ReadonlyArray<ReadonlyMap<string, ReadonlyArray<string>>>
  /** The columns each table's relationships use. */
  readonly joinColumns: ReadonlyArray<ReadonlySet<string>>
  /** The glossary; its terms are the synonym map's first groups, in the same order. */
  readonly glossary: ReadonlyArray<GlossaryEntry>
  readonly synonyms: SynonymMap
  /** The column lines of the `COLUMN_LINES_KEPT` tables rendered last, by table index, least recent first. */
  readonly columnLines: Map<number, TableColumns>
  /**
   * Per table rendered once, its column lines' count, cheapest line and total cost (three numbers
   * per table, -1 before): enough to tell, without rendering it again, that not even one of its
   * columns fits what is left of a budget — the usual verdict on the tables a question tries last.
   */
  readonly lineCosts: Int32Array
}

/**
 * The table an example's table id names: the exact id, or the date-sharded family a shard id or
 * `prefix*` belongs to (as the loader's `findTable` resolves it).
 */
export const resolveTable = (tables: ReadonlyArray<TableEntry>, byId: ReadonlyMap<string, number>, id: string): number | null => {
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

const pushTo = <K, V>(map: Map<K, Array<V>>, key: K, values: ReadonlyArray<V>) => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [...values])
  else for (const v of values) if (!list.includes(v)) list.push(v)
}

const examplesByTable = (tables: number, exampleTables: ReadonlyArray<ReadonlyArray<number> | null>) => {
  const offsets = new Int32Array(tables + 1)
  for (const reads of exampleTables) for (const t of reads ?? []) offsets[t + 1]! += 1
  for (let t = 0; t < tables; t++) offsets[t + 1]! += offsets[t]!
  const next = offsets.slice(0, tables)
  const examples = new Int32Array(offsets[tables]!)
  exampleTables.forEach((reads, e) => {
    for (const t of reads ?? []) examples[next[t]!++] = e
  })
  return { offsets, examples }
}

export const buildIndex = (document: CacheDocument, synonyms: ReadonlyArray<SynonymGroup> = []): DocumentIndex => {
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
  // Only a one-table example's question describes its table: a join example's names every table it
  // joins, and would make each of them match the others' words.
  exampleTables.forEach((tables, e) => {
    if (tables !== null && tables.length === 1) questionsByTable[tables[0]!]!.push(document.examples[e]!.question)
  })

  // Aliases: human-written ones first; a model's suggestions only where no person named the thing.
  const tableAliases = document.tables.map((): Array<string> => [])
  const columnAliases = document.tables.map(() => new Map<string, Array<string>>())
  const human = new Set<string>()
  for (const pass of ["human", "llm"] as const) {
    for (const alias of document.aliases) {
      if ((alias.source === "llm") !== (pass === "llm")) continue
      const t = resolveTable(document.tables, byId, alias.table_id)
      if (t === null) continue
      const key = `${t}.${alias.column ?? ""}`
      if (pass === "human") human.add(key)
      else if (human.has(key)) continue
      if (alias.column === null) {
        for (const n of alias.names) if (!tableAliases[t]!.includes(n)) tableAliases[t]!.push(n)
      } else pushTo(columnAliases[t]!, alias.column, alias.names)
    }
  }

  const glossary: Array<GlossaryEntry> = document.glossary.map((term) => {
    const tables: Array<number> = []
    const columns = new Map<number, Array<string>>()
    for (const id of term.tables) {
      const t = resolveTable(document.tables, byId, id)
      if (t !== null && !tables.includes(t)) tables.push(t)
    }
    for (const c of term.columns) {
      const t = resolveTable(document.tables, byId, c.table_id)
      if (t === null) continue
      if (!tables.includes(t)) tables.push(t)
      pushTo(columns, t, [c.column])
    }
    return { term, tables, columns }
  })
  const glossaryByTable = document.tables.map((): Array<GlossaryTerm> => [])
  for (const entry of glossary) for (const t of entry.tables) glossaryByTable[t]!.push(entry.term)

  const joinColumns = document.tables.map(() => new Set<string>())
  for (const r of document.relationships) {
    for (const end of [r.from, r.to]) {
      const t = byId.get(end.table_id)
      if (t !== undefined) for (const c of end.columns) joinColumns[t]!.add(c)
    }
  }

  const tableCorpus = new CorpusBuilder(true)
  document.tables.forEach((table, t) => {
    const bag = tableCorpus
    const name = table.table_id.slice(table.table_id.lastIndexOf(".") + 1)
    bag.add(table.table_id)
    bag.add(name)
    bag.add(table.description)
    for (const alias of tableAliases[t]!) bag.add(alias, 2)
    const values = topValuesOf(table)
    for (const field of fieldPathsOf(table)) {
      bag.add(field.path, 2)
      bag.add(field.description)
      for (const alias of columnAliases[t]!.get(field.path) ?? []) bag.add(alias, 2)
      for (const value of values.get(field.path) ?? []) bag.add(value)
    }
    for (const term of glossaryByTable[t]!) {
      bag.add(term.term, 2)
      for (const s of term.synonyms) bag.add(s, 2)
    }
    for (const question of questionsByTable[t]!) bag.add(question)
    bag.endDocument()
  })
  const exampleCorpus = new CorpusBuilder(false)
  for (const example of document.examples) {
    exampleCorpus.add(example.question)
    exampleCorpus.add(example.sql)
    exampleCorpus.endDocument()
  }
  const groups: Array<SynonymGroup> = [
    ...document.glossary.map((term) => [term.term, ...term.synonyms]),
    ...synonyms
  ]
  return {
    tables: tableCorpus.build(),
    examples: exampleCorpus.build(),
    exampleTables,
    tableExamples: examplesByTable(document.tables.length, exampleTables),
    byId,
    datasets: document.tables.map((t) => t.table_id.slice(0, t.table_id.lastIndexOf("."))),
    nameTerms: document.tables.map((t) => {
      const name = t.table_id.slice(t.table_id.lastIndexOf(".") + 1).replace(/\*$/, "")
      const terms = tokenize(name)
      // An identifier of several parts also yields itself whole; the parts are what a question says.
      return terms.length > 1 ? terms.filter((term) => term !== name.toLowerCase()) : terms
    }),
    tableAliases,
    columnAliases,
    joinColumns,
    glossary,
    synonyms: synonymMap(groups),
    columnLines: new Map(),
    lineCosts: new Int32Array(document.tables.length * 3).fill(-1)
  }
}

// Documents are immutable values; a backend asks many questions of the same one.
const indexes = new WeakMap<CacheDocument, DocumentIndex>()

/** The document's index, built on first use and kept beside it. */
export const indexOf = (document: CacheDocument): DocumentIndex => {
  const known = indexes.get(document)
  if (known !== undefined) return known
  const built = buildIndex(document)
  indexes.set(document, built)
  return built
}
