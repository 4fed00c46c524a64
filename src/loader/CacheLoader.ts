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
 * - A split document (format 3, `SplitDocument.ts`): only its manifest is kept as the copy. Parts
 *   are fetched when a method needs them (`readPart`: the generation the manifest references, or
 *   nothing) and kept in a least-recently-used cache of at most `partCacheBytes` stored bytes;
 *   callers needing the same part share one fetch; a new manifest keeps the cached parts it still
 *   references (same object, same generation). A part that cannot be fetched fails the call with
 *   `CachePartUnavailable` and leaves the manifest served; the failure shows in `lastPartError`, and
 *   the part is not fetched again before `retryInterval` (calls meanwhile fail with the same error),
 *   so a backend asking for a broken part does not download it on every request.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
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
import { decodeStoredBytes } from "../contract/DocumentBytes.ts"
import { type CacheManifest, type CachePart, joinDocument } from "../contract/SplitDocument.ts"
import { catalogIndexOf, partsOf, renderSplitPromptContext, slimDocumentOf, splitCandidates } from "../context/SplitContext.ts"
import { type QuestionEmbedder, withQuestionEmbedding } from "./QuestionEmbedding.ts"
import { readPart } from "./StoredDocument.ts"

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

/** A part of a split document that could not be fetched (missing, replaced, corrupt, or storage failed). */
export class CachePartUnavailable extends Schema.TaggedError<CachePartUnavailable>()("CachePartUnavailable", {
  /** Where the manifest lives. */
  location: Schema.String,
  /** The part's key (`project.dataset`, `project.dataset-2`, …). */
  part: Schema.String,
  /** The part's object name, as the manifest references it. */
  object: Schema.String,
  /** Why it could not be used. */
  reason: Schema.String
}) {
  override get message(): string {
    return `part ${this.part} (${this.object}) of the MetaSync cache at ${this.location} is unavailable: ${this.reason}`
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

/** Why the last part that failed to fetch could not be used (a split document). */
export const PartFailure = Schema.Struct({
  /** The underlying error's tag: `ResourceNotFound`, `CacheDocumentError`, `DocumentTooLarge`, `RemoteUnavailable`, … */
  tag: Schema.String,
  /** The `CachePartUnavailable` message callers got. */
  message: Schema.String,
  /** The part's key (`project.dataset`, …). */
  part: Schema.String,
  /** The part's object name, as the manifest references it. */
  object: Schema.String,
  at: Schema.DateTimeUtc
}).annotations({ identifier: "PartFailure" })
export type PartFailure = typeof PartFailure.Type

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
  /**
   * Split document: the last part that could not be fetched, until that part loads (or a new
   * manifest no longer references it); `null` otherwise. The manifest stays served meanwhile.
   */
  lastPartError: Schema.NullOr(PartFailure),
  /** `document` (one object, formats 1 and 2) or `split` (a manifest and its parts, format 3); `null` before a load. */
  layout: Schema.NullOr(Schema.Literal("document", "split")),
  /** For a split document: its parts, those in the part cache and their stored bytes; `null` otherwise. */
  parts: Schema.NullOr(Schema.Struct({
    total: Schema.Number,
    cached: Schema.Number,
    cachedBytes: Schema.Number,
    /** The cache's budget (`partCacheBytes`). */
    budgetBytes: Schema.Number
  })),
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
  /**
   * For a split document (format 3): the most bytes of parts kept in memory, counted as stored
   * (the manifest's `bytes`; decoded they take a few times more); least recently used parts go
   * first. Default `DEFAULT_PART_CACHE_BYTES` (64 MiB). A part larger than the budget is used for
   * the call that fetched it and not kept. A call that needs several parts holds them all while it
   * runs, whatever the budget. (Each part, like the manifest, is refused over `maxDocumentBytes`.)
   */
  readonly partCacheBytes?: number | undefined
}

/** The part cache's default budget: 64 MiB of parts as stored. */
export const DEFAULT_PART_CACHE_BYTES = 64 * 1024 * 1024
/** Parts fetched at once when a call needs several. */
const PART_CONCURRENCY = 8

/**
 * The loader. On a split document, each method says what it fetches: nothing (the manifest
 * answers), one table's part, or every part (`listTables`, `getDocument` and unfiltered
 * `getFewShotExamples`: meant for small caches and tools, not for a 10,000-table warehouse).
 */
export interface CacheLoaderApi {
  /** Split: from the manifest. */
  readonly getSchemaInfo: Effect.Effect<SchemaInfo, CacheUnavailable>
  /** Split: with `tableId`, the table's part and the parts whose examples read it; without, every part. */
  readonly getFewShotExamples: (filter?: ExampleFilter) => Effect.Effect<ReadonlyArray<Example>, CacheUnavailable | CachePartUnavailable>
  /** Every column and nested field of a table (the primary table by default), with dotted paths. Split: the table's part. */
  readonly getSchemaColumns: (
    tableId?: string
  ) => Effect.Effect<ReadonlyArray<FieldPath>, CacheUnavailable | TableNotCached | CachePartUnavailable>
  /** A table by id; a date shard or `prefix*` of a sharded family finds the family. Split: the table's part. */
  readonly getTable: (tableId: string) => Effect.Effect<Option.Option<TableEntry>, CacheUnavailable | CachePartUnavailable>
  /** Split: every part. */
  readonly listTables: Effect.Effect<ReadonlyArray<TableEntry>, CacheUnavailable | CachePartUnavailable>
  /** The whole document, in its newest form. Split: every part, joined (for small caches and tools). */
  readonly getDocument: Effect.Effect<CacheDocument, CacheUnavailable | CachePartUnavailable>
  /**
   * What lists, ranks and resolves tables, without fetching a part: the whole document, or for a
   * split one its manifest as a document of slim entries (id, kind, description, sharding, status
   * and field paths, untyped; no examples) with the manifest's relationships, glossary, aliases,
   * metrics and drift. `getTable` gives a table's full entry.
   */
  readonly getCatalogDocument: Effect.Effect<CacheDocument, CacheUnavailable>
  /**
   * The tables and examples most relevant to a question, rendered for a prompt within a token
   * budget. Split: ranked on the manifest, then the candidates' parts (`SplitContext.ts`).
   */
  readonly getPromptContext: (request: PromptContextRequest) => Effect.Effect<PromptContext, CacheUnavailable | CachePartUnavailable>
  /**
   * Every table on one compact line (id, short description, aliases) within a budget, for a model
   * to choose from; then `getPromptContext({ …, tables: chosen })` renders the chosen ones.
   */
  readonly getTableCatalog: (request: TableCatalogRequest) => Effect.Effect<TableCatalog, CacheUnavailable>
  readonly isCacheAvailable: Effect.Effect<boolean>
  /** The relationships with `tableId` on either end (split: from the manifest) (a shard finds its family), or all of them; most confident first. */
  readonly getRelationships: (tableId?: string) => Effect.Effect<ReadonlyArray<Relationship>, CacheUnavailable>
  /** The joins from table `from` to table `to` by the fewest relationships; `null` when they do not connect. */
  readonly getJoinPath: (from: string, to: string) => Effect.Effect<ReadonlyArray<Relationship> | null, CacheUnavailable>
  readonly getCacheMetadata: Effect.Effect<CacheMetadata>
  /** Checks storage now, whatever the copy's age; returns the metadata after the check. */
  readonly refresh: Effect.Effect<CacheMetadata>
}

/** What a loaded generation holds: the whole document, or a split document's manifest. */
type Content =
  | { readonly layout: "document"; readonly document: CacheDocument }
  | { readonly layout: "split"; readonly manifest: CacheManifest }

interface Loaded {
  readonly content: Content
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
  | { readonly _tag: "Loaded"; readonly content: Content; readonly formatVersion: number; readonly generation: string }
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
    const partCacheBytes = options?.partCacheBytes ?? DEFAULT_PART_CACHE_BYTES
    if (!(Number.isFinite(partCacheBytes) && partCacheBytes >= 0)) {
      return yield* Effect.dieMessage(`CacheLoader: partCacheBytes must be a number of bytes, 0 or more; got ${partCacheBytes}`)
    }
    const parts = yield* makePartCache(location, partCacheBytes, maxDocumentBytes, retryMillis)
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
      Either.match(decodeStoredBytes(bytes, location), {
        onLeft: (error): Outcome => ({
          _tag: "Failed",
          failure: { tag: error._tag, message: error.message },
          rejectedGeneration: generation
        }),
        onRight: (stored): Outcome => {
          switch (stored._tag) {
            case "Document":
              // The prompt context's index, once per document generation, rather than on the first question.
              if (options?.prepareContext !== false) prepareDocument(stored.document)
              return { _tag: "Loaded", content: { layout: "document", document: stored.document }, formatVersion: stored.formatVersion, generation }
            case "Manifest":
              // The first stage ranks every table on the manifest's slim catalog: its index, built now.
              if (options?.prepareContext !== false) prepareDocument(slimDocumentOf(stored.manifest))
              return { _tag: "Loaded", content: { layout: "split", manifest: stored.manifest }, formatVersion: 3, generation }
            case "Part":
              return {
                _tag: "Failed",
                failure: {
                  tag: "CacheDocumentError",
                  message: `${location} (generation ${generation}) holds part ${stored.part.key} of a split document, not a document or a manifest`
                },
                rejectedGeneration: generation
              }
          }
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
              content: outcome.content,
              formatVersion: outcome.formatVersion,
              generation: outcome.generation,
              loadedAt: now
            }),
            lastError: null,
            rejected: null
          })
          // Parts the new manifest still references (same object, same generation) stay cached.
          yield* parts.retain(outcome.content.layout === "split" ? outcome.content.manifest : null)
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
      const content = loaded?.content ?? null
      const header = content === null ? null : content.layout === "document" ? content.document : content.manifest
      const age = header === null ? null : Math.max(0, now - DateTime.toEpochMillis(header.generated_at))
      return {
        available: loaded !== null,
        location,
        generation: loaded?.generation ?? null,
        format_version: loaded?.formatVersion ?? null,
        generated_at: header?.generated_at ?? null,
        generator: header?.generator ?? null,
        age: age === null ? null : Duration.millis(age),
        expired: header !== null &&
          (age !== null && age > maxAgeMillis || isGeneratedInTheFuture(header.generated_at, now)),
        loadedAt: loaded === null ? null : DateTime.unsafeMake(loaded.loadedAt),
        checkedAt: s.checkedAt === null ? null : DateTime.unsafeMake(s.checkedAt),
        lastError: s.lastError,
        lastPartError: content?.layout === "split" ? parts.lastFailure() : null,
        layout: content?.layout ?? null,
        parts: content?.layout === "split"
          ? { total: content.manifest.parts.length, ...parts.stats(), budgetBytes: partCacheBytes }
          : null,
        tableCount: content === null ? 0 : content.layout === "document" ? content.document.tables.length : content.manifest.catalog.length,
        exampleCount: content === null ? 0 : content.layout === "document" ? content.document.examples.length : content.manifest.example_parts.length
      }
    }

    const metadata = (s: State) => Effect.map(Clock.currentTimeMillis, (now) => metadataOf(s, now))

    const getContent = Effect.flatMap(current, (s) =>
      Option.match(s.loaded, {
        onNone: () =>
          Effect.fail(
            new CacheUnavailable({
              location,
              reason: s.lastError?.message ?? "the cache document has not been loaded yet"
            })
          ),
        onSome: (l) => Effect.succeed(l.content)
      }))

    /** `whole` on a whole document, `split` on a split one's manifest. */
    const byLayout = <A, E1, E2>(
      whole: (document: CacheDocument) => Effect.Effect<A, E1>,
      split: (manifest: CacheManifest) => Effect.Effect<A, E2>
    ): Effect.Effect<A, CacheUnavailable | E1 | E2> =>
      Effect.flatMap(getContent, (c): Effect.Effect<A, E1 | E2> => (c.layout === "document" ? whole(c.document) : split(c.manifest)))

    /** The parts `indexes` of `manifest`, by index. */
    const partsAt = (manifest: CacheManifest, indexes: Iterable<number>) =>
      Effect.map(
        Effect.forEach(indexes, (i) => Effect.map(parts.get(manifest, i), (part) => [i, part] as const), { concurrency: PART_CONCURRENCY }),
        (entries): ReadonlyMap<number, CachePart> => new Map(entries)
      )

    const allParts = (manifest: CacheManifest) => partsAt(manifest, manifest.parts.keys())

    /** The whole document a manifest stands for: every part, joined. */
    const joined = (manifest: CacheManifest) =>
      Effect.flatMap(allParts(manifest), (fetched) =>
        Either.match(joinDocument(manifest, manifest.parts.map((_, i) => fetched.get(i)!), location), {
          onLeft: (error) => Effect.fail(new CachePartUnavailable({ location, part: "*", object: "*", reason: error.message })),
          onRight: (document) => Effect.succeed(document)
        }))

    /** The examples of the fetched parts, in the whole document's order. */
    const examplesOf = (manifest: CacheManifest, fetched: ReadonlyMap<number, CachePart>): Array<Example> => {
      const next = new Array<number>(manifest.parts.length).fill(0)
      const out: Array<Example> = []
      for (const p of manifest.example_parts) {
        const at = next[p]!++
        const part = fetched.get(p)
        if (part !== undefined) out.push(part.examples[at]!)
      }
      return out
    }

    /** The full entry of catalog entry `t`, from its part. */
    const splitTable = (manifest: CacheManifest, t: number) =>
      Effect.map(parts.get(manifest, manifest.catalog[t]!.part), (part) => {
        const id = manifest.catalog[t]!.table_id
        return part.tables.find((table) => table.table_id === id)!
      })

    const filterExamples = (examples: ReadonlyArray<Example>, filter: ExampleFilter | undefined, tableIds: ReadonlyArray<string> | null) =>
      examples.filter((e) =>
        (filter?.language === undefined || e.language === filter.language) &&
        (tableIds === null || e.tables.some((t) => tableIds.includes(t)))
      )

    const splitExamples = (manifest: CacheManifest, filter: ExampleFilter | undefined) => {
      if (filter?.tableId === undefined) return Effect.map(allParts(manifest), (fetched) => filterExamples(examplesOf(manifest, fetched), filter, null))
      const t = catalogIndexOf(manifest, filter.tableId)
      const tableIds = t === null ? [filter.tableId] : [filter.tableId, manifest.catalog[t]!.table_id]
      // An example lives in the part of its first table: the table's own part, and those whose examples name it.
      const needed = new Set<number>(t === null ? [] : [manifest.catalog[t]!.part])
      manifest.parts.forEach((part, p) => {
        if (part.example_tables.some((id) => tableIds.includes(id))) needed.add(p)
      })
      return Effect.map(partsAt(manifest, [...needed].sort((a, b) => a - b)), (fetched) =>
        filterExamples(examplesOf(manifest, fetched), filter, tableIds))
    }

    const splitPromptContext = (manifest: CacheManifest, request: PromptContextRequest) =>
      Effect.gen(function*() {
        const withEmbedding = yield* withQuestionEmbedding(slimDocumentOf(manifest), request, options?.questionEmbedder)
        const tables = splitCandidates(manifest, withEmbedding)
        const fetched = yield* partsAt(manifest, partsOf(manifest, tables))
        return renderSplitPromptContext(manifest, tables, fetched, withEmbedding)
      })

    const tableNotCached = (tableId: string, cached: ReadonlyArray<string>) => new TableNotCached({ table_id: tableId, location, cached })

    return CacheLoader.of({
      getDocument: byLayout(Effect.succeed, joined),
      getCatalogDocument: Effect.map(getContent, ranked),
      getSchemaInfo: byLayout(
        (doc) => Effect.succeed({ ...doc.schema, description: doc.tables[0].description }),
        (manifest) => Effect.succeed({ ...manifest.schema, description: manifest.catalog[0].description })
      ),
      getFewShotExamples: (filter) =>
        byLayout(
          (doc) => {
            const tableIds = filter?.tableId === undefined
              ? null
              : [filter.tableId, ...Option.toArray(Option.map(findTable(doc, filter.tableId), (t) => t.table_id))]
            return Effect.succeed(filterExamples(doc.examples, filter, tableIds))
          },
          (manifest) => splitExamples(manifest, filter)
        ),
      getSchemaColumns: (tableId) =>
        byLayout(
          (doc) =>
            tableId === undefined
              ? Effect.succeed(flattenFields(doc.tables[0].columns))
              : Option.match(findTable(doc, tableId), {
                onNone: () => Effect.fail(tableNotCached(tableId, doc.tables.map((t) => t.table_id))),
                onSome: (table) => Effect.succeed(flattenFields(table.columns))
              }),
          (manifest): Effect.Effect<ReadonlyArray<FieldPath>, TableNotCached | CachePartUnavailable> => {
            // The primary table's columns are the manifest's `schema`: nothing to fetch.
            if (tableId === undefined) return Effect.succeed(flattenFields(manifest.schema.columns))
            const t = catalogIndexOf(manifest, tableId)
            return t === null
              ? Effect.fail(tableNotCached(tableId, manifest.catalog.map((c) => c.table_id)))
              : Effect.map(splitTable(manifest, t), (table) => flattenFields(table.columns))
          }
        ),
      getTable: (tableId) =>
        byLayout(
          (doc) => Effect.succeed(findTable(doc, tableId)),
          (manifest) => {
            const t = catalogIndexOf(manifest, tableId)
            return t === null ? Effect.succeed(Option.none<TableEntry>()) : Effect.map(splitTable(manifest, t), Option.some)
          }
        ),
      listTables: byLayout((doc) => Effect.succeed(doc.tables), (manifest) => Effect.map(joined(manifest), (doc) => doc.tables)),
      getPromptContext: (request) =>
        byLayout(
          (doc) =>
            Effect.map(
              withQuestionEmbedding(doc, request, options?.questionEmbedder),
              (withEmbedding) => renderPromptContext(doc, withEmbedding)
            ),
          (manifest) => splitPromptContext(manifest, request)
        ),
      getTableCatalog: (request) => Effect.map(getContent, (c) => renderTableCatalog(ranked(c), request)),
      isCacheAvailable: Effect.map(current, (s) => Option.isSome(s.loaded)),
      getRelationships: (tableId) =>
        Effect.map(getContent, (c) => {
          const doc = ranked(c)
          return tableId === undefined
            ? [...doc.relationships].sort((a, b) => b.confidence - a.confidence)
            : joinGraphOf(doc).relationshipsOf(resolveTableId(doc, tableId))
        }),
      getJoinPath: (from, to) =>
        Effect.map(getContent, (c) => {
          const doc = ranked(c)
          return joinGraphOf(doc).path(resolveTableId(doc, from), resolveTableId(doc, to))
        }),
      getCacheMetadata: Effect.flatMap(current, metadata),
      refresh: checkLock.withPermits(1)(check).pipe(Effect.zipRight(Ref.get(state)), Effect.flatMap(metadata))
    })
  })

