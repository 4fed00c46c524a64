/**
 * A scripted example generator for tests: the test arranges what "the model" answers for each
 * table through `MemoryExampleGeneratorControl`, queues failures, and reads the log of requests.
 * A table with nothing arranged gets no examples, as with generation off.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import {
  type ExampleGenerationError,
  ExampleGeneratorService,
  type ExampleRequest,
  examplesFromPairs,
  type GeneratedPair,
  makeCallBudget
} from "./ExampleGeneratorService.ts"

interface State {
  readonly answers: ReadonlyMap<string, ReadonlyArray<GeneratedPair>>
  readonly faults: ReadonlyArray<{ readonly tableId: string; readonly error: ExampleGenerationError }>
  readonly calls: ReadonlyArray<ExampleRequest>
}

/** What a test can do to the scripted generator. */
export interface MemoryLlm {
  /** The model name the examples are attributed to (`llm:<model>`). */
  readonly model: string
  /** Every later request for `tableId` is answered with `pairs` (replacing an earlier answer). */
  readonly answer: (tableId: string, pairs: ReadonlyArray<GeneratedPair>) => Effect.Effect<void>
  /** The next request for `tableId` fails with `error` (queued in order, used before the answer). */
  readonly failNext: (tableId: string, error: ExampleGenerationError) => Effect.Effect<void>
  /** Every request that reached the generator, in order (including failed and over-budget ones). */
  readonly calls: Effect.Effect<ReadonlyArray<ExampleRequest>>
}

export class MemoryExampleGeneratorControl extends Context.Tag("MetaSync/MemoryExampleGeneratorControl")<
  MemoryExampleGeneratorControl,
  MemoryLlm
>() {}

export interface MemoryExampleGeneratorOptions {
  /** `memory-model` unless given. */
  readonly model?: string
  /** When given, the same per-run call budget as the live generator. */
  readonly maxCallsPerRun?: number
}

const make = (options: MemoryExampleGeneratorOptions) =>
  Effect.gen(function*() {
    const model = options.model ?? "memory-model"
    const state = yield* Ref.make<State>({ answers: new Map(), faults: [], calls: [] })
    const budget = options.maxCallsPerRun === undefined ? undefined : yield* makeCallBudget(options.maxCallsPerRun)

    const generator = ExampleGeneratorService.of({
      enabled: true,
      generate: (request) =>
        Effect.gen(function*() {
          const tableId = request.table.table_id
          yield* Ref.update(state, (s) => ({ ...s, calls: [...s.calls, request] }))
          if (budget !== undefined) yield* budget.take(tableId)
          const fault = yield* Ref.modify(state, (s): [ExampleGenerationError | undefined, State] => {
            const index = s.faults.findIndex((f) => f.tableId === tableId)
            if (index < 0) return [undefined, s]
            return [s.faults[index].error, { ...s, faults: s.faults.filter((_, i) => i !== index) }]
          })
          if (fault !== undefined) return yield* Effect.fail(fault)
          const pairs = (yield* Ref.get(state)).answers.get(tableId) ?? []
          return examplesFromPairs(pairs, request, model)
        })
    })

    const control = MemoryExampleGeneratorControl.of({
      model,
      answer: (tableId, pairs) => Ref.update(state, (s) => ({ ...s, answers: new Map(s.answers).set(tableId, pairs) })),
      failNext: (tableId, error) => Ref.update(state, (s) => ({ ...s, faults: [...s.faults, { tableId, error }] })),
      calls: Effect.map(Ref.get(state), (s) => s.calls)
    })
    return Context.make(ExampleGeneratorService, generator).pipe(Context.add(MemoryExampleGeneratorControl, control))
  })

/** Provides `ExampleGeneratorService` and its `MemoryExampleGeneratorControl`, with nothing arranged. */
export const MemoryExampleGenerator = {
  layer: (
    options: MemoryExampleGeneratorOptions = {}
  ): Layer.Layer<ExampleGeneratorService | MemoryExampleGeneratorControl> => Layer.effectContext(make(options))
} as const
