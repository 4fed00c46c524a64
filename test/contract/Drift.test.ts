import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import {
  type CacheDocument,
  makeCacheDocument,
  parseCacheDocument,
  type Partitioning,
  type TableEntry
} from "../../src/contract/CacheDocument.ts"
import { computeDrift, describeDrift, SchemaDrift } from "../../src/contract/Drift.ts"
import type { Field } from "../../src/contract/Field.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"

const seedText = readFileSync(new URL("../fixtures/cache/seed-example.json", import.meta.url), "utf8")

const ORDERS = "proj-one.sales.orders"
const CUSTOMERS = "proj-one.sales.customers"

const dayPartitioning: Partitioning = { field: "day", type: "DAY", expiration_ms: null, require_partition_filter: false }

const orderColumns = (): ReadonlyArray<Field> => [
  { name: "id", type: "INTEGER", mode: "REQUIRED", description: "order id" },
  { name: "day", type: "DATE", mode: "NULLABLE", description: null },
  { name: "tags", type: "STRING", mode: "REPEATED", description: null },
  {
    name: "items",
    type: "RECORD",
    mode: "REPEATED",
    description: "line items",
    fields: [
      { name: "sku", type: "STRING", mode: "NULLABLE", description: "품목 코드" },
      { name: "price", type: "FLOAT", mode: "NULLABLE", description: null },
      {
        name: "discount",
        type: "RECORD",
        mode: "NULLABLE",
        description: null,
        fields: [{ name: "code", type: "STRING", mode: "NULLABLE", description: null }]
      }
    ]
  }
]

const table = (id: string, overrides: Partial<TableEntry> = {}): TableEntry =>
  makeTableEntry({
    table_id: TableId.make(id),
    description: "orders",
    last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
    row_count: 10,
    size_bytes: 2048,
    partitioning: dayPartitioning,
    clustering: ["id"],
    columns: orderColumns(),
    ...overrides
  })

const document = (generatedAt: string, tables: ReadonlyArray<TableEntry>): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(generatedAt),
    generator: { name: "metasync", version: "test" },
    tables: tables as CacheDocument["tables"],
    examples: []
  })

const previousDoc = (tables: ReadonlyArray<TableEntry> = [table(ORDERS), table(CUSTOMERS)]) =>
  document("2026-11-26T17:00:00Z", tables)
const nextDoc = (tables: ReadonlyArray<TableEntry>) => document("2026-11-27T17:00:00Z", tables)

/** The orders table with its columns rewritten by `edit`. */
const ordersWith = (edit: (columns: Array<Field>) => Array<Field>, overrides: Partial<TableEntry> = {}) =>
  table(ORDERS, { columns: edit([...orderColumns()]), ...overrides })

const items = (columns: ReadonlyArray<Field>): Field => columns.find((c) => c.name === "items")!
const withItems = (columns: Array<Field>, fields: ReadonlyArray<Field>): Array<Field> =>
  columns.map((c) => (c.name === "items" ? { ...c, fields } : c))

const driftOf = (next: ReadonlyArray<TableEntry>, previous?: ReadonlyArray<TableEntry>) =>
  computeDrift(previousDoc(previous), nextDoc(next))

