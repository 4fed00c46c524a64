/**
 * The backend's view of the cache: the seed's System B loader (`get_schema_info`,
 * `get_few_shot_examples`, `get_schema_columns`, `is_cache_available`, `get_cache_metadata`) as
 * an Effect service over `StorageService`.
 *
 * - The decoded document is kept in memory and re-checked on access once `refreshInterval` has
 *   passed (no background timer, so nothing keeps a process alive and TestClock drives it), or
 *   once `retryInterval` has passed after a failed check.
 *   A re-check `stat`s the object first and downloads only when its generation changed.
 * - Concurrent callers that find the copy due share one check.
 * - A missing, corrupt or unreadable object never replaces a good copy: the loader keeps serving
 *   the last good document and records why in `lastError`. A document older than `maxAge`, or
 *   generated in the future (beyond `MAX_FUTURE_SKEW`), is still served, flagged `expired`.
 * - Every check `stat`s first: an object over `maxDocumentBytes` is never downloaded.
 * - Until a good copy has been loaded, data methods fail with `CacheUnavailable` and every access
 *   tries again.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import {
  type CacheDocument,
  type Example,
  Generator,
  type Language,
  SeedSchema,
  type TableEntry
} from "../contract/CacheDocument.ts"
import { type FieldPath, flattenFields } from "../contract/Field.ts"
import { DEFAULT_MAX_DOCUMENT_BYTES, isGeneratedInTheFuture } from "../contract/Limits.ts"
import type { Relationship } from "../contract/Relationship.ts"
import { joinGraphOf } from "../context/JoinGraph.ts"
import { type ObjectInfo, type StorageError, StorageService } from "../services/Storage/StorageService.ts"
import {
  prepareDocument,
  type PromptContext,
  type PromptContextRequest,
  renderPromptContext,
  renderTableCatalog,
  type TableCatalog,
  type TableCatalogRequest
} from "../context/PromptContext.ts"
import { decodeDocumentBytes } from "../contract/DocumentBytes.ts"
import { type QuestionEmbedder, withQuestionEmbedding } from "./QuestionEmbedding.ts"

/** The object the sync publishes, as the seed named it. */
export const DEFAULT_OBJECT_NAME = "metadata_cache.json"
/** How long the in-memory copy is trusted before storage is checked again (the seed's System B: 1 hour). */
export const DEFAULT_REFRESH_INTERVAL: Duration.DurationInput = "1 hour"
/** How old a document may be before it is flagged expired (the seed's cache expiry: 24 hours). */
export const DEFAULT_MAX_AGE: Duration.DurationInput = "24 hours"
/** After a failed check, how soon an access checks again (a storage blip should not cost an hour). */
export const DEFAULT_RETRY_INTERVAL: Duration.DurationInput = "1 minute"

/** No good copy of the document has ever been loaded. */
export class CacheUnavailable extends Schema.TaggedError<CacheUnavailable>()("CacheUnavailable", {
  /** Where the document was looked for: `gs://bucket/object` or a file path. */
  location: Schema.String,
  /** Why the last attempt failed. */
  reason: Schema.String
}) {
  override get message(): string {
    return `the MetaSync cache at ${this.location} is unavailable: ${this.reason}`
  }
}

