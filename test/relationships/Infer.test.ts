import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import type { Field } from "../../src/contract/Field.ts"
import { describeRelationship } from "../../src/contract/Relationship.ts"
import { makeTableEntry, type TableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { inferRelationships, singular, words } from "../../src/sync/relationships/infer.ts"

type Col = [name: string, type: string, description?: string, extra?: Partial<Field>]
const table = (id: string, columns: ReadonlyArray<Col>, extra: Partial<TableEntry> = {}): TableEntry =>
  makeTableEntry({
    table_id: TableId.make(id),
    last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
    columns: columns.map(([name, type, description, more]) => ({ name, type, mode: "NULLABLE", description: description ?? null, ...more })),
    ...extra
  })
const hints = (tables: ReadonlyArray<TableEntry>) => inferRelationships(tables).map((r) => `${describeRelationship(r)} ${r.confidence}`)

describe("inferring relationships", () => {
  it("splits names into words and folds plurals", () => {
    expect(words("sbTxCustId")).toEqual(["sb", "tx", "cust", "id"])
    expect(words("from_airport")).toEqual(["from", "airport"])
    expect(words("aid")).toEqual(["a", "id"])
    expect(["customers", "categories", "sales", "status", "address"].map(singular)).toEqual(["customer", "category", "sale", "status", "address"])
  })

  it("links a column to the table it names, plural or singular, and to `id` or the table's name + id", () => {
    expect(hints([
      table("nlq-ex.shop.customers", [["id", "INTEGER"], ["email", "STRING"]]),
      table("nlq-ex.shop.category", [["category_id", "STRING"], ["title", "STRING"]]),
      table("nlq-ex.shop.orders", [["id", "INTEGER"], ["customer_id", "INTEGER"], ["category_id", "STRING"], ["total_amount", "NUMERIC"]])
    ])).toEqual([
      "orders.category_id → category.category_id (many-to-one) 1",
      "orders.customer_id → customers.id (many-to-one) 0.99"
    ])
  })

  it("reads camelCase and prefixed conventions: sbTxCustId → sbCustomer.sbCustId", () => {
    expect(hints([
      table("nlq-ex.broker.sbCustomer", [["sbCustId", "STRING"], ["sbCustName", "STRING"], ["sbCustCity", "STRING"]]),
      table("nlq-ex.broker.sbTicker", [["sbTickerId", "STRING"], ["sbTickerSymbol", "STRING"], ["sbTickerType", "STRING"]]),
      table("nlq-ex.broker.sbTransaction", [["sbTxId", "STRING"], ["sbTxCustId", "STRING"], ["sbTxTickerId", "STRING"], ["sbTxAmount", "NUMERIC"]])
    ])).toEqual([
      "sbTransaction.sbTxCustId → sbCustomer.sbCustId (many-to-one) 0.9",
      "sbTransaction.sbTxTickerId → sbTicker.sbTickerId (many-to-one) 0.99"
    ])
  })

  it("follows a description that says where a column points", () => {
    expect(hints([
      table("nlq-ex.lib.publication", [["pid", "INTEGER", "Unique ID of the publication"], ["title", "STRING"]]),
      table("nlq-ex.lib.cite", [["cited", "INTEGER", "ID of the publication being cited"], ["note", "STRING", "Foreign key referencing the publication table"]])
    ])).toEqual(["cite.cited → publication.pid (many-to-one) 0.6"])
  })

  it("never links free text, measures, sensitive or policy-tagged columns, nor a string to an integer", () => {
    expect(hints([
      table("nlq-ex.crm.customers", [["id", "INTEGER"], ["name", "STRING"]]),
      table("nlq-ex.crm.tickets", [
        ["customer_name", "STRING"],
        ["customer_id", "STRING"],
        ["customer_count", "INTEGER"],
        ["customer_ssn", "INTEGER"],
        ["customer_ref_id", "INTEGER", null as unknown as string, { policy_tags: ["projects/p/locations/us/taxonomies/1/policyTags/2"] }],
        ["num_customers", "INTEGER", "Number of customers reached"]
      ])
    ])).toEqual([])
  })

  it("gives a column that names two tables equally well low confidence, to both", () => {
    const found = inferRelationships([
      table("nlq-ex.a.accounts", [["id", "INTEGER"]]),
      table("nlq-ex.b.accounts", [["id", "INTEGER"]]),
      table("nlq-ex.c.payments", [["account_id", "INTEGER"]])
    ])
    expect(found.map((r) => [r.to.table_id, r.confidence, r.evidence.startsWith("ambiguous (2 candidates)")])).toEqual([
      ["nlq-ex.a.accounts", 0.4, true],
      ["nlq-ex.b.accounts", 0.4, true]
    ])
  })

  it("takes a column unique in its profile as a key, and a repeating one as less of one", () => {
    const profile = (column: string, distinct: number) => ({
      profiled_at: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
      sample_percent: null,
      rows_sampled: 1000,
      bytes_processed: 0,
      columns: [{ column, type: "STRING", null_fraction: 0, approx_distinct: distinct, top_values: null, min: null, max: null }],
      skipped: []
    })
    const shops = (distinct: number) => table("nlq-ex.s.shop", [["shop_code", "STRING"]], { profile: profile("shop_code", distinct) })
    const sales = table("nlq-ex.s.sales", [["shop_code", "STRING"], ["amount", "NUMERIC"]])
    expect(hints([shops(1000), sales])).toEqual(["sales.shop_code → shop.shop_code (many-to-one) 1"])
    expect(inferRelationships([shops(10), sales])[0]?.confidence ?? 0).toBeLessThan(0.5)
  })
})