describe("schema drift", () => {
  it("is empty between identical documents", () => {
    const drift = driftOf([table(ORDERS), table(CUSTOMERS)])
    expect(drift).toEqual({
      previous_generated_at: DateTime.unsafeMake("2026-11-26T17:00:00Z"),
      total: 0,
      breaking: 0,
      changes: []
    })
    expect(describeDrift(drift)).toEqual([])
  })

  it("reports added tables as not breaking and removed tables as breaking", () => {
    const drift = driftOf([table(ORDERS), table("proj-one.sales.returns")])
    expect(drift.changes).toEqual([
      { kind: "table_added", table_id: "proj-one.sales.returns", breaking: false },
      { kind: "table_removed", table_id: CUSTOMERS, breaking: true }
    ])
    expect(drift.total).toBe(2)
    expect(drift.breaking).toBe(1)
    expect(describeDrift(drift)).toEqual([
      "proj-one.sales.returns: table added",
      "BREAKING proj-one.sales.customers: table removed"
    ])
  })

  it("reports a nested column's type change as breaking", () => {
    const next = ordersWith((cs) =>
      withItems(cs, items(cs).fields!.map((f) => (f.name === "price" ? { ...f, type: "STRING" } : f)))
    )
    const drift = driftOf([next, table(CUSTOMERS)])
    expect(drift.changes).toEqual([
      { kind: "column_type_changed", table_id: ORDERS, breaking: true, column: "items.price", from: "FLOAT", to: "STRING" }
    ])
    expect(describeDrift(drift)).toEqual(["BREAKING proj-one.sales.orders: column items.price type FLOAT → STRING"])
  })

  it("treats standard and legacy names of one type as the same type", () => {
    const next = ordersWith((cs) =>
      cs.map((c) =>
        c.name === "id" ? { ...c, type: "INT64" } : c.name === "items" ? { ...c, type: "STRUCT" } : c
      )
    )
    expect(driftOf([next, table(CUSTOMERS)]).changes).toEqual([])
  })

  it("reports added and removed columns at every depth, a removed RECORD once", () => {
    const next = ordersWith((cs) => [
      ...withItems(cs.filter((c) => c.name !== "tags"), [
        ...items(cs).fields!.filter((f) => f.name !== "discount"),
        { name: "qty", type: "INTEGER", mode: "NULLABLE", description: null }
      ]),
      {
        name: "shipping",
        type: "RECORD",
        mode: "NULLABLE",
        description: null,
        fields: [{ name: "city", type: "STRING", mode: "NULLABLE", description: null }]
      }
    ])
    const drift = driftOf([next, table(CUSTOMERS)])
    expect(drift.changes).toEqual([
      { kind: "column_removed", table_id: ORDERS, breaking: true, column: "tags", type: "STRING", mode: "REPEATED" },
      {
        kind: "column_removed",
        table_id: ORDERS,
        breaking: true,
        column: "items.discount",
        type: "RECORD",
        mode: "NULLABLE"
      },
      { kind: "column_added", table_id: ORDERS, breaking: false, column: "items.qty", type: "INTEGER", mode: "NULLABLE" },
      { kind: "column_added", table_id: ORDERS, breaking: false, column: "shipping", type: "RECORD", mode: "NULLABLE" }
    ])
    expect(drift.total).toBe(4)
    expect(drift.breaking).toBe(2)
    expect(describeDrift(drift)).toEqual([
      "BREAKING proj-one.sales.orders: column tags removed (was STRING REPEATED)",
      "BREAKING proj-one.sales.orders: column items.discount removed (was RECORD NULLABLE)",
      "proj-one.sales.orders: column items.qty added (INTEGER NULLABLE)",
      "proj-one.sales.orders: column shipping added (RECORD NULLABLE)"
    ])
  })

  it("reports the fields under a RECORD that became a scalar as removed", () => {
    const next = ordersWith((cs) =>
      withItems(cs, items(cs).fields!.map((f) => (f.name === "discount" ? { name: "discount", type: "STRING", mode: "NULLABLE", description: null } : f)))
    )
    expect(driftOf([next, table(CUSTOMERS)]).changes).toEqual([
      { kind: "column_type_changed", table_id: ORDERS, breaking: true, column: "items.discount", from: "RECORD", to: "STRING" },
      {
        kind: "column_removed",
        table_id: ORDERS,
        breaking: true,
        column: "items.discount.code",
        type: "STRING",
        mode: "NULLABLE"
      }
    ])
  })

  it("calls a mode change breaking only when REPEATED is on one side", () => {
    const modes: Record<string, Field["mode"]> = { id: "NULLABLE", day: "REQUIRED", tags: "NULLABLE" }
    const next = ordersWith((cs) =>
      cs.map((c) =>
        c.name === "items"
          ? { ...c, fields: c.fields!.map((f) => (f.name === "sku" ? { ...f, mode: "REPEATED" as const } : f)) }
          : { ...c, mode: modes[c.name] ?? c.mode }
      )
    )
    const drift = driftOf([next, table(CUSTOMERS)])
    expect(drift.changes.map((c) => [c.kind, "column" in c ? c.column : "", c.breaking])).toEqual([
      ["column_mode_changed", "id", false],
      ["column_mode_changed", "day", false],
      ["column_mode_changed", "tags", true],
      ["column_mode_changed", "items.sku", true]
    ])
    expect(describeDrift(drift)).toEqual([
      "proj-one.sales.orders: column id mode REQUIRED → NULLABLE",
      "proj-one.sales.orders: column day mode NULLABLE → REQUIRED",
      "BREAKING proj-one.sales.orders: column tags mode REPEATED → NULLABLE",
      "BREAKING proj-one.sales.orders: column items.sku mode NULLABLE → REPEATED"
    ])
  })

  it("reports description changes of tables and columns as not breaking", () => {
    const long = "x".repeat(100)
    const next = ordersWith(
      (cs) =>
        cs.map((c) =>
          c.name === "id" ? { ...c, description: null } : c.name === "day" ? { ...c, description: long } : c
        ),
      { description: "주문" }
    )
    const drift = driftOf([next, table(CUSTOMERS)])
    expect(drift.changes).toEqual([
      { kind: "table_description_changed", table_id: ORDERS, breaking: false, from: "orders", to: "주문" },
      { kind: "column_description_changed", table_id: ORDERS, breaking: false, column: "id", from: "order id", to: null },
      { kind: "column_description_changed", table_id: ORDERS, breaking: false, column: "day", from: null, to: long }
    ])
    expect(drift.breaking).toBe(0)
    expect(describeDrift(drift)).toEqual([
      `proj-one.sales.orders: table description "orders" → "주문"`,
      `proj-one.sales.orders: column id description "order id" → (none)`,
      `proj-one.sales.orders: column day description (none) → "${"x".repeat(59)}…"`
    ])
  })

  it("reports clustering changes as not breaking", () => {
    const drift = driftOf([table(ORDERS, { clustering: ["id", "day"] }), table(CUSTOMERS, { clustering: [] })])
    expect(drift.changes).toEqual([
      { kind: "clustering_changed", table_id: ORDERS, breaking: false, from: ["id"], to: ["id", "day"] },
      { kind: "clustering_changed", table_id: CUSTOMERS, breaking: false, from: ["id"], to: [] }
    ])
    expect(describeDrift(drift)).toEqual([
      "proj-one.sales.orders: clustering [id] → [id, day]",
      "proj-one.sales.customers: clustering [id] → none"
    ])
  })

  describe("partitioning", () => {
    const partitioningDrift = (from: Partitioning | null, to: Partitioning | null) => {
      const drift = driftOf([table(ORDERS, { partitioning: to })], [table(ORDERS, { partitioning: from })])
      expect(drift.changes).toHaveLength(1)
      expect(drift.changes[0]).toMatchObject({ kind: "partitioning_changed", table_id: ORDERS, from, to })
      return { breaking: drift.changes[0].breaking, line: describeDrift(drift)[0] }
    }
    const required = { ...dayPartitioning, require_partition_filter: true }
    const ingestionTime: Partitioning = { ...dayPartitioning, field: null }

    it("is breaking when a partition filter becomes required", () => {
      expect(partitioningDrift(dayPartitioning, required)).toEqual({
        breaking: true,
        line: "BREAKING proj-one.sales.orders: partitioning DAY(day) → DAY(day) filter required"
      })
      expect(partitioningDrift(null, required).breaking).toBe(true)
    })

    it("is breaking when a required filter moves to another column", () => {
      expect(partitioningDrift(required, { ...required, field: "created" }).breaking).toBe(true)
    })

    it("is breaking when ingestion-time partitioning goes away", () => {
      expect(partitioningDrift(ingestionTime, null)).toEqual({
        breaking: true,
        line: "BREAKING proj-one.sales.orders: partitioning DAY(_PARTITIONTIME) → none"
      })
      expect(partitioningDrift(ingestionTime, dayPartitioning).breaking).toBe(true)
    })

    it("is not breaking when no query that ran before can be refused", () => {
      expect(partitioningDrift(dayPartitioning, { ...dayPartitioning, expiration_ms: 86_400_000 })).toEqual({
        breaking: false,
        line: "proj-one.sales.orders: partitioning DAY(day) → DAY(day) expires after 86400000 ms"
      })
      expect(partitioningDrift(null, dayPartitioning).breaking).toBe(false)
      expect(partitioningDrift(required, null).breaking).toBe(false)
      expect(partitioningDrift(dayPartitioning, { ...dayPartitioning, type: "MONTH" }).breaking).toBe(false)
    })
  })

  it("compares a stale table as unchanged: it was not re-read", () => {
    const stale = ordersWith((cs) => cs.filter((c) => c.name !== "items"), {
      description: "changed",
      clustering: [],
      status: {
        state: "stale",
        failure: { tag: "BigQueryPermissionDenied", message: "denied", since: DateTime.unsafeMake("2026-11-27T17:00:00Z") }
      }
    })
    const drift = driftOf([stale, table(CUSTOMERS)])
    expect(drift.total).toBe(0)
    expect(drift.changes).toEqual([])
  })

  it("compares a stale entry of the previous document that is fresh again", () => {
    const previousStale = table(ORDERS, {
      status: { state: "stale", failure: { tag: "X", message: "m", since: DateTime.unsafeMake("2026-11-26T00:00:00Z") } }
    })
    const drift = driftOf([table(ORDERS, { description: "new" })], [previousStale])
    expect(describeDrift(drift)).toEqual([`proj-one.sales.orders: table description "orders" → "new"`])
  })

  it("takes a decoded seed (format 1) document as the previous one", () => {
    const seed = Either.getOrThrow(parseCacheDocument(seedText))
    const id = "nlq-ex.test_dataset.events_20210131"
    const next = nextDoc([
      table(id, {
        description: null,
        partitioning: null,
        clustering: [],
        columns: [
          { name: "event_timestamp", type: "INTEGER", mode: "NULLABLE", description: "이벤트 발생 시간" },
          { name: "event_name", type: "STRING", mode: "NULLABLE", description: null }
        ]
      })
    ])
    const drift = computeDrift(seed, next)
    expect(DateTime.formatIso(drift.previous_generated_at)).toBe("2024-01-15T17:00:00.000Z")
    expect(describeDrift(drift)).toEqual([
      "BREAKING nlq-ex.test_dataset.events_20210131: column event_timestamp type TIMESTAMP → INTEGER",
      "nlq-ex.test_dataset.events_20210131: column event_name added (STRING NULLABLE)"
    ])
    expect({ total: drift.total, breaking: drift.breaking }).toEqual({ total: 2, breaking: 1 })
  })

  describe("codec", () => {
    const drift = () =>
      driftOf([
        ordersWith((cs) => [
          ...cs.filter((c) => c.name !== "tags").map((c) =>
            c.name === "id" ? { ...c, type: "STRING" } : c.name === "day" ? { ...c, mode: "REQUIRED" as const } : c
          ).map((c) =>
            c.name === "items" ? { ...c, fields: c.fields!.map((f) => (f.name === "sku" ? { ...f, description: "SKU" } : f)) } : c
          ),
          { name: "note", type: "STRING", mode: "NULLABLE", description: null }
        ], {
          description: null,
          partitioning: { ...dayPartitioning, require_partition_filter: true },
          clustering: ["day"]
        }),
        table("proj-one.sales.returns")
      ])

    it("round-trips every kind of change through JSON", () => {
      const value = drift()
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(SchemaDrift)(value)))
      expect(json.previous_generated_at).toBe("2026-11-26T17:00:00.000Z")
      expect(Object.keys(json)).toEqual(["previous_generated_at", "total", "breaking", "changes"])
      expect(json.changes.map((c: { kind: string }) => c.kind)).toEqual([
        "table_description_changed",
        "partitioning_changed",
        "clustering_changed",
        "column_type_changed",
        "column_mode_changed",
        "column_removed",
        "column_description_changed",
        "column_added",
        "table_added",
        "table_removed"
      ])
      expect(Schema.decodeUnknownSync(SchemaDrift)(json)).toEqual(value)
    })

    it("refuses counts that do not match the changes", () => {
      const json = { ...Schema.encodeSync(SchemaDrift)(drift()), breaking: 0 }
      expect(() => Schema.decodeUnknownSync(SchemaDrift)(json)).toThrow(/breaking \(0\) must count the breaking changes \(4\)/)
    })
  })
})
