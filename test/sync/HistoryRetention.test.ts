/**
 * The history of published documents: snapshot names (sortable stamp + random tag), reading the time
 * back from a name, and retention by count and by age that never removes the newest snapshot.
 * Names, stamps and tags are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { PermissionDenied } from "../../src/services/RemoteErrors.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import type { ObjectInfo } from "../../src/services/Storage/StorageService.ts"
import {
  expiredSnapshots,
  historyPrefix,
  listSnapshots,
  pruneHistory,
  type Snapshot,
  snapshotName,
  snapshotTag,
  snapshotTime
} from "../../src/sync/history.ts"

const at = (iso: string) => DateTime.unsafeMake(iso)

const snapshot = (name: string, generatedAt: string, generation = "1"): Snapshot => ({
  info: { name, generation, size: 1, contentType: "application/json", updated: at(generatedAt) } satisfies ObjectInfo,
  generatedAt: at(generatedAt)
})

describe("snapshot names", () => {
  it("carry the compact generation time and the publish's tag", () => {
    expect(snapshotName("metadata_cache.json", at("2026-11-27T17:00:00Z"), "ba7816bf8f01")).toBe(
      "history/metadata_cache.json/20261127T170000.000Z-ba7816bf8f01.json"
    )
    expect(snapshotName("cache/doc.json", at("2026-01-02T03:04:05.678Z"), "000000000000")).toBe(
      "history/cache/doc.json/20260102T030405.678Z-000000000000.json"
    )
    expect(historyPrefix("doc.json")).toBe("history/doc.json/")
  })

  it.effect("tags are 12 hex digits drawn from Effect's Random: the same seed, the same tag", () =>
    Effect.gen(function*() {
      const seeded = (seed: string) => Effect.withRandom(snapshotTag, Random.make(seed))
      const tags = yield* Effect.all([seeded("a"), seeded("a"), seeded("b"), snapshotTag, snapshotTag])
      for (const tag of tags) expect(tag).toMatch(/^[0-9a-f]{12}$/)
      expect(tags[0]).toBe(tags[1])
      expect(tags[0]).not.toBe(tags[2])
      expect(tags[3]).not.toBe(tags[4])
      // The name a tag makes reads back as its time.
      expect(snapshotTime("doc.json", snapshotName("doc.json", at("2026-11-27T17:00:00Z"), tags[0]))).toEqual(at("2026-11-27T17:00:00Z"))
    }))

  it("give back the time they carry", () => {
    expect(snapshotTime("doc.json", "history/doc.json/20261127T170000.000Z-ba7816bf8f01.json")).toEqual(
      at("2026-11-27T17:00:00Z")
    )
    expect(snapshotTime("doc.json", "history/doc.json/20260102T030405.678Z-e3b0c44298fc.json")).toEqual(
      at("2026-01-02T03:04:05.678Z")
    )
    // Names written before the digest was added, and without fractions of a second.
    expect(snapshotTime("doc.json", "history/doc.json/20261127T170000.000Z.json")).toEqual(at("2026-11-27T17:00:00Z"))
    expect(snapshotTime("doc.json", "history/doc.json/20261127T170000Z.json")).toEqual(at("2026-11-27T17:00:00Z"))
  })

  it("are not ours when the prefix, the stamp or the extension is wrong", () => {
    for (
      const name of [
        "history/other.json/20261127T170000.000Z-ba7816bf8f01.json",
        "xhistory/doc.json/20261127T170000.000Z-ba7816bf8f01.json",
        "history/doc.json/20261127T170000.000Z-ba7816bf8f01.txt",
        "history/doc.json/2026-11-27T17:00:00.000Z.json",
        "history/doc.json/20261127T170000.000-ba7816bf8f01.json",
        "history/doc.json/x20261127T170000.000Z.json",
        "history/doc.json/20261127T170000.000Zx.json",
        "history/doc.json/20261327T170000.000Z.json",
        "history/doc.json/notes.json",
        // Same length as the right prefix, and a valid stamp after it: still not ours.
        "history/doc.jsoX/20261127T170000.000Z.json",
        "xistory/doc.json/20261127T170000.000Z.json"
      ]
    ) {
      expect(snapshotTime("doc.json", name), name).toBeUndefined()
    }
  })
})

describe("expiredSnapshots", () => {
  const now = at("2026-11-28T00:00:00Z")
  const oldestFirst = [
    snapshot("a", "2026-08-01T00:00:00Z"),
    snapshot("b", "2026-08-30T00:00:00Z"),
    snapshot("c", "2026-11-01T00:00:00Z"),
    snapshot("d", "2026-11-20T00:00:00Z"),
    snapshot("e", "2026-11-27T00:00:00Z")
  ]
  const names = (snapshots: ReadonlyArray<Snapshot>) => snapshots.map((s) => s.info.name)

  it("removes those beyond the newest `keep`, newest first", () => {
    expect(names(expiredSnapshots(oldestFirst, { keep: 2, maxAge: Duration.days(3650) }, now))).toEqual(["c", "b", "a"])
    expect(names(expiredSnapshots(oldestFirst, { keep: 5, maxAge: Duration.days(3650) }, now))).toEqual([])
    expect(names(expiredSnapshots(oldestFirst, { keep: 4, maxAge: Duration.days(3650) }, now))).toEqual(["a"])
  })

  it("removes those older than maxAge, keeping exactly-at-the-cutoff ones", () => {
    // 90 days before 2026-11-28 is 2026-08-30: "b" is exactly at the cutoff and stays.
    expect(names(expiredSnapshots(oldestFirst, { keep: 30, maxAge: Duration.days(90) }, now))).toEqual(["a"])
    expect(names(expiredSnapshots(oldestFirst, { keep: 30, maxAge: Duration.days(10) }, now))).toEqual(["c", "b", "a"])
  })

  it("never removes the newest, even when it is too old or keep is 0", () => {
    expect(names(expiredSnapshots(oldestFirst, { keep: 0, maxAge: Duration.days(3650) }, now))).toEqual([
      "d",
      "c",
      "b",
      "a"
    ])
    expect(names(expiredSnapshots(oldestFirst, { keep: 30, maxAge: Duration.days(0) }, now))).toEqual(["d", "c", "b", "a"])
    expect(names(expiredSnapshots([snapshot("only", "2020-01-01T00:00:00Z")], { keep: 0, maxAge: Duration.days(1) }, now)))
      .toEqual([])
    expect(expiredSnapshots([], { keep: 1, maxAge: Duration.days(1) }, now)).toEqual([])
  })

  it("does not reorder the list it was given", () => {
    const input = [...oldestFirst]
    expiredSnapshots(input, { keep: 1, maxAge: Duration.days(1) }, now)
    expect(names(input)).toEqual(["a", "b", "c", "d", "e"])
  })
})

describe("listing and pruning the history in a bucket", () => {
  const layer = MemoryStorage.layer("test-bucket")

  it.effect("lists the object's snapshots oldest first, skipping anything that is not one", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put("history/doc.json/20261127T170000.000Z-bbbbbbbbbbbb.json", "3")
      yield* bucket.put("history/doc.json/20261125T170000.000Z-cccccccccccc.json", "1")
      yield* bucket.put("history/doc.json/20261126T170000.000Z-aaaaaaaaaaaa.json", "2")
      yield* bucket.put("history/doc.json/README.txt", "not a snapshot")
      yield* bucket.put("history/doc.json.bak/20261101T000000.000Z.json", "another object's")
      const listed = yield* listSnapshots("doc.json")
      expect(listed.map((s) => [s.info.name, DateTime.formatIso(s.generatedAt)])).toEqual([
        ["history/doc.json/20261125T170000.000Z-cccccccccccc.json", "2026-11-25T17:00:00.000Z"],
        ["history/doc.json/20261126T170000.000Z-aaaaaaaaaaaa.json", "2026-11-26T17:00:00.000Z"],
        ["history/doc.json/20261127T170000.000Z-bbbbbbbbbbbb.json", "2026-11-27T17:00:00.000Z"]
      ])
    }).pipe(Effect.provide(layer)))

  it.effect("orders by the time in the name, not by the name", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      // "." sorts before "Z": by name the later snapshot comes first.
      yield* bucket.put("history/doc.json/20261127T170000Z.json", "earlier")
      yield* bucket.put("history/doc.json/20261127T170000.500Z.json", "later")
      yield* bucket.put("history/doc.json/20261126T170000.000Z.json", "earliest")
      const listed = yield* listSnapshots("doc.json")
      expect(listed.map((s) => s.info.name)).toEqual([
        "history/doc.json/20261126T170000.000Z.json",
        "history/doc.json/20261127T170000Z.json",
        "history/doc.json/20261127T170000.500Z.json"
      ])
    }).pipe(Effect.provide(layer)))

  it.effect("prunes by count and age against the clock, and returns what it removed", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(at("2026-11-28T00:00:00Z")))
      const bucket = yield* MemoryStorageControl
      for (const stamp of ["20260801T000000.000Z", "20261101T000000.000Z", "20261120T000000.000Z", "20261127T000000.000Z"]) {
        yield* bucket.put(`history/doc.json/${stamp}-000000000000.json`, stamp)
      }
      yield* bucket.put("doc.json", "latest")
      const removed = yield* pruneHistory("doc.json", { keep: 3, maxAge: Duration.days(90) })
      expect(removed).toEqual(["history/doc.json/20260801T000000.000Z-000000000000.json"])
      expect(yield* bucket.names).toEqual([
        "doc.json",
        "history/doc.json/20261101T000000.000Z-000000000000.json",
        "history/doc.json/20261120T000000.000Z-000000000000.json",
        "history/doc.json/20261127T000000.000Z-000000000000.json"
      ])
      const again = yield* pruneHistory("doc.json", { keep: 1, maxAge: Duration.days(90) })
      expect(again).toEqual([
        "history/doc.json/20261120T000000.000Z-000000000000.json",
        "history/doc.json/20261101T000000.000Z-000000000000.json"
      ])
      // Each removal is conditional on the generation listed.
      const removes = (yield* bucket.calls).filter((c) => c.operation === "remove")
      expect(removes).toHaveLength(3)
    }).pipe(Effect.provide(layer)))

  it.effect("a removal that fails fails the pruning", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(at("2026-11-28T00:00:00Z")))
      const bucket = yield* MemoryStorageControl
      yield* bucket.put("history/doc.json/20261101T000000.000Z-000000000000.json", "old")
      yield* bucket.put("history/doc.json/20261127T000000.000Z-000000000000.json", "new")
      const denied = new PermissionDenied({
        service: "storage",
        operation: "objects.delete",
        resource: "gs://test-bucket/history/doc.json/20261101T000000.000Z-000000000000.json",
        status: 403,
        message: "denied"
      })
      yield* bucket.failNext("remove", denied)
      const exit = yield* pruneHistory("doc.json", { keep: 1, maxAge: Duration.days(90) }).pipe(Effect.flip)
      expect(exit).toEqual(denied)
    }).pipe(Effect.provide(layer)))
})
