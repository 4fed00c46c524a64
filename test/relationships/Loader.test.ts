import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { makeCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"
import type { TableEntry } from "../../src/contract/TableEntry.ts"
import { createCacheLoader } from "../../src/loader/index.ts"
import { inferRelationships } from "../../src/sync/relationships/infer.ts"
import { loadDevSet } from "../../eval/devSet.ts"

describe("the loader's relationships", () => {
  it("answers a table's relationships and the join path between two tables", async () => {
    const dev = await loadDevSet()
    const tables = dev.tables.filter((t) => t.table_id.startsWith("defog-eval.car_dealership."))
    const document = makeCacheDocument({
      generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
      generator: { name: "metasync", version: "test" },
      tables: [tables[0]!, ...tables.slice(1)] as [TableEntry, ...Array<TableEntry>],
      examples: [],
      relationships: inferRelationships(tables)
    })
    const directory = mkdtempSync(path.join(tmpdir(), "metasync-loader-rel-"))
    writeFileSync(path.join(directory, "metadata_cache.json"), Either.getOrThrow(renderCacheDocument(document)))
    const cache = createCacheLoader({ directory })
    try {
      const ofSales = await cache.getRelationships("defog-eval.car_dealership.sales")
      expect(ofSales.map((r) => `${r.from.table_id.split(".")[2]}.${r.from.columns[0]} → ${r.to.table_id.split(".")[2]}`).sort()).toEqual([
        "payments_received.sale_id → sales",
        "sales.car_id → cars",
        "sales.customer_id → customers",
        "sales.salesperson_id → salespersons"
      ])
      expect(await cache.getRelationships()).toHaveLength(document.relationships.length)
      const path_ = await cache.getJoinPath("defog-eval.car_dealership.payments_received", "defog-eval.car_dealership.customers")
      expect(path_?.map((r) => `${r.from.columns[0]}→${r.to.columns[0]}`)).toEqual(["sale_id→id", "customer_id→id"])
      expect(await cache.getJoinPath("defog-eval.car_dealership.payments_made", "defog-eval.car_dealership.cars")).toBeNull()
    } finally {
      await cache.close()
    }
  })
})
