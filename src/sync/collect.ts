/**
 * Collect: read the schema and metadata of every resolved table, one batch per dataset, so the
 * number of remote calls grows with datasets rather than tables. A failure touches only the tables
 * it concerns: a table the batch could not read is that table's failure alone (retried by itself
 * when transient), and a batch that fails as a whole is read again one table at a time, so only
 * the tables that really fail go stale, each with its own error.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { formatTableRef } from "../contract/TableId.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { type BigQueryError, BigQueryService, datasetKey, type TableRead } from "../services/BigQuery/BigQueryService.ts"
import {
  capDescriptions,
  fieldNestingProblem,
  metadataProblem,
  type TableMetadata
} from "../services/BigQuery/TableResource.ts"
import { isTransient, RemoteRejected, ResourceNotFound } from "../services/RemoteErrors.ts"
import { count } from "../services/RunCounters.ts"
import { retryRemote } from "./RetryPolicy.ts"
import { DATASET_CONCURRENCY, type LogicalTable } from "./targets.ts"

export interface Collected {
  readonly table: LogicalTable
  /** Its metadata, under the logical id (a family's id, not its shard's). */
  readonly result: Either.Either<TableMetadata, BigQueryError>
}

/** How many tables of one dataset are read at once when they are read one by one. */
const TABLE_CONCURRENCY = 8

const notFound = (table: LogicalTable) =>
  new ResourceNotFound({
    service: "bigquery",
    operation: "tables.get",
    resource: formatTableRef(table.read),
    message: `Not found: Table ${table.read.project}:${table.read.dataset}.${table.read.table}`
  })

const invalidMetadata = (table: LogicalTable, problem: string) =>
  new RemoteRejected({
    service: "bigquery",
    operation: "tables.get",
    resource: formatTableRef(table.read),
    status: null,
    reason: "invalidMetadata",
    message: `${formatTableRef(table.read)} has metadata the cache document cannot hold: ${problem}`
  })

/**
 * The metadata under the logical id, descriptions cut to BigQuery's limits (each cut logged); or,
 * when the cache document could not hold it, that table's own failure.
 */
const accept = (table: LogicalTable, metadata: TableMetadata): Effect.Effect<TableRead> =>
  Effect.gen(function*() {
    // Every layer refuses deeper trees as it decodes; checked again here, before anything below recurses.
    const tooDeep = fieldNestingProblem(metadata.columns)
    if (tooDeep !== undefined) return Either.left(invalidMetadata(table, tooDeep))
    const capped = capDescriptions({ ...metadata, table_id: table.id })
    for (const { column, length } of capped.truncated) {
      yield* Effect.logWarning(
        `${column === null ? "the description" : `the description of column ${column}`} of ${table.id} has ${length} characters, more than BigQuery allows: cut`
      ).pipe(Effect.annotateLogs({ table: table.id, ...(column === null ? {} : { column }), length }))
    }
    const problem = metadataProblem(capped.table)
    return problem === undefined ? Either.right(capped.table) : Either.left(invalidMetadata(table, problem))
  })

/**
 * The metadata or failure of each table of `group` (tables read from one dataset), in its order:
 * one batch read, single reads where the batch could not say. Never fails.
 */
