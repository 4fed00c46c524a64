/**
 * Embeddings in a sync, over real HTTP against the local Vertex predict server: what is embedded,
 * in which batches, what is reused, and that a failing Vertex never fails the run.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import { decodeCacheDocument, parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { dequantizeVector, quantizeVector } from "../../src/contract/Embeddings.ts"
import { countFields } from "../../src/contract/Field.ts"
import { formatShow } from "../../src/operations/report.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { EmbeddingService } from "../../src/services/Embeddings/EmbeddingService.ts"
import { VertexEmbeddings } from "../../src/services/Embeddings/VertexEmbeddings.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { captureLogs } from "../support/CapturedLogs.ts"
import { Fault, start } from "../support/FakeVertexServer.ts"
import { GA4_TABLE_ID, ga4Table, testLayer } from "../support/TestLayers.ts"
import { onTestClock } from "../support/TestClockDriver.ts"

const MAX_BATCH = 40

const withVertex = <A, E, R>(use: (fake: Awaited<ReturnType<typeof start>>) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.promise(() => start({ maxInstances: MAX_BATCH })), use, (fake) => Effect.promise(() => fake.close()))

const layerOn = (url: string, logs = captureLogs()) =>
  Layer.mergeAll(
    testLayer(),
    VertexEmbeddings.layer({
      project: "nlq-ex",
      location: "asia-northeast3",
      model: "text-multilingual-embedding-002",
      dimension: 64,
      endpoint: url,
      timeout: "30 seconds",
      maxBatch: MAX_BATCH
    }),
    logs.layer
  )

const published = Effect.gen(function*() {
  const bucket = yield* MemoryStorageControl
  return Either.getOrThrow(parseCacheDocument(Option.getOrThrow(yield* bucket.text("metadata_cache.json"))))
})

/** GA4 with one column's description changed. */
const ga4Edited = () => {
  const table = ga4Table()
  return { ...table, columns: table.columns.map((c) => (c.name === "event_name" ? { ...c, description: "What the user did" } : c)) }
}

