/**
 * What an operator does to a published cache besides syncing: look at it, compare snapshots,
 * roll back, validate a file, and check freshness. The CLI is a thin layer over these.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { decodeDocumentBytes } from "../contract/DocumentBytes.ts"
import { computeDrift, type SchemaDrift } from "../contract/Drift.ts"
import { isGeneratedInTheFuture } from "../contract/Limits.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { AlertService, type AlertOutcome, futureDocumentAlert } from "../services/Alerting/AlertService.ts"
import { ResourceNotFound } from "../services/RemoteErrors.ts"
import { type ObjectInfo, StorageService } from "../services/Storage/StorageService.ts"
import { listSnapshots } from "../sync/history.ts"
import { retryRemote } from "../sync/RetryPolicy.ts"

/** The name that stands for the latest published document in `diff`. */
export const LATEST = "latest"

export interface StoredDocument {
  readonly name: string
  readonly location: string
  readonly info: ObjectInfo
  readonly document: CacheDocument
}

/** Reads and decodes one object: the latest document or a snapshot. */
export const readDocument = (name: string) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const location = storage.locate(name)
    const content = yield* storage.read(name).pipe(retryRemote(settings))
    if (Option.isNone(content)) {
      return yield* new ResourceNotFound({
        service: "storage",
        operation: "objects.get",
        resource: location,
        message: `${location} does not exist`
      })
    }
    const document = yield* Either.map(decodeDocumentBytes(content.value.bytes, location), (d) => d.document)
    return { name, location, info: content.value.info, document } satisfies StoredDocument
  })

/** The latest document. */
export const readLatest = Effect.flatMap(SyncConfig, (settings) => readDocument(settings.objectName))

/** `latest` or a snapshot name (with or without its `history/<object>/` prefix). */
export const resolveName = (name: string) =>
  Effect.map(SyncConfig, (settings) =>
    name === LATEST || name === settings.objectName
      ? settings.objectName
      : name.startsWith("history/")
      ? name
      : `history/${settings.objectName}/${name}`)

export const history = Effect.flatMap(SyncConfig, (settings) => listSnapshots(settings.objectName))

/** What changed from `from` to `to` (each `latest` or a snapshot). */
export const diff = (from: string, to: string) =>
  Effect.gen(function*() {
    const a = yield* readDocument(yield* resolveName(from))
    const b = yield* readDocument(yield* resolveName(to))
    return { from: a, to: b, drift: computeDrift(a.document, b.document) as SchemaDrift }
  })

/**
 * Makes a snapshot the latest document again: a server-side copy over the latest object, under
 * the generation just read, so a sync publishing at the same moment is not overwritten unseen.
 */
export const rollback = (snapshot: string) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const source = yield* readDocument(yield* resolveName(snapshot))
    const current = yield* storage.stat(settings.objectName).pipe(retryRemote(settings))
    const ifGenerationMatch = Option.match(current, { onNone: () => "0", onSome: (i) => i.generation })
    const written = yield* storage.copy(source.name, settings.objectName, { ifGenerationMatch }).pipe(
      retryRemote(settings)
    )
    return { from: source, location: storage.locate(settings.objectName), generation: written.generation }
  })

/** A document older than this is stale (`show`, `check`): a daily schedule, with two hours' slack. */
export const DEFAULT_MAX_AGE: Duration.Duration = Duration.hours(26)

export interface Freshness {
  readonly location: string
  readonly generated_at: DateTime.Utc
  /** Time since `generated_at`; zero for a document generated in the future. */
  readonly age: Duration.Duration
  readonly stale: boolean
  /** Time `generated_at` lies ahead of this clock; zero for a document from the past. */
  readonly ahead: Duration.Duration
  /** Generated more than `MAX_FUTURE_SKEW` in the future: no working sync wrote it, and it would never go stale. */
  readonly future: boolean
  readonly alert: AlertOutcome | null
}

/**
 * Is the latest document older than `maxAge` (the `stale_cache` alert goes out), or stamped in the
 * future (the `future_document` alert, with the date it claims and this clock's now)?
 */
export const checkFreshness = (maxAge: Duration.Duration = DEFAULT_MAX_AGE) =>
  Effect.gen(function*() {
    const latest = yield* readLatest
    const now = yield* DateTime.now
    const sinceGenerated = DateTime.distance(latest.document.generated_at, now)
    const age = Duration.millis(Math.max(0, sinceGenerated))
    const ahead = Duration.millis(Math.max(0, -sinceGenerated))
    const stale = Duration.greaterThan(age, maxAge)
    const future = isGeneratedInTheFuture(latest.document.generated_at, DateTime.toEpochMillis(now))
    const alerts = yield* AlertService
    const alert = future
      ? yield* alerts.notify(
        futureDocumentAlert({ generatedAt: latest.document.generated_at, now, replaced: false, target: latest.location })
      )
      : stale
      ? yield* alerts.notify({
        kind: "stale_cache",
        generated_at: DateTime.formatIso(latest.document.generated_at),
        age_hours: Math.round((sinceGenerated / 3_600_000) * 10) / 10,
        threshold_hours: Duration.toHours(maxAge),
        target: latest.location
      })
      : null
    return {
      location: latest.location,
      generated_at: latest.document.generated_at,
      age,
      stale,
      ahead,
      future,
      alert
    } satisfies Freshness
  })
