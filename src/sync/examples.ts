/**
 * Generate and validate: few-shot examples from every source — templates, and the LLM when it is
 * configured — each checked by the one SQL validator before it may enter the document.
 * Rejections are counted by reason.
 */
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { Example, Language } from "../contract/CacheDocument.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { BigQueryService } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { ExampleGeneratorService } from "../services/ExampleGenerator/ExampleGeneratorService.ts"
import { type SqlRejection, type ValidatedSql, validateSql } from "../sql/SqlValidator.ts"
import { retryRemote } from "./RetryPolicy.ts"

export interface ExampleSet {
  readonly examples: ReadonlyArray<Example>
  /** How many candidates were rejected, by the validator's reason (`duplicate` for repeats). */
  readonly rejected: Readonly<Record<string, number>>
}

/**
 * How an example's `tables` label and the tables its SQL reads disagree: the tables it names but
 * does not read, and those it reads but does not name; `undefined` when they agree.
 */
export interface LabelMismatch {
  readonly unread: ReadonlyArray<string>
  readonly unlabelled: ReadonlyArray<string>
}

export const labelMismatch = (
  label: ReadonlyArray<string>,
  read: ReadonlyArray<string>
): LabelMismatch | undefined => {
  const unread = label.filter((table) => !read.includes(table))
  const unlabelled = read.filter((table) => !label.includes(table))
  return unread.length === 0 && unlabelled.length === 0 ? undefined : { unread, unlabelled }
}

/**
 * Keeps the candidates that validate against `tables` and read exactly the tables their label
 * names (`wrong_table` otherwise: the backend picks examples by that label), first of each
 * normalised SQL only.
 */
export const acceptExamples = (
  candidates: ReadonlyArray<Example>,
  tables: ReadonlyArray<TableMetadata>,
  /** Verdicts the caller already has for some candidates against the same `tables` (not redone). */
  known?: ReadonlyMap<Example, Either.Either<ValidatedSql, SqlRejection>>
): ExampleSet => {
  const catalog = { tables }
  const seen = new Set<string>()
  const examples: Array<Example> = []
  const rejected: Record<string, number> = {}
  const reject = (reason: string) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1
  }
  for (const candidate of candidates) {
    const verdict = known?.get(candidate) ?? validateSql(candidate.sql, catalog)
    if (verdict._tag === "Left") {
      reject(verdict.left.reason)
      continue
    }
    if (labelMismatch(candidate.tables, verdict.right.tables) !== undefined) {
      reject("wrong_table")
      continue
    }
    if (seen.has(verdict.right.normalized)) {
      reject("duplicate")
      continue
    }
    seen.add(verdict.right.normalized)
    examples.push(candidate)
  }
  return { examples, rejected }
}

/** How many tables are sent to the LLM at once. */
export const LLM_CONCURRENCY = 2

/**
 * The LLM's candidates for every table (none when generation is off). A table whose generation
 * fails contributes nothing and is logged: the templates still stand.
 */
export const llmCandidates = (tables: ReadonlyArray<TableMetadata>, curated: ReadonlyArray<Example>, language: Language) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const generator = yield* ExampleGeneratorService
    if (!generator.enabled) return []
    const perTable = yield* Effect.forEach(
      tables,
      (table) =>
        generator.generate({ table, curated: curated.filter((e) => e.tables.includes(table.table_id)), language }).pipe(
          retryRemote(settings),
          Effect.catchAll((error) =>
            Effect.as(Effect.logWarning(`LLM examples for ${table.table_id} skipped: ${error.message}`), [])
          )
        ),
      { concurrency: LLM_CONCURRENCY }
    )
    return perTable.flat()
  })

/** How many dry runs are in flight at once. */
export const DRY_RUN_CONCURRENCY = 4

/**
 * Live mode: BigQuery's own check of every accepted example, by dry run. Its bytes estimate is
 * recorded on the example; an example BigQuery refuses, or that would process more than
 * `EXAMPLE_MAX_BYTES`, is rejected. A dry run that cannot be made (BigQuery unavailable after the
 * retries) leaves the example in without an estimate: the validator has already passed it.
 */
export const dryRunExamples = (set: ExampleSet) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const bigQuery = yield* BigQueryService
    if (settings.mode !== "live" || !settings.exampleDryRun || settings.project === null) return set
    const project = settings.project
    type Verdict = { readonly keep: Example } | { readonly reject: "over_bytes_cap" | "dry_run_rejected" }
    const verdicts = yield* Effect.forEach(
      set.examples,
      (example): Effect.Effect<Verdict> =>
        bigQuery.dryRun(project, example.sql).pipe(
          retryRemote(settings),
          Effect.map((estimate): Verdict =>
            estimate.totalBytesProcessed > settings.exampleMaxBytes
              ? { reject: "over_bytes_cap" }
              : { keep: { ...example, estimated_bytes: estimate.totalBytesProcessed } }
          ),
          Effect.catchAll((error): Effect.Effect<Verdict> =>
            error._tag === "RemoteUnavailable" || error._tag === "RemoteTimeout"
              ? Effect.as(Effect.logWarning(`dry run of an example skipped: ${error.message}`), { keep: example })
              : Effect.succeed({ reject: "dry_run_rejected" })
          )
        ),
      { concurrency: DRY_RUN_CONCURRENCY }
    )
    const rejected: Record<string, number> = { ...set.rejected }
    const examples: Array<Example> = []
    for (const verdict of verdicts) {
      if ("keep" in verdict) examples.push(verdict.keep)
      else rejected[verdict.reject] = (rejected[verdict.reject] ?? 0) + 1
    }
    return { examples, rejected } satisfies ExampleSet
  })
