/**
 * Reading BigQuery's `Table` resource: the limits MetaSync holds every source to (BigQuery's own
 * nesting depth, the range of dates, description lengths), with hand-written inputs.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import {
  capDescriptions,
  decodeTableDefinition,
  MAX_COLUMN_DESCRIPTION,
  tableMetadataFromRest
} from "../../src/services/BigQuery/TableResource.ts"

/** `levels` RECORDs, each holding the next; the leaf at depth `levels`. */
const chain = (levels: number): unknown => {
  let field: unknown = { name: "leaf", type: "STRING" }
  for (let level = levels; level > 0; level--) field = { name: `r${level}`, type: "RECORD", fields: [field] }
  return [field]
}

describe("the Table resource", () => {
  it("takes 15 nested RECORDs, BigQuery's limit, and refuses 16, naming the field", () => {
    expect(Either.isRight(decodeTableDefinition(chain(15)))).toBe(true)
    const refused = decodeTableDefinition(chain(16))
    expect(Either.isLeft(refused) && refused.left).toBe(
      "schema.fields: field r1.r2.r3.r4.r5.r6.r7.r8.r9.r10.r11.r12.r13.r14.r15.r16 nests deeper than BigQuery's 15 levels of RECORDs"
    )
  })

  it("takes the last representable date and refuses one millisecond more", () => {
    const last = decodeTableDefinition({ lastModifiedTime: "8640000000000000" })
    const table = tableMetadataFromRest({ project: "my-project", dataset: "d", table: "t" }, Either.getOrThrow(last), DateTime.unsafeMake(0))
    expect(DateTime.formatIso(table.last_updated)).toBe("+275760-09-13T00:00:00.000Z")
    const beyond = decodeTableDefinition({ creationTime: "8640000000000001" })
    expect(Either.isLeft(beyond) && beyond.left).toMatch(/^creationTime: .*8640000000000001 ms since the epoch is beyond the last representable date/)
  })

  it("cuts a column description at its limit without splitting a surrogate pair, the same way every time", () => {
    // An emoji (two UTF-16 units) straddling the cut.
    const marker = " … [truncated from 2000 characters]"
    const text = `${"a".repeat(MAX_COLUMN_DESCRIPTION - marker.length - 1)}${"😀".repeat(1000)}`.slice(0, 2000)
    const table = tableMetadataFromRest(
      { project: "my-project", dataset: "d", table: "t" },
      Either.getOrThrow(decodeTableDefinition([{ name: "c", type: "STRING", description: text }])),
      DateTime.unsafeMake(0)
    )
    const first = capDescriptions(table)
    expect(first.truncated).toEqual([{ column: "c", length: 2000 }])
    expect(first.table.columns[0].description).toBe(`${"a".repeat(MAX_COLUMN_DESCRIPTION - marker.length - 1)}${marker}`)
    expect(capDescriptions(table)).toEqual(first)
    // Within the limits nothing changes, not even the object.
    expect(capDescriptions(first.table).table).toBe(first.table)
  })
})
