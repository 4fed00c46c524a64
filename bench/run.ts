/**
 * `npm run bench`: MetaSync's speed and memory targets, measured (never asserted in tests).
 *
 * 1. Syncs through the in-memory layers with 20 ms simulated latency per remote call, each size
 *    run warm (in this process, after one unmeasured run; median of 3) and fresh (a new process
 *    running the esbuild bundle with the NODE_OPTIONS of .env.yaml, as deployed; median of 3). Two
 *    ideals are printed:
 *    - formula: (BigQuery calls ÷ 8 + dry runs ÷ 4 + storage calls) × 20 ms, the calls spread
 *      evenly over the concurrency (a split document's parts: reads ÷ 8, other calls ÷ 4);
 *    - critical path: the run's dependent rounds, each `ceil(calls ÷ concurrency)` × 20 ms, in the
 *      order the sync makes them — read previous (stat/read, a split document's parts 8 at a time;
 *      forked, so it overlaps the warehouse's rounds and only the longer counts), list datasets (8 at a time, or a
 *      region at once: two round trips), read tables (a region's datasets of more than 10 tables
 *      at once, two sets of queries at a time, then a batch per other dataset, 8 datasets at a
 *      time), declared keys (8 at a time), dry runs (4 at a time), then write, copy and list (one
 *      each; a split document's parts checked and written 4 at a time). The bigger of the two is the ideal.
 *    Targets: full 1,000 tables ≤ 1.25× the ideal; incremental with 1 % of tables changed ≤ 1.1×.
 * 2. Peak RSS of each fresh run (the whole process). Targets: 1,000 tables ≤ 200 MiB; 10,000 tables
 *    in 100 datasets ≤ 512 MiB (the deployed memory).
 * 3. The loader on the document a 1,000-table sync published (with its examples), from its bytes
 *    as storage returns them (the loader's `decodeDocumentBytes`): decode against plain JSON.parse
 *    of the same text (≤ 2×), peak memory of a process that reads the bytes and decodes them
 *    against the document's size (≤ 3×), one table lookup (≤ 1 ms). Before 2026-11-30 this
 *    section timed `parseCacheDocument` of a string and its child read the file as a string;
 *    that row is still printed, for comparison, and the whole loader (storage, decode, prompt
 *    index) is measured beside it; then the prompt index's build and one question's context.
 * 4. A backend on the 10,000-table warehouse: the CacheLoader in a fresh process on one 113 MiB
 *    document against the split layout's manifest and parts — load time, memory after load and at
 *    its peak, the time of a question's context (`BENCH_ONLY=backend` runs this section alone).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { build } from "esbuild"
import { execFileSync, spawn } from "node:child_process"
import { once } from "node:events"
import * as readline from "node:readline"
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { parseCacheDocument } from "../src/contract/CacheDocument.ts"
import { DEFAULT_METADATA_REGION_ABOVE, type DocumentLayout, SyncConfig } from "../src/config/SyncConfig.ts"
import { CacheLoader, findTable } from "../src/loader/CacheLoader.ts"
import { decodeDocumentBytes, decodeStoredBytes } from "../src/contract/DocumentBytes.ts"
import { buildIndex } from "../src/context/DocumentIndex.ts"
import { renderPromptContext } from "../src/context/PromptContext.ts"
import { LocalStorage } from "../src/services/Storage/LocalStorage.ts"
import { AlertService } from "../src/services/Alerting/AlertService.ts"
import { type BigQueryCall, MemoryBigQuery, MemoryBigQueryControl } from "../src/services/BigQuery/MemoryBigQuery.ts"
import { ExampleGeneratorService } from "../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { MemoryStorage, MemoryStorageControl } from "../src/services/Storage/MemoryStorage.ts"
import { GcsStorage } from "../src/services/Storage/GcsStorage.ts"
import { type Storage, StorageService } from "../src/services/Storage/StorageService.ts"
import { syncOnce } from "../src/sync/SyncProgram.ts"
import { DRY_RUN_CONCURRENCY } from "../src/sync/examples.ts"
import { DATASET_CONCURRENCY } from "../src/sync/targets.ts"
import { COLUMNS, metadata, settings } from "./fixtures.ts"

const LATENCY_MS = 20
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

interface Scenario {
  readonly name: string
  readonly tables: number
  readonly datasets: number
  /**
   * `incremental`: an unmeasured sync first, then 1 % of the tables change; `full-again`: the same,
   * then a full run (`--full`) over that previous document, the fair comparison for `incremental`.
   */
  readonly kind: "full" | "incremental" | "full-again"
  /** Example dry runs on (the live-mode default): one call per example validated. */
  readonly dryRuns?: boolean
  readonly target: string
  /** Run warm too (in this process); the largest sizes are measured fresh only. */
  readonly warm: boolean
  /**
   * Datasets read a region at a time (`METADATA_READ=auto`, the live default for these shapes);
   * otherwise one listing and one batch read per dataset (`METADATA_READ=dataset`), the I/O
   * pattern the issue's targets were first measured on.
   */
  readonly regionRead?: boolean
  /**
   * The bucket is the local Cloud Storage server of the tests in a process of its own, reached over
   * HTTP through the official client (`GcsStorage`), as deployed: the documents it holds are not
   * counted in the sync's memory, and the client's own cost is. Fresh runs only.
   */
  readonly storageOverHttp?: boolean
  /** The old space the fresh process may use, instead of the deployed `--max-old-space-size` (MiB). */
  readonly oldSpaceMiB?: number
  /** `DOCUMENT_LAYOUT`; `auto` (the default) splits the 10,000-table runs (over `SPLIT_ABOVE_TABLES`). */
  readonly layout?: DocumentLayout
  /**
   * The deployed old space plus the heap the in-process warehouse itself holds (measured by the
   * bench before the runs): what the deployed function, whose warehouse is BigQuery, has to spare.
   */
  readonly oldSpacePlusWarehouse?: boolean
}

