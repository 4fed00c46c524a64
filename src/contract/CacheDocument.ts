/**
 * The cache document: the one JSON file MetaSync publishes and the backend reads.
 *
 * Versioning rule:
 * - Additive change (a new optional field with a default on decode) stays within the current
 *   `format_version`; older readers ignore fields they do not know.
 * - A breaking change adds a new version here and a migration from the previous one, so that
 *   every document ever written still decodes to the newest form.
 *
 * Every version keeps the seed's top-level `generated_at`, `schema` and `examples` fields with
 * the seed's meaning (`schema` describes the primary table), so a reader written for the seed's
 * shape — such as the original Python loader — keeps working on documents written today.
 *
 * Versions:
 * - 1 — the seed's document (no `format_version` field): one table, `{question, sql}` examples.
 * - 2 — many tables (`tables`), table metadata, example provenance; later, additively, the
 *   relationship graph (`relationships`, empty in documents written before it), the business
 *   glossary and aliases (`glossary`, `aliases`, likewise), what an incremental run kept
 *   (`incremental`, `null` before it), and dense vectors (`embeddings`, `null` unless
 *   `EMBEDDINGS=vertex`).
 * - 3 — the split layout for large warehouses: a manifest at the usual name and per-dataset parts
 *   (see `SplitDocument.ts`); joined, they are exactly a version-2 document.
 *
 * This module is shared by the sync and the backend: it imports nothing but `effect`.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { SeedColumns } from "./Field.ts"
import { SchemaDrift } from "./Drift.ts"
import { QualityMetrics } from "./Metrics.ts"
import { Alias, GlossaryTerm } from "./Glossary.ts"
import { IncrementalState } from "./Incremental.ts"
import { DocumentEmbeddings } from "./Embeddings.ts"
import { Relationship } from "./Relationship.ts"
import { TableId } from "./TableId.ts"
import { Example, makeTableEntry, type TableEntry, TableEntry as TableEntrySchema } from "./TableEntry.ts"
import { CacheDocumentError, formatIssues } from "./DocumentError.ts"
import { streamedRenderer } from "./streamedRender.ts"

export { CacheDocumentError } from "./DocumentError.ts"

export * from "./TableEntry.ts"

/** The format of one whole document: what this code writes unless the document is split. */
export const CURRENT_FORMAT_VERSION = 2
/** The newest format this code reads: 3 is the split layout (`SplitDocument.ts`). */
export const NEWEST_FORMAT_VERSION = 3

/** An ISO-8601 UTC timestamp string in the file, a `DateTime.Utc` in memory. */
const Timestamp = Schema.DateTimeUtc

// ---------------------------------------------------------------------------------------------
// Version 1: the seed's document
// ---------------------------------------------------------------------------------------------

/**
 * The seed's `schema` object: the primary table and its top-level columns (nested fields kept).
 * Its descriptions are written as strings (`""` for none), as the seed wrote them.
 */
export const SeedSchema = Schema.Struct({
  table_id: TableId,
  last_updated: Timestamp,
  columns: SeedColumns
}).annotations({ identifier: "SeedSchema" })
export type SeedSchema = typeof SeedSchema.Type

/** The seed's example: a question and the SQL that answers it. */
export const SeedExample = Schema.Struct({
  question: Schema.NonEmptyString,
  sql: Schema.NonEmptyString
}).annotations({ identifier: "SeedExample" })

/** Format version 1, exactly as the seed wrote it. */
export const CacheDocumentV1 = Schema.Struct({
  generated_at: Timestamp,
  schema: SeedSchema,
  examples: Schema.Array(SeedExample)
}).annotations({ identifier: "CacheDocumentV1" })
export type CacheDocumentV1 = typeof CacheDocumentV1.Type

// ---------------------------------------------------------------------------------------------
// Version 2: many tables
// ---------------------------------------------------------------------------------------------

/** What wrote the document. */
export const Generator = Schema.Struct({
  name: Schema.String,
  version: Schema.String
}).annotations({ identifier: "Generator" })

const CacheDocumentV2Fields = Schema.Struct({
  format_version: Schema.Literal(2),
  generated_at: Timestamp,
  generator: Generator,
  /** The seed's view of the primary table (`tables[0]`), kept for readers of the seed's shape. */
  schema: SeedSchema,
  /** Every table the document describes; the first is the primary table. */
  tables: Schema.NonEmptyArray(TableEntrySchema),
  examples: Schema.Array(Example),
  /** What changed since the document this one replaced; `null` for the first document. */
  drift: Schema.optionalWith(Schema.NullOr(SchemaDrift), { default: () => null }),
  /** Quality metrics of the run that wrote the document. */
  metrics: Schema.optionalWith(Schema.NullOr(QualityMetrics), { default: () => null }),
  /** How the tables join (see `Relationship.ts`); empty in documents written before it existed. */
  relationships: Schema.optionalWith(Schema.Array(Relationship), { default: () => [] }),
  /** The business glossary (see `Glossary.ts`); empty in documents written before it existed. */
  glossary: Schema.optionalWith(Schema.Array(GlossaryTerm), { default: () => [] }),
  /** Business names of tables and columns; empty in documents written before they existed. */
  aliases: Schema.optionalWith(Schema.Array(Alias), { default: () => [] }),
  /** What this run kept from the previous document (see `Incremental.ts`); `null` before it existed. */
  incremental: Schema.optionalWith(Schema.NullOr(IncrementalState), { default: () => null }),
  /** Dense vectors of tables, columns and examples (see `Embeddings.ts`); `null` when off or in older documents. */
  embeddings: Schema.optionalWith(Schema.NullOr(DocumentEmbeddings), { default: () => null })
})

