/**
 * BigQuery's naming rules for table ids, at their boundaries, with the exact message a user sees
 * for each kind of mistake (written out by hand from the rules in BigQuery's documentation).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import {
  formatTableRef,
  isWildcardTable,
  makeTableId,
  parseTableRef,
  TableId,
  tableRefOf
} from "../../src/contract/TableId.ts"

const problem = (id: string) => Either.match(parseTableRef(id), { onLeft: (why) => why, onRight: () => "accepted" })

describe("project ids", () => {
  it.each([
    ["abcdef.ds.t", "abcdef"],
    ["a-2345.ds.t", "a-2345"],
    [`a${"b".repeat(29)}.ds.t`, `a${"b".repeat(29)}`],
    ["example.com:my-proj.ds.t", "example.com:my-proj"],
    ["a1:abcdef.ds.t", "a1:abcdef"]
  ])("%s has project %s", (id, project) => {
    expect(Either.map(parseTableRef(id), (ref) => ref.project)).toEqual(Either.right(project))
  })

  it.each([
    ["abcde.ds.t", "project id \"abcde\" must be 6 to 30 characters long (it has 5)"],
    [`a${"b".repeat(30)}.ds.t`, `project id "a${"b".repeat(30)}" must be 6 to 30 characters long (it has 31)`],
    [
      "1abcdef.ds.t",
      "project id \"1abcdef\" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen"
    ],
    [
      "abcdef-.ds.t",
      "project id \"abcdef-\" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen"
    ],
    [
      "abc_def.ds.t",
      "project id \"abc_def\" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen"
    ],
    [".ds.t", "the project id is empty"],
    [
      // 30 characters is a valid length: the message names the character rule, not the length.
      `a${"b".repeat(28)}-.ds.t`,
      `project id "a${"b".repeat(28)}-" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen`
    ],
    [
      "abcdef-ghi-jklm-nopq-rstu-vwx_.ds.t",
      "project id \"abcdef-ghi-jklm-nopq-rstu-vwx_\" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen"
    ],
    [
      "example.com:ab.ds.t",
      "project id \"example.com:ab\" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen"
    ],
    [
      "-example.com:abcdef.ds.t",
      "project id \"-example.com:abcdef\" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen"
    ]
  ])("%s is refused: %s", (id, why) => {
    expect(problem(id)).toBe(why)
  })
})

describe("the id's shape", () => {
  it.each([
    ["", "the table id is empty; expected project.dataset.table"],
    [" abcdef.ds.t", "\" abcdef.ds.t\" has leading or trailing white space"],
    ["abcdef.ds.t\n", "\"abcdef.ds.t\n\" has leading or trailing white space"],
    ["noDots", "\"noDots\" is not of the form project.dataset.table"],
    ["abcdef:nodots", "\"abcdef:nodots\" is not of the form project.dataset.table"],
    ["abcdef.events", "\"abcdef.events\" names no table: expected project.dataset.table"],
    ["example.com:abcdef.ds", "\"example.com:abcdef.ds\" names no table: expected project.dataset.table"],
    ["abcdef:ds.t", "\"abcdef:ds.t\" uses the legacy project:dataset.table form; write it as abcdef.ds.t"]
  ])("%j is refused: %s", (id, why) => {
    expect(problem(id)).toBe(why)
  })

  it("a table name keeps any further dots, and is then checked", () => {
    expect(problem("abcdef.ds.a.b")).toBe(
      "table name \"a.b\" may hold only Unicode letters, marks, numbers, connectors (_), dashes and spaces"
    )
  })
})

describe("dataset names", () => {
  it("1 to 1024 letters, digits and underscores", () => {
    expect(problem("abcdef.D_1.t")).toBe("accepted")
    expect(problem(`abcdef.${"d".repeat(1024)}.t`)).toBe("accepted")
    expect(problem(`abcdef.${"d".repeat(1025)}.t`)).toBe(
      `dataset name "${"d".repeat(1025)}" may hold only letters, digits and underscores (at most 1024)`
    )
    expect(problem("abcdef.my-ds.t")).toBe("dataset name \"my-ds\" may hold only letters, digits and underscores (at most 1024)")
    expect(problem("abcdef..t")).toBe("the dataset name is empty")
  })
})

describe("table names", () => {
  it.each([
    ["매출 현황"], // letters and a space
    ["e\u0301vents"], // a combining mark
    ["t\u203Fx"], // connector punctuation other than _
    ["a-b_c"],
    ["٣٤"], // digits of another script
    ["events_*"],
    ["x".repeat(1024)]
  ])("%#: %s is a valid table name", (table) => {
    expect(Either.map(parseTableRef(`abcdef.ds.${table}`), (ref) => ref.table)).toEqual(Either.right(table))
  })

  it.each([
    ["abcdef.ds.", "the table name is empty"],
    ["abcdef.ds.*", "a wildcard table needs a prefix before *, such as events_*"],
    ["abcdef.ds.a*b*", "table name \"a*b*\" may hold * only at its end (a wildcard table)"],
    [
      "abcdef.ds.bad;*",
      "table name \"bad;\" may hold only Unicode letters, marks, numbers, connectors (_), dashes and spaces"
    ],
    [
      "abcdef.ds.a*b",
      "table name \"a*b\" may hold only Unicode letters, marks, numbers, connectors (_), dashes and spaces"
    ],
    [`abcdef.ds.${"x".repeat(1025)}`, `table name "${"x".repeat(40)}…" is longer than 1024 UTF-8 bytes`],
    [`abcdef.ds.${"가".repeat(342)}`, `table name "${"가".repeat(40)}…" is longer than 1024 UTF-8 bytes`]
  ])("%s is refused: %s", (id, why) => {
    expect(problem(id)).toBe(why)
  })

  it("341 three-byte characters (1023 bytes) fit", () => {
    expect(problem(`abcdef.ds.${"가".repeat(341)}`)).toBe("accepted")
  })
})

describe("TableId and its helpers", () => {
  it("the schema accepts valid ids and refuses others with the rule's message", () => {
    expect(Schema.decodeUnknownEither(TableId)("abcdef.ds.t")).toEqual(Either.right("abcdef.ds.t"))
    const refused = Schema.decodeUnknownEither(TableId)("abc.ds.t")
    expect(Either.isLeft(refused) && refused.left.message).toContain(
      "project id \"abc\" must be 6 to 30 characters long (it has 3)"
    )
    expect(() => TableId.make("abc.ds.t")).toThrow()
  })

  it("formats, splits and recognises wildcard tables", () => {
    const ref = { project: "example.com:abcdef", dataset: "ds", table: "events_*" }
    expect(formatTableRef(ref)).toBe("example.com:abcdef.ds.events_*")
    expect(makeTableId(ref)).toBe("example.com:abcdef.ds.events_*")
    expect(tableRefOf(TableId.make("example.com:abcdef.ds.events_*"))).toEqual(ref)
    expect(isWildcardTable(ref)).toBe(true)
    expect(isWildcardTable({ ...ref, table: "events_20261101" })).toBe(false)
    expect(isWildcardTable({ ...ref, table: "*events" })).toBe(false)
  })
})