export const collectDataset = (
  group: ReadonlyArray<LogicalTable>,
  /** The dataset's tables as a region read already gave them (`getTablesByRegion`); none: read them now. */
  regionRead?: ReadonlyMap<string, TableRead>
) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const bigQuery = yield* BigQueryService
    if (group.length === 0) return []

    /** One table by itself, with its own retries. */
    const readAlone = (table: LogicalTable): Effect.Effect<TableRead> =>
      bigQuery.getTable(table.read).pipe(retryRemote(settings), Effect.either)

    /**
     * A table the batch could not read for a transient reason, read again by itself: the batch's
     * request was its first attempt, and the reads alone are that attempt's retries, under the
     * same policy (so the policy's attempts are the requests sent for the table).
     */
    const retryAlone = (table: LogicalTable, firstFailure: BigQueryError): Effect.Effect<TableRead> => {
      let replayed = false
      return Effect.suspend(() => {
        if (replayed) return bigQuery.getTable(table.read)
        replayed = true
        // The first attempt's call was counted with the batch.
        return Effect.zipRight(count((counters) => void (counters.calls -= 1)), Effect.fail(firstFailure))
      }).pipe(retryRemote(settings), Effect.either)
    }

    /** What the batch said of `table` when that needs no call of its own; `undefined` when it does. */
    const settledOutcome = (table: LogicalTable, reads: ReadonlyMap<string, TableRead>): TableRead | undefined => {
      const read = reads.get(table.read.table)
      if (read === undefined) return Either.left(notFound(table))
      return Either.isLeft(read) && isTransient(read.left) ? undefined : read
    }

    /** What the batch said of `table`; a transient failure of that table alone is retried by itself. */
    const outcomeOf = (table: LogicalTable, reads: ReadonlyMap<string, TableRead>): Effect.Effect<TableRead> => {
      const read = reads.get(table.read.table)
      if (read === undefined) return Effect.succeed(Either.left(notFound(table)))
      return Either.isLeft(read) && isTransient(read.left) ? retryAlone(table, read.left) : Effect.succeed(read)
    }

    const { dataset, project } = group[0].read
    const batch = regionRead !== undefined
      ? Either.right(regionRead)
      : yield* bigQuery.getTables(project, dataset, group.map((t) => t.read.table)).pipe(
        retryRemote(settings),
        Effect.either
      )
    if (Either.isLeft(batch)) {
      yield* Effect.logWarning(
        `reading the ${group.length} tables of ${project}.${dataset} one by one: the batch read failed: ${batch.left.message}`
      ).pipe(Effect.annotateLogs({ dataset: `${project}.${dataset}`, error: batch.left._tag }))
    }
    // Only the tables that need a call of their own run in fibers of their own.
    const settled = Either.isLeft(batch) ? [] : group.map((table) => settledOutcome(table, batch.right))
    const reads = Either.isRight(batch) && settled.every((read) => read !== undefined)
      ? settled as ReadonlyArray<TableRead>
      : yield* Effect.forEach(
        group,
        (table) => Either.isLeft(batch) ? readAlone(table) : outcomeOf(table, batch.right),
        { concurrency: TABLE_CONCURRENCY }
      )
    const collected = yield* Effect.forEach(group, (table, i): Effect.Effect<Collected> => {
      const read = reads[i]
      return Effect.map(Either.isLeft(read) ? Effect.succeed(read) : accept(table, read.right), (result) => ({ table, result }))
    })
    yield* Effect.logInfo(
      `read ${collected.filter((c) => Either.isRight(c.result)).length} of ${group.length} tables of ${project}.${dataset}`
    )
    return collected
  })

/** The tables of `tables` read from each dataset, datasets in order of first appearance. */
export const groupByDataset = (tables: ReadonlyArray<LogicalTable>): ReadonlyArray<ReadonlyArray<LogicalTable>> => {
  const groups = new Map<string, Array<LogicalTable>>()
  for (const table of tables) {
    const key = datasetKey(table.read)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [table])
    else group.push(table)
  }
  return [...groups.values()]
}

/**
 * What the layer reads of `groups` (each the tables of one dataset) a region at a time, by
 * `datasetKey`; a dataset left out is for `collectDataset` to read by itself.
 */
export const readByRegion = (groups: ReadonlyArray<ReadonlyArray<LogicalTable>>) =>
  Effect.flatMap(BigQueryService, (bigQuery) =>
    bigQuery.getTablesByRegion(
      groups.filter((group) => group.length > 0).map((group) => ({ ...group[0]!.read, tables: group.map((t) => t.read.table) }))
    ))

/**
 * Every table's metadata or failure, in the order given. Never fails as a whole. The stage-by-stage
 * form of the reads the sync's pipeline (`pipeline.ts`) makes dataset by dataset with the same
 * `readByRegion` and `collectDataset`: the reference it is tested to equal.
 */
export const collectTables = (tables: ReadonlyArray<LogicalTable>) =>
  Effect.gen(function*() {
    const groups = groupByDataset(tables)
    // Datasets the layer reads a region at a time; the others are read one batch per dataset.
    const byRegion = yield* readByRegion(groups)
    const results = yield* Effect.forEach(
      groups,
      (group) => collectDataset(group, byRegion.get(datasetKey(group[0].read))),
      { concurrency: DATASET_CONCURRENCY }
    )
    const byId = new Map(results.flat().map((c) => [c.table.id as string, c]))
    return tables.map((t) => byId.get(t.id)!)
  }).pipe(Effect.withSpan("sync.collect"))
