import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describeRelationship } from "../../src/contract/Relationship.ts"
import { parseTableRef } from "../../src/contract/TableId.ts"
import * as Either from "effect/Either"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery } from "../../src/services/BigQuery/LiveBigQuery.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { describeTable } from "../../src/sync/assemble.ts"
import { BATCHED_ABOVE, declaredRelationships } from "../../src/sync/relationships/declared.ts"
import { start } from "../support/FakeBigQueryServer.ts"

const PROJECT = "shop-warehouse"

const fakeBigQuery = Effect.acquireRelease(Effect.promise(() => start()), (fake) => Effect.promise(() => fake.close()))
const on = (url: string) =>
  Layer.effect(
    BigQueryService,
    LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: url, timeout: "30 seconds" }).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
    )
  )

const id = (s: string) => Either.getOrThrow(parseTableRef(s))

describe("declared keys", () => {
  it.scopedLive("reads foreign keys from tables.get's tableConstraints", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery
      fake.tables.put(PROJECT, "sales", {
        tableReference: { tableId: "orders" },
        schema: { fields: [{ name: "id", type: "INTEGER" }, { name: "customer_id", type: "INTEGER" }] },
        tableConstraints: {
          primaryKey: { columns: ["id"] },
          foreignKeys: [{
            name: "fk_orders_customer",
            referencedTable: { projectId: PROJECT, datasetId: "crm", tableId: "customers" },
            columnReferences: [{ referencingColumn: "customer_id", referencedColumn: "id" }]
          }]
        }
      })
      const declared = yield* Effect.gen(function*() {
        const bigquery = yield* BigQueryService
        const table = yield* bigquery.getTable(id(`${PROJECT}.sales.orders`))
        // The keys feed the relationships step; the document's table entry does not carry them.
        expect(Object.keys(describeTable(table, null))).not.toContain("table_constraints")
        return yield* declaredRelationships({ tables: [table], project: PROJECT, maximumBytesBilled: 1e8, live: true })
      }).pipe(Effect.provide(on(fake.url)))
      expect(declared.map((r) => `${describeRelationship(r, true)} ${r.evidence}`)).toEqual([
        "shop-warehouse.sales.orders.customer_id → shop-warehouse.crm.customers.id (many-to-one) foreign key fk_orders_customer (tables.get)"
      ])
      expect(fake.requestsOf("jobs.query")).toHaveLength(0)
    }))

  it.scopedLive("reads a batched dataset's keys from INFORMATION_SCHEMA in one query, within the byte cap", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery
      // The rows BigQuery gives for: lines(order_id, line_no) PK; orders(id, shop_id) PK;
      // lines(order_id, shop) → orders(id, shop_id), in a row per referenced column.
      const fk = (column: string, ordinal: number, refColumn: string) =>
        ["lines", "fk_lines_order", "FOREIGN KEY", column, ordinal, ordinal, PROJECT, "sales", "orders", refColumn]
      fake.queries.answer({
        match: "INFORMATION_SCHEMA.CONSTRAINT_COLUMN_USAGE",
        schema: [
          { name: "table_name", type: "STRING" },
          { name: "constraint_name", type: "STRING" },
          { name: "constraint_type", type: "STRING" },
          { name: "column_name", type: "STRING" },
          { name: "ordinal_position", type: "INTEGER" },
          { name: "position_in_unique_constraint", type: "INTEGER" },
          { name: "ref_catalog", type: "STRING" },
          { name: "ref_schema", type: "STRING" },
          { name: "ref_table", type: "STRING" },
          { name: "ref_column", type: "STRING" }
        ],
        rows: [
          ["lines", "lines.pk$", "PRIMARY KEY", "order_id", 1, null, null, null, null, null],
          ["lines", "lines.pk$", "PRIMARY KEY", "line_no", 2, null, null, null, null, null],
          ["orders", "orders.pk$", "PRIMARY KEY", "id", 1, null, null, null, null, null],
          ["orders", "orders.pk$", "PRIMARY KEY", "shop_id", 2, null, null, null, null, null],
          fk("shop", 2, "shop_id"),
          fk("shop", 2, "id"),
          fk("order_id", 1, "shop_id"),
          fk("order_id", 1, "id")
        ],
        totalBytesBilled: 10 * 1024 * 1024
      })
      const tables: Array<TableMetadata> = Array.from({ length: BATCHED_ABOVE + 1 }, (_, i) => ({
        table_id: `${PROJECT}.sales.t${i}` as TableMetadata["table_id"]
      }) as TableMetadata)
      const declared = yield* declaredRelationships({ tables, project: PROJECT, maximumBytesBilled: 104857600, live: true }).pipe(
        Effect.provide(on(fake.url))
      )
      expect(declared.map((r) => describeRelationship(r, true))).toEqual([
        "shop-warehouse.sales.lines.(order_id, shop) → shop-warehouse.sales.orders.(id, shop_id) (many-to-one)"
      ])
      const queries = fake.requestsOf("jobs.query")
      expect(queries).toHaveLength(1)
      for (const q of queries) expect(JSON.stringify(q.body)).toContain("104857600")
    }))
})
