/**
 * The MCP server's tools, as small functions over `CacheLoader`: each takes its validated input and
 * answers a plain JSON value (what the client sees as `structuredContent`, and as JSON text).
 *
 * Every answer is bounded: lists take a `limit` with a ceiling, long descriptions are cut, and a
 * table's fields come in pages. The server only ever reads the published document; nothing here
 * can reach BigQuery or write to the bucket.
 *
 * A new kind of knowledge in the document (as relationships and join paths were; glossary terms
 * next) becomes one more entry of `TOOLS` with its own function here; the transports and the
 * server do not change.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as z from "zod"
import { type Example, TableEntry, type TableEntry as TableEntryType } from "../contract/CacheDocument.ts"
import { flattenFields } from "../contract/Field.ts"
import { Relationship } from "../contract/Relationship.ts"
import { CacheLoader, CacheMetadata, type CachePartUnavailable, type CacheUnavailable, findTable } from "../loader/CacheLoader.ts"
import { DEFAULT_MAX_JOINS } from "../context/JoinGraph.ts"
import { relevance } from "../context/Scoring.ts"

/** A request the tool cannot answer as asked (an unknown table, …); the message says what to do instead. */
export class ToolInputError extends Schema.TaggedError<ToolInputError>()("ToolInputError", {
  message: Schema.String
}) {}

/** On a split cache, a part a tool needed could not be fetched: `CachePartUnavailable` names it. */
export type ToolError = CacheUnavailable | CachePartUnavailable | ToolInputError

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
/** Most relationships `get_relationships` returns. */
export const MAX_RELATIONSHIPS = 200
/** Most relationships `describe_table` carries (the most confident; `get_relationships` pages the rest). */
export const DESCRIBE_RELATIONSHIPS = 20

const cut = (text: string | null, max = MAX_TEXT): string | null =>
  text === null || text.length <= max ? text : `${text.slice(0, max - 1)}…`

const tableIdInput = z.string().min(1).max(1024).describe(
  "A table id, `project.dataset.table`; for a date-sharded family a shard id or `project.dataset.prefix*`"
)
const languageInput = z.enum(["ko", "en"]).describe("Prefer examples in this language")
const questionInput = z.string().min(1).max(4_000).describe("The user's question, in any language")

const encodeMetadata = Schema.encodeSync(CacheMetadata)
const encodeTable = Schema.encodeSync(TableEntry)
const encodeRelationship = Schema.encodeSync(Relationship)

/** `child.x = parent.y AND …`: the condition that joins a relationship's two tables. */
const joinCondition = (r: Relationship): string =>
  r.from.columns.map((c, i) => `\`${r.from.table_id}\`.${c} = \`${r.to.table_id}\`.${r.to.columns[i]}`).join(" AND ")

const relationshipJson = (r: Relationship) => ({
  ...encodeRelationship(r),
  evidence: cut(r.evidence, 500) ?? "",
  join_condition: joinCondition(r)
})

/** The catalog's entry of the table `tableId` names (a shard finds its family); no part is fetched. */
const resolveTable = (tableId: string) =>
  Effect.gen(function*() {
    const document = yield* Effect.flatMap(CacheLoader, (loader) => loader.getCatalogDocument)
    const found = findTable(document, tableId)
    if (Option.isSome(found)) return { document, entry: found.value }
    return yield* new ToolInputError({
      message: `table ${tableId} is not in the MetaSync cache; it describes ${
        document.tables.slice(0, 20).map((t) => t.table_id).join(", ")
      }${document.tables.length > 20 ? ` and ${document.tables.length - 20} more (see search_tables)` : ""}`
    })
  })

/** The table `tableId` names, with its full entry (on a split cache, its part only is fetched). */
const requireTable = (tableId: string) =>
  Effect.gen(function*() {
    const { document, entry } = yield* resolveTable(tableId)
    const table = Option.getOrElse(yield* Effect.flatMap(CacheLoader, (loader) => loader.getTable(entry.table_id)), () => entry)
    return { document, table }
  })

/**
 * The id the document knows `tableId` by, for relationships: a table of the document (a shard
 * resolves to its family), or a table outside it that a relationship names (a curated or declared
 * key may point at one).
 */
const requireRelationshipTable = (tableId: string) =>
  Effect.flatMap(CacheLoader, (loader) =>
    Effect.flatMap(loader.getCatalogDocument, (document) =>
      Option.isSome(findTable(document, tableId)) ||
        !document.relationships.some((r) => r.from.table_id === tableId || r.to.table_id === tableId)
        ? Effect.map(resolveTable(tableId), ({ entry }) => entry.table_id as string)
        : Effect.succeed(tableId)))

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

/**
 * The tables most relevant to a question, best first (as the prompt context ranks them; on a split
 * cache, as its first stage does: on the manifest's catalog, no part fetched).
 */
