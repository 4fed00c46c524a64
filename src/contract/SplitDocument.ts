/**
 * The split layout (format 3): a large warehouse's document as a small manifest plus parts.
 *
 * Why: a 10,000-table document is over 100 MiB; a backend that loads it whole grows by over half a
 * GiB. Split, the backend keeps only the manifest (ids, descriptions and column names of every
 * table, the relationship graph, the glossary) and fetches the parts a question needs.
 *
 * - The **manifest** is the object at the usual name. It keeps the seed's `generated_at`, `schema`
 *   (the primary table) and `examples` (a copy of the primary table's), lists every table in a
 *   `catalog` with the part that holds it, and references each **part** by object name and
 *   storage generation, so a manifest never points at a half-written or replaced set.
 * - A **part** holds the full entries of the tables of one dataset (a dataset over
 *   `maxPartTables` tables is cut into several parts) and the examples whose first table is one of
 *   them, in document order.
 * - `joinDocument(manifest, parts)` gives back exactly the format-2 document `planParts` split: the
 *   catalog restores the order of the tables, `example_parts` that of the examples.
 *
 * This module is shared by the sync and the backend: it imports nothing but `effect`.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { type CacheDocument, CURRENT_FORMAT_VERSION, Generator, SeedSchema } from "./CacheDocument.ts"
import { CacheDocumentError, formatIssues } from "./DocumentError.ts"
import { SchemaDrift } from "./Drift.ts"
import { DocumentEmbeddings } from "./Embeddings.ts"
import { flattenFields } from "./Field.ts"
import { Alias, GlossaryTerm } from "./Glossary.ts"
import { IncrementalState } from "./Incremental.ts"
import { QualityMetrics } from "./Metrics.ts"
import { Relationship } from "./Relationship.ts"
import { streamedRenderer } from "./streamedRender.ts"
import { Example, Sharding, TableEntry, TableKind, TableStatus } from "./TableEntry.ts"
import { TableId } from "./TableId.ts"

/** The format of the split layout's manifest and parts. */
export const SPLIT_FORMAT_VERSION = 3

/** Tables in one part at most, by default: a part of 500 bench tables is about 6 MB. */
export const DEFAULT_MAX_PART_TABLES = 500

const Timestamp = Schema.DateTimeUtc
const Count = Schema.NonNegativeInt

/** One table as the manifest lists it: enough to find it, rank it for a question, and fetch it. */
export const CatalogEntry = Schema.Struct({
  table_id: TableId,
  /** Index into the manifest's `parts`. */
  part: Count,
  kind: TableKind,
  description: Schema.NullOr(Schema.String),
  last_updated: Timestamp,
  sharding: Schema.NullOr(Sharding),
  status: TableStatus,
  /** Every field at every depth, as a dotted path (`device.category`). */
  columns: Schema.Array(Schema.String)
}).annotations({ identifier: "CatalogEntry" })
export type CatalogEntry = typeof CatalogEntry.Type

/** Where a part is stored, and what a reader checks it against. */
export const PartRef = Schema.Struct({
  /** `project.dataset`, or `project.dataset-2`, … for the further parts of a large dataset. */
  key: Schema.NonEmptyString,
  /** The part's object name in the bucket (or directory) of the manifest. */
  object: Schema.NonEmptyString,
  /** The storage generation the part was written with: a reader refuses any other. */
  generation: Schema.NonEmptyString,
  bytes: Count,
  /** Base64 MD5 of the part's bytes, when the store reports one. */
  md5: Schema.NullOr(Schema.String),
  tables: Count,
  examples: Count,
  /**
   * Tables of other parts that this part's examples read (an example lives with its first table):
   * a reader looking for every example of a table fetches its own part and those naming it here.
   */
  example_tables: Schema.Array(TableId)
}).annotations({ identifier: "PartRef" })
export type PartRef = typeof PartRef.Type

/** What the writer of a part knows once it is stored: the rest of its `PartRef` comes from the plan. */
export type StoredPart = Pick<PartRef, "object" | "generation" | "bytes" | "md5">

const CacheManifestFields = Schema.Struct({
  format_version: Schema.Literal(3),
  layout: Schema.Literal("manifest"),
  generated_at: Timestamp,
  generator: Generator,
  /** The seed's view of the primary table (`catalog[0]`). */
  schema: SeedSchema,
  /** A copy of the examples that read the primary table, for readers of the seed's shape. */
  examples: Schema.Array(Example),
  /** Every table, in document order; the first is the primary table. */
  catalog: Schema.NonEmptyArray(CatalogEntry),
  parts: Schema.NonEmptyArray(PartRef),
  /** For each example of the document, in order, the index of the part that holds it. */
  example_parts: Schema.Array(Count),
  drift: Schema.NullOr(SchemaDrift),
  metrics: Schema.NullOr(QualityMetrics),
  relationships: Schema.Array(Relationship),
  glossary: Schema.Array(GlossaryTerm),
  aliases: Schema.Array(Alias),
  incremental: Schema.NullOr(IncrementalState),
  embeddings: Schema.NullOr(DocumentEmbeddings)
})

