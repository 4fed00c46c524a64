/**
 * A table's template examples are made and validated as soon as it is described
 * (`earlyTemplates`), against its own metadata only. What the sync publishes must be what making
 * them at the end gives: the early ones are used only for the same entry and business names, and
 * an early verdict only where it holds in the whole catalog.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type { Example } from "../../src/contract/CacheDocument.ts"
import type { Alias } from "../../src/contract/Glossary.ts"
import { TableId } from "../../src/contract/TableId.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { validateSql, validateSqlPartial, verdictIn } from "../../src/sql/SqlValidator.ts"
import { describeTable } from "../../src/sync/assemble.ts"
import { earlyTemplates, type EarlyTemplates, gatherExamples } from "../../src/sync/gatherExamples.ts"
import { metadataAliases } from "../../src/sync/glossary/aliases.ts"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { testLayer } from "../support/TestLayers.ts"

const table = (id: string, columns: ReadonlyArray<[string, string, string?]>, description: string | null = null): TableMetadata => ({
  table_id: TableId.make(id),
  kind: "TABLE",
  description,
  last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
  created: null,
  row_count: null,
  size_bytes: null,
  labels: {},
  partitioning: null,
  clustering: [],
  view_query: null,
  columns: columns.map(([name, type, text]) => ({ name, type, mode: "NULLABLE", description: text ?? null }))
})

const orders = table("nlq-ex.shop.orders", [
  ["id", "INTEGER"],
  ["customer_id", "INTEGER"],
  ["status", "STRING", "Order status (주문 상태)"],
  ["amount", "NUMERIC", "Also known as: order value"],
  ["created_at", "TIMESTAMP"]
], "Orders of the shop (주문)")
const customers = table("nlq-ex.shop.customers", [["id", "INTEGER"], ["country", "STRING", "Country"], ["signed_up", "DATE"]])

describe("early template examples", () => {
  it("a verdict reached against one table holds in a catalog that names the same tables, and only there", () => {
    const sql = "SELECT status, COUNT(*) AS n FROM `nlq-ex.shop.orders` GROUP BY status"
    const partial = validateSqlPartial(sql, { tables: [orders] })
    expect(Either.isRight(partial.verdict)).toBe(true)
    expect([...partial.lookedUp]).toContain("nlq-ex.shop.orders")
    // The whole catalog: the same verdict.
    expect(verdictIn(partial, { tables: [customers, orders] })).toEqual(validateSql(sql, { tables: [customers, orders] }))
    // A catalog where the path names another table (its metadata changed): redone, not carried.
    const changed = table("nlq-ex.shop.orders", [["id", "INTEGER"]])
    expect(verdictIn(partial, { tables: [customers, changed] })).toBeUndefined()
    expect(Either.isLeft(validateSql(sql, { tables: [customers, changed] }))).toBe(true)
    // A refusal names the catalog's tables: never carried.
    const refused = validateSqlPartial("SELECT nope FROM `nlq-ex.shop.orders`", { tables: [orders] })
    expect(Either.isLeft(refused.verdict)).toBe(true)
    expect(verdictIn(refused, { tables: [orders, customers] })).toBeUndefined()
  })

  it.effect("gives the examples making them at the end gives, and is used only for the same entry and names", () =>
    Effect.gen(function*() {
      const settings = yield* SyncConfig
      const tables = [orders, customers]
      const entries = tables.map((t) => describeTable(t, null))
      const fresh = new Map(tables.map((t) => [t.table_id as string, t]))
      const aliases = metadataAliases(entries)
      const own = (id: string): ReadonlyArray<Alias> => aliases.filter((a) => a.table_id === id)
      const input = { entries, fresh, previous: Option.none(), aliases, curated: [] }

      const atTheEnd = yield* gatherExamples(input)
      const early = new Map(entries.map((e, i) => [e.table_id as string, earlyTemplates(settings, e, tables[i]!, own(e.table_id))]))
      const withEarly = yield* gatherExamples({ ...input, early })
      expect(withEarly).toEqual(atTheEnd)
      const templateQuestions = new Set([...early.values()].flatMap((e) => e.examples.map((x) => x.question)))
      expect(atTheEnd.examples.filter((e) => templateQuestions.has(e.question)).length).toBeGreaterThan(0)
      // Early examples marked, to see which are taken: the same entry and names take them.
      const marked = (made: EarlyTemplates): EarlyTemplates => {
        const examples = made.examples.map((e) => ({ ...e, question: `EARLY ${e.question}` }))
        return { ...made, examples, verdicts: new Map(made.examples.map((e, i) => [examples[i]!, made.verdicts.get(e)!])) }
      }
      const questions = (set: { readonly examples: ReadonlyArray<Example> }) => set.examples.map((e) => e.question)
      const taken = yield* gatherExamples({ ...input, early: new Map([...early].map(([id, made]) => [id, marked(made)])) })
      expect(questions(taken).filter((q) => q.startsWith("EARLY ")).length).toBe(
        questions(atTheEnd).filter((q) => templateQuestions.has(q)).length
      )

      // Made with other business names (an alias the whole glossary does not have): made again.
      const stray: Alias = { table_id: orders.table_id, column: "status", names: ["stray"], source: "glossary" }
      const misnamed = new Map(early).set(orders.table_id, marked(earlyTemplates(settings, entries[0]!, orders, [...own(orders.table_id), stray])))
      const withMisnamed = yield* gatherExamples({ ...input, early: misnamed })
      expect(withMisnamed).toEqual(atTheEnd)

      // Made from another entry object (a table kept from the previous document): made again.
      const other = new Map(early).set(orders.table_id, marked(earlyTemplates(settings, describeTable(orders, null), orders, own(orders.table_id))))
      const withOther = yield* gatherExamples({ ...input, early: other })
      expect(withOther).toEqual(atTheEnd)
    }).pipe(Effect.provide(testLayer({ language: "en" }))))
})
