/**
 * Reviewing the published examples: `metasync examples <table>` lists a table's examples with their
 * source and why each was kept; `metasync examples export` writes the generated ones as curated
 * files (`table:` + `examples:`), so a person can keep the good ones and move the file into the
 * curated directory, where they become golden examples that always win.
 */
import * as DateTime from "effect/DateTime"
import { stringify } from "yaml"
import type { CacheDocument, Example } from "../contract/CacheDocument.ts"

/** The table ids of `doc` that `name` designates: a full id, or a unique `dataset.table` / `table` suffix. */
export const matchTables = (doc: CacheDocument, name: string): ReadonlyArray<string> => {
  const ids = doc.tables.map((t) => t.table_id as string)
  if (ids.includes(name)) return [name]
  return ids.filter((id) => id.endsWith(`.${name}`))
}

/** Examples reading `tableId` (all when `null`), in document order. */
export const examplesOf = (doc: CacheDocument, tableId: string | null): ReadonlyArray<Example> =>
  doc.examples.filter((e) => tableId === null || e.tables.includes(tableId as never))

/** One block per example: source and generator, question, SQL, why kept. */
export const formatExamples = (doc: CacheDocument, tableId: string | null): string => {
  const examples = examplesOf(doc, tableId)
  const bySource = new Map<string, number>()
  for (const e of examples) {
    const family = e.source === "template" ? e.generator.split(":")[0]! : e.source
    bySource.set(family, (bySource.get(family) ?? 0) + 1)
  }
  const header = `${tableId ?? "All tables"}: ${examples.length} examples (${[...bySource].map(([s, n]) => `${s} ${n}`).join(", ") || "none"})`
  return [
    header,
    ...examples.map((e, i) =>
      [
        "",
        `${i + 1}. [${e.source} · ${e.generator}] ${e.question}`,
        ...e.sql.split("\n").map((line) => `   ${line}`),
        ...(e.tables.length > 1 ? [`   joins: ${e.tables.join(", ")}`] : []),
        `   kept because: ${e.source === "curated" ? "curated (always kept)" : e.kept_because?.join("; ") ?? "—"}`
      ].join("\n")
    )
  ].join("\n")
}

/**
 * The generated examples (not curated ones) of each table as curated files: `{ file, text }` per
 * table, the file named after the table, the provenance kept as a comment for the reviewer.
 */
export const exportCandidates = (doc: CacheDocument, tableId: string | null): ReadonlyArray<{ readonly file: string; readonly text: string }> => {
  const byTable = new Map<string, Array<Example>>()
  for (const e of examplesOf(doc, tableId)) {
    if (e.source === "curated" || e.tables.length === 0) continue
    const home = tableId ?? e.tables[0]!
    byTable.set(home, [...(byTable.get(home) ?? []), e])
  }
  return [...byTable].sort(([a], [b]) => a.localeCompare(b)).map(([table, examples]) => {
    const body = stringify({
      table,
      examples: examples.map((e) => ({ question: e.question, sql: `${e.sql.trim()}\n`, language: e.language }))
    }, { lineWidth: 0 })
    const notes = examples.map((e, i) => `#   ${i + 1}. ${e.generator}${e.kept_because === undefined ? "" : ` — ${e.kept_because.join("; ")}`}`)
    return {
      file: `${table.replace(/[^A-Za-z0-9._-]/g, "_")}.candidates.yaml`,
      text: [
        `# Candidate examples for ${table}, from the document generated ${DateTime.formatIso(doc.generated_at)}.`,
        "# Review them: delete what is wrong or dull, fix what is almost right, then move this file into",
        "# the curated examples directory (CURATED_EXAMPLES_DIR) as <name>.yaml, where they always win.",
        "# Where each came from:",
        ...notes,
        body
      ].join("\n")
    }
  })
}
