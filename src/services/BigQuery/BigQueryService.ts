/**
 * Read access to BigQuery: table metadata, table lists, read-only queries and dry runs.
 *
 * Layers, side by side in this folder:
 * - `LiveBigQuery.ts`   — the BigQuery REST API through `@google-cloud/bigquery` (honours `BIGQUERY_EMULATOR_HOST`).
 * - `LocalBigQuery.ts`  — table definitions from JSON files in BigQuery's own format (no queries).
 * - `MemoryBigQuery.ts` — in memory, for tests: arrange tables and rows, inject faults, count calls.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { TableRef } from "../../contract/TableId.ts"
import type {
  PermissionDenied,
  RemoteRejected,
  RemoteTimeout,
  RemoteUnavailable,
  ResourceNotFound
} from "../RemoteErrors.ts"
import type { TableMetadata } from "./TableResource.ts"

export type BigQueryError = RemoteUnavailable | RemoteTimeout | ResourceNotFound | PermissionDenied | RemoteRejected

/** One row of a `tables.list` answer. */
export interface TableListing {
  readonly table: string
  /** BigQuery's `type`: TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL, SNAPSHOT, CLONE. */
  readonly kind: string
}

export interface QueryOptions {
  /** The most bytes the query may bill; BigQuery fails the query rather than exceed it. */
  readonly maximumBytesBilled: number
  /** Named query parameters (`@name`). */
  readonly params?: Readonly<Record<string, string | number | boolean>>
}

export interface QueryResult {
  /** Rows as plain objects keyed by column name (INT64 as number, TIMESTAMP as ISO string). */
  readonly rows: ReadonlyArray<Readonly<Record<string, unknown>>>
  readonly totalBytesProcessed: number
  /** What BigQuery billed for the query, when its reply says (jobs.query replies do). */
  readonly totalBytesBilled?: number
}

export interface DryRunResult {
  /** BigQuery's estimate of the bytes the query would process. */
  readonly totalBytesProcessed: number
}

/** One table of a batch read: its metadata, or why that table alone could not be read. */
export type TableRead = Either.Either<TableMetadata, BigQueryError>

/** The tables of one dataset to read, as `getTables` takes them. */
export interface DatasetTables {
  readonly project: string
  readonly dataset: string
  readonly tables: ReadonlyArray<string>
}

/** `project.dataset`: how `getTablesByRegion` keys its answer. */
export const datasetKey = (t: { readonly project: string; readonly dataset: string }) => `${t.project}.${t.dataset}`

export interface BigQuery {
  /** The table's schema and metadata (`tables.get`). */
  readonly getTable: (ref: TableRef) => Effect.Effect<TableMetadata, BigQueryError>
  /**
   * Several tables of one dataset at once (the live layer reads INFORMATION_SCHEMA in a few
   * queries when that is cheaper than one `tables.get` each). Each table that exists has its own
   * outcome: one table's failure (permission, a malformed resource) is that table's alone. Tables
   * that do not exist are absent from the result. The call fails as a whole only when the batch
   * itself could not be read (an INFORMATION_SCHEMA query failed): the caller may then read the
   * tables one by one.
   */
  readonly getTables: (
    project: string,
    dataset: string,
    tables: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyMap<string, TableRead>, BigQueryError>
  /**
   * The tables of many datasets, read a region at a time where that is cheaper than a batch per
   * dataset (the live layer's region-qualified INFORMATION_SCHEMA; see its `metadataRead` option).
   * The answer holds, under `datasetKey`, each dataset it read, as `getTables` would answer for it.
   * A dataset left out was not read this way (reading by region is off or not worth it for its
   * region, it has too few tables to be read through INFORMATION_SCHEMA at all, its region's
   * queries failed, or the region does not show it): the caller reads it with `getTables`. Never
   * fails; layers with no region read answer with an empty map.
   */
  readonly getTablesByRegion: (
    datasets: ReadonlyArray<DatasetTables>
  ) => Effect.Effect<ReadonlyMap<string, ReadonlyMap<string, TableRead>>>
  /**
   * The tables of many datasets, listed a region at a time where `getTablesByRegion` would read
   * that region at once (one region-qualified INFORMATION_SCHEMA.TABLES query per region instead
   * of a `tables.list` per dataset). The answer holds, under `datasetKey`, each dataset it listed,
   * as `listTables` would list it; a dataset left out is for the caller to list with `listTables`.
   * Never fails; layers with no region read answer with an empty map.
   */
  readonly listTablesByRegion: (
    datasets: ReadonlyArray<{ readonly project: string; readonly dataset: string }>
  ) => Effect.Effect<ReadonlyMap<string, ReadonlyArray<TableListing>>>
  /** Every table of a dataset (`tables.list`, all pages). */
  readonly listTables: (
    project: string,
    dataset: string
  ) => Effect.Effect<ReadonlyArray<TableListing>, BigQueryError>
  /** Runs a read-only query in `project` (`jobs.query`, all pages). */
  readonly query: (project: string, sql: string, options: QueryOptions) => Effect.Effect<QueryResult, BigQueryError>
  /** Validates a query and estimates its cost without running it (`jobs.insert` with `dryRun`). */
  readonly dryRun: (project: string, sql: string) => Effect.Effect<DryRunResult, BigQueryError>
}

export class BigQueryService extends Context.Tag("MetaSync/BigQueryService")<BigQueryService, BigQuery>() {}

/**
 * `getTables` as one `getTable` per table, `concurrency` at a time, each table with its own
 * outcome; tables that do not exist are left out. For layers with no cheaper batch read, and for
 * small batches of the live one. Never fails as a whole.
 */
export const getTablesOneByOne = (
  getTable: BigQuery["getTable"],
  project: string,
  dataset: string,
  tables: ReadonlyArray<string>,
  concurrency: number
): Effect.Effect<ReadonlyMap<string, TableRead>> =>
  Effect.forEach(
    tables,
    (table) =>
      getTable({ project, dataset, table }).pipe(
        Effect.either,
        Effect.map((read) =>
          Either.isLeft(read) && read.left._tag === "ResourceNotFound" ? [] : [[table, read] as const]
        )
      ),
    { concurrency }
  ).pipe(Effect.map((reads) => new Map(reads.flat())))
