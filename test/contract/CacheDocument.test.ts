import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"
import {
  type CacheDocument,
  CURRENT_FORMAT_VERSION,
  decodeCacheDocument,
  makeCacheDocument,
  parseCacheDocument,
  renderCacheDocument,
  type TableEntry
} from "../../src/contract/CacheDocument.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"

const seedText = readFileSync(new URL("../fixtures/cache/seed-example.json", import.meta.url), "utf8")

const table = (id: string, columns: TableEntry["columns"]): TableEntry =>
  makeTableEntry({
    table_id: TableId.make(id),
    description: "orders",
    last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
    row_count: 10,
    size_bytes: 2048,
    labels: { team: "data" },
    partitioning: { field: "day", type: "DAY", expiration_ms: null, require_partition_filter: true },
    clustering: ["country"],
    columns
  })

const document = (): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-27T17:00:00Z"),
    generator: { name: "metasync", version: "test" },
    tables: [
      table("proj-one.sales.orders", [
        { name: "id", type: "INTEGER", mode: "REQUIRED", description: null },
        {
          name: "items",
          type: "RECORD",
          mode: "REPEATED",
          description: "line items",
          fields: [{ name: "sku", type: "STRING", mode: "NULLABLE", description: "품목 코드" }]
        }
      ]),
      table("proj-one.sales.매출", [{ name: "금액", type: "NUMERIC", mode: "NULLABLE", description: null }])
    ],
    examples: [{
      question: "총 주문 수는?",
      sql: "SELECT COUNT(*) FROM `proj-one.sales.orders`",
      tables: [TableId.make("proj-one.sales.orders")],
      source: "template",
      generator: "template:count_total",
      language: "ko"
    }]
  })

