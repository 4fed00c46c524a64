/**
 * The document's relationships as a graph of tables, for the loader and the prompt context: the
 * relationships of a table, and the shortest join path between two tables (fewest joins; among
 * equals, the most confident). Built once per document and kept beside it.
 */
import type { CacheDocument } from "../contract/CacheDocument.ts"
import type { Relationship } from "../contract/Relationship.ts"

export interface JoinGraph {
  /** Every relationship with `tableId` on either end, most confident first. */
  readonly relationshipsOf: (tableId: string) => ReadonlyArray<Relationship>
  /**
   * The relationships to follow from `from` to `to`, in order (each read in either direction);
   * `[]` when `from` is `to`, `null` when they do not connect within `maxJoins`.
   */
  readonly path: (from: string, to: string, maxJoins?: number) => ReadonlyArray<Relationship> | null
}

const graphs = new WeakMap<CacheDocument, JoinGraph>()

export const DEFAULT_MAX_JOINS = 4

const build = (document: CacheDocument): JoinGraph => {
  const edges = new Map<string, Array<Relationship>>()
  const add = (id: string, r: Relationship) => {
    const list = edges.get(id) ?? []
    list.push(r)
    edges.set(id, list)
  }
  for (const r of document.relationships) {
    add(r.from.table_id, r)
    if (r.to.table_id !== r.from.table_id) add(r.to.table_id, r)
  }
  for (const list of edges.values()) list.sort((a, b) => b.confidence - a.confidence)
  const relationshipsOf = (tableId: string) => edges.get(tableId) ?? []
  const path = (from: string, to: string, maxJoins = DEFAULT_MAX_JOINS) => {
    if (from === to) return []
    // Breadth-first: the first time `to` is reached is by the fewest joins; edges are tried most confident first.
    const via = new Map<string, { readonly previous: string; readonly edge: Relationship }>([[from, { previous: from, edge: undefined as never }]])
    let frontier = [from]
    for (let depth = 0; depth < maxJoins && frontier.length > 0; depth++) {
      const next: Array<string> = []
      for (const table of frontier) {
        for (const edge of relationshipsOf(table)) {
          const other = edge.from.table_id === table ? edge.to.table_id : edge.from.table_id
          if (via.has(other)) continue
          via.set(other, { previous: table, edge })
          if (other === to) {
            const steps: Array<Relationship> = []
            for (let at = to; at !== from; at = via.get(at)!.previous) steps.unshift(via.get(at)!.edge)
            return steps
          }
          next.push(other)
        }
      }
      frontier = next
    }
    return null
  }
  return { relationshipsOf, path }
}

/** The join graph of `document`, built on first use. */
export const joinGraphOf = (document: CacheDocument): JoinGraph => {
  let graph = graphs.get(document)
  if (graph === undefined) {
    graph = build(document)
    graphs.set(document, graph)
  }
  return graph
}
