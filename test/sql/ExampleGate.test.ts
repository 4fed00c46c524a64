/**
 * The gate every example passes in the sync (`acceptExamples`, the validator behind it), fed the
 * candidates issue #9 found accepted: each is refused and counted under its reason, whatever its
 * source says it reads, and in local mode (no dry run behind the gate).
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import type { Example } from "../../src/contract/CacheDocument.ts"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { acceptExamples } from "../../src/sync/examples.ts"
import { readWithCst } from "./CstReading.ts"

const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")

const orders = tableMetadataFromRest({ project: "my-project", dataset: "shop", table: "orders" }, {
  timePartitioning: { type: "DAY", field: "order_date", requirePartitionFilter: true },
  schema: {
    fields: [
      { name: "order_date", type: "DATE" },
      { name: "customer_id", type: "STRING" },
      { name: "status", type: "STRING" },
      {
        name: "lines",
        type: "RECORD",
        mode: "REPEATED",
        fields: [
          { name: "sku", type: "STRING" },
          { name: "discounts", type: "RECORD", mode: "REPEATED", fields: [{ name: "code", type: "STRING" }] }
        ]
      }
    ]
  }
}, now)

const customers = tableMetadataFromRest({ project: "my-project", dataset: "shop", table: "customers" }, {
  schema: { fields: [{ name: "customer_id", type: "STRING" }, { name: "country", type: "STRING" }] }
}, now)

const candidate = (
  question: string,
  sql: string,
  source: Example["source"] = "llm",
  tables: ReadonlyArray<typeof orders.table_id> = [orders.table_id]
): Example => ({
  question,
  sql,
  tables: [tables[0], ...tables.slice(1)],
  source,
  generator: `${source}:issue-9`,
  language: "en"
})

const recent = "order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)"
const good = candidate(
  "Which discount codes were used most in the last 30 days?",
  `SELECT d.code, COUNT(*) AS uses FROM \`my-project.shop.orders\` CROSS JOIN UNNEST(lines) AS l CROSS JOIN UNNEST(l.discounts) AS d WHERE ${recent} GROUP BY d.code`
)
const hostile: ReadonlyArray<readonly [reason: string, example: Example]> = [
  ["forbidden_function", candidate("Who am I?", "SELECT SESSION_USER() AS who")],
  [
    "missing_partition_filter",
    candidate("How many orders?", `SELECT COUNT(*) AS n FROM \`my-project.shop.orders\` WHERE ${recent} OR TRUE`, "curated")
  ],
  ["forbidden_function", candidate("Read a file", "SELECT LOAD_FILE('/etc/passwd') AS secrets", "curated")],
  [
    "unknown_column",
    candidate(
      "Which discount codes?",
      `SELECT d.code FROM \`my-project.shop.orders\` CROSS JOIN UNNEST(lines) AS l CROSS JOIN UNNEST(discounts) AS d WHERE ${recent}`
    )
  ],
  ["no_table", candidate("Is one one?", "SELECT 1 = 1 AS yes", "template")]
]

describe("acceptExamples, the gate of every example source", () => {
  it("keeps the well-formed example and counts each hostile one under its reason", () => {
    const set = acceptExamples([...hostile.map(([, example]) => example), good], [orders])
    expect(set.examples).toEqual([good])
    expect(set.rejected).toEqual({ forbidden_function: 2, missing_partition_filter: 1, unknown_column: 1, no_table: 1 })
  })

  it("is fed queries that are valid BigQuery syntax: the refusals are the rules at work", () => {
    for (const [, example] of hostile) expect(readWithCst(example.sql).statements, example.sql).toEqual(["select_stmt"])
  })
})

describe("acceptExamples and an example's tables label", () => {
  const join = `SELECT c.country, COUNT(*) AS orders FROM \`my-project.shop.orders\` AS o ` +
    `JOIN \`my-project.shop.customers\` AS c ON o.customer_id = c.customer_id ` +
    `WHERE o.order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY) GROUP BY c.country`
  const customersOnly = "SELECT country, COUNT(*) AS customers FROM `my-project.shop.customers` GROUP BY country"
  const ordersOnly = `SELECT status, COUNT(*) AS orders FROM \`my-project.shop.orders\` WHERE ${recent} GROUP BY status`
  const both = [orders.table_id, customers.table_id]

  for (const source of ["template", "llm", "curated"] as const) {
    it(`refuses a ${source} example whose SQL reads a table its label does not name, or not one it names`, () => {
      const rightJoin = candidate("Orders by country", join, source, both)
      const mislabelled = [
        // Reads customers too; the label names orders alone.
        candidate("Orders by country", join, source),
        // Reads customers only; the label says orders.
        candidate("Customers by country", customersOnly, source),
        // Reads orders only; the label names customers as well.
        candidate("Orders by status", ordersOnly, source, both)
      ]
      const set = acceptExamples([...mislabelled, rightJoin], [orders, customers])
      expect(set.examples).toEqual([rightJoin])
      expect(set.rejected).toEqual({ wrong_table: 3 })
    })
  }
})

