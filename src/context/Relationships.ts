/**
 * The relationship graph's use in the context: bridges (a table that joins the chosen ones only
 * through others brings those others in first) and join hints between the chosen tables.
 */
import { describeRelationship, type Relationship } from "../contract/Relationship.ts"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { joinGraphOf } from "./JoinGraph.ts"
import { inline } from "./Render.ts"

/**
 * `candidates` in rank order, except that a table which joins the tables before it only through
 * others is preceded by those others (the shortest join path, at most `MAX_BRIDGE_JOINS` joins):
 * the bridge comes in ahead of lower-ranked, unrelated tables (when `canBridge` allows each table on
 * the path). Then the tables the leading ones
 * join to directly, most confident first.
 */
const MAX_BRIDGE_JOINS = 3
export const withBridges = (
  document: CacheDocument,
  candidates: ReadonlyArray<number>,
  maxTables: number,
  canBridge: (t: number) => boolean = () => true
): Array<number> => {
  if (document.relationships.length === 0) return [...candidates]
  // Only the leading candidates can be rendered; the rest follow in rank order, unbridged.
  const head = candidates.slice(0, maxTables)
  const graph = joinGraphOf(document)
  const position = new Map(document.tables.map((t, i) => [t.table_id as string, i]))
  const idOf = (i: number) => document.tables[i]!.table_id as string
  const out: Array<number> = []
  for (const t of head) {
    if (out.includes(t)) continue
    const direct = out.some((o) => graph.path(idOf(o), idOf(t), 1) !== null)
    if (out.length > 0 && !direct) {
      let best: { readonly from: number; readonly steps: ReadonlyArray<Relationship> } | null = null
      for (const o of out) {
        const steps = graph.path(idOf(o), idOf(t), MAX_BRIDGE_JOINS)
        if (steps !== null && (best === null || steps.length < best.steps.length)) best = { from: o, steps }
      }
      const through = (steps: ReadonlyArray<Relationship>, from: number) => {
        let at = idOf(from)
        const tables: Array<number> = []
        for (const step of steps.slice(0, -1)) {
          at = step.from.table_id === at ? step.to.table_id : step.from.table_id
          const bridge = position.get(at)
          if (bridge !== undefined) tables.push(bridge)
        }
        return tables
      }
      if (best !== null && through(best.steps, best.from).every(canBridge)) {
        let at = idOf(best.from)
        for (const step of best.steps.slice(0, -1)) {
          at = step.from.table_id === at ? step.to.table_id : step.from.table_id
          const bridge = position.get(at)
          if (bridge !== undefined && !out.includes(bridge)) out.push(bridge)
        }
      }
    }
    out.push(t)
  }
  const placed = new Set(out)
  for (const t of candidates.slice(maxTables)) if (!placed.has(t)) out.push(t)
  // A question about customers often needs the table of their transactions, whose name it does not say.
  for (const t of head) {
    for (const r of graph.relationshipsOf(idOf(t))) {
      const other = position.get(r.from.table_id === idOf(t) ? r.to.table_id : r.from.table_id)
      if (other !== undefined && !placed.has(other)) {
        placed.add(other)
        out.push(other)
      }
    }
  }
  return out
}

/** The join hints between `t` and the tables already chosen, e.g. `- publication.cid → conference.cid (many-to-one)`. */
export const joinLines = (document: CacheDocument, t: number, chosen: ReadonlySet<number>): ReadonlyArray<string> => {
  if (document.relationships.length === 0) return []
  const id = document.tables[t]!.table_id as string
  const ids = new Set([...chosen].map((c) => document.tables[c]!.table_id as string))
  return joinGraphOf(document).relationshipsOf(id)
    .filter((r) => (r.from.table_id === id ? ids.has(r.to.table_id) || r.to.table_id === id : ids.has(r.from.table_id)))
    .map((r) => `- ${inline(describeRelationship(r), 600)}`)
}
