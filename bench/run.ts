/**
 * `npm run bench`: MetaSync's speed and memory targets, measured (never asserted in tests).
 *
 * 1. Sync of 10 / 100 / 1,000 tables in 1 / 10 / 50 datasets through the in-memory layers with
 *    20 ms simulated latency per remote call, against the ideal: (BigQuery round trips ÷ their
 *    concurrency + the storage round trips, made one after another) × 20 ms. Target: ≤ 1.25× the
 *    ideal at 1,000 tables. Measured with example dry runs off (EXAMPLE_DRY_RUN=off: the metadata
 *    sync, whose calls grow with datasets), and once more with them on (one call per example).
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
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import * as path from "node:path"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { parseCacheDocument, renderCacheDocument } from "../src/contract/CacheDocument.ts"
import { SyncConfig } from "../src/config/SyncConfig.ts"
import { findTable } from "../src/loader/CacheLoader.ts"
import { AlertService } from "../src/services/Alerting/AlertService.ts"
import { MemoryBigQuery, MemoryBigQueryControl } from "../src/services/BigQuery/MemoryBigQuery.ts"
import { ExampleGeneratorService } from "../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { MemoryStorage, MemoryStorageControl } from "../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../src/sync/SyncProgram.ts"
import { DRY_RUN_CONCURRENCY } from "../src/sync/examples.ts"
import { DATASET_CONCURRENCY } from "../src/sync/targets.ts"
import { COLUMNS, metadata, settings, wideDocument } from "./fixtures.ts"

const LATENCY_MS = 20

interface SyncRun {
  readonly tables: number
  readonly datasets: number
  readonly wallMs: number
  readonly bigQueryCalls: number
  readonly storageCalls: number
  readonly idealMs: number
  readonly examples: number
}

const runSync = (tables: number, datasets: number, dryRun = false): Promise<SyncRun> =>
  Effect.gen(function*() {
    const warehouse = yield* MemoryBigQueryControl
    const bucket = yield* MemoryStorageControl
    for (let t = 0; t < tables; t++) {
      yield* warehouse.putTable(metadata("bench-project", `dataset_${t % datasets}`, `table_${t}`))
    }
    const started = performance.now()
    const summary = yield* syncOnce()
    const wallMs = performance.now() - started
    const calls = yield* warehouse.calls
    const bigQueryCalls = calls.length
    const dryRuns = calls.filter((c) => c.operation === "dryRun").length
    const storageCalls = (yield* bucket.calls).length
    return {
      tables,
      datasets,
      wallMs,
      bigQueryCalls,
      storageCalls,
      idealMs: ((bigQueryCalls - dryRuns) / DATASET_CONCURRENCY + dryRuns / DRY_RUN_CONCURRENCY + storageCalls) * LATENCY_MS,
      examples: summary.example_count
    }
  }).pipe(
    Effect.provide(
      Layer.mergeAll(
        Layer.succeed(SyncConfig, settings(datasets, dryRun)),
        MemoryBigQuery.layer({ latency: Duration.millis(LATENCY_MS) }),
        MemoryStorage.layer("bench-bucket", { latency: Duration.millis(LATENCY_MS) }),
        ExampleGeneratorService.Disabled,
        AlertService.Disabled,
        Logger.minimumLogLevel(LogLevel.Warning)
      )
    ),
    Effect.runPromise
  )

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
  for (const [tables, datasets, dryRun] of [[10, 1, false], [100, 10, false], [1000, 50, false], [1000, 50, true]] as const) {
    const run = await runSync(tables, datasets, dryRun)
    console.log(
      `| ${run.tables}${dryRun ? " (dry runs on)" : ""} | ${run.datasets} | ${run.bigQueryCalls} | ${run.storageCalls} | ${run.examples} | ${
        fmt(run.wallMs)
      } | ${fmt(run.idealMs)} | ${(run.wallMs / run.idealMs).toFixed(2)}× |`
    )
  }
  // Measured as deployed: the function runs an esbuild bundle, not the sources through type stripping.
  const bundle = path.join(mkdtempSync(path.join(os.tmpdir(), "metasync-bench-")), "bench.mjs")
  await build({
    entryPoints: [new URL(import.meta.url).pathname],
    outfile: bundle,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    external: ["@google-cloud/*", "google-auth-library"],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: "warning"
  })
  const child = JSON.parse(
    execFileSync(process.execPath, [bundle, "--rss-child"], { encoding: "utf8", cwd: process.cwd() })
  ) as { maxRssKiB: number }
  console.log(
    `\n2. Peak RSS of the 1,000-table sync (own process, bundled as deployed): ${(child.maxRssKiB / 1024).toFixed(0)} MB (target ≤ 200 MB)`
  )

  const loader = loaderBench()
  console.log(`\n3. Loader on a 1,000-table × ${COLUMNS}-column document (${(loader.bytes / 1024 ** 2).toFixed(1)} MB), median of 9`)
  console.log("| step | time | target |")
  console.log("|---|---:|---|")
  console.log(`| JSON.parse | ${fmt(loader.parse)} | |`)
  console.log(`| parse + decode (codec) | ${fmt(loader.decode)} | ${(loader.decode / loader.parse).toFixed(2)}× JSON.parse (≤ 2×) |`)
  console.log(`| one table lookup | ${(loader.lookup * 1000).toFixed(1)} µs | ≤ 1 ms |`)
}
