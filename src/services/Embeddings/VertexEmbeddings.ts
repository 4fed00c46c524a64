/**
 * `EmbeddingService` over Vertex AI's text embeddings REST API:
 * `POST {endpoint}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict`
 * with `{"instances":[{"content","task_type"}],"parameters":{"outputDimensionality","autoTruncate":true}}`,
 * answered by `{"predictions":[{"embeddings":{"values":[…]}}]}`.
 *
 * - Credentials: the function's service account through Application Default Credentials
 *   (google-auth-library; no key). It needs `roles/aiplatform.user`. With `VERTEX_API_ENDPOINT`
 *   set (a local server in tests), no credentials are looked up, as with the emulator hosts.
 * - One `embed` is one HTTP request, bounded by its deadline and aborted when interrupted; retrying
 *   belongs to the caller's retry policy (429/408/5xx and network failures are `RemoteUnavailable`,
 *   a missed deadline `RemoteTimeout`, 401/403 `PermissionDenied`, anything else `RemoteRejected`).
 * - Limits (Vertex's documentation): at most 250 texts per request (1 for `gemini-embedding-001`)
 *   and 20,000 input tokens per request; each text is cut at 2,048 tokens (`autoTruncate`).
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { InvalidConfig } from "../../config/InvalidConfig.ts"
import { PermissionDenied, RemoteRejected, RemoteTimeout, RemoteUnavailable, TRANSIENT_STATUSES } from "../RemoteErrors.ts"
import { type Embedder, EmbeddingService } from "./EmbeddingService.ts"

export const DEFAULT_VERTEX_LOCATION = "us-central1"
export const DEFAULT_VERTEX_EMBEDDING_MODEL = "text-multilingual-embedding-002"
export const DEFAULT_EMBEDDING_DIMENSION = 256
/** Vectors one document may carry: at 256 dimensions about 450 bytes each, so ≤ ~9 MB. */
export const DEFAULT_EMBEDDING_MAX_VECTORS = 20_000

/** Instances per `:predict` request the model accepts. */
export const maxInstancesOf = (model: string): number => (model.startsWith("gemini-embedding") ? 1 : 250)
/** The largest output dimensionality the model has. */
export const maxDimensionOf = (model: string): number => (model.startsWith("gemini-embedding") ? 3072 : 768)

export interface VertexEmbeddingsOptions {
  readonly project: string
  readonly location: string
  readonly model: string
  readonly dimension: number
  /** `https://{location}-aiplatform.googleapis.com` unless given; given, no credentials are used. */
  readonly endpoint?: string | undefined
  readonly timeout: Duration.DurationInput
  /** The instances-per-request limit, when smaller than the model's (tests). */
  readonly maxBatch?: number | undefined
  /** The document's vector budget (default `DEFAULT_EMBEDDING_MAX_VECTORS`). */
  readonly maxVectors?: number | undefined
}

const defaultEndpoint = (location: string) =>
  location === "global" ? "https://aiplatform.googleapis.com" : `https://${location}-aiplatform.googleapis.com`

const PredictReply = Schema.Struct({
  predictions: Schema.Array(Schema.Struct({
    embeddings: Schema.Struct({ values: Schema.Array(Schema.Number) })
  }))
})

const GoogleErrorBody = Schema.Struct({
  error: Schema.Struct({ code: Schema.optional(Schema.Number), message: Schema.optional(Schema.String), status: Schema.optional(Schema.String) })
})

const excerpt = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text)

const networkCode = (error: unknown): string => {
  const cause = error instanceof Error ? error.cause : undefined
  return typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string" ? cause.code : "network"
}

