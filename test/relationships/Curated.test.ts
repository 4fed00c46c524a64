import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { formatProblem, isCuratedFileName } from "../../src/sync/curated.ts"
import { loadRelationshipsDirectory, parseRelationshipsFile } from "../../src/sync/relationships/curated.ts"

const problemsOf = (name: string, text: string) => {
  const parsed = parseRelationshipsFile(name, text)
  return Either.isLeft(parsed) ? parsed.left.problems.map((p) => formatProblem(name, p)) : []
}

describe("curated relationships files", () => {
  it("reads single- and multi-column relationships, with cardinality and note", () => {
    const parsed = Either.getOrThrow(parseRelationshipsFile(
      "shop.relationships.yaml",
      [
        "relationships:",
        "  - from: nlq-ex.shop.orders.customer_id",
        "    to: nlq-ex.shop.customers.id",
        "    cardinality: many-to-one",
        "  - from: { table: nlq-ex.shop.lines, columns: [order_id, shop_id] }",
        "    to: { table: nlq-ex.shop.orders, columns: [id, shop_id] }",
        "    note: composite key"
      ].join("\n")
    ))
    expect(parsed.map((r) => [r.from, r.to, r.cardinality, r.evidence])).toEqual([
      [{ table_id: "nlq-ex.shop.orders", columns: ["customer_id"] }, { table_id: "nlq-ex.shop.customers", columns: ["id"] }, "many-to-one", "shop.relationships.yaml:2"],
      [{ table_id: "nlq-ex.shop.lines", columns: ["order_id", "shop_id"] }, { table_id: "nlq-ex.shop.orders", columns: ["id", "shop_id"] }, null, "composite key"]
    ])
  })

  it("reports each mistake at its file, line and column", () => {
    expect(problemsOf("x.relationships.yaml", [
      "relationships:",
      "  - from: orders.customer_id",
      "    to: nlq-ex.shop.customers.id",
      "    cardinalty: many-to-one"
    ].join("\n"))).toEqual([
      "x.relationships.yaml:2:11: relationships.0.from: must be project.dataset.table.column, or { table, columns }",
      "x.relationships.yaml:4:5: relationships.0.cardinalty: unknown key, expected one of from, to, cardinality, note"
    ])
    expect(problemsOf("y.relationships.yaml", [
      "relationships:",
      "  - from: { table: nlq-ex.shop.lines, columns: [a, b] }",
      "    to: nlq-ex.shop.orders.id"
    ].join("\n"))).toEqual(["y.relationships.yaml:2:5: relationships.0: from has 2 columns and to has 1: they must pair up"])
  })

  it.effect("lives beside the curated examples without being read as one", () =>
    Effect.gen(function*() {
      expect(isCuratedFileName("shop.relationships.yaml")).toBe(false)
      expect(isCuratedFileName("shop.yaml")).toBe(true)
      const dir = mkdtempSync(path.join(tmpdir(), "metasync-rel-"))
      writeFileSync(path.join(dir, "shop.yaml"), "table: nlq-ex.shop.orders\nexamples: []\n")
      writeFileSync(path.join(dir, "a.relationships.yaml"), "relationships:\n  - from: nlq-ex.shop.a.x\n    to: nlq-ex.shop.b.y\n")
      writeFileSync(path.join(dir, "bad.relationships.yml"), "relationships: [\n")
      const loaded = yield* loadRelationshipsDirectory(dir)
      expect(loaded.files).toBe(2)
      expect(loaded.relationships).toHaveLength(1)
      expect(loaded.errors.map((e) => e.file)).toEqual([path.join(dir, "bad.relationships.yml")])
    }))
})