/** What makes a manifest consistent: its catalog, parts and example indexes agree. */
const manifestProblem = (manifest: typeof CacheManifestFields.Type): string | undefined => {
  if (manifest.schema.table_id !== manifest.catalog[0].table_id) {
    return `schema.table_id (${manifest.schema.table_id}) must be the primary table catalog[0].table_id (${manifest.catalog[0].table_id})`
  }
  const ids = new Set<string>()
  const tables = new Array<number>(manifest.parts.length).fill(0)
  for (const entry of manifest.catalog) {
    if (ids.has(entry.table_id)) return `table ${entry.table_id} appears twice in catalog`
    ids.add(entry.table_id)
    if (entry.part >= manifest.parts.length) return `catalog entry ${entry.table_id} names part ${entry.part}; there are ${manifest.parts.length}`
    tables[entry.part]!++
  }
  const examples = new Array<number>(manifest.parts.length).fill(0)
  for (const part of manifest.example_parts) {
    if (part >= manifest.parts.length) return `example_parts names part ${part}; there are ${manifest.parts.length}`
    examples[part]!++
  }
  const keys = new Set<string>()
  for (const [i, part] of manifest.parts.entries()) {
    if (keys.has(part.key)) return `part ${part.key} appears twice in parts`
    keys.add(part.key)
    if (part.tables !== tables[i]) return `parts.${i} (${part.key}) says ${part.tables} tables; the catalog puts ${tables[i]} there`
    if (part.examples !== examples[i]) return `parts.${i} (${part.key}) says ${part.examples} examples; example_parts puts ${examples[i]} there`
    if (part.tables === 0) return `parts.${i} (${part.key}) holds no table`
  }
  return undefined
}

/** The split layout's manifest. */
export const CacheManifest = CacheManifestFields.pipe(Schema.filter(manifestProblem)).annotations({ identifier: "CacheManifest" })
export type CacheManifest = typeof CacheManifest.Type

/** One part: full table entries and examples, as in format 2. */
export const CachePart = Schema.Struct({
  format_version: Schema.Literal(3),
  layout: Schema.Literal("part"),
  key: Schema.NonEmptyString,
  generated_at: Timestamp,
  tables: Schema.NonEmptyArray(TableEntry),
  examples: Schema.Array(Example)
}).annotations({ identifier: "CachePart" })
export type CachePart = typeof CachePart.Type

// ---------------------------------------------------------------------------------------------
// Splitting and joining
// ---------------------------------------------------------------------------------------------

/** A part before it is written: its key and contents. */
export interface PlannedPart {
  readonly key: string
  readonly tables: ReadonlyArray<CacheDocument["tables"][number]>
  readonly examples: ReadonlyArray<CacheDocument["examples"][number]>
  /** Tables of other parts its examples read, sorted. */
  readonly exampleTables: ReadonlyArray<TableId>
}

/** How a document is cut: its parts, and for each table and example the part that holds it. */
export interface SplitPlan {
  readonly parts: ReadonlyArray<PlannedPart>
  readonly tablePart: ReadonlyArray<number>
  readonly examplePart: ReadonlyArray<number>
}

/** `project.dataset` of a table id (`project.dataset.table`). */
export const datasetOf = (tableId: string): string => tableId.slice(0, tableId.lastIndexOf("."))

/**
 * Cuts `doc` into parts: one per dataset, in order of first appearance, a dataset of more than
 * `maxPartTables` tables into several (`key`, `key-2`, …: dataset names cannot hold a `-`). An
 * example goes with its first table the document describes (a shard id or `prefix*` finds its
 * family), else with the first part of that table's dataset, else with the primary table's part.
 */
