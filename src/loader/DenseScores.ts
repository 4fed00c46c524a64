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
 * - the hybrid score is a convex combination of min-max normalised scores,
 *   `(1 − w) · lexical / max lexical + w · (dense − min dense) / (max dense − min dense)`
 *   over the document's tables (or examples), negative cosines counted as 0, `w = DENSE_WEIGHT`.
 *   An item without a vector gets no dense part. The weakest item by both measures scores 0.
 */
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { dequantizeVector, embeddingKey } from "../contract/Embeddings.ts"

/** The weight of the dense part in the hybrid score. */
export const DENSE_WEIGHT = 0.5

interface DenseIndex {
  readonly dimension: number
  /** Per table: its own vector and its columns', unit length. */
  readonly tables: ReadonlyArray<ReadonlyArray<Float32Array>>
  /** Per example: its question's vector (unit length), if any. */
  readonly examples: ReadonlyArray<Float32Array | undefined>
}

const normalised = (v: Float32Array): Float32Array | undefined => {
  let norm = 0
  for (let i = 0; i < v.length; i++) norm += v[i] * v[i]
  if (norm === 0) return undefined
  norm = Math.sqrt(norm)
  for (let i = 0; i < v.length; i++) v[i] /= norm
  return v
}

const build = (document: CacheDocument): DenseIndex | null => {
  const embeddings = document.embeddings
  if (embeddings === null || embeddings.vectors.length === 0) return null
  const byKey = new Map<string, Float32Array>()
  for (const item of embeddings.vectors) {
    const v = dequantizeVector(item, embeddings.dimension)
    const unit = v === undefined ? undefined : normalised(v)
    if (unit !== undefined) byKey.set(item.key, unit)
  }
  // Column keys start with the table's: one pass groups them.
  const columns = new Map<string, Array<Float32Array>>()
  for (const [key, v] of byKey) {
    if (!key.startsWith("c:")) continue
    for (const table of document.tables) {
      const prefix = `c:${table.table_id}:`
      if (key.startsWith(prefix)) {
        const list = columns.get(table.table_id) ?? []
        list.push(v)
        columns.set(table.table_id, list)
        break
      }
    }
  }
  return {
    dimension: embeddings.dimension,
    tables: document.tables.map((t) => {
      const own = byKey.get(embeddingKey.table(t.table_id))
      return [...(own === undefined ? [] : [own]), ...(columns.get(t.table_id) ?? [])]
    }),
    examples: document.examples.map((_, i) => byKey.get(embeddingKey.example(i)))
  }
}

const indexes = new WeakMap<CacheDocument, DenseIndex | null>()

const denseIndexOf = (document: CacheDocument): DenseIndex | null => {
  if (indexes.has(document)) return indexes.get(document) ?? null
  const built = build(document)
  indexes.set(document, built)
  return built
}

const dot = (a: Float32Array, b: Float32Array): number => {
  let sum = 0
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i]
  return sum
}

/** Cosines of the question with each table and example; `undefined` for an item without a vector. */
export interface DenseScores {
  readonly tables: ReadonlyArray<number | undefined>
  readonly examples: ReadonlyArray<number | undefined>
}

/**
 * The dense scores of `document`'s tables and examples for `questionEmbedding`, or `null` when the
 * document has no vectors or the embedding's length is not the document's dimension.
 */
export const denseScores = (document: CacheDocument, questionEmbedding: ArrayLike<number>): DenseScores | null => {
  const index = denseIndexOf(document)
  if (index === null || questionEmbedding.length !== index.dimension) return null
  const question = normalised(Float32Array.from(questionEmbedding))
  if (question === undefined) return null
  return {
    tables: index.tables.map((vs) => {
      let best: number | undefined
      for (const v of vs) best = Math.max(best ?? -1, dot(question, v))
      return best
    }),
    examples: index.examples.map((v) => (v === undefined ? undefined : dot(question, v)))
  }
}

/** The hybrid of lexical and dense scores, item by item (see the module's comment for the rule). */
export const hybridScores = (
  lexical: ReadonlyArray<number>,
  dense: ReadonlyArray<number | undefined>,
  weight = DENSE_WEIGHT
): ReadonlyArray<number> => {
  const lexMax = Math.max(0, ...lexical)
  const clipped = dense.map((d) => (d === undefined ? undefined : Math.max(0, d)))
  const known = clipped.filter((d): d is number => d !== undefined)
  const dMin = known.length === 0 ? 0 : Math.min(...known)
  const dMax = known.length === 0 ? 0 : Math.max(...known)
  return lexical.map((l, i) => {
    const d = clipped[i]
    const lexPart = lexMax > 0 ? l / lexMax : 0
    const densePart = d === undefined || d === 0 ? 0 : dMax > dMin ? (d - dMin) / (dMax - dMin) : 1
    return (1 - weight) * lexPart + weight * densePart
  })
}
