/**
 * Dense (semantic) scores of a document's tables and examples for a question's embedding, and the
 * rule that combines them with the lexical ones.
 *
 * The document's vectors (`embeddings`, written with `EMBEDDINGS=vertex`) are decoded once per
 * document value — a loaded generation — and kept while the document is. The question must be
 * embedded by the same model at the same dimension (`document.embeddings.model` / `.dimension`,
 * task type `RETRIEVAL_QUERY`); a vector of another length is ignored, as is a document without
 * vectors: ranking is then lexical only.
 *
 * Scores:
 * - a table's dense score is the best cosine of the question with the table's own vector and its
 *   columns' vectors (a question about one column finds the table through it); an example's is
 *   the cosine with its question;
 * - dense scores are min-max normalised over the document (`normalisedDense`: negative cosines
 *   count as 0; the weakest item scores 0, the best 1; an item without a vector 0);
 * - tables: `denseScorer` is one more `TableScorer`, scoring the `DENSE_TOP_TABLES` nearest tables (`Scoring.ts`), weight `DENSE_WEIGHT_TABLES`
 *   = 1, as much as the lexical scorer: the total is `lexical / best lexical + dense + 0.6 ·
 *   glossary + 0.5 · name`;
 * - examples: `hybridScores`, `(1 − w) · lexical / best lexical + w · dense`, `w = DENSE_WEIGHT`.
 */
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { embeddingKey } from "../contract/Embeddings.ts"
import type { TableScorer } from "./Scoring.ts"

/** The weight of the dense part in the examples' hybrid score. */
export const DENSE_WEIGHT = 0.5
/** The dense scorer's weight among the table scorers (the lexical one weighs 1). */
export const DENSE_WEIGHT_TABLES = 1
/**
 * Only the tables nearest the question get a dense score (the others 0), as in any nearest-neighbour
 * retrieval: a cosine ranks every table, and candidates beyond these cost packing time for nothing.
 */
export const DENSE_TOP_TABLES = 20
/** Likewise for examples. */
export const DENSE_TOP_EXAMPLES = 50

/** `values` with all but the `k` largest made `undefined` (no dense part). */
export const nearest = (values: ReadonlyArray<number | undefined>, k: number): ReadonlyArray<number | undefined> => {
  if (values.length <= k) return values
  const known = values.filter((v): v is number => v !== undefined).sort((a, b) => b - a)
  if (known.length <= k) return values
  const cut = known[k - 1]!
  let kept = 0
  return values.map((v) => (v !== undefined && v >= cut && kept++ < k ? v : undefined))
}

interface DenseIndex {
  readonly dimension: number
  /** Every decodable vector, unit length, one row of `dimension` values each. */
  readonly matrix: Float32Array
  readonly rows: number
  /** Per table: the rows of its own vector and its columns'. */
  readonly tables: ReadonlyArray<ReadonlyArray<number>>
  /** Per example: the row of its question's vector, or -1. */
  readonly examples: Int32Array
}

const build = (document: CacheDocument): DenseIndex | null => {
  const embeddings = document.embeddings
  if (embeddings === null || embeddings.vectors.length === 0) return null
  const dimension = embeddings.dimension
  const matrix = new Float32Array(embeddings.vectors.length * dimension)
  const rowOf = new Map<string, number>()
  const tableRows = new Map<string, Array<number>>()
  let rows = 0
  for (const item of embeddings.vectors) {
    let binary: string
    try {
      binary = atob(item.vector)
    } catch {
      continue
    }
    if (binary.length !== dimension) continue
    // Scale does not change a cosine: the int8 values are normalised as they are.
    const offset = rows * dimension
    let norm = 0
    for (let i = 0; i < dimension; i++) {
      const value = (binary.charCodeAt(i) << 24) >> 24
      matrix[offset + i] = value
      norm += value * value
    }
    if (norm === 0) continue
    const inverse = 1 / Math.sqrt(norm)
    for (let i = 0; i < dimension; i++) matrix[offset + i] *= inverse
    rowOf.set(item.key, rows)
    // `c:<table_id>:<path>`: a path has no `:`, so the table id ends at the last one.
    if (item.key.startsWith("c:")) {
      const tableId = item.key.slice(2, item.key.lastIndexOf(":"))
      const list = tableRows.get(tableId)
      if (list === undefined) tableRows.set(tableId, [rows])
      else list.push(rows)
    }
    rows += 1
  }
  return {
    dimension,
    matrix,
    rows,
    tables: document.tables.map((t) => {
      const own = rowOf.get(embeddingKey.table(t.table_id))
      return [...(own === undefined ? [] : [own]), ...(tableRows.get(t.table_id) ?? [])]
    }),
    examples: Int32Array.from(document.examples, (_, i) => rowOf.get(embeddingKey.example(i)) ?? -1)
  }
}

