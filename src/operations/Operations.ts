/**
 * What an operator does to a published cache besides syncing: look at it, compare snapshots,
 * roll back, validate a file, and check freshness. The CLI is a thin layer over these.
 *
 * Every read goes through `readStoredDocument`, so a cache of either layout works: one document
 * (formats 1 and 2), or a split layout's manifest with its parts (format 3), read whole and joined.
 * The freshness check is the exception: it reads the manifest and only `stat`s the parts (at
 * 10,000 tables they are about 113 MiB, and a part at the generation referenced is the very
 * object written, parts being create-only).
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { decodeStoredBytes } from "../contract/DocumentBytes.ts"
import { computeDrift, type SchemaDrift } from "../contract/Drift.ts"
import { isGeneratedInTheFuture } from "../contract/Limits.ts"
import { CacheDocumentError } from "../contract/DocumentError.ts"
import { type CacheManifest, joinDocument } from "../contract/SplitDocument.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import { readParts, readStoredDocument, type Retry } from "../loader/StoredDocument.ts"
import { AlertService, type AlertOutcome, futureDocumentAlert } from "../services/Alerting/AlertService.ts"
import { ResourceNotFound } from "../services/RemoteErrors.ts"
import { type ObjectInfo, StorageService } from "../services/Storage/StorageService.ts"
import { listSnapshots } from "../sync/history.ts"
import { retryRemote, type RetrySettings } from "../sync/RetryPolicy.ts"

/** The name that stands for the latest published document in `diff`. */
export const LATEST = "latest"

export interface StoredDocument {
  readonly name: string
  readonly location: string
  /** The object at `name`: the document, or a split document's manifest. */
  readonly info: ObjectInfo
  /** The whole document; a split one joined from its parts. */
  readonly document: CacheDocument
  /** As written: 1, 2, or 3 (split). */
  readonly formatVersion: number
  /** A split document's manifest (its `parts` say where each part is); `null` for one document. */
  readonly manifest: CacheManifest | null
}

/** The sync's retry policy for each storage call of a read (`readStoredDocument` takes any error type). */
const retryWith = (settings: RetrySettings): Retry => (call) =>
  retryRemote(settings)(call as unknown as Effect.Effect<unknown, { readonly _tag: string }, unknown>) as never

const notFound = (location: string) =>
  new ResourceNotFound({ service: "storage", operation: "objects.get", resource: location, message: `${location} does not exist` })

/** Reads and decodes one object, the latest document or a snapshot, with a split one's parts. */
export const readDocument = (name: string) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const location = storage.locate(name)
    const stored = yield* readStoredDocument(name, { retry: retryWith(settings) })
    if (Option.isNone(stored)) return yield* notFound(location)
    const { document, formatVersion, info, manifest } = stored.value
    return { name, location, info, document, formatVersion, manifest } satisfies StoredDocument
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

/** A part a snapshot's manifest references that is gone, or was replaced since. */
export interface MissingPart {
  readonly key: string
  readonly object: string
  /** The generation the manifest references. */
  readonly generation: string
  /** The part's generation now; `null` when it does not exist. */
  readonly found: string | null
}

/** A snapshot that is a split manifest whose parts are not all there: rolling back to it would publish a broken cache. */
export class IncompleteSnapshot extends Data.TaggedError("IncompleteSnapshot")<{
  readonly snapshot: string
  readonly parts: ReadonlyArray<MissingPart>
  readonly total: number
}> {
  override get message() {
    const listed = this.parts.map((p) =>
      `${p.key} (${p.object}) ${p.found === null ? "does not exist" : `is at generation ${p.found}, not ${p.generation}`}`
    )
    return `${this.snapshot} is a split manifest, and ${this.parts.length} of its ${this.total} parts cannot be read as it references them: ${
      listed.join("; ")
    }; not rolled back`
  }
}

/** The parts of `manifest` that do not exist at the generation it references (one `stat` each). */
export const missingParts = (manifest: CacheManifest) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const found = yield* Effect.forEach(
      manifest.parts,
      (ref) => Effect.map(storage.stat(ref.object).pipe(retryRemote(settings)), (info) => ({ ref, info })),
      { concurrency: 8 }
    )
    return found.flatMap(({ info, ref }): ReadonlyArray<MissingPart> =>
      Option.isSome(info) && info.value.generation === ref.generation
        ? []
        : [{ key: ref.key, object: storage.locate(ref.object), generation: ref.generation, found: Option.isSome(info) ? info.value.generation : null }]
    )
  })

/**
 * Makes a snapshot the latest document again: a server-side copy over the latest object, under
 * the generation just read, so a sync publishing at the same moment is not overwritten unseen.
 *
 * A snapshot of a split document is its manifest: only the manifest is copied, and its parts are
 * shared. So every part it references is first looked for at its generation, and the rollback is
 * refused, naming each missing part, before anything is read further or written; then the whole
 * document is read (every part checked) as for any snapshot.
 */