describe("the cache document", () => {
  it("decodes the seed's example document verbatim and migrates it to the current format", () => {
    const decoded = Either.getOrThrow(parseCacheDocument(seedText))
    expect(decoded.format_version).toBe(CURRENT_FORMAT_VERSION)
    expect(DateTime.formatIso(decoded.generated_at)).toBe("2024-01-15T17:00:00.000Z")
    expect(decoded.schema.table_id).toBe("nlq-ex.test_dataset.events_20210131")
    expect(decoded.tables).toHaveLength(1)
    expect(decoded.tables[0].columns).toEqual([
      { name: "event_timestamp", type: "TIMESTAMP", mode: "NULLABLE", description: "이벤트 발생 시간" }
    ])
    expect(decoded.examples).toEqual([{
      question: "총 이벤트 수는 얼마인가요?",
      sql: "SELECT COUNT(*) as total_events FROM `nlq-ex.test_dataset.events_20210131`",
      tables: ["nlq-ex.test_dataset.events_20210131"],
      source: "legacy",
      generator: "legacy",
      language: "ko"
    }])
  })

  it("round-trips a current document through its JSON text", () => {
    const doc = document()
    const text = Either.getOrThrow(renderCacheDocument(doc))
    const again = Either.getOrThrow(parseCacheDocument(text))
    expect(again).toEqual(doc)
    expect(Either.getOrThrow(renderCacheDocument(again))).toBe(text)
  })

  it("keeps the seed's fields readable by a reader of the seed's shape", () => {
    const json = JSON.parse(Either.getOrThrow(renderCacheDocument(document())))
    expect(json.generated_at).toBe("2026-11-27T17:00:00.000Z")
    expect(json.schema.table_id).toBe("proj-one.sales.orders")
    expect(json.schema.columns.map((c: { name: string }) => c.name)).toEqual(["id", "items"])
    // The seed's readers call `column["description"].strip()`: a missing description is "" there.
    expect(json.schema.columns[0]).toEqual({ name: "id", type: "INTEGER", mode: "REQUIRED", description: "" })
    expect(json.schema.columns[1].fields[0].description).toBe("품목 코드")
    // `tables` keeps null for "none", as it always has.
    expect(json.tables[0].columns[0].description).toBeNull()
    expect(json.examples[0]).toMatchObject({ question: "총 주문 수는?", sql: "SELECT COUNT(*) FROM `proj-one.sales.orders`" })
  })

  it("writes every description of the seed block as a string, at every depth, and reads it back as null", () => {
    const doc = makeCacheDocument({
      ...document(),
      tables: [table("proj-one.sales.orders", [{
        name: "device",
        type: "RECORD",
        mode: "NULLABLE",
        description: null,
        fields: [{ name: "category", type: "STRING", mode: "NULLABLE", description: null }]
      }])]
    })
    const text = Either.getOrThrow(renderCacheDocument(doc))
    const seedColumn = JSON.parse(text).schema.columns[0]
    expect(seedColumn).toEqual({
      name: "device",
      type: "RECORD",
      mode: "NULLABLE",
      description: "",
      fields: [{ name: "category", type: "STRING", mode: "NULLABLE", description: "" }]
    })
    const again = Either.getOrThrow(parseCacheDocument(text))
    expect(again.schema.columns).toEqual(doc.tables[0].columns)
  })

  it("still decodes a document written with null descriptions in its seed block", () => {
    const json = JSON.parse(Either.getOrThrow(renderCacheDocument(document())))
    json.schema.columns[0].description = null
    const decoded = Either.getOrThrow(decodeCacheDocument(json))
    expect(decoded.schema.columns[0].description).toBeNull()
  })

  it("rejects a document whose schema view does not describe its primary table", () => {
    const doc = document()
    const tampered = { ...doc, schema: { ...doc.schema, table_id: TableId.make("proj-one.sales.other") } }
    const result = renderCacheDocument(tampered)
    expect(Either.isLeft(result)).toBe(true)
    expect(Either.getLeft(result).pipe((e) => e._tag === "Some" ? e.value.message : "")).toMatch(
      /schema\.table_id \(proj-one\.sales\.other\) must be the primary table/
    )
  })

  it("names every problem of a bad document with its path", () => {
    const bad = {
      format_version: 2,
      generated_at: "yesterday",
      generator: { name: "metasync", version: "1" },
      schema: { table_id: "not a table id", last_updated: "2026-11-27T00:00:00Z", columns: [] },
      tables: [],
      examples: [{ question: "", sql: "SELECT 1" }]
    }
    const error = Either.getLeft(decodeCacheDocument(bad, "gs://b/metadata_cache.json"))
    expect(error._tag).toBe("Some")
    const message = error._tag === "Some" ? error.value.message : ""
    expect(message).toContain("gs://b/metadata_cache.json is not a valid MetaSync cache document")
    expect(message).toMatch(/- generated_at: .*yesterday/)
    expect(message).toMatch(/- schema\.table_id: .*not a table id/)
    expect(message).toMatch(/- tables\.0: is missing/)
    expect(message).toMatch(/- examples\.0\.question: /)
  })

  it("refuses a document from a newer MetaSync with a message that says so", () => {
    const error = Either.getLeft(decodeCacheDocument({ format_version: 4 }))
    expect(error._tag === "Some" && error.value.message).toMatch(/written by a newer MetaSync; this reader understands versions 1 to 3/)
  })

  it("says when the text is not JSON at all", () => {
    const error = Either.getLeft(parseCacheDocument("{\"generated_at\": ", "cache.json"))
    expect(error._tag === "Some" && error.value.message).toMatch(/cache\.json is not a valid MetaSync cache document:\n- \(document\): not JSON/)
  })

  it("decodes a seed-shaped document whose columns carry nested fields and no description", () => {
    const seedWithNesting = {
      generated_at: "2024-01-15T17:00:00Z",
      schema: {
        table_id: "nlq-ex.test_dataset.events_20210131",
        last_updated: "2024-01-15T17:00:00Z",
        columns: [{
          name: "device",
          type: "RECORD",
          mode: "NULLABLE",
          fields: [{ name: "category", type: "STRING", mode: "NULLABLE" }]
        }]
      },
      examples: []
    }
    const decoded = Either.getOrThrow(decodeCacheDocument(seedWithNesting))
    expect(decoded.tables[0].columns[0]).toEqual({
      name: "device",
      type: "RECORD",
      mode: "NULLABLE",
      description: null,
      fields: [{ name: "category", type: "STRING", mode: "NULLABLE", description: null }]
    })
  })
})