const indexes = new WeakMap<CacheDocument, DenseIndex | null>()

const denseIndexOf = (document: CacheDocument): DenseIndex | null => {
  if (indexes.has(document)) return indexes.get(document) ?? null
  const built = build(document)
  indexes.set(document, built)
  return built
}

/** Cosines of the question with each table and example; `undefined` for an item without a vector. */
export interface DenseScores {
  readonly tables: ReadonlyArray<number | undefined>
  readonly examples: ReadonlyArray<number | undefined>
}

let last: { readonly document: CacheDocument; readonly embedding: ArrayLike<number>; readonly scores: DenseScores | null } | undefined

/**
 * The dense scores of `document`'s tables and examples for `questionEmbedding`, or `null` when the
 * document has no vectors or the embedding's length is not the document's dimension. The last
 * answer is kept: tables and examples of one question ask with the same embedding.
 */
export const denseScores = (document: CacheDocument, questionEmbedding: ArrayLike<number>): DenseScores | null => {
  if (last !== undefined && last.document === document && last.embedding === questionEmbedding) return last.scores
  const scores = computeDenseScores(document, questionEmbedding)
  last = { document, embedding: questionEmbedding, scores }
  return scores
}

const computeDenseScores = (document: CacheDocument, questionEmbedding: ArrayLike<number>): DenseScores | null => {
  const index = denseIndexOf(document)
  if (index === null || questionEmbedding.length !== index.dimension) return null
  const { dimension, matrix } = index
  const question = Float32Array.from(questionEmbedding)
  let norm = 0
  for (let i = 0; i < dimension; i++) norm += question[i] * question[i]
  if (norm === 0) return null
  const cosines = new Float32Array(index.rows)
  for (let r = 0; r < index.rows; r++) {
    let sum = 0
    const offset = r * dimension
    for (let i = 0; i < dimension; i++) sum += question[i] * matrix[offset + i]
    cosines[r] = sum
  }
  const inverse = 1 / Math.sqrt(norm)
  return {
    tables: index.tables.map((rows) => {
      if (rows.length === 0) return undefined
      let best = -Infinity
      for (const r of rows) if (cosines[r] > best) best = cosines[r]
      return best * inverse
    }),
    examples: Array.from(index.examples, (r) => (r < 0 ? undefined : cosines[r] * inverse))
  }
}

/**
 * Dense scores normalised over the items: negative cosines count as 0, then min-max to [0, 1]
 * (one item with a positive cosine, or several equal, score 1); an item without a vector scores 0.
 */
export const normalisedDense = (dense: ReadonlyArray<number | undefined>): Float64Array => {
  let min = Infinity
  let max = -Infinity
  for (const d of dense) {
    if (d === undefined) continue
    const c = Math.max(0, d)
    if (c < min) min = c
    if (c > max) max = c
  }
  return Float64Array.from(dense, (d) => {
    const c = d === undefined ? 0 : Math.max(0, d)
    return c === 0 ? 0 : max > min ? (c - min) / (max - min) : 1
  })
}

/** The hybrid of lexical and dense scores, item by item (see the module's comment for the rule). */
export const hybridScores = (
  lexical: ReadonlyArray<number>,
  dense: ReadonlyArray<number | undefined>,
  weight = DENSE_WEIGHT
): ReadonlyArray<number> => {
  let lexMax = 0
  for (const l of lexical) if (l > lexMax) lexMax = l
  const densePart = normalisedDense(dense)
  return lexical.map((l, i) => (1 - weight) * (lexMax > 0 ? l / lexMax : 0) + weight * densePart[i])
}

/** Tables by their dense scores, when the query has an embedding and the document vectors; else zeros. */
export const denseScorer: TableScorer = {
  name: "dense",
  weight: DENSE_WEIGHT_TABLES,
  score: (index, query, document) => {
    const dense = query.embedding === undefined ? null : denseScores(document, query.embedding)
    if (dense === null) return new Float64Array(index.tables.size)
    return normalisedDense(nearest(dense.tables, DENSE_TOP_TABLES))
  }
}
