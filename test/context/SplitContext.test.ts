/**
 * The split layout's two-stage prompt context: the sub-document it renders, and over the Defog dev
 * set (all five schemas in one document, many small parts) how close it stays to the
 * single-document path and how many of the gold tables it keeps (`eval/reports/splitContext.ts`).
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import { type CacheDocument, type Example, makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { embeddingKey, quantizeVector } from "../../src/contract/Embeddings.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { renderPromptContext } from "../../src/context/PromptContext.ts"
import { catalogIndexOf, partsOf, renderSplitPromptContext, splitCandidateCount, splitCandidates, subDocumentOf } from "../../src/context/SplitContext.ts"
import { loadDevSet } from "../../eval/devSet.ts"
import { splitContextReport, splitInMemory } from "../../eval/reports/splitContext.ts"

const ids = {
  orders: TableId.make("shop-prod.shop.orders"),
  customers: TableId.make("shop-prod.shop.customers"),
  events: TableId.make("shop-prod.web.events_20261101"),
  employees: TableId.make("shop-prod.hr.employees")
}

const table = (table_id: TableId, description: string, columns: ReadonlyArray<string>) =>
  makeTableEntry({
    table_id,
    last_updated: DateTime.unsafeMake("2026-11-29T12:00:00Z"),
    description,
    columns: columns.map((name) => ({ name, type: "STRING", mode: "NULLABLE", description: `the ${name}` }))
  })

const example = (question: string, tables: ReadonlyArray<TableId>): Example => ({
  question,
  sql: `SELECT COUNT(*) FROM \`${tables[0]}\``,
  tables,
  source: "template",
  generator: "template:count_total",
  language: "en"
})

const vector = (key: string, seed: number) => ({ key, text_hash: `h${seed}`, ...quantizeVector([seed, 1, -seed, 2]) })

const documentOf = (): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-29T18:00:00Z"),
    generator: { name: "metasync", version: "9.9.9" },
    tables: [
      table(ids.orders, "Orders and their amounts", ["order_id", "customer_id", "amount"]),
      table(ids.customers, "Customers of the shop", ["customer_id", "country"]),
      table(ids.events, "Website events", ["event_name"]),
      table(ids.employees, "Employees and salaries", ["employee_id", "salary"])
    ],
    examples: [
      example("How many employees?", [ids.employees]),
      example("How many orders?", [ids.orders]),
      example("Orders per country", [ids.orders, ids.customers]),
      example("Events per customer", [ids.customers, ids.events])
    ],
    embeddings: {
      model: "test-model",
      dimension: 4,
      encoding: "int8",
      vectors: [
        vector(embeddingKey.table(ids.orders), 1),
        vector(embeddingKey.column(ids.orders, "amount"), 2),
        vector(embeddingKey.table(ids.employees), 3),
        vector(embeddingKey.column(ids.events, "event_name"), 4),
        ...[0, 1, 2, 3].map((e) => vector(embeddingKey.example(e), 10 + e))
      ]
    }
  })

describe("the split prompt context", () => {
  it("renders a sub-document of the candidates and the examples that read only them, vectors renumbered", () => {
    const doc = documentOf()
    const { manifest, parts } = splitInMemory(doc, 1)
    const candidates = [ids.orders, ids.customers].map((id) => catalogIndexOf(manifest, id)!)
    const fetched = new Map(partsOf(manifest, candidates).map((p) => [p, parts[p]!]))
    expect([...fetched.keys()]).toEqual([0, 1])
    const { document, exampleIndexes } = subDocumentOf(manifest, candidates, fetched)
    expect(document.tables.map((t) => t.table_id)).toEqual([ids.orders, ids.customers])
    expect(document.tables[0]!.columns[2]!.description).toBe("the amount") // the full entry, from its part
    // "Events per customer" reads a table that is not a candidate; "How many employees?" another part's.
    expect(document.examples.map((e) => e.question)).toEqual(["How many orders?", "Orders per country"])
    expect(exampleIndexes).toEqual([1, 2])
    expect(document.embeddings?.vectors.map((v) => [v.key, v.text_hash])).toEqual([
      ["t:shop-prod.shop.orders", "h1"],
      ["c:shop-prod.shop.orders:amount", "h2"],
      ["e:0", "h11"],
      ["e:1", "h12"]
    ])
  })

  it("ranks on the manifest, fetches only the candidates' parts, and reports the whole document's example indexes", () => {
    const doc = documentOf()
    const { manifest, parts } = splitInMemory(doc, 1)
    const request = { question: "order amount per customer country", maxTokens: 1000 }
    const candidates = splitCandidates(manifest, request)
    expect(candidates.map((t) => manifest.catalog[t]!.table_id)).toEqual([ids.orders, ids.customers])
    const context = renderSplitPromptContext(manifest, candidates, new Map(partsOf(manifest, candidates).map((p) => [p, parts[p]!])), request)
    const whole = renderPromptContext(doc, request)
    expect(context.tables).toEqual(whole.tables)
    expect(context.examples).toEqual(whole.examples)
    expect(context.examples.map((e) => doc.examples[e]!.question)).toContain("Orders per country")
    // Named tables: only those, however the question reads.
    expect(splitCandidates(manifest, { ...request, tables: ["shop-prod.web.events_20261101", "shop-prod.nope.x"] })).toEqual([2])
    expect(splitCandidateCount(5)).toBe(24)
    expect(splitCandidateCount(8)).toBe(32)
  })

  it("over the dev set, keeps the single-document path's selection and its gold tables (floors a little under the measured figures)", async () => {
    const { figures } = await splitContextReport.run(await loadDevSet())
    const floors: Record<string, number> = {
      // Exactly the same tables (measured 63.9 %, 62.6 %, 83.0 %): the two differ in the tail of a
      // context, where tables that barely matched fill the budget, scored on other text.
      glossary_en_2000_agreement: 0.6,
      plain_en_2000_agreement: 0.58,
      glossary_en_1000_agreement: 0.8,
      // The whole document's tables that the split path renders too (91.8, 91.5, 94.2, 87.4 %).
      glossary_en_2000_overlap: 0.9,
      plain_en_2000_overlap: 0.9,
      glossary_ko_2000_overlap: 0.92,
      glossary_en_4000_overlap: 0.85,
      // The best table (95.2, 95.9 %).
      glossary_en_2000_same_first: 0.94,
      glossary_ko_2000_same_first: 0.94,
      // Gold tables held (98.8, 97.3, 98.0 %).
      glossary_en_2000_recall_split: 0.985,
      glossary_ko_2000_recall_split: 0.97,
      plain_en_2000_recall_split: 0.975
    }
    const below = Object.entries(floors).filter(([name, floor]) => !((figures[name] ?? 0) >= floor))
    expect(below.map(([name, floor]) => `${name} ${figures[name]} < ${floor}`)).toEqual([])
    // Never fewer gold tables than the whole document's path, by more than half a percent.
    for (const [name, split] of Object.entries(figures).filter(([n]) => n.endsWith("_recall_split"))) {
      const single = figures[name.replace("_split", "_single")]!
      expect(split, name).toBeGreaterThanOrEqual(single - 0.005)
    }
  }, 120_000)
})
