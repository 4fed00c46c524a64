import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import { makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import type { TableEntry } from "../../src/contract/TableEntry.ts"
import { joinGraphOf } from "../../src/context/JoinGraph.ts"
import { renderPromptContext } from "../../src/context/index.ts"
import { inferRelationships } from "../../src/sync/relationships/infer.ts"
import { loadDevSet } from "../../eval/devSet.ts"

const academic = async () => {
  const dev = await loadDevSet()
  const tables = dev.tables.filter((t) => t.table_id.startsWith("defog-eval.academic."))
  return makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
    generator: { name: "metasync", version: "test" },
    tables: [tables[0]!, ...tables.slice(1)] as [TableEntry, ...Array<TableEntry>],
    examples: [],
    relationships: inferRelationships(tables)
  })
}

describe("join hints in the prompt context", () => {
  it("renders the joins between the tables it includes", async () => {
    const document = await academic()
    const context = renderPromptContext(document, { question: "publications presented at each conference", maxTokens: 4000 })
    expect(context.tables.slice(0, 2)).toEqual(["defog-eval.academic.publication", "defog-eval.academic.conference"])
    expect(context.text).toContain("## Joins\n")
    expect(context.text).toContain("- publication.cid → conference.cid (many-to-one)")
    expect(context.tokens).toBeLessThanOrEqual(4000)
  })

  it("brings in the bridge between two tables that only connect through it, ahead of unrelated tables", async () => {
    const document = await academic()
    // author and publication meet only through writes (or a domain_* table); the question names neither.
    const context = renderPromptContext(document, { question: "author names and publication titles", maxTokens: 6000, maxTables: 3 })
    expect(context.tables).toHaveLength(3)
    expect(context.tables).toContain("defog-eval.academic.author")
    expect(context.tables).toContain("defog-eval.academic.publication")
    const bridge = context.tables.find((t) => t !== "defog-eval.academic.author" && t !== "defog-eval.academic.publication")!
    const path = joinGraphOf(document).path("defog-eval.academic.author", "defog-eval.academic.publication")!
    expect(path).toHaveLength(2)
    expect([path[0]!.from.table_id, path[0]!.to.table_id]).toContain(bridge)
    expect(context.text.match(/^- \w+\.\w+ → \w+\.\w+/gm)?.length).toBeGreaterThanOrEqual(2)
  })

  it("stays within a tight budget, leaving hints out first", async () => {
    const document = await academic()
    const context = renderPromptContext(document, { question: "publications presented at each conference", maxTokens: 120 })
    expect(context.tokens).toBeLessThanOrEqual(120)
  })
})
