import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { loadSyncSettings } from "../../src/config/SyncConfig.ts"
import { makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { formatShow } from "../../src/operations/report.ts"

const load = (env: Record<string, string>) =>
  Effect.either(loadSyncSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))))
const live = { GOOGLE_CLOUD_PROJECT: "nlq-ex", TARGET_TABLE_ID: "nlq-ex.shop.orders", GCS_BUCKET: "nlq-metadata-cache" }

describe("relationship settings", () => {
  it.effect("default to inference on, everything else off", () =>
    Effect.gen(function*() {
      const settings = Either.getOrThrow(yield* load(live))
      expect([settings.relationshipInference, settings.dbtManifest, settings.queryLogDays, settings.queryLogLocation, settings.relationshipCheck])
        .toEqual([true, null, 0, "us", false])
    }))

  it.effect("are read and checked, each bad value named", () =>
    Effect.gen(function*() {
      const settings = Either.getOrThrow(yield* load({
        ...live,
        RELATIONSHIP_INFERENCE: "off",
        DBT_MANIFEST: "gs://nlq-metadata-cache/dbt/manifest.json",
        QUERY_LOG_DAYS: "30",
        QUERY_LOG_LOCATION: "asia-northeast3",
        RELATIONSHIP_CHECK: "on"
      }))
      expect([settings.relationshipInference, settings.dbtManifest, settings.queryLogDays, settings.queryLogLocation, settings.relationshipCheck])
        .toEqual([false, "gs://nlq-metadata-cache/dbt/manifest.json", 30, "asia-northeast3", true])
      for (const [variable, value] of [["DBT_MANIFEST", "gs://other-bucket/m.json"], ["QUERY_LOG_DAYS", "999"], ["RELATIONSHIP_CHECK", "yes"]]) {
        const result = yield* load({ ...live, [variable!]: value! })
        expect(Either.isLeft(result) && result.left.message).toContain(variable)
      }
    }))
})

describe("metasync show", () => {
  it("lists the relationships by source", () => {
    const doc = makeCacheDocument({
      generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
      generator: { name: "metasync", version: "test" },
      tables: [makeTableEntry({ table_id: TableId.make("nlq-ex.shop.orders"), last_updated: DateTime.unsafeMake("2026-11-30T00:00:00Z"), columns: [] })],
      examples: [],
      relationships: [{
        from: { table_id: TableId.make("nlq-ex.shop.orders"), columns: ["customer_id"] },
        to: { table_id: TableId.make("nlq-ex.shop.customers"), columns: ["id"] },
        source: "inferred",
        confidence: 0.99,
        evidence: "names the table customers",
        cardinality: "many-to-one"
      }]
    })
    const text = formatShow(
      { document: doc, location: "gs://b/metadata_cache.json", info: { generation: "1", size: 1024 } } as never,
      DateTime.unsafeMake("2026-11-30T01:00:00Z"),
      Duration.hours(26)
    )
    expect(text).toContain("Relationships: 1 (inferred 1)\n  nlq-ex.shop.orders.customer_id → nlq-ex.shop.customers.id (many-to-one)  inferred 0.99")
  })
})
