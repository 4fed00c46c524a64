/**
 * Resolve: turn the configured table ids and patterns into the logical tables to describe.
 * Datasets are listed once each, only when a pattern needs it; date-sharded tables matched by a
 * pattern collapse into one family described by its newest shard.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Sharding } from "../contract/CacheDocument.ts"
import { makeTableId, type TableId, type TableRef } from "../contract/TableId.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { formatTarget, isPattern, matchesTable, type TargetPattern } from "../config/Targets.ts"
import { type BigQueryError, BigQueryService, datasetKey, type TableListing } from "../services/BigQuery/BigQueryService.ts"
import { retryRemote } from "./RetryPolicy.ts"

/** One table (or sharded family) the document will describe. */
export interface LogicalTable {
  /** Its id in the document: `project.dataset.table`, or `project.dataset.prefix*` for a family. */
  readonly id: TableId
  /** The table whose schema and metadata describe it (a family's newest shard). */
  readonly read: TableRef
  readonly sharding: Sharding | null
}

/** A pattern whose dataset could not be listed: its tables are unknown this run. */
export interface TargetFailure {
  readonly target: TargetPattern
  readonly error: BigQueryError
}

export interface Resolution {
  readonly tables: ReadonlyArray<LogicalTable>
  readonly failures: ReadonlyArray<TargetFailure>
}

/** How many datasets are listed at once. */
export const DATASET_CONCURRENCY = 8

const SHARD = /^(.*\D|)(\d{8})$/

/** `events_20210131` → `{ prefix: "events_", suffix: "20210131" }` when the suffix is a real date. */
export const shardOf = (table: string): { readonly prefix: string; readonly suffix: string } | undefined => {
  const match = SHARD.exec(table)
  if (match === null) return undefined
  const [, prefix, suffix] = match
  const date = new Date(`${suffix.slice(0, 4)}-${suffix.slice(4, 6)}-${suffix.slice(6)}T00:00:00Z`)
  const valid = !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10).replaceAll("-", "") === suffix
  return valid ? { prefix, suffix } : undefined
}

/** Groups tables found by patterns: shards into families, the rest as they are; in name order. */
export const groupShards = (project: string, dataset: string, names: ReadonlyArray<string>): ReadonlyArray<LogicalTable> => {
  const families = new Map<string, Array<string>>()
  const singles: Array<string> = []
  for (const name of names) {
    const shard = shardOf(name)
    if (shard === undefined) singles.push(name)
    else families.set(shard.prefix, [...(families.get(shard.prefix) ?? []), shard.suffix])
  }
  const tables: Array<LogicalTable & { readonly sortKey: string }> = singles.map((table) => ({
    id: makeTableId({ project, dataset, table }),
    read: { project, dataset, table },
    sharding: null,
    sortKey: table
  }))
  for (const [prefix, suffixes] of families) {
    const sorted = [...suffixes].sort()
    const last = sorted[sorted.length - 1]
    tables.push({
      id: makeTableId({ project, dataset, table: `${prefix}*` }),
      read: { project, dataset, table: `${prefix}${last}` },
      sharding: { prefix, first_suffix: sorted[0], last_suffix: last, shard_count: sorted.length },
      sortKey: `${prefix}*`
    })
  }
  return tables
    .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0))
    .map(({ id, read, sharding }) => ({ id, read, sharding }))
}

export { datasetKey }

/** A dataset's listing: its tables, or why it could not be listed. */
export type Listing = Either.Either<ReadonlyArray<TableListing>, BigQueryError>

/** The datasets the patterns among `targets` need listed, once each, in target order. */
export const datasetsToList = (targets: ReadonlyArray<TargetPattern>): ReadonlyArray<TargetPattern> => [
  ...new Map(targets.filter((t) => !t.exclude && isPattern(t)).map((t) => [datasetKey(t), t])).values()
]

/** One dataset's listing, with the retries of any remote call. */
export const listDataset = (target: { readonly project: string; readonly dataset: string }) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const bigQuery = yield* BigQueryService
    return yield* bigQuery.listTables(target.project, target.dataset).pipe(retryRemote(settings), Effect.either)
  })

