/**
 * The sync reads the warehouse as a pipeline (`src/sync/pipeline.ts`): what it reads is what
 * resolving, then collecting, then describing gives — the same tables, order, failures and calls —
 * but a dataset's tables are read as soon as that dataset is listed, and the previous document is
 * read while the warehouse is listed. The overlap is shown by the order of calls at each instant
 * of the TestClock, with 20 ms of simulated latency per call.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { parseTargets } from "../../src/config/Targets.ts"
import { AlertService } from "../../src/services/Alerting/AlertService.ts"
import { MemoryBigQuery, MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { ExampleGeneratorService } from "../../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { PermissionDenied } from "../../src/services/RemoteErrors.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { collectTables } from "../../src/sync/collect.ts"
import { readWarehouse } from "../../src/sync/pipeline.ts"
import { declaredRelationships } from "../../src/sync/relationships/declared.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { resolveTargets } from "../../src/sync/targets.ts"
import { testLayer, testSettings } from "../support/TestLayers.ts"
import { tableMetadata } from "../support/Tables.ts"

const table = (id: string): TableMetadata =>
  tableMetadata(id, [["id", "INTEGER"], ["customer_id", "INTEGER"], ["status", "STRING", "Status"]])

const targets = (text: string) => Either.getOrThrow(parseTargets(text))

/**
 * A warehouse with every case the resolution handles: a pattern with an exclusion and an exact
 * target inside it, a sharded family, an exact target in a dataset no pattern lists, a missing
 * table, a dataset whose listing is refused, and a dataset of more than ten tables (its declared
 * keys are asked of INFORMATION_SCHEMA).
 */
const arrange = Effect.gen(function*() {
  const warehouse = yield* MemoryBigQueryControl
  for (let i = 0; i < 12; i++) yield* warehouse.putTable(table(`nlq-ex.shop.t${String(i).padStart(2, "0")}`))
  yield* warehouse.putTable(table("nlq-ex.shop.secret"))
  for (const day of ["20261101", "20261102", "20261103"]) yield* warehouse.putTable(table(`nlq-ex.web.events_${day}`))
  yield* warehouse.putTable(table("nlq-ex.web.pages"))
  yield* warehouse.putTable(table("nlq-ex.misc.one"))
  yield* warehouse.putTable(table("nlq-ex.broken.x"))
  yield* warehouse.failNext(
    "listTables",
    new PermissionDenied({ service: "bigquery", operation: "tables.list", resource: "nlq-ex.broken", status: 403, message: "Access Denied" }),
    "nlq-ex.broken"
  )
  return targets(
    "nlq-ex.shop.t03,nlq-ex.shop.*,!nlq-ex.shop.secret,nlq-ex.web.events_*,nlq-ex.misc.one,nlq-ex.misc.gone,nlq-ex.broken.*,nlq-ex.web.pages"
  )
})

const callsOf = Effect.flatMap(MemoryBigQueryControl, (w) => w.calls)

