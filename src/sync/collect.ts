/**
 * Collect: read every target table's schema and metadata from BigQuery.
 */
import * as Effect from "effect/Effect"
import { type TableRef } from "../contract/TableId.ts"
import { BigQueryService } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { retryRemote } from "./RetryPolicy.ts"

/** How many `tables.get` calls run at once. */
export const TABLE_READ_CONCURRENCY = 8

/** Every target's metadata, in target order; the first failure fails the step. */
export const collectTables = (targets: ReadonlyArray<TableRef>) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const bigQuery = yield* BigQueryService
    return yield* Effect.forEach(
      targets,
      (ref): Effect.Effect<TableMetadata, Effect.Effect.Error<ReturnType<typeof bigQuery.getTable>>> =>
        bigQuery.getTable(ref).pipe(retryRemote(settings)),
      { concurrency: TABLE_READ_CONCURRENCY }
    )
  }).pipe(Effect.withSpan("sync.collect"))
