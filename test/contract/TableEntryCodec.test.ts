/**
 * A table's entry in the cache document, decoded and encoded: the defaults an older or smaller
 * writer may leave out, every field a broken document may get wrong, and the fast path that must
 * accept exactly what the schema accepts. Expected entries are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { TableEntry } from "../../src/contract/TableEntry.ts"

const decode = Schema.decodeUnknownEither(TableEntry)
const decodeSync = Schema.decodeUnknownSync(TableEntry)
const encode = Schema.encodeSync(TableEntry)

const column = { name: "id", type: "INTEGER", mode: "REQUIRED", description: null }

const minimal = {
  table_id: "proj-one.sales.orders",
  last_updated: "2026-11-27T00:00:00Z",
  columns: [{ name: "id", type: "INTEGER", mode: "REQUIRED" }]
}

const full = {
  table_id: "proj-one.analytics.events_*",
  kind: "VIEW",
  description: "events",
  last_updated: "2026-11-27T00:00:00.000Z",
  created: "2026-01-01T00:00:00.000Z",
  row_count: 10,
  size_bytes: 2048,
  labels: { team: "data" },
  partitioning: { field: null, type: "DAY", expiration_ms: 86400000, require_partition_filter: true },
  clustering: ["country", "city"],
  view_query: "SELECT 1",
  sharding: { prefix: "events_", first_suffix: "20261101", last_suffix: "20261127", shard_count: 27 },
  columns: [column],
  profile: null,
  field_paths: [{ path: "id", unnest: [], joins: [], expression: "id" }],
  status: {
    state: "stale",
    failure: { tag: "ResourceNotFound", message: "gone", since: "2026-11-26T00:00:00.000Z" }
  }
}

describe("decoding a table entry", () => {
  it("fills every field a writer may leave out", () => {
    expect(decodeSync(minimal)).toEqual({
      table_id: "proj-one.sales.orders",
      kind: "TABLE",
      description: null,
      last_updated: DateTime.unsafeMake("2026-11-27T00:00:00Z"),
      created: null,
      row_count: null,
      size_bytes: null,
      labels: {},
      partitioning: null,
      clustering: [],
      view_query: null,
      sharding: null,
      columns: [column],
      profile: null,
      field_paths: [],
      status: { state: "fresh" }
    })
  })

  it("keeps every field that is given", () => {
    expect(decodeSync(full)).toEqual({
      ...full,
      last_updated: DateTime.unsafeMake("2026-11-27T00:00:00Z"),
      created: DateTime.unsafeMake("2026-01-01T00:00:00Z"),
      status: {
        state: "stale",
        failure: { tag: "ResourceNotFound", message: "gone", since: DateTime.unsafeMake("2026-11-26T00:00:00Z") }
      }
    })
  })

  it("explicit nulls are nulls, a fresh status is fresh", () => {
    const entry = decodeSync({
      ...minimal,
      description: null,
      created: null,
      row_count: null,
      size_bytes: null,
      partitioning: null,
      view_query: null,
      sharding: null,
      status: { state: "fresh" }
    })
    expect(entry).toMatchObject({ description: null, created: null, row_count: null, partitioning: null, status: { state: "fresh" } })
  })

  it("decoding what was just decoded gives back the very same entry (the fast path vouched for it)", () => {
    for (const input of [minimal, full, { ...minimal, status: { state: "fresh" } }]) {
      const once = decodeSync(input)
      expect(decodeSync(once)).toBe(once)
    }
  })

  it("an entry with a profile goes through the schema, and decodes", () => {
    const profile = {
      profiled_at: "2026-11-27T00:00:00.000Z",
      sample_percent: 10,
      rows_sampled: 100,
      bytes_processed: 2048,
      columns: [
        { column: "id", type: "INTEGER", null_fraction: 0, approx_distinct: 100, top_values: null, min: 1, max: "z" }
      ],
      skipped: [{ column: "email", reason: "sensitive_name", detail: "matches the sensitive column pattern" }]
    }
    const entry = decodeSync({ ...minimal, profile })
    expect(entry.profile).toEqual({ ...profile, profiled_at: DateTime.unsafeMake("2026-11-27T00:00:00Z") })
  })

  it.each([
    ["a bad table id", { table_id: "abc.ds.t" }],
    ["a missing table id", { table_id: undefined }],
    ["an unknown kind", { kind: "TEMPORARY" }],
    ["a last_updated that is no time", { last_updated: "yesterday" }],
    ["a numeric last_updated", { last_updated: 5 }],
    ["a created that is no time", { created: "soon" }],
    ["a numeric created", { created: 5 }],
    ["a numeric description", { description: 5 }],
    ["a negative row count", { row_count: -1 }],
    ["a fractional row count", { row_count: 1.5 }],
    ["a size in a string", { size_bytes: "2048" }],
    ["a numeric label", { labels: { team: 1 } }],
    ["labels that are a list", { labels: ["team"] }],
    ["weekly partitioning", { partitioning: { field: "day", type: "WEEK", expiration_ms: null, require_partition_filter: false } }],
    ["clustering by a number", { clustering: [1] }],
    ["a numeric view query", { view_query: 5 }],
    ["a sharding without a prefix", { sharding: { first_suffix: "1", last_suffix: "2", shard_count: 2 } }],
    ["a column without a mode", { columns: [{ name: "id", type: "INTEGER" }] }],
    ["columns that are not a list", { columns: "id" }],
    ["a field path without an expression", { field_paths: [{ path: "id", unnest: [], joins: [] }] }],
    ["a field path that is null", { field_paths: [null] }],
    ["field paths that are not a list", { field_paths: {} }],
    ["a stale status without its failure", { status: { state: "stale" } }],
    ["a stale status whose failure is no object", { status: { state: "stale", failure: "gone" } }],
    ["an unknown state", { status: { state: "gone" } }],
    ["a status that is a string", { status: "fresh" }],
    ["a failure time that is no time", { status: { state: "stale", failure: { tag: "X", message: "m", since: "then" } } }],
    ["a numeric failure tag", { status: { state: "stale", failure: { tag: 5, message: "m", since: "2026-11-26T00:00:00Z" } } }],
    ["a failure without a message", { status: { state: "stale", failure: { tag: "X", since: "2026-11-26T00:00:00Z" } } }],
    ["a profile that is not one", { profile: { profiled_at: "x" } }]
  ])("refuses %s", (_, change) => {
    expect(Either.isLeft(decode({ ...full, ...change }))).toBe(true)
  })

  it.each([["null"], ["a list"], ["a string"]])("refuses an entry that is %s", (what) => {
    const value = what === "null" ? null : what === "a list" ? [full] : "proj-one.sales.orders"
    expect(Either.isLeft(decode(value))).toBe(true)
  })
})

describe("encoding a table entry", () => {
  it("writes times as ISO strings, a stale status with its time", () => {
    expect(encode(decodeSync(full))).toEqual(full)
  })

  it("writes the defaults out in full", () => {
    expect(encode(decodeSync(minimal))).toEqual({
      table_id: "proj-one.sales.orders",
      kind: "TABLE",
      description: null,
      last_updated: "2026-11-27T00:00:00.000Z",
      created: null,
      row_count: null,
      size_bytes: null,
      labels: {},
      partitioning: null,
      clustering: [],
      view_query: null,
      sharding: null,
      columns: [column],
      profile: null,
      field_paths: [],
      status: { state: "fresh" }
    })
  })
})
