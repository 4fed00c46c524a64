/**
 * Dense vectors of the document's tables, columns and examples (optional: `EMBEDDINGS=vertex`).
 *
 * One vector per item, quantised to int8 with a per-vector scale (`value ≈ byte × scale`) and
 * written as base64: a 256-dimension vector is 344 characters instead of ~3 KB of JSON numbers.
 * Cosine similarity is what the loader computes, and it does not depend on the scale; the scale
 * is kept so the values can be recovered (to within 1/254 of the largest component).
 *
 * Keys name what a vector describes:
 * - `t:<table_id>` — the table (its id, description and column names);
 * - `c:<table_id>:<path>` — one column or nested field, by dotted path;
 * - `e:<index>` — the example at that index of the document's `examples` (its question).
 * `text_hash` is the hash of the exact text embedded: a sync re-embeds only items whose text (or
 * the model, or the dimension) changed, and reuses the previous document's vector otherwise.
 *
 * Additive: documents written before it, or without the option, carry `embeddings: null`.
 * This module is shared by the sync and the backend: it imports nothing but `effect`.
 */
import * as Schema from "effect/Schema"

/** One item's vector. */
export const EmbeddingVector = Schema.Struct({
  /** `t:…`, `c:…` or `e:…` (see the module's comment). */
  key: Schema.String,
  /** Hex digest of the text embedded (the first 16 hex digits of its SHA-256). */
  text_hash: Schema.String,
  /** `value = int8 × scale`. */
  scale: Schema.Number,
  /** Base64 of `dimension` signed bytes. */
  vector: Schema.String
}).annotations({ identifier: "EmbeddingVector" })
export type EmbeddingVector = typeof EmbeddingVector.Type

/** Every vector of a document, and how they were made. */
export const DocumentEmbeddings = Schema.Struct({
  /** The embedding model, e.g. `text-multilingual-embedding-002`: a question must be embedded with the same one. */
  model: Schema.String,
  /** Components per vector. */
  dimension: Schema.Int.pipe(Schema.positive()),
  /** How vectors are written; only `int8` so far. */
  encoding: Schema.Literal("int8"),
  vectors: Schema.Array(EmbeddingVector)
}).annotations({ identifier: "DocumentEmbeddings" })
export type DocumentEmbeddings = typeof DocumentEmbeddings.Type

/** Keys of the items a document's vectors describe. */
export const embeddingKey = {
  table: (tableId: string) => `t:${tableId}`,
  column: (tableId: string, path: string) => `c:${tableId}:${path}`,
  example: (index: number) => `e:${index}`
} as const

/** `values` as int8 with a scale (`max |x| / 127`), base64-encoded. */
export const quantizeVector = (values: ArrayLike<number>): { readonly scale: number; readonly vector: string } => {
  let max = 0
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]))
  const scale = max === 0 ? 0 : max / 127
  const bytes = new Int8Array(values.length)
  if (scale > 0) for (let i = 0; i < values.length; i++) bytes[i] = Math.round(values[i] / scale)
  return { scale, vector: base64Of(new Uint8Array(bytes.buffer)) }
}

/** The vector's values (`int8 × scale`); `undefined` when it does not hold `dimension` bytes. */
export const dequantizeVector = (item: Pick<EmbeddingVector, "scale" | "vector">, dimension: number): Float32Array | undefined => {
  const bytes = bytesOf(item.vector)
  if (bytes === undefined || bytes.length !== dimension) return undefined
  const signed = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length)
  const out = new Float32Array(dimension)
  for (let i = 0; i < dimension; i++) out[i] = signed[i] * item.scale
  return out
}

// Base64 with the platform's `btoa`/`atob` (Node ≥ 16, browsers, workers): no Buffer in the contract.
const base64Of = (bytes: Uint8Array): string => {
  let binary = ""
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i])
  return btoa(binary)
}

const bytesOf = (text: string): Uint8Array | undefined => {
  let binary: string
  try {
    binary = atob(text)
  } catch {
    return undefined
  }
  const out = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
  return out
}
