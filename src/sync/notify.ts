/**
 * Alert: tell the team about a failed or partial run and about breaking drift. Notifying never
 * fails the sync: the alert service reports a broken webhook as an outcome, not an error.
 */
import * as Effect from "effect/Effect"
import { SyncConfig } from "../config/SyncConfig.ts"
import { AlertService } from "../services/Alerting/AlertService.ts"
import { StorageService } from "../services/Storage/StorageService.ts"
import { type SyncOptions, type SyncSummary, syncOnce } from "./SyncProgram.ts"

export const alertsFor = (summary: SyncSummary) =>
  Effect.gen(function*() {
    const alerts = yield* AlertService
    if (summary.status === "partial") {
      yield* alerts.notify({
        kind: "sync_partial",
        failed_tables: summary.failed_tables.map(({ message, table_id, tag }) => ({ table_id, tag, message })),
        target: summary.object
      })
    }
    if (summary.drift.breaking > 0 && summary.status !== "dry_run") {
      yield* alerts.notify({ kind: "breaking_drift", changes: summary.drift.breaking_changes, target: summary.object })
    }
  })

/** One sync, then the alerts its outcome calls for. */
export const syncAndNotify = (options: SyncOptions = {}) =>
  syncOnce(options).pipe(
    Effect.tap(alertsFor),
    Effect.tapError((error) =>
      Effect.gen(function*() {
        const settings = yield* SyncConfig
        const storage = yield* StorageService
        const alerts = yield* AlertService
        yield* alerts.notify({
          kind: "sync_failed",
          error: { tag: error._tag, message: error.message },
          target: storage.locate(settings.objectName)
        })
      })
    )
  )
