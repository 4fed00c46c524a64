/**
 * Turns the term sentences of the Defog glossaries into curated glossary files, as a person would
 * write them from the same text (`node eval/glossaryToGlossary.ts` rewrites
 * `eval/fixtures/glossary-from-defog/`); the join sentences are the relationships converter's
 * (`glossaryToCurated.ts`). Sentence shapes:
 *
 * - "ADV (Average Daily Volume) for a ticker = AVG(sbDpVolume) from sbDailyPrice table for that ticker"
 * - "Total Sales = SUM(sale_price) from `sales` table", "Profit = Total Sales - Total Payments Made"
 * - anything else that names a table or column ("Always use sales.sale_date instead of …"): an instruction.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { stringify } from "yaml"
import type { TableEntry } from "../src/contract/TableEntry.ts"
import { loadDevSet, PROJECT } from "./devSet.ts"

interface Term {
  term: string
  synonyms?: Array<string>
  definition?: string
  sql?: string
  tables?: Array<string>
  columns?: Array<string>
  instructions?: string
}

const JOIN = /can be joined/i
const DEFINITION = /^(.+?)\s*=\s*(.+)$/

export const glossaryTerms = (db: string, glossary: string, tables: ReadonlyArray<TableEntry>): Array<Term> => {
  const ours = tables.filter((t) => t.table_id.startsWith(`${PROJECT}.${db}.`))
  const short = (t: TableEntry) => t.table_id.slice(t.table_id.lastIndexOf(".") + 1)
  const mentioned = (text: string) => {
    const found = { tables: new Set<string>(), columns: new Set<string>() }
    for (const t of ours) if (new RegExp(`\\b${short(t)}\\b`).test(text)) found.tables.add(t.table_id)
    // `table.column`, or a bare column of a table the sentence names.
    for (const t of ours) {
      for (const c of t.columns) {
        const qualified = new RegExp(`\\b${short(t)}\\.${c.name}\\b`).test(text)
        const bare = found.tables.has(t.table_id) && new RegExp(`(?<!\\.)\\b${c.name}\\b`).test(text)
        if (qualified || bare) found.columns.add(`${t.table_id}.${c.name}`)
      }
    }
    return found
  }
  const out: Array<Term> = []
  for (const raw of glossary.split("\n")) {
    const line = raw.replace(/^\s*-\s*/, "").trim()
    if (line === "" || JOIN.test(line)) continue
    const { columns, tables: named } = mentioned(line)
    const definition = DEFINITION.exec(line)
    if (definition !== null) {
      const [, left, right] = definition as unknown as [string, string, string]
      const head = /^(.+?)\s*\(([^)]+)\)\s*(.*)$/.exec(left)
      const term = (head?.[1] ?? left).trim()
      const synonyms = head === null ? [] : [head[2]!.trim()]
      const sql = right.replace(/\s+from\s+.*$/i, "").trim()
      const entry: Term = { term, ...(synonyms.length > 0 ? { synonyms } : {}), definition: line, sql }
      // A term defined from other terms (`Profit = Total Sales - Total Payments Made`) points where they do.
      for (const other of out) {
        if (!right.includes(other.term)) continue
        for (const t of other.tables ?? []) named.add(t)
        for (const c of other.columns ?? []) columns.add(c)
      }
      if (named.size > 0) entry.tables = [...named]
      if (columns.size > 0) entry.columns = [...columns]
      out.push(entry)
      continue
    }
    if (named.size > 0 || columns.size > 0) {
      out.push({
        term: (/\bwhen (?:getting |computing |asked for )?(.+?)\.?$/i.exec(line)?.[1] ?? line.split(/\s+/).slice(0, 4).join(" ")).trim(),
        instructions: line,
        ...(named.size > 0 ? { tables: [...named] } : {}),
        ...(columns.size > 0 ? { columns: [...columns] } : {})
      })
    }
  }
  return out
}

export const GLOSSARY_DIR = new URL("./fixtures/glossary-from-defog/", import.meta.url)

if (import.meta.url === `file://${process.argv[1]}`) {
  const dev = await loadDevSet()
  mkdirSync(GLOSSARY_DIR, { recursive: true })
  for (const [db, glossary] of [...dev.glossaries].sort()) {
    const terms = glossaryTerms(db, glossary, dev.tables)
    if (terms.length === 0) continue
    const header = `# From the glossary of defog-data's ${db}.json (see ../defog-dev/SOURCES.md), by eval/glossaryToGlossary.ts.\n`
    writeFileSync(new URL(`${db}.glossary.yaml`, GLOSSARY_DIR), header + stringify({ terms }, { lineWidth: 0 }))
    console.log(`${db}: ${terms.length} terms`)
  }
}
