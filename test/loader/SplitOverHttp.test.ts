/**
 * A split document (format 3) in Cloud Storage, read over real HTTP: the fake GCS server on
 * 127.0.0.1 and the official client (GcsStorage), through the Promise facade a backend uses.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { createCacheLoader } from "../../src/loader/index.ts"
import { GcsStorage } from "../../src/services/Storage/GcsStorage.ts"
import { start as startFakeGcs } from "../support/FakeGcsServer.ts"
import { storeSplit } from "../support/SplitStore.ts"

const BUCKET = "cache"
const OBJECT = "metadata_cache.json"

const table = (id: string, description: string, columns: ReadonlyArray<string>) =>
  makeTableEntry({
    table_id: TableId.make(id),
    last_updated: DateTime.unsafeMake("2026-11-29T12:00:00Z"),
    description,
    columns: columns.map((name) => ({ name, type: "STRING", mode: "NULLABLE", description: null }))
  })

const document = makeCacheDocument({
  generated_at: DateTime.unsafeMake("2026-11-29T18:00:00Z"),
  generator: { name: "metasync", version: "9.9.9" },
  tables: [
    table("acme-data.sales.orders", "Orders placed by customers", ["order_id", "customer_id", "order_total"]),
    table("acme-data.sales.customers", "Customers and their countries", ["customer_id", "country"]),
    table("acme-data.hr.employees", "Employees and salaries", ["employee_id", "salary"]),
    table("acme-data.hr.departments", "Departments of the company", ["department_id", "department_name"])
  ],
  examples: [{
    question: "Total order value per country",
    sql: "SELECT c.country, SUM(o.order_total) FROM `acme-data.sales.orders` o JOIN `acme-data.sales.customers` c USING (customer_id) GROUP BY 1",
    tables: [TableId.make("acme-data.sales.orders"), TableId.make("acme-data.sales.customers")],
    source: "template",
    generator: "template:join",
    language: "en"
  }]
})

describe("a split cache over HTTP", () => {
  it("is loaded through the official client and answers a prompt context from the parts it needs", async () => {
    const gcs = await startFakeGcs()
    const loader = createCacheLoader({ bucket: BUCKET, objectName: OBJECT, apiEndpoint: gcs.url }, { partCacheBytes: 1024 * 1024 })
    try {
      const manifest = await Effect.runPromise(
        storeSplit(document, { maxPartTables: 1 }).pipe(Effect.provide(GcsStorage.layer({ bucket: BUCKET, apiEndpoint: gcs.url, timeout: "10 seconds" })))
      )
      expect(manifest.parts).toHaveLength(4)
      const downloadsBefore = gcs.requestsOf("download").length

      const context = await loader.getPromptContext({ question: "total order value per customer country", maxTokens: 1000 })
      expect(context.tables).toEqual(["acme-data.sales.orders", "acme-data.sales.customers"])
      expect(context.examples).toEqual([0])
      expect(context.text).toContain("## Table `acme-data.sales.customers`")
      expect(context.text).toContain("Total order value per country")

      const downloaded = gcs.requestsOf("download").slice(downloadsBefore).map((r) => r.name)
      expect(downloaded).toEqual([OBJECT, manifest.parts[0]!.object, manifest.parts[1]!.object])
      const metadata = await loader.getCacheMetadata()
      expect(metadata).toMatchObject({
        available: true,
        location: `gs://${BUCKET}/${OBJECT}`,
        format_version: 3,
        layout: "split",
        parts: { total: 4, cached: 2, budgetBytes: 1024 * 1024 },
        tableCount: 4,
        exampleCount: 1
      })
      // A part removed from the bucket fails the call that needs it, by name, as an Error.
      gcs.objects.remove(BUCKET, manifest.parts[3]!.object)
      await expect(loader.getTable("acme-data.hr.departments")).rejects.toMatchObject({
        _tag: "CachePartUnavailable",
        part: "acme-data.hr-2",
        message: expect.stringContaining(`part acme-data.hr-2 (${manifest.parts[3]!.object})`)
      })
      expect((await loader.getSchemaInfo()).table_id).toBe("acme-data.sales.orders")
    } finally {
      await loader.close()
      await gcs.close()
    }
  })
})
