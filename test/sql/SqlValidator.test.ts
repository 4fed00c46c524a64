import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"
import type { RestTable } from "../../src/services/BigQuery/TableResource.ts"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { type SqlRejectionReason, validateSql } from "../../src/sql/SqlValidator.ts"

const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")

const fixtureFields = (dataset: string, table: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/bigquery/${dataset}.${table}.schema.json`, import.meta.url), "utf8"))

const fixture = (dataset: string, table: string) =>
  tableMetadataFromRest({ project: "bigquery-public-data", dataset, table }, { schema: { fields: fixtureFields(dataset, table) } }, now)

const partitioned = (table: string, resource: RestTable) =>
  tableMetadataFromRest({ project: "my-project", dataset: "shop", table }, resource, now)

const ga4 = fixture("ga4_obfuscated_sample_ecommerce", "events_20210131")
const hn = fixture("hacker_news", "full")
const orders = partitioned("orders", {
  timePartitioning: { type: "DAY", field: "order_date", requirePartitionFilter: true },
  schema: {
    fields: [
      { name: "order_date", type: "DATE" },
      { name: "status", type: "STRING" },
      { name: "amount", type: "NUMERIC" }
    ]
  }
})
const ingested = partitioned("ingested", {
  timePartitioning: { type: "DAY", requirePartitionFilter: true },
  schema: { fields: [{ name: "payload", type: "STRING" }] }
})
const meters = partitioned("meters", {
  schema: { fields: [{ name: "load", type: "FLOAT" }, { name: "begin", type: "TIMESTAMP" }, { name: "export", type: "STRING" }] }
})
/** A date-sharded GA4 family, catalogued under its wildcard id. */
const ga4Family = tableMetadataFromRest(
  { project: "nlq-ex", dataset: "ga4", table: "events_*" },
  { schema: { fields: fixtureFields("ga4_obfuscated_sample_ecommerce", "events_20210131") } },
  now
)
/** A sharded family of ingestion-time partitioned shards that require a partition filter. */
const loggedFamily = partitioned("logs_*", {
  timePartitioning: { type: "DAY", requirePartitionFilter: true },
  schema: { fields: [{ name: "message", type: "STRING" }] }
})
const catalog = { tables: [ga4, hn, orders, ingested, meters, ga4Family, loggedFamily] }

const G = "`bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131`"
const H = "`bigquery-public-data.hacker_news.full`"
const O = "`my-project.shop.orders`"
const I = "`my-project.shop.ingested`"
const W = "`nlq-ex.ga4.events_*`"

const rejection = (sql: string) => {
  const verdict = validateSql(sql, catalog)
  if (Either.isRight(verdict)) throw new Error(`accepted: ${sql}`)
  return verdict.left
}

const expectRejected = (sql: string, reason: SqlRejectionReason, mentions?: string) => {
  const refused = rejection(sql)
  expect(refused.reason, `${sql}\n→ ${refused.message}`).toBe(reason)
  if (mentions !== undefined) expect(refused.message).toContain(mentions)
}

const accepted = (sql: string) => {
  const verdict = validateSql(sql, catalog)
  if (Either.isLeft(verdict)) throw new Error(`rejected (${verdict.left.reason}): ${verdict.left.message}\n${sql}`)
  return verdict.right
}

describe("validateSql accepts", () => {
  const valid: ReadonlyArray<readonly [string, string]> = [
    ["the seed's example", `SELECT COUNT(*) AS total_events FROM ${G}`],
    ["SELECT * from a known table", `SELECT * FROM ${H}`],
    ["a trailing semicolon", `SELECT COUNT(*) FROM ${H};`],
    ["case-insensitive column names", `SELECT EVENT_NAME, Geo.Country FROM ${G}`],
    ["nested STRUCT fields", `SELECT geo.country, device.web_info.browser, COUNT(*) AS n FROM ${G} GROUP BY geo.country, device.web_info.browser`],
    ["GA4 comma UNNEST", `SELECT param.value.string_value FROM ${G}, UNNEST(event_params) AS param`],
    [
      "GA4 CROSS JOIN UNNEST grouped by key",
      `SELECT param.key, COUNT(*) AS n FROM ${G} CROSS JOIN UNNEST(event_params) AS param GROUP BY param.key ORDER BY n DESC LIMIT 10`
    ],
    [
      "GA4 correlated subquery over UNNEST",
      `SELECT (SELECT value.int_value FROM UNNEST(event_params) WHERE key = 'ga_session_id') AS session_id, user_pseudo_id FROM ${G}`
    ],
    ["UNNEST through a table alias", `SELECT t.event_name, i.item_name, i.price FROM ${G} AS t, UNNEST(t.items) AS i WHERE i.price > 10`],
    ["an array path in FROM", `SELECT t.event_name, i.item_name FROM ${G} AS t, t.items AS i`],
    ["UNNEST WITH OFFSET", `SELECT ep.key, pos FROM ${G} CROSS JOIN UNNEST(event_params) AS ep WITH OFFSET AS pos`],
    ["an array subscript", `SELECT items[SAFE_OFFSET(0)].item_name AS first_item FROM ${G}`],
    [
      "EXISTS over UNNEST",
      `SELECT COUNT(*) AS n FROM ${G} WHERE EXISTS (SELECT 1 FROM UNNEST(event_params) AS p WHERE p.key = 'page_location')`
    ],
    [
      "a CTE with its own column aliases",
      `WITH daily AS (SELECT PARSE_DATE('%Y%m%d', event_date) AS day, COUNT(DISTINCT user_pseudo_id) AS users FROM ${G} GROUP BY day) SELECT day, users FROM daily WHERE users > 10 ORDER BY day`
    ],
    [
      "chained CTEs and a subquery using one",
      `WITH a AS (SELECT event_name, user_pseudo_id FROM ${G}), b AS (SELECT event_name FROM a) SELECT event_name FROM b WHERE event_name IN (SELECT event_name FROM a)`
    ],
    [
      "a derived table",
      `SELECT sub.country, sub.n FROM (SELECT geo.country AS country, COUNT(*) AS n FROM ${G} GROUP BY country) AS sub ORDER BY sub.n DESC LIMIT 5`
    ],
    [
      "window functions",
      `SELECT user_pseudo_id, event_name, ROW_NUMBER() OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp) AS step FROM ${G}`
    ],
    ["a window over an aggregate", `SELECT event_name, COUNT(*) AS n, RANK() OVER (ORDER BY COUNT(*) DESC) AS rnk FROM ${G} GROUP BY event_name`],
    [
      "QUALIFY",
      `SELECT user_pseudo_id, event_name FROM ${G} WHERE event_name IS NOT NULL QUALIFY ROW_NUMBER() OVER (PARTITION BY user_pseudo_id ORDER BY event_timestamp DESC) = 1`
    ],
    [
      "TIMESTAMP_MICROS and PARSE_DATE",
      `SELECT DATE(TIMESTAMP_MICROS(event_timestamp)) AS d, COUNT(*) AS n FROM ${G} WHERE PARSE_DATE('%Y%m%d', event_date) BETWEEN DATE '2021-01-01' AND DATE '2021-01-31' GROUP BY d`
    ],
    ["date parts as arguments", `SELECT \`by\`, DATE_DIFF(CURRENT_DATE(), DATE(\`timestamp\`), DAY) AS age_days FROM ${H} WHERE dead IS TRUE`],
    [
      "UNION ALL",
      `SELECT title FROM ${H} WHERE type = 'story' UNION ALL SELECT text FROM ${H} WHERE type = 'comment'`
    ],
    ["a comment that mentions DELETE", `SELECT COUNT(*) FROM ${H} -- DELETE everything? no.\n`],
    ["a block comment with a semicolon", `/* report; DROP nothing */ SELECT COUNT(*) FROM ${H}`],
    ["injection-looking text in a string", `SELECT COUNT(*) FROM ${G} WHERE event_name = 'x; DROP TABLE y; -- DELETE FROM z'`],
    ["an escaped quote in a string", `SELECT COUNT(*) FROM ${H} WHERE title = 'it\\'s; DROP TABLE x'`],
    ["DML words in a double-quoted string", `SELECT COUNT(*) FROM ${H} WHERE text LIKE "%INSERT INTO x; UPDATE y SET z%"`],
    ["a raw string with a semicolon", `SELECT COUNT(*) FROM ${H} WHERE REGEXP_CONTAINS(url, r'\\d+;EXECUTE IMMEDIATE')`],
    ["a triple-quoted string over lines", `SELECT COUNT(*) FROM ${H} WHERE text = '''line one;\nDROP TABLE two'''`],
    ["the partition filter on a DATE column", `SELECT status, SUM(amount) AS total FROM ${O} WHERE order_date >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY) GROUP BY status`],
    ["the partition filter among other conditions", `SELECT COUNT(*) FROM ${O} WHERE status IS NOT NULL AND order_date = '2024-01-01'`],
    ["_PARTITIONTIME on an ingestion-time table", `SELECT payload FROM ${I} WHERE _PARTITIONTIME >= TIMESTAMP('2024-01-01')`],
    ["_PARTITIONDATE on an ingestion-time table", `SELECT payload FROM ${I} WHERE _PARTITIONDATE = '2024-01-01'`],
    [
      "columns named like non-reserved statement keywords",
      "SELECT export, SUM(load) AS total_load, MIN(begin) AS first_seen FROM `my-project.shop.meters` WHERE (load IS NOT NULL) GROUP BY export"
    ],
    ["STRUCT expansion", `SELECT geo.*, device.web_info.* FROM ${G}`],
    [
      "columns of a derived table after * EXCEPT",
      `SELECT s.title FROM (SELECT * EXCEPT (text) FROM ${H}) AS s`
    ],
    ["a wildcard table filtered on _TABLE_SUFFIX", `SELECT COUNT(*) AS n FROM ${W} WHERE _TABLE_SUFFIX BETWEEN '20210125' AND '20210131'`],
    [
      "_TABLE_SUFFIX as a date, grouped by",
      `SELECT PARSE_DATE('%Y%m%d', _TABLE_SUFFIX) AS day, COUNT(*) AS n FROM ${W} WHERE _table_suffix >= '20210101' GROUP BY day ORDER BY day`
    ],
    [
      "a wildcard table with UNNEST and a correlated subquery",
      `SELECT (SELECT event_param.value.int_value FROM UNNEST(event_params) AS event_param WHERE event_param.key = 'ga_session_id') AS session_id FROM ${W} AS e CROSS JOIN UNNEST(e.items) AS item WHERE _TABLE_SUFFIX = '20210131' AND item.price > 1`
    ],
    ["a wildcard table without a _TABLE_SUFFIX filter", `SELECT event_name, COUNT(*) AS n FROM ${W} GROUP BY event_name`],
    ["_TABLE_SUFFIX compared with a subquery's result", `SELECT COUNT(*) FROM ${W} WHERE _TABLE_SUFFIX IN (SELECT MAX(event_date) FROM ${G})`],
    [
      "a sharded, ingestion-time partitioned family with both filters",
      "SELECT message FROM `my-project.shop.logs_*` WHERE _TABLE_SUFFIX = '20240101' AND _PARTITIONDATE = '2024-01-01'"
    ]
  ]
  for (const [name, sql] of valid) {
    it(name, () => {
      accepted(sql)
    })
  }

  it("reports a wildcard table under its wildcard id", () => {
    expect(accepted(`SELECT COUNT(*) FROM ${W} WHERE _TABLE_SUFFIX BETWEEN '20210125' AND '20210131'`).tables).toEqual([
      ga4Family.table_id
    ])
  })

  it("reports the catalog tables a query reads, in order", () => {
    const result = accepted(`SELECT t.title FROM ${H} AS t WHERE t.id IN (SELECT COUNT(*) FROM ${G})`)
    expect(result.tables).toEqual([hn.table_id, ga4.table_id])
  })

  it("normalises layout, comments and keyword case for dedupe", () => {
    const a = accepted(`select count(*) as n\n  from ${H}   -- all items\n where dead is true;`)
    const b = accepted(`SELECT COUNT(*) AS n FROM ${H} WHERE dead IS TRUE`)
    expect(a.normalized).toBe(b.normalized)
    expect(a.sql).toBe(`select count(*) as n\n  from ${H}   -- all items\n where dead is true`)
  })

  it("keeps string literals distinct when normalising", () => {
    const a = accepted(`SELECT COUNT(*) FROM ${H} WHERE type = 'story'`)
    const b = accepted(`SELECT COUNT(*) FROM ${H} WHERE type = 'STORY'`)
    expect(a.normalized).not.toBe(b.normalized)
  })
})