/** A table id the document does not describe. */
export class TableNotCached extends Schema.TaggedError<TableNotCached>()("TableNotCached", {
  table_id: Schema.String,
  location: Schema.String,
  /** The tables the document does describe. */
  cached: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.table_id} is not in the MetaSync cache at ${this.location}; it describes ${this.cached.join(", ")}`
  }
}

/** The seed's `get_schema_info()`: the primary table's `table_id`, `last_updated` and `columns`, plus its description. */
export const SchemaInfo = Schema.Struct({
  ...SeedSchema.fields,
  description: Schema.NullOr(Schema.String)
}).annotations({ identifier: "SchemaInfo" })
export type SchemaInfo = typeof SchemaInfo.Type

/** Why the last check did not load a document. */
export const LoadFailure = Schema.Struct({
  /** The error's tag: `CacheDocumentError`, `ResourceNotFound`, `RemoteUnavailable`, … */
  tag: Schema.String,
  /** Readable, naming the object and the problem. */
  message: Schema.String,
  at: Schema.DateTimeUtc
}).annotations({ identifier: "LoadFailure" })
export type LoadFailure = typeof LoadFailure.Type

/**
 * The seed's `get_cache_metadata()`. Fields copied from the document keep the document's names
 * (`generated_at`, `format_version`); the loader's own are camelCase.
 */
export const CacheMetadata = Schema.Struct({
  /** A good copy is in memory (data methods succeed). */
  available: Schema.Boolean,
  /** Where the document lives: `gs://bucket/object` or a file path. */
  location: Schema.String,
  /** The storage generation of the copy in memory. */
  generation: Schema.NullOr(Schema.String),
  /** The version the document was written in (1 for the seed's documents), before migration. */
  format_version: Schema.NullOr(Schema.Number),
  generated_at: Schema.NullOr(Schema.DateTimeUtc),
  generator: Schema.NullOr(Generator),
  /** Time since `generated_at` (milliseconds once encoded). */
  age: Schema.NullOr(Schema.DurationFromMillis),
  /**
   * Older than `maxAge`, or generated in the future (a wrong clock or a hand-edited file): still
   * served, but the sync has not published a trustworthy document for too long.
   */
  expired: Schema.Boolean,
  /** When the copy in memory was downloaded. */
  loadedAt: Schema.NullOr(Schema.DateTimeUtc),
  /** When storage was last checked, whatever the outcome. */
  checkedAt: Schema.NullOr(Schema.DateTimeUtc),
  /** Why the last check failed; `null` when it succeeded. */
  lastError: Schema.NullOr(LoadFailure),
  tableCount: Schema.Number,
  exampleCount: Schema.Number
}).annotations({ identifier: "CacheMetadata" })
export type CacheMetadata = typeof CacheMetadata.Type

export interface ExampleFilter {
  /** Only examples whose SQL reads this table. */
  readonly tableId?: string | undefined
  readonly language?: Language | undefined
}

export interface CacheLoaderOptions {
  /** The object to read; `metadata_cache.json` by default. */
  readonly objectName?: string | undefined
  /** Default 1 hour. */
  readonly refreshInterval?: Duration.DurationInput | undefined
  /** Default 24 hours. */
  readonly maxAge?: Duration.DurationInput | undefined
  /** After a failed check; default 1 minute, never longer than `refreshInterval`. */
  readonly retryInterval?: Duration.DurationInput | undefined
  /** A larger object is not downloaded (the last good copy stays); default 64 MiB. */
  readonly maxDocumentBytes?: number | undefined
  /** Build the prompt context's index when a document is loaded (default); `false` builds it on the first question. */
  readonly prepareContext?: boolean | undefined
  /**
   * Embeds a question when `getPromptContext` is asked without `questionEmbedding` and the document
   * has vectors of the embedder's model (see `QuestionEmbedding.ts`); none by default.
   */
  readonly questionEmbedder?: QuestionEmbedder | undefined
}

export interface CacheLoaderApi {
  readonly getSchemaInfo: Effect.Effect<SchemaInfo, CacheUnavailable>
  readonly getFewShotExamples: (filter?: ExampleFilter) => Effect.Effect<ReadonlyArray<Example>, CacheUnavailable>
  /** Every column and nested field of a table (the primary table by default), with dotted paths. */
  readonly getSchemaColumns: (
    tableId?: string
  ) => Effect.Effect<ReadonlyArray<FieldPath>, CacheUnavailable | TableNotCached>
  /** A table by id; a date shard or `prefix*` of a sharded family finds the family. */
  readonly getTable: (tableId: string) => Effect.Effect<Option.Option<TableEntry>, CacheUnavailable>
  readonly listTables: Effect.Effect<ReadonlyArray<TableEntry>, CacheUnavailable>
  /** The whole document, in its newest form. */
  readonly getDocument: Effect.Effect<CacheDocument, CacheUnavailable>
  /** The tables and examples most relevant to a question, rendered for a prompt within a token budget. */
  readonly getPromptContext: (request: PromptContextRequest) => Effect.Effect<PromptContext, CacheUnavailable>
  /**
   * Every table on one compact line (id, short description, aliases) within a budget, for a model
   * to choose from; then `getPromptContext({ …, tables: chosen })` renders the chosen ones.
   */
  readonly getTableCatalog: (request: TableCatalogRequest) => Effect.Effect<TableCatalog, CacheUnavailable>
  readonly isCacheAvailable: Effect.Effect<boolean>
  /** The relationships with `tableId` on either end (a shard finds its family), or all of them; most confident first. */
  readonly getRelationships: (tableId?: string) => Effect.Effect<ReadonlyArray<Relationship>, CacheUnavailable>
  /** The joins from table `from` to table `to` by the fewest relationships; `null` when they do not connect. */
  readonly getJoinPath: (from: string, to: string) => Effect.Effect<ReadonlyArray<Relationship> | null, CacheUnavailable>
  readonly getCacheMetadata: Effect.Effect<CacheMetadata>
  /** Checks storage now, whatever the copy's age; returns the metadata after the check. */
  readonly refresh: Effect.Effect<CacheMetadata>
}