describe("the warehouse pipeline", () => {
  it.effect("resolves, reads and describes what resolveTargets, collectTables and describing one by one do, with the same calls", () =>
    Effect.gen(function*() {
      const wanted = yield* arrange
      const settings = yield* SyncConfig
      const staged = yield* Effect.gen(function*() {
        const resolution = yield* resolveTargets(wanted)
        const collected = yield* collectTables(resolution.tables)
        const declared = yield* declaredRelationships({
          tables: collected.flatMap((c) => Either.isRight(c.result) ? [c.result.right] : []),
          project: settings.project,
          maximumBytesBilled: settings.metadataMaxBytesBilled,
          live: true
        })
        return { resolution, collected, declared, calls: [...(yield* callsOf)] }
      })

      // The same warehouse again, the listing refused again, read through the pipeline.
      const warehouse = yield* MemoryBigQueryControl
      yield* warehouse.failNext(
        "listTables",
        new PermissionDenied({ service: "bigquery", operation: "tables.list", resource: "nlq-ex.broken", status: 403, message: "Access Denied" }),
        "nlq-ex.broken"
      )
      const read = yield* readWarehouse(wanted, (t, metadata) => Effect.succeed(`${t.id} ${metadata.columns.length}`))
      const calls = (yield* callsOf).slice(staged.calls.length)
      const declared = yield* declaredRelationships({
        tables: read.collected.flatMap((c) => Either.isRight(c.result) ? [c.result.right] : []),
        project: settings.project,
        maximumBytesBilled: settings.metadataMaxBytesBilled,
        live: true,
        prefetched: read.declaredKeys
      })

      expect(read.resolution).toEqual(staged.resolution)
      expect(read.collected).toEqual(staged.collected)
      expect(read.resolution.tables.map((t) => t.id)).toEqual([
        "nlq-ex.shop.t03",
        ...["00", "01", "02", "04", "05", "06", "07", "08", "09", "10", "11"].map((n) => `nlq-ex.shop.t${n}`),
        "nlq-ex.web.events_*",
        "nlq-ex.misc.one",
        "nlq-ex.misc.gone",
        "nlq-ex.web.pages"
      ])
      expect(read.resolution.failures.map((f) => f.error._tag)).toEqual(["PermissionDenied"])
      expect(read.described).toEqual(
        staged.collected.map((c) => Either.isRight(c.result) ? `${c.table.id} ${c.result.right.columns.length}` : undefined)
      )
      // Every call the stages made, and no other: the key query of `shop` was made once, by the pipeline.
      const sorted = (cs: ReadonlyArray<{ readonly operation: string; readonly target: string }>) =>
        cs.map((c) => `${c.operation} ${c.target}`).sort()
      expect(sorted(calls)).toEqual(sorted(staged.calls))
      expect(calls.filter((c) => c.operation === "query")).toHaveLength(1)
      expect(declared).toEqual(staged.declared)
    }).pipe(Effect.provide(testLayer())))

  const latency = Duration.millis(20)
  /** Nine datasets of one table each: one more than are listed (and read) at once. */
  const nineDatasets = Layer.mergeAll(
    Layer.succeed(SyncConfig, testSettings({ targets: targets(Array.from({ length: 9 }, (_, d) => `nlq-ex.d${d}.*`).join(",")) })),
    MemoryBigQuery.layer({ latency }),
    MemoryStorage.layer("test-bucket", { latency }),
    ExampleGeneratorService.Disabled,
    AlertService.Disabled
  )

  /** The operations called so far, in order, BigQuery's and storage's. */
  const calledSoFar = Effect.gen(function*() {
    const bigQuery = (yield* callsOf).map((c) => `${c.operation} ${c.target}`)
    const storage = (yield* Effect.flatMap(MemoryStorageControl, (b) => b.calls)).map((c) => `${c.operation} ${c.name}`)
    return { bigQuery, storage }
  })

  /** Lets the forked sync run everything it can at this instant of the TestClock. */
  const settle = Effect.repeatN(Effect.yieldNow(), 200)

  it.effect("reads the previous document while it lists the datasets, and reads each dataset as soon as it is listed", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      for (let d = 0; d < 9; d++) yield* warehouse.putTable(table(`nlq-ex.d${d}.t`))
      const sync = yield* Effect.fork(syncOnce())
      yield* settle

      // At 0 ms: the previous document is asked for, and eight datasets are listed, at the same time.
      const atStart = yield* calledSoFar
      expect(atStart.storage).toEqual(["stat metadata_cache.json"])
      expect(atStart.bigQuery.filter((c) => c.startsWith("listTables"))).toHaveLength(8)

      // At 20 ms: those eight datasets are read while the ninth is being listed.
      yield* TestClock.adjust(latency)
      yield* settle
      const at20 = yield* calledSoFar
      expect(at20.bigQuery.filter((c) => c.startsWith("listTables"))).toHaveLength(9)
      expect(at20.bigQuery.filter((c) => c.startsWith("getTables"))).toHaveLength(8)

      // At 40 ms: the ninth dataset is read; the stages one after another would read none before 40 ms
      // (the second round of listings) and the ninth at 60 ms.
      yield* TestClock.adjust(latency)
      yield* settle
      const at40 = yield* calledSoFar
      expect(at40.bigQuery.filter((c) => c.startsWith("getTables"))).toHaveLength(9)

      // Then to the end, 20 ms at a time (a sleep begun after one adjustment waits for the next).
      for (let step = 0; step < 1000 && Option.isNone(yield* Fiber.poll(sync)); step++) {
        yield* TestClock.adjust(latency)
        yield* settle
      }
      const summary = yield* Fiber.join(sync)
      expect(summary.table_count).toBe(9)
      expect(summary.tables.map((t) => t.table_id)).toEqual(Array.from({ length: 9 }, (_, d) => `nlq-ex.d${d}.t`))
    }).pipe(Effect.provide(nineDatasets)))
})