export const planParts = (doc: CacheDocument, maxPartTables = DEFAULT_MAX_PART_TABLES): SplitPlan => {
  if (!Number.isInteger(maxPartTables) || maxPartTables < 1) throw new RangeError(`maxPartTables must be a positive integer, got ${maxPartTables}`)
  const parts: Array<{ key: string; tables: Array<PlannedPart["tables"][number]>; examples: Array<PlannedPart["examples"][number]> }> = []
  const open = new Map<string, { index: number; count: number; chunk: number }>()
  const firstPartOfDataset = new Map<string, number>()
  const tablePart: Array<number> = []
  const partOfTable = new Map<string, number>()
  const partOfFamily = new Map<string, number>()
  for (const table of doc.tables) {
    const dataset = datasetOf(table.table_id)
    let current = open.get(dataset)
    if (current === undefined || current.count >= maxPartTables) {
      const chunk = current === undefined ? 1 : current.chunk + 1
      current = { index: parts.length, count: 0, chunk }
      parts.push({ key: chunk === 1 ? dataset : `${dataset}-${chunk}`, tables: [], examples: [] })
      open.set(dataset, current)
      if (chunk === 1) firstPartOfDataset.set(dataset, current.index)
    }
    parts[current.index]!.tables.push(table)
    current.count++
    tablePart.push(current.index)
    partOfTable.set(table.table_id, current.index)
    if (table.sharding !== null) partOfFamily.set(`${dataset}.${table.sharding.prefix}`, current.index)
  }
  /** A table id's part: the table's, its sharded family's (a shard id or `prefix*`), or its dataset's first. */
  const partOfId = (id: string): number | undefined =>
    partOfTable.get(id) ?? partOfFamily.get(id.replace(/(\d+|\*)$/, "")) ?? firstPartOfDataset.get(datasetOf(id))
  const foreign = parts.map(() => new Set<TableId>())
  const examplePart = doc.examples.map((example) => {
    let part: number | undefined
    for (const id of example.tables) {
      part = partOfId(id)
      if (part !== undefined) break
    }
    const index = part ?? 0
    parts[index]!.examples.push(example)
    for (const id of example.tables) if (partOfTable.get(id) !== index) foreign[index]!.add(id)
    return index
  })
  return {
    parts: parts.map((part, i) => ({ ...part, exampleTables: [...foreign[i]!].sort() })),
    tablePart,
    examplePart
  }
}

/** A part ready to render, of a document generated at `generatedAt`. */
export const makePart = (planned: PlannedPart, generatedAt: CacheDocument["generated_at"]): CachePart => ({
  format_version: 3,
  layout: "part",
  key: planned.key,
  generated_at: generatedAt,
  tables: planned.tables as CachePart["tables"],
  examples: planned.examples
})

/** Every field path of a table, dotted: what the manifest's catalog lists as its columns. */
export const catalogColumns = (table: CacheDocument["tables"][number]): ReadonlyArray<string> =>
  table.field_paths.length > 0 ? table.field_paths.map((f) => f.path) : flattenFields(table.columns).map((f) => f.path)

/** The manifest of `doc` cut as `plan`, its parts stored as `stored` (one per planned part, in order). */
export const makeManifest = (doc: CacheDocument, plan: SplitPlan, stored: ReadonlyArray<StoredPart>): CacheManifest => {
  if (stored.length !== plan.parts.length) throw new RangeError(`${plan.parts.length} parts were planned; ${stored.length} were stored`)
  const refs = plan.parts.map((part, i): PartRef => ({
    key: part.key,
    ...stored[i]!,
    tables: part.tables.length,
    examples: part.examples.length,
    example_tables: part.exampleTables
  }))
  const primary = doc.tables[0].table_id
  const catalog = doc.tables.map((table, i): CatalogEntry => ({
    table_id: table.table_id,
    part: plan.tablePart[i]!,
    kind: table.kind,
    description: table.description,
    last_updated: table.last_updated,
    sharding: table.sharding,
    status: table.status,
    columns: catalogColumns(table)
  }))
  return {
    format_version: 3,
    layout: "manifest",
    generated_at: doc.generated_at,
    generator: doc.generator,
    schema: doc.schema,
    examples: doc.examples.filter((e) => e.tables.includes(primary)),
    catalog: catalog as unknown as CacheManifest["catalog"],
    parts: refs as unknown as CacheManifest["parts"],
    example_parts: plan.examplePart,
    drift: doc.drift,
    metrics: doc.metrics,
    relationships: doc.relationships,
    glossary: doc.glossary,
    aliases: doc.aliases,
    incremental: doc.incremental,
    embeddings: doc.embeddings
  }
}

/** A part that does not belong to the manifest it was fetched for. */
const partMismatch = (manifest: CacheManifest, index: number, part: CachePart): string | undefined => {
  const ref = manifest.parts[index]!
  if (part.key !== ref.key) return `parts.${index}: the object ${ref.object} holds part ${part.key}, not ${ref.key}`
  if (part.tables.length !== ref.tables) return `parts.${index} (${ref.key}): ${part.tables.length} tables, the manifest says ${ref.tables}`
  if (part.examples.length !== ref.examples) return `parts.${index} (${ref.key}): ${part.examples.length} examples, the manifest says ${ref.examples}`
  return undefined
}

