/**
 * Examples: every source for the tables read this run — curated files, templates, the LLM when
 * configured — merged (curated first), validated, and dry-run in live mode; plus the previous
 * examples of tables kept stale, which were valid against the schema kept, and of tables an
 * incremental run reuses (`reused`: nothing is generated, validated or dry-run for them).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CacheDocument, Example, TableEntry } from "../contract/CacheDocument.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { type CuratedExample, gatherCurated, mergeCurated } from "./curated.ts"
import { dryRunExamples, type ExampleSet, llmCandidates } from "./examples.ts"
import { templateExamples } from "./examples/TemplateExamples.ts"

export const gatherExamples = (input: {
  readonly entries: ReadonlyArray<TableEntry>
  readonly fresh: ReadonlyMap<string, TableMetadata>
  readonly previous: Option.Option<CacheDocument>
  /** Tables whose previous examples are kept as they were. */
  readonly reused?: ReadonlySet<string>
  /** The curated examples, when the caller has already read them. */
  readonly curated?: ReadonlyArray<CuratedExample>
}) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const reused = input.reused ?? new Set<string>()
    const freshTables = [...input.fresh.values()]
    const curated = input.curated ?? (yield* gatherCurated)
    const llm = yield* llmCandidates(freshTables.filter((t) => !reused.has(t.table_id)), curated.map((c) => c.example), settings.language)
    const templates = input.entries
      .filter((entry) => input.fresh.has(entry.table_id) && !reused.has(entry.table_id))
      .flatMap((entry) => templateExamples(entry, settings.language))
    // Every curated example is merged, as in a full run, so that it supersedes the same generated ones;
    // those of reused tables alone are then taken from the previous document instead.
    const merged = mergeCurated(curated, [...templates, ...llm], freshTables)
    for (const error of merged.errors) yield* Effect.logWarning(error.message)
    const checked = yield* dryRunExamples(
      reused.size === 0 ? merged : { ...merged, examples: merged.examples.filter((e) => !e.tables.every((t) => reused.has(t))) }
    )

    const staleIds = new Set(input.entries.filter((e) => e.status.state === "stale").map((e) => e.table_id as string))
    const kept: ReadonlyArray<Example> = Option.match(input.previous, {
      onNone: () => [],
      onSome: (doc) =>
        doc.examples.filter((e) => e.tables.length > 0 && e.tables.every((t) => staleIds.has(t) || reused.has(t)))
    })
    return { examples: [...checked.examples, ...kept], rejected: checked.rejected } satisfies ExampleSet
  }).pipe(Effect.withSpan("sync.examples"))
