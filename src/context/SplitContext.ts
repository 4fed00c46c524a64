/**
 * The prompt context of a split document (format 3), in two stages, without its whole content:
 *
 * 1. Every table is ranked on the manifest: a slim document of the catalog (id, kind, description,
 *    column paths) with the manifest's relationships, glossary, aliases and embeddings, scored by
 *    the same scorers as a whole document. The candidates are the tables the request names, then
 *    the best `splitCandidateCount(maxTables)` of that ranking.
 * 2. Only the candidates' parts are fetched (by the caller); a sub-document of the candidates'
 *    full entries and the examples of those parts that read only candidates is rendered by
 *    `renderPromptContext`, and its example indexes are mapped back to the whole document's.
 *
 * Pure: the caller fetches the parts (`CacheLoader` keeps them in its part cache).
 */
import type { CacheDocument, Example, TableEntry } from "../contract/CacheDocument.ts"
import type { DocumentEmbeddings } from "../contract/Embeddings.ts"
import type { Field } from "../contract/Field.ts"
import { type CacheManifest, type CachePart, documentOfManifest } from "../contract/SplitDocument.ts"
import { makeTableEntry } from "../contract/TableEntry.ts"
import { indexOf, resolveTable } from "./DocumentIndex.ts"
import {
  candidatesOf,
  DEFAULT_MAX_TABLES,
  type PromptContext,
  type PromptContextRequest,
  renderPromptContext,
  type ScoringOptions,
  TOKENS_PER_TABLE
} from "./PromptContext.ts"
import { analyzeQuestion, DEFAULT_SCORERS, lexicalScorer, lexicalScorerWithin, scoreTables } from "./Scoring.ts"

/**
 * How many ranked tables the second stage fetches for a context of at most `maxTables`: generous,
 * because the slim ranking lacks column descriptions, sampled values and example questions, which
 * the full entries bring back in the second stage (tuned on eval/fixtures/defog-dev).
 */
export const splitCandidateCount = (maxTables: number): number => Math.max(4 * maxTables, 24)

const slimDocuments = new WeakMap<CacheManifest, CacheDocument>()

interface SlimField {
  readonly name: string
  readonly children: Map<string, SlimField>
}

/**
 * The catalog's dotted paths (every field at every depth) as a field tree: a field with children
 * is a RECORD, the others STRING (the catalog keeps no types), so that a tool counts top-level
 * columns and `flattenFields` gives back the same paths.
 */
const fieldsOfPaths = (paths: ReadonlyArray<string>): Array<Field> => {
  const root = new Map<string, SlimField>()
  for (const path of paths) {
    let level = root
    for (const name of path.split(".")) {
      let node = level.get(name)
      if (node === undefined) level.set(name, node = { name, children: new Map() })
      level = node.children
    }
  }
  const toFields = (level: Map<string, SlimField>): Array<Field> =>
    [...level.values()].map((node): Field =>
      node.children.size === 0
        ? { name: node.name, type: "STRING", mode: "NULLABLE", description: null }
        : { name: node.name, type: "RECORD", mode: "NULLABLE", description: null, fields: toFields(node.children) }
    )
  return toFields(root)
}

/**
 * The manifest as a document of slim table entries (the catalog's id, kind, description, sharding,
 * status and column paths, as flat STRING fields) and no examples: what the first stage ranks, and
 * what the loader resolves ids, relationships and the table catalog on. Built once per manifest.
 */
export const slimDocumentOf = (manifest: CacheManifest): CacheDocument => {
  const known = slimDocuments.get(manifest)
  if (known !== undefined) return known
  const tables = manifest.catalog.map((entry): TableEntry =>
    makeTableEntry({
      table_id: entry.table_id,
      last_updated: entry.last_updated,
      kind: entry.kind,
      description: entry.description,
      sharding: entry.sharding,
      status: entry.status,
      columns: fieldsOfPaths(entry.columns)
    })
  )
  const slim = documentOfManifest(manifest, tables, [])
  slimDocuments.set(manifest, slim)
  return slim
}

/** The catalog index of the table `requested` names (an exact id, a shard of a family, or `prefix*`). */
export const catalogIndexOf = (manifest: CacheManifest, requested: string): number | null => {
  const slim = slimDocumentOf(manifest)
  return resolveTable(slim.tables, indexOf(slim).byId, requested)
}

/** `request.maxTables` as `renderPromptContext` reads it. */
const maxTablesOf = (request: PromptContextRequest): number => {
  const budget = Number.isFinite(request.maxTokens) ? Math.max(0, Math.floor(request.maxTokens)) : 0
  const fallback = request.tables === undefined ? Math.max(DEFAULT_MAX_TABLES, Math.floor(budget / TOKENS_PER_TABLE)) : request.tables.length
  return request.maxTables === undefined || !Number.isFinite(request.maxTables) ? fallback : Math.max(0, Math.floor(request.maxTables))
}

/**
 * The first stage: the catalog indexes of the tables whose parts the context needs, named ones
 * first. With `request.tables`, only those; otherwise the best `splitCandidateCount` tables by
 * the scorers on the slim document (in the order a whole document's selection would try them,
 * bridges included), or the first ones when the question matches nothing.
 */
export const splitCandidates = (
  manifest: CacheManifest,
  request: PromptContextRequest,
  options?: ScoringOptions
): ReadonlyArray<number> => {
  const slim = slimDocumentOf(manifest)
  const index = indexOf(slim)
  const named: Array<number> = []
  for (const id of request.tables ?? []) {
    const t = resolveTable(slim.tables, index.byId, id)
    if (t !== null && !named.includes(t)) named.push(t)
  }
  if (request.tables !== undefined) return named
  const maxTables = maxTablesOf(request)
  const query = analyzeQuestion(index, request.question, request.questionEmbedding)
  const scores = scoreTables(slim, index, query, options?.scorers ?? DEFAULT_SCORERS)
  const ranked = candidatesOf(slim, index, scores, { ...request, tables: undefined }, maxTables)
  return ranked.slice(0, splitCandidateCount(maxTables))
}

