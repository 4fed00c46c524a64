/**
 * The MCP server's tools, as small functions over `CacheLoader`: each takes its validated input and
 * answers a plain JSON value (what the client sees as `structuredContent`, and as JSON text).
 *
 * Every answer is bounded: lists take a `limit` with a ceiling, long descriptions are cut, and a
 * table's fields come in pages. The server only ever reads the published document; nothing here
 * can reach BigQuery or write to the bucket.
 *
 * A new kind of knowledge in the document (relationships and join paths, glossary terms) becomes
 * one more entry of `TOOLS` with its own function here; the transports and the server do not change.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as z from "zod"
import { type Example, TableEntry, type TableEntry as TableEntryType } from "../contract/CacheDocument.ts"
import { flattenFields } from "../contract/Field.ts"
import { CacheLoader, CacheMetadata, type CacheUnavailable, findTable } from "../loader/CacheLoader.ts"
import { relevance } from "../context/Scoring.ts"

/** A request the tool cannot answer as asked (an unknown table, …); the message says what to do instead. */
export class ToolInputError extends Schema.TaggedError<ToolInputError>()("ToolInputError", {
  message: Schema.String
}) {}

export type ToolError = CacheUnavailable | ToolInputError

/** Longest description, SQL or view query carried in an answer; longer ones end in `…`. */
export const MAX_TEXT = 2_000
/** Most tables `search_tables` lists. */
export const MAX_SEARCH_RESULTS = 50
/** Most fields one page of `describe_table` holds. */
export const MAX_FIELDS_PAGE = 500
/** Most examples `get_examples` returns. */
export const MAX_EXAMPLES = 50
/** Largest token budget `get_prompt_context` accepts. */
export const MAX_PROMPT_TOKENS = 32_000

const cut = (text: string | null, max = MAX_TEXT): string | null =>
  text === null || text.length <= max ? text : `${text.slice(0, max - 1)}…`

const tableIdInput = z.string().min(1).max(1024).describe(
  "A table id, `project.dataset.table`; for a date-sharded family a shard id or `project.dataset.prefix*`"
)
const languageInput = z.enum(["ko", "en"]).describe("Prefer examples in this language")
const questionInput = z.string().min(1).max(4_000).describe("The user's question, in any language")

const encodeMetadata = Schema.encodeSync(CacheMetadata)
const encodeTable = Schema.encodeSync(TableEntry)

const requireTable = (tableId: string) =>
  Effect.flatMap(CacheLoader, (loader) =>
    Effect.flatMap(loader.getDocument, (document) =>
      Option.match(findTable(document, tableId), {
        onNone: () =>
          Effect.fail(
            new ToolInputError({
              message: `table ${tableId} is not in the MetaSync cache; it describes ${
                document.tables.slice(0, 20).map((t) => t.table_id).join(", ")
              }${document.tables.length > 20 ? ` and ${document.tables.length - 20} more (see search_tables)` : ""}`
            })
          ),
        onSome: (table) => Effect.succeed({ document, table })
      })))

const tableSummary = (table: TableEntryType) => ({
  table_id: table.table_id,
  kind: table.kind,
  description: cut(table.description, 300),
  columns: table.columns.length,
  fields: table.field_paths.length > 0 ? table.field_paths.length : flattenFields(table.columns).length,
  partitioning: table.partitioning === null ? null : table.partitioning.field ?? table.partitioning.type,
  sharded: table.sharding !== null,
  state: table.status.state
})

const exampleJson = (example: Example, score?: number) => ({
  question: example.question,
  sql: cut(example.sql, 4_000),
  tables: example.tables,
  source: example.source,
  language: example.language ?? null,
  ...(score === undefined ? {} : { score: Math.round(score * 1000) / 1000 })
})

// ---------------------------------------------------------------------------------------------
// The tools
// ---------------------------------------------------------------------------------------------

export const searchTablesInput = {
  question: questionInput,
  limit: z.number().int().min(1).max(MAX_SEARCH_RESULTS).default(10).describe("Most tables to return")
}

/** The tables most relevant to a question, best first (lexical BM25, as the prompt context ranks them). */
export const searchTables = (input: { readonly question: string; readonly limit: number }) =>
  Effect.gen(function*() {
    const loader = yield* CacheLoader
    const document = yield* loader.getDocument
    const scored = relevance(document, input.question).tables
    const matching = scored.filter((t) => t.score > 0)
    return {
      question: input.question,
      total_tables: document.tables.length,
      matching_tables: matching.length,
      tables: matching.slice(0, input.limit).map((t) => ({
        ...tableSummary(document.tables[t.index]),
        score: Math.round(t.score * 1000) / 1000
      }))
    }
  })