const make = (options: VertexEmbeddingsOptions): Effect.Effect<Embedder> =>
  Effect.gen(function*() {
    const base = (options.endpoint ?? defaultEndpoint(options.location)).replace(/\/+$/, "")
    const url =
      `${base}/v1/projects/${encodeURIComponent(options.project)}/locations/${encodeURIComponent(options.location)}/publishers/google/models/${encodeURIComponent(options.model)}:predict`
    const timeout = Duration.decode(options.timeout)
    const context = { service: "vertex", operation: "models.predict", resource: url } as const
    const timedOut = () => new RemoteTimeout({ ...context, timeout_ms: Duration.toMillis(timeout), attempts: 1 })

    // Loaded only when embeddings are on; with an endpoint override (a local server) never.
    const auth = options.endpoint === undefined
      ? yield* Effect.promise(async () => {
        const { GoogleAuth } = await import("google-auth-library")
        return new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] })
      })
      : undefined

    const authorization = (): Effect.Effect<Record<string, string>, PermissionDenied> =>
      auth === undefined ? Effect.succeed({}) : Effect.tryPromise({
        try: () => auth.getAccessToken(),
        catch: (error) =>
          new PermissionDenied({
            ...context,
            status: 401,
            message: `no Application Default Credentials for Vertex AI: ${excerpt(error instanceof Error ? error.message : String(error))}`
          })
      }).pipe(Effect.map((token): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {})))

    const failureOfStatus = (status: number, body: string) => {
      let said = excerpt(body)
      let reason = `http_${status}`
      try {
        const parsed = Schema.decodeUnknownSync(GoogleErrorBody)(JSON.parse(body))
        said = excerpt(parsed.error.message ?? body)
        reason = parsed.error.status ?? reason
      } catch {
        // Not Google's error shape: the body, cut, says what it says.
      }
      const message = `Vertex AI answered ${status} ${reason}: ${said}`
      if (TRANSIENT_STATUSES.has(status) || status >= 500) {
        return new RemoteUnavailable({ ...context, status, reason, message, attempts: 1 })
      }
      if (status === 401 || status === 403) return new PermissionDenied({ ...context, status, message })
      return new RemoteRejected({ ...context, status, reason, message })
    }

    const malformed = (detail: string) =>
      new RemoteRejected({ ...context, status: 200, reason: "malformedResponse", message: `Vertex AI answered 200 with ${detail}` })

    const embed: Embedder["embed"] = (texts, task) =>
      Effect.gen(function*() {
        if (texts.length === 0) return []
        const headers = { "content-type": "application/json", ...(yield* authorization()) }
        const body = JSON.stringify({
          instances: texts.map((content) => ({ content, task_type: task })),
          parameters: { outputDimensionality: options.dimension, autoTruncate: true }
        })
        const { status, text } = yield* Effect.tryPromise({
          try: async (signal) => {
            const response = await fetch(url, { method: "POST", headers, body, signal })
            return { status: response.status, text: await response.text() }
          },
          catch: (error) =>
            new RemoteUnavailable({
              ...context,
              status: null,
              reason: networkCode(error),
              message: `Vertex AI could not be reached: ${excerpt(error instanceof Error ? error.message : String(error))}`,
              attempts: 1
            })
        })
        if (status < 200 || status >= 300) return yield* failureOfStatus(status, text)
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          return yield* malformed(`a body that is not JSON: ${excerpt(text)}`)
        }
        const reply = yield* Schema.decodeUnknown(PredictReply)(json).pipe(
          Effect.mapError(() => malformed(`a body that is not {"predictions":[{"embeddings":{"values"}}]}: ${excerpt(text)}`))
        )
        if (reply.predictions.length !== texts.length) {
          return yield* malformed(`${reply.predictions.length} predictions for ${texts.length} texts`)
        }
        const vectors = reply.predictions.map((p) => Float32Array.from(p.embeddings.values))
        const wrong = vectors.find((v) => v.length !== options.dimension)
        if (wrong !== undefined) return yield* malformed(`a vector of ${wrong.length} values, not ${options.dimension}`)
        return vectors
      }).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }), Effect.withSpan("VertexEmbeddings.embed"))

    return EmbeddingService.of({
      model: options.model,
      dimension: options.dimension,
      maxBatch: Math.min(options.maxBatch ?? Infinity, maxInstancesOf(options.model)),
      maxVectors: options.maxVectors ?? DEFAULT_EMBEDDING_MAX_VECTORS,
      embed
    })
  })

// ---------------------------------------------------------------------------------------------
// Configuration

export type EmbeddingSettings =
  | { readonly provider: "off" }
  | {
    readonly provider: "vertex"
    readonly project: string
    readonly location: string
    readonly model: string
    readonly dimension: number
    readonly endpoint: string | undefined
    readonly maxVectors: number
  }

const raw = (name: string) => Config.option(Config.string(name)).pipe(Config.map(Option.filter((v) => v.trim().length > 0)))

const wholeNumber = (variable: string, value: Option.Option<string>, fallback: number, max: number) =>
  Option.match(value, {
    onNone: () => Effect.succeed(fallback),
    onSome: (v) => {
      const n = Number(v)
      return /^\d+$/.test(v) && Number.isSafeInteger(n) && n > 0 && n <= max
        ? Effect.succeed(n)
        : Effect.fail(new InvalidConfig({ variable, value: v, problem: `expected a whole number from 1 to ${max}` }))
    }
  })