/**
 * The document ids, relationships and the table catalog are read from: the whole document, or a
 * split one's slim catalog (ids, descriptions, sharding, relationships, aliases: all the manifest's).
 */
const ranked = (content: Content): CacheDocument => (content.layout === "document" ? content.document : slimDocumentOf(content.manifest))

interface PartCache {
  /** Part `index` of `manifest`: cached, or fetched once however many callers ask meanwhile. */
  readonly get: (manifest: CacheManifest, index: number) => Effect.Effect<CachePart, CachePartUnavailable>
  /** Keeps only the cached parts `manifest` references (object and generation); none for `null`. */
  readonly retain: (manifest: CacheManifest | null) => Effect.Effect<void>
  readonly stats: () => { readonly cached: number; readonly cachedBytes: number }
  /** The last part that failed, until it loads or is no longer referenced. */
  readonly lastFailure: () => PartFailure | null
}

/**
 * The split layout's parts, least recently used first out, within `budget` bytes as stored. A fetch
 * runs in a fiber of its own that every caller awaits, so a caller that is interrupted (a request
 * deadline) neither cancels it for the others nor leaves them waiting; a fetch ends by itself
 * (storage calls have deadlines). A part that failed is not fetched again before `retryMillis`:
 * callers meanwhile get the same error.
 */
