/**
 * `npm run bench`: MetaSync's speed and memory targets, measured (never asserted in tests).
 *
 * 1. Sync of 10 / 100 / 1,000 tables in 1 / 10 / 50 datasets through the in-memory layers with
 *    20 ms simulated latency per remote call, against the ideal: BigQuery round trips ÷ the
 *    dataset concurrency + the storage round trips (made one after another) × 20 ms.
 *    Target: ≤ 1.25× the ideal at 1,000 tables.
 * 2. Peak RSS of the 1,000-table sync, in a process of its own. Target: ≤ 200 MB.
 * 3. The loader decoding a 1,000-table × 50-column document against plain JSON.parse of the
 *    same bytes (target ≤ 2×), and one table lookup after load (target ≤ 1 ms).
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { execFileSync } from "node:child_process"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { makeCacheDocument, parseCacheDocument, renderCacheDocument, type TableEntry } from "../src/contract/CacheDocument.ts"
import type { Field } from "../src/contract/Field.ts"
import { makeTableEntry } from "../src/contract/TableEntry.ts"
import { makeTableId } from "../src/contract/TableId.ts"
import { SyncConfig, type SyncSettings } from "../src/config/SyncConfig.ts"
import { parseTargets } from "../src/config/Targets.ts"
import { findTable } from "../src/loader/CacheLoader.ts"
import { AlertService } from "../src/services/Alerting/AlertService.ts"
import { MemoryBigQuery, MemoryBigQueryControl } from "../src/services/BigQuery/MemoryBigQuery.ts"
import type { TableMetadata } from "../src/services/BigQuery/TableResource.ts"
import { ExampleGeneratorService } from "../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { MemoryStorage, MemoryStorageControl } from "../src/services/Storage/MemoryStorage.ts"
import { fieldPathEntries } from "../src/sync/fieldPaths.ts"
import { syncOnce } from "../src/sync/SyncProgram.ts"
import { DATASET_CONCURRENCY } from "../src/sync/targets.ts"

const LATENCY_MS = 20
const COLUMNS = 50

/** A realistic wide table: scalars of every common type, a nested record and a repeated one. */
const columns = (n: number): ReadonlyArray<Field> => {
  const types = ["STRING", "INTEGER", "FLOAT", "TIMESTAMP", "DATE", "BOOLEAN", "NUMERIC"]
  const scalars: Array<Field> = Array.from({ length: n - 2 }, (_, i) => ({
    name: i === 0 ? "event_name" : i === 1 ? "event_timestamp" : `column_${i}`,
    type: i === 1 ? "TIMESTAMP" : types[i % types.length],
    mode: "NULLABLE",
    description: i % 3 === 0 ? null : `Column ${i}, described for the model`
  }))
  return [
    ...scalars,
    {
      name: "device",
      type: "RECORD",
      mode: "NULLABLE",
      description: "The device",
      fields: [
        { name: "category", type: "STRING", mode: "NULLABLE", description: "mobile, desktop or tablet" },
        { name: "os", type: "STRING", mode: "NULLABLE", description: null }
      ]
    },
    {
      name: "items",
      type: "RECORD",
      mode: "REPEATED",
      description: "Items in the event",
      fields: [
        { name: "item_name", type: "STRING", mode: "NULLABLE", description: "Name of the item" },
        { name: "price", type: "FLOAT", mode: "NULLABLE", description: null }
      ]
    }
  ]
}

const metadata = (project: string, dataset: string, table: string): TableMetadata => ({
  table_id: makeTableId({ project, dataset, table }),
  kind: "TABLE",
  description: `Table ${table} of ${dataset}`,
  last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
  created: null,
  row_count: 1_000_000,
  size_bytes: 500_000_000,
  labels: {},
  partitioning: null,
  clustering: [],
  view_query: null,
  columns: columns(COLUMNS)
})

const settings = (datasets: number): SyncSettings => ({
  mode: "live",
  project: "bench-project",
  targets: Either.getOrThrow(
    parseTargets(Array.from({ length: datasets }, (_, d) => `bench-project.dataset_${d}.*`).join(","))
  ),
  bucket: "bench-bucket",
  objectName: "metadata_cache.json",
  localBucketDir: ".metasync/bucket",
  localTablesDir: "samples/tables",
  language: "ko",
  remoteTimeout: Duration.seconds(30),
  retryAttempts: 5,
  retryBudget: Duration.minutes(2),
  historyKeep: 30,
  historyMaxAge: Duration.days(90),
  profileTargets: [],
  profileMaxBytesBilled: 1024 ** 3,
  sensitiveColumnPattern: null,
  metadataMaxBytesBilled: 100 * 1024 ** 2,
  exampleMaxBytes: 10 * 1024 ** 3,
  curatedExamplesDir: "bench/no-curated-examples",
  curatedExamplesPrefix: null
})

