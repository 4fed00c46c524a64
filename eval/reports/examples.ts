/**
 * The examples a sync of the dev set publishes, and whether they teach the joins its questions need:
 * per database, templates and join examples (English, as the questions are) over the inferred
 * relationships, validated and chosen by value as the sync does; then, for every question whose gold
 * SQL joins tables, a 2,000-token prompt context and whether it shows an example that reads every
 * table the gold SQL joins. Also: examples that group by an id-like or unique column (degenerate),
 * and examples per source.
 */
import * as DateTime from "effect/DateTime"
import { type CacheDocument, type Example, makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { flattenFields } from "../../src/contract/Field.ts"
import type { Relationship } from "../../src/contract/Relationship.ts"
import type { TableEntry } from "../../src/contract/TableEntry.ts"
import { renderPromptContext } from "../../src/context/PromptContext.ts"
import { sqlTokens } from "../../src/sql/SqlValidator.ts"
import { acceptExamples } from "../../src/sync/examples.ts"
import { chooseExamples } from "../../src/sync/examples/ChooseExamples.ts"
import { isIdLike, isProfileUnique } from "../../src/sync/examples/ColumnRoles.ts"
import { joinExamples } from "../../src/sync/examples/JoinExamples.ts"
import { templateExamples } from "../../src/sync/examples/TemplateExamples.ts"
import { inferRelationships } from "../../src/sync/relationships/infer.ts"
import { loadGlossaryDirectory } from "../../src/sync/glossary/curated.ts"
import { glossaryExamples } from "../../src/sync/examples/GlossaryExamples.ts"
import type { Alias, GlossaryTerm } from "../../src/contract/Glossary.ts"
import { businessNames } from "../../src/sync/gatherExamples.ts"
import { metadataAliases } from "../../src/sync/glossary/aliases.ts"
import * as Effect from "effect/Effect"
import { GLOSSARY_DIR, loadKorean } from "./promptContext.ts"
import type { Language } from "../../src/contract/CacheDocument.ts"
import type { Question } from "../devSet.ts"
import { PROJECT } from "../devSet.ts"
import { readJoinPairs } from "../goldJoins.ts"
import type { Report } from "./Report.ts"

const depthAt = (tokens: ReadonlyArray<{ readonly value: string }>, at: number) => {
  let depth = 0
  for (let i = 0; i < at; i++) depth += tokens[i]!.value === "(" ? 1 : tokens[i]!.value === ")" ? -1 : 0
  return depth
}

/**
 * The columns an example's outer query groups by (last name of each plain path). A subquery that
 * groups a child by its key to aggregate before a join is the right way to write it, not a degenerate grouping.
 */
/** The columns an example groups by (last name of each GROUP BY item that is a plain path). */
export const groupedColumns = (sql: string): ReadonlyArray<string> => {
  const tokens = sqlTokens(sql) ?? []
  const out: Array<string> = []
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.value !== "GROUP" || tokens[i + 1]?.value !== "BY" || depthAt(tokens, i) > 0) continue
    let depth = 0
    for (let j = i + 2; j < tokens.length; j++) {
      const t = tokens[j]!
      if (t.value === "(") depth++
      else if (t.value === ")") {
        if (depth === 0) break
        depth--
      } else if (depth === 0 && t.kind === "word" && ["ORDER", "HAVING", "LIMIT", "QUALIFY", "WINDOW", "UNION"].includes(t.value)) break
      else if (depth === 0 && (t.kind === "word" || t.kind === "quoted") && tokens[j + 1]?.value !== "." && tokens[j + 1]?.value !== "(") {
        out.push(t.kind === "quoted" ? t.value.split(".").pop()! : t.text)
      }
    }
  }
  return out
}

/** Whether an example groups by an id-like or (by its profile) unique column of a table it reads. */
export const isDegenerate = (example: Example, tables: ReadonlyMap<string, TableEntry>): boolean =>
  groupedColumns(example.sql).some((name) =>
    example.tables.some((id) => {
      const table = tables.get(id)
      const field = table === undefined ? undefined : flattenFields(table.columns).find((f) => f.segments[f.segments.length - 1] === name)
      return field !== undefined && (isIdLike(field.path) || isProfileUnique(table!, field.path))
    })
  )

const familyOf = (example: Example) => (example.source === "template" ? example.generator.split(":")[0]! : example.source)

export interface DatabaseExamples {
  readonly document: CacheDocument
  readonly candidates: number
}

export const databaseExamples = (
  tables: ReadonlyArray<TableEntry>,
  relationships: ReadonlyArray<Relationship>,
  glossary: ReadonlyArray<GlossaryTerm> = [],
  language: Language = "en",
  aliases: ReadonlyArray<Alias> = []
): DatabaseExamples => {
  const names = businessNames(aliases)
  const candidates = [
    ...glossaryExamples(glossary, tables, relationships, language),
    ...joinExamples(tables, relationships, language, { names }),
    ...tables.flatMap((t) => templateExamples(t, language, names.has(t.table_id) ? { names: names.get(t.table_id)! } : {}))
  ]
  const accepted = acceptExamples(candidates, tables).examples
  const examples = chooseExamples(accepted, relationships)
  return {
    candidates: candidates.length,
    document: makeCacheDocument({
      generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
      generator: { name: "metasync", version: "eval" },
      tables: [tables[0]!, ...tables.slice(1)],
      examples: [...examples],
      relationships: [...relationships],
      glossary: [...glossary],
      aliases: [...aliases]
    })
  }
}

