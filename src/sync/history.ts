/**
 * History: every published document is also kept as an immutable snapshot next to the latest one,
 * `history/<object name>/<generated at>-<tag>.json`, pruned by count and age. The tag, 12 random
 * hex digits drawn once per publish, keeps two documents stamped with the same time apart, and
 * every retry of that publish writes to the same name. (It was a digest of the bytes until the
 * document was streamed out: the name is sent before the bytes exist, and a digest would have
 * cost a second rendering of the whole document.) Older names with a digest still parse.
 *
 * Publishing writes the snapshot first and then copies it over the latest object server-side, so
 * the latest object is only ever replaced whole, under a generation precondition.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { type ObjectInfo, StorageService } from "../services/Storage/StorageService.ts"

/** Where the snapshots of `objectName` live. */
export const historyPrefix = (objectName: string) => `history/${objectName}/`

/** `2026-11-27T17:00:00.000Z` → `20261127T170000.000Z`: sortable, and safe in any file system. */
const compactStamp = (at: DateTime.Utc) => DateTime.formatIso(at).replace(/[-:]/g, "")

/** The name of the snapshot of the document generated at `generatedAt`, with `tag` (see `snapshotTag`). */
export const snapshotName = (objectName: string, generatedAt: DateTime.Utc, tag: string) =>
  `${historyPrefix(objectName)}${compactStamp(generatedAt)}-${tag}.json`

const hex6 = Effect.map(Random.nextIntBetween(0, 1 << 24), (n) => n.toString(16).padStart(6, "0"))

/** 12 hex digits (48 bits) from Effect's `Random`: drawn once per publish. */
export const snapshotTag: Effect.Effect<string> = Effect.map(Effect.zip(hex6, hex6), ([a, b]) => `${a}${b}`)

/** The generation time a snapshot's name carries, if it is one of ours. */
export const snapshotTime = (objectName: string, name: string): DateTime.Utc | undefined => {
  const stamp = name.slice(historyPrefix(objectName).length).replace(/(-[0-9a-f]+)?\.json$/, "")
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?Z$/.exec(stamp)
  if (!name.startsWith(historyPrefix(objectName)) || match === null) return undefined
  const [, y, mo, d, h, mi, s, frac] = match
  return DateTime.make(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac ?? ""}Z`).pipe((o) =>
    o._tag === "Some" ? DateTime.toUtc(o.value) : undefined
  )
}

export interface Snapshot {
  readonly info: ObjectInfo
  readonly generatedAt: DateTime.Utc
}

/** Every snapshot of `objectName`, oldest first. */
export const listSnapshots = (objectName: string) =>
  Effect.map(
    Effect.flatMap(StorageService, (storage) => storage.list(historyPrefix(objectName))),
    (objects): ReadonlyArray<Snapshot> =>
      objects
        .flatMap((info) => {
          const generatedAt = snapshotTime(objectName, info.name)
          return generatedAt === undefined ? [] : [{ info, generatedAt }]
        })
        .sort((a, b) => DateTime.toEpochMillis(a.generatedAt) - DateTime.toEpochMillis(b.generatedAt))
  )

export interface Retention {
  /** Snapshots kept at most. */
  readonly keep: number
  /** Snapshots older than this are removed. */
  readonly maxAge: Duration.Duration
}

/** Which snapshots retention removes: beyond the newest `keep`, or older than `maxAge`; never the newest. */
export const expiredSnapshots = (
  snapshots: ReadonlyArray<Snapshot>,
  retention: Retention,
  now: DateTime.Utc
): ReadonlyArray<Snapshot> => {
  const cutoff = DateTime.subtractDuration(now, retention.maxAge)
  const newestFirst = [...snapshots].reverse()
  return newestFirst.filter((snapshot, index) =>
    index > 0 && (index >= retention.keep || DateTime.lessThan(snapshot.generatedAt, cutoff))
  )
}

/** Removes expired snapshots; returns the names removed. */
export const pruneHistory = (objectName: string, retention: Retention) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const now = yield* DateTime.now
    const expired = expiredSnapshots(yield* listSnapshots(objectName), retention, now)
    yield* Effect.forEach(
      expired,
      (s) => storage.remove(s.info.name, { ifGenerationMatch: s.info.generation }),
      { concurrency: 4, discard: true }
    )
    return expired.map((s) => s.info.name)
  })