interface SyncRun {
  readonly tables: number
  readonly datasets: number
  readonly wallMs: number
  readonly bigQueryCalls: number
  readonly storageCalls: number
  readonly idealMs: number
  readonly examples: number
}

const runSync = (tables: number, datasets: number): Promise<SyncRun> =>
  Effect.gen(function*() {
    const warehouse = yield* MemoryBigQueryControl
    const bucket = yield* MemoryStorageControl
    for (let t = 0; t < tables; t++) {
      yield* warehouse.putTable(metadata("bench-project", `dataset_${t % datasets}`, `table_${t}`))
    }
    const started = performance.now()
    const summary = yield* syncOnce()
    const wallMs = performance.now() - started
    const bigQueryCalls = (yield* warehouse.calls).length
    const storageCalls = (yield* bucket.calls).length
    return {
      tables,
      datasets,
      wallMs,
      bigQueryCalls,
      storageCalls,
      idealMs: (bigQueryCalls / DATASET_CONCURRENCY + storageCalls) * LATENCY_MS,
      examples: summary.example_count
    }
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        Layer.succeed(SyncConfig, settings(datasets)),
        MemoryBigQuery.layer({ latency: Duration.millis(LATENCY_MS) }),
        MemoryStorage.layer("bench-bucket", { latency: Duration.millis(LATENCY_MS) }),
        ExampleGeneratorService.Disabled,
        AlertService.Disabled,
        Logger.minimumLogLevel(LogLevel.Warning)
      )
    ),
    Effect.runPromise
  )

const wideDocument = (tables: number) => {
  const entries: Array<TableEntry> = Array.from({ length: tables }, (_, t) => {
    const table = metadata("bench-project", `dataset_${t % 50}`, `table_${t}`)
    return makeTableEntry({ ...table, field_paths: fieldPathEntries(table.columns) })
  })
  return makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-27T00:00:00Z"),
    generator: { name: "metasync", version: "bench" },
    tables: [entries[0], ...entries.slice(1)],
    examples: []
  })
}

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const timeMedian = (runs: number, f: () => unknown) =>
  median(Array.from({ length: runs }, () => {
    const start = performance.now()
    f()
    return performance.now() - start
  }))

const loaderBench = () => {
  const text = Either.getOrThrow(renderCacheDocument(wideDocument(1000)))
  const parse = timeMedian(9, () => JSON.parse(text))
  const decode = timeMedian(9, () => Either.getOrThrow(parseCacheDocument(text)))
  const doc = Either.getOrThrow(parseCacheDocument(text))
  const lookup = timeMedian(101, () => findTable(doc, "bench-project.dataset_49.table_999"))
  return { bytes: text.length, parse, decode, lookup }
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`

if (process.argv[2] === "--rss-child") {
  // One 1,000-table sync in this process, then its peak resident set size.
  await runSync(1000, 50)
  console.log(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }))
} else {
  console.log(`MetaSync benchmarks — ${new Date().toISOString().slice(0, 10)}`)
  console.log(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`)
  console.log(`\n1. Sync through the in-memory layers, ${LATENCY_MS} ms per remote call, ${COLUMNS} columns per table`)
  console.log("| tables | datasets | BigQuery calls | storage calls | examples | wall | ideal | wall / ideal |")
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (const [tables, datasets] of [[10, 1], [100, 10], [1000, 50]] as const) {
    const run = await runSync(tables, datasets)
    console.log(
      `| ${run.tables} | ${run.datasets} | ${run.bigQueryCalls} | ${run.storageCalls} | ${run.examples} | ${fmt(run.wallMs)} | ${
        fmt(run.idealMs)
      } | ${(run.wallMs / run.idealMs).toFixed(2)}× |`
    )
  }
  const child = JSON.parse(
    execFileSync(process.execPath, [new URL(import.meta.url).pathname, "--rss-child"], { encoding: "utf8" })
  ) as { maxRssKiB: number }
  console.log(`\n2. Peak RSS of the 1,000-table sync (own process): ${(child.maxRssKiB / 1024).toFixed(0)} MB (target ≤ 200 MB)`)

  const loader = loaderBench()
  console.log(`\n3. Loader on a 1,000-table × ${COLUMNS}-column document (${(loader.bytes / 1024 ** 2).toFixed(1)} MB), median of 9`)
  console.log("| step | time | target |")
  console.log("|---|---:|---|")
  console.log(`| JSON.parse | ${fmt(loader.parse)} | |`)
  console.log(`| parse + decode (codec) | ${fmt(loader.decode)} | ${(loader.decode / loader.parse).toFixed(2)}× JSON.parse (≤ 2×) |`)
  console.log(`| one table lookup | ${(loader.lookup * 1000).toFixed(1)} µs | ≤ 1 ms |`)
}