/**
 * The format-2 document a manifest and its parts (all of them, in the manifest's order) stand
 * for; a part that does not match the manifest is refused with a message naming it.
 */
export const joinDocument = (
  manifest: CacheManifest,
  parts: ReadonlyArray<CachePart>,
  source = "document"
): Either.Either<CacheDocument, CacheDocumentError> => {
  const fail = (problems: string) => Either.left(new CacheDocumentError({ source, problems: `- ${problems}` }))
  if (parts.length !== manifest.parts.length) return fail(`parts: the manifest names ${manifest.parts.length} parts; ${parts.length} were given`)
  for (let i = 0; i < parts.length; i++) {
    const problem = partMismatch(manifest, i, parts[i]!)
    if (problem !== undefined) return fail(problem)
  }
  const nextTable = new Array<number>(parts.length).fill(0)
  const tables = manifest.catalog.map((entry) => parts[entry.part]!.tables[nextTable[entry.part]!++]!)
  for (const [i, entry] of manifest.catalog.entries()) {
    if (tables[i]!.table_id !== entry.table_id) {
      return fail(`catalog.${i}: the manifest lists ${entry.table_id}; part ${manifest.parts[entry.part]!.key} holds ${tables[i]!.table_id} there`)
    }
  }
  const nextExample = new Array<number>(parts.length).fill(0)
  const examples = manifest.example_parts.map((part) => parts[part]!.examples[nextExample[part]!++]!)
  return Either.right(documentOfManifest(manifest, tables, examples))
}

/**
 * A format-2 document with the manifest's document-wide fields and the given tables and examples:
 * all of them (the join), or a part of them (what a reader ranks or renders). Its `schema` is the
 * manifest's primary table, whichever tables are given.
 */
export const documentOfManifest = (
  manifest: CacheManifest,
  tables: ReadonlyArray<CacheDocument["tables"][number]>,
  examples: ReadonlyArray<CacheDocument["examples"][number]>,
  embeddings: CacheDocument["embeddings"] = manifest.embeddings
): CacheDocument => ({
  format_version: CURRENT_FORMAT_VERSION,
  generated_at: manifest.generated_at,
  generator: manifest.generator,
  schema: manifest.schema,
  tables: tables as unknown as CacheDocument["tables"],
  examples,
  drift: manifest.drift,
  metrics: manifest.metrics,
  relationships: manifest.relationships,
  glossary: manifest.glossary,
  aliases: manifest.aliases,
  incremental: manifest.incremental,
  embeddings
})

// ---------------------------------------------------------------------------------------------
// Rendering and decoding
// ---------------------------------------------------------------------------------------------

const renderManifest = streamedRenderer(CacheManifestFields, { catalog: CatalogEntry, examples: Example })
const renderPart = streamedRenderer(CachePart, { tables: TableEntry, examples: Example })

/** The manifest as UTF-8 chunks (see `renderCacheDocumentChunks`), its consistency checked first. */
export const renderManifestChunks = (
  manifest: CacheManifest,
  source = "manifest"
): Either.Either<() => Iterable<Uint8Array>, CacheDocumentError> => {
  const problem = manifestProblem(manifest)
  if (problem !== undefined) return Either.left(new CacheDocumentError({ source, problems: `- (manifest): ${problem}` }))
  return renderManifest(manifest, source)
}

/** A part as UTF-8 chunks (see `renderCacheDocumentChunks`). */
export const renderPartChunks = (
  part: CachePart,
  source = "part"
): Either.Either<() => Iterable<Uint8Array>, CacheDocumentError> => renderPart(part, source)

const decodeWith = <A, I>(schema: Schema.Schema<A, I>) => {
  const first = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  const all = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  return (value: unknown, source: string): Either.Either<A, CacheDocumentError> => {
    const result = first(value)
    if (Either.isRight(result)) return Either.right(result.right)
    return Either.mapLeft(all(value) as Either.Either<A, ParseResult.ParseError>, (e) => new CacheDocumentError({ source, problems: formatIssues(e) }))
  }
}

/** A parsed JSON value as a manifest. */
export const decodeManifest = decodeWith(CacheManifest)
/** A parsed JSON value as a part. */
export const decodePart = decodeWith(CachePart)

/** Whether a parsed JSON value declares itself a split-layout object, and which. */
export const splitLayoutOf = (json: unknown): "manifest" | "part" | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const { format_version, layout } = json as { format_version?: unknown; layout?: unknown }
  return format_version === 3 && (layout === "manifest" || layout === "part") ? layout : undefined
}