export const promptContextInput = {
  question: questionInput,
  max_tokens: z.number().int().min(100).max(MAX_PROMPT_TOKENS).default(2_000).describe(
    "Token budget of the rendered text (a conservative estimate; never exceeded)"
  ),
  language: languageInput.optional(),
  max_tables: z.number().int().min(1).max(20).optional().describe("Most tables to include (default 5)"),
  max_examples: z.number().int().min(0).max(MAX_EXAMPLES).optional().describe("Most examples to include (default 8)")
}

/** The loader's prompt context: relevant tables and examples rendered within a token budget. */
export const promptContext = (input: {
  readonly question: string
  readonly max_tokens: number
  readonly language?: "ko" | "en" | undefined
  readonly max_tables?: number | undefined
  readonly max_examples?: number | undefined
}) =>
  Effect.flatMap(CacheLoader, (loader) =>
    loader.getPromptContext({
      question: input.question,
      maxTokens: input.max_tokens,
      language: input.language,
      maxTables: input.max_tables,
      maxExamples: input.max_examples
    })).pipe(Effect.map((context) => ({
      text: context.text,
      tokens: context.tokens,
      tables: context.tables,
      example_count: context.examples.length,
      omitted: context.omitted
    })))

export const describeTableInput = {
  table_id: tableIdInput,
  offset: z.number().int().min(0).default(0).describe("First field of the page (fields are listed depth first)"),
  limit: z.number().int().min(1).max(MAX_FIELDS_PAGE).default(200).describe("Most fields in the page")
}

/**
 * One table: its metadata, then a page of its fields at every depth, each with type, mode,
 * description, the UNNEST joins that reach it and the expression that reads it, and its profile.
 */
export const describeTable = (input: { readonly table_id: string; readonly offset: number; readonly limit: number }) =>
  Effect.gen(function*() {
    const { table } = yield* requireTable(input.table_id)
    const encoded = encodeTable(table)
    const fields = flattenFields(table.columns)
    const reach = new Map(table.field_paths.map((p) => [p.path, p]))
    const profiles = new Map((table.profile?.columns ?? []).map((p) => [p.column, p]))
    const skipped = new Map((table.profile?.skipped ?? []).map((s) => [s.column, s]))
    const page = fields.slice(input.offset, input.offset + input.limit)
    const next = input.offset + page.length
    return {
      table_id: table.table_id,
      requested: input.table_id,
      kind: table.kind,
      description: cut(table.description),
      last_updated: encoded.last_updated,
      created: encoded.created ?? null,
      row_count: table.row_count,
      size_bytes: table.size_bytes,
      labels: table.labels,
      partitioning: table.partitioning,
      clustering: table.clustering,
      sharding: table.sharding,
      view_query: cut(table.view_query),
      status: encoded.status ?? { state: "fresh" },
      profile: table.profile === null ? null : {
        profiled_at: DateTime.formatIso(table.profile.profiled_at),
        sample_percent: table.profile.sample_percent,
        rows_sampled: table.profile.rows_sampled
      },
      total_fields: fields.length,
      offset: input.offset,
      next_offset: next < fields.length ? next : null,
      fields: page.map((f) => {
        const path = reach.get(f.path)
        const profile = profiles.get(f.path)
        const skip = skipped.get(f.path)
        return {
          path: f.path,
          type: f.type,
          mode: f.mode,
          description: cut(f.description, 500),
          repeated: f.repeated,
          joins: path?.joins ?? [],
          expression: path?.expression ?? f.path,
          ...(profile === undefined ? {} : {
            profile: {
              null_fraction: profile.null_fraction,
              approx_distinct: profile.approx_distinct,
              top_values: profile.top_values?.slice(0, 10) ?? null,
              min: profile.min,
              max: profile.max
            }
          }),
          ...(skip === undefined ? {} : { not_profiled: skip.reason })
        }
      })
    }
  })

export const examplesInput = {
  table_id: tableIdInput.optional().describe("Only examples whose SQL reads this table"),
  question: questionInput.optional().describe("Rank the examples by relevance to this question"),
  language: languageInput.optional(),
  limit: z.number().int().min(1).max(MAX_EXAMPLES).default(10).describe("Most examples to return")
}

