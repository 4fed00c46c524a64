import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import { exactTarget } from "../../src/config/Targets.ts"
import { parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { describeDrift } from "../../src/contract/Drift.ts"
import { describeRelationship } from "../../src/contract/Relationship.ts"
import { MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { ref, testLayer } from "../support/TestLayers.ts"
import { tableMetadata } from "../support/Tables.ts"

const table = (id: string, columns: ReadonlyArray<[string, string, string?]>): TableMetadata => tableMetadata(id, columns)

const ORDERS = "nlq-ex.shop.orders"
const CUSTOMERS = "nlq-ex.shop.customers"
const STORES = "nlq-ex.shop.stores"
const DBT_ORDERS = "nlq-analytics.jaffle_shop.orders"

const published = Effect.gen(function*() {
  const bucket = yield* MemoryStorageControl
  return Either.getOrThrow(parseCacheDocument(Option.getOrThrow(yield* bucket.text("metadata_cache.json"))))
})

const layer = testLayer({
  targets: [ORDERS, CUSTOMERS, STORES, DBT_ORDERS].map((id) => exactTarget(ref(id))),
  exampleDryRun: false,
  curatedExamplesPrefix: "curated/",
  dbtManifest: "gs://test-bucket/dbt/manifest.json"
})

describe("relationships in a sync", () => {
  it.effect("publishes inferred, curated and dbt relationships, and reports their drift", () =>
    Effect.gen(function*() {
      const warehouse = yield* MemoryBigQueryControl
      const bucket = yield* MemoryStorageControl
      yield* warehouse.putTable(table(ORDERS, [["id", "INTEGER"], ["customer_id", "INTEGER"], ["pickup", "STRING"], ["note", "STRING"]]))
      yield* warehouse.putTable(table(CUSTOMERS, [["id", "INTEGER"], ["email", "STRING"], ["home_store", "STRING"]]))
      yield* warehouse.putTable(table(STORES, [["store_code", "STRING"], ["city", "STRING"]]))
      yield* warehouse.putTable(table(DBT_ORDERS, [["order_id", "INTEGER"], ["customer_id", "INTEGER"]]))
      yield* bucket.put(
        "curated/shop.relationships.yaml",
        ["relationships:", `  - from: ${ORDERS}.pickup`, `    to: ${STORES}.store_code`, "    note: pickup store"].join("\n")
      )
      yield* bucket.put("curated/broken.relationships.yaml", "relationships:\n  - from: nowhere\n")
      const manifest = JSON.parse(readFileSync(new URL("../fixtures/dbt/manifest.json", import.meta.url), "utf8"))
      yield* bucket.put("dbt/manifest.json", JSON.stringify(manifest))

      yield* syncOnce()
      const first = yield* published
      // Sorted by the qualified ends; dbt's relationships between tables not in this document are left out.
      expect(first.relationships.map((r) => `${describeRelationship(r)} [${r.source}]`)).toEqual([
        "orders.customer_id → customers.customer_id (many-to-one) [dbt]",
        "customers.home_store → stores.store_code (many-to-one) [inferred]",
        "orders.customer_id → customers.id (many-to-one) [inferred]",
        "orders.pickup → stores.store_code [curated]"
      ])
      expect(first.relationships.find((r) => r.source === "curated")?.evidence).toBe("pickup store")
      expect(first.metrics?.stage_ms.relationships).toBeGreaterThanOrEqual(0)

      yield* bucket.put("curated/shop.relationships.yaml", "relationships: []\n")
      yield* syncOnce()
      const second = yield* published
      expect(describeDrift(second.drift!).filter((line) => line.includes("relationship"))).toEqual([
        `${ORDERS}: relationship ${ORDERS}.pickup → ${STORES}.store_code removed (was curated, confidence 1.00)`
      ])
    }).pipe(Effect.provide(layer)))
})
