import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import sqlParser from "node-sql-parser/build/bigquery.js"
import { readFileSync } from "node:fs"
import { TableProfile } from "../../src/contract/Profile.ts"
import { BigQueryService, type QueryOptions, type QueryResult } from "../../src/services/BigQuery/BigQueryService.ts"
import { MemoryBigQuery, MemoryBigQueryControl } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import {
  type RestField,
  type RestTable,
  type TableMetadata,
  tableMetadataFromRest
} from "../../src/services/BigQuery/TableResource.ts"
import { RemoteRejected } from "../../src/services/RemoteErrors.ts"
import { quoteFieldPath } from "../../src/sql/Identifiers.ts"
import { validateSql } from "../../src/sql/SqlValidator.ts"
import {
  type ProfileSettings,
  profileableColumns,
  profileSql,
  profileTable
} from "../../src/sync/profiles.ts"

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")
const fixtureDir = new URL("../fixtures/bigquery/", import.meta.url)
const GiB = 1024 ** 3

const fixture = (dataset: string, table: string, resource: Omit<RestTable, "schema"> = {}): TableMetadata => {
  const fields = JSON.parse(readFileSync(new URL(`${dataset}.${table}.schema.json`, fixtureDir), "utf8"))
  return tableMetadataFromRest({ project: "bigquery-public-data", dataset, table }, { ...resource, schema: { fields } }, now)
}

const ga4 = fixture("ga4_obfuscated_sample_ecommerce", "events_20210131", { numBytes: 8_000_000, numRows: 26_489 })
const usaNames = fixture("usa_names", "usa_1910_current", { numBytes: 210_000_000, numRows: 6_311_504 })
/** About 17 GiB: bigger than a 1 GiB cap, so it is sampled. */
const hackerNews = fixture("hacker_news", "full", { numBytes: 17 * GiB, numRows: 40_000_000 })

const shopTable = (name: string, fields: ReadonlyArray<RestField>, resource: Omit<RestTable, "schema"> = {}) =>
  tableMetadataFromRest({ project: "my-project", dataset: "shop", table: name }, { ...resource, schema: { fields } }, now)

const customers = shopTable("customers", [
  { name: "customer_id", type: "INTEGER", mode: "REQUIRED" },
  { name: "email", type: "STRING" },
  { name: "user_phone", type: "STRING" },
  { name: "customer_name", type: "STRING" },
  { name: "salary_band", type: "STRING", policyTags: { names: ["projects/p/locations/us/taxonomies/1/policyTags/7"] } },
  { name: "tier", type: "STRING" },
  { name: "signup_date", type: "DATE" },
  { name: "last_seen", type: "DATETIME" },
  { name: "balance", type: "NUMERIC" },
  { name: "score", type: "FLOAT" },
  { name: "home", type: "GEOGRAPHY" },
  { name: "attributes", type: "JSON" },
  { name: "avatar", type: "BYTES" },
  { name: "tags", type: "STRING", mode: "REPEATED" },
  {
    name: "shipping",
    type: "RECORD",
    fields: [
      { name: "address", type: "STRING" },
      { name: "method", type: "STRING" }
    ]
  }
], { numBytes: 50_000_000, numRows: 120_000 })

const ordersPartitioned = shopTable("orders", [
  { name: "created_at", type: "TIMESTAMP" },
  { name: "status", type: "STRING" },
  { name: "amount", type: "NUMERIC" }
], {
  numBytes: 200 * GiB,
  timePartitioning: { type: "DAY", field: "created_at", requirePartitionFilter: true }
})

const rawEvents = shopTable("raw_events", [{ name: "event_type", type: "STRING" }], {
  numBytes: 1_000_000,
  timePartitioning: { type: "DAY", requirePartitionFilter: true }
})

const dailyVisits = shopTable("daily_visits", [{ name: "day", type: "DATE" }, { name: "visits", type: "INTEGER" }], {
  numBytes: 1_000_000,
  timePartitioning: { type: "DAY", field: "day", requirePartitionFilter: true }
})

const hostile = shopTable("주문 내역-2024", [
  { name: "select", type: "STRING" },
  { name: "order date", type: "DATE" },
  { name: "profiled", type: "INTEGER" },
  { name: "매출", type: "NUMERIC" }
], { numBytes: 1_000_000 })

