/**
 * The validator at its edges, over a small hand-made catalog: the exact messages a refusal
 * carries (an author reads them to fix an example), the normalised text (the dedupe key), the
 * lexer's corners and the name resolution's rarer paths. Every expected value is written by hand
 * from the rules in SqlValidator.ts's doc comments, never taken from the validator's output.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import type { RestTable } from "../../src/services/BigQuery/TableResource.ts"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { type SqlRejectionReason, sqlTokens, validateSql } from "../../src/sql/SqlValidator.ts"

const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")
const table = (name: string, resource: RestTable) =>
  tableMetadataFromRest({ project: "proj-x", dataset: "d", table: name }, resource, now)

/** Columns named like statement words, a STRUCT, a REPEATED STRUCT, a REPEATED scalar and a JSON column. */
const words = table("words", {
  schema: {
    fields: [
      { name: "id", type: "INT64" },
      { name: "commit", type: "STRING" },
      { name: "rollback", type: "STRING" },
      { name: "begin", type: "TIMESTAMP" },
      { name: "load", type: "FLOAT" },
      { name: "export", type: "STRING" },
      { name: "doc", type: "JSON" },
      { name: "tags", type: "STRING", mode: "REPEATED" },
      {
        name: "info",
        type: "RECORD",
        fields: [{ name: "city", type: "STRING" }, { name: "zip", type: "STRING" }]
      },
      {
        name: "items",
        type: "RECORD",
        mode: "REPEATED",
        fields: [{ name: "sku", type: "STRING" }, { name: "qty", type: "INT64" }]
      }
    ]
  }
})
/** Partitioned on a column, filter required. */
const sales = table("sales", {
  timePartitioning: { type: "DAY", field: "day", requirePartitionFilter: true },
  schema: { fields: [{ name: "day", type: "DATE" }, { name: "total", type: "NUMERIC" }] }
})
/** Ingestion-time partitioned, filter not required. */
const events = table("events", {
  timePartitioning: { type: "DAY" },
  schema: { fields: [{ name: "name", type: "STRING" }] }
})
/** Partitioned on a column, filter not required: no pseudo columns. */
const visits = table("visits", {
  timePartitioning: { type: "DAY", field: "day" },
  schema: { fields: [{ name: "day", type: "DATE" }, { name: "n", type: "INT64" }] }
})
/** A table with more than 15 columns: a message lists the first 15. */
const wide = table("wide", {
  schema: {
    fields: [{
      name: "s",
      type: "RECORD",
      fields: Array.from({ length: 17 }, (_, i) => ({ name: `c${i + 1}`, type: "STRING" }))
    }]
  }
})
const catalog = { tables: [words, sales, events, visits, wide] }

const WORDS = "`proj-x.d.words`"
const SALES = "`proj-x.d.sales`"
const EVENTS = "`proj-x.d.events`"
const VISITS = "`proj-x.d.visits`"
const KNOWN = "known: proj-x.d.words, proj-x.d.sales, proj-x.d.events, proj-x.d.visits, proj-x.d.wide"

const accepted = (sql: string) => {
  const verdict = validateSql(sql, catalog)
  if (Either.isLeft(verdict)) throw new Error(`rejected (${verdict.left.reason}): ${verdict.left.message}\n${sql}`)
  return verdict.right
}

const refused = (sql: string) => {
  const verdict = validateSql(sql, catalog)
  if (Either.isRight(verdict)) throw new Error(`accepted: ${sql}`)
  return { reason: verdict.left.reason, message: verdict.left.message }
}

const expectRefusal = (sql: string, reason: SqlRejectionReason, message: string) =>
  expect(refused(sql), sql).toEqual({ reason, message })

