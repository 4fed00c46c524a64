/**
 * The fast paths decode exactly what the schemas decode: the same values for valid input, and a
 * failure (with the schema's own message) for anything else.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Example, ExampleStruct, TableEntry, TableEntryStruct } from "../../src/contract/TableEntry.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { fixtureTable, ga4Table } from "../support/TestLayers.ts"

const fast = Schema.decodeUnknownEither(TableEntry, { onExcessProperty: "ignore" })
const slow = Schema.decodeUnknownEither(TableEntryStruct, { onExcessProperty: "ignore" })
const encodeFast = Schema.encodeEither(TableEntry)
const encodeSlow = Schema.encodeEither(TableEntryStruct)

const ga4 = ga4Table({ description: "GA4", row_count: 10, size_bytes: 2048, labels: { a: "b" } })
const entries = [
  makeTableEntry({ ...ga4, field_paths: fieldPathEntries(ga4.columns) }),
  makeTableEntry({
    ...fixtureTable("p-roject.d.shakespeare", "samples.shakespeare"),
    partitioning: { field: "corpus_date", type: "DAY", expiration_ms: 86_400_000, require_partition_filter: true },
    sharding: { prefix: "events_", first_suffix: "20210101", last_suffix: "20210131", shard_count: 31 },
    clustering: ["corpus"],
    created: DateTime.unsafeMake("2020-01-01T00:00:00Z"),
    status: { state: "stale", failure: { tag: "PermissionDenied", message: "denied", since: DateTime.unsafeMake("2026-11-27T00:00:00Z") } }
  })
]

describe("the table entry fast path", () => {
  it("encodes and decodes valid entries exactly as the schema does", () => {
    for (const entry of entries) {
      const encoded = Either.getOrThrow(encodeFast(entry))
      expect(encoded).toEqual(Either.getOrThrow(encodeSlow(entry)))
      const json = JSON.parse(JSON.stringify(encoded))
      expect(Either.getOrThrow(fast(json))).toEqual(Either.getOrThrow(slow(json)))
      // Optional parts left out decode to the same defaults.
      const { clustering: _c, field_paths: _f, kind: _k, labels: _l, status: _s, ...minimal } = json
      expect(Either.getOrThrow(fast(minimal))).toEqual(Either.getOrThrow(slow(minimal)))
    }
  })

  it.each<readonly [string, (json: Record<string, unknown>) => Record<string, unknown>]>([
    ["a bad table id", (j) => ({ ...j, table_id: "not an id" })],
    ["an unknown kind", (j) => ({ ...j, kind: "TEMPORARY" })],
    ["a bad timestamp", (j) => ({ ...j, last_updated: "yesterday" })],
    ["a negative row count", (j) => ({ ...j, row_count: -1 })],
    ["a fractional size", (j) => ({ ...j, size_bytes: 1.5 })],
    ["labels that are not strings", (j) => ({ ...j, labels: { a: 1 } })],
    ["a partitioning of an unknown type", (j) => ({ ...j, partitioning: { field: null, type: "WEEK", expiration_ms: null, require_partition_filter: false } })],
    ["a sharding without a count", (j) => ({ ...j, sharding: { prefix: "e_", first_suffix: "1", last_suffix: "2" } })],
    ["a column without a type", (j) => ({ ...j, columns: [{ name: "x", mode: "NULLABLE" }] })],
    ["a field path without joins", (j) => ({ ...j, field_paths: [{ path: "x", unnest: [], expression: "x" }] })],
    ["a stale status without a time", (j) => ({ ...j, status: { state: "stale", failure: { tag: "X", message: "m" } } })],
    ["a profile of the wrong shape", (j) => ({ ...j, profile: { columns: "none" } })]
  ])("rejects %s with the schema's own message", (_, mutate) => {
    const json = mutate(JSON.parse(JSON.stringify(Either.getOrThrow(encodeSlow(entries[1])))))
    const viaFast = fast(json)
    const viaSlow = slow(json)
    expect(Either.isLeft(viaFast)).toBe(true)
    expect(Either.isLeft(viaSlow)).toBe(true)
    expect(Either.getLeft(viaFast).pipe((e) => (e._tag === "Some" ? e.value.message : ""))).toContain(
      Either.getLeft(viaSlow).pipe((e) => (e._tag === "Some" ? e.value.message.split("\n")[0] : "?"))
    )
  })
})

describe("the example fast path", () => {
  const fastExample = Schema.decodeUnknownEither(Example, { onExcessProperty: "ignore" })
  const slowExample = Schema.decodeUnknownEither(ExampleStruct, { onExcessProperty: "ignore" })
  const valid = {
    question: "총 이벤트 수는 얼마인가요?",
    sql: "SELECT COUNT(*) FROM `nlq-ex.test_dataset.events_20210131`",
    tables: ["nlq-ex.test_dataset.events_20210131"],
    source: "template",
    generator: "template:count_total",
    language: "ko"
  }

  it("decodes valid examples, with or without an estimate, and an unknown field, as the schema does", () => {
    for (const input of [valid, { ...valid, estimated_bytes: 1024 }, { ...valid, lineage: "x" }]) {
      expect(Either.getOrThrow(fastExample(input))).toEqual(Either.getOrThrow(slowExample(input)))
    }
  })

  it("refuses what the schema refuses, with the schema's message", () => {
    for (
      const input of [
        { ...valid, question: "" },
        { ...valid, tables: ["not a table"] },
        { ...valid, tables: "nlq-ex.test_dataset.events_20210131" },
        { ...valid, source: "guess" },
        { ...valid, language: "fr" },
        { ...valid, estimated_bytes: -1 },
        { ...valid, estimated_bytes: 1.5 },
        { ...valid, generator: 7 },
        { ...valid, kept_because: [""] },
        { ...valid, kept_because: "shape count_total" },
        null
      ]
    ) {
      const result = fastExample(input)
      expect(Either.isLeft(result)).toBe(true)
      expect(String(Either.flip(result).pipe(Either.getOrThrow))).toEqual(String(Either.flip(slowExample(input)).pipe(Either.getOrThrow)))
    }
  })

  it("takes the examples the sync writes, with the reasons they were kept, without the generic walk", () => {
    const kept = { ...valid, kept_because: ["shape count_total", "key column event_name"] }
    const decoded = Either.getOrThrow(fastExample(kept))
    expect(decoded).toEqual(Either.getOrThrow(slowExample(kept)))
    // The fast path vouches for the parsed object and returns it as it is; the schema would copy it.
    expect(decoded).toBe(kept)
  })
})
