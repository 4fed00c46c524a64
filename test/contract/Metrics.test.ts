import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Schema from "effect/Schema"
import {
  type CacheDocument,
  type Example,
  type ExampleSource,
  makeCacheDocument,
  type TableEntry
} from "../../src/contract/CacheDocument.ts"
import type { Field } from "../../src/contract/Field.ts"
import { computeMetrics, metricsLogFields, QualityMetrics, type RunStats } from "../../src/contract/Metrics.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"

const ORDERS = "proj-one.sales.orders"
const CUSTOMERS = "proj-one.sales.customers"
const RETURNS = "proj-one.sales.returns"
const EMPTY = "proj-one.sales.empty"
const EVENTS = "proj-one.sales.events"

const field = (name: string, description: string | null, more: Partial<Field> = {}): Field => ({
  name,
  type: "STRING",
  mode: "NULLABLE",
  description,
  ...more
})

const table = (id: string, description: string | null, columns: ReadonlyArray<Field>, stale = false): TableEntry =>
  makeTableEntry({
  table_id: TableId.make(id),
  description,
  last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
  columns,
  status: stale
    ? { state: "stale", failure: { tag: "BigQueryPermissionDenied", message: "denied", since: DateTime.unsafeMake("2026-11-27T00:00:00Z") } }
    : { state: "fresh" }
})

const example = (n: number, tables: ReadonlyArray<string>, source: ExampleSource): Example => ({
  question: `question ${n}`,
  sql: `SELECT ${n}`,
  tables: tables.map((t) => TableId.make(t)),
  source,
  generator: `${source}:test`,
  language: "en"
})

const examples = (count: number, tables: ReadonlyArray<string>, source: ExampleSource, from = 0) =>
  Array.from({ length: count }, (_, i) => example(from + i, tables, source))

const document = (tables: ReadonlyArray<TableEntry>, docExamples: ReadonlyArray<Example>): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-27T17:00:00Z"),
    generator: { name: "metasync", version: "test" },
    tables: tables as CacheDocument["tables"],
    examples: docExamples
  })

const noRun: RunStats = { remote_calls: 0, retries: 0, bytes_processed: 0, bytes_billed: 0, stage_ms: {} }

// orders: 4 top-level columns, 4 nested fields (two depths), described: id, items, items.sku → 3 of 8.
const orders = table(ORDERS, "orders", [
  field("id", "order id", { type: "INTEGER", mode: "REQUIRED" }),
  field("day", null, { type: "DATE" }),
  field("tags", null, { mode: "REPEATED" }),
  field("items", "line items", {
    type: "RECORD",
    mode: "REPEATED",
    fields: [
      field("sku", "품목 코드"),
      field("price", null, { type: "FLOAT" }),
      field("discount", null, { type: "RECORD", fields: [field("code", null)] })
    ]
  })
])
// customers: 3 top-level, 1 nested, described: name, address → 2 of 4 (exactly 50 %).
const customers = table(CUSTOMERS, null, [
  field("name", "customer name"),
  field("email", null),
  field("address", "postal address", { type: "RECORD", fields: [field("city", null)] })
])
// returns: stale, one column whose description is only white space → 0 of 1.
const returns = table(RETURNS, "returns", [field("id", "   ")], true)
// empty: no columns at all → nothing undescribed.
const empty = table(EMPTY, "no columns yet", [])
// events: 1 column, described → 1 of 1.
const events = table(EVENTS, "events", [field("ts", "시간", { type: "TIMESTAMP" })])

// orders is read by 7 + 1 = 8 examples (exactly the target), customers by 1 + 6 = 7.
const knownDocument = document([orders, customers, returns, empty, events], [
  ...examples(5, [ORDERS], "template"),
  ...examples(2, [ORDERS], "curated", 5),
  ...examples(1, [ORDERS, CUSTOMERS], "llm", 7),
  ...examples(6, [CUSTOMERS], "legacy", 8)
])

const run: RunStats = {
  remote_calls: 12,
  retries: 2,
  bytes_processed: 1000,
  bytes_billed: 10_485_760,
  stage_ms: { collect: 120, generate: 30.5 }
}

const knownMetrics = () =>
  computeMetrics({ document: knownDocument, rejected: { dry_run_failed: 3, unknown_column: 2 }, run })

