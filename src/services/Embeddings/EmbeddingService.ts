/**
 * Text embeddings: `EMBEDDINGS=vertex` turns them on; otherwise the service is simply absent and
 * the sync publishes no vectors (read it with `Effect.serviceOption`).
 *
 * - `VertexEmbeddings` (next to this file) — Vertex AI's text embeddings over REST.
 * - `EmbeddingService.memory` — deterministic vectors computed in process (hashed character
 *   n-grams, so texts that share words are near), for tests and offline runs.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type { PermissionDenied, RemoteRejected, RemoteTimeout, RemoteUnavailable } from "../RemoteErrors.ts"

/** What the texts are for: Vertex embeds documents and the questions that look for them differently. */
export type EmbeddingTask = "RETRIEVAL_DOCUMENT" | "RETRIEVAL_QUERY"

export type EmbeddingError = RemoteUnavailable | RemoteTimeout | PermissionDenied | RemoteRejected

export interface Embedder {
  /** The model's name, recorded in the document: a question must be embedded with the same one. */
  readonly model: string
  readonly dimension: number
  /** The most texts one `embed` call may carry (the API's instances-per-request limit). */
  readonly maxBatch: number
  /** The most vectors one document may carry (its size budget); items past it go without. */
  readonly maxVectors: number
  /**
   * One request for at most `maxBatch` texts: one vector per text, in order. Not retried here;
   * the caller's retry policy decides (transient failures are `RemoteUnavailable`/`RemoteTimeout`).
   */
  readonly embed: (
    texts: ReadonlyArray<string>,
    task: EmbeddingTask
  ) => Effect.Effect<ReadonlyArray<Float32Array>, EmbeddingError>
}

export class EmbeddingService extends Context.Tag("MetaSync/EmbeddingService")<EmbeddingService, Embedder>() {
  /**
   * In-process vectors (see `hashedNgramVector`), with a count of the texts embedded so tests can
   * see what was reused.
   */
  static memory = (
    options: { readonly dimension?: number; readonly maxBatch?: number; readonly maxVectors?: number; readonly model?: string } = {}
  ) =>
    Effect.gen(function*() {
      const embedded = yield* Ref.make<ReadonlyArray<string>>([])
      const dimension = options.dimension ?? 64
      const service = EmbeddingService.of({
        model: options.model ?? "memory-ngrams",
        dimension,
        maxBatch: options.maxBatch ?? 250,
        maxVectors: options.maxVectors ?? 20_000,
        embed: (texts) =>
          Ref.update(embedded, (all) => [...all, ...texts]).pipe(
            Effect.as(texts.map((text) => hashedNgramVector(text, dimension)))
          )
      })
      return { service, embedded: Ref.get(embedded) }
    })

  static memoryLayer = (options: Parameters<typeof EmbeddingService.memory>[0] = {}) =>
    Layer.effect(EmbeddingService, Effect.map(EmbeddingService.memory(options), (m) => m.service))
}

/** FNV-1a of a string, as an unsigned 32-bit integer. */
const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * A deterministic unit vector of `text`: its words' character trigrams (padded, lowercased)
 * hashed into `dimension` signed buckets. Texts sharing words or word parts are near in cosine;
 * unrelated texts are near orthogonal. Not a language model: it cannot cross languages.
 */
export const hashedNgramVector = (text: string, dimension: number): Float32Array => {
  const out = new Float32Array(dimension)
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (word.length === 0) continue
    const padded = ` ${word} `
    for (let i = 0; i + 3 <= padded.length; i++) {
      const h = fnv1a(padded.slice(i, i + 3))
      out[h % dimension] += (h & 0x80000000) === 0 ? 1 : -1
    }
  }
  let norm = 0
  for (const v of out) norm += v * v
  norm = Math.sqrt(norm)
  if (norm > 0) for (let i = 0; i < dimension; i++) out[i] /= norm
  return out
}
