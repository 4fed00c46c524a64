/**
 * The per-table health entries' fast path decodes exactly what the schema decodes: plainly valid
 * entries come back as they are, without the generic walk; anything else fails with the schema's
 * own message.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { TableHealth, TableHealths } from "../../src/contract/Metrics.ts"

const fast = Schema.decodeUnknownEither(TableHealths, { onExcessProperty: "ignore" })
const slow = Schema.decodeUnknownEither(Schema.Array(TableHealth), { onExcessProperty: "ignore" })
const encodeFast = Schema.encodeUnknownEither(TableHealths)

const entry = {
  table_id: "bench-project.dataset_0.table_0",
  fields_described: { measured: 66.7, target: 50, pass: true },
  examples: { measured: 6, target: 8, pass: false }
}

describe("the table health fast path", () => {
  it("returns plain entries as they are, equal to what the schema decodes", () => {
    const input = [entry, { ...entry, table_id: "proj-x.shop.orders" }]
    const decoded = Either.getOrThrow(fast(input))
    // The fast path vouches for the parsed array and returns it as it is; the schema would copy it.
    expect(decoded).toBe(input)
    expect(decoded).toEqual(Either.getOrThrow(slow(input)))
    expect(Either.getOrThrow(encodeFast(input))).toBe(input)
  })

  it("sends an entry with a field the schema does not know through the schema, which drops it", () => {
    const input = [{ ...entry, note: "x" }]
    const decoded = Either.getOrThrow(fast(input))
    expect(decoded).not.toBe(input)
    expect(decoded).toEqual([entry])
  })

  it.each<readonly [string, unknown]>([
    ["a bad table id", [{ ...entry, table_id: "not an id" }]],
    ["a negative measure", [{ ...entry, examples: { measured: -1, target: 8, pass: false } }]],
    ["a check without its verdict", [{ ...entry, fields_described: { measured: 1, target: 50 } }]],
    ["a verdict that is not a boolean", [{ ...entry, examples: { measured: 6, target: 8, pass: "no" } }]],
    ["an entry without examples", [{ table_id: entry.table_id, fields_described: entry.fields_described }]],
    ["an entry that is not an object", [null]],
    ["entries that are not a list", { 0: entry }]
  ])("refuses %s with the schema's own message", (_, input) => {
    const viaFast = fast(input)
    const viaSlow = slow(input)
    expect(Either.isLeft(viaFast)).toBe(true)
    expect(Either.isLeft(viaSlow)).toBe(true)
    expect(String(Either.flip(viaFast).pipe(Either.getOrThrow))).toContain(
      String(Either.flip(viaSlow).pipe(Either.getOrThrow)).split("\n").slice(1).join("\n")
    )
  })
})
