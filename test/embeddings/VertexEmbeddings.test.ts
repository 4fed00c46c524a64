/**
 * The Vertex embeddings layer over real HTTP against the local predict server: the request's
 * shape, the errors it maps to, its deadline and cancellation, retries by the one policy, and
 * its configuration.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { EmbeddingService } from "../../src/services/Embeddings/EmbeddingService.ts"
import { loadEmbeddingSettings, VertexEmbeddings } from "../../src/services/Embeddings/VertexEmbeddings.ts"
import { retryRemote } from "../../src/sync/RetryPolicy.ts"
import { Fault, start } from "../support/FakeVertexServer.ts"
import { onTestClock } from "../support/TestClockDriver.ts"

const fakeVertex = (options?: Parameters<typeof start>[0]) =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (fake) => Effect.promise(() => fake.close()))

const embedderOn = (url: string, extra: { readonly model?: string; readonly timeout?: Duration.DurationInput } = {}) =>
  VertexEmbeddings.make({
    project: "nlq-ex",
    location: "asia-northeast3",
    model: extra.model ?? "text-multilingual-embedding-002",
    dimension: 32,
    endpoint: url,
    timeout: extra.timeout ?? "30 seconds"
  })

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i], 0)

const policy = { retryAttempts: 5, retryBudget: Duration.minutes(2) }

describe("VertexEmbeddings", () => {
  it.scopedLive("sends Vertex's predict request and reads one vector per text", () =>
    Effect.gen(function*() {
      const fake = yield* fakeVertex()
      const embedder = yield* embedderOn(fake.url)
      const [a, b, c] = yield* embedder.embed(["daily active users", "active users per day", "order line totals"], "RETRIEVAL_DOCUMENT")

      expect(fake.requests).toEqual([{
        path: "/v1/projects/nlq-ex/locations/asia-northeast3/publishers/google/models/text-multilingual-embedding-002:predict",
        model: "text-multilingual-embedding-002",
        texts: ["daily active users", "active users per day", "order line totals"],
        taskTypes: ["RETRIEVAL_DOCUMENT", "RETRIEVAL_DOCUMENT", "RETRIEVAL_DOCUMENT"],
        dimension: 32,
        // An endpoint override is a local server: no credentials are looked up or sent.
        authorization: undefined
      }])
      expect(a).toHaveLength(32)
      expect(cosine(a, b)).toBeGreaterThan(cosine(a, c))
      expect(embedder.maxBatch).toBe(250)
      expect((yield* embedderOn(fake.url, { model: "gemini-embedding-001" })).maxBatch).toBe(1)
    }))

  it.scopedLive("maps Vertex's refusals to the project's remote errors", () =>
    Effect.gen(function*() {
      const fake = yield* fakeVertex()
      const embedder = yield* embedderOn(fake.url)
      const failure = () => Effect.flip(embedder.embed(["x"], "RETRIEVAL_DOCUMENT"))

      fake.script(Fault.status(429), Fault.status(503), Fault.status(403), Fault.status(400), Fault.malformed(), Fault.reset)
      expect(yield* failure()).toMatchObject({ _tag: "RemoteUnavailable", service: "vertex", status: 429, reason: "RESOURCE_EXHAUSTED" })
      expect(yield* failure()).toMatchObject({ _tag: "RemoteUnavailable", status: 503, reason: "UNAVAILABLE" })
      expect(yield* failure()).toMatchObject({ _tag: "PermissionDenied", status: 403 })
      expect(yield* failure()).toMatchObject({ _tag: "RemoteRejected", status: 400, reason: "INVALID_ARGUMENT" })
      expect(yield* failure()).toMatchObject({ _tag: "RemoteRejected", status: 200, reason: "malformedResponse" })
      expect(yield* failure()).toMatchObject({ _tag: "RemoteUnavailable", status: null })
    }))

  it.scoped("cuts a stalled call at its deadline and cancels its request", () =>
    Effect.gen(function*() {
      const fake = yield* fakeVertex()
      const embedder = yield* embedderOn(fake.url, { timeout: "10 seconds" })
      fake.script(Fault.stall, Fault.stall)

      const call = yield* Effect.fork(embedder.embed(["x"], "RETRIEVAL_DOCUMENT"))
      yield* Effect.promise(() => fake.received(1))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Effect.flip(Fiber.join(call))).toMatchObject({ _tag: "RemoteTimeout", timeout_ms: 10_000, attempts: 1 })

      const interrupted = yield* Effect.fork(embedder.embed(["y"], "RETRIEVAL_DOCUMENT"))
      yield* Effect.promise(() => fake.received(2))
      yield* Fiber.interrupt(interrupted)
      yield* Effect.promise(() => fake.waitAbandoned(2))
      expect(fake.abandoned()).toBe(2)
    }))

  it.scoped("is retried by the one retry policy on 429 and 503, on the TestClock", () =>
    Effect.gen(function*() {
      const fake = yield* fakeVertex()
      const embedder = yield* embedderOn(fake.url)
      fake.script(Fault.status(429), Fault.status(503))

      const vectors = yield* onTestClock(retryRemote(policy)(embedder.embed(["a", "b"], "RETRIEVAL_DOCUMENT")))

      expect(vectors).toHaveLength(2)
      expect(fake.requests).toHaveLength(3)
    }))
})

describe("embedding settings", () => {
  const load = (env: Record<string, string>) =>
    Effect.withConfigProvider(loadEmbeddingSettings, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("are off unless EMBEDDINGS=vertex, with defaults for the rest", () =>
    Effect.gen(function*() {
      expect(yield* load({})).toEqual({ provider: "off" })
      expect(yield* load({ EMBEDDINGS: "vertex", GOOGLE_CLOUD_PROJECT: "nlq-ex", VERTEX_API_ENDPOINT: "127.0.0.1:9999" })).toEqual({
        provider: "vertex",
        project: "nlq-ex",
        location: "us-central1",
        model: "text-multilingual-embedding-002",
        dimension: 256,
        endpoint: "http://127.0.0.1:9999",
        maxVectors: 20_000
      })
    }))

  it.effect("name the variable and the problem", () =>
    Effect.gen(function*() {
      const problem = (env: Record<string, string>) => Effect.flip(load({ EMBEDDINGS: "vertex", GOOGLE_CLOUD_PROJECT: "p", ...env }))
      expect(yield* Effect.flip(load({ EMBEDDINGS: "openai" }))).toMatchObject({ variable: "EMBEDDINGS", value: "openai" })
      expect(yield* Effect.flip(load({ EMBEDDINGS: "vertex" }))).toMatchObject({ variable: "GOOGLE_CLOUD_PROJECT", value: null })
      expect(yield* problem({ EMBEDDING_DIMENSION: "1024" })).toMatchObject({
        variable: "EMBEDDING_DIMENSION",
        problem: "expected a whole number from 1 to 768"
      })
      expect(yield* load({ EMBEDDINGS: "vertex", GOOGLE_CLOUD_PROJECT: "p", VERTEX_EMBEDDING_MODEL: "gemini-embedding-001", EMBEDDING_DIMENSION: "1024" }))
        .toMatchObject({ dimension: 1024 })
      expect(yield* problem({ VERTEX_LOCATION: "Seoul!" })).toMatchObject({ variable: "VERTEX_LOCATION" })
      expect(yield* problem({ VERTEX_EMBEDDING_MODEL: "../x" })).toMatchObject({ variable: "VERTEX_EMBEDDING_MODEL" })
      expect(yield* problem({ VERTEX_API_ENDPOINT: "ftp://x" })).toMatchObject({ variable: "VERTEX_API_ENDPOINT" })
    }))

  it.effect("the in-memory service is deterministic", () =>
    Effect.gen(function*() {
      const { service } = yield* EmbeddingService.memory({ dimension: 16 })
      const [a] = yield* service.embed(["sessions"], "RETRIEVAL_DOCUMENT")
      const [b] = yield* service.embed(["sessions"], "RETRIEVAL_QUERY")
      expect(Array.from(a)).toEqual(Array.from(b))
    }))
})
