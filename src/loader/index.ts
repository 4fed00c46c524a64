/**
 * MetaSync's loader, for the backend that reads the cache (`import … from "metasync"`).
 *
 * - Effect programs use `CacheLoader` with a storage layer (`GcsStorage`, `LocalStorage`).
 * - Other backends use `createCacheLoader`, a Promise facade that returns the document's plain
 *   JSON shapes (timestamps as ISO strings, `age` in milliseconds) and rejects with the tagged
 *   error (`CacheUnavailable`, `TableNotCached`, `CachePartUnavailable` for a part of a split
 *   document that could not be fetched), which is an `Error` with a readable message.
 * - A split document (format 3) is read part by part: see `CacheLoaderApi` for what each method
 *   fetches (`listTables`, `getDocument`-like calls and unfiltered examples fetch every part).
 *
 * This module stays light: the contract, `effect`, and the storage layers (the Cloud Storage
 * client is imported only when a GCS loader is first used).
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { CacheDocument, type CacheDocumentEncoded, Example, type TableEntryEncoded, TableEntry } from "../contract/CacheDocument.ts"
import type { FieldPath } from "../contract/Field.ts"
import { Relationship } from "../contract/Relationship.ts"
import { GcsStorage } from "../services/Storage/GcsStorage.ts"
import { LocalStorage } from "../services/Storage/LocalStorage.ts"
import {
  CacheLoader,
  type CacheLoaderApi,
  CacheMetadata,
  DEFAULT_OBJECT_NAME,
  type ExampleFilter,
  SchemaInfo
} from "./CacheLoader.ts"
import type { PromptContext, PromptContextRequest, TableCatalog, TableCatalogRequest } from "../context/PromptContext.ts"
import { type VertexQuestionEmbeddings, vertexQuestionEmbedder } from "./QuestionEmbedding.ts"

export * from "../contract/index.ts"
export {
  CacheLoader,
  type CacheLoaderApi,
  type CacheLoaderOptions,
  CacheMetadata,
  CachePartUnavailable,
  CacheUnavailable,
  DEFAULT_MAX_AGE,
  DEFAULT_OBJECT_NAME,
  DEFAULT_PART_CACHE_BYTES,
  DEFAULT_REFRESH_INTERVAL,
  DEFAULT_RETRY_INTERVAL,
  type ExampleFilter,
  findTable,
  LoadFailure,
  PartFailure,
  SchemaInfo,
  TableNotCached
} from "./CacheLoader.ts"
export {
  DEFAULT_MAX_EXAMPLES,
  DEFAULT_MAX_TABLES,
  DEFAULT_SCORERS,
  estimateTokens,
  glossaryScorer,
  lexicalScorer,
  nameScorer,
  PROMPT_CONTEXT_NOTE,
  type PromptContext,
  type PromptContextRequest,
  type Query,
  relevance,
  type Relevance,
  renderPromptContext,
  renderTableCatalog,
  type ScoredExample,
  type ScoredTable,
  type ScoringOptions,
  type TableCatalog,
  type TableCatalogRequest,
  type TableScorer,
  tokenize
} from "../context/index.ts"
export { StorageService } from "../services/Storage/StorageService.ts"
export { DENSE_WEIGHT, denseScorer, denseScores, hybridScores } from "../context/DenseScores.ts"
export type { QuestionEmbedder, VertexQuestionEmbeddings } from "./QuestionEmbedding.ts"
export { GcsStorage, LocalStorage }

/** Where the document lives: a Cloud Storage bucket, or a local directory standing in for one. */
export type CacheLocation =
  | {
    readonly bucket: string
    readonly objectName?: string | undefined
    /** E.g. an emulator's `http://127.0.0.1:4443`; `STORAGE_EMULATOR_HOST` also works. */
    readonly apiEndpoint?: string | undefined
    /** Deadline of each storage request; default 30 seconds. */
    readonly timeout?: Duration.DurationInput | undefined
  }
  | { readonly directory: string; readonly objectName?: string | undefined }

export interface CacheTiming {
  /** Default 1 hour. */
  readonly refreshInterval?: Duration.DurationInput | undefined
  /** Default 24 hours. */
  readonly maxAge?: Duration.DurationInput | undefined
  /** Default 1 minute. */
  readonly retryInterval?: Duration.DurationInput | undefined
  /** The largest document downloaded, in bytes (checked on the object's size before download); default 64 MiB. */
  readonly maxDocumentBytes?: number | undefined
  /**
   * For a split document (format 3): the most bytes of parts kept in memory, counted as stored
   * (decoded they take a few times more), least recently used out first; default 64 MiB.
   */
  readonly partCacheBytes?: number | undefined
}

export type SchemaInfoJson = typeof SchemaInfo.Encoded
export type ExampleJson = typeof Example.Encoded
export type TableEntryJson = TableEntryEncoded
export type CacheMetadataJson = typeof CacheMetadata.Encoded
export type RelationshipJson = typeof Relationship.Encoded
export type CacheDocumentJson = CacheDocumentEncoded

