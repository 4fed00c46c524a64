/**
 * How the tables join: the document's relationship graph.
 *
 * A relationship says that the referencing (child) table's columns hold values of the referenced
 * (parent) table's columns — a foreign key, declared or not. Each one records where it came from,
 * how sure MetaSync is, a short piece of evidence a person can check, and the cardinality when it
 * is known. Tables may sit in different datasets or projects.
 *
 * Sources, from most to least trusted (a relationship found by several is kept once, from the most
 * trusted, its evidence listing the others):
 * - `curated`: a relationships file written by people, beside the curated examples;
 * - `declared`: BigQuery primary and foreign keys (unenforced, but stated by the table's owner);
 * - `dbt`: a `relationships` test in a dbt manifest;
 * - `query_log`: join predicates of queries that ran successfully;
 * - `inferred`: column names, descriptions, key-like parent columns and compatible types.
 *
 * This module is shared by the sync and the backend: it imports nothing but `effect`.
 */
import * as Schema from "effect/Schema"
import { TableId } from "./TableId.ts"

/** Where a relationship came from, most trusted first. */
export const RelationshipSource = Schema.Literal("curated", "declared", "dbt", "query_log", "inferred").annotations({
  identifier: "RelationshipSource"
})
export type RelationshipSource = typeof RelationshipSource.Type

/** Precedence of the sources: a lower rank wins when two sources describe the same relationship. */
export const SOURCE_RANK: Readonly<Record<RelationshipSource, number>> = {
  curated: 0,
  declared: 1,
  dbt: 2,
  query_log: 3,
  inferred: 4
}

/**
 * How many parent rows one child row meets: `many-to-one` (many child rows per parent row, the
 * ordinary foreign key) or `one-to-one` (the child column is unique too).
 */
export const Cardinality = Schema.Literal("many-to-one", "one-to-one").annotations({ identifier: "Cardinality" })
export type Cardinality = typeof Cardinality.Type

/** One end of a relationship: a table and its columns, in the order they pair up. */
export const RelationshipEnd = Schema.Struct({
  table_id: TableId,
  /** Top-level column names or dotted paths (`customer.id`); as many as the other end has. */
  columns: Schema.NonEmptyArray(Schema.NonEmptyString)
}).annotations({ identifier: "RelationshipEnd" })
export type RelationshipEnd = typeof RelationshipEnd.Type

/** `from.columns[i] = to.columns[i]` for every i joins a child row to its parent row. */
export const Relationship = Schema.Struct({
  /** The referencing (child) side. */
  from: RelationshipEnd,
  /** The referenced (parent) side: usually its key. */
  to: RelationshipEnd,
  source: RelationshipSource,
  /** 1 for declared, curated and dbt-tested keys; lower for inferred and logged ones, lower still when ambiguous. */
  confidence: Schema.Number.pipe(Schema.between(0, 1)),
  /** A short reason a person can check: the constraint, the description that says it, the query count. */
  evidence: Schema.String,
  /** `null` when unknown. */
  cardinality: Schema.optionalWith(Schema.NullOr(Cardinality), { default: () => null })
}).pipe(
  Schema.filter((r) =>
    r.from.columns.length === r.to.columns.length
      ? undefined
      : `from has ${r.from.columns.length} columns and to has ${r.to.columns.length}: they must pair up`
  )
).annotations({ identifier: "Relationship" })
export type Relationship = typeof Relationship.Type
export type RelationshipEncoded = typeof Relationship.Encoded

/** A stable key of a relationship's two ends, whatever its source: `child(cols)->parent(cols)`. */
export const relationshipKey = (r: Pick<Relationship, "from" | "to">): string =>
  `${r.from.table_id}(${r.from.columns.join(",")})->${r.to.table_id}(${r.to.columns.join(",")})`

/** The same pairing read the other way round (for folding `a.x = b.y` and `b.y = a.x`). */
export const reversedKey = (r: Pick<Relationship, "from" | "to">): string => relationshipKey({ from: r.to, to: r.from })

/** `publication.cid → conference.cid (many-to-one)`: table names without project and dataset. */
export const describeRelationship = (r: Relationship, qualified = false): string => {
  const name = (id: string) => (qualified ? id : id.slice(id.lastIndexOf(".") + 1))
  const end = (e: RelationshipEnd) =>
    e.columns.length === 1 ? `${name(e.table_id)}.${e.columns[0]}` : `${name(e.table_id)}.(${e.columns.join(", ")})`
  return `${end(r.from)} → ${end(r.to)}${r.cardinality === null ? "" : ` (${r.cardinality})`}`
}

/**
 * Folds relationships from several sources into one list: one entry per pair of ends (either
 * direction), from the most trusted source; the evidence of the others is appended. Sorted by
 * child table, then parent table, for a stable document.
 */
export const mergeRelationships = (all: ReadonlyArray<Relationship>): Array<Relationship> => {
  const byKey = new Map<string, { best: Relationship; others: Array<Relationship> }>()
  const sorted = [...all].sort((a, b) => SOURCE_RANK[a.source] - SOURCE_RANK[b.source] || b.confidence - a.confidence)
  for (const r of sorted) {
    const existing = byKey.get(relationshipKey(r)) ?? byKey.get(reversedKey(r))
    if (existing === undefined) byKey.set(relationshipKey(r), { best: r, others: [] })
    else existing.others.push(r)
  }
  const merged = [...byKey.values()].map(({ best, others }) => {
    const extra = [...new Set(others.filter((o) => o.source !== best.source).map((o) => `${o.source}: ${o.evidence}`))]
    return {
      ...best,
      confidence: Math.max(best.confidence, ...others.map((o) => o.confidence * (o.source === "inferred" ? 0 : 1))),
      cardinality: best.cardinality ?? others.find((o) => o.cardinality !== null)?.cardinality ?? null,
      evidence: extra.length === 0 ? best.evidence : `${best.evidence}; also ${extra.join("; ")}`
    }
  })
  const keyed = merged.map((r) => [relationshipKey(r), r] as const)
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return keyed.map(([, r]) => r)
}