describe("quality metrics", () => {
  it("counts a known document and run", () => {
    const metrics = knownMetrics()
    expect(metrics).toEqual({
      tables: 5,
      columns: 4 + 3 + 1 + 0 + 1,
      nested_fields: 4 + 1,
      tables_described: 4, // customers has none
      tables_described_pct: 80,
      fields_described: 3 + 2 + 0 + 0 + 1,
      fields_described_pct: 42.9, // 6 of 14
      examples_accepted: 14,
      examples_by_source: { template: 5, curated: 2, llm: 1, legacy: 6 },
      examples_rejected: 5,
      examples_rejected_by_reason: { dry_run_failed: 3, unknown_column: 2 },
      bytes_processed: 1000,
      bytes_billed: 10_485_760,
      remote_calls: 12,
      retries: 2,
      stage_ms: { collect: 120, generate: 30.5 },
      stale_tables: 1,
      stale_table_ids: [RETURNS],
      health: {
        tables_described: { measured: 80, target: 80, pass: true },
        tables: [
          {
            table_id: ORDERS,
            fields_described: { measured: 37.5, target: 50, pass: false },
            examples: { measured: 8, target: 8, pass: true }
          },
          {
            table_id: CUSTOMERS,
            fields_described: { measured: 50, target: 50, pass: true },
            examples: { measured: 7, target: 8, pass: false }
          },
          {
            table_id: RETURNS,
            fields_described: { measured: 0, target: 50, pass: false },
            examples: { measured: 0, target: 8, pass: false }
          },
          {
            table_id: EMPTY,
            fields_described: { measured: 100, target: 50, pass: true },
            examples: { measured: 0, target: 8, pass: false }
          },
          {
            table_id: EVENTS,
            fields_described: { measured: 100, target: 50, pass: true },
            examples: { measured: 0, target: 8, pass: false }
          }
        ],
        pass: false
      }
    })
  })

  describe("health", () => {
    const describedTables = (described: number, total: number) =>
      computeMetrics({
        document: document(
          Array.from({ length: total }, (_, i) =>
            table(`proj-one.sales.t${i}`, i < described ? "described" : i % 2 === 0 ? null : "", [field("c", "c")])
          ),
          []
        ),
        rejected: {},
        run: noRun
      }).health.tables_described

    it("passes the table description target at exactly 80 % and fails just under it", () => {
      expect(describedTables(4, 5)).toEqual({ measured: 80, target: 80, pass: true })
      expect(describedTables(8, 10)).toEqual({ measured: 80, target: 80, pass: true })
      expect(describedTables(3, 4)).toEqual({ measured: 75, target: 80, pass: false })
      expect(describedTables(11, 14)).toEqual({ measured: 78.6, target: 80, pass: false })
    })

    const oneTable = (columns: ReadonlyArray<Field>, exampleCount: number) =>
      computeMetrics({
        document: document([table(ORDERS, "orders", columns)], examples(exampleCount, [ORDERS], "template")),
        rejected: {},
        run: noRun
      }).health

    it("passes a table with exactly half its fields described and 8 examples", () => {
      const health = oneTable([field("a", "a"), field("b", null, { type: "RECORD", fields: [field("c", "c"), field("d", null)] })], 8)
      expect(health).toEqual({
        tables_described: { measured: 100, target: 80, pass: true },
        tables: [{
          table_id: ORDERS,
          fields_described: { measured: 50, target: 50, pass: true },
          examples: { measured: 8, target: 8, pass: true }
        }],
        pass: true
      })
    })

    it("fails a table just under half described or with 7 examples", () => {
      const under = oneTable([field("a", "a"), field("b", null), field("c", null)], 8)
      expect(under.tables[0].fields_described).toEqual({ measured: 33.3, target: 50, pass: false })
      expect(under.pass).toBe(false)
      const fewExamples = oneTable([field("a", "a")], 7)
      expect(fewExamples.tables[0].examples).toEqual({ measured: 7, target: 8, pass: false })
      expect(fewExamples.pass).toBe(false)
    })
  })

  it("round-trips through its codec with snake_case JSON", () => {
    const metrics = knownMetrics()
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(QualityMetrics)(metrics)))
    expect(json.examples_by_source).toEqual({ template: 5, curated: 2, llm: 1, legacy: 6 })
    expect(json.health.tables[1]).toEqual({
      table_id: CUSTOMERS,
      fields_described: { measured: 50, target: 50, pass: true },
      examples: { measured: 7, target: 8, pass: false }
    })
    expect(Schema.decodeUnknownSync(QualityMetrics)(json)).toEqual(metrics)
  })

  it("gives one flat record for the run's log line", () => {
    expect(metricsLogFields(knownMetrics())).toEqual({
      tables: 5,
      columns: 9,
      nested_fields: 5,
      tables_described_pct: 80,
      fields_described_pct: 42.9,
      examples_accepted: 14,
      "examples_by_source.template": 5,
      "examples_by_source.curated": 2,
      "examples_by_source.llm": 1,
      "examples_by_source.legacy": 6,
      examples_rejected: 5,
      "examples_rejected.dry_run_failed": 3,
      "examples_rejected.unknown_column": 2,
      bytes_processed: 1000,
      bytes_billed: 10_485_760,
      remote_calls: 12,
      retries: 2,
      "stage_ms.collect": 120,
      "stage_ms.generate": 30.5,
      stale_tables: 1,
      stale_table_ids: RETURNS,
      health_pass: false,
      health_tables_described_pass: true,
      health_tables_under_fields_described_target: `${ORDERS},${RETURNS}`,
      health_tables_under_examples_target: `${CUSTOMERS},${RETURNS},${EMPTY},${EVENTS}`
    })
  })
})