/** Format version 2. `schema` must describe `tables[0]`. */
export const CacheDocumentV2 = CacheDocumentV2Fields.pipe(
  Schema.filter((doc) => {
    const primary = doc.tables[0]
    if (doc.schema.table_id !== primary.table_id) {
      return `schema.table_id (${doc.schema.table_id}) must be the primary table tables[0].table_id (${primary.table_id})`
    }
    if (doc.schema.columns.length !== primary.columns.length) {
      return `schema.columns must be the columns of ${primary.table_id}`
    }
    const ids = new Set<string>()
    for (const table of doc.tables) {
      if (ids.has(table.table_id)) return `table ${table.table_id} appears twice in tables`
      ids.add(table.table_id)
    }
    return undefined
  })
).annotations({ identifier: "CacheDocumentV2" })
export type CacheDocumentV2 = typeof CacheDocumentV2.Type

// ---------------------------------------------------------------------------------------------
// The newest form, and migration to it
// ---------------------------------------------------------------------------------------------

/** The document in its newest form: what the sync writes and every reader works with. */
export const CacheDocument = CacheDocumentV2
export type CacheDocument = CacheDocumentV2
export type CacheDocumentEncoded = typeof CacheDocumentV2.Encoded

/** The seed's view of a table, as the top-level `schema` field carries it. */
export const seedSchemaOf = (table: TableEntry): SeedSchema => ({
  table_id: table.table_id,
  last_updated: table.last_updated,
  columns: table.columns
})

/** Builds a current-version document; `schema` is derived from the first table. */
export const makeCacheDocument = (input: {
  readonly generated_at: CacheDocument["generated_at"]
  readonly generator: CacheDocument["generator"]
  readonly tables: CacheDocument["tables"]
  readonly examples: CacheDocument["examples"]
  readonly drift?: CacheDocument["drift"]
  readonly metrics?: CacheDocument["metrics"]
  readonly relationships?: CacheDocument["relationships"]
  readonly glossary?: CacheDocument["glossary"]
  readonly aliases?: CacheDocument["aliases"]
  readonly incremental?: CacheDocument["incremental"]
  readonly embeddings?: CacheDocument["embeddings"]
}): CacheDocument => ({
  format_version: CURRENT_FORMAT_VERSION,
  generated_at: input.generated_at,
  generator: input.generator,
  schema: seedSchemaOf(input.tables[0]),
  tables: input.tables,
  examples: input.examples,
  drift: input.drift ?? null,
  metrics: input.metrics ?? null,
  relationships: input.relationships ?? [],
  glossary: input.glossary ?? [],
  aliases: input.aliases ?? [],
  incremental: input.incremental ?? null,
  embeddings: input.embeddings ?? null
})

/**
 * Hangul only: Jamo (U+1100–11FF), compatibility Jamo (U+3130–318F), syllables (U+AC00–D7AF).
 * Kana and CJK ideographs (Japanese, Chinese) are not Korean.
 */
const HANGUL = /[\u1100-\u11FF\u3130-\u318F\uAC00-\uD7AF]/

/** Version 1 → version 2: the one table becomes `tables[0]`, examples are marked `legacy`. */
export const migrateV1 = (doc: CacheDocumentV1): CacheDocumentV2 => {
  const table = makeTableEntry({
    table_id: doc.schema.table_id,
    last_updated: doc.schema.last_updated,
    columns: doc.schema.columns
  })
  return makeCacheDocument({
    generated_at: doc.generated_at,
    generator: { name: "metasync", version: "format-1" },
    tables: [table],
    examples: doc.examples.map((e) => ({
      question: e.question,
      sql: e.sql,
      tables: [doc.schema.table_id],
      source: "legacy",
      generator: "legacy",
      language: HANGUL.test(e.question) ? "ko" : "en"
    }))
  }) as CacheDocumentV2
}

/** Reads the declared version of a parsed JSON value: 1 when the field is absent (the seed wrote none). */
const FormatVersionProbe = Schema.Struct({
  format_version: Schema.optional(Schema.Unknown)
})

/**
 * Decodes with `schema`, stopping at the first problem (the fast, common path); a document with
 * problems is decoded again collecting all of them, for a complete report.
 */
const decodeReportingAll = <A, I>(schema: Schema.Schema<A, I>) => {
  const first = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  const all = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })
  return (value: unknown): Either.Either<A, ParseResult.ParseError> => {
    const result = first(value)
    return Either.isRight(result) ? result : all(value)
  }
}

