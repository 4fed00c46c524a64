/**
 * Read the warehouse as a pipeline, one dataset at a time: a dataset is listed (when a pattern
 * needs it), its tables are read in one batch, its declared keys asked (when it is batched) and
 * each table described as soon as that dataset's reads arrive, while other datasets' calls are
 * still in flight. The result is the one `resolveTargets` → `collectTables` → describe gives — the
 * same tables in the same order, the same calls — only the waiting overlaps with the work.
 *
 * The concurrency limits are those of the stages run one after another: `DATASET_CONCURRENCY`
 * listings, `DATASET_CONCURRENCY` dataset reads and `DECLARED_KEYS_CONCURRENCY` key queries in
 * flight at once, each stage with its own permits.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { TargetPattern } from "../config/Targets.ts"
import { isPattern } from "../config/Targets.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { BigQueryError, QueryResult } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { type Collected, collectDataset, groupByDataset, readByRegion } from "./collect.ts"
import { asksDeclaredKeys, declaredKeysQuery } from "./relationships/declared.ts"
import {
  DATASET_CONCURRENCY,
  datasetKey,
  datasetsToList,
  listByRegion,
  listDataset,
  type Listing,
  type LogicalTable,
  logUnmatched,
  type Resolution,
  resolveListed
} from "./targets.ts"

/** Declared-key queries in flight at once (as `declaredRelationships` asks them). */
export const DECLARED_KEYS_CONCURRENCY = 8

export interface WarehouseRead<A> {
  readonly resolution: Resolution
  /** Every resolved table's metadata or failure, in resolution order (as `collectTables` returns them). */
  readonly collected: ReadonlyArray<Collected>
  /** `described[i]`: what `describe` made of `collected[i]`, when it was read. */
  readonly described: ReadonlyArray<A | undefined>
  /** The declared-key query outcomes of the batched datasets, by `project.dataset`. */
  readonly declaredKeys: ReadonlyMap<string, Effect.Effect<Either.Either<QueryResult, BigQueryError>>>
  /**
   * Milliseconds from the start until the last listing (`resolve`), from then until the last
   * dataset read (`collect`), and from then until the last table described (`profile`).
   */
  readonly stageMs: { readonly resolve: number; readonly collect: number; readonly profile: number }
}

const NO_LISTINGS: ReadonlyMap<string, Listing> = new Map()

/**
 * Resolves `targets`, reads their tables and describes each table read with `describe`, dataset by
 * dataset. Never fails but through `describe`.
 */