const SCENARIOS: ReadonlyArray<Scenario> = [
  { name: "10 tables", tables: 10, datasets: 1, kind: "full", target: "", warm: true },
  { name: "100 tables", tables: 100, datasets: 10, kind: "full", target: "", warm: true },
  { name: "1,000 tables", tables: 1000, datasets: 50, kind: "full", target: "≤ 1.25×, ≤ 200 MiB", warm: true },
  { name: "1,000 tables, 1 % changed", tables: 1000, datasets: 50, kind: "incremental", target: "≤ 1.1×", warm: true },
  { name: "1,000 tables, 1 % changed, --full", tables: 1000, datasets: 50, kind: "full-again", target: "", warm: true },
  // With dry runs on, the unmeasured first run makes 6,000 dry runs (30 s): measured fresh, once.
  { name: "1,000 tables, 1 % changed, dry runs on", tables: 1000, datasets: 50, kind: "incremental", dryRuns: true, target: "≤ 1.1×", warm: false },
  { name: "10,000 tables", tables: 10000, datasets: 100, kind: "full", target: "≤ 512 MiB", warm: false },
  { name: "1,000 tables, region reads", tables: 1000, datasets: 50, kind: "full", target: "≤ 1.25×", warm: true, regionRead: true },
  { name: "1,000 tables, 1 % changed, region reads", tables: 1000, datasets: 50, kind: "incremental", target: "≤ 1.1×", warm: true, regionRead: true },
  { name: "10,000 tables, region reads", tables: 10000, datasets: 100, kind: "full", target: "≤ 512 MiB", warm: false, regionRead: true },
  { name: "10,000 tables, storage over HTTP", tables: 10000, datasets: 100, kind: "full", target: "≤ 512 MiB", warm: false, storageOverHttp: true },
  { name: "10,000 tables, 1 % changed, storage over HTTP", tables: 10000, datasets: 100, kind: "incremental", target: "≤ 512 MiB", warm: false, storageOverHttp: true },
  // The in-memory BigQuery holds the 10,000 tables in the sync's own heap; a deployed function's are in BigQuery.
  { name: "10,000 tables, storage over HTTP, old space + the warehouse's heap", tables: 10000, datasets: 100, kind: "full", target: "≤ 512 MiB without the warehouse", warm: false, storageOverHttp: true, oldSpacePlusWarehouse: true },
  { name: "10,000 tables, 1 % changed, storage over HTTP, old space + the warehouse's heap", tables: 10000, datasets: 100, kind: "incremental", target: "≤ 512 MiB without the warehouse", warm: false, storageOverHttp: true, oldSpacePlusWarehouse: true },
  // The same with the old space of a 1 GiB function (about three quarters of it).
  { name: "10,000 tables, 1 % changed, storage over HTTP, 768 MiB old space", tables: 10000, datasets: 100, kind: "incremental", target: "", warm: false, storageOverHttp: true, oldSpaceMiB: 768 },
  // One document instead of the split layout, for comparison; its incremental run needs the old space of a 1 GiB function.
  { name: "10,000 tables, one document, storage over HTTP", tables: 10000, datasets: 100, kind: "full", target: "≤ 512 MiB", warm: false, storageOverHttp: true, layout: "single" },
  { name: "10,000 tables, 1 % changed, one document, storage over HTTP", tables: 10000, datasets: 100, kind: "incremental", target: "≤ 512 MiB", warm: false, storageOverHttp: true, layout: "single" },
  { name: "10,000 tables, 1 % changed, one document, storage over HTTP, 768 MiB old space", tables: 10000, datasets: 100, kind: "incremental", target: "", warm: false, storageOverHttp: true, oldSpaceMiB: 768, layout: "single" }
]

interface SyncRun {
  readonly wallMs: number
  readonly formulaMs: number
  readonly criticalMs: number
  readonly rounds: Readonly<Record<string, number>>
  readonly bigQueryCalls: number
  readonly storageCalls: number
  readonly examples: number
  readonly reused: number
  /** The document's bytes; for a split one, its manifest's. */
  readonly bytes: number
  /** A split document's parts: how many, their bytes, and how many this run wrote. */
  readonly parts: { readonly count: number; readonly bytes: number; readonly written: number } | null
  readonly stageMs: Readonly<Record<string, number>>
  readonly maxRssMiB?: number
}

const ceilDiv = (n: number, by: number) => Math.ceil(n / by)

