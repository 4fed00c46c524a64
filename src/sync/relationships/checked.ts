/**
 * Checked relationships (live, opt-in: `RELATIONSHIP_CHECK=on`): each inferred or logged
 * single-column relationship is tried on the data with one sampled query, capped by
 * `MAX_BYTES_BILLED` (a query over the cap fails in BigQuery before it bills, and the relationship
 * stays as it was). The query reads a sample of the child's non-null keys and the parent's keys:
 *
 * - the share of sampled child keys found in the parent becomes the confidence (below half, the
 *   relationship is dropped: the data says it is not one);
 * - whether the parent key is unique, and whether the sampled child keys are, give the
 *   cardinality (many-to-one, one-to-one; a parent key with repeats leaves it unknown).
 *
 * At most `MAX_CHECKS` relationships are checked per run, the most confident first.
 */
import * as Effect from "effect/Effect"
import type { Relationship } from "../../contract/Relationship.ts"
import { BigQueryService } from "../../services/BigQuery/BigQueryService.ts"
import * as Either from "effect/Either"
import { parseTableRef } from "../../contract/TableId.ts"
import { quoteIdentifier, quoteTablePath } from "../../sql/Identifiers.ts"

export const MAX_CHECKS = 50
/** Child keys sampled per check. */
export const SAMPLE_ROWS = 10_000

const tablePath = (id: string) => quoteTablePath(Either.getOrThrow(parseTableRef(id)))

export const checkSql = (r: Relationship) => {
  const child = quoteIdentifier(r.from.columns[0])
  const parent = quoteIdentifier(r.to.columns[0])
  return `WITH c AS (SELECT CAST(${child} AS STRING) AS k FROM ${tablePath(r.from.table_id)} TABLESAMPLE SYSTEM (10 PERCENT) ` +
    `WHERE ${child} IS NOT NULL LIMIT ${SAMPLE_ROWS}), ` +
    `p AS (SELECT CAST(${parent} AS STRING) AS k, COUNT(*) AS n FROM ${tablePath(r.to.table_id)} WHERE ${parent} IS NOT NULL GROUP BY k) ` +
    `SELECT (SELECT COUNT(*) FROM c) AS child_keys, ` +
    `(SELECT COUNT(*) FROM c JOIN p USING (k)) AS found, ` +
    `(SELECT COUNT(DISTINCT k) FROM c) AS child_distinct, ` +
    `(SELECT LOGICAL_AND(n = 1) FROM p) AS parent_unique`
}

const num = (u: unknown) => (typeof u === "number" ? u : Number(u ?? 0))

/** What one check found, applied to the relationship: `null` when the data says it is not one. */
export const applyCheck = (
  r: Relationship,
  row: { readonly child_keys: number; readonly found: number; readonly child_distinct: number; readonly parent_unique: boolean | null }
): Relationship | null => {
  if (row.child_keys === 0) return r
  const share = row.found / row.child_keys
  if (share < 0.5) return null
  const cardinality = row.parent_unique !== true ? null : row.child_distinct === row.child_keys ? "one-to-one" : "many-to-one"
  return {
    ...r,
    confidence: Math.round(Math.max(0.3, Math.min(0.99, share)) * 100) / 100,
    cardinality,
    evidence: `${r.evidence}; checked: ${(share * 100).toFixed(0)} % of ${row.child_keys} sampled keys found${
      row.parent_unique === true ? ", parent key unique" : row.parent_unique === false ? ", parent key repeats" : ""
    }`
  }
}

/** Checks the most confident guessed relationships; the others, and every trusted one, pass unchanged. */
export const checkRelationships = (input: {
  readonly relationships: ReadonlyArray<Relationship>
  readonly project: string
  readonly maximumBytesBilled: number
}) =>
  Effect.gen(function*() {
    const bigquery = yield* BigQueryService
    const guessed = input.relationships
      .filter((r) => (r.source === "inferred" || r.source === "query_log") && r.from.columns.length === 1)
      .sort((a, b) => b.confidence - a.confidence)
      .slice(0, MAX_CHECKS)
    const results = new Map<Relationship, Relationship | null>()
    yield* Effect.forEach(guessed, (r) =>
      Effect.either(bigquery.query(input.project, checkSql(r), { maximumBytesBilled: input.maximumBytesBilled })).pipe(
        Effect.flatMap((read) => {
          if (read._tag === "Left") return Effect.logInfo(`relationship not checked: ${read.left.message}`)
          const row = read.right.rows[0] ?? {}
          results.set(r, applyCheck(r, {
            child_keys: num(row.child_keys),
            found: num(row.found),
            child_distinct: num(row.child_distinct),
            parent_unique: typeof row.parent_unique === "boolean" ? row.parent_unique : null
          }))
          return Effect.void
        })
      ), { concurrency: 4, discard: true })
    return input.relationships.flatMap((r) => {
      if (!results.has(r)) return [r]
      const checked = results.get(r)
      return checked === null || checked === undefined ? [] : [checked]
    })
  })
