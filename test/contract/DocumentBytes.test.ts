/**
 * The loader decodes the document from its bytes a table and an example at a time: the result must
 * be exactly the whole-text decode's, and a bad document must be refused whole, with the message
 * the whole-text path gives.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import {
  type CacheDocument,
  type Example,
  makeCacheDocument,
  parseCacheDocument,
  renderCacheDocumentBytes,
  type TableEntry
} from "../../src/contract/CacheDocument.ts"
import type { Field } from "../../src/contract/Field.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { CacheLoader } from "../../src/loader/CacheLoader.ts"
import { decodeDocumentBytes, parseDocumentBytes } from "../../src/contract/DocumentBytes.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"

const SOURCE = "gs://test-bucket/metadata_cache.json"

const columns = (t: number): ReadonlyArray<Field> => [
  { name: "event_name", type: "STRING", mode: "NULLABLE", description: `Event of table ${t}` },
  { name: "amount", type: "NUMERIC", mode: "REQUIRED", description: null },
  // Text that looks like the next table's opening, inside a string: the slicer must not cut there.
  { name: "note", type: "STRING", mode: "NULLABLE", description: `a "quoted" },{"table_id":"x.y.z" \\ tail` },
  {
    name: "items",
    type: "RECORD",
    mode: "REPEATED",
    description: "품목",
    fields: [
      { name: "item_name", type: "STRING", mode: "NULLABLE", description: null },
      { name: "price", type: "FLOAT", mode: "NULLABLE", description: "가격 (원)", policy_tags: ["projects/p/taxonomies/1/policyTags/2"] }
    ]
  }
]

const tableAt = (t: number): TableEntry => {
  const cols = columns(t)
  return makeTableEntry({
    table_id: TableId.make(`proj-ect.dataset_${t % 7}.table_${t}`),
    last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
    columns: cols,
    field_paths: fieldPathEntries(cols),
    description: t % 3 === 0 ? null : `Table ${t}`,
    row_count: t * 10,
    labels: t % 2 === 0 ? { team: "sales" } : {},
    clustering: t % 4 === 0 ? ["event_name"] : [],
    ...(t % 5 === 0
      ? {
        status: {
          state: "stale" as const,
          failure: { tag: "PermissionDenied", message: "denied", since: DateTime.unsafeMake("2026-11-02T00:00:00Z") }
        }
      }
      : {})
  })
}

const exampleAt = (t: number, i: number): Example => ({
  question: i % 2 === 0 ? `table_${t} 테이블의 전체 행 수는 얼마인가요? (${i})` : `How many rows has table_${t}? (${i})`,
  sql: `SELECT COUNT(*) FROM \`proj-ect.dataset_${t % 7}.table_${t}\``,
  tables: [TableId.make(`proj-ect.dataset_${t % 7}.table_${t}`)],
  source: "template",
  generator: "template:count_total",
  language: i % 2 === 0 ? "ko" : "en",
  ...(i % 3 === 0 ? { kept_because: ["shape count_total"] } : {})
})

/** A document of `n` tables with four examples each: large enough that elements are found by search. */
const documentOf = (n: number): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
    generator: { name: "metasync", version: "test" },
    tables: Array.from({ length: n }, (_, t) => tableAt(t)) as unknown as CacheDocument["tables"],
    examples: Array.from({ length: n * 4 }, (_, i) => exampleAt(Math.floor(i / 4), i))
  })

const bytesOf = (doc: CacheDocument) => Either.getOrThrow(renderCacheDocumentBytes(doc))
const utf8 = (text: string) => new TextEncoder().encode(text)
const wholeText = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** What the loader decoded before: the whole text, parsed and decoded at once. */
const wholeDecode = (bytes: Uint8Array) => parseCacheDocument(wholeText(bytes), SOURCE)

