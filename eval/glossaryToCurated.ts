/**
 * Turns the join sentences of the Defog glossaries into curated relationships files, as a person
 * would write them from the same text (`node eval/glossaryToCurated.ts` rewrites
 * `eval/fixtures/curated-from-glossaries/`). Two sentence shapes occur:
 *
 * - "sbTicker can be joined to sbDailyPrice on sbTickerId": the column is the first table's; the
 *   second table's column is the one named the same, or ending in the same words
 *   (`sbDpTickerId`);
 * - "`cars.id` can be joined with `car_id` from `sales` and `inventory_snapshots` tables".
 */
import { mkdirSync, writeFileSync } from "node:fs"
import type { TableEntry } from "../src/contract/TableEntry.ts"
import { words } from "../src/sync/relationships/infer.ts"
import { loadDevSet, PROJECT } from "./devSet.ts"

interface Line { from: string; to: string; note: string }

const columnLike = (table: TableEntry | undefined, column: string): string | undefined => {
  if (table === undefined) return undefined
  const exact = table.columns.find((c) => c.name.toLowerCase() === column.toLowerCase())
  if (exact !== undefined) return exact.name
  const tail = words(column).slice(1).join(" ")
  return table.columns.find((c) => tail !== "" && words(c.name).join(" ").endsWith(tail))?.name
}

export const glossaryRelationships = (db: string, glossary: string, tables: ReadonlyArray<TableEntry>): Array<Line> => {
  const table = (name: string) => tables.find((t) => t.table_id === `${PROJECT}.${db}.${name}`)
  const out: Array<Line> = []
  for (const raw of glossary.split("\n")) {
    const line = raw.replace(/^\s*-\s*/, "").trim()
    const simple = /^(\w+) can be joined (?:to|with) (\w+) on (\w+)$/i.exec(line)
    if (simple !== null) {
      const [, a, b, col] = simple as unknown as [string, string, string, string]
      const parentColumn = columnLike(table(a), col)
      const childColumn = columnLike(table(b), col)
      if (parentColumn !== undefined && childColumn !== undefined) {
        out.push({ from: `${PROJECT}.${db}.${b}.${childColumn}`, to: `${PROJECT}.${db}.${a}.${parentColumn}`, note: `glossary: ${line}` })
      }
      continue
    }
    const listed = /^`(\w+)\.(\w+)` can be joined with `(\w+)` from (.+) tables?$/i.exec(line)
    if (listed !== null) {
      const [, parent, key, column, rest] = listed as unknown as [string, string, string, string, string]
      for (const child of [...rest.matchAll(/`(\w+)`/g)].map((m) => m[1]!)) {
        out.push({ from: `${PROJECT}.${db}.${child}.${column}`, to: `${PROJECT}.${db}.${parent}.${key}`, note: `glossary: ${line}` })
      }
    }
  }
  return out
}

export const CURATED_DIR = new URL("./fixtures/curated-from-glossaries/", import.meta.url)

if (import.meta.url === `file://${process.argv[1]}`) {
  const dev = await loadDevSet()
  mkdirSync(CURATED_DIR, { recursive: true })
  for (const [db, glossary] of [...dev.glossaries].sort()) {
    const lines = glossaryRelationships(db, glossary, dev.tables)
    if (lines.length === 0) continue
    const yaml = [
      `# From the glossary of defog-data's ${db}.json (see ../defog-dev/SOURCES.md), by eval/glossaryToCurated.ts.`,
      "relationships:",
      ...lines.flatMap((l) => [`  - from: ${l.from}`, `    to: ${l.to}`, "    cardinality: many-to-one", `    note: ${JSON.stringify(l.note)}`])
    ].join("\n")
    writeFileSync(new URL(`${db}.relationships.yaml`, CURATED_DIR), `${yaml}\n`)
    console.log(`${db}: ${lines.length} relationships`)
  }
}
