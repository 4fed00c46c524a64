/**
 * Which documents a reader accepts, by declared version, and the exact words it uses when it
 * refuses one; how a format-1 (seed) document is migrated; the rules that tie `schema` to the
 * primary table. Expected values are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import {
  type CacheDocument,
  CacheDocumentError,
  CURRENT_FORMAT_VERSION,
  decodeCacheDocument,
  encodeCacheDocument,
  makeCacheDocument,
  migrateV1,
  parseCacheDocument,
  renderCacheDocument
} from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"

const ORDERS = TableId.make("proj-one.sales.orders")
const USERS = TableId.make("proj-one.sales.users")

const entry = (id: TableId, columns = [{ name: "id", type: "INTEGER", mode: "REQUIRED", description: null } as const]) =>
  makeTableEntry({ table_id: id, last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"), columns })

const doc = (tables: CacheDocument["tables"] = [entry(ORDERS), entry(USERS)]): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-27T17:00:00Z"),
    generator: { name: "metasync", version: "1.2.3" },
    tables,
    examples: []
  })

const problems = <A>(result: Either.Either<A, CacheDocumentError>) =>
  Either.match(result, { onLeft: (e) => e.message, onRight: () => "accepted" })

describe("declared versions", () => {
  it.each([
    [5, "document is not a valid MetaSync cache document:\n- (document): expected a JSON object"],
    [null, "document is not a valid MetaSync cache document:\n- (document): expected a JSON object"],
    ["{}", "document is not a valid MetaSync cache document:\n- (document): expected a JSON object"],
    [
      { format_version: 3 },
      "document is not a valid MetaSync cache document:\n- format_version: 3 is the split layout (a manifest and its parts), not one document: read it with MetaSync's loader or readStoredDocument, which fetch the parts"
    ],
    [
      { format_version: 4 },
      "document is not a valid MetaSync cache document:\n- format_version: 4 was written by a newer MetaSync; this reader understands versions 1 to 3"
    ],
    [
      { format_version: 1 },
      "document is not a valid MetaSync cache document:\n- format_version: expected 2 (or no field, for version 1), got 1"
    ],
    [
      { format_version: 2.5 },
      "document is not a valid MetaSync cache document:\n- format_version: expected 2 (or no field, for version 1), got 2.5"
    ],
    [
      { format_version: "2" },
      "document is not a valid MetaSync cache document:\n- format_version: expected 2 (or no field, for version 1), got \"2\""
    ],
    [
      { format_version: null },
      "document is not a valid MetaSync cache document:\n- format_version: expected 2 (or no field, for version 1), got null"
    ]
  ])("%j is refused", (value, message) => {
    expect(problems(decodeCacheDocument(value))).toBe(message)
  })

  it("the current version is 2", () => {
    expect(CURRENT_FORMAT_VERSION).toBe(2)
  })

  it("names the source it was given", () => {
    expect(problems(decodeCacheDocument(5, "gs://b/o.json"))).toBe(
      "gs://b/o.json is not a valid MetaSync cache document:\n- (document): expected a JSON object"
    )
    const error = new CacheDocumentError({ source: "x.json", problems: "- a: b" })
    expect(error.message).toBe("x.json is not a valid MetaSync cache document:\n- a: b")
  })

  it("a document without format_version is read as the seed's format 1 and migrated", () => {
    const v1 = {
      generated_at: "2024-01-15T17:00:00Z",
      schema: {
        table_id: "nlq-ex.test_dataset.events_20210131",
        last_updated: "2024-01-15T17:00:00Z",
        columns: [{ name: "event_name", type: "STRING", mode: "NULLABLE", description: "이벤트 이름" }]
      },
      examples: [
        { question: "총 이벤트 수는 얼마인가요?", sql: "SELECT COUNT(*) FROM t" },
        { question: "How many events?", sql: "SELECT COUNT(*) FROM t" }
      ]
    }
    const migrated = Either.getOrThrow(decodeCacheDocument(v1))
    const id = "nlq-ex.test_dataset.events_20210131"
    expect(migrated.format_version).toBe(2)
    expect(migrated.generator).toEqual({ name: "metasync", version: "format-1" })
    expect(migrated.generated_at).toEqual(DateTime.unsafeMake("2024-01-15T17:00:00Z"))
    expect(migrated.tables.map((t) => [t.table_id, t.kind, t.status, t.columns.length])).toEqual([
      [id, "TABLE", { state: "fresh" }, 1]
    ])
    expect(migrated.schema.table_id).toBe(id)
    expect(migrated.examples).toEqual([
      { question: "총 이벤트 수는 얼마인가요?", sql: "SELECT COUNT(*) FROM t", tables: [id], source: "legacy", generator: "legacy", language: "ko" },
      { question: "How many events?", sql: "SELECT COUNT(*) FROM t", tables: [id], source: "legacy", generator: "legacy", language: "en" }
    ])
    expect(migrated.drift).toBeNull()
    expect(migrated.metrics).toBeNull()
  })

  it("a format-1 document with problems says where", () => {
    const message = problems(decodeCacheDocument({ generated_at: "2024-01-15T17:00:00Z", examples: [] }))
    expect(message.startsWith("document is not a valid MetaSync cache document:\n- schema: ")).toBe(true)
  })

  it("migrateV1 detects Hangul anywhere in the question", () => {
    const base = {
      generated_at: DateTime.unsafeMake("2024-01-15T17:00:00Z"),
      schema: { table_id: ORDERS, last_updated: DateTime.unsafeMake("2024-01-15T17:00:00Z"), columns: [] }
    }
    const languages = migrateV1({
      ...base,
      examples: [
        { question: "orders 수", sql: "SELECT 1" },
        { question: "ㄱ", sql: "SELECT 1" },
        { question: "힝", sql: "SELECT 1" },
        { question: "orders?", sql: "SELECT 1" },
        { question: "ÿ ‰", sql: "SELECT 1" }
      ]
    }).examples.map((e) => e.language)
    expect(languages).toEqual(["ko", "ko", "ko", "en", "en"])
  })

  it("migrateV1 marks Japanese and Chinese questions as not Korean, and knows every Hangul block", () => {
    const base = {
      generated_at: DateTime.unsafeMake("2024-01-15T17:00:00Z"),
      schema: { table_id: ORDERS, last_updated: DateTime.unsafeMake("2024-01-15T17:00:00Z"), columns: [] }
    }
    const questions = [
      "注文は何件ですか", // Japanese: kanji and hiragana
      "オーダーの数", // katakana
      "订单数量是多少", // Chinese ideographs
      "ㄱ", // U+3131, compatibility Jamo
      "\u3130", // first code point of the compatibility Jamo block
      "ㆎ", // U+318E, last compatibility Jamo
      "\u1100", // Hangul Jamo choseong kiyeok
      "\u11FF", // last of the Hangul Jamo block
      "가", // U+AC00, first syllable
      "힣", // U+D7A3, last syllable
      "\u3190", // U+3190, Kanbun: just past the compatibility Jamo
      "\u10FF", // just before the Jamo block
      "\u1200", // just after it (Ethiopic)
      "\uABFF" // just before the syllables
    ]
    const languages = migrateV1({ ...base, examples: questions.map((question) => ({ question, sql: "SELECT 1" })) })
      .examples.map((e) => e.language)
    expect(languages).toEqual(["en", "en", "en", "ko", "ko", "ko", "ko", "ko", "ko", "ko", "en", "en", "en", "en"])
  })
})

describe("the primary table rules", () => {
  it("schema is derived from the first table", () => {
    const d = doc()
    expect(d.schema).toEqual({ table_id: ORDERS, last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"), columns: d.tables[0].columns })
    expect(d.format_version).toBe(2)
    expect(d.drift).toBeNull()
    expect(d.metrics).toBeNull()
  })

  it("refuses a schema that names another table", () => {
    const d = doc()
    expect(problems(encodeCacheDocument({ ...d, schema: { ...d.schema, table_id: USERS } }))).toBe(
      "document is not a valid MetaSync cache document:\n- (document): schema.table_id (proj-one.sales.users) must be the primary table tables[0].table_id (proj-one.sales.orders)"
    )
  })

  it("refuses a schema whose columns are not the primary table's", () => {
    const d = doc()
    expect(problems(encodeCacheDocument({ ...d, schema: { ...d.schema, columns: [] } }))).toBe(
      "document is not a valid MetaSync cache document:\n- (document): schema.columns must be the columns of proj-one.sales.orders"
    )
  })

  it("refuses a table listed twice", () => {
    expect(problems(encodeCacheDocument(doc([entry(ORDERS), entry(USERS), entry(USERS)]), "out.json"))).toBe(
      "out.json is not a valid MetaSync cache document:\n- (document): table proj-one.sales.users appears twice in tables"
    )
  })
})

describe("text", () => {
  it("renders compact JSON with one trailing newline, and parses it back", () => {
    const text = Either.getOrThrow(renderCacheDocument(doc()))
    expect(text.endsWith("}\n")).toBe(true)
    expect(text.slice(0, -1)).not.toContain("\n")
    expect(text.startsWith("{\"format_version\":2,\"generated_at\":\"2026-11-27T17:00:00.000Z\",")).toBe(true)
    expect(Either.getOrThrow(parseCacheDocument(text)).tables.map((t) => t.table_id)).toEqual([ORDERS, USERS])
  })

  it("says the text is not JSON, with the parser's words", () => {
    const message = problems(parseCacheDocument("{", "c.json"))
    expect(message.startsWith("c.json is not a valid MetaSync cache document:\n- (document): not JSON: SyntaxError")).toBe(true)
  })

  it("ignores fields it does not know", () => {
    const text = Either.getOrThrow(renderCacheDocument(doc()))
    const withExtra = text.replace("{\"format_version\":2,", "{\"format_version\":2,\"future_field\":{\"x\":1},")
    expect(Either.isRight(parseCacheDocument(withExtra))).toBe(true)
  })
})