const settings: ProfileSettings = { maximumBytesBilled: GiB }

// ---------------------------------------------------------------------------------------------
// A warehouse that records every query's options and answers from a per-column data description
// ---------------------------------------------------------------------------------------------

interface RecordedQuery {
  readonly project: string
  readonly sql: string
  readonly options: QueryOptions
}

class QueryLog extends Context.Tag("test/QueryLog")<QueryLog, Ref.Ref<ReadonlyArray<RecordedQuery>>>() {}

/** `MemoryBigQuery` with every `query` call's options written to `QueryLog`. */
const RecordingBigQuery = Layer.effectContext(
  Effect.gen(function*() {
    const inner = yield* BigQueryService
    const control = yield* MemoryBigQueryControl
    const log = yield* Ref.make<ReadonlyArray<RecordedQuery>>([])
    const service = BigQueryService.of({
      ...inner,
      query: (project, sql, options) =>
        Ref.update(log, (entries) => [...entries, { project, sql, options }]).pipe(
          Effect.zipRight(inner.query(project, sql, options))
        )
    })
    return Context.make(BigQueryService, service).pipe(
      Context.add(MemoryBigQueryControl, control),
      Context.add(QueryLog, log)
    )
  })
).pipe(Layer.provide(MemoryBigQuery.layer()))

const recorded = Effect.flatMap(QueryLog, Ref.get)

/** What the sampled data holds for one column. */
interface ColumnData {
  readonly nulls?: number | string
  readonly distinct?: number | string
  readonly min?: unknown
  readonly max?: unknown
  readonly top?: ReadonlyArray<{ readonly value: string | null; readonly count: number | string }>
}

/** The column path each quoted `profiled.<path>` in the SQL stands for. */
const pathsBySqlText = (table: TableMetadata) =>
  new Map(profileableColumns(table, settings).columns.map((c) => [quoteFieldPath(c.segments), c.path]))

const AGGREGATE = /(COUNTIF|APPROX_COUNT_DISTINCT|MIN|MAX|APPROX_TOP_COUNT)\(profiled(?:_\d+)?\.(.+?)(?: IS NULL|, \d+)?\) AS (c\d+_[a-z]+)/g

/** The one row BigQuery would return for `sql` over data described per column path. */
const answerFor = (
  table: TableMetadata,
  sql: string,
  rows: number | string,
  data: Readonly<Record<string, ColumnData>>
): Record<string, unknown> => {
  const paths = pathsBySqlText(table)
  const row: Record<string, unknown> = sql.includes("COUNT(*) AS row_count") ? { row_count: rows } : {}
  for (const [, fn, quoted, alias] of sql.matchAll(AGGREGATE)) {
    const path = paths.get(quoted)
    if (path === undefined) throw new Error(`the SQL names ${quoted}, which is not a profileable column`)
    const column = data[path] ?? {}
    row[alias] = fn === "COUNTIF"
      ? (column.nulls ?? 0)
      : fn === "APPROX_COUNT_DISTINCT"
      ? (column.distinct ?? 1000)
      : fn === "MIN"
      ? (column.min ?? null)
      : fn === "MAX"
      ? (column.max ?? null)
      : (column.top ?? [])
  }
  return row
}

/**
 * Arranges answers for the profile of `table`: the stats query, and the top-values query over
 * exactly `topColumns` (if the profile picks other columns, BigQuery has no answer and it fails).
 */
const arrange = (
  table: TableMetadata,
  options: {
    readonly settings?: ProfileSettings
    readonly rows: number | string
    readonly data: Readonly<Record<string, ColumnData>>
    readonly topColumns: ReadonlyArray<string>
    readonly bytes?: number
  }
) =>
  Effect.gen(function*() {
    const control = yield* MemoryBigQueryControl
    const chosen = options.settings ?? settings
    const { columns } = profileableColumns(table, chosen)
    const sql = profileSql(table, columns, chosen)
    if (sql.kind !== "queries") throw new Error(`expected queries, got ${sql.kind}`)
    const bytes = options.bytes ?? 1_000_000
    const answer = (text: string): QueryResult => ({
      rows: [answerFor(table, text, options.rows, options.data)],
      totalBytesProcessed: bytes
    })
    yield* control.answerQuery((text) => text === sql.stats, answer(sql.stats))
    if (options.topColumns.length > 0) {
      const top = sql.topValues(columns.filter((c) => options.topColumns.includes(c.path)))
      yield* control.answerQuery((text) => text === top, answer(top))
    }
    return sql
  })