const decodeV1 = decodeReportingAll(CacheDocumentV1)
const decodeV2 = decodeReportingAll(CacheDocumentV2)
const encodeCurrent = Schema.encodeEither(CacheDocument, { errors: "all" })

/**
 * Decodes a document of any version ever written into the newest form.
 * A document from a newer MetaSync than this reader is refused with a message that says so.
 */
export const decodeCacheDocument = (
  value: unknown,
  source = "document"
): Either.Either<CacheDocument, CacheDocumentError> => {
  const fail = (problems: string) => Either.left(new CacheDocumentError({ source, problems }))
  const probe = Schema.decodeUnknownEither(FormatVersionProbe)(value)
  if (Either.isLeft(probe)) return fail("- (document): expected a JSON object")
  const version = probe.right.format_version
  if (version === undefined) {
    return Either.mapBoth(decodeV1(value), {
      onLeft: (e) => new CacheDocumentError({ source, problems: formatIssues(e) }),
      onRight: migrateV1
    })
  }
  if (version === 2) {
    return Either.mapLeft(decodeV2(value), (e) => new CacheDocumentError({ source, problems: formatIssues(e) }))
  }
  if (version === 3) {
    return fail(
      "- format_version: 3 is the split layout (a manifest and its parts), not one document: read it with MetaSync's loader or readStoredDocument, which fetch the parts"
    )
  }
  if (typeof version === "number" && Number.isInteger(version) && version > NEWEST_FORMAT_VERSION) {
    return fail(
      `- format_version: ${version} was written by a newer MetaSync; this reader understands versions 1 to ${NEWEST_FORMAT_VERSION}`
    )
  }
  return fail(`- format_version: expected 2 (or no field, for version 1), got ${JSON.stringify(version)}`)
}

/** Parses JSON text (bytes as written to storage) and decodes it. */
export const parseCacheDocument = (
  text: string,
  source = "document"
): Either.Either<CacheDocument, CacheDocumentError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Either.left(new CacheDocumentError({ source, problems: `- (document): not JSON: ${String(cause)}` }))
  }
  return decodeCacheDocument(json, source)
}

/** The document as a JSON value, checked by the codec: an invalid document never gets this far. */
export const encodeCacheDocument = (
  doc: CacheDocument,
  source = "document"
): Either.Either<CacheDocumentEncoded, CacheDocumentError> =>
  Either.mapLeft(encodeCurrent(doc), (e) => new CacheDocumentError({ source, problems: formatIssues(e) }))

/**
 * Renders the document as compact JSON text (machines read it; `metasync show` and `jq` are for
 * people); encoding checks it against the codec first.
 */
export const renderCacheDocument = (
  doc: CacheDocument,
  source = "document"
): Either.Either<string, CacheDocumentError> =>
  Either.map(encodeCacheDocument(doc, source), (encoded) => `${JSON.stringify(encoded)}\n`)

/** Fields rendered one element at a time: the rest of the document is small. */
const renderDocumentChunks = streamedRenderer(CacheDocumentV2Fields, { tables: TableEntrySchema, examples: Example })

/**
 * The document as UTF-8 chunks, rendered lazily: each call of the returned function renders it
 * again from the start (a retried upload re-streams it), and at no time does the whole text, its
 * bytes or an encoded copy of the whole tree exist — one table or example is encoded and turned
 * into text at a time. The bytes are exactly `renderCacheDocument`'s text.
 *
 * The document-wide rules (the primary table, no table twice) and everything but the tables and
 * examples are checked before this returns; a table or example that does not encode is found
 * while rendering: the iteration then throws a `CacheDocumentError` naming it (and every later
 * problem), so a consumer must treat a throw as "nothing valid was produced".
 */
export const renderCacheDocumentChunks = (
  doc: CacheDocument,
  source = "document"
): Either.Either<() => Iterable<Uint8Array>, CacheDocumentError> => {
  if (!Array.isArray(doc.tables) || doc.tables.length === 0) {
    return Either.left(new CacheDocumentError({ source, problems: "- tables: expected a non-empty array of tables" }))
  }
  const documentIssue = CacheDocumentV2.filter(doc, {}, CacheDocumentV2.ast as never)
  if (documentIssue._tag === "Some") {
    return Either.left(new CacheDocumentError({ source, problems: formatIssues(ParseResult.parseError(documentIssue.value)) }))
  }
  return renderDocumentChunks(doc, source)
}

/**
 * The document as one array of UTF-8 bytes: exactly `renderCacheDocument`'s text, built from
 * `renderCacheDocumentChunks` (for callers that need it whole; publishing streams the chunks).
 */
export const renderCacheDocumentBytes = (
  doc: CacheDocument,
  source = "document"
): Either.Either<Uint8Array, CacheDocumentError> =>
  Either.flatMap(renderCacheDocumentChunks(doc, source), (render) => {
    const chunks: Array<Uint8Array> = []
    try {
      for (const chunk of render()) chunks.push(chunk)
    } catch (error) {
      if (error instanceof CacheDocumentError) return Either.left(error)
      throw error
    }
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    return Either.right(bytes)
  })
