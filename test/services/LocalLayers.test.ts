import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { LocalBigQuery } from "../../src/services/BigQuery/LocalBigQuery.ts"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import * as Either from "effect/Either"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { makeTableId } from "../../src/contract/TableId.ts"
import { MAX_COLUMN_DESCRIPTION, MAX_TABLE_DESCRIPTION } from "../../src/services/BigQuery/TableResource.ts"
import { collectTables } from "../../src/sync/collect.ts"
import { captureLogs } from "../support/CapturedLogs.ts"
import { fixtureFields, ref, testSettings } from "../support/TestLayers.ts"

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "metasync-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const bytes = (text: string) => new TextEncoder().encode(text)
const json = (ifGenerationMatch: string) => ({ contentType: "application/json", ifGenerationMatch })

describe("local storage (a directory standing in for a bucket)", () => {
  it.scoped("writes under generation preconditions, like Cloud Storage", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(dir))

      const first = yield* storage.write("metadata_cache.json", bytes("one"), { contentType: "application/json", ifGenerationMatch: "0" })
      const again = yield* Effect.flip(
        storage.write("metadata_cache.json", bytes("two"), { contentType: "application/json", ifGenerationMatch: "0" })
      )
      expect(again._tag).toBe("PreconditionFailed")

      // Two writes within the file system's time granularity still get distinct, increasing generations.
      const second = yield* storage.write("metadata_cache.json", bytes("two"), { contentType: "application/json", ifGenerationMatch: first.generation })
      const third = yield* storage.write("metadata_cache.json", bytes("three"), { contentType: "application/json", ifGenerationMatch: second.generation })
      expect(BigInt(second.generation)).toBeGreaterThan(BigInt(first.generation))
      expect(BigInt(third.generation)).toBeGreaterThan(BigInt(second.generation))

      const stale = yield* Effect.flip(
        storage.write("metadata_cache.json", bytes("late"), { contentType: "application/json", ifGenerationMatch: first.generation })
      )
      expect(stale._tag).toBe("PreconditionFailed")

      const read = Option.getOrThrow(yield* storage.read("metadata_cache.json"))
      expect(new TextDecoder().decode(read.bytes)).toBe("three")
      expect(read.info.generation).toBe(third.generation)
      expect(read.info.contentType).toBe("application/json")
      expect(storage.locate("metadata_cache.json")).toBe(path.join(dir, "metadata_cache.json"))
    }))

  it.scoped("lists by prefix, reads nothing for a missing object, and removes under a precondition", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(dir))
      const a = yield* storage.write("history/2026-11-26.json", bytes("a"), { contentType: "application/json", ifGenerationMatch: "0" })
      yield* storage.write("history/2026-11-27.json", bytes("b"), { contentType: "application/json", ifGenerationMatch: "0" })
      yield* storage.write("metadata_cache.json", bytes("c"), { contentType: "application/json", ifGenerationMatch: "0" })

      expect((yield* storage.list("history/")).map((o) => o.name)).toEqual(["history/2026-11-26.json", "history/2026-11-27.json"])
      expect(yield* storage.read("nothing.json")).toEqual(Option.none())
      expect(yield* storage.stat("nothing.json")).toEqual(Option.none())

      yield* storage.remove("history/2026-11-26.json", { ifGenerationMatch: a.generation })
      expect((yield* storage.list("history/")).map((o) => o.name)).toEqual(["history/2026-11-27.json"])
      yield* storage.remove("history/2026-11-26.json", { ifGenerationMatch: a.generation })
    }))

  it.scoped("refuses object names that leave its directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(dir))
      const error = yield* Effect.flip(storage.read("../outside.json"))
      expect(error.message).toMatch(/object name "\.\.\/outside\.json" leaves the storage directory/)
    }))

  it.scoped("refuses to write through a symbolic link that points outside its directory, and writes nothing there", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const outside = yield* tempDir
      const bucket = path.join(dir, "bucket")
      yield* Effect.promise(() => fs.mkdir(bucket))
      yield* Effect.promise(() => fs.symlink(outside, path.join(bucket, "history")))
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(bucket))
      const snapshot = "history/metadata_cache.json/20261127T170000Z-abc.json"

      const error = yield* Effect.flip(storage.write(snapshot, bytes("{}"), json("0")))
      expect(error).toMatchObject({ _tag: "RemoteRejected", operation: "objects.insert", resource: snapshot, status: 400 })
      const target = yield* Effect.promise(() => fs.realpath(outside)) // the temp directory may be behind a link itself
      expect(error.message).toBe(
        `object name "${snapshot}" would be stored at ${path.join(target, "metadata_cache.json", "20261127T170000Z-abc.json")}, ` +
          `outside the storage directory ${bucket}: ${path.join(bucket, "history")} is a symbolic link to ${target}`
      )
      expect(yield* Effect.promise(() => fs.readdir(outside, { recursive: true }))).toEqual([])
      // Reading, copying and removing through it are refused the same way.
      for (const attempt of [
        storage.read(snapshot),
        storage.stat(snapshot),
        storage.copy(snapshot, "metadata_cache.json", { ifGenerationMatch: "0" }),
        storage.copy("metadata_cache.json", snapshot, { ifGenerationMatch: "0" }),
        storage.remove(snapshot, { ifGenerationMatch: "1" })
      ]) {
        expect((yield* Effect.flip(attempt)).message).toMatch(/is a symbolic link to/)
      }
    }))

  it.scoped("refuses to write through a symbolic link into its generations sidecar", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(dir))
      yield* storage.write("metadata_cache.json", bytes("one"), json("0"))
      yield* Effect.promise(() => fs.symlink(path.join(dir, ".metasync-generations"), path.join(dir, "history")))

      const error = yield* Effect.flip(storage.write("history/metadata_cache.json", bytes("1"), json("0")))
      const sidecar = path.join(yield* Effect.promise(() => fs.realpath(dir)), ".metasync-generations")
      expect(error.message).toBe(
        `object name "history/metadata_cache.json" would be stored at ${path.join(sidecar, "metadata_cache.json")}, ` +
          `where the storage directory keeps its objects' generations: ${path.join(dir, "history")} is a symbolic link to ${sidecar}`
      )
    }))

  it.scoped("follows a symbolic link that stays inside its directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* Effect.promise(() => fs.mkdir(path.join(dir, "snapshots")))
      yield* Effect.promise(() => fs.symlink(path.join(dir, "snapshots"), path.join(dir, "history")))
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(dir))

      yield* storage.write("history/a.json", bytes("{}"), json("0"))
      expect(yield* Effect.promise(() => fs.readFile(path.join(dir, "snapshots", "a.json"), "utf8"))).toBe("{}")
    }))

  it.scoped("refuses object names inside its generations sidecar or named like its temporary files", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const storage = yield* Effect.provide(StorageService, LocalStorage.layer(dir))
      const first = yield* storage.write("metadata_cache.json", bytes("one"), json("0"))

      // What a publish does with CACHE_OBJECT=.metasync-generations/metadata_cache.json: read, then
      // write under the generation it read.
      const sidecar = ".metasync-generations/metadata_cache.json"
      const error = yield* Effect.flip(
        storage.stat(sidecar).pipe(
          Effect.map(Option.match({ onNone: () => "0", onSome: (info) => info.generation })),
          Effect.flatMap((generation) => storage.write(sidecar, bytes("1"), json(generation)))
        )
      )
      expect(error).toMatchObject({ _tag: "RemoteRejected", resource: sidecar, status: 400 })
      expect(error.message).toBe(
        `object name "${sidecar}" is inside ${path.join(dir, ".metasync-generations")}, where the storage directory keeps its objects' generations`
      )
      expect((yield* Effect.flip(storage.read("./.metasync-generations/metadata_cache.json"))).message).toMatch(/keeps its objects' generations/)
      expect((yield* Effect.flip(storage.write("x.json.metasync-tmp", bytes("1"), json("0")))).message).toMatch(
        /ends in \.metasync-tmp/
      )
      // The object's generation is as it was.
      expect(Option.map(yield* storage.stat("metadata_cache.json"), (info) => info.generation)).toEqual(Option.some(first.generation))
    }))
})