describe("decodeDocumentBytes", () => {
  const large = documentOf(300)
  const bytes = bytesOf(large)

  it("parses a synced document slice by slice into exactly what JSON.parse of the whole text gives", () => {
    expect(parseDocumentBytes(bytes)).toEqual(JSON.parse(wholeText(bytes)))
    const sliced = Either.getOrThrow(decodeDocumentBytes(bytes, SOURCE))
    expect(sliced.document).toEqual(Either.getOrThrow(wholeDecode(bytes)))
    expect(sliced.document).toEqual(large)
    expect(sliced.formatVersion).toBe(2)
  })

  it.each<readonly [string, (json: Record<string, unknown>) => string]>([
    ["pretty-printed", (json) => JSON.stringify(json, null, 2)],
    ["with its keys in another order", (json) => {
      const { examples, tables, ...rest } = json
      const reorder = (items: unknown) =>
        (items as ReadonlyArray<Record<string, unknown>>).map((item) => Object.fromEntries(Object.entries(item).reverse()))
      return JSON.stringify({ examples: reorder(examples), ...rest, tables: reorder(tables) })
    }],
    ["with a byte-order mark and surrounding white space", (json) => `\uFEFF \n${JSON.stringify(json)}\n\n`],
    ["with tabs and carriage returns as its white space", (json) => JSON.stringify(json, null, "\t").replaceAll("\n", "\r\n")],
    ["with escapes in keys and strings", (json) =>
      JSON.stringify(json).replace("\"generated_at\"", "\"generated\\u005fat\"").replaceAll("table_1", "table\\u005f1")]
  ])("parses a document %s as JSON.parse does", (_, write) => {
    const text = write(JSON.parse(wholeText(bytes)))
    const json = parseDocumentBytes(utf8(text))
    expect(json).toEqual(JSON.parse(text.replace(/^\uFEFF/, "")))
    expect(Either.getOrThrow(decodeDocumentBytes(utf8(text), SOURCE)).document).toEqual(large)
  })

  it("shares the empty arrays it makes, frozen, so that no reader can change another's", () => {
    const doc = Either.getOrThrow(decodeDocumentBytes(bytes, SOURCE)).document
    const first = doc.tables[1].field_paths[0]!.unnest
    expect(first).toEqual([])
    expect(doc.tables[2].field_paths[0]!.unnest).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
  })

  it("refuses a document with a bad table in the middle whole, with the whole-text message", () => {
    const json = JSON.parse(wholeText(bytes))
    json.tables[150].row_count = -1
    json.tables[151].columns[0].mode = "SOMETIMES"
    const corrupt = utf8(JSON.stringify(json))
    const refused = decodeDocumentBytes(corrupt, SOURCE)
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.getLeft(refused)).toEqual(Either.getLeft(wholeDecode(corrupt)))
    const message = Either.getOrThrow(Either.flip(refused)).message
    expect(message).toContain(`${SOURCE} is not a valid MetaSync cache document:`)
    expect(message).toContain("tables.150.row_count")
  })

  it.each<readonly [string, (text: string) => Uint8Array]>([
    ["a table cut short", (text) => utf8(text.replace("\"table_id\":\"proj-ect.dataset_3.table_150\"", "\"table_id\":\"proj-ect.dataset_3.table_150\"}"))],
    ["an unclosed string", (text) => utf8(text.replace("\"Table 151\"", "\"Table 151"))],
    ["trailing garbage", (text) => utf8(`${text}x`)],
    ["a missing comma between examples", (text) => utf8(text.replace("},{\"question\":\"table_100", "}{\"question\":\"table_100"))]
  ])("refuses a document that is not JSON (%s) with the whole-text message", (_, corrupt) => {
    const bad = corrupt(wholeText(bytes))
    const refused = decodeDocumentBytes(bad, SOURCE)
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.getLeft(refused)).toEqual(Either.getLeft(wholeDecode(bad)))
    expect(Either.getOrThrow(Either.flip(refused)).message).toMatch(/- \(document\): not JSON/)
  })

  it("refuses a document with invalid UTF-8 in the middle", () => {
    const bad = new Uint8Array(bytes)
    bad[Math.floor(bad.length / 2)] = 0xff
    expect(Either.getOrThrow(Either.flip(decodeDocumentBytes(bad, SOURCE))).message).toBe(
      `${SOURCE} is not a valid MetaSync cache document:\n- (document): not UTF-8 text`
    )
  })

  it.each([
    ["an array", "[1, 2]"],
    ["a string", "\"x\""],
    ["an object with a __proto__ key", "{\"__proto__\": {\"format_version\": 2}}"]
  ])("hands %s to the whole-text path, which words the problem", (_, text) => {
    expect(parseDocumentBytes(utf8(text))).toBeUndefined()
    expect(Either.getLeft(decodeDocumentBytes(utf8(text), SOURCE))).toEqual(Either.getLeft(parseCacheDocument(text, SOURCE)))
  })

  it("decodes a seed (version 1) document from its bytes", () => {
    const seed = JSON.stringify({
      generated_at: "2024-01-15T00:00:00Z",
      schema: { table_id: "p-roject.d.t", last_updated: "2024-01-15T00:00:00Z", columns: [{ name: "x", type: "STRING", mode: "NULLABLE", description: "" }] },
      examples: [{ question: "몇 개?", sql: "SELECT 1" }]
    })
    const decoded = Either.getOrThrow(decodeDocumentBytes(utf8(seed), SOURCE))
    expect(decoded.formatVersion).toBe(1)
    expect(decoded.document).toEqual(Either.getOrThrow(parseCacheDocument(seed, SOURCE)))
  })
})

describe("CacheLoader on a large document", () => {
  const OBJECT = "metadata_cache.json"
  const layer = CacheLoader.layer().pipe(Layer.provideMerge(MemoryStorage.layer()))

  it.effect("keeps its last good copy when a new one has a bad table in the middle, with the whole-text message", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2026-11-30T01:00:00Z")))
      const bucket = yield* MemoryStorageControl
      const loader = yield* CacheLoader
      const good = documentOf(200)
      const generation = yield* bucket.put(OBJECT, bytesOf(good))
      expect(yield* loader.getDocument).toEqual(good)

      const json = JSON.parse(wholeText(bytesOf(good)))
      json.tables[100].field_paths[2].joins = "CROSS JOIN"
      const corrupt = utf8(JSON.stringify(json))
      yield* bucket.put(OBJECT, corrupt)
      const metadata = yield* loader.refresh
      expect(metadata.generation).toBe(generation)
      expect(metadata.lastError?.message).toBe(
        Either.getOrThrow(Either.flip(parseCacheDocument(wholeText(corrupt), `gs://${"test-bucket"}/${OBJECT}`))).message
      )
      expect(metadata.lastError?.message).toContain("tables.100.field_paths")
      expect(yield* loader.getDocument).toEqual(good)
    }).pipe(Effect.provide(layer)))
})
