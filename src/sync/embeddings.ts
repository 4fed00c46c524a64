/**
 * The embeddings step (only with `EMBEDDINGS=vertex`, i.e. when an `EmbeddingService` is provided):
 * a vector for every table, example and column, stored with the document.
 *
 * - Only changed texts are embedded: a vector of the previous document whose text hash, model and
 *   dimension match is reused as is.
 * - Texts go in batches within the API's limits, each batch retried by the one retry policy.
 * - Embedding never fails the sync: a batch that fails past its retries stops the step with a
 *   warning, and the document carries the vectors it has (reused and embedded so far), or none.
 * - A document carries at most `maxVectors` vectors: tables first, then examples, then columns
 *   (shallowest first); the rest go without, with a warning.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { CacheDocument, Example, TableEntry } from "../contract/CacheDocument.ts"
import { type DocumentEmbeddings, embeddingKey, type EmbeddingVector, quantizeVector } from "../contract/Embeddings.ts"
import { flattenFields } from "../contract/Field.ts"
import { EmbeddingService } from "../services/Embeddings/EmbeddingService.ts"
import { retryRemote } from "./RetryPolicy.ts"

/** Characters per request, so a batch stays under Vertex's 20,000 input tokens (≥ 1.5 characters a token). */
export const MAX_BATCH_CHARS = 30_000
/** Characters of one item's text; Vertex cuts at 2,048 tokens anyway. */
const MAX_TEXT_CHARS = 2_000

export interface EmbeddingItem {
  readonly key: string
  readonly text: string
}

const shortName = (tableId: string) => tableId.slice(tableId.lastIndexOf(".") + 1)
const cut = (text: string) => (text.length > MAX_TEXT_CHARS ? text.slice(0, MAX_TEXT_CHARS) : text)

/** What is embedded for each table, example and column, in budget order. */
export const embeddingItems = (tables: ReadonlyArray<TableEntry>, examples: ReadonlyArray<Example>): ReadonlyArray<EmbeddingItem> => {
  const tableItems = tables.map((t) => ({
    key: embeddingKey.table(t.table_id),
    text: cut([t.table_id, t.description ?? "", t.columns.map((c) => c.name).join(", ")].filter((s) => s.length > 0).join("\n"))
  }))
  const exampleItems = examples.map((e, i) => ({ key: embeddingKey.example(i), text: cut(e.question) }))
  const columnItems = tables
    .flatMap((t) =>
      flattenFields(t.columns).map((f) => ({
        depth: f.depth,
        key: embeddingKey.column(t.table_id, f.path),
        text: cut(`${shortName(t.table_id)}.${f.path} (${f.type})${f.description ? `: ${f.description}` : ""}`)
      }))
    )
    .sort((a, b) => a.depth - b.depth)
    .map(({ key, text }) => ({ key, text }))
  return [...tableItems, ...exampleItems, ...columnItems]
}

export const textHash = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 16)

/** Batches of at most `maxBatch` texts and `MAX_BATCH_CHARS` characters (a longer text goes alone). */
const batchesOf = (texts: ReadonlyArray<string>, maxBatch: number): ReadonlyArray<ReadonlyArray<string>> => {
  const out: Array<Array<string>> = []
  let current: Array<string> = []
  let chars = 0
  for (const text of texts) {
    if (current.length > 0 && (current.length >= maxBatch || chars + text.length > MAX_BATCH_CHARS)) {
      out.push(current)
      current = []
      chars = 0
    }
    current.push(text)
    chars += text.length
  }
  if (current.length > 0) out.push(current)
  return out
}

/**
 * The vectors of the document being built, or `null` when embeddings are off or none could be
 * made. Never fails.
 */
export const embedDocument = (input: {
  readonly tables: ReadonlyArray<TableEntry>
  readonly examples: ReadonlyArray<Example>
  readonly previous: Option.Option<CacheDocument>
}): Effect.Effect<DocumentEmbeddings | null, never, SyncConfig> =>
  Effect.gen(function*() {
    const found = yield* Effect.serviceOption(EmbeddingService)
    if (Option.isNone(found)) return null
    const service = found.value
    const settings = yield* SyncConfig

    const all = embeddingItems(input.tables, input.examples)
    const items = all.slice(0, service.maxVectors)
    if (all.length > items.length) {
      yield* Effect.logWarning(
        `embeddings: ${all.length} items, over EMBEDDING_MAX_VECTORS (${service.maxVectors}); ${all.length - items.length} columns go without a vector`
      )
    }

    // Vectors of the previous document made by the same model at the same dimension, by text hash.
    const known = new Map<string, Pick<EmbeddingVector, "scale" | "vector">>()
    const before = Option.getOrNull(Option.flatMapNullable(input.previous, (doc) => doc.embeddings))
    if (before !== null && before.model === service.model && before.dimension === service.dimension) {
      for (const v of before.vectors) known.set(v.text_hash, { scale: v.scale, vector: v.vector })
    }

    const hashed = items.map((item) => ({ ...item, hash: textHash(item.text) }))
    const missing = new Map<string, string>()
    for (const item of hashed) if (!known.has(item.hash) && !missing.has(item.hash)) missing.set(item.hash, item.text)
    const reused = hashed.filter((item) => known.has(item.hash)).length

    let embedded = 0
    const texts = [...missing.values()]
    for (const batch of batchesOf(texts, service.maxBatch)) {
      const result = yield* Effect.either(retryRemote(settings)(service.embed(batch, "RETRIEVAL_DOCUMENT")))
      if (result._tag === "Left") {
        yield* Effect.logWarning(
          `embeddings: ${result.left._tag}: ${result.left.message}; the document goes out with ${reused + embedded} of ${items.length} vectors`
        ).pipe(Effect.annotateLogs({ service: "vertex", tag: result.left._tag }))
        break
      }
      result.right.forEach((values, i) => known.set(textHash(batch[i]), quantizeVector(values)))
      embedded += batch.length
    }

    const vectors = hashed.flatMap((item): Array<EmbeddingVector> => {
      const v = known.get(item.hash)
      return v === undefined ? [] : [{ key: item.key, text_hash: item.hash, scale: v.scale, vector: v.vector }]
    })
    yield* Effect.logInfo("embeddings").pipe(
      Effect.annotateLogs({ model: service.model, items: items.length, reused, embedded: embedded, stored: vectors.length })
    )
    if (vectors.length === 0) return null
    return { model: service.model, dimension: service.dimension, encoding: "int8" as const, vectors }
  }).pipe(Effect.withSpan("sync.embeddings"))
