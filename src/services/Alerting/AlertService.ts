/**
 * Telling a person that the cache needs attention: the sync failed, published with tables
 * missing, saw a breaking schema change, or the published document has gone stale.
 *
 * Layers:
 * - `WebhookAlerts.ts`       — posts Slack-compatible messages to a webhook, rate-limited.
 * - `AlertService.Disabled`  — no webhook configured: nothing is sent.
 *
 * `notify` never fails: an alert that cannot be delivered is logged as a warning and reported
 * as `"failed"`, so alerting can never turn a sync into a failed one.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The sync stopped without publishing. */
export interface SyncFailedAlert {
  readonly kind: "sync_failed"
  readonly error: { readonly tag: string; readonly message: string }
  /** Where the cache document lives, e.g. `gs://bucket/metadata_cache.json`. */
  readonly target: string
}

/** The sync published, but some tables could not be described. */
export interface SyncPartialAlert {
  readonly kind: "sync_partial"
  readonly failed_tables: ReadonlyArray<{ readonly table_id: string; readonly tag: string; readonly message: string }>
  readonly target: string
}

/** A table changed in a way that breaks the backend's queries (a column removed or retyped). */
export interface BreakingDriftAlert {
  readonly kind: "breaking_drift"
  /** One readable line per change. */
  readonly changes: ReadonlyArray<string>
  readonly target: string
}

/** The published document is older than it should be. */
export interface StaleCacheAlert {
  readonly kind: "stale_cache"
  /** The document's `generated_at`, as written in it. */
  readonly generated_at: string
  readonly age_hours: number
  readonly threshold_hours: number
  readonly target: string
}

export type Alert = SyncFailedAlert | SyncPartialAlert | BreakingDriftAlert | StaleCacheAlert
export type AlertKind = Alert["kind"]

/**
 * What became of an alert: delivered, held back by the rate limit, not delivered (logged as a
 * warning), or not sent because alerting is not configured.
 */
export type AlertOutcome = "sent" | "suppressed" | "failed" | "disabled"

export interface Alerts {
  readonly notify: (alert: Alert) => Effect.Effect<AlertOutcome>
}

export class AlertService extends Context.Tag("MetaSync/AlertService")<AlertService, Alerts>() {
  /** No webhook configured: every alert is dropped. */
  static readonly Disabled: Layer.Layer<AlertService> = Layer.succeed(
    AlertService,
    AlertService.of({ notify: () => Effect.succeed("disabled") })
  )
}