interface Loaded {
  readonly document: CacheDocument
  readonly formatVersion: number
  readonly generation: string
  readonly loadedAt: number
}

interface State {
  readonly loaded: Option.Option<Loaded>
  /** Bumped by every check, so callers that waited for one can tell it happened. */
  readonly checks: number
  readonly checkedAt: number | null
  readonly lastError: LoadFailure | null
  /** A generation that did not decode: not downloaded again until the object changes. */
  readonly rejected: { readonly generation: string; readonly failure: Omit<LoadFailure, "at"> } | null
}

type Outcome =
  | { readonly _tag: "Unchanged" }
  | { readonly _tag: "Loaded"; readonly document: CacheDocument; readonly formatVersion: number; readonly generation: string }
  | {
    readonly _tag: "Failed"
    readonly failure: Omit<LoadFailure, "at">
    readonly rejectedGeneration: string | null
  }

/**
 * The table `requested` names: an exact id, or for a date-sharded family any shard id within its
 * range or the `prefix*` wildcard.
 */
export const findTable = (document: CacheDocument, requested: string): Option.Option<TableEntry> => {
  const exact = document.tables.find((t) => t.table_id === requested)
  if (exact !== undefined) return Option.some(exact)
  return Option.fromNullable(document.tables.find((t) => {
    if (t.sharding === null) return false
    const { first_suffix, last_suffix, prefix } = t.sharding
    const dataset = t.table_id.slice(0, t.table_id.lastIndexOf(".") + 1)
    const family = dataset + prefix
    if (!requested.startsWith(family)) return false
    const suffix = requested.slice(family.length)
    return suffix === "*" ||
      (suffix.length === first_suffix.length && suffix >= first_suffix && suffix <= last_suffix)
  }))
}

