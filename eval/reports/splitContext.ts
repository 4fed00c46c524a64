/**
 * The split layout's prompt context (`src/context/SplitContext.ts`) against the single-document
 * path on the same document: all five dev schemas in one document (so the ranking has to choose
 * among every table), split into parts of at most `PART_MAX` tables (many parts), every question
 * (English, and Korean when present) at each budget. Agreement: the split path renders exactly
 * the tables the single-document path renders; recall: the gold tables (`goldColumns.ts`) held.
 */
import type { CacheDocument } from "../../src/contract/CacheDocument.ts"
import { type CacheManifest, type CachePart, makeManifest, makePart, planParts } from "../../src/contract/SplitDocument.ts"
import type { TableEntry } from "../../src/contract/TableEntry.ts"
import { renderPromptContext } from "../../src/context/index.ts"
import { partsOf, renderSplitPromptContext, splitCandidates } from "../../src/context/SplitContext.ts"
import { PROJECT, type Question } from "../devSet.ts"
import { goldNeeds } from "../goldColumns.ts"
import { BUDGETS, loadKorean, variants } from "./promptContext.ts"
import type { Report } from "./Report.ts"

/** Tables per part: small, so the 64 dev tables make many parts (and a dataset spans several). */
export const PART_MAX = 4

/** `doc` split as the sync would, its parts in memory. */
export const splitInMemory = (doc: CacheDocument, maxPartTables = PART_MAX): { manifest: CacheManifest; parts: ReadonlyArray<CachePart> } => {
  const plan = planParts(doc, maxPartTables)
  const parts = plan.parts.map((p) => makePart(p, doc.generated_at))
  const manifest = makeManifest(doc, plan, plan.parts.map((p, i) => ({ object: `parts/${p.key}.json`, generation: String(i + 1), bytes: 1, md5: null })))
  return { manifest, parts }
}

export interface SplitCell {
  questions: number
  /** The split path rendered exactly the single path's tables. */
  sameTables: number
  /** Questions whose gold tables all rendered, by each path. */
  allGoldSingle: number
  allGoldSplit: number
  goldTables: number
  foundSingle: number
  foundSplit: number
  /** Of the tables the single path renders, those the split path renders too (summed), and their total. */
  sharedTables: number
  singleTables: number
  /** The split path's best table is the single path's. */
  sameFirst: number
  /** Parts fetched by the split path, summed. */
  partsFetched: number
  candidates: number
}

/** Every question of `questions` through both paths at `budget`. */
export const compare = (
  questions: ReadonlyArray<Question>,
  doc: CacheDocument,
  split: { manifest: CacheManifest; parts: ReadonlyArray<CachePart> },
  catalog: ReadonlyMap<string, TableEntry>,
  budget: number,
  disagreements?: Array<string>
): SplitCell => {
  const cell: SplitCell = { questions: 0, sameTables: 0, sharedTables: 0, singleTables: 0, sameFirst: 0, allGoldSingle: 0, allGoldSplit: 0, goldTables: 0, foundSingle: 0, foundSplit: 0, partsFetched: 0, candidates: 0 }
  for (const q of questions) {
    const gold = goldNeeds(q.sql, PROJECT, catalog)
    if (gold.tables.length === 0) continue
    const request = { question: q.question, maxTokens: budget }
    const single = renderPromptContext(doc, request)
    const candidates = splitCandidates(split.manifest, request)
    const needed = partsOf(split.manifest, candidates)
    const viaSplit = renderSplitPromptContext(split.manifest, candidates, new Map(needed.map((p) => [p, split.parts[p]!])), request)
    const same = single.tables.length === viaSplit.tables.length && single.tables.every((t) => viaSplit.tables.includes(t))
    cell.questions++
    cell.singleTables += single.tables.length
    cell.sharedTables += single.tables.filter((t) => viaSplit.tables.includes(t)).length
    if (single.tables[0] === viaSplit.tables[0]) cell.sameFirst++
    if (same) cell.sameTables++
    else disagreements?.push(`${q.db}: ${q.question.slice(0, 80)} — single ${single.tables.map(short).join(", ")}; split ${viaSplit.tables.map(short).join(", ")}`)
    const inSingle = gold.tables.filter((t) => single.tables.includes(t)).length
    const inSplit = gold.tables.filter((t) => viaSplit.tables.includes(t)).length
    cell.goldTables += gold.tables.length
    cell.foundSingle += inSingle
    cell.foundSplit += inSplit
    if (inSingle === gold.tables.length) cell.allGoldSingle++
    if (inSplit === gold.tables.length) cell.allGoldSplit++
    cell.partsFetched += needed.length
    cell.candidates += candidates.length
  }
  return cell
}

