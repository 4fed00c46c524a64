/**
 * The LLM path end to end: a sync whose example generator is the Anthropic layer, talking to the
 * local Messages API server, its answers going through the same validator as every example.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { AnthropicExampleGenerator } from "../../src/services/ExampleGenerator/AnthropicExampleGenerator.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { Reply, start } from "../support/FakeAnthropicServer.ts"
import { GA4_TABLE_ID, ga4Table, testLayer } from "../support/TestLayers.ts"

const API_KEY = "sk-ant-test-key"

const withFakeAnthropic = <A, E, R>(use: (url: string, script: (reply: Reply) => void) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.promise(() => start({ apiKey: API_KEY })),
    (fake) => use(fake.url, (reply) => fake.script(reply)),
    (fake) => Effect.promise(() => fake.close())
  )

const layerOn = (baseUrl: string) =>
  Layer.merge(
    testLayer({ mode: "local" }),
    AnthropicExampleGenerator.layer({
      apiKey: Redacted.make(API_KEY),
      model: "claude-test",
      baseUrl,
      timeout: "30 seconds",
      maxTokens: 2048,
      maxCallsPerRun: 10
    })
  )

describe("LLM examples in a sync", () => {
  it.live("publishes the model's valid examples and counts the ones the validator rejects", () =>
    withFakeAnthropic((url, script) =>
      Effect.gen(function*() {
        script(Reply.fencedExamples([
          { question: "구매 이벤트 수는?", sql: "SELECT COUNT(*) AS purchases FROM `nlq-ex.test_dataset.events_20210131` WHERE event_name = 'purchase'" },
          { question: "Drop it", sql: "DROP TABLE `nlq-ex.test_dataset.events_20210131`" },
          { question: "No such column", sql: "SELECT revenue FROM `nlq-ex.test_dataset.events_20210131`" }
        ]))
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())

        const summary = yield* syncOnce()

        const bucket = yield* MemoryStorageControl
        const doc = Either.getOrThrow(parseCacheDocument(Option.getOrThrow(yield* bucket.text("metadata_cache.json"))))
        expect(doc.examples.filter((e) => e.source === "llm")).toEqual([
          expect.objectContaining({ question: "구매 이벤트 수는?", generator: "llm:claude-test", tables: [GA4_TABLE_ID] })
        ])
        expect(summary.rejected_examples).toMatchObject({ not_read_only: 1, unknown_column: 1 })
      }).pipe(Effect.provide(layerOn(url)))
    ))

  it.live("still publishes the templates when the model answers prose", () =>
    withFakeAnthropic((url, script) =>
      Effect.gen(function*() {
        script(Reply.text("Sure! Here are some great queries you could run on this table."))
        const warehouse = yield* MemoryBigQueryControl
        yield* warehouse.putTable(ga4Table())

        const summary = yield* syncOnce()

        expect(summary.status).toBe("ok")
        expect(summary.example_count).toBeGreaterThan(0)
        const bucket = yield* MemoryStorageControl
        const doc = Either.getOrThrow(parseCacheDocument(Option.getOrThrow(yield* bucket.text("metadata_cache.json"))))
        expect(doc.examples.some((e) => e.source === "llm")).toBe(false)
      }).pipe(Effect.provide(layerOn(url)))
    ))
})
