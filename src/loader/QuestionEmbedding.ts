/**
 * The loader embedding a question itself, when the backend configured it (optional): the backend
 * may instead pass `questionEmbedding` with each request, or neither (lexical ranking).
 *
 * The question is embedded only when the request carries no embedding and the document holds
 * vectors of the embedder's model and dimension. A failing or slow call costs the dense part of
 * the ranking, never the prompt context: it is logged and the context is built lexically.
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Embedder } from "../services/Embeddings/EmbeddingService.ts"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import type { PromptContextRequest } from "../context/PromptContext.ts"

export interface QuestionEmbedder {
  readonly model: string
  readonly dimension: number
  /** The question's vector (task `RETRIEVAL_QUERY`), within its own deadline. */
  readonly embed: (question: string) => Effect.Effect<ArrayLike<number>, { readonly _tag: string; readonly message: string }>
}

export const withQuestionEmbedding = (
  document: CacheDocument,
  request: PromptContextRequest,
  embedder: QuestionEmbedder | undefined
): Effect.Effect<PromptContextRequest> => {
  const vectors = document.embeddings
  if (
    request.questionEmbedding !== undefined || embedder === undefined || vectors === null ||
    vectors.model !== embedder.model || vectors.dimension !== embedder.dimension
  ) {
    return Effect.succeed(request)
  }
  return embedder.embed(request.question).pipe(
    Effect.map((questionEmbedding): PromptContextRequest => ({ ...request, questionEmbedding })),
    Effect.catchAll((error) =>
      Effect.as(
        Effect.logWarning(`question embedding failed, ranking lexically: ${error._tag}: ${error.message}`),
        request
      )
    )
  )
}

/** Where and how the loader embeds questions with Vertex AI: the sync's embedding settings. */
export interface VertexQuestionEmbeddings {
  readonly project: string
  readonly location: string
  /** The sync's `VERTEX_EMBEDDING_MODEL`. */
  readonly model: string
  /** The sync's `EMBEDDING_DIMENSION`. */
  readonly dimension: number
  /** A local server instead of `https://{location}-aiplatform.googleapis.com` (no credentials then). */
  readonly endpoint?: string | undefined
  /** Deadline of one call; default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * A `QuestionEmbedder` over Vertex AI (Application Default Credentials, one attempt per question).
 * The Vertex client is loaded at the first question, so a loader without it pays nothing.
 */
export const vertexQuestionEmbedder = (settings: VertexQuestionEmbeddings): QuestionEmbedder => {
  let made: Promise<Embedder> | undefined
  const embedder = Effect.promise(() =>
    made ??= import("../services/Embeddings/VertexEmbeddings.ts").then((m) =>
      Effect.runPromise(m.VertexEmbeddings.make({ ...settings, timeout: settings.timeout ?? "5 seconds" }))
    )
  )
  return {
    model: settings.model,
    dimension: settings.dimension,
    embed: (question) =>
      Effect.flatMap(embedder, (e) => e.embed([question], "RETRIEVAL_QUERY")).pipe(Effect.map((vectors) => vectors[0]))
  }
}
