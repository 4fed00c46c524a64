/**
 * Telling a person that the cache needs attention: the sync failed, published with tables
 * missing, saw a breaking schema change, or the published document has gone stale or is dated in
 * the future.
 *
 * Layers:
 * - `WebhookAlerts.ts`       — posts Slack-compatible messages to a webhook, rate-limited.
 * - `AlertService.Disabled`  — no webhook configured: nothing is sent.
 *
 * `notify` never fails: an alert that cannot be delivered is logged as a warning and reported
 * as `"failed"`, so alerting can never turn a sync into a failed one.
 */
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { MAX_FUTURE_SKEW } from "../../contract/Limits.ts"

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

/**
 * The published document claims to be generated more than `MAX_FUTURE_SKEW` after this clock's
 * now: a wrong clock or a hand-edited file wrote it, and it would never go stale. The sync replaces
 * it (`replaced: true`); `metasync check` only finds it.
 */
export interface FutureDocumentAlert {
  readonly kind: "future_document"
  /** The document's `generated_at`, as written in it. */
  readonly generated_at: string
  /** The clock's time when it was found. */
  readonly now: string
  /** How far `generated_at` lies ahead of `now`. */
  readonly ahead_hours: number
  /** How far ahead a document may be before it counts as from the future (`MAX_FUTURE_SKEW`). */
  readonly max_skew_minutes: number
  /** Whether the sync published over it. */
  readonly replaced: boolean
  readonly target: string
}

/** The `future_document` alert for a document claiming `generatedAt`, found at `now`. */
export const futureDocumentAlert = (found: {
  readonly generatedAt: DateTime.Utc
  readonly now: DateTime.Utc
  readonly replaced: boolean
  readonly target: string
}): FutureDocumentAlert => ({
  kind: "future_document",
  generated_at: DateTime.formatIso(found.generatedAt),
  now: DateTime.formatIso(found.now),
  ahead_hours: Math.round(DateTime.distance(found.now, found.generatedAt) / 360_000) / 10,
  max_skew_minutes: Duration.toMinutes(MAX_FUTURE_SKEW),
  replaced: found.replaced,
  target: found.target
})

export type Alert = SyncFailedAlert | SyncPartialAlert | BreakingDriftAlert | StaleCacheAlert | FutureDocumentAlert
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
