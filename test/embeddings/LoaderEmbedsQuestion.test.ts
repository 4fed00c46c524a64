/**
 * The loader embedding questions itself (optional), over HTTP against the local Vertex server:
 * only when the request has no embedding and the document has vectors of the same model; a
 * failing Vertex leaves the context lexical.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { exactTarget } from "../../src/config/Targets.ts"
import { CacheLoader } from "../../src/loader/CacheLoader.ts"
import { renderPromptContext } from "../../src/context/PromptContext.ts"
import { vertexQuestionEmbedder } from "../../src/loader/QuestionEmbedding.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { hashedNgramVector } from "../../src/services/Embeddings/EmbeddingService.ts"
import { VertexEmbeddings } from "../../src/services/Embeddings/VertexEmbeddings.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { captureLogs } from "../support/CapturedLogs.ts"
import { Fault, start } from "../support/FakeVertexServer.ts"
import { fixtureTable, GA4_TABLE_ID, ga4Table, ref, testLayer } from "../support/TestLayers.ts"

const SHAKESPEARE = "bigquery-public-data.samples.shakespeare"
const MODEL = "text-multilingual-embedding-002"
const DIMENSION = 128
const QUESTION = "wordcounts per corpus"

const settings = (url: string, model = MODEL) => ({ project: "nlq-ex", location: "us-central1", model, dimension: DIMENSION, endpoint: url })

const withSyncedLoader = <A, E>(model: string, use: (loader: typeof CacheLoader.Service, fake: Awaited<ReturnType<typeof start>>) => Effect.Effect<A, E>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => start()),
    (fake) =>
      Effect.gen(function*() {
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())
        yield* warehouse.putTable(fixtureTable(SHAKESPEARE, "samples.shakespeare"))
        yield* syncOnce()
        const loader = yield* Effect.provide(CacheLoader, CacheLoader.layer({ questionEmbedder: vertexQuestionEmbedder(settings(fake.url, model)) }))
        return yield* use(loader, fake)
      }).pipe(
        Effect.provide(Layer.mergeAll(
          testLayer({ targets: [GA4_TABLE_ID, SHAKESPEARE].map((id) => exactTarget(ref(id))) }),
          VertexEmbeddings.layer({ ...settings(fake.url), timeout: "30 seconds" }),
          captureLogs().layer
        ))
      ),
    (fake) => Effect.promise(() => fake.close())
  )

describe("the loader embedding questions", () => {
  it.live("embeds the question as a query and ranks with it", () =>
    withSyncedLoader(MODEL, (loader, fake) =>
      Effect.gen(function*() {
        const before = fake.requests.length
        const context = yield* loader.getPromptContext({ question: QUESTION, maxTokens: 2000, maxTables: 1 })

        expect(fake.requests.slice(before)).toEqual([expect.objectContaining({ texts: [QUESTION], taskTypes: ["RETRIEVAL_QUERY"], dimension: DIMENSION })])
        const document = yield* loader.getDocument
        expect(context).toEqual(
          renderPromptContext(document, { question: QUESTION, maxTokens: 2000, maxTables: 1, questionEmbedding: hashedNgramVector(QUESTION, DIMENSION) })
        )

        // A request that brings its own embedding is not embedded again.
        yield* loader.getPromptContext({ question: QUESTION, questionEmbedding: hashedNgramVector(QUESTION, DIMENSION), maxTokens: 2000 })
        expect(fake.requests.length).toBe(before + 1)
      })))

  it.live("a failing Vertex leaves the context lexical", () =>
    withSyncedLoader(MODEL, (loader, fake) =>
      Effect.gen(function*() {
        fake.failAlways(Fault.status(503))
        const context = yield* loader.getPromptContext({ question: QUESTION, maxTokens: 2000 })
        const document = yield* loader.getDocument
        expect(context).toEqual(renderPromptContext(document, { question: QUESTION, maxTokens: 2000 }))
      })))

  it.live("does not call Vertex for a document embedded by another model", () =>
    withSyncedLoader("gemini-embedding-001", (loader, fake) =>
      Effect.gen(function*() {
        const before = fake.requests.length
        yield* loader.getPromptContext({ question: QUESTION, maxTokens: 2000 })
        expect(fake.requests.length).toBe(before)
      })))
})