/**
 * Reads `EMBEDDINGS` (`off`, the default, or `vertex`), `GOOGLE_CLOUD_PROJECT`, `VERTEX_LOCATION`,
 * `VERTEX_EMBEDDING_MODEL`, `EMBEDDING_DIMENSION`, `EMBEDDING_MAX_VECTORS` and `VERTEX_API_ENDPOINT`.
 */
export const loadEmbeddingSettings: Effect.Effect<EmbeddingSettings, InvalidConfig> = Effect.gen(function*() {
  const env = yield* Config.all({
    provider: raw("EMBEDDINGS"),
    project: raw("GOOGLE_CLOUD_PROJECT"),
    location: raw("VERTEX_LOCATION"),
    model: raw("VERTEX_EMBEDDING_MODEL"),
    dimension: raw("EMBEDDING_DIMENSION"),
    maxVectors: raw("EMBEDDING_MAX_VECTORS"),
    endpoint: raw("VERTEX_API_ENDPOINT")
  }).pipe(Effect.orDie) // only `Config.option` reads: nothing here can be a ConfigError.

  const provider = Option.getOrElse(env.provider, () => "off")
  if (provider !== "off" && provider !== "vertex") {
    return yield* new InvalidConfig({
      variable: "EMBEDDINGS",
      value: provider,
      problem: "expected \"off\" (no vectors, the default) or \"vertex\" (Vertex AI text embeddings)"
    })
  }
  if (provider === "off") return { provider }
  if (Option.isNone(env.project)) {
    return yield* new InvalidConfig({ variable: "GOOGLE_CLOUD_PROJECT", value: null, problem: "EMBEDDINGS=vertex needs the project that calls Vertex AI" })
  }
  const location = Option.getOrElse(env.location, () => DEFAULT_VERTEX_LOCATION)
  if (!/^[a-z]+(-[a-z0-9]+)*$/.test(location)) {
    return yield* new InvalidConfig({ variable: "VERTEX_LOCATION", value: location, problem: "expected a Vertex AI region such as us-central1 or asia-northeast3" })
  }
  const model = Option.getOrElse(env.model, () => DEFAULT_VERTEX_EMBEDDING_MODEL)
  if (!/^[a-z0-9][a-z0-9.@_-]*$/.test(model)) {
    return yield* new InvalidConfig({
      variable: "VERTEX_EMBEDDING_MODEL",
      value: model,
      problem: "expected a model id such as text-multilingual-embedding-002 or gemini-embedding-001"
    })
  }
  const dimension = yield* wholeNumber("EMBEDDING_DIMENSION", env.dimension, DEFAULT_EMBEDDING_DIMENSION, maxDimensionOf(model))
  const maxVectors = yield* wholeNumber("EMBEDDING_MAX_VECTORS", env.maxVectors, DEFAULT_EMBEDDING_MAX_VECTORS, 1_000_000)
  const endpoint = yield* Option.match(env.endpoint, {
    onNone: () => Effect.succeed(undefined),
    onSome: (v) => {
      const withScheme = /^[a-z]+:\/\//i.test(v) ? v : `http://${v}`
      return URL.canParse(withScheme) && /^https?:$/.test(new URL(withScheme).protocol)
        ? Effect.succeed(withScheme)
        : Effect.fail(new InvalidConfig({ variable: "VERTEX_API_ENDPOINT", value: v, problem: "expected an http(s) URL or host:port" }))
    }
  })
  return { provider, project: env.project.value, location, model, dimension, endpoint, maxVectors }
})

const layer = (options: VertexEmbeddingsOptions): Layer.Layer<EmbeddingService> => Layer.effect(EmbeddingService, make(options))

export const VertexEmbeddings = {
  /** The service itself; nothing is called until `embed`. */
  make,
  layer,
  /**
   * Vertex embeddings when `EMBEDDINGS=vertex`, each call bounded by `timeout`; else no service at
   * all (typed as providing nothing: readers use `Effect.serviceOption(EmbeddingService)`).
   */
  layerFromConfig: (timeout: Duration.DurationInput): Layer.Layer<never, InvalidConfig> =>
    Layer.unwrapEffect(
      Effect.map(loadEmbeddingSettings, (settings): Layer.Layer<never> =>
        settings.provider === "off" ? Layer.empty : layer({ ...settings, timeout }))
    )
} as const