export const rollback = (snapshot: string) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const storage = yield* StorageService
    const name = yield* resolveName(snapshot)
    const location = storage.locate(name)
    const content = yield* storage.read(name).pipe(retryRemote(settings))
    if (Option.isNone(content)) return yield* notFound(location)
    const { bytes, info } = content.value
    const decoded = yield* decodeStoredBytes(bytes, location)
    let source: StoredDocument
    switch (decoded._tag) {
      case "Document":
        source = { name, location, info, document: decoded.document, formatVersion: decoded.formatVersion, manifest: null }
        break
      case "Part":
        return yield* new CacheDocumentError({
          source: location,
          problems: `- (object): a part (${decoded.part.key}) of a split document, not a snapshot of one; not rolled back`
        })
      case "Manifest": {
        const manifest = decoded.manifest
        const missing = yield* missingParts(manifest)
        if (missing.length > 0) return yield* new IncompleteSnapshot({ snapshot: location, parts: missing, total: manifest.parts.length })
        // Every part read and joined: a snapshot whose parts do not make its document is not published again.
        const parts = yield* readParts(manifest, { retry: retryWith(settings) })
        const document = yield* joinDocument(manifest, parts, location)
        source = { name, location, info, document, formatVersion: 3, manifest }
      }
    }
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
  /** A split document's parts (its manifest is at `location`); `null` for one document. */
  readonly parts: number | null
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
 * The latest object, without its parts: a whole document's `generated_at`, or a split manifest
 * whose every part is checked by a `stat` to exist at the generation it references. A part
 * missing fails with `ResourceNotFound`, one replaced with `CacheDocumentError`, naming each.
 */
const latestWithoutParts = Effect.gen(function*() {
  const settings = yield* SyncConfig
  const storage = yield* StorageService
  const location = storage.locate(settings.objectName)
  const content = yield* storage.read(settings.objectName).pipe(retryRemote(settings))
  if (Option.isNone(content)) return yield* notFound(location)
  const decoded = yield* decodeStoredBytes(content.value.bytes, location)
  switch (decoded._tag) {
    case "Document":
      return { location, generatedAt: decoded.document.generated_at, parts: null }
    case "Part":
      return yield* new CacheDocumentError({
        source: location,
        problems: `- (object): a part (${decoded.part.key}) of a split document, not a document or a manifest`
      })
    case "Manifest": {
      const manifest = decoded.manifest
      const missing = yield* missingParts(manifest)
      if (missing.length > 0) {
        const at = DateTime.formatIso(manifest.generated_at)
        const problems = missing.map((p) =>
          p.found === null
            ? `part ${p.key} of the manifest generated at ${at} is missing: ${p.object} does not exist`
            : `part ${p.key} of the manifest generated at ${at} was replaced since: ${p.object} is at generation ${p.found}, the manifest references generation ${p.generation}`
        )
        const gone = missing.find((p) => p.found === null)
        return yield* gone !== undefined
          ? new ResourceNotFound({ service: "storage", operation: "objects.get", resource: gone.object, message: problems.join("; ") })
          : new CacheDocumentError({ source: location, problems: problems.map((p) => `- parts: ${p}`).join("\n") })
      }
      return { location, generatedAt: manifest.generated_at, parts: manifest.parts.length }
    }
  }
})

/**
 * Is the latest document older than `maxAge` (the `stale_cache` alert goes out), or stamped in the
 * future (the `future_document` alert, with the date it claims and this clock's now)?
 */
export const checkFreshness = (maxAge: Duration.Duration = DEFAULT_MAX_AGE) =>
  Effect.gen(function*() {
    const latest = yield* latestWithoutParts
    const generatedAt = latest.generatedAt
    const now = yield* DateTime.now
    const sinceGenerated = DateTime.distance(generatedAt, now)
    const age = Duration.millis(Math.max(0, sinceGenerated))
    const ahead = Duration.millis(Math.max(0, -sinceGenerated))
    const stale = Duration.greaterThan(age, maxAge)
    const future = isGeneratedInTheFuture(generatedAt, DateTime.toEpochMillis(now))
    const alerts = yield* AlertService
    const alert = future
      ? yield* alerts.notify(
        futureDocumentAlert({ generatedAt, now, replaced: false, target: latest.location })
      )
      : stale
      ? yield* alerts.notify({
        kind: "stale_cache",
        generated_at: DateTime.formatIso(generatedAt),
        age_hours: Math.round((sinceGenerated / 3_600_000) * 10) / 10,
        threshold_hours: Duration.toHours(maxAge),
        target: latest.location
      })
      : null
    return {
      location: latest.location,
      parts: latest.parts,
      generated_at: generatedAt,
      age,
      stale,
      ahead,
      future,
      alert
    } satisfies Freshness
  })