export const searchTables = (input: { readonly question: string; readonly limit: number }) =>
  Effect.gen(function*() {
    const loader = yield* CacheLoader
    const document = yield* loader.getCatalogDocument
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
    const relationships = yield* Effect.flatMap(CacheLoader, (loader) => loader.getRelationships(table.table_id))
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
      total_relationships: relationships.length,
      relationships: relationships.slice(0, DESCRIBE_RELATIONSHIPS).map(relationshipJson),
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
    if (input.question === undefined && input.table_id !== undefined) {
      // A table's examples, unranked: the loader finds them (on a split cache, in the parts that hold them).
      yield* resolveTable(input.table_id)
      const total = (yield* loader.getCacheMetadata).exampleCount
      // The id as asked and the table it resolves to (a shard's family), as below.
      const matching = yield* loader.getFewShotExamples({ tableId: input.table_id, language: input.language })
      return {
        total_examples: total,
        matching_examples: matching.length,
        examples: matching.slice(0, input.limit).map((example) => exampleJson(example))
      }
    }
    // Ranking, or every example: the whole document (on a split cache, every part).
    const document = yield* loader.getDocument
    let tableIds: ReadonlyArray<string> | null = null
    if (input.table_id !== undefined) {
      const { entry } = yield* resolveTable(input.table_id)
      tableIds = [input.table_id, entry.table_id]
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

export const relationshipsInput = {
  table_id: tableIdInput.optional().describe("Only the relationships with this table on either end; every relationship when omitted"),
  limit: z.number().int().min(1).max(MAX_RELATIONSHIPS).default(50).describe("Most relationships to return")
}

/** How tables join: the document's relationships, of one table or all, most confident first. */
export const relationships = (input: { readonly table_id?: string | undefined; readonly limit: number }) =>
  Effect.gen(function*() {
    const loader = yield* CacheLoader
    const tableId = input.table_id === undefined ? undefined : yield* requireRelationshipTable(input.table_id)
    const found = yield* loader.getRelationships(tableId)
    return {
      table_id: tableId ?? null,
      total_relationships: found.length,
      relationships: found.slice(0, input.limit).map(relationshipJson)
    }
  })

export const joinPathInput = {
  from_table_id: tableIdInput.describe("The table to start from, `project.dataset.table`"),
  to_table_id: tableIdInput.describe("The table to reach, `project.dataset.table`")
}

/**
 * The shortest way to join two tables (fewest joins, then the most confident): each step's
 * relationship and its join condition, in order. `connected: false` when no path of at most
 * `DEFAULT_MAX_JOINS` joins exists.
 */
export const joinPath = (input: { readonly from_table_id: string; readonly to_table_id: string }) =>
  Effect.gen(function*() {
    const loader = yield* CacheLoader
    const from = yield* requireRelationshipTable(input.from_table_id)
    const to = yield* requireRelationshipTable(input.to_table_id)
    const path = yield* loader.getJoinPath(from, to)
    let at = from
    const steps = (path ?? []).map((r) => {
      const next = r.from.table_id === at ? r.to.table_id : r.from.table_id
      const step = { from_table_id: at, to_table_id: next, ...relationshipJson(r) }
      at = next
      return step
    })
    return {
      from_table_id: from,
      to_table_id: to,
      connected: path !== null,
      max_joins: DEFAULT_MAX_JOINS,
      joins: steps.length,
      steps,
      join_conditions: steps.map((s) => s.join_condition)
    }
  })

/**
 * The document's freshness and health: where it is, its generation and age, whether it expired, why
 * the last check failed; a split cache whose part could not be fetched is degraded (some tables
 * cannot be described) until the part loads.
 */
export const cacheStatus = Effect.gen(function*() {
  const loader = yield* CacheLoader
  const metadata = yield* loader.getCacheMetadata
  // The catalog: a split cache's manifest holds every table's status, the metrics and the drift.
  const document = metadata.available ? Option.getRight(yield* Effect.either(loader.getCatalogDocument)) : Option.none()
  const doc = Option.getOrNull(document)
  const staleTables = doc === null ? [] : doc.tables.filter((t) => t.status.state === "stale").map((t) => t.table_id)
  const status = !metadata.available
    ? "unavailable"
    : metadata.expired
    ? "expired"
    : staleTables.length > 0 || metadata.lastError !== null || metadata.lastPartError !== null
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
      "One table in full: metadata (partitioning, clustering, sharding, size), its relationships to other tables, and a page of its fields at every depth with type, description, the UNNEST joins that reach it, the expression that reads it, and its profile.",
    input: describeTableInput,
    run: describeTable
  },
  {
    name: "get_relationships",
    title: "Table relationships",
    description:
      "How tables join: the relationships (child columns → parent columns) of one table, or of every table, with their source (curated, declared, dbt, query_log, inferred), confidence, evidence, cardinality and join condition.",
    input: relationshipsInput,
    run: relationships
  },
  {
    name: "get_join_path",
    title: "Join path between two tables",
    description:
      "The shortest way to join two tables (fewest joins, most confident first): the tables passed through and the join condition of each step, ready for a JOIN … ON clause.",
    input: joinPathInput,
    run: joinPath
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
