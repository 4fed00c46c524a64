/**
 * Few-shot examples written by a language model: candidates only. Every example this service
 * returns still goes through the one SQL validator before it may enter the document.
 *
 * Layers, side by side in this folder:
 * - `ExampleGeneratorService.Disabled` — no model: no examples (the default; LLM generation is opt-in).
 * - `AnthropicExampleGenerator.ts`     — Anthropic's Messages API through the official SDK, and the layer chosen by config.
 * - `MemoryExampleGenerator.ts`        — in memory, for tests: scripted answers per table, a call log.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type { Example, Language } from "../../contract/CacheDocument.ts"
import type { TableMetadata } from "../BigQuery/TableResource.ts"
import type { PermissionDenied, RemoteRejected, RemoteTimeout, RemoteUnavailable } from "../RemoteErrors.ts"

export interface ExampleRequest {
  /** The table the examples are about; its description is shown to the model as untrusted data. */
  readonly table: TableMetadata
  /** Examples people wrote, shown to the model as the style to follow and the ground not to repeat. */
  readonly curated: ReadonlyArray<Example>
  /** How many examples to ask for; at most this many are returned. */
  /** How many examples to ask for; the layer's configured count (LLM_EXAMPLE_COUNT) when absent. */
  readonly count?: number | undefined
  readonly language: Language
}

/** The model answered, but not with the question/SQL pairs it was asked for. */
export class LlmOutputRejected extends Schema.TaggedError<LlmOutputRejected>()("LlmOutputRejected", {
  table_id: Schema.String,
  model: Schema.String,
  /** What is wrong with the answer, for a person to read. */
  reason: Schema.String,
  /** The start of the answer as the model wrote it. */
  excerpt: Schema.String
}) {
  override get message(): string {
    return `${this.model} gave no usable examples for ${this.table_id}: ${this.reason}`
  }
}

/** The run has made as many model calls as it may; no further call was made. */
export class LlmBudgetExhausted extends Schema.TaggedError<LlmBudgetExhausted>()("LlmBudgetExhausted", {
  table_id: Schema.String,
  max_calls: Schema.Number
}) {
  override get message(): string {
    return `no examples generated for ${this.table_id}: this run has used all ${this.max_calls} model calls it may make`
  }
}

export type ExampleGenerationError =
  | RemoteUnavailable
  | RemoteTimeout
  | PermissionDenied
  | RemoteRejected
  | LlmOutputRejected
  | LlmBudgetExhausted

export interface ExampleGenerator {
  /** Whether a model is configured; when not, the sync does not ask at all. */
  readonly enabled: boolean
  /** Candidate examples for one table; `[]` when generation is off. */
  readonly generate: (request: ExampleRequest) => Effect.Effect<ReadonlyArray<Example>, ExampleGenerationError>
}

export class ExampleGeneratorService extends Context.Tag("MetaSync/ExampleGeneratorService")<
  ExampleGeneratorService,
  ExampleGenerator
>() {
  /** No model configured: every request gets no examples, and nothing is called. */
  static readonly Disabled: Layer.Layer<ExampleGeneratorService> = Layer.succeed(
    ExampleGeneratorService,
    ExampleGeneratorService.of({ enabled: false, generate: () => Effect.succeed([]) })
  )
}

/** A question and its SQL as a model wrote them, before they become `Example`s. */
export interface GeneratedPair {
  readonly question: string
  readonly sql: string
}

/** The model's pairs as candidate examples of `request.table`, at most `request.count` of them. */
export const examplesFromPairs = (
  pairs: ReadonlyArray<GeneratedPair>,
  request: ExampleRequest,
  model: string
): ReadonlyArray<Example> =>
  pairs.slice(0, Math.max(0, request.count ?? pairs.length)).map((pair) => ({
    question: pair.question,
    sql: pair.sql,
    tables: [request.table.table_id],
    source: "llm",
    generator: `llm:${model}`,
    language: request.language
  }))

// ---------------------------------------------------------------------------------------------
// The call budget. Services are built once per function instance and serve many runs, so the
// count of calls "in this run" lives with the run (a fiber-local counter), not with the layer.

const runCalls = FiberRef.unsafeMake<Option.Option<Ref.Ref<number>>>(Option.none())

/**
 * Gives everything `effect` does (forked fibers included) one fresh budget of model calls.
 * Wrap each sync run in it; outside it, calls count against the layer's whole lifetime.
 */
export const withFreshCallBudget = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Ref.make(0), (calls) => Effect.locally(effect, runCalls, Option.some(calls)))

/** Takes one call from the current budget, or fails when `maxCalls` have been made. */
export const makeCallBudget = (maxCalls: number) =>
  Effect.map(Ref.make(0), (lifetime) => ({
    take: (tableId: string): Effect.Effect<void, LlmBudgetExhausted> =>
      FiberRef.get(runCalls).pipe(
        Effect.flatMap((run) =>
          Ref.modify(Option.getOrElse(run, () => lifetime), (used): [boolean, number] =>
            used < maxCalls ? [true, used + 1] : [false, used])
        ),
        Effect.flatMap((granted) =>
          granted ? Effect.void : Effect.fail(new LlmBudgetExhausted({ table_id: tableId, max_calls: maxCalls }))
        )
      )
  }))
