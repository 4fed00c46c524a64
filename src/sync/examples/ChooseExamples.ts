/**
 * Choice by value: of a table's validated candidates, keep the ones that together show the most —
 * its joins, its key columns, its distinct query shapes, its nested paths — within a per-table cap,
 * and record on each what it added (`kept_because`). Curated examples are always kept and do not
 * count against the cap; a candidate that adds nothing new is dropped.
 *
 * An example belongs to one table: a join example to the table that holds the foreign key (the
 * child, or the bridge between two parents), any other to the first table it reads. So the choice
 * for a table depends only on that table's candidates and the relationship graph: the same inputs
 * always give the same choice.
 */
import type { Example } from "../../contract/CacheDocument.ts"
import type { Relationship } from "../../contract/Relationship.ts"

/** Examples kept per table besides its curated ones. */
export const EXAMPLES_PER_TABLE = 16

/** Generated sources, best first: what a warehouse's own users ran, then what needs a join, then the rest. */
const PRIORITY = (example: Example): number => {
  const family = example.generator.split(":")[0]
  return family === "query_log" ? 0 : family === "glossary" ? 1 : family === "join" ? 2 : example.source === "llm" ? 4 : 3
}

/** `join:top_parents_by_child_count` → `top_parents_by_child_count`; `llm:claude-…` → `llm`. */
const shapeOf = (example: Example): string =>
  example.source === "llm" ? "llm" : example.generator.startsWith("query_log:") ? "query_log" : example.generator.split(":").slice(1).join(":") || example.generator

/** The words in a SQL text that may name columns: identifiers, backquoted or bare. */
const identifiersOf = (sql: string): ReadonlySet<string> =>
  new Set([...sql.matchAll(/`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b/g)].flatMap((m) => (m[1] ?? m[2] ?? "").toLowerCase().split(".")))

/** What an example shows that another may not: its join, key columns it uses, its shape, its UNNEST depth. */
export const featuresOf = (example: Example, keyColumns: ReadonlyMap<string, ReadonlySet<string>>): ReadonlyArray<string> => {
  const features: Array<string> = []
  features.push(`shape ${shapeOf(example)}`)
  if (example.tables.length > 1) {
    // A join is worth showing in more than one shape: counted per parent, filtered, aggregated first.
    const join = [...example.tables].map((t) => t.slice(t.lastIndexOf(".") + 1)).sort().join("+")
    features.push(`join ${join}`, `join ${join} as ${shapeOf(example)}`)
  }
  // The SQL's identifiers are read only when a table of the example has key columns (most have none).
  let ids: ReadonlySet<string> | undefined
  for (const table of example.tables) {
    for (const key of keyColumns.get(table) ?? []) {
      ids ??= identifiersOf(example.sql)
      if (ids.has(key)) features.push(`key column ${key}`)
    }
  }
  // What the warehouse's users ran is worth keeping for that alone.
  if (example.generator.startsWith("query_log:")) features.push(`logged: ${example.generator.slice("query_log:".length)}`)
  const unnests = (example.sql.match(/\bUNNEST\s*\(/gi) ?? []).length
  if (unnests > 0) features.push(`nested depth ${unnests}`)
  return [...new Set(features)]
}

/** Key columns per table: the columns of its relationships, either end. */
export const keyColumnsOf = (relationships: ReadonlyArray<Relationship>): Map<string, Set<string>> => {
  const keys = new Map<string, Set<string>>()
  const add = (table: string, columns: ReadonlyArray<string>) => {
    const set = keys.get(table) ?? new Set<string>()
    for (const c of columns) set.add(c.toLowerCase())
    keys.set(table, set)
  }
  for (const r of relationships) {
    add(r.from.table_id, r.from.columns)
    add(r.to.table_id, r.to.columns)
  }
  return keys
}

/**
 * The examples kept, in their given order: every curated one, and per table at most `cap` others
 * chosen greedily by how many features they add (ties: source priority, then given order).
 */
export const chooseExamples = (
  candidates: ReadonlyArray<Example>,
  relationships: ReadonlyArray<Relationship>,
  cap: number = EXAMPLES_PER_TABLE
): ReadonlyArray<Example> => {
  const keys = keyColumnsOf(relationships)
  const byTable = new Map<string, Array<number>>()
  const homeOf = (example: Example): string => {
    const reads = new Set<string>(example.tables)
    const child = example.tables.length > 1
      ? example.tables.find((t) => relationships.some((r) => r.from.table_id === t && r.to.table_id !== t && reads.has(r.to.table_id)))
      : undefined
    return child ?? example.tables[0]!
  }
  candidates.forEach((example, i) => {
    if (example.source === "curated" || example.tables.length === 0) return
    const home = homeOf(example)
    byTable.set(home, [...(byTable.get(home) ?? []), i])
  })
  const kept = new Map<number, ReadonlyArray<string>>()
  for (const indexes of byTable.values()) {
    const seen = new Set<string>()
    // Curated examples of the table already show what they show.
    for (const e of candidates) {
      if (e.source === "curated" && e.tables.length > 0 && homeOf(e) === homeOf(candidates[indexes[0]!]!)) {
        for (const f of featuresOf(e, keys)) seen.add(f)
      }
    }
    const features = new Map(indexes.map((i) => [i, featuresOf(candidates[i]!, keys)]))
    const left = new Set(indexes)
    while (left.size > 0 && kept.size < Number.MAX_SAFE_INTEGER) {
      let best: { index: number; added: ReadonlyArray<string> } | null = null
      for (const i of left) {
        const added = features.get(i)!.filter((f) => !seen.has(f))
        if (added.length === 0) continue
        if (
          best === null || added.length > best.added.length ||
          added.length === best.added.length && PRIORITY(candidates[i]!) < PRIORITY(candidates[best.index]!)
        ) best = { index: i, added }
      }
      if (best === null || indexes.filter((i) => kept.has(i)).length >= cap) break
      kept.set(best.index, best.added)
      left.delete(best.index)
      for (const f of best.added) seen.add(f)
    }
  }
  return candidates.flatMap((example, i) => {
    if (example.source === "curated") return [example]
    const why = kept.get(i)
    return why === undefined ? [] : [{ ...example, kept_because: why }]
  })
}