/** The dependent rounds of one run, from its calls. */
const roundsOf = (bigQuery: ReadonlyArray<BigQueryCall>, storage: ReadonlyArray<StorageCall>, datasets: number) => {
  const count = (op: string) => bigQuery.filter((c) => c.operation === op).length
  // A split document's parts are read 8 at a time, checked for reuse and written 4 at a time.
  const onParts = (op: string) => storage.filter((c) => c.operation === op && c.name.startsWith("parts/")).length
  // The parts' listing runs beside the history's; pruning reads the kept snapshots' part indexes 8 at a time.
  const storageCount = (...ops: ReadonlyArray<string>) =>
    storage.filter((c) => ops.includes(c.operation) && !c.name.startsWith("parts/") && !(c.operation === "read" && c.name.startsWith("history/"))).length
  const historyReads = storage.filter((c) => c.operation === "read" && c.name.startsWith("history/")).length
  // Single-table reads run 8 at a time within a dataset, 8 datasets at a time.
  const single = count("getTable")
  return {
    "read previous": storageCount("stat", "read") + ceilDiv(onParts("read"), 8),
    // A region listing is two round trips (datasets.list, then one INFORMATION_SCHEMA.TABLES query);
    // a region read one per set of queries, two sets at once; the datasets left out follow, by themselves.
    "list datasets": ceilDiv(count("listTables"), DATASET_CONCURRENCY) + 2 * count("listTablesByRegion"),
    "read tables": ceilDiv(count("getTablesByRegion"), 2) + ceilDiv(count("getTables"), DATASET_CONCURRENCY) +
      (single === 0 ? 0 : ceilDiv(single, 8 * Math.min(datasets, DATASET_CONCURRENCY))),
    "declared keys": ceilDiv(count("query"), 8),
    "dry runs": ceilDiv(count("dryRun"), DRY_RUN_CONCURRENCY),
    "write, copy, list": storageCount("write", "copy", "list") + ceilDiv(historyReads, 8) + ceilDiv(onParts("stat"), 4) + ceilDiv(onParts("write"), 4) +
      ceilDiv(storageCount("remove") + onParts("remove"), 4)
  }
}

/** Storage calls as the formula counts them: one each, a split document's parts 8 reads or 4 other calls at a time. */
const storageRounds = (storage: ReadonlyArray<StorageCall>) => {
  const parts = storage.filter((c) => c.name.startsWith("parts/"))
  const partReads = parts.filter((c) => c.operation === "read").length
  return storage.length - parts.length + partReads / 8 + (parts.length - partReads) / 4
}

/**
 * The rounds on the critical path: the previous document is read while the warehouse is listed and
 * read (the sync forks it), so the longer of the two counts; the rest follow one another.
 */
const criticalRounds = (rounds: ReturnType<typeof roundsOf>) =>
  Math.max(rounds["read previous"], rounds["list datasets"] + rounds["read tables"] + rounds["declared keys"]) +
  rounds["dry runs"] + rounds["write, copy, list"]

const layers = (scenario: Scenario) =>
  Layer.mergeAll(
    // The 10,000-table document is over the default 64 MiB cap: raised here to measure it.
    Layer.succeed(SyncConfig, {
      ...settings(scenario.datasets, scenario.dryRuns === true),
      maxDocumentBytes: 512 * 1024 ** 2,
      documentLayout: scenario.layout ?? "auto"
    }),
    MemoryBigQuery.layer({
      latency: Duration.millis(LATENCY_MS),
      ...(scenario.regionRead === true ? { regionRead: { above: DEFAULT_METADATA_REGION_ABOVE } } : {})
    }),
    MemoryStorage.layer("bench-bucket", { latency: Duration.millis(LATENCY_MS) }),
    // Merged after the in-memory bucket, so its StorageService is the one the sync uses.
    scenario.storageOverHttp === true ? httpStorage() : Layer.empty,
    ExampleGeneratorService.Disabled,
    AlertService.Disabled,
    Logger.minimumLogLevel(LogLevel.Error)
  )

interface StorageCall {
  readonly operation: string
  readonly name: string
}

/** The storage calls of the `storageOverHttp` scenarios, as `MemoryStorageControl.calls` records them. */
const httpStorageCalls: Array<StorageCall> = []

/** Cloud Storage over HTTP at `BENCH_GCS_URL` (the server the parent started), each call recorded. */
const httpStorage = () =>
  Layer.effect(
    StorageService,
    Effect.map(StorageService, (storage): Storage => {
      const recorded = <A extends ReadonlyArray<unknown>, R>(operation: string, call: (...args: A) => R) => (...args: A): R => {
        httpStorageCalls.push({ operation, name: String(args[0]) })
        return call(...args)
      }
      return {
        ...storage,
        stat: recorded("stat", storage.stat),
        read: recorded("read", storage.read),
        write: recorded("write", storage.write),
        copy: recorded("copy", storage.copy),
        list: recorded("list", storage.list),
        remove: recorded("remove", storage.remove)
      }
    })
  ).pipe(Layer.provide(GcsStorage.layer({ bucket: "bench-bucket", apiEndpoint: process.env.BENCH_GCS_URL!, timeout: "120 seconds" })))