const short = (id: string) => id.replace(`${PROJECT}.`, "")
const pct = (n: number, d: number) => (d === 0 ? "—" : `${((100 * n) / d).toFixed(1)} %`)

export const splitContextReport: Report = {
  name: "split-context",
  title: "Split layout: the prompt context from a manifest and the parts it fetches, against the whole document",
  run: async (dev) => {
    const catalog = new Map(dev.tables.map((t) => [t.table_id as string, t]))
    const languages: Array<[string, ReadonlyArray<Question>]> = [["English", dev.questions]]
    const korean = loadKorean(dev.questions)
    if (korean.length > 0) languages.push(["Korean", korean])
    const figures: Record<string, number> = {}
    const lines = [
      `All five schemas in one document (${dev.tables.length} tables), split into parts of at most ${PART_MAX} tables; ` +
        "the split path ranks on the manifest, fetches the parts of its candidates and renders them (`src/context/SplitContext.ts`).",
      "",
      "| document, language, budget | questions | same tables as the whole document | whole document's tables also in split | same best table | all gold tables, whole / split | gold table recall, whole / split | candidates | parts fetched (of all) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    ]
    const disagreements: Array<string> = []
    for (const variant of await variants()) {
      const doc = variant.document(dev.tables, null)
      const split = splitInMemory(doc)
      const tag = variant.name === "without glossary" ? "plain" : "glossary"
      for (const [language, questions] of languages) {
        for (const budget of BUDGETS) {
          const c = compare(questions, doc, split, catalog, budget, tag === "glossary" && language === "English" && budget === 2000 ? disagreements : undefined)
          const key = `${tag}_${language === "English" ? "en" : "ko"}_${budget}`
          figures[`${key}_agreement`] = c.sameTables / c.questions
          figures[`${key}_overlap`] = c.sharedTables / c.singleTables
          figures[`${key}_same_first`] = c.sameFirst / c.questions
          figures[`${key}_recall_single`] = c.foundSingle / c.goldTables
          figures[`${key}_recall_split`] = c.foundSplit / c.goldTables
          figures[`${key}_all_single`] = c.allGoldSingle / c.questions
          figures[`${key}_all_split`] = c.allGoldSplit / c.questions
          lines.push(
            `| ${variant.name}, ${language}, ${budget} | ${c.questions} | ${pct(c.sameTables, c.questions)} | ${pct(c.sharedTables, c.singleTables)} | ${pct(c.sameFirst, c.questions)} | ${pct(c.allGoldSingle, c.questions)} / ${pct(c.allGoldSplit, c.questions)} | ` +
              `${pct(c.foundSingle, c.goldTables)} / ${pct(c.foundSplit, c.goldTables)} | ${(c.candidates / c.questions).toFixed(1)} | ` +
              `${(c.partsFetched / c.questions).toFixed(1)} (of ${split.manifest.parts.length}) |`
          )
        }
      }
    }
    const notes = disagreements.length === 0
      ? []
      : ["", "Questions (with the glossary, English, 2,000 tokens) where the two paths render different tables:", "", ...disagreements.map((d) => `- ${d}`)]
    return { markdown: [...lines, ...notes].join("\n"), figures }
  }
}
