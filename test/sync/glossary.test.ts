import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DateTime from "effect/DateTime"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { isCuratedFileName } from "../../src/sync/curated.ts"
import { metadataAliases, namesInDescription, namesInLabels } from "../../src/sync/glossary/aliases.ts"
import { loadGlossaryDirectory, parseGlossaryFile } from "../../src/sync/glossary/curated.ts"

const GOOD = `terms:
  - term: ADV
    synonyms: [Average Daily Volume, 평균 일일 거래량]
    definition: Average daily traded volume
    sql: AVG(sbDpVolume)
    tables: [nlq-ex.broker.sbDailyPrice]
    columns: [nlq-ex.broker.sbDailyPrice.sbDpVolume]
    instructions: Group by ticker.
aliases:
  - table: nlq-ex.shop.customers
    names: [고객, client]
  - column: nlq-ex.shop.orders.amount
    names: [주문 금액]
`

describe("glossary files", () => {
  it("read terms and aliases", () => {
    const parsed = Either.getOrThrow(parseGlossaryFile("sales.glossary.yaml", GOOD))
    expect(parsed.terms).toEqual([{
      term: "ADV",
      synonyms: ["Average Daily Volume", "평균 일일 거래량"],
      definition: "Average daily traded volume",
      tables: ["nlq-ex.broker.sbDailyPrice"],
      columns: [{ table_id: "nlq-ex.broker.sbDailyPrice", column: "sbDpVolume" }],
      sql: "AVG(sbDpVolume)",
      instructions: "Group by ticker.",
      source: "sales.glossary.yaml:2"
    }])
    expect(parsed.aliases).toEqual([
      { table_id: "nlq-ex.shop.customers", column: null, names: ["고객", "client"], source: "glossary" },
      { table_id: "nlq-ex.shop.orders", column: "amount", names: ["주문 금액"], source: "glossary" }
    ])
  })

  it("say what is wrong at its file, line and column", () => {
    const bad = `terms:\n  - term: ADV\n    synonym: [x]\naliases:\n  - table: nlq-ex.shop.customers\n    column: nlq-ex.shop.customers.id\n    names: [고객]\n`
    const message = Either.getOrThrow(Either.flip(parseGlossaryFile("bad.glossary.yaml", bad))).message
    expect(message).toContain("bad.glossary.yaml:3:5: terms.0.synonym: unknown key, expected one of term, synonyms, definition, tables, columns, sql, instructions")
    expect(parseGlossaryFile("b.glossary.yaml", "terms:\n  - term: [\n").pipe(Either.isLeft)).toBe(true)
    const both = Either.flip(parseGlossaryFile("both.glossary.yaml", bad.replace("    synonym: [x]\n", "")))
    expect(Either.getOrThrow(both).message).toBe("both.glossary.yaml:4:5: aliases.0: needs exactly one of table or column")
  })

  it("live beside the curated examples without being read as examples", async () => {
    expect(isCuratedFileName("sales.glossary.yaml")).toBe(false)
    expect(isCuratedFileName("sales.yaml")).toBe(true)
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "metasync-glossary-"))
    try {
      fs.writeFileSync(path.join(directory, "sales.glossary.yaml"), GOOD)
      fs.writeFileSync(path.join(directory, "broken.glossary.yml"), "terms: 3\n")
      fs.writeFileSync(path.join(directory, "examples.yaml"), "table: x\n")
      const loaded = await Effect.runPromise(loadGlossaryDirectory(directory))
      expect(loaded.files).toBe(2)
      expect(loaded.terms.map((t) => t.term)).toEqual(["ADV"])
      expect(loaded.errors.map((e) => e.file)).toEqual([path.join(directory, "broken.glossary.yml")])
    } finally {
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })
})

describe("aliases from the warehouse's metadata", () => {
  it("come from name labels and from descriptions that say so", () => {
    expect(namesInLabels({ business_name: "customer_master", display_name: "고객-마스터", team: "growth" })).toEqual(["customer master", "고객 마스터"])
    expect(namesInDescription("Customers of the shop (고객). Also known as clients, buyers.")).toEqual(["clients", "buyers", "고객"])
    expect(namesInDescription("주문 내역: one row per order line")).toEqual(["주문 내역"])
    expect(namesInDescription("별칭: 매출액")).toEqual(["매출액"])
    expect(namesInDescription("Plain description with no names")).toEqual([])
  })

  it("are attached to the table or column they describe", () => {
    const table = makeTableEntry({
      table_id: TableId.make("nlq-ex.shop.customers"),
      last_updated: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
      description: "Customers (고객)",
      labels: { alias: "client" },
      columns: [{ name: "amt", type: "NUMERIC", mode: "NULLABLE", description: "Order amount, a.k.a. 주문금액" }]
    })
    expect(metadataAliases([table])).toEqual([
      { table_id: "nlq-ex.shop.customers", column: null, names: ["client"], source: "label" },
      { table_id: "nlq-ex.shop.customers", column: null, names: ["고객"], source: "description" },
      { table_id: "nlq-ex.shop.customers", column: "amt", names: ["주문금액"], source: "description" }
    ])
  })
})