/** One measured run of `scenario`; `keepDocument` returns the published text too; `stages` reads the stage times. */
const runScenario = (scenario: Scenario, keepDocument = false, stages = true) =>
  Effect.gen(function*() {
    const warehouse = yield* MemoryBigQueryControl
    const memoryBucket = yield* MemoryStorageControl
    const bucket = scenario.storageOverHttp === true ? { ...memoryBucket, calls: Effect.sync(() => [...httpStorageCalls]) } : memoryBucket
    const put = (t: number, changed: boolean) =>
      warehouse.putTable({
        ...metadata("bench-project", `dataset_${t % scenario.datasets}`, `table_${t}`),
        ...(changed ? { description: `Table ${t}, changed since the previous run` } : {})
      })
    for (let t = 0; t < scenario.tables; t++) yield* put(t, false)
    if (scenario.kind === "incremental" || scenario.kind === "full-again") {
      yield* syncOnce()
      for (let t = 0; t < scenario.tables; t += 100) yield* put(t, true)
    }
    const bigQueryBefore = (yield* warehouse.calls).length
    const storageBefore = (yield* bucket.calls).length
    const started = performance.now()
    const summary = yield* syncOnce({ full: scenario.kind === "full-again" })
    const wallMs = performance.now() - started
    const bigQuery = (yield* warehouse.calls).slice(bigQueryBefore)
    const storage = (yield* bucket.calls).slice(storageBefore)
    const dryRuns = bigQuery.filter((c) => c.operation === "dryRun").length
    const rounds = roundsOf(bigQuery, storage, scenario.datasets)
    // Reading the document back (joined into one text) or decoding it for its stage times would add to
    // the peak memory measured: fresh runs skip both, and take its size from the run's summary.
    const text = keepDocument || stages ? Option.getOrThrow(yield* bucket.text("metadata_cache.json")) : null
    const stored = text === null ? null : Either.getOrThrow(decodeStoredBytes(Buffer.from(text, "utf8")))
    const metrics = stored === null ? null : stored._tag === "Manifest" ? stored.manifest.metrics : stored._tag === "Document" ? stored.document.metrics : null
    const stageMs = stages && metrics !== null ? { ...metrics.stage_ms } : {}
    // Listed after the run, by one call that holds no object's bytes.
    const partObjects = summary.layout === "split" ? yield* Effect.flatMap(StorageService, (storage) => storage.list("parts/")) : null
    return {
      run: {
        wallMs,
        formulaMs: ((bigQuery.length - dryRuns) / DATASET_CONCURRENCY + dryRuns / DRY_RUN_CONCURRENCY + storageRounds(storage)) * LATENCY_MS,
        criticalMs: criticalRounds(rounds) * LATENCY_MS,
        rounds,
        bigQueryCalls: bigQuery.length,
        storageCalls: storage.length,
        examples: summary.example_count,
        reused: summary.reused_tables,
        bytes: text === null ? summary.bytes : Buffer.byteLength(text),
        parts: partObjects === null
          ? null
          : { count: summary.parts_written + summary.parts_reused, bytes: partObjects.reduce((n, o) => n + o.size, 0), written: summary.parts_written },
        stageMs
      } satisfies SyncRun,
      text: keepDocument ? text : null
    }
  }).pipe(Effect.provide(layers(scenario)), Effect.runPromise)

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const timeMedian = (runs: number, f: () => unknown) =>
  median(Array.from({ length: runs }, () => {
    const start = performance.now()
    f()
    return performance.now() - start
  }))

