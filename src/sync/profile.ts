/**
 * Profile: for the tables that opted in (PROFILE_TABLES), what their values look like. A table is
 * read with `tables.get` first for what INFORMATION_SCHEMA lacks (policy tags: such columns are
 * never sampled). A profile that fails is logged and the previous one kept; it never fails the run.
 */
import * as Effect from "effect/Effect"
import type { TableEntry } from "../contract/CacheDocument.ts"
import { SyncConfig, type SyncSettings } from "../config/SyncConfig.ts"
import { matchesTable } from "../config/Targets.ts"
import { BigQueryService } from "../services/BigQuery/BigQueryService.ts"
import { profileTable } from "./profiles.ts"
import { retryRemote } from "./RetryPolicy.ts"
import type { LogicalTable } from "./targets.ts"

/** How many tables are profiled at once. */
export const PROFILE_CONCURRENCY = 4

/** Whether `table` opted in to profiling (PROFILE_TABLES, exclusions applied). */
export const isProfiled = (settings: SyncSettings, table: LogicalTable): boolean =>
  settings.profileTargets.some((t) => !t.exclude && matchesTable(t, table.read)) &&
  !settings.profileTargets.some((t) => t.exclude && matchesTable(t, table.read))

/** The settings a table's profile depends on; `null` when it is not profiled. */
/** The profile settings a table's fingerprint depends on, as JSON values (the pattern as its `/source/flags`). */
export interface ProfileInputs {
  readonly project: string | null
  readonly max_bytes: number
  readonly sensitive: string | null
}

export const profileInputs = (settings: SyncSettings, table: LogicalTable): ProfileInputs | null =>
  isProfiled(settings, table)
    ? {
      project: settings.project,
      max_bytes: settings.profileMaxBytesBilled,
      sensitive: settings.sensitiveColumnPattern === null ? null : String(settings.sensitiveColumnPattern)
    }
    : null

/** `entry` with a profile when its table opted in; `previous` supplies the profile to keep on failure. */
export const withProfile = (table: LogicalTable, entry: TableEntry, previous: TableEntry | undefined) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    if (!isProfiled(settings, table)) return entry
    const bigQuery = yield* BigQueryService
    // Jobs run (and are billed) in the configured project; the table may live in another.
    return yield* bigQuery.getTable(table.read).pipe(
      retryRemote(settings),
      Effect.flatMap((full) =>
        profileTable(settings.project ?? table.read.project, { ...entry, ...full, table_id: entry.table_id }, {
          maximumBytesBilled: settings.profileMaxBytesBilled,
          ...(settings.sensitiveColumnPattern === null ? {} : { sensitiveNamePattern: settings.sensitiveColumnPattern })
        }).pipe(retryRemote(settings))
      ),
      Effect.map((profile): TableEntry => ({ ...entry, profile })),
      Effect.catchAll((error) =>
        Effect.as(
          Effect.logWarning(`profiling ${entry.table_id} failed, keeping its previous profile: ${error.message}`),
          { ...entry, profile: previous?.profile ?? null }
        )
      )
    )
  })
