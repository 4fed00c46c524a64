/**
 * Per-question scoring: every table and example scored against the analyzed, synonym-expanded
 * question. Table scores come from pluggable scorers — lexical BM25 and the glossary here; a dense
 * (embeddings) scorer is one more — each normalised by its best score and summed with its weight,
 * so scorers on different scales combine.
 */
import type { CacheDocument, Example, Language } from "../contract/CacheDocument.ts"
import { koreanExpansion, SYNONYM_WEIGHT, tokenize, type WeightedQuery } from "./Analysis.ts"
import { DENSE_TOP_EXAMPLES, denseScorer, denseScores, hybridScores, nearest } from "./DenseScores.ts"
import { type Corpus, type DocumentIndex, documentFrequency, idf, indexOf } from "./DocumentIndex.ts"

const BM25_K1 = 1.2
const BM25_B = 0.75

/** A term in more than this share of the tables says nothing about which one a question needs. */
export const COMMON_TERM_SHARE = 0.5

/** BM25 of every document of `corpus` for `query`, through the postings; `idfOf` defaults to the corpus's own. */
export const bm25 = (
  corpus: Corpus,
  query: WeightedQuery,
  skip?: (term: string) => boolean,
  idfOf: (term: string) => number = (term) => idf(corpus, term)
): Float64Array => {
  const scores = new Float64Array(corpus.size)
  const { documents, frequencies, lengths, offsets } = corpus
  for (const [term, weight] of query) {
    if (skip?.(term) === true) continue
    const id = corpus.termIds.get(term)
    if (id === undefined) continue
    const w = idfOf(term) * weight
    for (let p = offsets[id]!, end = offsets[id + 1]!; p < end; p++) {
      const d = documents[p]!
      const tf = frequencies[p]!
      const norm = corpus.averageLength === 0 ? 1 : 1 - BM25_B + BM25_B * (lengths[d]! / corpus.averageLength)
      scores[d]! += w * ((tf * (BM25_K1 + 1)) / (tf + BM25_K1 * norm))
    }
  }
  return scores
}

/** The question as the scorers see it. */
export interface Query {
  readonly text: string
  /** Its own terms, in first-seen order. */
  readonly terms: ReadonlyArray<string>
  /** Its terms and what synonyms added, with weights. */
  readonly weighted: WeightedQuery
  /** The glossary terms it names (indexes into `index.glossary`). */
  readonly glossary: ReadonlyArray<number>
  /** The question's embedding, when the caller has one (for a dense scorer). */
  readonly embedding?: ArrayLike<number> | undefined
}

/** A name part that abbreviates a question word (`cust` for `customer`, `num` for `number`) counts this much. */
export const ABBREVIATION_WEIGHT = 0.5
const ABBREVIATION_MIN = 3

/**
 * The question analyzed, expanded by synonyms, and by the document's terms that are abbreviations
 * of its words: a prefix of at least three letters of a word of at least five (`sbCustId` → `cust`
 * for "customers"). Warehouses abbreviate; questions do not.
 */
export const analyzeQuestion = (index: DocumentIndex, question: string, embedding?: ArrayLike<number>): Query => {
  const terms = [...new Set(tokenize(question))]
  const glossary = [...index.synonyms.matches(terms)].filter((g) => g < index.glossary.length).sort((a, b) => a - b)
  const weighted = new Map(index.synonyms.expand(terms))
  for (const term of koreanExpansion(question)) if (!weighted.has(term)) weighted.set(term, SYNONYM_WEIGHT)
  for (const term of [...weighted.keys()]) {
    if (term.length < 5 || !/^[a-z]+$/.test(term)) continue
    for (let n = ABBREVIATION_MIN; n < term.length - 1; n++) {
      const prefix = term.slice(0, n)
      if (!weighted.has(prefix) && index.tables.termIds.has(prefix)) weighted.set(prefix, ABBREVIATION_WEIGHT)
    }
  }
  return { text: question, terms, weighted, glossary, embedding }
}

/**
 * One source of table relevance: a score per table (`document.tables` order, 0 for no match);
 * `weight` scales its scores after they are divided by their best. A dense scorer reads
 * `query.embedding` and the document's vectors; it returns zeros when either is missing.
 */
export interface TableScorer {
  readonly name: string
  readonly weight: number
  readonly score: (index: DocumentIndex, query: Query, document: CacheDocument) => Float64Array
}

/**
 * BM25 over the tables' bags. A table that matched only common terms (in more than half the
 * tables, when there are more than three) scores 0: it is not worth budget.
 */
export const lexicalScorer: TableScorer = {
  name: "lexical",
  weight: 1,
  score: (index, query) => {
    const n = index.tables.size
    const common = (term: string) => n > 3 && documentFrequency(index.tables, term) > n * COMMON_TERM_SHARE
    const scores = bm25(index.tables, query.weighted)
    const distinctive = bm25(index.tables, query.weighted, common)
    for (let t = 0; t < n; t++) if (distinctive[t] === 0) scores[t] = 0
    return scores
  }
}

