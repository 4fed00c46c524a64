/**
 * The document rendered piece by piece: its chunks are, byte for byte, the text rendered whole;
 * each rendering starts over; no chunk holds much of the document; a table or example that does
 * not encode is found while rendering and named, and a document-wide problem before it starts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import {
  CacheDocumentError,
  makeCacheDocument,
  renderCacheDocument,
  renderCacheDocumentBytes,
  renderCacheDocumentChunks
} from "../../src/contract/CacheDocument.ts"
import { makeTableEntry, type TableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { ga4Table } from "../support/TestLayers.ts"

const ga4 = ga4Table({ description: "GA4 이벤트 😀", labels: { team: "분석" } })
const entry = makeTableEntry({ ...ga4, field_paths: fieldPathEntries(ga4.columns) })
const example = (i: number) => ({
  question: `국가별 사용자 수는 어떻게 되나요? 😀 ${i}`,
  sql: `SELECT geo.country, COUNT(*) AS n FROM \`${ga4.table_id}\` GROUP BY 1 -- ${i}`,
  tables: [TableId.make(ga4.table_id)],
  source: "template" as const,
  generator: "template:count_by",
  language: "ko" as const,
  ...(i % 2 === 0 ? { estimated_bytes: i } : {})
})

const documentWith = (tables: ReadonlyArray<TableEntry>, examples: ReadonlyArray<ReturnType<typeof example>>) =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
    generator: { name: "metasync", version: "test" },
    tables: [tables[0]!, ...tables.slice(1)],
    examples
  })

const copyOf = (n: number): TableEntry => ({ ...entry, table_id: TableId.make(`nlq-ex.copies.events_${n}`) })

describe("renderCacheDocumentBytes", () => {
  it("gives exactly the UTF-8 bytes of the rendered text, across chunk boundaries and for empty lists", () => {
    for (const examples of [[], [example(0)], Array.from({ length: 3000 }, (_, i) => example(i))]) {
      const doc = documentWith([entry], examples)
      const text = Either.getOrThrow(renderCacheDocument(doc))
      expect(Buffer.from(Either.getOrThrow(renderCacheDocumentBytes(doc))).equals(Buffer.from(text, "utf8"))).toBe(true)
    }
  })
})

describe("renderCacheDocumentChunks", () => {
  it("renders the same bytes again at every call, in chunks each a small part of the document", () => {
    const doc = documentWith(Array.from({ length: 40 }, (_, i) => (i === 0 ? entry : copyOf(i))), Array.from({ length: 3000 }, (_, i) => example(i)))
    const text = Buffer.from(Either.getOrThrow(renderCacheDocument(doc)), "utf8")
    const render = Either.getOrThrow(renderCacheDocumentChunks(doc))
    const first = [...render()]
    const second = [...render()]
    expect(Buffer.concat(first).equals(text)).toBe(true)
    expect(Buffer.concat(second).equals(text)).toBe(true)
    expect(first.length).toBeGreaterThan(10)
    // A chunk is about 64 Ki characters plus the one table or example that crossed the line.
    for (const chunk of first) expect(chunk.byteLength).toBeLessThan(text.byteLength / 5)
  })

  it("finds a table that does not encode while rendering, and names it and every later problem", () => {
    const broken = (n: number): TableEntry => ({ ...copyOf(n), columns: [{ ...entry.columns[0]!, name: "" }] })
    const doc = documentWith([entry, copyOf(1), broken(2), copyOf(3), broken(4)], [example(0)])
    const render = Either.getOrThrow(renderCacheDocumentChunks(doc, "gs://b/doc.json"))
    const chunks: Array<Uint8Array> = []
    let thrown: unknown
    try {
      for (const chunk of render()) chunks.push(chunk)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(CacheDocumentError)
    const message = (thrown as CacheDocumentError).message
    expect(message.startsWith("gs://b/doc.json is not a valid MetaSync cache document:\n- tables.2.columns.0.name: ")).toBe(true)
    expect(message).toMatch(/\n- tables\.4\.columns\.0\.name: /)
    expect(message).not.toMatch(/tables\.[013]\./)
    // The whole-document codec refuses the same document.
    expect(Either.isLeft(renderCacheDocument(doc))).toBe(true)
    expect(Either.isLeft(renderCacheDocumentBytes(doc))).toBe(true)
  })

  it("refuses a document-wide problem before rendering anything", () => {
    const twice = renderCacheDocumentChunks(documentWith([entry, copyOf(1), copyOf(1)], []), "out.json")
    expect(Either.isLeft(twice) && twice.left.message).toBe(
      "out.json is not a valid MetaSync cache document:\n- (document): table nlq-ex.copies.events_1 appears twice in tables"
    )
  })
})
