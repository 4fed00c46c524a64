/**
 * Whether the prompt context brings every table a joining gold query reads, with and without the
 * relationships (their bridges): for each question whose gold SQL joins tables, the document of its
 * database is asked for a context (2,000 tokens, 5 tables) and the gold tables it includes are counted.
 */
import * as DateTime from "effect/DateTime"
import { type CacheDocument, makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import type { TableEntry } from "../../src/contract/TableEntry.ts"
import { renderPromptContext } from "../../src/context/index.ts"
import { inferRelationships } from "../../src/sync/relationships/infer.ts"
import { PROJECT } from "../devSet.ts"
import { readJoinPairs } from "../goldJoins.ts"
import type { Report } from "./Report.ts"

const documentOf = (tables: ReadonlyArray<TableEntry>, withRelationships: boolean): CacheDocument =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
    generator: { name: "metasync", version: "eval" },
    tables: [tables[0]!, ...tables.slice(1)],
    examples: [],
    relationships: withRelationships ? inferRelationships(tables) : []
  })

export const joinContextReport: Report = {
  name: "join-context",
  title: "Prompt context: the tables of joining questions, with and without relationships",
  run: async (dev) => {
    const byDb = new Map<string, ReadonlyArray<TableEntry>>()
    for (const t of dev.tables) {
      const db = t.table_id.split(".")[1]!
      byDb.set(db, [...(byDb.get(db) ?? []), t])
    }
    const docs = new Map([...byDb].map(([db, tables]) => [db, [documentOf(tables, false), documentOf(tables, true)] as const]))
    let questions = 0
    const complete = [0, 0]
    const found = [0, 0]
    let goldTables = 0
    for (const q of dev.questions) {
      const pairs = readJoinPairs(q.sql, PROJECT).pairs
      if (pairs.length === 0) continue
      const gold = new Set(pairs.flatMap((p) => [p.left.table, p.right.table]))
      questions++
      goldTables += gold.size
      docs.get(q.db)!.forEach((doc, i) => {
        const chosen = new Set(renderPromptContext(doc, { question: q.question, maxTokens: 2000, maxTables: 5 }).tables)
        const hits = [...gold].filter((t) => chosen.has(t)).length
        found[i]! += hits
        if (hits === gold.size) complete[i]!++
      })
    }
    const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(1)} %`
    return {
      markdown: [
        `${questions} questions whose gold SQL joins tables (English questions, 2,000 tokens, 5 tables).`,
        "",
        "| document | questions with every joined table in the context | joined tables in the context |",
        "|---|---:|---:|",
        `| without relationships | ${complete[0]} / ${questions} = ${pct(complete[0]!, questions)} | ${found[0]} / ${goldTables} = ${pct(found[0]!, goldTables)} |`,
        `| with inferred relationships (join hints, bridges) | ${complete[1]} / ${questions} = ${pct(complete[1]!, questions)} | ${found[1]} / ${goldTables} = ${pct(found[1]!, goldTables)} |`
      ].join("\n"),
      figures: {
        join_questions: questions,
        complete_without: complete[0]! / questions,
        complete_with: complete[1]! / questions
      }
    }
  }
}