describe("the lexical guard's messages", () => {
  it("names what a statement starts with, past any opening parentheses", () => {
    expectRefusal(
      `((DELETE FROM ${WORDS} WHERE TRUE))`,
      "not_read_only",
      "the statement starts with DELETE; only a SELECT query (optionally with WITH) is allowed"
    )
    expectRefusal("'x'", "not_read_only", "the statement starts with 'x'; only a SELECT query (optionally with WITH) is allowed")
    expectRefusal("((", "not_read_only", "the statement starts with (; only a SELECT query (optionally with WITH) is allowed")
    expect(accepted(`(SELECT id FROM ${WORDS})`).tables).toEqual([words.table_id])
    expect(accepted(`with a as (select id from ${WORDS}) select id from a`).tables).toEqual([words.table_id])
  })

  it("counts the statements and names the second", () => {
    expectRefusal(
      `SELECT 1; select 2; SELECT 3`,
      "multiple_statements",
      "found 3 statements separated by ';' (the second starts with select); only one query is allowed"
    )
    // One trailing semicolon is the end of the one statement.
    expect(accepted(`SELECT id FROM ${WORDS} ;`).sql).toBe(`SELECT id FROM ${WORDS}`)
    expectRefusal(`SELECT id FROM ${WORDS};;`, "multiple_statements", "found 2 statements separated by ';' (the second starts with ;); only one query is allowed")
  })

  it("names a query parameter or system variable as written", () => {
    expectRefusal(
      `SELECT id FROM ${WORDS} WHERE id = @Min_Id`,
      "query_parameter",
      "@Min_Id is not allowed: an example must run as written, without query parameters or system variables"
    )
    expectRefusal(
      `SELECT @@Dataset_Id, id FROM ${WORDS}`,
      "query_parameter",
      "@@Dataset_Id is not allowed: an example must run as written, without query parameters or system variables"
    )
    expectRefusal(
      `SELECT id FROM ${WORDS} WHERE id = @`,
      "query_parameter",
      "@ is not allowed: an example must run as written, without query parameters or system variables"
    )
  })

  it("refuses DML words upper-cased in the message, and lets them through after a dot", () => {
    expectRefusal(`SELECT id FROM ${WORDS} WHERE id IN (select id from ${WORDS}) Delete`, "not_read_only", "DELETE is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT id FROM ${WORDS} WHERE set = 1`, "not_read_only", "SET is not allowed: only read-only SELECT queries are")
  })

  it("refuses every two-word statement opener anywhere, and not the words alone", () => {
    expectRefusal(`SELECT commit transaction FROM ${WORDS}`, "not_read_only", "COMMIT TRANSACTION is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT rollback Transaction FROM ${WORDS}`, "not_read_only", "ROLLBACK TRANSACTION is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT begin transaction FROM ${WORDS}`, "not_read_only", "BEGIN TRANSACTION is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT export model FROM ${WORDS}`, "not_read_only", "EXPORT MODEL is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT export data FROM ${WORDS}`, "not_read_only", "EXPORT DATA is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT load data FROM ${WORDS}`, "not_read_only", "LOAD DATA is not allowed: only read-only SELECT queries are")
    // The second word quoted is a name, not the phrase.
    expect(accepted(`SELECT commit \`transaction\`, rollback, export, load, begin FROM ${WORDS}`).tables).toEqual([words.table_id])
  })

  it("refuses a statement keyword opening a statement after ( — followed by a name or a literal", () => {
    expectRefusal(`SELECT id FROM ${WORDS} WHERE id IN (COMMIT x)`, "not_read_only", "COMMIT is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT (ROLLBACK 'x') FROM ${WORDS}`, "not_read_only", "ROLLBACK is not allowed: only read-only SELECT queries are")
    expectRefusal(`SELECT (commit \`x\`) FROM ${WORDS}`, "not_read_only", "COMMIT is not allowed: only read-only SELECT queries are")
    // Followed by an operator word, a parenthesis or a number: a column.
    expect(accepted(`SELECT (commit IS NULL), (rollback), (load + 1), MAX(begin) FROM ${WORDS} WHERE (export LIKE 'a%')`).tables)
      .toEqual([words.table_id])
  })

  it("refuses a forbidden namespace's call as written, not a column of that name", () => {
    expectRefusal(`SELECT ml.Predict(1) FROM ${WORDS}`, "forbidden_function", "ML.Predict is not allowed in an example query")
    expectRefusal(`SELECT id FROM ${WORDS} WHERE external_query('c', 'q') IS NULL`, "forbidden_function", expect.stringContaining("EXTERNAL_QUERY") as unknown as string)
  })
})

describe("the lexer", () => {
  it("reads every comment form, to the end of the text too", () => {
    const sql = `# one\nSELECT id -- two; DROP\nFROM ${WORDS} /* three; DELETE */ -- four; at the end`
    expect(accepted(sql).normalized).toBe(`SELECT ID FROM ${WORDS}`)
    expect(accepted(`SELECT id FROM ${WORDS} # last`).normalized).toBe(`SELECT ID FROM ${WORDS}`)
  })

  it("reads raw, bytes and triple-quoted literals as one token each", () => {
    const sql = `SELECT id FROM ${WORDS} WHERE commit IN (r'a;DROP', r"d;", '''f;\nDELETE''', "g'h")`
    expect(accepted(sql).normalized).toBe(`SELECT ID FROM ${WORDS} WHERE COMMIT IN(r'a;DROP', r"d;", '''f;\nDELETE''', "g'h")`)
    // Bytes literals: the lexer sets their text aside (no statement is seen in it); node-sql-parser's
    // grammar then refuses them.
    for (const literal of ["b'b;DELETE x'", "RB'c\\';DROP'", 'br"d;DROP"', 'B"""e;\nUPDATE"""']) {
      const verdict = refused(`SELECT id FROM ${WORDS} WHERE commit = ${literal}`)
      expect(verdict.reason, literal).toBe("parse_error")
      expect(verdict.message, literal).toMatch(/^not BigQuery SQL the validator can parse: /)
    }
  })

  it("says where an unterminated literal, quoted name or comment starts", () => {
    expectRefusal("SELECT 'ab\nc'", "parse_error", "unterminated string literal starting at offset 7: 'ab\nc'")
    expectRefusal("SELECT `proj-x.d.words", "parse_error", "unterminated quoted identifier starting at offset 7: `proj-x.d.words")
    expectRefusal("SELECT 1 /* x", "parse_error", "unterminated comment starting at offset 9")
    expectRefusal(`SELECT '${"x".repeat(40)}`, "parse_error", `unterminated string literal starting at offset 7: '${"x".repeat(29)}`)
    expectRefusal("", "parse_error", "the query is empty")
  })

  it("reads numbers with exponents and letters as one token", () => {
    expect(accepted(`SELECT id * 2e3, 1.5, 0x1F FROM ${WORDS}`).normalized).toBe(`SELECT ID * 2e3, 1.5, 0x1F FROM ${WORDS}`)
  })
})

describe("the normalised text", () => {
  it("upper-cases bare words, keeps quoted names and literals, and sets punctuation tight", () => {
    expect(
      accepted(`select  w.Info.city , tags[ offset ( 0 ) ] as t , count ( * ) from ${WORDS} as w  where w.id = 1 group by 1, 2;`)
        .normalized
    ).toBe(`SELECT W.INFO.CITY, TAGS[OFFSET(0)] AS T, COUNT(*) FROM ${WORDS} AS W WHERE W.ID = 1 GROUP BY 1, 2`)
  })

  it("keeps the query as given, trimmed, without one trailing semicolon", () => {
    expect(accepted(`  \n SELECT id FROM ${WORDS} ;  \n`).sql).toBe(`SELECT id FROM ${WORDS}`)
  })
})

describe("names and paths", () => {
  it("says which field a STRUCT lacks, listing at most 15 of its fields", () => {
    expectRefusal(
      `SELECT info.street FROM ${WORDS}`,
      "unknown_column",
      "info.street: info has no field street (it has: city, zip) in proj-x.d.words"
    )
    expectRefusal(
      "SELECT s.c99 FROM `proj-x.d.wide`",
      "unknown_column",
      "s.c99: s has no field c99 (it has: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15) in proj-x.d.wide"
    )
  })

  it("says a scalar has no fields, except JSON, whose paths are not checked", () => {
    expectRefusal(`SELECT info.city.x FROM ${WORDS}`, "unknown_column", "info.city.x: info.city is STRING; it has no field x in proj-x.d.words")
    expect(accepted(`SELECT doc.a.b FROM ${WORDS}`).tables).toEqual([words.table_id])
  })

  it("says a REPEATED field must be unnested, and what a subscript or .* needs", () => {
    expectRefusal(`SELECT items.sku FROM ${WORDS}`, "unknown_column", "items.sku: items is REPEATED (an array): UNNEST it to reach sku in proj-x.d.words")
    expectRefusal(`SELECT info[OFFSET(0)] FROM ${WORDS}`, "unknown_column", "info[…]: info is STRUCT, not an array")
    expectRefusal(`SELECT id[OFFSET(0)] FROM ${WORDS}`, "unknown_column", "id[…]: id is INT64, not an array")
    expectRefusal(`SELECT items.* FROM ${WORDS}`, "unknown_column", "items.*: items is ARRAY; only a row or STRUCT expands with .*")
    expectRefusal(`SELECT items[OFFSET(0)].nope FROM ${WORDS}`, "unknown_column", "items[…].nope: items has no field nope (it has: sku, qty)")
    expect(accepted(`SELECT items[SAFE_OFFSET(0)].sku, info.*, tags[OFFSET(1)] FROM ${WORDS}`).tables).toEqual([words.table_id])
  })

  it("says which tables a missing column is not in, or that there are none", () => {
    expectRefusal(`SELECT nope FROM ${WORDS} AS w, ${VISITS}`, "unknown_column", "column nope is not in proj-x.d.words, proj-x.d.visits")
    expectRefusal("SELECT nope", "unknown_column", "column nope is not in (no tables in FROM)")
    expectRefusal(`SELECT id FROM ${WORDS} JOIN ${VISITS} USING (nope)`, "unknown_column", "USING column nope is not in proj-x.d.words, proj-x.d.visits")
    expect(accepted(`SELECT n FROM ${WORDS} AS a JOIN ${VISITS} AS b ON a.id = b.n`).tables).toEqual([words.table_id, visits.table_id])
  })

  it("says which tables are unknown, and lists the catalog", () => {
    expectRefusal("SELECT * FROM `proj-x.d.nope`", "unknown_table", `table proj-x.d.nope is not in the catalog (${KNOWN})`)
    expectRefusal("SELECT * FROM `proj-x.d.words_*`", "unknown_table", `wildcard table proj-x.d.words_* is not in the catalog: only the catalog's own families can be queried with * (${KNOWN})`)
    expectRefusal("SELECT * FROM d.words", "unknown_table", "table d.words is not fully qualified (project.dataset.table)")
    expectRefusal("SELECT * FROM words", "unknown_table", "table words is not fully qualified (project.dataset.table) and names no CTE")
  })

  it("reads the implicit names of a table: its last part or its whole path, not the dataset", () => {
    expect(accepted(`SELECT words.id FROM ${WORDS}`).tables).toEqual([words.table_id])
    expectRefusal(`SELECT d.id FROM ${WORDS}`, "unknown_column", "column d.id is not in proj-x.d.words")
    // An alias replaces the implicit names.
    expectRefusal(`SELECT words.id FROM ${WORDS} AS w`, "unknown_column", "column words.id is not in proj-x.d.words")
  })

  it("unescapes quoted names as GoogleSQL does", () => {
    expect(accepted(`SELECT \`\\x69d\`, \`\\u0069d\`, \`\\151d\`, \`\\U00000069d\` FROM ${WORDS}`).tables).toEqual([words.table_id])
    // \d is no escape: the name stays i\d, which the table does not have.
    expectRefusal(`SELECT \`i\\d\` FROM ${WORDS}`, "unknown_column", "column i\\d is not in proj-x.d.words")
  })

  it("UNNEST of a non-array, and through an unnamed element", () => {
    expectRefusal(`SELECT x FROM ${WORDS}, UNNEST(info) AS x`, "unknown_column", "UNNEST(info) needs an array; it is STRUCT")
    expectRefusal(`SELECT x FROM ${WORDS}, UNNEST(id) AS x`, "unknown_column", "UNNEST(id) needs an array; it is INT64")
    expect(accepted(`SELECT t, o FROM ${WORDS}, UNNEST(tags) AS t WITH OFFSET AS o`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT t, offset FROM ${WORDS}, UNNEST(tags) AS t WITH OFFSET`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT i.sku, i.qty FROM ${WORDS} AS w CROSS JOIN UNNEST(w.items) AS i`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT sku FROM ${WORDS} CROSS JOIN UNNEST(items)`).tables).toEqual([words.table_id])
  })

  it("reads the columns a subquery or a star produces", () => {
    expect(accepted(`SELECT s.id, s.city FROM (SELECT w.*, info.city FROM ${WORDS} AS w) AS s`).tables).toEqual([words.table_id])
    expectRefusal(`SELECT s.zip FROM (SELECT info.city FROM ${WORDS}) AS s`, "unknown_column", "s.zip: s has no field zip (it has: city)")
    expect(accepted(`SELECT s.city FROM (SELECT info.* FROM ${WORDS}) AS s`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT s.info.city FROM (SELECT * REPLACE (info AS info) FROM ${WORDS}) AS s`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT s.t FROM (SELECT t FROM ${WORDS}, UNNEST(tags) AS t) AS s`).tables).toEqual([words.table_id])
    expectRefusal(`SELECT s.id FROM (SELECT * EXCEPT (id) FROM ${WORDS}) AS s`, "unknown_column", "s.id: s has no field id (it has: commit, rollback, begin, load, export, doc, tags, info, items)")
  })

  it("a select-list alias is a name in GROUP BY, HAVING and ORDER BY, not in WHERE", () => {
    expect(accepted(`SELECT info.city AS c, COUNT(*) AS n FROM ${WORDS} GROUP BY c HAVING n > 1 ORDER BY c`).tables)
      .toEqual([words.table_id])
    expectRefusal(`SELECT info.city AS c FROM ${WORDS} WHERE c = 'x'`, "unknown_column", "column c is not in proj-x.d.words")
  })

  it("date parts are names only as function arguments", () => {
    expect(accepted(`SELECT DATE_TRUNC(DATE(begin), MONTH), EXTRACT(DAYOFWEEK FROM begin) FROM ${WORDS}`).tables).toEqual([words.table_id])
    expectRefusal(`SELECT month FROM ${WORDS}`, "unknown_column", "column month is not in proj-x.d.words")
  })

  it("refuses a table function in FROM, naming it", () => {
    expectRefusal(`SELECT * FROM UNNEST([1]) AS x, APPENDS(TABLE ${WORDS}, NULL, NULL)`, "forbidden_function", expect.stringContaining("APPENDS") as unknown as string)
  })
})

describe("partition filters", () => {
  it("says what to add when there is no condition on the partition column", () => {
    expectRefusal(`SELECT total FROM ${SALES}`, "missing_partition_filter", "proj-x.d.sales requires a partition filter: add a WHERE condition on day")
    expectRefusal(
      `SELECT total FROM ${SALES} WHERE total > 1`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: add a WHERE condition on day"
    )
  })

  it("says every OR branch must compare the column when one does", () => {
    expectRefusal(
      `SELECT total FROM ${SALES} WHERE day = '2024-01-01' OR total > 1`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: the condition on day must hold in every OR branch (a branch that does not compare day alone lets every partition through)"
    )
  })

  it("a comparison that reads another column of the table too does not prune", () => {
    // Comparing the column with itself still reads only the partition column.
    expect(accepted(`SELECT total FROM ${SALES} WHERE day = DATE_ADD(day, INTERVAL 0 DAY)`).tables).toEqual([sales.table_id])
    expectRefusal(`SELECT total FROM ${SALES} WHERE day > CAST(total AS DATE)`, "missing_partition_filter", expect.stringContaining("proj-x.d.sales requires a partition filter") as unknown as string)
    expect(accepted(`SELECT total FROM ${SALES} WHERE day IN ('2024-01-01', '2024-01-02')`).tables).toEqual([sales.table_id])
    expect(accepted(`SELECT total FROM ${SALES} WHERE day IS NOT NULL AND total > 1`).tables).toEqual([sales.table_id])
    expect(accepted(`SELECT total FROM ${SALES} WHERE NOT (day < '2024-01-01')`).tables).toEqual([sales.table_id])
    expect(accepted(`SELECT total FROM ${SALES} WHERE day BETWEEN '2024-01-01' AND '2024-01-31'`).tables).toEqual([sales.table_id])
  })

  it("a filter on a qualified partition column, or in a subquery over the table, counts where it is", () => {
    expect(accepted(`SELECT s.total FROM ${SALES} AS s WHERE s.day = '2024-01-01'`).tables).toEqual([sales.table_id])
    expect(accepted(`SELECT sales.total FROM ${SALES} WHERE sales.day = '2024-01-01'`).tables).toEqual([sales.table_id])
    expectRefusal(
      `SELECT x.total FROM (SELECT total FROM ${SALES}) AS x WHERE x.total > 1`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: add a WHERE condition on day"
    )
  })

  it("pseudo columns exist only where BigQuery adds them", () => {
    expect(accepted(`SELECT name, _PARTITIONTIME AS t, _PARTITIONDATE AS d FROM ${EVENTS}`).tables).toEqual([events.table_id])
    expectRefusal(`SELECT _PARTITIONTIME FROM ${VISITS}`, "unknown_column", "column _PARTITIONTIME is not in proj-x.d.visits")
    expectRefusal(`SELECT n FROM ${VISITS} WHERE _PARTITIONDATE = '2024-01-01'`, "unknown_column", "column _PARTITIONDATE is not in proj-x.d.visits")
    expectRefusal(`SELECT _PARTITIONTIME.x FROM ${EVENTS}`, "unknown_column", "_PARTITIONTIME.x: _PARTITIONTIME is TIMESTAMP; it has no field x")
  })

  it("a table that does not require a filter needs none", () => {
    expect(accepted(`SELECT n FROM ${VISITS}`).tables).toEqual([visits.table_id])
    expect(accepted(`SELECT name FROM ${EVENTS}`).tables).toEqual([events.table_id])
  })
})

describe("the tables a query reads", () => {
  it("lists each table once, in order of first mention, through CTEs, joins and UNION", () => {
    const sql = `WITH v AS (SELECT n FROM ${VISITS}) SELECT id FROM ${WORDS} AS a JOIN ${WORDS} AS b USING (id) WHERE id IN (SELECT n FROM v) UNION ALL SELECT n FROM ${VISITS}`
    expect(accepted(sql).tables).toEqual([visits.table_id, words.table_id])
  })

  it("gives the same verdict to the same query over two tables of one shape, and to a repeat", () => {
    const twin = table("twin", { schema: { fields: [{ name: "n", type: "INT64" }] } })
    const other = table("other", { schema: { fields: [{ name: "m", type: "INT64" }] } })
    const twins = { tables: [twin, other] }
    expect(Either.getOrThrow(validateSql("SELECT n FROM `proj-x.d.twin`", twins)).tables).toEqual([twin.table_id])
    const swapped = validateSql("SELECT n FROM `proj-x.d.other`", twins)
    expect(Either.isLeft(swapped) && swapped.left.message).toBe("column n is not in proj-x.d.other")
    expect(Either.getOrThrow(validateSql("SELECT n FROM `proj-x.d.twin`", twins)).tables).toEqual([twin.table_id])
    // A table name also used as a qualifier stays as written.
    expect(Either.getOrThrow(validateSql("SELECT twin.n FROM `proj-x.d.twin`", twins)).tables).toEqual([twin.table_id])
  })
})

describe("clauses and scopes", () => {
  it("checks every branch of a UNION: its columns and its partition filters", () => {
    expectRefusal(`SELECT n FROM ${VISITS} UNION ALL SELECT nope FROM ${WORDS}`, "unknown_column", "column nope is not in proj-x.d.words")
    expectRefusal(
      `SELECT n FROM ${VISITS} UNION ALL SELECT total FROM ${SALES}`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: add a WHERE condition on day"
    )
  })

  it("checks GROUP BY, ORDER BY, QUALIFY, WINDOW and LIMIT, where select-list aliases are names", () => {
    expectRefusal(`SELECT id FROM ${WORDS} ORDER BY nope`, "unknown_column", "column nope is not in proj-x.d.words")
    expectRefusal(`SELECT id FROM ${WORDS} GROUP BY nope`, "unknown_column", "column nope is not in proj-x.d.words")
    expectRefusal(`SELECT id FROM ${WORDS} GROUP BY id HAVING COUNT(nope) > 1`, "unknown_column", "column nope is not in proj-x.d.words")
    expect(
      accepted(`SELECT info.city AS c, COUNT(*) AS k FROM ${WORDS} GROUP BY c QUALIFY ROW_NUMBER() OVER (ORDER BY k) = 1`).tables
    ).toEqual([words.table_id])
    expect(accepted(`SELECT id, ROW_NUMBER() OVER w AS r FROM ${WORDS} WINDOW w AS (ORDER BY id) LIMIT 10 OFFSET 5`).tables)
      .toEqual([words.table_id])
    expectRefusal(`SELECT id FROM ${WORDS} WINDOW w AS (ORDER BY nope)`, "unknown_column", "column nope is not in proj-x.d.words")
  })

  it("a correlated subquery sees the outer query's names; the outer query does not see the subquery's", () => {
    expect(accepted(`SELECT id FROM ${WORDS} AS w WHERE w.id IN (SELECT n FROM ${VISITS} WHERE n = w.id)`).tables)
      .toEqual([words.table_id, visits.table_id])
    expect(accepted(`SELECT id FROM ${WORDS} WHERE NOT EXISTS (SELECT 1 FROM ${VISITS} WHERE n = id)`).tables)
      .toEqual([words.table_id, visits.table_id])
    expectRefusal(`SELECT n FROM ${WORDS} WHERE id IN (SELECT n FROM ${VISITS})`, "unknown_column", "column n is not in proj-x.d.words")
  })

  it("CTEs: each sees the ones before it, a nested WITH sees the outer ones, a CTE's columns are checked", () => {
    expect(accepted(`WITH a AS (SELECT id FROM ${WORDS}) SELECT x.id FROM (WITH b AS (SELECT id FROM a) SELECT id FROM b) AS x`).tables)
      .toEqual([words.table_id])
    expectRefusal(`WITH a AS (SELECT id FROM ${WORDS}), b AS (SELECT nope FROM a) SELECT 1 FROM b`, "unknown_column", "column nope is not in a")
    expectRefusal(`WITH b AS (SELECT id FROM a), a AS (SELECT id FROM ${WORDS}) SELECT id FROM b`, "unknown_table", "table a is not fully qualified (project.dataset.table) and names no CTE")
  })

  it("a star over an aliased UNNEST names its element; over an unnamed one the row is opaque", () => {
    expect(accepted(`SELECT s.t FROM (SELECT * FROM ${WORDS}, UNNEST(tags) AS t) AS s`).tables).toEqual([words.table_id])
    expectRefusal(
      `SELECT s.nope FROM (SELECT * FROM ${WORDS}, UNNEST(tags) AS t) AS s`,
      "unknown_column",
      "s.nope: s has no field nope (it has: id, commit, rollback, begin, load, export, doc, tags, info, items, t)"
    )
    expect(accepted(`SELECT s.anything FROM (SELECT * FROM ${WORDS}, UNNEST(tags)) AS s`).tables).toEqual([words.table_id])
  })

  it("PIVOT's expressions are checked, and the row it makes is opaque", () => {
    expect(accepted(`SELECT * FROM (SELECT id, n FROM ${WORDS} JOIN ${VISITS} ON id = n) PIVOT(SUM(n) FOR id IN (1, 2))`).tables)
      .toEqual([words.table_id, visits.table_id])
    expectRefusal(
      `SELECT * FROM (SELECT id, n FROM ${WORDS} JOIN ${VISITS} ON id = n) PIVOT(SUM(nope) FOR id IN (1, 2))`,
      "unknown_column",
      expect.stringContaining("nope") as unknown as string
    )
  })

  it("FOR SYSTEM_TIME AS OF is read, and JOIN ON is checked", () => {
    expect(accepted(`SELECT id FROM ${WORDS} FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)`).tables)
      .toEqual([words.table_id])
    expectRefusal(`SELECT id FROM ${WORDS} JOIN ${VISITS} ON id = nope`, "unknown_column", "column nope is not in proj-x.d.words, proj-x.d.visits")
  })

  it("each scan of a table that requires a filter needs its own", () => {
    expectRefusal(
      `SELECT a.total FROM ${SALES} AS a JOIN ${SALES} AS b ON a.day = b.day WHERE a.day = '2024-01-01'`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: add a WHERE condition on day"
    )
    expect(accepted(`SELECT a.total FROM ${SALES} AS a JOIN ${SALES} AS b ON a.day = b.day WHERE a.day = '2024-01-01' AND b.day = '2024-01-01'`).tables)
      .toEqual([sales.table_id])
    // A double negation is no negation: the OR TRUE branch stays.
    expectRefusal(
      `SELECT total FROM ${SALES} WHERE NOT NOT (day = '2024-01-01' OR TRUE)`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: the condition on day must hold in every OR branch (a branch that does not compare day alone lets every partition through)"
    )
    expect(accepted(`SELECT total FROM ${SALES} WHERE day = '2024-01-01' AND (total > 1 OR total < 0)`).tables).toEqual([sales.table_id])
  })
})

describe("the lexer, more corners", () => {
  it("a comment opened with /*/ is not closed by its own slash", () => {
    expect(accepted(`SELECT id FROM ${WORDS} /*/ DELETE */`).normalized).toBe(`SELECT ID FROM ${WORDS}`)
  })

  it("a one-line string ends at a carriage return too", () => {
    expectRefusal("SELECT 'ab\rc'", "parse_error", "unterminated string literal starting at offset 7: 'ab\rc'")
  })

  it("reads a number that starts with 9 or 0 as a number", () => {
    expect(accepted(`SELECT id + 9, id - 0 FROM ${WORDS}`).normalized).toBe(`SELECT ID + 9, ID - 0 FROM ${WORDS}`)
  })

  it("a quoted name spelled like a statement word is a name", () => {
    expect(accepted(`SELECT id AS \`DELETE\`, commit AS \`GRANT\` FROM ${WORDS}`).tables).toEqual([words.table_id])
  })

  it("names a system variable at the very end of the query", () => {
    expectRefusal(
      `SELECT id FROM ${WORDS} WHERE id = @@`,
      "query_parameter",
      "@@ is not allowed: an example must run as written, without query parameters or system variables"
    )
  })
})