export const examplesReport: Report = {
  name: "examples",
  title: "Examples: joins shown to joining questions, degenerate examples, examples per source",
  run: async (dev) => {
    const byDb = new Map<string, Array<TableEntry>>()
    for (const t of dev.tables) {
      const db = t.table_id.split(".")[1]!
      byDb.set(db, [...(byDb.get(db) ?? []), t])
    }
    const curated = await Effect.runPromise(loadGlossaryDirectory(GLOSSARY_DIR))
    const glossaryOf = (tables: ReadonlyArray<TableEntry>) => {
      const ids = new Set(tables.map((t) => t.table_id as string))
      return curated.terms.filter((t) => t.tables.some((id) => ids.has(id)))
    }
    const aliasesOf = (tables: ReadonlyArray<TableEntry>) => {
      const ids = new Set(tables.map((t) => t.table_id as string))
      return [...curated.aliases.filter((a) => ids.has(a.table_id)), ...metadataAliases(tables)]
    }
    const docs = new Map([...byDb].map(([db, tables]) => [db, databaseExamples(tables, inferRelationships(tables), glossaryOf(tables), "en", aliasesOf(tables))] as const))
    const tableById = new Map(dev.tables.map((t) => [t.table_id as string, t]))
    const coverage = (questions: ReadonlyArray<Question>, documents: ReadonlyMap<string, DatabaseExamples>, language: Language) => {
      let asked = 0
      let covered = 0
      let pairCovered = 0
      const misses: Array<string> = []
      for (const q of questions) {
        const pairs = readJoinPairs(q.sql, PROJECT).pairs
        if (pairs.length === 0) continue
        asked++
        const gold = new Set(pairs.flatMap((p) => [p.left.table, p.right.table]))
        const { document } = documents.get(q.db)!
        const context = renderPromptContext(document, { question: q.question, maxTokens: 2000, maxTables: 5, language })
        const shown = context.examples.map((i) => new Set<string>(document.examples[i]!.tables))
        if (shown.some((tables) => [...gold].every((t) => tables.has(t)))) covered++
        else misses.push(`${q.db}: ${q.question.slice(0, 90)} — joins ${[...gold].map((t) => t.split(".")[2]).join(", ")}`)
        if (pairs.some((p) => shown.some((tables) => tables.has(p.left.table) && tables.has(p.right.table)))) pairCovered++
      }
      return { asked, covered, pairCovered, misses }
    }
    const en = coverage(dev.questions, docs, "en")
    const korean = loadKorean(dev.questions)
    const docsKo = new Map([...byDb].map(([db, tables]) => [db, databaseExamples(tables, inferRelationships(tables), glossaryOf(tables), "ko", aliasesOf(tables))] as const))
    const ko = korean.length === 0 ? null : coverage(korean, docsKo, "ko")
    const questions = en.asked
    const covered = en.covered
    const pairCovered = en.pairCovered
    const misses = en.misses
    const all = [...docs.values()].flatMap((d) => d.document.examples)
    const degenerate = all.filter((e) => isDegenerate(e, tableById))
    const bySource = new Map<string, number>()
    for (const e of all) bySource.set(familyOf(e), (bySource.get(familyOf(e)) ?? 0) + 1)
    const candidates = [...docs.values()].reduce((n, d) => n + d.candidates, 0)
    const pct = (n: number, d: number) => `${d === 0 ? "0.0" : ((100 * n) / d).toFixed(1)} %`
    return {
      markdown: [
        `The examples a sync of each dev database publishes (English; inferred relationships, the defog glossaries as glossary files, no profiles, no query log): ${candidates} candidates, ${all.length} kept by the per-table choice.`,
        "",
        "| measure | result | target |",
        "|---|---:|---:|",
        `| joining questions whose 2,000-token context shows an example reading every table the gold SQL joins | ${covered} / ${questions} = ${pct(covered, questions)} | ≥ 80 % |`,
        `| joining questions whose context shows an example with at least one of the gold join pairs | ${pairCovered} / ${questions} = ${pct(pairCovered, questions)} | |`,
        ...(ko === null ? [] : [
          `| the same, Korean questions (\`questions-ko/\`) and Korean examples: every joined table | ${ko.covered} / ${ko.asked} = ${pct(ko.covered, ko.asked)} | ≥ 80 % |`,
          `| the same, Korean: at least one gold join pair | ${ko.pairCovered} / ${ko.asked} = ${pct(ko.pairCovered, ko.asked)} | |`
        ]),
        `| examples grouping by an id-like or unique column | ${degenerate.length} / ${all.length} = ${pct(degenerate.length, all.length)} | 0 |`,
        "",
        "Examples per source (generator family):",
        "",
        "| source | examples |",
        "|---|---:|",
        ...[...bySource].sort((a, b) => b[1] - a[1]).map(([s, n]) => `| ${s} | ${n} |`),
        "",
        ...(degenerate.length > 0 ? ["Degenerate examples:", "", ...degenerate.map((e) => `- ${e.question} — \`${e.sql}\``), ""] : []),
        "A question counts when one example in its context reads every table its gold SQL joins (the gold tables of 4- and 5-table joins are rarely all in one example). The dev set has no query log, so the query-log source is measured only by its tests. These rules were written while looking at these five schemas: they are the development set.",
        "",
        `Joining questions without such an example (${misses.length}):`,
        "",
        ...misses.map((m) => `- ${m}`)
      ].join("\n"),
      figures: {
        join_questions: questions,
        join_example_shown: covered / questions,
        ...(ko === null ? {} : { join_example_shown_ko: ko.covered / ko.asked }),
        degenerate: degenerate.length,
        examples: all.length
      }
    }
  }
}
