/**
 * The loader's hybrid ranking: with the question's embedding, a table the question's words miss
 * (a Korean question over English schemas) is found by its vectors; without it, or with a vector
 * of another model's size, ranking is lexical as before.
 *
 * The document is written by a real sync with the in-memory embedder (hashed n-grams); the
 * question's embedding stands in for a multilingual model's: the vector of an English paraphrase.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { exactTarget } from "../../src/config/Targets.ts"
import { CacheLoader } from "../../src/loader/CacheLoader.ts"
import { DENSE_WEIGHT, hybridScores } from "../../src/context/DenseScores.ts"
import { renderPromptContext } from "../../src/context/PromptContext.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { EmbeddingService, hashedNgramVector } from "../../src/services/Embeddings/EmbeddingService.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { fixtureTable, GA4_TABLE_ID, ga4Table, ref, testLayer } from "../support/TestLayers.ts"

const SHAKESPEARE = "bigquery-public-data.samples.shakespeare"
const NAMES = "bigquery-public-data.usa_names.usa_1910_current"
const HN = "bigquery-public-data.hacker_news.full"
const DIMENSION = 128

/** "The vocabulary of literary works", in Korean: no word of it reaches the Shakespeare table lexically (the vocabulary included). */
const QUESTION = "문학 작품 어휘"
/** What a multilingual model would place near it. */
const questionEmbedding = hashedNgramVector("most frequent word count in the corpus", DIMENSION)

const layer = Layer.merge(
  testLayer({ targets: [GA4_TABLE_ID, SHAKESPEARE, NAMES, HN].map((id) => exactTarget(ref(id))) }),
  EmbeddingService.memoryLayer({ dimension: DIMENSION })
)

const synced = Effect.gen(function*() {
  const warehouse = yield* MemoryBigQueryControl
  yield* warehouse.putTable(ga4Table())
  yield* warehouse.putTable(fixtureTable(SHAKESPEARE, "samples.shakespeare"))
  yield* warehouse.putTable(fixtureTable(NAMES, "usa_names.usa_1910_current"))
  yield* warehouse.putTable(fixtureTable(HN, "hacker_news.full"))
  yield* syncOnce()
  // A loader started after the sync, reading what it published.
  return yield* Effect.provide(CacheLoader, CacheLoader.layer())
})

describe("hybrid ranking in the loader", () => {
  it.effect("finds the table a Korean question's words miss when given the question's embedding", () =>
    Effect.gen(function*() {
      const loader = yield* synced
      const lexical = yield* loader.getPromptContext({ question: QUESTION, maxTokens: 2000, maxTables: 1 })
      expect(lexical.tables).not.toEqual([SHAKESPEARE])

      const hybrid = yield* loader.getPromptContext({ question: QUESTION, questionEmbedding, maxTokens: 2000, maxTables: 1 })
      expect(hybrid.tables).toEqual([SHAKESPEARE])
      expect(hybrid.text).toContain("word_count")
    }).pipe(Effect.provide(layer)))

  it.effect("keeps lexical ranking for a vector of another size, and lets a strong lexical match win", () =>
    Effect.gen(function*() {
      const loader = yield* synced
      const document = yield* loader.getDocument
      const wrongSize = hashedNgramVector("most frequent word count in the corpus", 64)
      expect(renderPromptContext(document, { question: QUESTION, questionEmbedding: wrongSize, maxTokens: 2000 }))
        .toEqual(renderPromptContext(document, { question: QUESTION, maxTokens: 2000 }))

      // The words name Hacker News stories; the embedding points at Shakespeare; words win ties of this size.
      const context = renderPromptContext(document, {
        question: "hacker news story score by author",
        questionEmbedding,
        maxTokens: 2000,
        maxTables: 1
      })
      expect(context.tables).toEqual([HN])
    }).pipe(Effect.provide(layer)))
})

describe("the hybrid rule", () => {
  it("combines min-max normalised lexical and dense scores with the documented weight", () => {
    const scores = hybridScores([4, 2, 0, 0], [0.2, 0.6, 1, undefined])
    expect(DENSE_WEIGHT).toBe(0.5)
    expect(scores).toEqual([0.5 * 1 + 0.5 * 0, 0.5 * 0.5 + 0.5 * 0.5, 0.5 * 0 + 0.5 * 1, 0])
    // Negative cosines count as nothing; with no lexical match only the dense part remains.
    expect(hybridScores([0, 0], [-0.3, 0.4])).toEqual([0, 0.5])
  })
})