const makePartCache = (location: string, budget: number, maxBytes: number, retryMillis: number) =>
  Effect.map(StorageService, (storage): PartCache => {
    // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
    const entries = new Map<string, { readonly part: CachePart; readonly bytes: number }>()
    const pending = new Map<string, Deferred.Deferred<CachePart, CachePartUnavailable>>()
    const failures = new Map<string, { readonly at: number; readonly error: CachePartUnavailable }>()
    let lastFailure: (PartFailure & { readonly key: string }) | null = null
    let referenced = new Set<string>()
    let total = 0
    const keyOf = (ref: CacheManifest["parts"][number]) => `${ref.object}#${ref.generation}`

    const remember = (key: string, part: CachePart, bytes: number) => {
      // A part of a manifest replaced meanwhile, or bigger than the whole budget, is not kept.
      if (!referenced.has(key) || bytes > budget || entries.has(key)) return
      entries.set(key, { part, bytes })
      total += bytes
      for (const [k, e] of entries) {
        if (total <= budget) break
        entries.delete(k)
        total -= e.bytes
      }
    }

    const fetch = (manifest: CacheManifest, index: number) => {
      const ref = manifest.parts[index]!
      return readPart(manifest, index, { maxBytes }).pipe(
        Effect.provideService(StorageService, storage),
        Effect.mapError((error) => ({
          tag: error._tag as string,
          error: new CachePartUnavailable({ location, part: ref.key, object: ref.object, reason: error.message })
        }))
      )
    }

    /** Records a fetch's outcome: a failure (kept for `retryMillis`), or a success that clears the part's. */
    const settle = (key: string, ref: CacheManifest["parts"][number], exit: Exit.Exit<CachePart, { tag: string; error: CachePartUnavailable }>, now: number) =>
      Effect.suspend(() => {
        pending.delete(key)
        if (Exit.isSuccess(exit)) {
          remember(key, exit.value, ref.bytes)
          failures.delete(key)
          if (lastFailure?.key === key) lastFailure = null
          return Effect.void
        }
        const failure = Cause.failureOption(exit.cause)
        if (Option.isNone(failure)) return Effect.void
        const { error, tag } = failure.value
        // Only while the manifest references the part: a replaced manifest's failures are moot.
        if (!referenced.has(key)) return Effect.void
        failures.set(key, { at: now, error })
        const changed = lastFailure?.key !== key || lastFailure.message !== error.message
        lastFailure = { key, tag, message: error.message, part: ref.key, object: ref.object, at: DateTime.unsafeMake(now) }
        // Logged when a part starts failing or fails otherwise, not on every retry that meets it again.
        return changed ? Effect.logWarning(error.message) : Effect.void
      })

    const get = (manifest: CacheManifest, index: number): Effect.Effect<CachePart, CachePartUnavailable> =>
      Effect.suspend(() => {
        const ref = manifest.parts[index]!
        const key = keyOf(ref)
        const hit = entries.get(key)
        if (hit !== undefined) {
          entries.delete(key)
          entries.set(key, hit)
          return Effect.succeed(hit.part)
        }
        const waiting = pending.get(key)
        if (waiting !== undefined) return Deferred.await(waiting)
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const failed = failures.get(key)
          if (failed !== undefined && now - failed.at < retryMillis) return Effect.fail(failed.error)
          // A second caller may have started the fetch while the clock was read.
          const started = pending.get(key)
          if (started !== undefined) return Deferred.await(started)
          // Made and registered in one synchronous step, so a second caller always finds it.
          const deferred = Deferred.unsafeMake<CachePart, CachePartUnavailable>(FiberId.none)
          pending.set(key, deferred)
          return fetch(manifest, index).pipe(
            Effect.exit,
            Effect.flatMap((exit) =>
              Effect.flatMap(Clock.currentTimeMillis, (at) => settle(key, ref, exit, at)).pipe(
                Effect.zipRight(Deferred.done(deferred, Exit.mapError(exit, (e) => e.error)))
              )
            ),
            Effect.forkDaemon,
            Effect.zipRight(Deferred.await(deferred))
          )
        })
      })

    return {
      get,
      retain: (manifest) =>
        Effect.sync(() => {
          referenced = new Set(manifest === null ? [] : manifest.parts.map(keyOf))
          for (const [k, e] of entries) {
            if (referenced.has(k)) continue
            entries.delete(k)
            total -= e.bytes
          }
          for (const k of failures.keys()) if (!referenced.has(k)) failures.delete(k)
          if (lastFailure !== null && !referenced.has(lastFailure.key)) lastFailure = null
        }),
      stats: () => ({ cached: entries.size, cachedBytes: total }),
      lastFailure: () => {
        if (lastFailure === null) return null
        const { key: _, ...failure } = lastFailure
        return failure
      }
    }
  })

/** The id the document knows `tableId` by: a date shard resolves to its family. */
const resolveTableId = (doc: CacheDocument, tableId: string): string =>
  Option.match(findTable(doc, tableId), { onNone: () => tableId, onSome: (t) => t.table_id })

export class CacheLoader extends Context.Tag("MetaSync/CacheLoader")<CacheLoader, CacheLoaderApi>() {
  /** The loader over whatever `StorageService` is provided; the first access loads the document. */
  static layer = (options?: CacheLoaderOptions): Layer.Layer<CacheLoader, never, StorageService> =>
    Layer.effect(CacheLoader, make(options))
}
