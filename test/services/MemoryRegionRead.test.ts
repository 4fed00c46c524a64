/**
 * The in-memory layer's model of reading by region (what `npm run bench` counts): with
 * `regionRead`, a project's datasets of more than ten tables are read with one call and listed with
 * one, the way the live layer reads them by default; without it, nothing is read that way.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { makeTableId } from "../../src/contract/TableId.ts"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { parseTargets } from "../../src/config/Targets.ts"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { MemoryBigQuery, MemoryBigQueryControl, type MemoryBigQueryOptions } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { collectTables } from "../../src/sync/collect.ts"
import { resolveTargets } from "../../src/sync/targets.ts"
import { testSettings } from "../support/TestLayers.ts"

const PROJECT = "shop-warehouse"

const table = (dataset: string, name: string): TableMetadata => ({
  table_id: makeTableId({ project: PROJECT, dataset, table: name }),
  kind: "TABLE",
  description: `${name} of ${dataset}`,
  last_updated: DateTime.unsafeMake(1_700_000_000_000),
  created: null,
  row_count: 1,
  size_bytes: 10,
  labels: {},
  partitioning: null,
  clustering: [],
  view_query: null,
  columns: [{ name: "id", type: "STRING", mode: "REQUIRED", description: null }]
})

/** Five datasets of twelve tables and one of five. */
const DATASETS: ReadonlyArray<readonly [string, number]> = [
  ...Array.from({ length: 5 }, (_, i) => [`sales_${i + 1}`, 12] as const),
  ["small", 5]
]
const namesOf = (count: number) => Array.from({ length: count }, (_, i) => `t_${String(i).padStart(2, "0")}`)

const arrange = Effect.gen(function*() {
  const warehouse = yield* MemoryBigQueryControl
  for (const [dataset, count] of DATASETS) {
    for (const name of namesOf(count)) yield* warehouse.putTable(table(dataset, name))
  }
})

const withLayer = (options: MemoryBigQueryOptions) =>
  <A, E>(effect: Effect.Effect<A, E, BigQueryService | MemoryBigQueryControl | SyncConfig>) =>
    effect.pipe(
      Effect.provide(Layer.merge(MemoryBigQuery.layer(options), Layer.succeed(SyncConfig, testSettings({ retryAttempts: 1 }))))
    )

const requests = DATASETS.map(([dataset, count]) => ({ project: PROJECT, dataset, tables: [...namesOf(count), "gone"] }))

describe("MemoryBigQuery reading by region", () => {
  it.effect("a project's datasets of more than ten tables in one call, and listed in one", () =>
    Effect.gen(function*() {
      yield* arrange
      const bigQuery = yield* BigQueryService
      const warehouse = yield* MemoryBigQueryControl

      const read = yield* bigQuery.getTablesByRegion(requests)
      expect([...read.keys()].sort()).toEqual(DATASETS.slice(0, 5).map(([d]) => `${PROJECT}.${d}`))
      expect(read.get(`${PROJECT}.sales_2`)!.get("t_03")).toEqual(Either.right(table("sales_2", "t_03")))
      expect(read.get(`${PROJECT}.sales_2`)!.has("gone")).toBe(false)

      const listed = yield* bigQuery.listTablesByRegion(requests)
      for (const [dataset] of DATASETS) {
        expect(listed.get(`${PROJECT}.${dataset}`)).toEqual(yield* bigQuery.listTables(PROJECT, dataset))
      }
      const calls = (yield* warehouse.calls).map((c) => c.operation).filter((op) => op.endsWith("ByRegion"))
      expect(calls).toEqual(["getTablesByRegion", "listTablesByRegion"])
    }).pipe(withLayer({ regionRead: { above: 3 } })))

  it.effect("not above the threshold (six datasets to list, five to read): nothing is read that way", () =>
    Effect.gen(function*() {
      yield* arrange
      const bigQuery = yield* BigQueryService
      const warehouse = yield* MemoryBigQueryControl
      expect(yield* bigQuery.getTablesByRegion(requests)).toEqual(new Map())
      expect(yield* bigQuery.listTablesByRegion(requests)).toEqual(new Map())
      expect((yield* warehouse.calls).filter((c) => c.operation.endsWith("ByRegion"))).toEqual([])
    }).pipe(withLayer({ regionRead: { above: 6 } })))

  it.effect("a failing region call leaves its datasets to the caller", () =>
    Effect.gen(function*() {
      yield* arrange
      const bigQuery = yield* BigQueryService
      const warehouse = yield* MemoryBigQueryControl
      const unavailable = new RemoteUnavailable({
        service: "bigquery",
        operation: "jobs.query",
        resource: PROJECT,
        status: 503,
        reason: "backendError",
        message: "backend error",
        attempts: 1
      })
      yield* warehouse.failNext("getTablesByRegion", unavailable)
      expect(yield* bigQuery.getTablesByRegion(requests)).toEqual(new Map())
    }).pipe(withLayer({ regionRead: { above: 3 } })))

  it.effect("the sync's resolve and collect steps find the same tables either way, with fewer calls by region", () =>
    Effect.gen(function*() {
      const targets = Either.getOrThrow(parseTargets(DATASETS.map(([d]) => `${PROJECT}.${d}.*`).join(",")))
      const run = (options: MemoryBigQueryOptions) =>
        Effect.gen(function*() {
          yield* arrange
          const { tables } = yield* resolveTargets(targets)
          const collected = yield* collectTables(tables)
          const calls = yield* Effect.flatMap(MemoryBigQueryControl, (w) => w.calls)
          return { collected: collected.map((c) => [c.table.id, c.result] as const), calls: calls.length }
        }).pipe(withLayer(options))
      const byRegion = yield* run({ regionRead: { above: 3 } })
      const alone = yield* run({})
      expect(byRegion.collected).toEqual(alone.collected)
      expect(byRegion.collected).toHaveLength(5 * 12 + 5)
      // Alone: six listings and six batches. By region: one listing, one read, and the small dataset's batch.
      expect(alone.calls).toBe(12)
      expect(byRegion.calls).toBe(3)
    }))
})
