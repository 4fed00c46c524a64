import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { parseTableRef } from "../../src/contract/TableId.ts"

const problem = (id: string) => Either.getLeft(parseTableRef(id)).pipe((o) => (o._tag === "Some" ? o.value : ""))

describe("table ids", () => {
  it.each([
    ["nlq-ex.test_dataset.events_20210131", { project: "nlq-ex", dataset: "test_dataset", table: "events_20210131" }],
    ["my-project-1.Sales_2024.매출 현황", { project: "my-project-1", dataset: "Sales_2024", table: "매출 현황" }],
    ["example.com:my-proj.ds.t-1", { project: "example.com:my-proj", dataset: "ds", table: "t-1" }],
    ["abcdef.d.表_テーブル", { project: "abcdef", dataset: "d", table: "表_テーブル" }]
  ])("accepts %s", (id, ref) => {
    expect(Either.getOrThrow(parseTableRef(id))).toEqual(ref)
  })

  it.each([
    ["", /empty/],
    ["nlq-ex.events", /names no table/],
    ["noDots", /not of the form project\.dataset\.table/],
    ["NLQ-EX.ds.t", /project id "NLQ-EX" may hold only lowercase letters/],
    ["abc.ds.t", /project id "abc" must be 6 to 30 characters long/],
    ["proj-ect-.ds.t", /must not end with a hyphen/],
    ["nlq-ex.my-dataset.t", /dataset name "my-dataset" may hold only letters, digits and underscores/],
    ["nlq-ex.ds.bad;name", /table name "bad;name" may hold only Unicode letters/],
    ["nlq-ex.ds.a`b", /table name "a`b"/],
    ["nlq-ex:ds.t", /legacy project:dataset\.table form; write it as nlq-ex\.ds\.t/],
    [" nlq-ex.ds.t", /leading or trailing white space/],
    [`nlq-ex.ds.${"가".repeat(400)}`, /longer than 1024 UTF-8 bytes/]
  ])("rejects %j saying why", (id, why) => {
    expect(problem(id)).toMatch(why)
  })
})