/** Worked question→SQL examples, for a table and/or ranked for a question; all validated by the sync. */
export const examples = (input: {
  readonly table_id?: string | undefined
  readonly question?: string | undefined
  readonly language?: "ko" | "en" | undefined
  readonly limit: number
}) =>
  Effect.gen(function*() {
    const loader = yield* CacheLoader
    const document = yield* loader.getDocument
    let tableIds: ReadonlyArray<string> | null = null
    if (input.table_id !== undefined) {
      const { table } = yield* requireTable(input.table_id)
      tableIds = [input.table_id, table.table_id]
    }
    const reads = (e: Example) => tableIds === null || e.tables.some((t) => tableIds.includes(t))
    const ranked = input.question === undefined
      ? document.examples
        .filter((e) => input.language === undefined || e.language === input.language)
        .map((example) => ({ example, score: undefined }))
      : relevance(document, input.question, input.language).examples
        .filter((s) => s.score > 0)
        .map((s) => ({ example: document.examples[s.index], score: s.score }))
    const matching = ranked.filter((r) => reads(r.example))
    return {
      total_examples: document.examples.length,
      matching_examples: matching.length,
      examples: matching.slice(0, input.limit).map((r) => exampleJson(r.example, r.score))
    }
  })

/** The document's freshness and health: where it is, its generation and age, whether it expired, why the last check failed. */
export const cacheStatus = Effect.gen(function*() {
  const loader = yield* CacheLoader
  const metadata = yield* loader.getCacheMetadata
  const document = metadata.available ? Option.getRight(yield* Effect.either(loader.getDocument)) : Option.none()
  const doc = Option.getOrNull(document)
  const staleTables = doc === null ? [] : doc.tables.filter((t) => t.status.state === "stale").map((t) => t.table_id)
  const status = !metadata.available
    ? "unavailable"
    : metadata.expired
    ? "expired"
    : staleTables.length > 0 || metadata.lastError !== null
    ? "degraded"
    : "ok"
  return {
    status,
    ...encodeMetadata(metadata),
    stale_tables: staleTables.slice(0, 100),
    health: doc?.metrics === null || doc === null ? null : {
      pass: doc.metrics.health.pass,
      tables_described_pct: doc.metrics.tables_described_pct,
      fields_described_pct: doc.metrics.fields_described_pct,
      examples_accepted: doc.metrics.examples_accepted,
      examples_rejected: doc.metrics.examples_rejected
    },
    drift: doc?.drift === null || doc === null ? null : { total: doc.drift.total, breaking: doc.drift.breaking }
  }
})

// ---------------------------------------------------------------------------------------------
// The list the server registers
// ---------------------------------------------------------------------------------------------

export interface ToolDefinition {
  readonly name: string
  readonly title: string
  readonly description: string
  /** A zod object shape; the SDK publishes it as the tool's JSON Schema and validates arguments with it. */
  readonly input: z.ZodRawShape
  readonly run: (input: any) => Effect.Effect<unknown, ToolError, CacheLoader>
}

export const TOOLS: ReadonlyArray<ToolDefinition> = [
  {
    name: "search_tables",
    title: "Search tables",
    description:
      "Find the BigQuery tables most relevant to a question (ranked by lexical relevance over table names, descriptions, fields and example questions). Start here, then describe_table.",
    input: searchTablesInput,
    run: searchTables
  },
  {
    name: "get_prompt_context",
    title: "Prompt context",
    description:
      "The text-to-SQL context for a question: the relevant tables (columns, nested paths with their UNNEST joins, partition rules) and the closest validated examples, rendered within a token budget.",
    input: promptContextInput,
    run: promptContext
  },
  {
    name: "describe_table",
    title: "Describe a table",
    description:
      "One table in full: metadata (partitioning, clustering, sharding, size), and a page of its fields at every depth with type, description, the UNNEST joins that reach it, the expression that reads it, and its profile.",
    input: describeTableInput,
    run: describeTable
  },
  {
    name: "get_examples",
    title: "SQL examples",
    description:
      "Validated question→SQL examples, for a table and/or ranked by relevance to a question.",
    input: examplesInput,
    run: examples
  },
  {
    name: "cache_status",
    title: "Cache freshness and health",
    description:
      "Where the MetaSync document is read from, its generation, when it was generated, its age, whether it expired (older than 24 h), stale tables, and why the last check failed.",
    input: {},
    run: () => cacheStatus
  }
]