/** The seed's System B loader as Promises; every method checks storage first when the copy is due. */
export interface CacheLoaderClient {
  readonly getSchemaInfo: () => Promise<SchemaInfoJson>
  readonly getFewShotExamples: (filter?: ExampleFilter) => Promise<ReadonlyArray<ExampleJson>>
  readonly getSchemaColumns: (tableId?: string) => Promise<ReadonlyArray<FieldPath>>
  /** `undefined` when the document does not describe the table. */
  readonly getTable: (tableId: string) => Promise<TableEntryJson | undefined>
  /** On a split document, fetches every part: for small caches and tools. */
  readonly listTables: () => Promise<ReadonlyArray<TableEntryJson>>
  /**
   * What to list, rank and resolve tables on without fetching a part, as the document's JSON: the
   * whole document, or for a split one its manifest's catalog as a document of slim entries (id,
   * kind, description, sharding, status, its fields nested as their paths say, untyped; no examples) with the
   * manifest's relationships, glossary, aliases, metrics and drift. `getTable` gives a full entry.
   */
  readonly getCatalogDocument: () => Promise<CacheDocumentJson>
  /** The tables and examples most relevant to a question, rendered for a prompt within a token budget. */
  readonly getPromptContext: (request: PromptContextRequest) => Promise<PromptContext>
  /** Every table on one compact line (id, short description, aliases) within a budget: the first of two stages. */
  readonly getTableCatalog: (request: TableCatalogRequest) => Promise<TableCatalog>
  readonly isCacheAvailable: () => Promise<boolean>
  /** How tables join: the relationships of `tableId` (either end), or all of them; most confident first. */
  readonly getRelationships: (tableId?: string) => Promise<ReadonlyArray<RelationshipJson>>
  /** The relationships to follow from table `from` to table `to`, fewest joins first found; `null` when they do not connect. */
  readonly getJoinPath: (from: string, to: string) => Promise<ReadonlyArray<RelationshipJson> | null>
  readonly getCacheMetadata: () => Promise<CacheMetadataJson>
  /** Checks storage now; resolves with the metadata after the check (a failed check shows in `lastError`). */
  readonly refresh: () => Promise<CacheMetadataJson>
  /** Releases the runtime; the client is unusable afterwards. */
  readonly close: () => Promise<void>
}

const DEFAULT_TIMEOUT: Duration.DurationInput = "30 seconds"

/** What the loader may do beyond reading the document. */
export interface CacheLoaderExtras {
  /**
   * Embed each question with Vertex AI (the sync's model and dimension) when `getPromptContext`
   * is asked without `questionEmbedding`, for the hybrid ranking; off by default.
   */
  readonly questionEmbeddings?: VertexQuestionEmbeddings | undefined
}

/** The loader over the storage `location` names, as a layer for Effect programs. */
export const cacheLoaderLayer = (location: CacheLocation, timing?: CacheTiming, extras?: CacheLoaderExtras): Layer.Layer<CacheLoader> =>
  CacheLoader.layer({
    ...timing,
    objectName: location.objectName,
    questionEmbedder: extras?.questionEmbeddings === undefined ? undefined : vertexQuestionEmbedder(extras.questionEmbeddings)
  }).pipe(
    Layer.provide(
      "directory" in location
        ? LocalStorage.layer(location.directory)
        : GcsStorage.layer({
          bucket: location.bucket,
          apiEndpoint: location.apiEndpoint,
          timeout: location.timeout ?? DEFAULT_TIMEOUT
        })
    )
  )

const encodeSchemaInfo = Schema.encodeSync(SchemaInfo)
const encodeExamples = Schema.encodeSync(Schema.Array(Example))
const encodeTable = Schema.encodeSync(TableEntry)
const encodeMetadata = Schema.encodeSync(CacheMetadata)
const encodeRelationships = Schema.encodeSync(Schema.Array(Relationship))
const encodeDocument = Schema.encodeSync(CacheDocument)

