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
 *   is pruned), and its rendered column lines (filled the first time the table is rendered).
 */
import type { CacheDocument, TableEntry } from "../contract/CacheDocument.ts"
import { flattenFields } from "../contract/Field.ts"
import type { GlossaryTerm } from "../contract/Glossary.ts"
import { type SynonymGroup, type SynonymMap, synonymMap, tokenize } from "./Analysis.ts"

/** Term frequencies of one document, weights already applied. */
export interface Bag {
  readonly terms: ReadonlyMap<string, number>
  readonly length: number
}

export interface Corpus {
  readonly bags: ReadonlyArray<Bag>
  /** For each term, the documents holding it and its (weighted) frequency there. */
  readonly postings: ReadonlyMap<string, ReadonlyArray<readonly [number, number]>>
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
  const postings = new Map<string, Array<readonly [number, number]>>()
  let total = 0
  bags.forEach((bag, d) => {
    total += bag.length
    for (const [term, tf] of bag.terms) {
      const list = postings.get(term)
      if (list === undefined) postings.set(term, [[d, tf]])
      else list.push([d, tf])
    }
  })
  return { bags, postings, averageLength: bags.length === 0 ? 0 : total / bags.length }
}

export const idf = (corpus: Corpus, term: string): number => {
  const n = corpus.postings.get(term)?.length ?? 0
  return Math.log(1 + (corpus.bags.length - n + 0.5) / (n + 0.5))
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

/** A field's line in a table section, and what its relevance is judged on. */
export interface ColumnLine {
  readonly text: string
  readonly cost: number
  readonly path: string
  /** The terms of its name and aliases. */
  readonly nameTerms: ReadonlySet<string>
  /** The terms of its description and sampled values. */
  readonly aboutTerms: ReadonlySet<string>
  /** The partition column, or a column a relationship uses: kept whatever its score. */
  readonly pinned: boolean
}

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
  /** Each table's column lines, filled the first time the table is rendered. */
  readonly columnLines: Array<ReadonlyArray<ColumnLine> | undefined>
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
  exampleTables.forEach((tables, e) => {
    for (const t of tables ?? []) questionsByTable[t]!.push(document.examples[e]!.question)
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

  const tableBags = document.tables.map((table, t): Bag => {
    const bag = new BagBuilder()
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
    return bag
  })
  const exampleBags = document.examples.map((example): Bag => {
    const bag = new BagBuilder()
    bag.add(example.question)
    bag.add(example.sql)
    return bag
  })
  const groups: Array<SynonymGroup> = [
    ...document.glossary.map((term) => [term.term, ...term.synonyms]),
    ...synonyms
  ]
  return {
    tables: corpusOf(tableBags),
    examples: corpusOf(exampleBags),
    exampleTables,
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
    columnLines: document.tables.map(() => undefined)
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