const fmt = (ms: number) => `${ms.toFixed(0)} ms`
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`

/** The bundle of this file, as the function is deployed: effect tree-shaken in, the Google clients external. */
const bundled = async () => {
  // Inside the project, so that the external packages resolve from its node_modules.
  mkdirSync(".metasync", { recursive: true })
  const outfile = path.join(mkdtempSync(path.join(".metasync", "bench-")), "bench.mjs")
  await build({
    entryPoints: [new URL(import.meta.url).pathname],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node22",
    minifySyntax: true,
    external: ["@google-cloud/*", "google-auth-library", "node-sql-parser"],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: "warning"
  })
  return outfile
}

const child = <A>(bundle: string, args: ReadonlyArray<string>, nodeFlags: ReadonlyArray<string> = [], env: Record<string, string> = {}): A =>
  JSON.parse(
    execFileSync(process.execPath, [...nodeFlags, bundle, ...args], {
      encoding: "utf8",
      cwd: process.cwd(),
      maxBuffer: 1024 ** 3,
      env: { ...process.env, ...env }
    }).trim().split("\n").at(-1)!
  ) as A

/** The tests' local Cloud Storage server in a process of its own, empty, for one fresh run; `stop` ends it. */
const startGcsProcess = async () => {
  const server = spawn(process.execPath, ["test/support/fake-gcs-process.ts"], { cwd: process.cwd(), stdio: ["pipe", "pipe", "inherit"] })
  const [line] = (await once(readline.createInterface({ input: server.stdout! }), "line")) as [string]
  return { url: (JSON.parse(line) as { readonly url: string }).url, stop: () => server.stdin!.end() }
}

/**
 * The Node flags the function is deployed with: `NODE_OPTIONS` in .env.yaml (heap sizes pinned, so
 * that V8 sizes its heap as in the 512 MiB container and not from this machine's memory). Fresh
 * sync runs use them, as deployed.
 */
const DEPLOYED_NODE_FLAGS: ReadonlyArray<string> =
  /^NODE_OPTIONS:\s*"([^"]*)"/m.exec(readFileSync(".env.yaml", "utf8"))?.[1]?.split(/\s+/).filter((flag) => flag !== "") ?? []

/** The deployed `--max-old-space-size` (MiB). */
const DEPLOYED_OLD_SPACE_MIB = Number(DEPLOYED_NODE_FLAGS.find((f) => f.startsWith("--max-old-space-size="))?.split("=")[1] ?? 384)

let warehouseHeapBytes: number | undefined
/** The heap the in-memory BigQuery holding the 10,000-table warehouse takes (measured once, in a child with `gc`). */
const warehouseHeap = () => warehouseHeapBytes ??= child<{ readonly bytes: number }>(currentBundle!, ["--warehouse-child"], ["--expose-gc"]).bytes
let currentBundle: string | undefined

const row = (label: string, runs: ReadonlyArray<SyncRun>, target: string) => {
  const wall = median(runs.map((r) => r.wallMs))
  const first = runs[0]!
  const ideal = Math.max(first.formulaMs, first.criticalMs)
  const rss = runs.some((r) => r.maxRssMiB !== undefined) ? `${median(runs.map((r) => r.maxRssMiB ?? 0)).toFixed(0)} MiB` : "—"
  return `| ${label} | ${first.bigQueryCalls} | ${first.storageCalls} | ${first.examples} | ${first.reused} | ${fmt(wall)} | ${fmt(first.formulaMs)} | ${
    fmt(first.criticalMs)
  } | ${(wall / ideal).toFixed(2)}× | ${rss} | ${target} | ${runs.map((r) => r.wallMs.toFixed(0)).join(", ")} |`
}

/** The 10,000-table warehouse of the sync rows, synced in this process into a local bucket `dir` with `layout`. */
const syncIntoDirectory = (dir: string, layout: DocumentLayout) => {
  const scenario: Scenario = { name: `10,000 tables, ${layout}`, tables: 10000, datasets: 100, kind: "full", target: "", warm: false, layout }
  return Effect.gen(function*() {
    const warehouse = yield* MemoryBigQueryControl
    for (let t = 0; t < scenario.tables; t++) yield* warehouse.putTable(metadata("bench-project", `dataset_${t % scenario.datasets}`, `table_${t}`))
    return yield* syncOnce()
  }).pipe(
    // Merged after the in-memory bucket, so its StorageService is the one the sync uses.
    Effect.provide(Layer.merge(layers(scenario), LocalStorage.layer(dir))),
    Effect.runPromise
  )
}

/**
 * 4. A backend on the 10,000-table warehouse: the CacheLoader in a fresh process (with the young
 * generation capped, as deployed) loading one 113 MiB document against the split layout's
 * manifest, then answering 20 questions (the synced examples' own, spread over the warehouse) with a
 * 2,000-token context each, the split loader fetching the parts it needs into its 64 MiB cache.
 */
const backendSection = async (bundle: string) => {
  const root = mkdtempSync(path.join(os.tmpdir(), "metasync-backend-"))
  const [single, split] = [path.join(root, "single"), path.join(root, "split")]
  await syncIntoDirectory(single, "single")
  await syncIntoDirectory(split, "split")
  const document = Either.getOrThrow(decodeDocumentBytes(readFileSync(path.join(single, "metadata_cache.json")))).document
  const step = Math.floor(document.examples.length / 20)
  const questions = document.examples.filter((_, i) => i % step === 0).slice(0, 20).map((e) => e.question)
  const questionsFile = path.join(root, "questions.json")
  writeFileSync(questionsFile, JSON.stringify(questions))
  const youngCapped = DEPLOYED_NODE_FLAGS.filter((flag) => flag.startsWith("--max-semi-space-size"))
  interface Backend {
    readonly loadMs: number
    readonly loadGrowth: number
    readonly firstMs: number
    readonly medianMs: number
    readonly growth: number
    readonly parts: { readonly total: number; readonly cached: number; readonly cachedBytes: number } | null
  }
  const measure = (dir: string) => {
    const runs = Array.from({ length: RUNS }, () => child<Backend>(bundle, ["--backend-child", dir, questionsFile], youngCapped))
    const pick = (f: (b: Backend) => number) => median(runs.map(f))
    return { runs, pick }
  }
  const sizeOf = (dir: string, name: string) => statSync(path.join(dir, name)).size
  const manifestBytes = sizeOf(split, "metadata_cache.json")
  console.log(
    `\n4. A backend on the 10,000-table warehouse (one document ${mib(sizeOf(single, "metadata_cache.json"))}; split: manifest ${mib(manifestBytes)} and parts), the CacheLoader in a fresh process with ${youngCapped.join(" ")}, ${questions.length} questions at 2,000 tokens; medians of ${RUNS}`
  )
  console.log("| layout | load | memory growth after load | first question | later questions (median) | peak memory growth | parts cached at the end |")
  console.log("|---|---:|---:|---:|---:|---:|---|")
  for (const [label, dir] of [["one document", single], ["split", split]] as const) {
    const { pick, runs } = measure(dir)
    const parts = runs[0]!.parts
    console.log(
      `| ${label} | ${fmt(pick((b) => b.loadMs))} | ${mib(pick((b) => b.loadGrowth))} | ${pick((b) => b.firstMs).toFixed(1)} ms | ${pick((b) => b.medianMs).toFixed(1)} ms | ${mib(pick((b) => b.growth))} | ${
        parts === null ? "—" : `${parts.cached} of ${parts.total}, ${mib(parts.cachedBytes)}`
      } |`
    )
  }
}

const args = process.argv.slice(2)
if (args[0] === "--sync-child") {
  // One run of a scenario in this fresh process, then its peak resident set size.
  const scenario = SCENARIOS.find((s) => s.name === args[1])!
  const { run } = await runScenario(scenario, false, false)
  console.log(JSON.stringify({ ...run, maxRssMiB: process.resourceUsage().maxRSS / 1024 }))
} else if (args[0] === "--loader-child") {
  // Loads a document as the backend does; the growth of the process's peak memory over its
  // resident size before reading. `bytes` (the default): the object's bytes, decoded by the
  // loader's decodeDocumentBytes; `text`: the file as a string through parseCacheDocument (what
  // this row measured before); `loader`: the CacheLoader itself over LocalStorage (stat, read,
  // decode and the prompt context's index); `loader-no-index`: the same with `prepareContext: false`;
  // `json`: the bytes through TextDecoder and JSON.parse only, no decoding (the floor of the old way).
  const file = args[1]!
  const how = args[2] ?? "bytes"
  if (global.gc !== undefined) global.gc()
  const baseline = process.memoryUsage().rss
  const tables = how === "json"
    ? (JSON.parse(new TextDecoder().decode(readFileSync(file))) as { readonly tables: ReadonlyArray<unknown> }).tables.length
    : how === "text"
    ? Either.getOrThrow(parseCacheDocument(readFileSync(file, "utf8"))).tables.length
    : how === "loader" || how === "loader-no-index"
    ? await Effect.runPromise(
      Effect.flatMap(CacheLoader, (loader) => Effect.map(loader.listTables, (t) => t.length)).pipe(
        Effect.provide(CacheLoader.layer({ objectName: path.basename(file), prepareContext: how === "loader" }).pipe(Layer.provide(LocalStorage.layer(path.dirname(file))))),
        Effect.provide(Logger.minimumLogLevel(LogLevel.Error))
      )
    )
    : Either.getOrThrow(decodeDocumentBytes(readFileSync(file), file)).document.tables.length
  const peak = process.resourceUsage().maxRSS * 1024
  console.log(JSON.stringify({ tables, growth: peak - baseline, baseline }))
} else if (args[0] === "--warehouse-child") {
  // The heap the in-memory BigQuery holds for the 10,000-table warehouse of the sync rows.
  const gc = global.gc!
  gc()
  const before = process.memoryUsage().heapUsed
  const bytes = await Effect.runPromise(
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      for (let t = 0; t < 10000; t++) yield* warehouse.putTable(metadata("bench-project", `dataset_${t % 100}`, `table_${t}`))
      gc()
      return process.memoryUsage().heapUsed - before
    }).pipe(Effect.provide(MemoryBigQuery.layer({ latency: Duration.millis(LATENCY_MS) })))
  )
  console.log(JSON.stringify({ bytes }))
} else if (args[0] === "--backend-child") {
  // A backend: the CacheLoader over the cache in directory `args[1]` (one document or a split one),
  // loaded, then asked the questions in `args[2]` (a JSON array) for a 2,000-token context each.
  const dir = args[1]!
  const questions = JSON.parse(readFileSync(args[2]!, "utf8")) as ReadonlyArray<string>
  if (global.gc !== undefined) global.gc()
  const baseline = process.memoryUsage().rss
  const peak = () => process.resourceUsage().maxRSS * 1024 - baseline
  const result = await Effect.runPromise(
    Effect.gen(function*() {
      const loader = yield* CacheLoader
      const started = performance.now()
      yield* loader.refresh
      const loadMs = performance.now() - started
      const loadGrowth = peak()
      const times: Array<number> = []
      for (const question of questions) {
        const asked = performance.now()
        yield* loader.getPromptContext({ question, maxTokens: 2000 })
        times.push(performance.now() - asked)
      }
      const metadata = yield* loader.getCacheMetadata
      return { loadMs, loadGrowth, firstMs: times[0]!, medianMs: median(times.slice(1)), growth: peak(), parts: metadata.parts }
    }).pipe(
      // The one document is over the default 64 MiB cap: raised, as a backend loading it would have to.
      Effect.provide(CacheLoader.layer({ objectName: "metadata_cache.json", maxDocumentBytes: 512 * 1024 ** 2 }).pipe(Layer.provide(LocalStorage.layer(dir)))),
      Effect.provide(Logger.minimumLogLevel(LogLevel.Error))
    )
  )
  console.log(JSON.stringify(result))
} else {
  const load = os.loadavg().map((l) => l.toFixed(1)).join(", ")
  console.log(`MetaSync benchmarks — ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`)
  console.log(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; load average at start ${load}`
  )
  const bundle = await bundled()
  currentBundle = bundle
  console.log(`\n1–2. Syncs through the in-memory layers, ${LATENCY_MS} ms per remote call, ${COLUMNS} columns per table, example dry runs off unless said; medians of ${RUNS} (one run where no warm row is given)`)
  console.log(`Fresh processes run as deployed, with NODE_OPTIONS from .env.yaml: ${DEPLOYED_NODE_FLAGS.join(" ") || "(none)"}`)
  console.log("| run | BigQuery calls | storage calls | examples | tables reused | wall | formula ideal | critical path | wall / ideal | peak RSS | target | runs (ms) |")
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
  let synced: string | null = null
  const rounds: Array<string> = []
  // BENCH_ONLY=<regular expression>: only the scenarios whose name matches (the loader section needs "1,000 tables").
  const only = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY)
  for (const scenario of SCENARIOS.filter((s) => only === undefined || only.test(s.name))) {
    if (scenario.warm) {
      const warm: Array<SyncRun> = []
      const warmup = await runScenario(scenario, scenario.name === "1,000 tables")
      synced ??= warmup.text
      for (let i = 0; i < RUNS; i++) warm.push((await runScenario(scenario)).run)
      console.log(row(`${scenario.name} (${scenario.datasets} datasets), warm`, warm, scenario.target.replace(/, ≤ \d+ MiB/, "")))
      rounds.push(`${scenario.name}: ${Object.entries(warm[0]!.rounds).map(([k, v]) => `${k} ${v}`).join(", ")}; stages (ms) ${JSON.stringify(warm[0]!.stageMs)}`)
    }
    const fresh: Array<SyncRun> = []
    const oldSpaceMiB = scenario.oldSpacePlusWarehouse === true ? DEPLOYED_OLD_SPACE_MIB + Math.ceil(warehouseHeap() / 1024 ** 2) : scenario.oldSpaceMiB
    const flags = oldSpaceMiB === undefined
      ? DEPLOYED_NODE_FLAGS
      : [...DEPLOYED_NODE_FLAGS.filter((flag) => !flag.startsWith("--max-old-space-size")), `--max-old-space-size=${oldSpaceMiB}`]
    let failure: string | undefined
    for (let i = 0; i < (scenario.warm ? RUNS : 1) && failure === undefined; i++) {
      const gcs = scenario.storageOverHttp === true ? await startGcsProcess() : undefined
      try {
        fresh.push(child<SyncRun>(bundle, ["--sync-child", scenario.name], flags, gcs === undefined ? {} : { BENCH_GCS_URL: gcs.url }))
      } catch (error) {
        // A run that does not fit its heap is a result, not the end of the bench.
        const stderr = String((error as { readonly stderr?: unknown }).stderr ?? error)
        failure = /heap out of memory/.test(stderr) ? `out of memory (${flags.join(" ")})` : stderr.split("\n").find((l) => l.trim() !== "") ?? "failed"
      } finally {
        gcs?.stop()
      }
    }
    if (failure !== undefined) {
      console.log(`| ${scenario.name} (${scenario.datasets} datasets), fresh process | | | | | **${failure}** | | | | | ${scenario.target} | |`)
      continue
    }
    console.log(row(`${scenario.name} (${scenario.datasets} datasets), fresh process`, fresh, scenario.target))
    if (!scenario.warm) {
      const { bytes, parts } = fresh[0]!
      const document = parts === null
        ? `document ${mib(bytes)}`
        : `split: manifest ${mib(bytes)}, ${parts.count} parts (${parts.written} written this run; all parts stored ${mib(parts.bytes)})`
      rounds.push(`${scenario.name}: ${Object.entries(fresh[0]!.rounds).map(([k, v]) => `${k} ${v}`).join(", ")}; ${document}`)
    }
  }
  if (warehouseHeapBytes !== undefined) {
    console.log(`\nThe in-memory BigQuery's 10,000 tables take ${mib(warehouseHeapBytes)} of the sync's heap (and its peak RSS): the rows "old space + the warehouse's heap" run with --max-old-space-size=${DEPLOYED_OLD_SPACE_MIB + Math.ceil(warehouseHeapBytes / 1024 ** 2)}.`)
  }
  console.log("\nRounds on the critical path (each 20 ms):")
  for (const line of rounds) console.log(`- ${line}`)

  if (synced !== null) {
    const text = synced
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "metasync-doc-")), "metadata_cache.json")
    writeFileSync(file, text)
    const bytes = Buffer.byteLength(text)
    const encoded = new Uint8Array(Buffer.from(text, "utf8"))
    // Alternated, so that a burst of load on a shared machine does not fall on one of them only.
    const times = { parse: [] as Array<number>, bytesParse: [] as Array<number>, decode: [] as Array<number>, textDecode: [] as Array<number> }
    for (let i = 0; i < 9; i++) {
      times.parse.push(timeMedian(1, () => JSON.parse(text)))
      times.bytesParse.push(timeMedian(1, () => JSON.parse(new TextDecoder().decode(encoded))))
      times.decode.push(timeMedian(1, () => Either.getOrThrow(decodeDocumentBytes(encoded))))
      times.textDecode.push(timeMedian(1, () => Either.getOrThrow(parseCacheDocument(text))))
    }
    const [parse, bytesParse, decode, textDecode] = [times.parse, times.bytesParse, times.decode, times.textDecode].map(median) as [number, number, number, number]
    const doc = Either.getOrThrow(decodeDocumentBytes(encoded)).document
    const lookup = timeMedian(101, () => findTable(doc, "bench-project.dataset_49.table_999"))
    // The prompt index as the loader builds it once per document, then questions (the examples'
    // own, one in 500) at 2,000 tokens; the first question's index comes from the loader's prepare.
    const indexBuild = timeMedian(5, () => buildIndex(doc))
    const questions = doc.examples.filter((_, i) => i % 500 === 0).map((e) => e.question)
    renderPromptContext(doc, { question: questions[0]!, maxTokens: 2000 })
    const perQuestion = timeMedian(5, () => {
      for (const question of questions) renderPromptContext(doc, { question, maxTokens: 2000 })
    }) / questions.length
    const growthOf = (how: string, nodeFlags: ReadonlyArray<string> = []) => {
      const memory = Array.from({ length: 3 }, () => child<{ growth: number }>(bundle, ["--loader-child", file, how], nodeFlags))
      return median(memory.map((m) => m.growth))
    }
    const [growth, textGrowth, jsonGrowth, loaderGrowth, noIndexGrowth] = ["bytes", "text", "json", "loader", "loader-no-index"].map((how) => growthOf(how)) as [number, number, number, number, number]
    // A backend process with the young generation capped as the function is deployed: V8's default
    // 16 MiB semi-spaces (on a machine this size) are headroom of the process, not memory the loader holds.
    const youngCapped = DEPLOYED_NODE_FLAGS.filter((flag) => flag.startsWith("--max-semi-space-size"))
    const [cappedGrowth, cappedLoaderGrowth] = ["bytes", "loader"].map((how) => growthOf(how, youngCapped)) as [number, number]
    console.log(`\n3. Loader on the document the 1,000-table sync published (${mib(bytes)}, ${doc.examples.length} examples), medians of 9 alternated runs`)
    console.log("| step | measured | target |")
    console.log("|---|---:|---|")
    console.log(`| JSON.parse of the text | ${parse.toFixed(1)} ms | |`)
    console.log(`| TextDecoder + JSON.parse of the bytes | ${bytesParse.toFixed(1)} ms = ${(bytesParse / parse).toFixed(2)}× JSON.parse | |`)
    console.log(`| loader decode of the bytes (decodeDocumentBytes) | ${decode.toFixed(1)} ms = ${(decode / parse).toFixed(2)}× JSON.parse | ≤ 2× |`)
    console.log(`| parse + decode of the text (parseCacheDocument; this row's measure before) | ${textDecode.toFixed(1)} ms = ${(textDecode / parse).toFixed(2)}× JSON.parse | |`)
    console.log(`| peak memory growth of a process reading the bytes and decoding them (fresh, median of 3) | ${mib(growth)} = ${(growth / bytes).toFixed(2)}× the document | ≤ 3× |`)
    console.log(`| the same, with ${youngCapped.join(" ")} (the young generation capped as the function is deployed) | ${mib(cappedGrowth)} = ${(cappedGrowth / bytes).toFixed(2)}× the document | ≤ 3× |`)
    console.log(`| the same, reading a string and parseCacheDocument (this row's measure before) | ${mib(textGrowth)} = ${(textGrowth / bytes).toFixed(2)}× | |`)
    console.log(`| the same, TextDecoder + JSON.parse of the bytes only (no decoding) | ${mib(jsonGrowth)} = ${(jsonGrowth / bytes).toFixed(2)}× | |`)
    console.log(`| the same, the CacheLoader over LocalStorage (stat, read, decode, prompt index) | ${mib(loaderGrowth)} = ${(loaderGrowth / bytes).toFixed(2)}× | |`)
    console.log(`| the same, the CacheLoader with ${youngCapped.join(" ")} | ${mib(cappedLoaderGrowth)} = ${(cappedLoaderGrowth / bytes).toFixed(2)}× | |`)
    console.log(`| the same, the CacheLoader with prepareContext: false (index built on the first question) | ${mib(noIndexGrowth)} = ${(noIndexGrowth / bytes).toFixed(2)}× | |`)
    console.log(`| prompt index build (once per document generation, median of 5) | ${indexBuild.toFixed(1)} ms | |`)
    console.log(`| prompt context of one question, 2,000 tokens (${questions.length} of the examples' questions, median of 5) | ${perQuestion.toFixed(2)} ms | |`)
    console.log(`| one table lookup | ${(lookup * 1000).toFixed(1)} µs | ≤ 1 ms |`)
  }
  if (only === undefined || only.test("backend")) await backendSection(bundle)
  console.log(`\nLoad average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(", ")}`)
}