/**
 * `lexicalScorer` for a sub-document of a larger one (the split layout's second stage): term
 * weights and common terms judged on `whole` (the whole document's table count and each term's
 * document frequency there, or in the sub-document when it counts more), as the whole document's
 * path would judge them, rather than on the few tables at hand.
 */
export const lexicalScorerWithin = (whole: Corpus): TableScorer => ({
  name: "lexical",
  weight: 1,
  score: (index, query) => {
    const n = whole.size
    const frequency = (term: string) => Math.max(documentFrequency(whole, term), documentFrequency(index.tables, term))
    const idfOf = (term: string) => {
      const f = frequency(term)
      return Math.log(1 + (n - f + 0.5) / (f + 0.5))
    }
    const common = (term: string) => n > 3 && frequency(term) > n * COMMON_TERM_SHARE
    const scores = bm25(index.tables, query.weighted, undefined, idfOf)
    const distinctive = bm25(index.tables, query.weighted, common, idfOf)
    for (let t = 0; t < index.tables.size; t++) if (distinctive[t] === 0) scores[t] = 0
    return scores
  }
})

/** 1 for the tables a glossary term the question names points at. */
export const glossaryScorer: TableScorer = {
  name: "glossary",
  weight: 0.6,
  score: (index, query) => {
    const scores = new Float64Array(index.tables.size)
    for (const g of query.glossary) for (const t of index.glossary[g]!.tables) scores[t] = 1
    return scores
  }
}

/**
 * The share of a table's name the question says (`program` for "프로그램별 학점", through the
 * vocabulary; half of `offering_instructor` for "instructors"): a question names the things it
 * asks about, and a table named after one is likely needed, however many columns others have.
 */
export const nameScorer: TableScorer = {
  name: "name",
  weight: 0.5,
  score: (index, query) => {
    const scores = new Float64Array(index.tables.size)
    index.nameTerms.forEach((terms, t) => {
      if (terms.length === 0) return
      let said = 0
      for (const term of terms) said += query.weighted.get(term) ?? 0
      scores[t] = said / terms.length
    })
    return scores
  }
}

export const DEFAULT_SCORERS: ReadonlyArray<TableScorer> = [lexicalScorer, glossaryScorer, nameScorer, denseScorer]

/** Each scorer's scores over its best, weighted and summed. */
export const scoreTables = (
  document: CacheDocument,
  index: DocumentIndex,
  query: Query,
  scorers: ReadonlyArray<TableScorer> = DEFAULT_SCORERS
): Float64Array => {
  const total = new Float64Array(index.tables.size)
  for (const scorer of scorers) {
    const scores = scorer.score(index, query, document)
    let max = 0
    for (const s of scores) if (s > max) max = s
    if (max <= 0) continue
    for (let t = 0; t < total.length; t++) total[t]! += (scorer.weight * scores[t]!) / max
  }
  return total
}

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

/** Examples in another language than the one asked for count half. */
const OTHER_LANGUAGE_WEIGHT = 0.5

const byScore = <A extends { readonly index: number; readonly score: number }>(a: A, b: A) =>
  b.score - a.score || a.index - b.index

export const scoreExamples = (
  document: CacheDocument,
  index: DocumentIndex,
  query: Query,
  language?: Language
): ReadonlyArray<ScoredExample> => {
  const lexical = bm25(index.examples, query.weighted)
  const dense = query.embedding === undefined ? null : denseScores(document, query.embedding)
  const raw = dense === null ? lexical : hybridScores(Array.from(lexical), nearest(dense.examples, DENSE_TOP_EXAMPLES))
  const preferred = (example: Example) => language === undefined || example.language === language
  return document.examples
    .map((example, i): ScoredExample => ({ index: i, score: raw[i]! * (preferred(example) ? 1 : OTHER_LANGUAGE_WEIGHT) }))
    .sort((a, b) =>
      b.score - a.score ||
      Number(preferred(document.examples[b.index]!)) - Number(preferred(document.examples[a.index]!)) ||
      a.index - b.index
    )
}

/**
 * The scores of the document's tables and examples for `question`. With `language`, an example in
 * another language scores half, and among equal scores the asked language comes first.
 */
export const relevance = (
  document: CacheDocument,
  question: string,
  language?: Language,
  scorers: ReadonlyArray<TableScorer> = DEFAULT_SCORERS
): Relevance => {
  const index = indexOf(document)
  const query = analyzeQuestion(index, question)
  const scores = scoreTables(document, index, query, scorers)
  const tables = document.tables
    .map((table, i): ScoredTable => ({ index: i, table_id: table.table_id, score: scores[i]! }))
    .sort(byScore)
  return { tables, examples: scoreExamples(document, index, query, language) }
}