/** A Promise facade over `CacheLoader`, for backends that do not use Effect. */
export const createCacheLoader = (location: CacheLocation, timing?: CacheTiming, extras?: CacheLoaderExtras): CacheLoaderClient => {
  const runtime = ManagedRuntime.make(cacheLoaderLayer(location, timing, extras))
  // Reject with the error itself, not Effect's FiberFailure wrapper.
  const run = <A, E>(use: (loader: CacheLoaderApi) => Effect.Effect<A, E>): Promise<A> =>
    runtime.runPromiseExit(Effect.flatMap(CacheLoader, use)).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw Cause.squash(exit.cause)
    })
  return {
    getSchemaInfo: () => run((l) => Effect.map(l.getSchemaInfo, encodeSchemaInfo)),
    getFewShotExamples: (filter) => run((l) => Effect.map(l.getFewShotExamples(filter), encodeExamples)),
    getSchemaColumns: (tableId) => run((l) => l.getSchemaColumns(tableId)),
    getTable: (tableId) =>
      run((l) => Effect.map(l.getTable(tableId), (table) => Option.getOrUndefined(Option.map(table, encodeTable)))),
    listTables: () => run((l) => Effect.map(l.listTables, (tables) => tables.map((table) => encodeTable(table)))),
    getCatalogDocument: () => run((l) => Effect.map(l.getCatalogDocument, encodeDocument)),
    getPromptContext: (request) => run((l) => l.getPromptContext(request)),
    getTableCatalog: (request) => run((l) => l.getTableCatalog(request)),
    isCacheAvailable: () => run((l) => l.isCacheAvailable),
    getRelationships: (tableId) => run((l) => Effect.map(l.getRelationships(tableId), encodeRelationships)),
    getJoinPath: (from, to) =>
      run((l) => Effect.map(l.getJoinPath(from, to), (path) => (path === null ? null : encodeRelationships(path)))),
    getCacheMetadata: () => run((l) => Effect.map(l.getCacheMetadata, encodeMetadata)),
    refresh: () => run((l) => Effect.map(l.refresh, encodeMetadata)),
    close: () => runtime.dispose()
  }
}

/**
 * Where the document lives, from the environment the sync uses: `LOCAL_BUCKET_DIR` (a directory,
 * for local runs) or else `GCS_BUCKET`; `CACHE_OBJECT` names the object (`metadata_cache.json`).
 */
export const CacheLocationConfig: Config.Config<CacheLocation> = Config.all({
  store: Config.nonEmptyString("LOCAL_BUCKET_DIR").pipe(
    Config.map((directory) => ({ directory })),
    Config.orElse(() => Config.nonEmptyString("GCS_BUCKET").pipe(Config.map((bucket) => ({ bucket }))))
  ),
  objectName: Config.nonEmptyString("CACHE_OBJECT").pipe(Config.withDefault(DEFAULT_OBJECT_NAME))
}).pipe(Config.map(({ objectName, store }): CacheLocation => ({ ...store, objectName })))

/**
 * The largest document the loader downloads, from `MAX_DOCUMENT_BYTES` — the variable the sync
 * caps what it publishes with, so one setting serves both —; absent, `undefined` (64 MiB).
 */
export const MaxDocumentBytesConfig: Config.Config<number | undefined> = Config.nonEmptyString("MAX_DOCUMENT_BYTES").pipe(
  Config.validate({
    message: "expected a whole number of bytes greater than 0",
    validation: (value) => /^\d+$/.test(value) && Number.isSafeInteger(Number(value)) && Number(value) > 0
  }),
  Config.map(Number),
  Config.option,
  Config.map(Option.getOrUndefined)
)

/**
 * The part cache's budget for a split document, from `PART_CACHE_BYTES` (bytes of parts as
 * stored; `0` keeps none); absent, `undefined` (64 MiB).
 */
export const PartCacheBytesConfig: Config.Config<number | undefined> = Config.nonEmptyString("PART_CACHE_BYTES").pipe(
  Config.validate({
    message: "expected a whole number of bytes, 0 or more",
    validation: (value) => /^\d+$/.test(value) && Number.isSafeInteger(Number(value))
  }),
  Config.map(Number),
  Config.option,
  Config.map(Option.getOrUndefined)
)

/** `config`'s value, or an Error naming `variable` and what is wrong with it. */
const fromEnv = <A>(config: Config.Config<A>, variable: string): A => {
  const exit = Effect.runSyncExit(config)
  if (Exit.isSuccess(exit)) return exit.value
  const error = Cause.squash(exit.cause)
  throw new Error(`MetaSync cache loader: ${variable} is invalid: ${String(error)}`, { cause: error })
}

/**
 * `createCacheLoader` at the location the environment names, capped by `MAX_DOCUMENT_BYTES` and
 * with a part cache of `PART_CACHE_BYTES` when set (`timing`'s values, when given, win); throws
 * when it names no location, or an invalid cap or budget (naming the variable).
 */
export const cacheLoaderFromEnv = (timing?: CacheTiming): CacheLoaderClient => {
  const location = Effect.runSyncExit(CacheLocationConfig)
  if (Exit.isFailure(location)) {
    const error = Cause.squash(location.cause)
    throw new Error(`MetaSync cache loader: set GCS_BUCKET (or LOCAL_BUCKET_DIR): ${String(error)}`, { cause: error })
  }
  const maxDocumentBytes = fromEnv(MaxDocumentBytesConfig, "MAX_DOCUMENT_BYTES")
  const partCacheBytes = fromEnv(PartCacheBytesConfig, "PART_CACHE_BYTES")
  return createCacheLoader(location.value, {
    ...timing,
    maxDocumentBytes: timing?.maxDocumentBytes ?? maxDocumentBytes,
    partCacheBytes: timing?.partCacheBytes ?? partCacheBytes
  })
}