/** The part indexes holding the catalog entries `tables`, ascending. */
export const partsOf = (manifest: CacheManifest, tables: ReadonlyArray<number>): ReadonlyArray<number> =>
  [...new Set(tables.map((t) => manifest.catalog[t]!.part))].sort((a, b) => a - b)

const examplesByPart = new WeakMap<CacheManifest, ReadonlyArray<ReadonlyArray<number>>>()

/** For each part, the whole document's indexes of its examples, in order (from `example_parts`); once per manifest. */
const exampleIndexesByPart = (manifest: CacheManifest): ReadonlyArray<ReadonlyArray<number>> => {
  const known = examplesByPart.get(manifest)
  if (known !== undefined) return known
  const out = manifest.parts.map((): Array<number> => [])
  manifest.example_parts.forEach((part, e) => out[part]!.push(e))
  examplesByPart.set(manifest, out)
  return out
}

/** The entries of the catalog's `tables` found in `parts` (part index → part), in document order. */
const entriesOf = (manifest: CacheManifest, tables: ReadonlyArray<number>, parts: ReadonlyMap<number, CachePart>): Array<TableEntry> => {
  const wanted = new Set(tables)
  const byId = new Map<string, TableEntry>()
  for (const part of parts.values()) for (const table of part.tables) byId.set(table.table_id, table)
  const out: Array<TableEntry> = []
  manifest.catalog.forEach((entry, t) => {
    const table = byId.get(entry.table_id)
    if (wanted.has(t) && table !== undefined) out.push(table)
  })
  return out
}

/** A sub-document, and for each of its examples the index of that example in the whole document. */
export interface SubDocument {
  readonly document: CacheDocument
  readonly exampleIndexes: ReadonlyArray<number>
}

/**
 * The document the second stage renders: the full entries of the catalog's `tables` (document
 * order), and the examples of `parts` that read only those tables (document order), with the
 * manifest's relationships, glossary and aliases; embedding keys of examples (`e:<index>`) are
 * renumbered to the sub-document's examples, those of tables and columns of other tables dropped.
 */
export const subDocumentOf = (
  manifest: CacheManifest,
  tables: ReadonlyArray<number>,
  parts: ReadonlyMap<number, CachePart>
): SubDocument => {
  const entries = entriesOf(manifest, tables, parts)
  const byId = new Map(entries.map((t, i) => [t.table_id as string, i]))
  const readsOnlyThese = (example: Example) =>
    example.tables.length > 0 && example.tables.every((id) => resolveTable(entries, byId, id) !== null)
  const byPart = exampleIndexesByPart(manifest)
  const picked: Array<{ readonly global: number; readonly example: Example }> = []
  for (const [p, part] of parts) {
    part.examples.forEach((example, i) => {
      if (readsOnlyThese(example)) picked.push({ global: byPart[p]![i]!, example })
    })
  }
  picked.sort((a, b) => a.global - b.global)
  const exampleIndexes = picked.map((p) => p.global)
  const document = documentOfManifest(
    manifest,
    entries,
    picked.map((p) => p.example),
    subEmbeddings(manifest.embeddings, new Set(byId.keys()), exampleIndexes)
  )
  return { document, exampleIndexes }
}

/** The vectors of `tables` (and their columns) and of the sub-document's examples, renumbered. */
const subEmbeddings = (
  embeddings: DocumentEmbeddings | null,
  tables: ReadonlySet<string>,
  exampleIndexes: ReadonlyArray<number>
): DocumentEmbeddings | null => {
  if (embeddings === null) return null
  const local = new Map(exampleIndexes.map((global, i) => [`e:${global}`, `e:${i}`]))
  const vectors = embeddings.vectors.flatMap((v) => {
    if (v.key.startsWith("e:")) {
      const key = local.get(v.key)
      return key === undefined ? [] : [{ ...v, key }]
    }
    if (v.key.startsWith("t:")) return tables.has(v.key.slice(2)) ? [v] : []
    // A table id may hold a `:` (`example.com:project.dataset.table`): match on the whole prefix.
    for (const id of tables) if (v.key.startsWith(`c:${id}:`)) return [v]
    return []
  })
  return { ...embeddings, vectors }
}

/**
 * The second stage: `request` rendered from the sub-document of `tables` and `parts`, with the
 * context's example indexes those of the whole document.
 */
export const renderSplitPromptContext = (
  manifest: CacheManifest,
  tables: ReadonlyArray<number>,
  parts: ReadonlyMap<number, CachePart>,
  request: PromptContextRequest,
  options?: ScoringOptions
): PromptContext => {
  const { document, exampleIndexes } = subDocumentOf(manifest, tables, parts)
  if (document.tables.length === 0) {
    return { text: "", tokens: 0, tables: [], columns: [], examples: [], glossary: [], omitted: { tables: 0, examples: 0, columns: 0 } }
  }
  const whole = indexOf(slimDocumentOf(manifest)).tables
  const scorers = (options?.scorers ?? DEFAULT_SCORERS).map((s) => (s === lexicalScorer ? lexicalScorerWithin(whole) : s))
  const context = renderPromptContext(document, request, { scorers })
  return { ...context, examples: context.examples.map((e) => exampleIndexes[e]!) }
}
