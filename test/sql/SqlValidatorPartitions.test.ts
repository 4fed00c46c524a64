/**
 * Partition filters on an ingestion-time partitioned table that requires one (the filter goes on
 * the _PARTITIONTIME / _PARTITIONDATE pseudo columns), and on a column-partitioned one through
 * non-comparison conditions. Expected verdicts and messages are written by hand from the rules in
 * SqlValidator.ts's doc comments (issue #9: mutation survivors).
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { type SqlRejectionReason, validateSql } from "../../src/sql/SqlValidator.ts"

const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")
/** Ingestion-time partitioned, filter required. */
const logs = tableMetadataFromRest({ project: "proj-x", dataset: "d", table: "logs" }, {
  timePartitioning: { type: "DAY", requirePartitionFilter: true },
  schema: { fields: [{ name: "name", type: "STRING" }, { name: "at", type: "TIMESTAMP" }] }
}, now)
/** Partitioned on a column, filter required. */
const sales = tableMetadataFromRest({ project: "proj-x", dataset: "d", table: "sales" }, {
  timePartitioning: { type: "DAY", field: "day", requirePartitionFilter: true },
  schema: { fields: [{ name: "day", type: "DATE" }, { name: "total", type: "NUMERIC" }] }
}, now)
const catalog = { tables: [logs, sales] }
const LOGS = "`proj-x.d.logs`"
const SALES = "`proj-x.d.sales`"

const accepted = (sql: string) => {
  const verdict = validateSql(sql, catalog)
  if (Either.isLeft(verdict)) throw new Error(`rejected (${verdict.left.reason}): ${verdict.left.message}\n${sql}`)
  return verdict.right
}
const expectRefusal = (sql: string, reason: SqlRejectionReason, message: string) => {
  const verdict = validateSql(sql, catalog)
  if (Either.isRight(verdict)) throw new Error(`accepted: ${sql}`)
  expect({ reason: verdict.left.reason, message: verdict.left.message }, sql).toEqual({ reason, message })
}

const ADD_PARTITIONTIME = "proj-x.d.logs requires a partition filter: add a WHERE condition on _PARTITIONTIME"

describe("an ingestion-time partitioned table that requires a filter", () => {
  it("is filtered by a comparison on _PARTITIONTIME or _PARTITIONDATE, under an alias too", () => {
    expect(accepted(`SELECT name FROM ${LOGS} WHERE _PARTITIONTIME >= TIMESTAMP('2024-01-01')`).tables).toEqual([logs.table_id])
    expect(accepted(`SELECT name FROM ${LOGS} WHERE _PARTITIONDATE = '2024-01-01'`).tables).toEqual([logs.table_id])
    expect(accepted(`SELECT l.name FROM ${LOGS} AS l WHERE _PARTITIONDATE = '2024-01-01' AND name = 'x'`).tables).toEqual([logs.table_id])
  })

  it("names _PARTITIONTIME when no condition compares a pseudo column", () => {
    expectRefusal(`SELECT name FROM ${LOGS}`, "missing_partition_filter", ADD_PARTITIONTIME)
    expectRefusal(`SELECT name FROM ${LOGS} WHERE name = 'x'`, "missing_partition_filter", ADD_PARTITIONTIME)
    expectRefusal(`SELECT name FROM ${LOGS} WHERE at > TIMESTAMP('2024-01-01')`, "missing_partition_filter", ADD_PARTITIONTIME)
  })

  it("a comparison that also reads a column of the table does not prune", () => {
    expectRefusal(`SELECT name FROM ${LOGS} WHERE _PARTITIONTIME > at`, "missing_partition_filter", ADD_PARTITIONTIME)
  })

  it("every OR branch must compare a pseudo column", () => {
    expectRefusal(
      `SELECT name FROM ${LOGS} WHERE _PARTITIONDATE = '2024-01-01' OR name = 'x'`,
      "missing_partition_filter",
      "proj-x.d.logs requires a partition filter: the condition on _PARTITIONTIME must hold in every OR branch (a branch that does not compare _PARTITIONTIME alone lets every partition through)"
    )
  })
})

describe("a column-partitioned table that requires a filter", () => {
  it("a call that reads the partition column is no comparison: it prunes nothing", () => {
    expectRefusal(
      `SELECT total FROM ${SALES} WHERE STARTS_WITH(CAST(day AS STRING), '2024')`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: add a WHERE condition on day"
    )
  })

  it("a pseudo column is not the partition column of a column-partitioned table", () => {
    expectRefusal(`SELECT total FROM ${SALES} WHERE _PARTITIONDATE = '2024-01-01'`, "unknown_column", "column _PARTITIONDATE is not in proj-x.d.sales")
  })

  it("a qualified partition column in one OR branch only does not prune", () => {
    expectRefusal(
      `SELECT total FROM ${SALES} AS s WHERE s.day = '2024-01-01' OR s.total > 1`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: the condition on day must hold in every OR branch (a branch that does not compare day alone lets every partition through)"
    )
  })
})
