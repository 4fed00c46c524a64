import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describeRelationship } from "../../src/contract/Relationship.ts"
import { MemoryStorage } from "../../src/services/Storage/MemoryStorage.ts"
import { loadDbtManifest, relationshipsFromManifest } from "../../src/sync/relationships/dbt.ts"

const MANIFEST = fileURLToPath(new URL("../fixtures/dbt/manifest.json", import.meta.url))

describe("dbt relationships", () => {
  it("reads the relationships tests of a manifest, with cardinality from unique tests", () => {
    const { relationships, skipped } = relationshipsFromManifest(JSON.parse(readFileSync(MANIFEST, "utf8")))
    expect(relationships.map((r) => describeRelationship(r, true))).toEqual([
      "nlq-analytics.jaffle_shop.orders.customer_id → nlq-analytics.jaffle_shop.customers.customer_id (many-to-one)",
      "nlq-analytics.jaffle_shop.stg_payments.order_id → nlq-analytics.jaffle_shop.stg_orders.order_id (many-to-one)",
      "nlq-analytics.jaffle_shop.stg_orders.customer_id → nlq-raw.jaffle_raw.raw_customers.id (many-to-one)"
    ])
    expect(relationships.every((r) => r.source === "dbt" && r.confidence === 1)).toBe(true)
    expect(relationships[0]!.evidence).toContain("relationships_orders_customer_id__customer_id__ref_customers_")
    expect(skipped).toBe(1)
  })

  it.effect("reads a manifest from a path, and one from the bucket", () =>
    Effect.gen(function*() {
      const local = yield* loadDbtManifest(MANIFEST)
      expect(Either.getOrThrow(local).relationships).toHaveLength(3)
      const missing = yield* loadDbtManifest("gs://cache/dbt/manifest.json")
      expect(Either.isLeft(missing) && missing.left.message).toBe("no such object")
    }).pipe(Effect.provide(MemoryStorage.layer("cache"))))
})