describe("mutation-driven corners (issue #9)", () => {
  it("a text of opening parentheses alone starts with (", () => {
    expectRefusal("((", "not_read_only", "the statement starts with (; only a SELECT query (optionally with WITH) is allowed")
  })

  it("returns the query without its trailing semicolon, and keeps a semicolon inside a literal", () => {
    expect(accepted(`SELECT id FROM ${WORDS} WHERE commit = 'a;b'`).sql).toBe(`SELECT id FROM ${WORDS} WHERE commit = 'a;b'`)
    expect(accepted(`  SELECT id FROM ${WORDS} ;  `).sql).toBe(`SELECT id FROM ${WORDS}`)
  })

  it("an incomplete \\x escape in a quoted name stays as written", () => {
    expectRefusal(`SELECT \`i\\xd\` FROM ${WORDS}`, "unknown_column", "column i\\xd is not in proj-x.d.words")
  })

  it("a subscript of a subscript needs an array of arrays", () => {
    expectRefusal(`SELECT tags[OFFSET(0)][OFFSET(1)] FROM ${WORDS}`, "unknown_column", "tags[…][…]: tags is STRING, not an array")
  })

  it("a JSON value or an opaque row's field takes any subscript", () => {
    expect(accepted(`SELECT doc[OFFSET(0)] FROM ${WORDS}`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT s.x[OFFSET(0)] FROM (SELECT * FROM ${WORDS}, UNNEST(tags)) AS s`).tables).toEqual([words.table_id])
  })

  it("only a row or STRUCT expands with .*, however it is qualified", () => {
    expectRefusal(`SELECT id.* FROM ${WORDS}`, "unknown_column", "id.*: id is INT64; only a row or STRUCT expands with .*")
    expectRefusal(`SELECT w.id.* FROM ${WORDS} AS w`, "unknown_column", "w.id.*: w.id is INT64; only a row or STRUCT expands with .*")
    expect(accepted(`SELECT w.info.* FROM ${WORDS} AS w`).tables).toEqual([words.table_id])
  })

  it("a backquoted field after a subscript is read without its quotes", () => {
    expect(accepted(`SELECT items[OFFSET(0)].\`sku\` FROM ${WORDS}`).tables).toEqual([words.table_id])
  })

  it("UNNEST of an expression checks it; UNNEST of JSON or of an opaque field", () => {
    expectRefusal(`SELECT x FROM ${WORDS}, UNNEST([nope]) AS x`, "unknown_column", "column nope is not in proj-x.d.words")
    expectRefusal(`SELECT x FROM ${WORDS}, UNNEST(doc) AS x`, "unknown_column", "UNNEST(doc) needs an array; it is JSON")
    expect(accepted(`SELECT x FROM (SELECT * FROM ${WORDS}, UNNEST(tags)) AS s, UNNEST(s.whatever) AS x`).tables).toEqual([words.table_id])
  })

  it("a nested UNNEST names the element it belongs to", () => {
    expectRefusal(
      `SELECT 1 FROM ${WORDS}, UNNEST(items) AS i, UNNEST(sku)`,
      "unknown_column",
      "UNNEST(sku) must be qualified by the alias of the element it belongs to: write UNNEST(i.sku)"
    )
  })

  it("a JOIN USING a column both sides have is accepted", () => {
    expect(accepted(`SELECT id FROM ${WORDS} AS a JOIN ${WORDS} AS b USING (id)`).tables).toEqual([words.table_id])
  })

  it("a quoted two-part name is a table path, not a CTE name", () => {
    expectRefusal("SELECT * FROM `d.words`", "unknown_table", "table d.words is not fully qualified (project.dataset.table)")
  })

  it("an array path in FROM, after the table's alias, is its element", () => {
    expect(accepted(`SELECT i.sku FROM ${WORDS} AS w, w.items AS i`).tables).toEqual([words.table_id])
    expectRefusal(`SELECT i.nope FROM ${WORDS} AS w, w.items AS i`, "unknown_column", "i.nope: i has no field nope (it has: sku, qty)")
  })

  it("a qualified star of a subquery lists the row's columns", () => {
    expectRefusal(
      `SELECT s.nope FROM (SELECT w.* FROM ${WORDS} AS w) AS s`,
      "unknown_column",
      "s.nope: s has no field nope (it has: id, commit, rollback, begin, load, export, doc, tags, info, items)"
    )
    expect(accepted(`SELECT s.anything FROM (SELECT x.* FROM (SELECT * FROM ${WORDS}, UNNEST(tags)) AS x) AS s`).tables)
      .toEqual([words.table_id])
  })

  it("* EXCEPT drops every listed column; * REPLACE keeps the name and forgets the type", () => {
    expectRefusal(
      `SELECT s.commit FROM (SELECT * EXCEPT (commit, rollback) FROM ${WORDS}) AS s`,
      "unknown_column",
      "s.commit: s has no field commit (it has: id, begin, load, export, doc, tags, info, items)"
    )
    expect(accepted(`SELECT s.info.nope FROM (SELECT * REPLACE (1 AS info) FROM ${WORDS}) AS s`).tables).toEqual([words.table_id])
    expectRefusal(
      `SELECT s.info.nope FROM (SELECT * FROM ${WORDS}) AS s`,
      "unknown_column",
      "s.info.nope: s.info has no field nope (it has: city, zip)"
    )
  })

  it("a selected subscript or field path has a type the subquery does not know", () => {
    expect(accepted(`SELECT s.t.x FROM (SELECT tags[OFFSET(0)] AS t FROM ${WORDS}) AS s`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT s.q.x FROM (SELECT items[OFFSET(0)].qty AS q FROM ${WORDS}) AS s`).tables).toEqual([words.table_id])
  })

  it("NOT over AND/OR is pushed down to the partition comparisons", () => {
    expect(accepted(`SELECT total FROM ${SALES} WHERE NOT (day < '2024-01-01' OR TRUE)`).tables).toEqual([sales.table_id])
    expectRefusal(
      `SELECT total FROM ${SALES} WHERE NOT (day < '2024-01-01' AND TRUE)`,
      "missing_partition_filter",
      "proj-x.d.sales requires a partition filter: the condition on day must hold in every OR branch (a branch that does not compare day alone lets every partition through)"
    )
  })

  it("a select-list alias is one name: it has no fields", () => {
    expectRefusal(`SELECT info.city AS c FROM ${WORDS} ORDER BY c.x`, "unknown_column", "column c.x is not in proj-x.d.words")
  })

  it("a date part is a bare name in a function's arguments, not a path or a subscript", () => {
    expectRefusal(`SELECT DATE_TRUNC(DATE(begin), month.x) FROM ${WORDS}`, "unknown_column", "column month.x is not in proj-x.d.words")
    expectRefusal(`SELECT COUNT(*) OVER (ORDER BY month) FROM ${WORDS}`, "unknown_column", "column month is not in proj-x.d.words")
  })

  it("checks the columns of a subquery inside an expression", () => {
    // A subquery sees the outer query's tables too: the message names its own first, then the outer ones.
    expectRefusal(`SELECT id FROM ${WORDS} WHERE id IN (SELECT nope FROM ${VISITS})`, "unknown_column", "column nope is not in proj-x.d.visits, proj-x.d.words")
    expectRefusal(`SELECT (SELECT nope FROM ${VISITS}) AS x FROM ${WORDS}`, "unknown_column", "column nope is not in proj-x.d.visits, proj-x.d.words")
    expectRefusal(`SELECT id FROM ${WORDS} WHERE EXISTS (SELECT nope FROM ${VISITS})`, "unknown_column", "column nope is not in proj-x.d.visits, proj-x.d.words")
  })

  it("a CTE or subquery under an alias is a row named by the alias", () => {
    expect(accepted(`WITH a AS (SELECT id FROM ${WORDS}) SELECT x.id FROM a AS x`).tables).toEqual([words.table_id])
    expect(accepted(`WITH a AS (SELECT id FROM ${WORDS}) SELECT s.id FROM (SELECT * FROM a) AS s`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT t.id FROM (SELECT * FROM (SELECT id FROM ${WORDS}) AS x) AS t`).tables).toEqual([words.table_id])
  })
})

