/**
 * Examples: every source for the tables read this run — curated files, the query log when read,
 * glossary terms with a SQL definition, join examples over the relationship graph, templates, the
 * LLM when configured — merged (curated first), validated, chosen by value within a per-table cap
 * (each kept one says why), and dry-run in live mode; plus the previous examples of tables kept
 * stale, which were valid against the schema kept, and of tables an incremental run reuses
 * (`reused`: nothing is generated, validated or dry-run for them alone).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CacheDocument, Example, TableEntry } from "../contract/CacheDocument.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { type CuratedExample, gatherCurated, mergeCurated } from "./curated.ts"
import { dryRunExamples, type ExampleSet, llmCandidates } from "./examples.ts"
import type { Relationship } from "../contract/Relationship.ts"
import { chooseExamples } from "./examples/ChooseExamples.ts"
import type { Alias, GlossaryTerm } from "../contract/Glossary.ts"
import { glossaryExamples } from "./examples/GlossaryExamples.ts"
import { joinExamples } from "./examples/JoinExamples.ts"
import { type LoggedQuery, queryLogExamples } from "./examples/QueryLogExamples.ts"
import { templateExamples } from "./examples/TemplateExamples.ts"

/** Business names of columns by table id, then path: people's aliases before the model's. */
export const businessNames = (aliases: ReadonlyArray<Alias>): Map<string, Map<string, ReadonlyArray<string>>> => {
  const out = new Map<string, Map<string, ReadonlyArray<string>>>()
  const ordered = [...aliases.filter((a) => a.source !== "llm"), ...aliases.filter((a) => a.source === "llm")]
  for (const alias of ordered) {
    if (alias.column === null) continue
    const table = out.get(alias.table_id) ?? new Map<string, ReadonlyArray<string>>()
    table.set(alias.column, [...(table.get(alias.column) ?? []), ...alias.names])
    out.set(alias.table_id, table)
  }
  return out
}

export const gatherExamples = (input: {
  readonly entries: ReadonlyArray<TableEntry>
  readonly fresh: ReadonlyMap<string, TableMetadata>
  readonly previous: Option.Option<CacheDocument>
  readonly relationships?: ReadonlyArray<Relationship>
  readonly logged?: ReadonlyArray<LoggedQuery>
  /** Glossary terms; those with a SQL definition become business-logic examples. */
  readonly glossary?: ReadonlyArray<GlossaryTerm>
  /** Business names of columns, used in the questions. */
  readonly aliases?: ReadonlyArray<Alias>
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
    // Examples over several tables (joins, logged queries, glossary terms) are generated over every
    // table read, so a changed table still gets its joins with a reused one; single-table templates
    // only for the tables not reused.
    const freshEntries = input.entries.filter((entry) => input.fresh.has(entry.table_id))
    const sensitive = settings.sensitiveColumnPattern === null ? {} : { sensitiveNamePattern: settings.sensitiveColumnPattern }
    const names = businessNames(input.aliases ?? [])
    const templates = freshEntries.filter((entry) => !reused.has(entry.table_id)).flatMap((entry) =>
      templateExamples(entry, settings.language, { ...sensitive, ...(names.has(entry.table_id) ? { names: names.get(entry.table_id)! } : {}) })
    )
    const joins = joinExamples(freshEntries, input.relationships ?? [], settings.language, { ...sensitive, names })
    const logged = queryLogExamples(input.logged ?? [], freshEntries, {
      language: settings.language,
      days: settings.queryLogDays ?? 0,
      ...sensitive
    })
    const business = glossaryExamples(input.glossary ?? [], freshEntries, input.relationships ?? [], settings.language, sensitive)
    // Every curated example is merged, as in a full run, so that it supersedes the same generated ones;
    // those of reused tables alone are then taken from the previous document instead.
    const merged = mergeCurated(curated, [...logged, ...business, ...joins, ...templates, ...llm], freshTables)
    for (const error of merged.errors) yield* Effect.logWarning(error.message)
    const chosen = chooseExamples(merged.examples, input.relationships ?? [])
    const checked = yield* dryRunExamples({
      examples: reused.size === 0 ? chosen : chosen.filter((e) => !e.tables.every((t) => reused.has(t))),
      rejected: merged.rejected
    })

    const staleIds = new Set(input.entries.filter((e) => e.status.state === "stale").map((e) => e.table_id as string))
    const kept: ReadonlyArray<Example> = Option.match(input.previous, {
      onNone: () => [],
      onSome: (doc) =>
        doc.examples.filter((e) => e.tables.length > 0 && e.tables.every((t) => staleIds.has(t) || reused.has(t)))
    })
    return { examples: [...checked.examples, ...kept], rejected: checked.rejected } satisfies ExampleSet
  }).pipe(Effect.withSpan("sync.examples"))