describe("local table definitions (BigQuery's own JSON)", () => {
  it.scoped("reads a bq show Table resource and a bare schema.fields array", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fields = fixtureFields("samples.shakespeare")
      yield* Effect.promise(() =>
        fs.writeFile(
          path.join(dir, "my-proj.samples.shakespeare.json"),
          JSON.stringify({
            tableReference: { projectId: "my-proj", datasetId: "samples", tableId: "shakespeare" },
            type: "TABLE",
            description: "Word counts",
            numRows: "164656",
            lastModifiedTime: "1700000000000",
            timePartitioning: { type: "DAY", field: "corpus_date", requirePartitionFilter: true },
            clustering: { fields: ["corpus"] },
            schema: { fields }
          })
        )
      )
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "my-proj.samples.bare.json"), JSON.stringify(fields)))
      const bigQuery = yield* Effect.provide(BigQueryService, LocalBigQuery.layer(dir))

      const table = yield* bigQuery.getTable(ref("my-proj.samples.shakespeare"))
      expect(table).toMatchObject({
        table_id: "my-proj.samples.shakespeare",
        description: "Word counts",
        row_count: 164656,
        partitioning: { field: "corpus_date", type: "DAY", require_partition_filter: true, expiration_ms: null },
        clustering: ["corpus"]
      })
      expect(table.columns.map((c) => [c.name, c.type, c.mode])).toEqual([
        ["word", "STRING", "REQUIRED"],
        ["word_count", "INTEGER", "REQUIRED"],
        ["corpus", "STRING", "REQUIRED"],
        ["corpus_date", "INTEGER", "REQUIRED"]
      ])
      const bare = yield* bigQuery.getTable(ref("my-proj.samples.bare"))
      expect(bare.columns).toEqual(table.columns)
      expect((yield* bigQuery.listTables("my-proj", "samples")).map((t) => t.table)).toEqual(["bare", "shakespeare"])
    }))

  it.scoped("says which file is wrong and why", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "my-proj.d.broken.json"), "{\"schema\": {\"fields\": [{\"name\": \"x\"}]}}"))
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "my-proj.d.other.json"), JSON.stringify({ tableReference: { projectId: "my-proj", datasetId: "d", tableId: "elsewhere" } })))
      const bigQuery = yield* Effect.provide(BigQueryService, LocalBigQuery.layer(dir))

      const broken = yield* Effect.flip(bigQuery.getTable(ref("my-proj.d.broken")))
      expect(broken.message).toMatch(/my-proj\.d\.broken\.json is not a BigQuery table definition: schema\.fields\.0\.type: is missing/)
      const other = yield* Effect.flip(bigQuery.getTable(ref("my-proj.d.other")))
      expect(other.message).toMatch(/it describes my-proj\.d\.elsewhere, not my-proj\.d\.other/)
      const missing = yield* Effect.flip(bigQuery.getTable(ref("my-proj.d.absent")))
      expect(missing._tag).toBe("ResourceNotFound")
    }))

  /** A file whose one column nests `levels` RECORDs, as text (JSON.stringify would overflow first). */
  const deepDefinition = (levels: number) =>
    `[${Array.from({ length: levels }, (_, i) => `{"name":"l${i}","type":"RECORD","fields":[`).join("")}` +
    `{"name":"leaf","type":"STRING"}${"]}".repeat(levels)}]`

  const write = (dir: string, name: string, text: string) => Effect.promise(() => fs.writeFile(path.join(dir, name), text))

  const collectFrom = (dir: string, tables: ReadonlyArray<string>) =>
    collectTables(tables.map((id) => ({ id: makeTableId(ref(id)), read: ref(id), sharding: null }))).pipe(
      Effect.provide(LocalBigQuery.layer(dir)),
      Effect.provideService(SyncConfig, testSettings({ mode: "local" }))
    )

  it.scoped("one bad file of a dataset fails only its own table: not JSON, an impossible time, nesting past 15 levels", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const good = JSON.stringify([{ name: "id", type: "STRING" }])
      yield* write(dir, "my-proj.d.good.json", good)
      yield* write(dir, "my-proj.d.broken.json", "{\"schema\": ")
      yield* write(dir, "my-proj.d.bad_time.json", JSON.stringify({ lastModifiedTime: "8640000000000001", schema: { fields: [] } }))
      yield* write(dir, "my-proj.d.deep.json", deepDefinition(50_000))

      const collected = yield* collectFrom(dir, ["my-proj.d.good", "my-proj.d.broken", "my-proj.d.bad_time", "my-proj.d.deep"])

      const byTable = Object.fromEntries(collected.map(({ result, table }) => [
        table.read.table,
        Either.isRight(result) ? "read" : `${result.left._tag}: ${result.left.message}`
      ]))
      expect(byTable.good).toBe("read")
      expect(byTable.broken).toMatch(/^RemoteRejected: .*my-proj\.d\.broken\.json is not a BigQuery table definition: not JSON/)
      expect(byTable.bad_time).toMatch(
        /^RemoteRejected: .*my-proj\.d\.bad_time\.json is not a BigQuery table definition: lastModifiedTime: .*beyond the last representable date/
      )
      expect(byTable.deep).toMatch(
        /^RemoteRejected: .*my-proj\.d\.deep\.json is not a BigQuery table definition: schema\.fields: field l0\.l1\..* nests deeper than BigQuery's 15 levels of RECORDs/
      )
    }))

  it.scoped("descriptions longer than BigQuery allows are cut to its limits, marked, and each cut is logged", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const long = "가".repeat(10 * 1024 * 1024)
      yield* write(dir, "my-proj.d.wordy.json", JSON.stringify({
        description: long,
        schema: {
          fields: [
            { name: "short", type: "STRING", description: "fine" },
            { name: "rec", type: "RECORD", fields: [{ name: "note", type: "STRING", description: "x".repeat(5000) }] }
          ]
        }
      }))
      const logs = captureLogs()

      const [collected] = yield* collectFrom(dir, ["my-proj.d.wordy"]).pipe(Effect.provide(logs.layer))
      const table = Either.getOrThrow(collected.result)

      // Compared as booleans: a failing comparison of 16,384 characters would print them all.
      const tableMarker = " … [truncated from 10485760 characters]"
      expect(table.description?.length).toBe(MAX_TABLE_DESCRIPTION)
      expect(table.description === `${"가".repeat(MAX_TABLE_DESCRIPTION - tableMarker.length)}${tableMarker}`).toBe(true)
      const note = table.columns[1].fields![0].description!
      const noteMarker = " … [truncated from 5000 characters]"
      expect(note.length).toBe(MAX_COLUMN_DESCRIPTION)
      expect(note === `${"x".repeat(MAX_COLUMN_DESCRIPTION - noteMarker.length)}${noteMarker}`).toBe(true)
      expect(table.columns[0].description).toBe("fine")
      expect(logs.warnings()).toEqual([
        expect.stringContaining("the description of my-proj.d.wordy has 10485760 characters, more than BigQuery allows: cut"),
        expect.stringContaining("the description of column rec.note of my-proj.d.wordy has 5000 characters, more than BigQuery allows: cut")
      ])
    }))

  it.scoped("a .json file not named project.dataset.table is named in a warning when its directory is listed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* write(dir, "my-proj.d.orders.json", "[]")
      yield* write(dir, "orders.json", "[]")
      yield* write(dir, "README.md", "not a table")
      const logs = captureLogs()
      const bigQuery = yield* Effect.provide(BigQueryService, LocalBigQuery.layer(dir))

      const listed = yield* bigQuery.listTables("my-proj", "d").pipe(Effect.provide(logs.layer))

      expect(listed.map((t) => t.table)).toEqual(["orders"])
      expect(logs.warnings()).toHaveLength(1)
      expect(logs.warnings()[0]).toContain("not named <project>.<dataset>.<table>.json: orders.json (")
    }))
})
