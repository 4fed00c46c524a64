/**
 * The prompt index a backend holds for a document's whole life: its postings are flat arrays over
 * interned terms, and column lines are rendered only for the tables a question's context needs,
 * kept for the last `COLUMN_LINES_KEPT` of them — with every context the same as when every line
 * was rendered at load.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import { type CacheDocument, makeCacheDocument, makeTableEntry, type TableEntry } from "../../src/contract/CacheDocument.ts"
import type { Field } from "../../src/contract/Field.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { COLUMN_LINES_KEPT, documentFrequency, indexOf } from "../../src/context/DocumentIndex.ts"
import { prepareDocument, renderPromptContext } from "../../src/context/PromptContext.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"

const AT = DateTime.unsafeMake("2026-11-30T00:00:00Z")

const table = (id: string, columns: ReadonlyArray<[string, string | null]>, description: string | null = null): TableEntry => {
  const fields: ReadonlyArray<Field> = columns.map(([name, about]) => ({ name, type: "STRING", mode: "NULLABLE", description: about }))
  return makeTableEntry({ table_id: TableId.make(id), last_updated: AT, description, columns: fields, field_paths: fieldPathEntries(fields) })
}

const doc = (tables: ReadonlyArray<TableEntry>): CacheDocument =>
  makeCacheDocument({ generated_at: AT, generator: { name: "metasync", version: "test" }, tables: [tables[0]!, ...tables.slice(1)], examples: [] })

/** `count` tables of `width` described columns, all about orders, so that a question tries many of them. */
const wide = (count: number, width: number): CacheDocument =>
  doc(Array.from({ length: count }, (_, t) =>
    table(
      `proj-x.shop_${t % 3}.orders_${t}`,
      Array.from({ length: width }, (_, c): [string, string | null] => [`order_field_${c}`, c % 2 === 0 ? `Order detail ${c} of table ${t}` : null]),
      `Orders, copy ${t}`
    )))

describe("the postings", () => {
  it("list each term's tables in document order with their weighted frequency", () => {
    const document = doc([
      table("proj-x.shop.customers", [["customer_name", "Full name"]]),
      table("proj-x.shop.orders", [["customer_id", null], ["amount", "Order amount"]])
    ])
    const corpus = indexOf(document).tables
    expect(corpus.size).toBe(2)
    const postings = (term: string) => {
      const id = corpus.termIds.get(term)
      if (id === undefined) return []
      return Array.from(corpus.documents.subarray(corpus.offsets[id]!, corpus.offsets[id + 1]!), (d, i) => [d, corpus.frequencies[corpus.offsets[id]! + i]!])
    }
    // customers: its id and name say customer twice; the path `customer_name` (counted twice) gives
    // customer, nam and itself whole, and its description nam once more. orders: the path
    // `customer_id` twice, `amount` twice and its description once more.
    expect(postings("customer")).toEqual([[0, 4], [1, 2]])
    expect(postings("customer_name")).toEqual([[0, 2]])
    expect(postings("nam")).toEqual([[0, 3]])
    expect(postings("amount")).toEqual([[1, 3]])
    expect(postings("nowhere")).toEqual([])
    expect(documentFrequency(corpus, "customer")).toBe(2)
    expect(documentFrequency(corpus, "amount")).toBe(1)
    expect(documentFrequency(corpus, "nowhere")).toBe(0)
    // proj, x, shop, customer + customer + 2 × 3 + full, nam; proj, x, shop, order + order + 2 × 3 + 2 × 1 + order, amount.
    expect(Array.from(corpus.lengths)).toEqual([13, 15])
    expect(corpus.averageLength).toBe(14)
  })
})

describe("column lines", () => {
  it("are not rendered when the document is prepared, only for the tables a context needs", () => {
    const document = wide(20, 6)
    const index = prepareDocument(document)
    expect(index.columnLines.size).toBe(0)
    const context = renderPromptContext(document, { question: "orders 7", maxTokens: 400, maxTables: 1 })
    expect(context.tables).toHaveLength(1)
    expect(index.columnLines.size).toBeGreaterThan(0)
    expect(index.columnLines.size).toBeLessThan(20)
  })

  it("are kept for the last tables rendered only, and render the same text again", () => {
    const document = wide(COLUMN_LINES_KEPT + 40, 4)
    const index = prepareDocument(document)
    const ids = document.tables.map((t) => t.table_id as string)
    const first = renderPromptContext(document, { question: "order detail", maxTokens: 4000, tables: [ids[0]!] })
    for (let at = 1; at < ids.length; at += 10) renderPromptContext(document, { question: "order detail", maxTokens: 8000, tables: ids.slice(at, at + 10) })
    expect(index.columnLines.size).toBe(COLUMN_LINES_KEPT)
    expect(index.columnLines.has(0)).toBe(false)
    expect(renderPromptContext(document, { question: "order detail", maxTokens: 4000, tables: [ids[0]!] })).toEqual(first)
  })

  it("give the same contexts once tables that did not fit are refused from their remembered costs", () => {
    // Budgets so tight that most candidates are tried and refused; then asked again, the refusals
    // come from the costs remembered per table instead of rendering the tables again.
    const questions = ["order detail 3", "orders copy 17", "order field 2 of table 40", "주문 금액"]
    const budgets = [150, 300, 700, 1500]
    const fresh = () => wide(COLUMN_LINES_KEPT + 60, 12)
    const asked = fresh()
    const first = questions.flatMap((question) => budgets.map((maxTokens) => renderPromptContext(asked, { question, maxTokens })))
    const again = questions.flatMap((question) => budgets.map((maxTokens) => renderPromptContext(asked, { question, maxTokens })))
    expect(again).toEqual(first)
    expect(indexOf(asked).lineCosts.some((c) => c >= 0)).toBe(true)
    // And each is what a document asked nothing before gets.
    questions.forEach((question, q) =>
      budgets.forEach((maxTokens, b) => expect(renderPromptContext(fresh(), { question, maxTokens })).toEqual(first[q * budgets.length + b]))
    )
  })
})