// ---------------------------------------------------------------------------------------------
// SQL checks
// ---------------------------------------------------------------------------------------------

const TABLESAMPLE = / TABLESAMPLE SYSTEM \((\d+(?:\.\d+)?) PERCENT\)/

/**
 * node-sql-parser's BigQuery grammar knows `TABLESAMPLE BERNOULLI|RESERVOIR` only without a table
 * alias, and BigQuery knows only `SYSTEM`: the clause is checked as text and cut before parsing.
 */
const withoutSample = (sql: string) => sql.replace(TABLESAMPLE, "")

const parser = new sqlParser.Parser()

const expectWellFormed = (sql: string, table: TableMetadata) => {
  // The only `*` is COUNT(*): no SELECT * anywhere.
  expect(sql).not.toMatch(/SELECT\s+\*/i)
  expect(sql.replaceAll("COUNT(*)", "")).not.toContain("*")
  // The sample clause, when present, directly follows the aliased table.
  const sample = sql.match(TABLESAMPLE)
  if (sample !== null) expect(sql).toMatch(/FROM `[^`]+` AS profiled(?:_\d+)? TABLESAMPLE SYSTEM \(/)
  expect(() => parser.astify(withoutSample(sql), { database: "bigquery" })).not.toThrow()
  // Every column resolves against the table, and a required partition filter is there.
  const validated = validateSql(withoutSample(sql), { tables: [table] })
  expect(Either.isRight(validated) ? "valid" : validated.left.message).toBe("valid")
}

const run = <A, E>(effect: Effect.Effect<A, E, BigQueryService | MemoryBigQueryControl | QueryLog>) =>
  effect.pipe(Effect.provide(RecordingBigQuery))

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("profileableColumns", () => {
  it("reads GA4's scalars and record leaves, skips its repeated records and personal fields", () => {
    const { columns, skipped } = profileableColumns(ga4, settings)
    const paths = columns.map((c) => c.path)
    expect(paths).toContain("event_name")
    expect(paths).toContain("geo.country")
    expect(paths).toContain("device.web_info.browser")
    expect(paths).toContain("ecommerce.shipping_value")
    expect(paths).toContain("device.mobile_brand_name")
    expect(columns.find((c) => c.path === "event_timestamp")?.kind).toBe("number")
    expect(skipped).toEqual([
      { column: "event_params", reason: "repeated", detail: expect.stringContaining("REPEATED") },
      { column: "user_properties", reason: "repeated", detail: expect.stringContaining("REPEATED") },
      { column: "device.advertising_id", reason: "sensitive_name", detail: expect.stringContaining("advertising_id") },
      { column: "traffic_source.name", reason: "sensitive_name", detail: expect.stringContaining("\"name\"") },
      { column: "items", reason: "repeated", detail: expect.stringContaining("REPEATED") }
    ])
    // Nothing under a skipped repeated record is read.
    expect(paths.some((p) => p.startsWith("event_params.") || p.startsWith("items."))).toBe(false)
  })

  it("skips policy-tagged, personal, repeated and unsupported columns, each with its reason", () => {
    const { columns, skipped } = profileableColumns(customers, settings)
    expect(columns.map((c) => [c.path, c.kind])).toEqual([
      ["customer_id", "number"],
      ["tier", "string"],
      ["signup_date", "temporal"],
      ["last_seen", "temporal"],
      ["balance", "number"],
      ["score", "number"],
      ["shipping.method", "string"]
    ])
    expect(skipped.map((s) => [s.column, s.reason])).toEqual([
      ["email", "sensitive_name"],
      ["user_phone", "sensitive_name"],
      ["customer_name", "sensitive_name"],
      ["salary_band", "policy_tag"],
      ["home", "unsupported_type"],
      ["attributes", "unsupported_type"],
      ["avatar", "unsupported_type"],
      ["tags", "repeated"],
      ["shipping.address", "sensitive_name"]
    ])
    expect(skipped.find((s) => s.column === "salary_band")?.detail).toContain("policyTags/7")
    expect(skipped.find((s) => s.column === "home")?.detail).toBe("GEOGRAPHY values are not profiled")
  })

  it("matches sensitive words as whole words of a segment, camelCase included", () => {
    const sensitive = [
      "email", "userEmail", "user_phone", "customer_name", "name", "first_name", "lastName", "username",
      "ip", "client_ip", "ip_address", "birth_date", "date_of_birth", "passport_no", "credit_card_number", "ssn",
      "zip_code", "home_address"
    ]
    const harmless = [
      "event_name", "item_name", "brandName", "shipping_value", "zipper", "description", "category", "hostname",
      "cardinality", "number", "state", "gender"
    ]
    const table = shopTable("words", [...sensitive, ...harmless].map((name) => ({ name, type: "STRING" })))
    const { columns, skipped } = profileableColumns(table, settings)
    expect(skipped.map((s) => s.column)).toEqual(sensitive)
    expect(columns.map((c) => c.path)).toEqual(harmless)
  })

  it("uses a configured pattern against every segment of the path", () => {
    const { columns, skipped } = profileableColumns(ga4, { ...settings, sensitiveNamePattern: /^geo$|browser/gi })
    expect(columns.some((c) => c.path.startsWith("geo."))).toBe(false)
    expect(skipped.filter((s) => s.reason === "sensitive_name").map((s) => s.column)).toEqual([
      "device.web_info.browser",
      "device.web_info.browser_version",
      "geo"
    ])
    // The default no longer applies: device.advertising_id is read.
    expect(columns.map((c) => c.path)).toContain("device.advertising_id")
  })
})

describe("profileSql", () => {
  it("names every column, reads a small table whole and a big one through TABLESAMPLE", () => {
    for (const table of [ga4, usaNames, hackerNews, customers, hostile]) {
      const { columns } = profileableColumns(table, settings)
      const sql = profileSql(table, columns, settings)
      if (sql.kind !== "queries") throw new Error(`${table.table_id}: ${sql.detail}`)
      const strings = columns.filter((c) => c.kind === "string")
      for (const text of [sql.stats, ...(strings.length > 0 ? [sql.topValues(strings)] : [])]) {
        expectWellFormed(text, table)
      }
      const estimate = (table.size_bytes ?? 0) * ((sql.samplePercent ?? 100) / 100)
      expect(estimate).toBeLessThanOrEqual(GiB / 2)
      expect(sql.stats.includes("TABLESAMPLE")).toBe(sql.samplePercent !== null)
    }
    const big = profileSql(hackerNews, profileableColumns(hackerNews, settings).columns, settings)
    expect(big.kind === "queries" && big.samplePercent).toBe(2.94)
    expect(big.kind === "queries" && big.stats).toContain(
      "FROM `bigquery-public-data.hacker_news.full` AS profiled TABLESAMPLE SYSTEM (2.94 PERCENT)"
    )
  })

  it("quotes keywords, spaces and Unicode, and picks a table alias no column is called", () => {
    const sql = profileSql(hostile, profileableColumns(hostile, settings).columns, settings)
    if (sql.kind !== "queries") throw new Error(sql.detail)
    expect(sql.stats).toContain("COUNTIF(profiled_2.`select` IS NULL)")
    expect(sql.stats).toContain("MIN(profiled_2.`order date`)")
    expect(sql.stats).toContain("MAX(profiled_2.profiled)")
    expect(sql.stats).toContain("FROM `my-project.shop.주문 내역-2024` AS profiled_2")
  })

  it("keeps to recent partitions when the table requires a partition filter", () => {
    const cases: ReadonlyArray<[TableMetadata, string]> = [
      [ordersPartitioned, "WHERE profiled.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)"],
      [rawEvents, "WHERE _PARTITIONTIME >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)"],
      [dailyVisits, "WHERE profiled.day >= DATE_SUB(CURRENT_DATE(), INTERVAL 30 DAY)"]
    ]
    for (const [table, where] of cases) {
      const { columns } = profileableColumns(table, settings)
      const sql = profileSql(table, columns, settings)
      if (sql.kind !== "queries") throw new Error(sql.detail)
      expect(sql.stats.endsWith(where)).toBe(true)
      expect(sql.topValues(columns.filter((c) => c.kind === "string")).endsWith(where)).toBe(true)
      expectWellFormed(sql.stats, table)
    }
    const week = profileSql(dailyVisits, profileableColumns(dailyVisits, settings).columns, {
      ...settings,
      partitionWindowDays: 7
    })
    expect(week.kind === "queries" && week.stats).toContain("INTERVAL 7 DAY")
  })

  it("lowers a requested sample that would not fit, and keeps one that does", () => {
    const { columns } = profileableColumns(hackerNews, settings)
    const lowered = profileSql(hackerNews, columns, { ...settings, samplePercent: 50 })
    expect(lowered.kind === "queries" && lowered.samplePercent).toBe(2.94)
    const kept = profileSql(hackerNews, columns, { ...settings, samplePercent: 1 })
    expect(kept.kind === "queries" && kept.samplePercent).toBe(1)
    expect(kept.kind === "queries" && kept.stats).toContain("TABLESAMPLE SYSTEM (1 PERCENT)")
    const small = profileSql(ga4, profileableColumns(ga4, settings).columns, { ...settings, samplePercent: 10 })
    expect(small.kind === "queries" && small.samplePercent).toBe(10)
  })

  it("gives the whole cap to one query when no STRING column needs a second", () => {
    const numbers = shopTable("metrics", [{ name: "value", type: "FLOAT" }], { numBytes: 3 * GiB })
    const sql = profileSql(numbers, profileableColumns(numbers, settings).columns, settings)
    // 1 GiB of 3 GiB, rounded down to three digits: 33.3 % (two queries would get 16.6 %).
    expect(sql.kind === "queries" && sql.samplePercent).toBe(33.3)
  })
})

describe("profileTable", () => {
  it.effect("profiles usa_names: counts, ranges, top values of its low-cardinality strings", () =>
    run(Effect.gen(function*() {
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2024-03-01T09:30:00Z")))
      yield* arrange(usaNames, {
        rows: "6311504",
        data: {
          state: {
            nulls: 0,
            distinct: "51",
            top: [{ value: "CA", count: "400762" }, { value: "TX", count: 347948 }, { value: "NY", count: 302115 }]
          },
          gender: { nulls: 0, distinct: 2, top: [{ value: "F", count: 3_496_000 }, { value: "M", count: 2_815_504 }] },
          year: { nulls: "0", distinct: 114, min: 1910, max: "2023" },
          number: { nulls: 1_577_876, distinct: 9_000, min: "5", max: 99_689 }
        },
        topColumns: ["state", "gender"]
      })
      const profile = yield* profileTable("billing-project", usaNames, settings)
      expect(profile).toEqual({
        profiled_at: DateTime.unsafeMake("2024-03-01T09:30:00Z"),
        sample_percent: null,
        rows_sampled: 6_311_504,
        bytes_processed: 2_000_000,
        columns: [
          {
            column: "state",
            type: "STRING",
            null_fraction: 0,
            approx_distinct: 51,
            top_values: [{ value: "CA", count: 400762 }, { value: "TX", count: 347948 }, { value: "NY", count: 302115 }],
            min: null,
            max: null
          },
          {
            column: "gender",
            type: "STRING",
            null_fraction: 0,
            approx_distinct: 2,
            top_values: [{ value: "F", count: 3_496_000 }, { value: "M", count: 2_815_504 }],
            min: null,
            max: null
          },
          { column: "year", type: "INTEGER", null_fraction: 0, approx_distinct: 114, top_values: null, min: 1910, max: 2023 },
          {
            column: "number",
            type: "INTEGER",
            null_fraction: 0.25,
            approx_distinct: 9_000,
            top_values: null,
            min: 5,
            max: 99_689
          }
        ],
        skipped: [{ column: "name", reason: "sensitive_name", detail: expect.stringContaining("\"name\"") }]
      })
      const queries = yield* recorded
      expect(queries.map((q) => q.project)).toEqual(["billing-project", "billing-project"])
      expect(queries[1].sql).toContain("APPROX_TOP_COUNT(profiled.state, 11) AS c0_top")
      expect(queries.every((q) => !/\bname\b/.test(q.sql))).toBe(true)
      // The document form round-trips.
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(TableProfile)(profile)))
      expect(json.profiled_at).toBe("2024-03-01T09:30:00.000Z")
      expect(Schema.decodeUnknownSync(TableProfile)(json)).toEqual(profile)
    })))

  it.effect("asks for top values only of strings within the distinct-count range", () =>
    run(Effect.gen(function*() {
      yield* arrange(hackerNews, {
        settings: { ...settings, topValuesLimit: 3 },
        rows: 1_176_000,
        data: {
          title: { nulls: 58_000, distinct: 1_000_000 },
          url: { nulls: 300_000, distinct: 800_000 },
          text: { nulls: 700_000, distinct: 470_000 },
          by: { nulls: 30_000, distinct: 101 },
          type: {
            nulls: 0,
            distinct: 5,
            top: [
              { value: "comment", count: 1_000_000 },
              { value: "story", count: 170_000 },
              { value: "job", count: 4_000 },
              { value: "pollopt", count: 1_500 },
              { value: "poll", count: 500 }
            ]
          },
          dead: { nulls: 1_100_000, distinct: 1 },
          score: { nulls: 1_000_000, distinct: 2_000, min: "-1", max: "6015" },
          time: { nulls: 0, distinct: 1_170_000, min: 1_160_418_111, max: "1700000000" },
          timestamp: { min: "2006-10-09T18:21:51Z", max: "2023-11-14T22:13:20.123456Z" },
          id: { min: 1, max: "9007199254740993" }
        },
        topColumns: ["type"]
      })
      const profile = yield* profileTable("billing-project", hackerNews, { ...settings, topValuesLimit: 3 })
      const byPath = new Map(profile.columns.map((c) => [c.column, c]))
      expect(profile.sample_percent).toBe(2.94)
      expect(byPath.get("type")?.top_values).toEqual([
        { value: "comment", count: 1_000_000 },
        { value: "story", count: 170_000 },
        { value: "job", count: 4_000 }
      ])
      // `by` has 101 distinct values, one over the default range; titles have far more.
      for (const path of ["title", "url", "text", "by", "dead", "score"]) expect(byPath.get(path)?.top_values).toBe(null)
      expect(byPath.get("score")).toMatchObject({ min: -1, max: 6015, null_fraction: 1_000_000 / 1_176_000 })
      expect(byPath.get("time")).toMatchObject({ min: 1_160_418_111, max: 1_700_000_000 })
      expect(byPath.get("timestamp")).toMatchObject({ min: "2006-10-09T18:21:51Z", max: "2023-11-14T22:13:20.123456Z" })
      // Beyond 2^53 the digits are kept, not rounded.
      expect(byPath.get("id")).toMatchObject({ min: 1, max: "9007199254740993" })
      expect(byPath.get("dead")).toMatchObject({ min: null, max: null, approx_distinct: 1 })
      const queries = yield* recorded
      expect(queries).toHaveLength(2)
      expect(queries[1].sql).toMatch(/^SELECT\n {2}APPROX_TOP_COUNT\(profiled\.type, 4\) AS c0_top\nFROM /)
      for (const query of queries) expect(query.sql).toContain("TABLESAMPLE SYSTEM (2.94 PERCENT)")
    })))

  it.effect("never names a personal or policy-tagged column in any query, and says why it was skipped", () =>
    run(Effect.gen(function*() {
      yield* arrange(customers, {
        rows: 120_000,
        data: {
          customer_id: { nulls: 0, distinct: 119_000, min: 1, max: 120_000 },
          tier: { nulls: 1_200, distinct: 3, top: [{ value: "gold", count: 80_000 }, { value: null, count: 1_200 }] },
          signup_date: { nulls: 0, distinct: 2_000, min: "2019-04-01", max: "2024-01-14" },
          last_seen: { nulls: 6_000, distinct: 100_000, min: "2019-04-01 08:00:00", max: "2024-01-15T16:59:59.5" },
          balance: { nulls: 0, distinct: 50_000, min: "-12.50", max: "99999999999999999999.99" },
          score: { nulls: 0, distinct: 90_000, min: "NaN", max: 0.97 },
          "shipping.method": { nulls: 0, distinct: 4, top: [{ value: "post", count: 100_000 }] }
        },
        topColumns: ["tier", "shipping.method"]
      })
      const profile = yield* profileTable("billing-project", customers, settings)
      const queries = yield* recorded
      expect(queries).toHaveLength(2)
      for (const { sql } of queries) {
        for (const never of ["email", "phone", "customer_name", "salary", "address", "home", "attributes", "avatar", "tags"]) {
          expect(sql).not.toContain(never)
        }
        expectWellFormed(sql, customers)
      }
      expect(profile.skipped.map((s) => [s.column, s.reason])).toEqual([
        ["email", "sensitive_name"],
        ["user_phone", "sensitive_name"],
        ["customer_name", "sensitive_name"],
        ["salary_band", "policy_tag"],
        ["home", "unsupported_type"],
        ["attributes", "unsupported_type"],
        ["avatar", "unsupported_type"],
        ["tags", "repeated"],
        ["shipping.address", "sensitive_name"]
      ])
      const byPath = new Map(profile.columns.map((c) => [c.column, c]))
      // NULL is not a top value: null_fraction reports it.
      expect(byPath.get("tier")).toMatchObject({ null_fraction: 0.01, top_values: [{ value: "gold", count: 80_000 }] })
      expect(byPath.get("shipping.method")?.top_values).toEqual([{ value: "post", count: 100_000 }])
      expect(byPath.get("signup_date")).toMatchObject({ min: "2019-04-01", max: "2024-01-14" })
      expect(byPath.get("last_seen")).toMatchObject({ min: "2019-04-01T08:00:00", max: "2024-01-15T16:59:59.5" })
      // NUMERIC stays exact; a FLOAT NaN keeps BigQuery's spelling (JSON has no NaN).
      expect(byPath.get("balance")).toMatchObject({ min: "-12.50", max: "99999999999999999999.99" })
      expect(byPath.get("score")).toMatchObject({ min: "NaN", max: 0.97 })
      expect(Schema.decodeUnknownSync(TableProfile)(JSON.parse(JSON.stringify(Schema.encodeSync(TableProfile)(profile)))))
        .toEqual(profile)
    })))

  it.effect("passes maximumBytesBilled on every query, the second getting what the first left", () =>
    run(Effect.gen(function*() {
      yield* arrange(usaNames, {
        rows: 100,
        data: { state: { distinct: 51 }, gender: { distinct: 2 } },
        topColumns: ["state", "gender"],
        bytes: 300 * 1024 * 1024
      })
      const profile = yield* profileTable("billing-project", usaNames, settings)
      const queries = yield* recorded
      expect(queries.map((q) => q.options.maximumBytesBilled)).toEqual([GiB, GiB - 300 * 1024 * 1024])
      expect(profile.bytes_processed).toBe(600 * 1024 * 1024)
    })))

  it.effect("skips the top values when the first query left too little of the cap", () =>
    run(Effect.gen(function*() {
      yield* arrange(usaNames, {
        rows: 100,
        data: { state: { distinct: 51 }, gender: { distinct: 2 } },
        topColumns: [],
        bytes: GiB - 1024
      })
      const profile = yield* profileTable("billing-project", usaNames, settings)
      expect((yield* recorded).map((q) => q.options.maximumBytesBilled)).toEqual([GiB])
      expect(profile.columns.map((c) => c.top_values)).toEqual([null, null, null, null])
    })))

  it.effect("reads only recent partitions of a table that requires a partition filter", () =>
    run(Effect.gen(function*() {
      yield* arrange(ordersPartitioned, {
        rows: 5_000,
        data: {
          created_at: { min: "2023-12-16T00:00:01Z", max: "2024-01-15T16:00:00Z" },
          status: { distinct: 4, top: [{ value: "paid", count: 4_000 }] },
          amount: { min: "0.99", max: "1200.00" }
        },
        topColumns: ["status"]
      })
      const profile = yield* profileTable("billing-project", ordersPartitioned, settings)
      const queries = yield* recorded
      expect(queries).toHaveLength(2)
      for (const { sql } of queries) {
        expect(sql).toContain("WHERE profiled.created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)")
        expectWellFormed(sql, ordersPartitioned)
      }
      // Half the 1 GiB cap of 200 GiB, for each of the two queries.
      expect(profile.sample_percent).toBe(0.25)
      for (const { sql } of queries) expect(sql).toContain("AS profiled TABLESAMPLE SYSTEM (0.25 PERCENT)\nWHERE ")
    })))

  it.effect("runs no query at all when even a 0.1 % sample would exceed the cap", () =>
    run(Effect.gen(function*() {
      const huge = { ...hackerNews, size_bytes: 2 * 1024 * 1024 * GiB }
      const profile = yield* profileTable("billing-project", huge, settings)
      expect(yield* recorded).toEqual([])
      expect(yield* Effect.flatMap(MemoryBigQueryControl, (c) => c.calls)).toEqual([])
      expect(profile.columns).toEqual([])
      expect(profile.rows_sampled).toBe(0)
      expect(profile.bytes_processed).toBe(0)
      expect(profile.skipped.map((s) => [s.column, s.reason])).toEqual([
        ["title", "over_budget"],
        ["url", "over_budget"],
        ["text", "over_budget"],
        ["dead", "over_budget"],
        ["by", "over_budget"],
        ["score", "over_budget"],
        ["time", "over_budget"],
        ["timestamp", "over_budget"],
        ["type", "over_budget"],
        ["id", "over_budget"],
        ["parent", "over_budget"],
        ["descendants", "over_budget"],
        ["ranking", "over_budget"],
        ["deleted", "over_budget"]
      ])
      expect(profile.skipped[0].detail).toBe(
        "even a 0.1 % sample of 2.00 PiB would exceed 512.0 MiB, the share of the 1.00 GiB cap each of the profile's 2 queries may use"
      )
    })))

  it.effect("runs no query when the cap is below the 10 MiB BigQuery bills for any query", () =>
    run(Effect.gen(function*() {
      const profile = yield* profileTable("billing-project", ga4, { maximumBytesBilled: 1_000_000 })
      expect(yield* recorded).toEqual([])
      expect(new Set(profile.skipped.map((s) => s.reason))).toEqual(new Set(["repeated", "sensitive_name", "over_budget"]))
      expect(profile.skipped.find((s) => s.column === "event_name")?.detail).toBe(
        "the cap of 976.6 KiB is below the 10.0 MiB BigQuery bills for any query"
      )
    })))

  it.effect("reports over_budget when BigQuery refuses the query for its bytes billed", () =>
    run(Effect.gen(function*() {
      const control = yield* MemoryBigQueryControl
      yield* control.failNext(
        "query",
        new RemoteRejected({
          service: "bigquery",
          operation: "jobs.query",
          resource: "billing-project",
          status: 400,
          reason: "bytesBilledLimitExceeded",
          message: "Query exceeded limit for bytes billed: 1073741824. 2147483648 or higher required."
        })
      )
      const view = { ...usaNames, kind: "VIEW" as const, size_bytes: null }
      const profile = yield* profileTable("billing-project", view, settings)
      expect((yield* recorded)).toHaveLength(1)
      expect(profile.columns).toEqual([])
      expect(profile.skipped.map((s) => s.reason)).toEqual(["over_budget", "over_budget", "over_budget", "sensitive_name", "over_budget"])
    })))

  it.effect("fails with the query's error when BigQuery fails otherwise, and on an unreadable answer", () =>
    run(Effect.gen(function*() {
      const control = yield* MemoryBigQueryControl
      const denied = new RemoteRejected({
        service: "bigquery",
        operation: "jobs.query",
        resource: "billing-project",
        status: 400,
        reason: "invalidQuery",
        message: "Unrecognized name"
      })
      yield* control.failNext("query", denied)
      const failure = yield* Effect.flip(profileTable("billing-project", usaNames, settings))
      // (Compared by fields: vitest cannot print an Effect error in a failed object comparison.)
      expect([failure._tag, failure.message]).toEqual(["RemoteRejected", "Unrecognized name"])

      yield* arrange(usaNames, { rows: "many", data: {}, topColumns: [] })
      const malformed = yield* Effect.flip(profileTable("billing-project", usaNames, settings))
      expect([malformed._tag, malformed._tag === "RemoteRejected" ? malformed.reason : ""]).toEqual([
        "RemoteRejected",
        "malformedResponse"
      ])
      expect(malformed.message).toContain("row_count")
    })))
})