describe("embeddings in a sync", () => {
  it.effect("stores a vector for the table, every field and every example, sent in batches within the limit", () =>
    withVertex((fake) =>
      Effect.gen(function*() {
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())

        const summary = yield* onTestClock(syncOnce())

        expect(summary.status).toBe("ok")
        const doc = yield* published
        const embeddings = doc.embeddings!
        expect(embeddings).toMatchObject({ model: "text-multilingual-embedding-002", dimension: 64, encoding: "int8" })
        const fields = countFields(doc.tables[0].columns)
        expect(embeddings.vectors).toHaveLength(1 + doc.examples.length + fields)
        expect(embeddings.vectors[0].key).toBe(`t:${GA4_TABLE_ID}`)
        expect(embeddings.vectors.map((v) => v.key)).toContain(`c:${GA4_TABLE_ID}:event_params.value.string_value`)
        expect(embeddings.vectors.map((v) => v.key)).toContain("e:0")

        const texts = fake.requests.flatMap((r) => r.texts)
        expect(new Set(texts).size).toBe(texts.length) // identical texts are embedded once
        expect(fake.requests.length).toBe(Math.ceil(texts.length / MAX_BATCH))
        expect(fake.requests.every((r) => r.texts.length <= MAX_BATCH)).toBe(true)
        expect(fake.requests.every((r) => r.taskTypes.every((t) => t === "RETRIEVAL_DOCUMENT"))).toBe(true)
        expect(doc.metrics?.stage_ms.embeddings).toBeGreaterThanOrEqual(0)
        expect(formatShow({ document: doc, location: "gs://b/o", info: { generation: "1", size: 1 } } as never, doc.generated_at, Duration.hours(26)))
          .toContain(`Embeddings: ${embeddings.vectors.length} vectors, text-multilingual-embedding-002, 64 dimensions (int8)`)
      }).pipe(Effect.provide(layerOn(fake.url)))
    ))

  it.effect("embeds only the texts that changed since the previous document", () =>
    withVertex((fake) =>
      Effect.gen(function*() {
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())
        yield* onTestClock(syncOnce())
        const first = yield* published
        const embeddedFirst = fake.embedded().length

        yield* onTestClock(syncOnce())
        expect(fake.embedded().length).toBe(embeddedFirst) // nothing changed: not one call
        const second = yield* published
        expect(second.embeddings).toEqual(first.embeddings)

        yield* warehouse.putTable(ga4Edited())
        yield* onTestClock(syncOnce())
        expect(fake.embedded().slice(embeddedFirst)).toEqual([
          "events_20210131.event_name (STRING): What the user did"
        ])
        expect((yield* published).embeddings?.vectors).toHaveLength(first.embeddings!.vectors.length)
      }).pipe(Effect.provide(layerOn(fake.url)))
    ))

  it.effect("embeds everything again when the model or the dimension changes", () =>
    withVertex((fake) =>
      Effect.gen(function*() {
        yield* (yield* MemoryBigQueryControl).putTable(ga4Table())
        yield* onTestClock(syncOnce())
        const first = fake.embedded().length

        yield* onTestClock(Effect.provideService(syncOnce(), EmbeddingService, yield* VertexEmbeddings.make({
          project: "nlq-ex",
          location: "asia-northeast3",
          model: "text-multilingual-embedding-002",
          dimension: 32,
          endpoint: fake.url,
          timeout: "30 seconds",
          maxBatch: MAX_BATCH
        })))

        expect(fake.embedded().length).toBe(2 * first)
        expect((yield* published).embeddings).toMatchObject({ dimension: 32 })
      }).pipe(Effect.provide(layerOn(fake.url)))
    ))

  it.effect("a Vertex that is down leaves the sync green, without vectors and with a warning", () => {
    const logs = captureLogs()
    return withVertex((fake) =>
      Effect.gen(function*() {
        fake.failAlways(Fault.status(503))
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())

        const summary = yield* onTestClock(syncOnce())

        expect(summary.status).toBe("ok")
        expect((yield* published).embeddings).toBeNull()
        expect(fake.requests).toHaveLength(5) // the first batch, retried by the policy; then the step gives up
        expect(logs.warnings().some((l) => l.includes("embeddings: RemoteUnavailable"))).toBe(true)
      }).pipe(Effect.provide(layerOn(fake.url, logs)))
    )
  })

  it.effect("a Vertex failing later keeps the previous vectors of unchanged texts", () =>
    withVertex((fake) =>
      Effect.gen(function*() {
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())
        yield* onTestClock(syncOnce())
        const before = (yield* published).embeddings!.vectors.length

        fake.failAlways(Fault.malformed())
        yield* warehouse.putTable(ga4Edited())
        const summary = yield* onTestClock(syncOnce())

        expect(summary.status).toBe("ok")
        const after = (yield* published).embeddings!
        expect(after.vectors).toHaveLength(before - 1)
        expect(after.vectors.map((v) => v.key)).not.toContain(`c:${GA4_TABLE_ID}:event_name`)
      }).pipe(Effect.provide(layerOn(fake.url)))
    ))

  it.effect("a document that fits MAX_DOCUMENT_BYTES only without its vectors goes out without them", () => {
    const logs = captureLogs()
    return withVertex((fake) =>
      Effect.gen(function*() {
        const plain = yield* Effect.gen(function*() {
          yield* (yield* MemoryBigQueryControl).putTable(ga4Table())
          return (yield* syncOnce({ dryRun: true })).bytes
        }).pipe(Effect.provide(testLayer()))

        const summary = yield* Effect.gen(function*() {
          yield* (yield* MemoryBigQueryControl).putTable(ga4Table())
          const summary = yield* onTestClock(syncOnce())
          expect((yield* published).embeddings).toBeNull()
          return summary
        }).pipe(Effect.provide(Layer.merge(layerOn(fake.url, logs), testLayer({ maxDocumentBytes: plain + 1024 }))))

        expect(summary.status).toBe("ok")
        expect(fake.requests.length).toBeGreaterThan(0)
        expect(logs.warnings().some((l) => l.includes("published without them"))).toBe(true)
      })
    )
  })

  it.effect("without the option the document carries no vectors and Vertex is never called", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.putTable(ga4Table())
      yield* syncOnce()
      expect((yield* published).embeddings).toBeNull()
    }).pipe(Effect.provide(testLayer())))
})

describe("embeddings in the contract", () => {
  it("older documents decode without vectors", () => {
    const seed = JSON.parse(readFileSync(new URL("../fixtures/cache/seed-example.json", import.meta.url), "utf8"))
    expect(Either.getOrThrow(decodeCacheDocument(seed)).embeddings).toBeNull()
  })

  it("int8 vectors keep their direction and size within a step of the scale", () => {
    const values = [0.5, -0.25, 0.125, 0, -0.5, 0.01]
    const q = quantizeVector(values)
    expect(q.vector).toBe(Buffer.from(new Int8Array([127, -63, 32, 0, -127, 3]).buffer).toString("base64"))
    const back = dequantizeVector(q, values.length)!
    values.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(q.scale / 2))
    expect(dequantizeVector(q, 7)).toBeUndefined()
    expect(dequantizeVector({ scale: 1, vector: "%%%%" }, 3)).toBeUndefined()
  })
})
