import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describeRelationship } from "../../src/contract/Relationship.ts"
import { type TableEntry, makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery } from "../../src/services/BigQuery/LiveBigQuery.ts"
import { queryLogRelationships } from "../../src/sync/relationships/queryLog.ts"
import { start } from "../support/FakeBigQueryServer.ts"

const PROJECT = "shop-warehouse"

const entry = (table: string, columns: ReadonlyArray<string>): TableEntry =>
  makeTableEntry({
    table_id: TableId.make(`${PROJECT}.sales.${table}`),
    last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
    columns: columns.map((name) => ({ name, type: "INTEGER", mode: "NULLABLE", description: null }))
  })

describe("query-log relationships", () => {
  it.scopedLive("counts the join predicates of logged SELECTs per column pair, within the byte cap", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => start()), (f) => Effect.promise(() => f.close()))
      fake.queries.answer({
        match: "INFORMATION_SCHEMA.JOBS_BY_PROJECT",
        schema: [{ name: "query", type: "STRING" }],
        rows: [
          ["SELECT c.name, COUNT(*) FROM `shop-warehouse.sales.orders` o JOIN sales.customers c ON o.buyer = c.id GROUP BY 1"],
          ["SELECT * FROM sales.orders AS o, sales.customers AS c WHERE c.id = o.buyer AND o.total > 10 NULLS LAST"],
          ["WITH x AS (SELECT buyer FROM sales.orders) SELECT * FROM x JOIN sales.customers c ON x.buyer = c.id"],
          ["SELECT * FROM sales.orders o JOIN sales.lines l ON l.order_ref = o.ref"],
          ["not SQL at all"]
        ],
        totalBytesBilled: 10 * 1024 * 1024
      })
      const tables = [entry("orders", ["id", "buyer", "ref", "total"]), entry("customers", ["id"]), entry("lines", ["order_ref"])]
      const found = yield* queryLogRelationships({ project: PROJECT, location: "asia-northeast3", days: 30, tables, maximumBytesBilled: 104857600 })
        .pipe(Effect.provide(Layer.effect(
          BigQueryService,
          LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: fake.url, timeout: "30 seconds" }).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
          )
        )))
      expect(found.map((r) => `${describeRelationship(r)} ${r.confidence} ${r.evidence}`)).toEqual([
        "orders.buyer → customers.id (many-to-one) 0.7 joined this way in 2 successful queries of the last 30 days",
        "lines.order_ref → orders.ref (many-to-one) 0.6 joined this way in 1 successful query of the last 30 days"
      ])
      const [request] = fake.requestsOf("jobs.query")
      expect(JSON.stringify(request!.body)).toContain("104857600")
      expect(JSON.stringify(request!.body)).toContain("region-asia-northeast3")
    }))
})
