/** Synthetic warehouses and documents for the benchmarks. */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { makeCacheDocument, type TableEntry } from "../src/contract/CacheDocument.ts"
import type { Field } from "../src/contract/Field.ts"
import { makeTableEntry } from "../src/contract/TableEntry.ts"
import { makeTableId } from "../src/contract/TableId.ts"
import type { SyncSettings } from "../src/config/SyncConfig.ts"
import { parseTargets } from "../src/config/Targets.ts"
import type { TableMetadata } from "../src/services/BigQuery/TableResource.ts"
import { fieldPathEntries } from "../src/sync/fieldPaths.ts"
import { testSettings } from "../test/support/TestLayers.ts"

export const COLUMNS = 50

/** A realistic wide table: scalars of every common type, a nested record and a repeated one. */
export const columns = (n: number): ReadonlyArray<Field> => {
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

export const metadata = (project: string, dataset: string, table: string): TableMetadata => ({
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

export const settings = (datasets: number, exampleDryRun: boolean): SyncSettings =>
  testSettings({
    project: "bench-project",
    targets: Either.getOrThrow(
      parseTargets(Array.from({ length: datasets }, (_, d) => `bench-project.dataset_${d}.*`).join(","))
    ),
    bucket: "bench-bucket",
    exampleDryRun,
    curatedExamplesDir: "bench/no-curated-examples"
  })


export const wideDocument = (tables: number) => {
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