export const readWarehouse = <A, E, R>(
  targets: ReadonlyArray<TargetPattern>,
  describe: (table: LogicalTable, metadata: TableMetadata) => Effect.Effect<A, E, R>,
  /** Whether describing `table` may make remote calls (profiling): those run concurrently. */
  calls: (table: LogicalTable) => boolean = () => false
) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const start = yield* Clock.currentTimeMillis
    const listing = yield* Effect.makeSemaphore(DATASET_CONCURRENCY)
    const reading = yield* Effect.makeSemaphore(DATASET_CONCURRENCY)
    const keys = yield* Effect.makeSemaphore(DECLARED_KEYS_CONCURRENCY)

    const toList = new Map(datasetsToList(targets).map((t) => [datasetKey(t), t] as const))
    // Datasets named by exact targets are read without a listing.
    const datasets = [
      ...new Set([...toList.keys(), ...targets.filter((t) => !t.exclude && !isPattern(t)).map(datasetKey)])
    ]

    const listings = new Map<string, Listing>()
    const found = new Map<TargetPattern, ReadonlyArray<LogicalTable>>()
    const collectedById = new Map<string, Collected>()
    const describedById = new Map<string, A>()
    const declaredKeys = new Map<string, Either.Either<QueryResult, BigQueryError>>()
    let listedAt = start
    let readAt = start
    let describedAt = start
    const now = Clock.currentTimeMillis
    // Datasets the layer lists and reads a region at a time come first, all of a region at once:
    // their tables are known, and read, before their describing starts. A dataset the region read
    // leaves out is read by itself, as every dataset is without region reads.
    const byRegion = yield* listByRegion([...toList.values()])
    if (byRegion.size > 0) listedAt = yield* now
    const regionGroups = groupByDataset(
      resolveListed(targets, byRegion, found).tables.filter((t) => {
        const key = datasetKey(t.read)
        return byRegion.has(key) || !toList.has(key)
      })
    )
    const regionReads = yield* Effect.cached(readByRegion(regionGroups))

    const pipeline = (key: string) =>
      Effect.gen(function*() {
        const pattern = toList.get(key)
        let own = NO_LISTINGS
        if (pattern !== undefined) {
          const listed = byRegion.get(key) ?? (yield* listing.withPermits(1)(listDataset(pattern)))
          listings.set(key, listed)
          own = new Map([[key, listed]])
          listedAt = Math.max(listedAt, yield* now)
        }
        // This dataset's tables, in the order the whole resolution will give them.
        const group = resolveListed(targets, own, found).tables.filter((t) => datasetKey(t.read) === key)
        if (group.length === 0) return
        const regionRead = regionGroups.length > 0 ? (yield* regionReads).get(key) : undefined
        const collected = yield* (regionRead !== undefined
          ? collectDataset(group, regionRead)
          : reading.withPermits(1)(collectDataset(group)))
        readAt = Math.max(readAt, yield* now)
        for (const c of collected) collectedById.set(c.table.id, c)
        const describeOne = ({ metadata, table }: { readonly table: LogicalTable; readonly metadata: TableMetadata }) =>
          Effect.map(describe(table, metadata), (a) => void describedById.set(table.id, a))
        const read = collected.flatMap((c) => Either.isRight(c.result) ? [{ table: c.table, metadata: c.result.right }] : [])
        const asks = asksDeclaredKeys({ live: settings.mode === "live", project: settings.project, count: read.length })
        yield* Effect.all([
          asks
            ? keys.withPermits(1)(Effect.suspend(() => {
              // Named as declaredRelationships names a dataset: from the ids of its tables.
              const [project, dataset] = read[0]!.metadata.table_id.split(".") as [string, string]
              return Effect.map(
                declaredKeysQuery(settings.project!, project, dataset, settings.metadataMaxBytesBilled),
                (result) => void declaredKeys.set(`${project}.${dataset}`, result)
              )
            }))
            : Effect.void,
          // Descriptions that make calls run side by side (the caller limits them); the others, pure
          // work, one after another in this fiber: a fiber per table costs more than the work.
          Effect.zipRight(
            Effect.all([
              Effect.forEach(read.filter((r) => !calls(r.table)), describeOne, { discard: true }),
              Effect.forEach(read.filter((r) => calls(r.table)), describeOne, { concurrency: "unbounded", discard: true })
            ], { discard: true }),
            Effect.map(now, (t) => void (describedAt = Math.max(describedAt, t)))
          )
        ], { concurrency: 2, discard: true })
      })

    yield* Effect.forEach(datasets, pipeline, { concurrency: "unbounded", discard: true })

    // The whole resolution, in target order, from the listings made.
    const { failures, tables, unmatched } = resolveListed(targets, listings, found)
    yield* logUnmatched(unmatched)
    const collected = tables.map((table) => {
      const c = collectedById.get(table.id)
      if (c === undefined) throw new Error(`internal: table ${table.id} was resolved but not read`)
      return c
    })
    return {
      resolution: { tables, failures },
      collected,
      described: collected.map((c) => describedById.get(c.table.id)),
      declaredKeys: new Map([...declaredKeys].map(([k, v]) => [k, Effect.succeed(v)] as const)),
      stageMs: {
        resolve: listedAt - start,
        collect: Math.max(0, readAt - listedAt),
        profile: Math.max(0, describedAt - Math.max(readAt, listedAt))
      }
    } satisfies WarehouseRead<A>
  }).pipe(Effect.withSpan("sync.read"))
