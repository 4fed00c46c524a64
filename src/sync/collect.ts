/**
 * Collect: read the schema and metadata of every resolved table, one batch per dataset, so the
 * number of remote calls grows with datasets rather than tables. A failure touches only the tables
 * it concerns: the run goes on with the others.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { SyncConfig } from "../config/SyncConfig.ts"
import { type BigQueryError, BigQueryService } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { ResourceNotFound } from "../services/RemoteErrors.ts"
import { retryRemote } from "./RetryPolicy.ts"
import { DATASET_CONCURRENCY, type LogicalTable } from "./targets.ts"

export interface Collected {
  readonly table: LogicalTable
  /** Its metadata, under the logical id (a family's id, not its shard's). */
  readonly result: Either.Either<TableMetadata, BigQueryError>
}

const groupByDataset = (tables: ReadonlyArray<LogicalTable>) => {
  const groups = new Map<string, Array<LogicalTable>>()
  for (const table of tables) {
    const key = `${table.read.project}.${table.read.dataset}`
    groups.set(key, [...(groups.get(key) ?? []), table])
  }
  return [...groups.values()]
}

/** Every table's metadata or failure, in the order given. Never fails as a whole. */
export const collectTables = (tables: ReadonlyArray<LogicalTable>) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const bigQuery = yield* BigQueryService
    const results = yield* Effect.forEach(
      groupByDataset(tables),
      (group) => {
        const { dataset, project } = group[0].read
        return bigQuery.getTables(project, dataset, group.map((t) => t.read.table)).pipe(
          retryRemote(settings),
          Effect.tap((found) => Effect.logInfo(`read ${found.size} of ${group.length} tables of ${project}.${dataset}`)),
          Effect.either,
          Effect.map((batch) =>
            group.map((table): readonly [string, Collected] => {
              const result = Either.flatMap(batch, (found): Either.Either<TableMetadata, BigQueryError> => {
                const metadata = found.get(table.read.table)
                return metadata === undefined
                  ? Either.left(
                    new ResourceNotFound({
                      service: "bigquery",
                      operation: "tables.get",
                      resource: `${project}.${dataset}.${table.read.table}`,
                      message: `Not found: Table ${project}:${dataset}.${table.read.table}`
                    })
                  )
                  : Either.right({ ...metadata, table_id: table.id })
              })
              return [table.id, { table, result }]
            })
          )
        )
      },
      { concurrency: DATASET_CONCURRENCY }
    )
    const byId = new Map(results.flat())
    return tables.map((t) => byId.get(t.id)!)
  }).pipe(Effect.withSpan("sync.collect"))