/**
 * The logical tables `targets` resolve to, given the listings of the datasets their patterns name
 * (a dataset missing from `listings` contributes no pattern tables), in target order; and the
 * patterns that matched no table. Pure: the caller logs.
 */
export const resolveListed = (
  targets: ReadonlyArray<TargetPattern>,
  listings: ReadonlyMap<string, Listing>,
  /** A pattern's tables already found in the same listing, kept across calls (one listing per dataset and run). */
  memo?: Map<TargetPattern, ReadonlyArray<LogicalTable>>
): Resolution & { readonly unmatched: ReadonlyArray<TargetPattern> } => {
  const includes = targets.filter((t) => !t.exclude)
  const excludes = targets.filter((t) => t.exclude)
  const excluded = (ref: TableRef) => excludes.some((x) => matchesTable(x, ref))
  const seen = new Set<string>()
  const tables: Array<LogicalTable> = []
  const failures: Array<TargetFailure> = []
  const unmatched: Array<TargetPattern> = []
  const add = (table: LogicalTable) => {
    if (seen.has(table.id)) return
    seen.add(table.id)
    tables.push(table)
  }
  for (const target of includes) {
    if (!isPattern(target)) {
      if (!excluded(target)) add({ id: makeTableId(target), read: target, sharding: null })
      continue
    }
    const listing = listings.get(datasetKey(target))
    if (listing === undefined) continue
    if (Either.isLeft(listing)) {
      failures.push({ target, error: listing.left })
      continue
    }
    let found = memo?.get(target)
    if (found === undefined) {
      const names = listing.right
        .map((t) => t.table)
        .filter((table) => {
          const ref = { project: target.project, dataset: target.dataset, table }
          return matchesTable(target, ref) && !excluded(ref)
        })
      found = groupShards(target.project, target.dataset, names)
      memo?.set(target, found)
    }
    // No name matched exactly when no table (or family) was found.
    if (found.length === 0) unmatched.push(target)
    found.forEach(add)
  }
  return { tables, failures, unmatched }
}

/** Says which patterns matched no table: nothing is described for them. */
export const logUnmatched = (unmatched: ReadonlyArray<TargetPattern>) =>
  Effect.forEach(unmatched, (target) =>
    Effect.logWarning(
      `TARGET_TABLES entry ${formatTarget(target)} matches no table of ${datasetKey(target)}: nothing is described for it`
    ).pipe(Effect.annotateLogs({ target: formatTarget(target) })), { discard: true })

/**
 * The listings of `datasets` that the layer makes a region at a time (one region-qualified
 * INFORMATION_SCHEMA.TABLES query instead of a `tables.list` each); the others are left out, for
 * `listDataset`.
 */
export const listByRegion = (datasets: ReadonlyArray<{ readonly project: string; readonly dataset: string }>) =>
  Effect.flatMap(BigQueryService, (bigQuery) => bigQuery.listTablesByRegion(datasets)).pipe(
    Effect.map((listed) => new Map([...listed].map(([key, tables]) => [key, Either.right(tables) as Listing] as const)))
  )

/**
 * The tables `targets` resolve to, every listing made first: the stage-by-stage form of what the
 * sync's pipeline (`pipeline.ts`) does dataset by dataset with the same pieces, kept as the
 * reference the pipeline is tested to equal, and for callers that need the resolution alone.
 */
export const resolveTargets = (targets: ReadonlyArray<TargetPattern>) =>
  Effect.gen(function*() {
    const toList = datasetsToList(targets)
    const byRegion = yield* listByRegion(toList)
    const listings = new Map(
      yield* Effect.forEach(
        toList,
        (t) => {
          const listed = byRegion.get(datasetKey(t))
          return Effect.map(listed !== undefined ? Effect.succeed(listed) : listDataset(t), (listing) => [datasetKey(t), listing] as const)
        },
        { concurrency: DATASET_CONCURRENCY }
      )
    )
    const { failures, tables, unmatched } = resolveListed(targets, listings)
    yield* logUnmatched(unmatched)
    return { tables, failures } satisfies Resolution
  }).pipe(Effect.withSpan("sync.resolve"))
