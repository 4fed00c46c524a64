/** `cache_status` on a split cache: a part that could not be fetched makes it degraded, until the part loads. */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { CacheLoader } from "../../src/loader/CacheLoader.ts"
import { cacheStatus } from "../../src/mcp/McpTools.ts"
import { MemoryStorage } from "../../src/services/Storage/MemoryStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { storeSplit } from "../support/SplitStore.ts"

const NOW = DateTime.unsafeMake("2026-11-30T00:00:00Z")
const ORDERS = TableId.make("shop-prod.shop.orders")
const EMPLOYEES = TableId.make("shop-prod.hr.employees")

const document = makeCacheDocument({
  generated_at: DateTime.unsafeMake("2026-11-29T23:00:00Z"),
  generator: { name: "metasync", version: "9.9.9" },
  tables: [ORDERS, EMPLOYEES].map((table_id) =>
    makeTableEntry({
      table_id,
      last_updated: DateTime.unsafeMake("2026-11-29T22:00:00Z"),
      description: `the ${table_id} table`,
      columns: [{ name: "id", type: "INT64", mode: "REQUIRED", description: null }]
    })
  ) as unknown as Parameters<typeof makeCacheDocument>[0]["tables"],
  examples: []
})

describe("cache_status on a split cache", () => {
  it.effect("is degraded while a part cannot be fetched, naming it in lastPartError, and ok once it loads", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(NOW))
      const manifest = yield* storeSplit(document, { maxPartTables: 1 })
      const hr = manifest.parts.find((p) => p.key === "shop-prod.hr")!
      const storage = yield* StorageService
      const loader = yield* CacheLoader
      expect((yield* cacheStatus).status).toBe("ok")

      yield* storage.remove(hr.object, { ifGenerationMatch: hr.generation })
      yield* Effect.flip(loader.getTable(EMPLOYEES))
      const degraded = yield* cacheStatus
      expect(degraded).toMatchObject({
        status: "degraded",
        lastError: null,
        lastPartError: { tag: "ResourceNotFound", part: "shop-prod.hr", object: hr.object, at: "2026-11-30T00:00:00.000Z" }
      })

      // The sync publishes again (the part written anew); once the new part loads, the status is ok.
      yield* storeSplit(document, { maxPartTables: 1, run: "run-2" })
      yield* loader.refresh
      expect(Option.isSome(yield* loader.getTable(EMPLOYEES))).toBe(true)
      expect(yield* cacheStatus).toMatchObject({ status: "ok", lastPartError: null })
    }).pipe(Effect.provide(CacheLoader.layer().pipe(Layer.provideMerge(MemoryStorage.layer())))))
})
