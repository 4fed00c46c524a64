import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describeRelationship, type Relationship } from "../../src/contract/Relationship.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery } from "../../src/services/BigQuery/LiveBigQuery.ts"
import { checkRelationships } from "../../src/sync/relationships/checked.ts"
import { start } from "../support/FakeBigQueryServer.ts"

const PROJECT = "shop-warehouse"
const rel = (child: string, column: string, parent: string, source: Relationship["source"] = "inferred"): Relationship => ({
  from: { table_id: TableId.make(`${PROJECT}.sales.${child}`), columns: [column] },
  to: { table_id: TableId.make(`${PROJECT}.sales.${parent}`), columns: ["id"] },
  source,
  confidence: 0.63,
  evidence: "a guess",
  cardinality: null
})

const SCHEMA = [
  { name: "child_keys", type: "INTEGER" },
  { name: "found", type: "INTEGER" },
  { name: "child_distinct", type: "INTEGER" },
  { name: "parent_unique", type: "BOOLEAN" }
]

describe("checked relationships", () => {
  it.scopedLive("confirms, drops or leaves each guessed relationship by a sampled query within the byte cap", () =>
    Effect.gen(function*() {
      const fake = yield* Effect.acquireRelease(Effect.promise(() => start()), (f) => Effect.promise(() => f.close()))
      fake.queries.answer({ match: "sales.orders` TABLESAMPLE", schema: SCHEMA, rows: [[1000, 990, 400, true]] })
      fake.queries.answer({ match: "sales.profiles` TABLESAMPLE", schema: SCHEMA, rows: [[500, 500, 500, true]] })
      fake.queries.answer({ match: "sales.visits` TABLESAMPLE", schema: SCHEMA, rows: [[800, 100, 700, true]] })
      // No answer for `notes`: the query fails and the relationship stays as it was.
      const declared = rel("lines", "order_id", "orders", "declared")
      const checked = yield* checkRelationships({
        relationships: [rel("orders", "customer_id", "customers"), rel("profiles", "customer_id", "customers"), rel("visits", "page", "pages"), rel("notes", "author", "users"), declared],
        project: PROJECT,
        maximumBytesBilled: 104857600
      }).pipe(Effect.provide(Layer.effect(
        BigQueryService,
        LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: fake.url, timeout: "30 seconds" }).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )))
      expect(checked.map((r) => `${describeRelationship(r)} ${r.confidence}`)).toEqual([
        "orders.customer_id → customers.id (many-to-one) 0.99",
        "profiles.customer_id → customers.id (one-to-one) 0.99",
        "notes.author → users.id 0.63",
        "lines.order_id → orders.id 0.63"
      ])
      expect(checked[0]!.evidence).toBe("a guess; checked: 99 % of 1000 sampled keys found, parent key unique")
      const queries = fake.requestsOf("jobs.query")
      expect(queries).toHaveLength(4)
      for (const q of queries) expect(JSON.stringify(q.body)).toContain("104857600")
    }))
})