describe("mutation-driven corners, the guard and the resolver (issue #9)", () => {
  it("a number starting with 9 keeps its letters as written", () => {
    expect(accepted(`SELECT id + 9e3 FROM ${WORDS}`).normalized).toBe(`SELECT ID + 9e3 FROM ${WORDS}`)
  })

  it("statement keywords and function names are columns where no statement or call can start", () => {
    expect(accepted(`SELECT begin, id AS changes FROM ${WORDS} WHERE load > 1 ORDER BY changes`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT ml.city FROM (SELECT info.city FROM ${WORDS}) AS ml ORDER BY ml.city`).tables).toEqual([words.table_id])
  })

  it("a query cut short after ( , a namespace or its dot is a parse error, not a crash", () => {
    expect(refused(`SELECT id FROM ${WORDS} WHERE (commit`).reason).toBe("parse_error")
    expect(refused(`SELECT id FROM ${WORDS} AS ml WHERE ml.`).reason).toBe("parse_error")
  })

  it("a missing field of an unaliased subquery's column names an unnamed relation; an alias names it", () => {
    expectRefusal(
      `SELECT info.nope FROM (SELECT info FROM ${WORDS})`,
      "unknown_column",
      "info.nope: info has no field nope (it has: city, zip) in an unnamed relation"
    )
    expectRefusal(
      `SELECT info.nope FROM (SELECT info FROM ${WORDS}) AS s`,
      "unknown_column",
      "info.nope: info has no field nope (it has: city, zip) in s"
    )
  })

  it("an opaque row holds any column, aliased or not; an aliased UNNEST element of unknown type is one value", () => {
    expect(accepted(`SELECT anything FROM (SELECT * FROM ${WORDS}, UNNEST(tags))`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT anything FROM (SELECT * FROM ${WORDS}, UNNEST(tags)) AS s`).tables).toEqual([words.table_id])
    expect(accepted(`SELECT anything FROM ${WORDS}, UNNEST([1, 2])`).tables).toEqual([words.table_id])
    expectRefusal(`SELECT anything FROM ${WORDS}, UNNEST([1, 2]) AS x`, "unknown_column", "column anything is not in proj-x.d.words, x")
  })
})

describe("a table path written as a name elsewhere (issue #9)", () => {
  // A column alias spelled like a catalog table's path, next to a name equal to the table's last
  // part: the message shows the alias as written.
  it("keeps an alias spelled like the table's path when the table's name is also written, bare or quoted", () => {
    expectRefusal(
      `SELECT s.x FROM (SELECT id AS ${WORDS}, 1 AS words FROM ${WORDS}) AS s`,
      "unknown_column",
      "s.x: s has no field x (it has: proj-x.d.words, words)"
    )
    expectRefusal(
      `SELECT s.x FROM (SELECT id AS ${WORDS}, 1 AS \`Words\` FROM ${WORDS}) AS s`,
      "unknown_column",
      "s.x: s has no field x (it has: proj-x.d.words, Words)"
    )
  })
})

describe("calls in FROM and in QUALIFY (issue #9)", () => {
  it("a table function in FROM is refused by name; an unknown one is refused as a function first", () => {
    expectRefusal(
      `SELECT * FROM ${WORDS}, GENERATE_ARRAY(1, 3) AS x`,
      "forbidden_function",
      "table function GENERATE_ARRAY is not allowed: read catalog tables directly"
    )
    expectRefusal(
      `SELECT * FROM ${WORDS} AS w, my_fn(w.id) AS x`,
      "forbidden_function",
      "my_fn is not a read-only BigQuery function this validator knows; only built-in functions are allowed"
    )
  })

  it("checks the window of a QUALIFY condition", () => {
    expectRefusal(
      `SELECT id FROM ${WORDS} WHERE TRUE QUALIFY ROW_NUMBER() OVER (ORDER BY nope) = 1`,
      "unknown_column",
      "column nope is not in proj-x.d.words"
    )
  })
})

describe("sqlTokens and dotted paths in messages (issue #9)", () => {
  it("splits a query into tokens without comments, or gives null when it cannot", () => {
    expect(sqlTokens("SELECT a -- note\n, 'x'")).toEqual([
      { kind: "word", text: "SELECT", value: "SELECT", start: 0 },
      { kind: "word", text: "a", value: "A", start: 7 },
      { kind: "punct", text: ",", value: ",", start: 17 },
      { kind: "string", text: "'x'", value: "", start: 19 }
    ])
    expect(sqlTokens("SELECT 'x")).toBeNull()
    expect(sqlTokens("SELECT /* x")).toBeNull()
  })

  it("names a dotted UNNEST path in full when it is no array", () => {
    expectRefusal(`SELECT x FROM ${WORDS}, UNNEST(info.city) AS x`, "unknown_column", "UNNEST(info.city) needs an array; it is STRING")
  })
})

describe("a subscripted column keeps its qualifier", () => {
  it("resolves w.tags[OFFSET(0)] through the alias, and refuses an alias nothing defines", () => {
    expect(accepted(`SELECT w.tags[OFFSET(0)] AS first_tag FROM ${WORDS} AS w`).tables).toEqual(["proj-x.d.words"])
    expect(refused(`SELECT x.tags[OFFSET(0)] FROM ${WORDS} AS w`).reason).toBe("unknown_column")
  })
})
