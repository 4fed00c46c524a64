import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import {
  ALWAYS_QUOTED_WORDS,
  quoteFieldPath,
  quoteIdentifier,
  quoteTablePath,
  RESERVED_KEYWORDS,
  stringLiteral
} from "../../src/sql/Identifiers.ts"
import { parseBigQuery, validateSql } from "../../src/sql/SqlValidator.ts"
import { readWithCst } from "./CstReading.ts"

describe("quoteIdentifier", () => {
  it("leaves plain, unreserved names bare", () => {
    expect(quoteIdentifier("event_name")).toBe("event_name")
    expect(quoteIdentifier("_private")).toBe("_private")
    expect(quoteIdentifier("Revenue2")).toBe("Revenue2")
    expect(quoteIdentifier("timestamp")).toBe("timestamp")
  })

  it("quotes reserved keywords whatever their case", () => {
    expect(quoteIdentifier("select")).toBe("`select`")
    expect(quoteIdentifier("order")).toBe("`order`")
    expect(quoteIdentifier("group")).toBe("`group`")
    expect(quoteIdentifier("By")).toBe("`By`")
    expect(quoteIdentifier("QUALIFY")).toBe("`QUALIFY`")
  })

  it("quotes statement keywords so generated SQL never looks like DML", () => {
    expect(quoteIdentifier("delete")).toBe("`delete`")
    expect(quoteIdentifier("update")).toBe("`update`")
    expect(quoteIdentifier("load")).toBe("`load`")
  })

  it("quotes Unicode, spaces, dashes and a leading digit", () => {
    expect(quoteIdentifier("매출")).toBe("`매출`")
    expect(quoteIdentifier("order date")).toBe("`order date`")
    expect(quoteIdentifier("user-id")).toBe("`user-id`")
    expect(quoteIdentifier("1st_touch")).toBe("`1st_touch`")
    expect(quoteIdentifier("café")).toBe("`café`")
  })

  it("escapes backticks and backslashes inside the quotes", () => {
    expect(quoteIdentifier("a`b")).toBe("`a\\`b`")
    expect(quoteIdentifier("a\\b")).toBe("`a\\\\b`")
    expect(quoteIdentifier("line\nbreak")).toBe("`line\\nbreak`")
  })

  it("gives every reserved and always-quoted word a form the BigQuery parser reads as a name", () => {
    for (const word of [...RESERVED_KEYWORDS, ...ALWAYS_QUOTED_WORDS]) {
      const q = quoteIdentifier(word.toLowerCase())
      for (const sql of [
        `SELECT ${q} FROM \`p.d.t\``,
        `SELECT ${q}, COUNT(*) AS n FROM \`p.d.t\` GROUP BY ${q} ORDER BY n DESC`,
        `SELECT t.${q} FROM \`p.d.t\` AS t WHERE ${q} IS NOT NULL`,
        `SELECT e.${q} FROM \`p.d.t\` CROSS JOIN UNNEST(${q}) AS e`
      ]) {
        expect(Either.isRight(parseBigQuery(sql)), sql).toBe(true)
      }
      // The second parser reads the quoted word back as the very name, not as a keyword.
      const reading = readWithCst(`SELECT t.${q} FROM \`p.d.t\` AS t WHERE ${q} IS NOT NULL`)
      expect(reading.references, q).toEqual([["t", word.toLowerCase()], [word.toLowerCase()]])
    }
  })
})

describe("quoteTablePath", () => {
  it("writes the fully qualified id in one pair of backticks", () => {
    expect(quoteTablePath({ project: "bigquery-public-data", dataset: "samples", table: "shakespeare" }))
      .toBe("`bigquery-public-data.samples.shakespeare`")
  })

  it("keeps Unicode, spaces and dashes of a table name inside the quotes", () => {
    expect(quoteTablePath({ project: "my-project", dataset: "shop", table: "주문 내역-2024" }))
      .toBe("`my-project.shop.주문 내역-2024`")
  })
})

describe("quoteFieldPath", () => {
  it("quotes each segment of a nested path as it needs", () => {
    expect(quoteFieldPath(["geo", "country"])).toBe("geo.country")
    expect(quoteFieldPath(["group", "select"])).toBe("`group`.`select`")
    expect(quoteFieldPath(["device", "web info", "매출"])).toBe("device.`web info`.`매출`")
  })
})

describe("stringLiteral", () => {
  it("escapes quotes, backslashes and line breaks", () => {
    expect(stringLiteral("plain")).toBe("'plain'")
    expect(stringLiteral("it's")).toBe("'it\\'s'")
    expect(stringLiteral("C:\\temp")).toBe("'C:\\\\temp'")
    expect(stringLiteral("a\nb\tc\rd")).toBe("'a\\nb\\tc\\rd'")
    expect(stringLiteral("bell\u0007")).toBe("'bell\\u0007'")
  })

  it("keeps hostile text inside one literal of one statement", () => {
    const table = tableMetadataFromRest(
      { project: "my-project", dataset: "shop", table: "orders" },
      { schema: { fields: [{ name: "status", type: "STRING" }] } },
      DateTime.unsafeMake("2024-01-15T17:00:00Z")
    )
    for (const hostile of ["'; DROP TABLE x; --", "\\'; DELETE FROM t; --", "x\\", "*/ DELETE /*", "`; SET x = 1"]) {
      const sql = `SELECT COUNT(*) AS n FROM \`my-project.shop.orders\` WHERE status = ${stringLiteral(hostile)}`
      const verdict = validateSql(sql, { tables: [table] })
      expect(Either.isRight(verdict), `${sql} → ${JSON.stringify(verdict)}`).toBe(true)
      // Read by another parser: one statement, and the text comes back whole as the one literal.
      const reading = readWithCst(sql)
      expect(reading.statements).toEqual(["select_stmt"])
      expect(reading.strings).toEqual([hostile])
    }
  })
})