describe("validateSql refuses", () => {
  it("a second statement after a semicolon", () => {
    expectRejected("SELECT 1; DROP TABLE x", "multiple_statements", "DROP")
    expectRejected(`SELECT * FROM ${H}; SELECT * FROM ${G}`, "multiple_statements")
  })

  it("a second statement hidden behind an escaped backslash", () => {
    expectRejected(`SELECT '\\\\'; DROP TABLE x; --'`, "multiple_statements")
  })

  it("DML and DDL, also after comments", () => {
    expectRejected(`/* harmless */ DELETE FROM ${H} WHERE TRUE`, "not_read_only", "DELETE")
    expectRejected(`-- x\nDELETE FROM ${H} WHERE TRUE`, "not_read_only", "DELETE")
    expectRejected(`# x\nDROP TABLE ${H}`, "not_read_only", "DROP")
    expectRejected(`INSERT INTO ${H} (title) VALUES ('x')`, "not_read_only", "INSERT")
    expectRejected(`UPDATE ${H} SET title = 'x' WHERE TRUE`, "not_read_only", "UPDATE")
    expectRejected(`MERGE ${H} USING ${G} ON FALSE WHEN NOT MATCHED THEN INSERT ROW`, "not_read_only", "MERGE")
    expectRejected("CREATE TABLE `p.d.x` AS SELECT 1", "not_read_only", "CREATE")
    expectRejected(`ALTER TABLE ${H} ADD COLUMN x INT64`, "not_read_only", "ALTER")
    expectRejected(`TRUNCATE TABLE ${H}`, "not_read_only", "TRUNCATE")
    expectRejected(`GRANT \`roles/bigquery.dataViewer\` ON TABLE ${H} TO 'user:a@example.com'`, "not_read_only", "GRANT")
    expectRejected(`REVOKE \`roles/bigquery.dataViewer\` ON TABLE ${H} FROM 'user:a@example.com'`, "not_read_only", "REVOKE")
  })

  it("DML inside a CTE or after a WITH", () => {
    expectRejected(`WITH x AS (DELETE FROM ${H} WHERE TRUE) SELECT 1`, "not_read_only", "DELETE")
    expectRejected(`WITH x AS (SELECT 1 AS a) INSERT INTO ${H} (title) SELECT 'a' FROM x`, "not_read_only", "INSERT")
    expectRejected(`SELECT * FROM (UPDATE ${H} SET title = 'x' WHERE TRUE)`, "not_read_only", "UPDATE")
  })

  it("scripting", () => {
    expectRejected("DECLARE x INT64 DEFAULT 1", "not_read_only", "DECLARE")
    expectRejected("SET x = 1", "not_read_only", "SET")
    expectRejected(`BEGIN SELECT COUNT(*) FROM ${H}; END`, "not_read_only", "BEGIN")
    expectRejected("CALL `p.d.proc`()", "not_read_only", "CALL")
    expectRejected("EXECUTE IMMEDIATE 'DROP TABLE x'", "not_read_only", "EXECUTE")
    expectRejected(`SELECT 1 FROM ${H} WHERE TRUE EXECUTE IMMEDIATE 'x'`, "not_read_only", "EXECUTE IMMEDIATE")
    expectRejected(`SELECT * FROM ${H} WHERE id IN (DECLARE x INT64)`, "not_read_only", "DECLARE")
    expectRejected(`SELECT (BEGIN SELECT 1) FROM ${H}`, "not_read_only", "BEGIN")
  })

  it("EXPORT DATA and LOAD DATA", () => {
    expectRejected(`EXPORT DATA OPTIONS(uri='gs://b/*.csv', format='CSV') AS SELECT * FROM ${H}`, "not_read_only", "EXPORT")
    expectRejected(`LOAD DATA INTO ${H} FROM FILES(format='CSV', uris=['gs://b/x.csv'])`, "not_read_only", "LOAD")
  })

  it("functions that reach outside the catalog", () => {
    expectRejected("SELECT * FROM EXTERNAL_QUERY('us.conn', 'SELECT * FROM users')", "forbidden_function", "EXTERNAL_QUERY")
    expectRejected(`SELECT SAFE.EXTERNAL_QUERY('a', 'b') FROM ${H}`, "forbidden_function", "EXTERNAL_QUERY")
    expectRejected(`SELECT * FROM ML.PREDICT(MODEL \`p.d.m\`, TABLE ${H})`, "forbidden_function", "ML.PREDICT")
    expectRejected("SELECT * FROM `p.d.table_fn`(1)", "forbidden_function", "p.d.table_fn")
  })

  it("tables outside the catalog", () => {
    expectRejected("SELECT * FROM `p.d.nope`", "unknown_table", "p.d.nope")
    expectRejected("SELECT * FROM samples.shakespeare", "unknown_table", "fully qualified")
    expectRejected("SELECT * FROM shakespeare", "unknown_table", "shakespeare")
    expectRejected("SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS", "unknown_table", "INFORMATION_SCHEMA")
    expectRejected(`SELECT * FROM ${H} WHERE id IN (SELECT id FROM \`p.d.secret\`)`, "unknown_table", "p.d.secret")
  })

  it("columns and nested paths that do not exist", () => {
    expectRejected(`SELECT nope FROM ${H}`, "unknown_column", "nope")
    expectRejected(`SELECT geo.nope FROM ${G}`, "unknown_column", "geo has no field nope")
    expectRejected(`SELECT param.nope FROM ${G}, UNNEST(event_params) AS param`, "unknown_column", "nope")
    expectRejected(`SELECT items[OFFSET(0)].nope FROM ${G}`, "unknown_column", "nope")
    expectRejected(`SELECT COUNT(*) FROM ${H} WHERE nope = 1`, "unknown_column", "nope")
    expectRejected(`SELECT x.title FROM ${H} AS t`, "unknown_column", "x.title")
    expectRejected(`WITH a AS (SELECT title FROM ${H}) SELECT score FROM a`, "unknown_column", "score")
    expectRejected(`SELECT s.text FROM (SELECT * EXCEPT (text) FROM ${H}) AS s`, "unknown_column", "text")
    expectRejected(`SELECT event_name AS e FROM ${G} WHERE e = 'x'`, "unknown_column", "e")
    expectRejected(`SELECT event_name.* FROM ${G}`, "unknown_column", "STRING")
  })

  it("a field of a REPEATED record reached without UNNEST", () => {
    expectRejected(`SELECT event_params.key FROM ${G}`, "unknown_column", "UNNEST")
  })

  it("a table that requires a partition filter, queried without one", () => {
    expectRejected(`SELECT COUNT(*) FROM ${O}`, "missing_partition_filter", "order_date")
    expectRejected(`SELECT COUNT(*) FROM ${O} WHERE status = 'paid'`, "missing_partition_filter", "order_date")
    // A condition that also reads another column cannot prune partitions.
    expectRejected(`SELECT COUNT(*) FROM ${O} WHERE order_date >= '2024-01-01' OR status = 'x'`, "missing_partition_filter")
    expectRejected(`SELECT payload FROM ${I}`, "missing_partition_filter", "_PARTITIONTIME")
  })

  it("_TABLE_SUFFIX where no wildcard table is in FROM", () => {
    expectRejected(`SELECT COUNT(*) FROM ${G} WHERE _TABLE_SUFFIX = '20210131'`, "unknown_column", "_TABLE_SUFFIX")
    expectRejected(`SELECT _TABLE_SUFFIX FROM ${H}`, "unknown_column", "_TABLE_SUFFIX")
    // Only the query over the wildcard table sees it, not one wrapped around it.
    expectRejected(
      `SELECT s.n FROM (SELECT COUNT(*) AS n FROM ${W}) AS s WHERE _TABLE_SUFFIX = '20210131'`,
      "unknown_column",
      "_TABLE_SUFFIX"
    )
    expectRejected(`SELECT COUNT(*) FROM ${W} WHERE _TABLE_SUFFIX.x = 'a'`, "unknown_column", "STRING")
  })

  it("wildcard tables that are not in the catalog", () => {
    // A shard of the family is catalogued, but not the family.
    expectRejected(
      "SELECT COUNT(*) FROM `bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_*`",
      "unknown_table",
      "wildcard table bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_*"
    )
    // A narrower wildcard over a catalogued family is a different table.
    expectRejected("SELECT COUNT(*) FROM `nlq-ex.ga4.events_2021*`", "unknown_table", "nlq-ex.ga4.events_2021*")
  })

  it("a _TABLE_SUFFIX filter in place of a required partition filter", () => {
    expectRejected(
      "SELECT message FROM `my-project.shop.logs_*` WHERE _TABLE_SUFFIX = '20240101'",
      "missing_partition_filter",
      "_PARTITIONTIME"
    )
  })

  it("what the parser cannot read, with the parser's message (fail closed)", () => {
    expectRejected("SELECT FROM WHERE", "parse_error", "Expected")
    // Valid BigQuery the parser's grammar lacks: refused rather than let through unchecked.
    expectRejected(`SELECT ARRAY_AGG(title IGNORE NULLS) FROM ${H}`, "parse_error", "Expected")
  })

  it("unterminated strings, comments and empty input", () => {
    expectRejected(`SELECT 'abc FROM ${H}`, "parse_error", "unterminated")
    expectRejected(`SELECT 1 /* never closed`, "parse_error", "unterminated")
    expectRejected("   -- nothing here", "parse_error", "empty")
  })
})