const make = (options: CacheLoaderOptions | undefined) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const objectName = options?.objectName ?? DEFAULT_OBJECT_NAME
    const refreshMillis = Duration.toMillis(Duration.decode(options?.refreshInterval ?? DEFAULT_REFRESH_INTERVAL))
    const maxAgeMillis = Duration.toMillis(Duration.decode(options?.maxAge ?? DEFAULT_MAX_AGE))
    const retryMillis = Math.min(
      refreshMillis,
      Duration.toMillis(Duration.decode(options?.retryInterval ?? DEFAULT_RETRY_INTERVAL))
    )
    const maxDocumentBytes = options?.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES
    const location = storage.locate(objectName)
    const state = yield* Ref.make<State>({
      loaded: Option.none(),
      checks: 0,
      checkedAt: null,
      lastError: null,
      rejected: null
    })
    const checkLock = yield* Effect.makeSemaphore(1)

    const missing = { tag: "ResourceNotFound", message: `${location} does not exist` }

    const storageFailure = (error: StorageError) => ({
      tag: error._tag,
      message: `reading ${location} failed: ${error.message}`
    })

    const decode = (bytes: Uint8Array, generation: string): Outcome =>
      Either.match(decodeDocumentBytes(bytes, location), {
        onLeft: (error): Outcome => ({
          _tag: "Failed",
          failure: { tag: error._tag, message: error.message },
          rejectedGeneration: generation
        }),
        onRight: ({ document, formatVersion }): Outcome => {
          // The prompt context's index, once per document generation, rather than on the first question.
          if (options?.prepareContext !== false) prepareDocument(document)
          return { _tag: "Loaded", document, formatVersion, generation }
        }
      })

    const tooLarge = (info: Pick<ObjectInfo, "generation" | "size">): Outcome => ({
      _tag: "Failed",
      failure: {
        tag: "DocumentTooLarge",
        message: `${location} (generation ${info.generation}) has ${info.size} bytes, over the loader's maxDocumentBytes (${maxDocumentBytes}); not loaded`
      },
      rejectedGeneration: info.generation
    })

    const download: Effect.Effect<Outcome, StorageError> = Effect.map(
      storage.read(objectName),
      Option.match({
        onNone: (): Outcome => ({ _tag: "Failed", failure: missing, rejectedGeneration: null }),
        // The object may have been replaced by a larger one since its stat.
        onSome: (content) =>
          content.bytes.byteLength > maxDocumentBytes
            ? tooLarge({ generation: content.info.generation, size: content.bytes.byteLength })
            : decode(content.bytes, content.info.generation)
      })
    )

    /** A `stat` first, always: its size decides whether the object may be downloaded at all. */
    const fetch = (before: State): Effect.Effect<Outcome, StorageError> => {
      const known = Option.match(before.loaded, { onNone: () => null, onSome: (l) => l.generation })
      return Effect.flatMap(storage.stat(objectName), (info) => {
        if (Option.isNone(info)) {
          return Effect.succeed<Outcome>({ _tag: "Failed", failure: missing, rejectedGeneration: null })
        }
        const generation = info.value.generation
        if (generation === known) return Effect.succeed<Outcome>({ _tag: "Unchanged" })
        if (before.rejected !== null && generation === before.rejected.generation) {
          return Effect.succeed<Outcome>({ _tag: "Failed", failure: before.rejected.failure, rejectedGeneration: generation })
        }
        if (info.value.size > maxDocumentBytes) return Effect.succeed(tooLarge(info.value))
        return download
      })
    }

    /** One check of storage; callers hold `checkLock`. */
    const check = Effect.gen(function*() {
      const before = yield* Ref.get(state)
      const outcome = yield* fetch(before).pipe(
        Effect.catchAll((error) =>
          Effect.succeed<Outcome>({ _tag: "Failed", failure: storageFailure(error), rejectedGeneration: null })
        )
      )
      const now = yield* Clock.currentTimeMillis
      const checked = { checks: before.checks + 1, checkedAt: now }
      switch (outcome._tag) {
        case "Unchanged":
          yield* Ref.set(state, { ...before, ...checked, lastError: null })
          return
        case "Loaded":
          yield* Ref.set(state, {
            ...checked,
            loaded: Option.some({
              document: outcome.document,
              formatVersion: outcome.formatVersion,
              generation: outcome.generation,
              loadedAt: now
            }),
            lastError: null,
            rejected: null
          })
          return
        case "Failed": {
          const lastError = { ...outcome.failure, at: DateTime.unsafeMake(now) }
          const rejected = outcome.rejectedGeneration === null
            ? null
            : { generation: outcome.rejectedGeneration, failure: outcome.failure }
          yield* Ref.set(state, { ...before, ...checked, lastError, rejected })
          // Logged when the problem starts or changes, not on every access that meets it again.
          if (before.lastError?.message === lastError.message) return
          yield* Effect.logWarning(
            Option.isSome(before.loaded)
              ? `keeping the MetaSync cache copy of generation ${before.loaded.value.generation}: ${lastError.message}`
              : lastError.message
          )
        }
      }
    })

    const isDue = (s: State, now: number) =>
      s.checkedAt === null || Option.isNone(s.loaded) ||
      now - s.checkedAt >= (s.lastError === null ? refreshMillis : retryMillis)

    /** The state after checking storage if the copy is due; callers arriving during a check share it. */
    const current = Effect.gen(function*() {
      const seen = yield* Ref.get(state)
      if (!isDue(seen, yield* Clock.currentTimeMillis)) return seen
      return yield* checkLock.withPermits(1)(
        Effect.flatMap(Ref.get(state), (now) => (now.checks === seen.checks ? check : Effect.void)).pipe(
          Effect.zipRight(Ref.get(state))
        )
      )
    })

    const metadataOf = (s: State, now: number): CacheMetadata => {
      const loaded = Option.getOrNull(s.loaded)
      const age = loaded === null
        ? null
        : Math.max(0, now - DateTime.toEpochMillis(loaded.document.generated_at))
      return {
        available: loaded !== null,
        location,
        generation: loaded?.generation ?? null,
        format_version: loaded?.formatVersion ?? null,
        generated_at: loaded?.document.generated_at ?? null,
        generator: loaded?.document.generator ?? null,
        age: age === null ? null : Duration.millis(age),
        expired: loaded !== null &&
          (age !== null && age > maxAgeMillis || isGeneratedInTheFuture(loaded.document.generated_at, now)),
        loadedAt: loaded === null ? null : DateTime.unsafeMake(loaded.loadedAt),
        checkedAt: s.checkedAt === null ? null : DateTime.unsafeMake(s.checkedAt),
        lastError: s.lastError,
        tableCount: loaded?.document.tables.length ?? 0,
        exampleCount: loaded?.document.examples.length ?? 0
      }
    }

    const metadata = (s: State) => Effect.map(Clock.currentTimeMillis, (now) => metadataOf(s, now))

    const getDocument = Effect.flatMap(current, (s) =>
      Option.match(s.loaded, {
        onNone: () =>
          Effect.fail(
            new CacheUnavailable({
              location,
              reason: s.lastError?.message ?? "the cache document has not been loaded yet"
            })
          ),
        onSome: (l) => Effect.succeed(l.document)
      }))

    return CacheLoader.of({
      getDocument,
      getSchemaInfo: Effect.map(getDocument, (doc) => ({ ...doc.schema, description: doc.tables[0].description })),
      getFewShotExamples: (filter) =>
        Effect.map(getDocument, (doc) => {
          const tableIds = filter?.tableId === undefined
            ? null
            : [filter.tableId, ...Option.toArray(Option.map(findTable(doc, filter.tableId), (t) => t.table_id))]
          return doc.examples.filter((e) =>
            (filter?.language === undefined || e.language === filter.language) &&
            (tableIds === null || e.tables.some((t) => tableIds.includes(t)))
          )
        }),
      getSchemaColumns: (tableId) =>
        Effect.flatMap(getDocument, (doc) =>
          tableId === undefined
            ? Effect.succeed(flattenFields(doc.tables[0].columns))
            : Option.match(findTable(doc, tableId), {
              onNone: () =>
                Effect.fail(new TableNotCached({ table_id: tableId, location, cached: doc.tables.map((t) => t.table_id) })),
              onSome: (table) => Effect.succeed(flattenFields(table.columns))
            })),
      getTable: (tableId) => Effect.map(getDocument, (doc) => findTable(doc, tableId)),
      listTables: Effect.map(getDocument, (doc) => doc.tables),
      getPromptContext: (request) =>
        Effect.flatMap(getDocument, (doc) =>
          Effect.map(
            withQuestionEmbedding(doc, request, options?.questionEmbedder),
            (withEmbedding) => renderPromptContext(doc, withEmbedding)
          )),
      getTableCatalog: (request) => Effect.map(getDocument, (doc) => renderTableCatalog(doc, request)),
      isCacheAvailable: Effect.map(current, (s) => Option.isSome(s.loaded)),
      getRelationships: (tableId) =>
        Effect.map(getDocument, (doc) =>
          tableId === undefined
            ? [...doc.relationships].sort((a, b) => b.confidence - a.confidence)
            : joinGraphOf(doc).relationshipsOf(resolveTableId(doc, tableId))),
      getJoinPath: (from, to) =>
        Effect.map(getDocument, (doc) => joinGraphOf(doc).path(resolveTableId(doc, from), resolveTableId(doc, to))),
      getCacheMetadata: Effect.flatMap(current, metadata),
      refresh: checkLock.withPermits(1)(check).pipe(Effect.zipRight(Ref.get(state)), Effect.flatMap(metadata))
    })
  })

/** The id the document knows `tableId` by: a date shard resolves to its family. */
const resolveTableId = (doc: CacheDocument, tableId: string): string =>
  Option.match(findTable(doc, tableId), { onNone: () => tableId, onSome: (t) => t.table_id })

export class CacheLoader extends Context.Tag("MetaSync/CacheLoader")<CacheLoader, CacheLoaderApi>() {
  /** The loader over whatever `StorageService` is provided; the first access loads the document. */
  static layer = (options?: CacheLoaderOptions): Layer.Layer<CacheLoader, never, StorageService> =>
    Layer.effect(CacheLoader, make(options))
}
