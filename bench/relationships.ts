/**
 * `node bench/relationships.ts`: what relationship inference adds to the 1,000-table sync (the
 * bench's first table, 50 datasets, 20 ms per remote call, dry runs off): the same sync with
 * `RELATIONSHIP_INFERENCE` on and off, alternated, median of each. Target: ≤ 10 % more.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { performance } from "node:perf_hooks"
import { SyncConfig } from "../src/config/SyncConfig.ts"
import { AlertService } from "../src/services/Alerting/AlertService.ts"
import { MemoryBigQuery, MemoryBigQueryControl } from "../src/services/BigQuery/MemoryBigQuery.ts"
import { ExampleGeneratorService } from "../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { MemoryStorage } from "../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../src/sync/SyncProgram.ts"
import { metadata, settings } from "./fixtures.ts"

const TABLES = 1000
const DATASETS = 50
const LATENCY_MS = 20

const runSync = (inference: boolean) =>
  Effect.gen(function*() {
    const warehouse = yield* MemoryBigQueryControl
    for (let t = 0; t < TABLES; t++) yield* warehouse.putTable(metadata("bench-project", `dataset_${t % DATASETS}`, `table_${t}`))
    const started = performance.now()
    const summary = yield* syncOnce()
    return { ms: performance.now() - started, tables: summary.table_count }
  }).pipe(
    Effect.provide(Layer.mergeAll(
      Layer.succeed(SyncConfig, { ...settings(DATASETS, false), relationshipInference: inference }),
      MemoryBigQuery.layer({ latency: Duration.millis(LATENCY_MS) }),
      MemoryStorage.layer("bench-bucket", { latency: Duration.millis(LATENCY_MS) }),
      ExampleGeneratorService.Disabled,
      AlertService.Disabled,
      Logger.minimumLogLevel(LogLevel.Warning)
    )),
    Effect.runPromise
  )

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const on: Array<number> = []
const off: Array<number> = []
await runSync(true) // warm-up
for (let i = 0; i < 3; i++) {
  off.push((await runSync(false)).ms)
  on.push((await runSync(true)).ms)
}
const [mOn, mOff] = [median(on), median(off)]
console.log(`1,000-table sync, median of 3: inference off ${mOff.toFixed(0)} ms, on ${mOn.toFixed(0)} ms: +${(100 * (mOn - mOff) / mOff).toFixed(1)} %`)
console.log(`runs off: ${off.map((x) => x.toFixed(0)).join(", ")}; on: ${on.map((x) => x.toFixed(0)).join(", ")}`)
