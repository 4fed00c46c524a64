import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { readdirSync, readFileSync } from "node:fs"
import type { Language, Sharding } from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/CacheDocument.ts"
import { flattenFields } from "../../src/contract/Field.ts"
import type { ColumnProfile, TableProfile } from "../../src/contract/Profile.ts"
import type { RestTable, TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { parseBigQuery, validateSql } from "../../src/sql/SqlValidator.ts"
import { type TemplateTable, templateExamples } from "../../src/sync/examples/TemplateExamples.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { exampleProblems, readWithCst, TEMPLATE_FUNCTIONS } from "../sql/CstReading.ts"

const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")
const fixtureDir = new URL("../fixtures/bigquery/", import.meta.url)

/** Every `dataset.table.schema.json` fixture, as the table `bigquery-public-data.dataset.table`. */
const fixtures: ReadonlyArray<TableMetadata> = readdirSync(fixtureDir)
  .filter((file) => file.endsWith(".schema.json"))
  .sort()
  .map((file) => {
    const [dataset, table] = file.replace(/\.schema\.json$/, "").split(".")
    const fields = JSON.parse(readFileSync(new URL(file, fixtureDir), "utf8"))
    return tableMetadataFromRest({ project: "bigquery-public-data", dataset, table }, { schema: { fields } }, now)
  })

const table = (name: string, resource: RestTable) =>
  tableMetadataFromRest({ project: "my-project", dataset: "shop", table: name }, resource, now)

const hostile = table("주문 내역-2024", {
  schema: {
    fields: [
      { name: "select", type: "STRING" },
      { name: "order date", type: "DATE" },
      { name: "user-id", type: "STRING" },
      { name: "매출", type: "NUMERIC", description: "매출 금액" },
      {
        name: "group",
        type: "RECORD",
        mode: "REPEATED",
        fields: [
          { name: "name", type: "STRING" },
          { name: "from", type: "STRING" }
        ]
      }
    ]
  }
})

const partitionedOrders = table("orders", {
  timePartitioning: { type: "DAY", field: "created_at", requirePartitionFilter: true },
  schema: {
    fields: [
      { name: "created_at", type: "TIMESTAMP" },
      { name: "status", type: "STRING" },
      { name: "is_gift", type: "BOOLEAN" },
      { name: "amount", type: "NUMERIC" },
      { name: "lines", type: "RECORD", mode: "REPEATED", fields: [{ name: "product_name", type: "STRING" }] }
    ]
  }
})

const ingestionTime = table("raw_events", {
  timePartitioning: { type: "DAY", requirePartitionFilter: true },
  schema: { fields: [{ name: "event_type", type: "STRING" }] }
})

const ga4Fields = JSON.parse(
  readFileSync(new URL("ga4_obfuscated_sample_ecommerce.events_20210131.schema.json", fixtureDir), "utf8")
)

/** A date-sharded GA4 family as the sync describes it: one entry under its wildcard id. */
const ga4Family = (dataset: string, sharding: Sharding, profile: TableProfile | null = null) =>
  makeTableEntry({
    ...tableMetadataFromRest({ project: "nlq-ex", dataset, table: "events_*" }, { schema: { fields: ga4Fields } }, now),
    sharding,
    profile
  })

const profileOf = (columns: ReadonlyArray<Partial<ColumnProfile> & Pick<ColumnProfile, "column">>): TableProfile => ({
  profiled_at: now,
  sample_percent: null,
  rows_sampled: 1000,
  bytes_processed: 4096,
  columns: columns.map((c) => ({ type: "STRING", null_fraction: 0, approx_distinct: 3, top_values: null, min: null, max: null, ...c })),
  skipped: []
})

const topValues = (...values: ReadonlyArray<string>) => values.map((value, i) => ({ value, count: 100 - i }))

const shardedGa4 = ga4Family("ga4", { prefix: "events_", first_suffix: "20210101", last_suffix: "20210131", shard_count: 31 })
const fewShards = ga4Family("ga4_short", { prefix: "events_", first_suffix: "20210129", last_suffix: "20210131", shard_count: 3 })
const profiledGa4 = ga4Family(
  "ga4_profiled",
  { prefix: "events_", first_suffix: "20210201", last_suffix: "20210302", shard_count: 30 },
  profileOf([
    { column: "geo.country", top_values: topValues("(not set)", "United States", "India") },
    { column: "event_params.key", top_values: topValues("ga_session_id", "ga_session_number", "page_location", "engagement_time_msec") }
  ])
)
/** Keys the template does not know the value field of. */
const customKeysGa4 = ga4Family(
  "ga4_custom",
  { prefix: "events_", first_suffix: "20210101", last_suffix: "20210131", shard_count: 31 },
  profileOf([{ column: "event_params.key", top_values: topValues("session_token_id", "plan_tier") }])
)

/** Visits whose `country` column the profile has seen `topCountry` in most. */
const profiledVisits = (name: string, topCountry: string) =>
  makeTableEntry({
    ...table(name, {
      schema: {
        fields: [
          { name: "visit_id", type: "STRING" },
          { name: "country", type: "STRING" },
          { name: "visited_at", type: "TIMESTAMP" }
        ]
      }
    }),
    profile: profileOf([
      { column: "visit_id", approx_distinct: 1000 },
      { column: "country", top_values: topValues("(not set)", "", topCountry, "Japan") }
    ])
  })
const koreanVisits = profiledVisits("visits", "South Korea")
const quotedVisits = profiledVisits("site_visits", "O'Brien")

const clicksResource = (numBytes: number, numRows: number): RestTable => ({
  timePartitioning: { type: "DAY", field: "clicked_at" },
  numBytes,
  numRows,
  schema: {
    fields: [
      { name: "clicked_at", type: "TIMESTAMP" },
      { name: "campaign", type: "STRING" },
      { name: "is_bot", type: "BOOLEAN" }
    ]
  }
})
const largeClicks = table("clicks", clicksResource(20 * 1024 ** 3, 5_000_000))
const manyRowClicks = table("many_clicks", clicksResource(1_048_576, 250_000_000))
const smallClicks = table("small_clicks", clicksResource(1_048_576, 1_000))

const variants: ReadonlyArray<TemplateTable> = [
  shardedGa4,
  fewShards,
  profiledGa4,
  customKeysGa4,
  koreanVisits,
  quotedVisits,
  largeClicks,
  manyRowClicks,
  smallClicks
]
const catalog = { tables: [...fixtures, hostile, partitionedOrders, ingestionTime, ...variants] }
const languages: ReadonlyArray<Language> = ["ko", "en"]
const HANGUL = /\p{Script=Hangul}/u

const byId = (id: string) => {
  const found = catalog.tables.find((t) => t.table_id === id)
  if (found === undefined) throw new Error(`no fixture ${id}`)
  return found
}
const ga4 = () => byId("bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131")

describe("templateExamples on the BigQuery fixtures", () => {
  it("covers all four fixtures and the sharded, profiled and partitioned variants", () => {
    expect(fixtures.map((t) => t.table_id)).toEqual(expect.arrayContaining([
      "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131",
      "bigquery-public-data.hacker_news.full",
      "bigquery-public-data.samples.shakespeare",
      "bigquery-public-data.usa_names.usa_1910_current"
    ]))
    expect(catalog.tables.length).toBe(fixtures.length + 3 + variants.length)
  })

  for (const metadata of catalog.tables) {
    for (const language of languages) {
      it(`${metadata.table_id} (${language}): every example reads the table's own fields, by a second parser, and names the table in backticks`, () => {
        const examples = templateExamples(metadata, language)
        // A one-column table (raw_events) has two questions worth asking: its size and its breakdown.
        expect(examples.length).toBeGreaterThanOrEqual(2)
        const quotedTable = `\`${metadata.table_id}\``
        for (const example of examples) {
          // The oracle: sql-parser-cst's reading checked against the field tree by rules stated in the test.
          expect(exampleProblems(example.sql, metadata, TEMPLATE_FUNCTIONS), example.sql).toEqual([])
          expect(example.sql).toContain(`FROM ${quotedTable}`)
          // And the sync's own gate lets it through (else the example would be dropped).
          const verdict = validateSql(example.sql, catalog)
          expect(Either.isRight(verdict), `${example.sql}\n→ ${JSON.stringify(Either.getLeft(verdict))}`).toBe(true)
          expect(Either.isRight(parseBigQuery(example.sql)), example.sql).toBe(true)
          expect(example.tables).toEqual([metadata.table_id])
          expect(example.source).toBe("template")
          expect(example.language).toBe(language)
          expect(example.generator).toMatch(/^template:[a-z_]+$/)
          expect(example.question.endsWith("?")).toBe(true)
          if (language === "ko") expect(example.question).toMatch(HANGUL)
        }
        // One example per template, and no two alike.
        expect(new Set(examples.map((e) => e.sql)).size).toBe(examples.length)
      })
    }
  }

  it("never quotes a description in a question of another language", () => {
    for (const metadata of catalog.tables) {
      const described = flattenFields(metadata.columns).flatMap((f) =>
        f.description === null || f.description.trim() === "" ? [] : [f.description.normalize("NFC").trim().replace(/\.$/, "")]
      )
      for (const language of languages) {
        for (const { question } of templateExamples(metadata, language)) {
          for (const description of described.filter((d) => question.includes(d))) {
            if (language === "en") expect(description, question).not.toMatch(HANGUL)
            else expect(description, question).toMatch(HANGUL)
          }
        }
      }
    }
  })

  it("is deterministic", () => {
    for (const metadata of catalog.tables) {
      for (const language of languages) {
        expect(templateExamples(metadata, language)).toEqual(templateExamples(metadata, language))
      }
    }
  })

  it("asks the seed's question in Korean by default, and in English when asked", () => {
    const [koTotal] = templateExamples(ga4(), "ko")
    expect(koTotal.question).toBe("총 이벤트 수는 얼마인가요?")
    expect(koTotal.sql).toBe(
      "SELECT COUNT(*) AS total_events FROM `bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131`"
    )
    const [enTotal] = templateExamples(ga4(), "en")
    expect(enTotal.question).toBe("How many events are there in total?")
    expect(templateExamples(ga4(), "en").some((e) => HANGUL.test(e.question))).toBe(false)
  })

  it("reaches into GA4's repeated records with UNNEST, aliased as field_paths aliases them", () => {
    const unnest = templateExamples(ga4(), "ko").filter((e) => e.generator === "template:unnest_top_values")
    expect(unnest.map((e) => e.sql)).toEqual([
      "SELECT event_param.key, COUNT(*) AS occurrences FROM `bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131` CROSS JOIN UNNEST(event_params) AS event_param GROUP BY event_param.key ORDER BY occurrences DESC LIMIT 10",
      "SELECT item.item_name, COUNT(*) AS occurrences FROM `bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131` CROSS JOIN UNNEST(items) AS item GROUP BY item.item_name ORDER BY occurrences DESC LIMIT 10"
    ])
    expect(unnest[0].question).toBe("event_params의 key 값 중 가장 많이 나타나는 상위 10개는 무엇인가요?")
    // The same joins and expressions the document's field_paths tell the model to use.
    const paths = new Map(fieldPathEntries(ga4().columns).map((e) => [e.path, e]))
    for (const [sql, path] of unnest.map((e, i) => [e.sql, ["event_params.key", "items.item_name"][i]] as const)) {
      const entry = paths.get(path)
      expect(sql).toContain(`SELECT ${entry?.expression}, `)
      expect(sql).toContain(` ${entry?.joins.join(" ")} `)
    }
  })

  it("reaches a REPEATED record inside a REPEATED record through the outer element's alias", () => {
    const baskets = table("baskets", {
      schema: {
        fields: [
          { name: "basket_id", type: "STRING" },
          {
            name: "lines",
            type: "RECORD",
            mode: "REPEATED",
            fields: [
              { name: "sku", type: "STRING" },
              { name: "discounts", type: "RECORD", mode: "REPEATED", fields: [{ name: "code", type: "STRING" }] }
            ]
          }
        ]
      }
    })
    const entries = fieldPathEntries(baskets.columns)
    expect(entries.find((e) => e.path === "lines.discounts.code")).toEqual({
      path: "lines.discounts.code",
      unnest: ["lines", "lines.discounts"],
      joins: ["CROSS JOIN UNNEST(lines) AS line", "CROSS JOIN UNNEST(line.discounts) AS discount"],
      expression: "discount.code"
    })
    // Every path's joins, as a query, read by the second parser: each UNNEST names the alias before it.
    for (const entry of entries) {
      const sql = `SELECT ${entry.expression} FROM \`${baskets.table_id}\` ${entry.joins.join(" ")}`
      expect(exampleProblems(sql, baskets, TEMPLATE_FUNCTIONS), sql).toEqual([])
    }
  })

  it("asks no key/value question of GA4's event_params when the profile knows no keys", () => {
    for (const table of [ga4(), shardedGa4]) {
      const generators = templateExamples(table, "ko").map((e) => e.generator)
      expect(generators).not.toContain("template:count_sessions")
      expect(generators).not.toContain("template:unnest_value_by_key")
    }
  })

  it("reads GA4's time columns the GA4 way", () => {
    const sqls = templateExamples(ga4(), "ko").map((e) => e.sql)
    expect(sqls.some((sql) => sql.includes("PARSE_DATE('%Y%m%d', event_date)"))).toBe(true)
    expect(sqls.some((sql) => sql.includes("TIMESTAMP_MICROS(event_timestamp)"))).toBe(true)
  })

  it("breaks counts down by a category-looking column, top 10", () => {
    const breakdown = templateExamples(ga4(), "ko").find((e) => e.generator === "template:count_by_category")
    expect(breakdown?.sql).toContain("GROUP BY event_name ORDER BY event_count DESC LIMIT 10")
    expect(breakdown?.question).toBe("이벤트 수가 가장 많은 event_name 상위 10개는 무엇인가요?")
  })

  it("filters on a boolean flag without assuming any value exists", () => {
    const hn = byId("bigquery-public-data.hacker_news.full")
    const filter = templateExamples(hn, "en").find((e) => e.generator === "template:filter_boolean")
    expect(filter?.sql).toBe("SELECT COUNT(*) AS row_count FROM `bigquery-public-data.hacker_news.full` WHERE dead IS TRUE")
  })

  it("counts per year when the only time column is a year", () => {
    const names = byId("bigquery-public-data.usa_names.usa_1910_current")
    const trend = templateExamples(names, "ko").find((e) => e.generator === "template:trend_yearly")
    expect(trend?.sql).toContain("GROUP BY year ORDER BY year")
  })
})

describe("templateExamples' questions, in one language", () => {
  const orders = table("orders", {
    schema: {
      fields: [
        // Korean, as macOS writes it: decomposed into conjoining jamo (NFD).
        { name: "order_amount", type: "NUMERIC", description: "주문 금액".normalize("NFD") },
        // English with one Korean word: neither language's description.
        { name: "status", type: "STRING", description: "Order status in the KRW shop (원)" },
        { name: "customer_id", type: "STRING", description: "고객 ID" },
        { name: "channel", type: "STRING", description: "Sales channel" }
      ]
    }
  })
  const questions = (language: Language) =>
    Object.fromEntries(templateExamples(orders, language).map((e) => [e.generator, e.question]))

  it("asks in English with English descriptions only, else the column name", () => {
    expect(questions("en")).toEqual({
      "template:count_total": "How many orders are there in total?",
      "template:count_distinct_users": "How many distinct users (by customer_id) are there?",
      "template:count_by_category": "Which 10 values of status have the most orders?",
      "template:sum_measure": "What is the total order_amount?"
    })
  })

  it("asks in Korean with Korean descriptions only (acronyms allowed), else the column name", () => {
    expect(questions("ko")).toEqual({
      "template:count_total": "총 주문 수는 얼마인가요?",
      "template:count_distinct_users": "고유 사용자 수(고객 ID 기준)는 얼마인가요?",
      "template:count_by_category": "주문 수가 가장 많은 status 상위 10개는 무엇인가요?",
      "template:sum_measure": "주문 금액의 합계는 얼마인가요?"
    })
  })
})

describe("templateExamples on awkward tables", () => {
  it("quotes keyword, spaced, dashed and Unicode names and a keyword-named REPEATED RECORD", () => {
    for (const language of languages) {
      const sqls = templateExamples(hostile, language).map((e) => e.sql)
      const all = sqls.join("\n")
      expect(all).toContain("FROM `my-project.shop.주문 내역-2024`")
      expect(all).toContain("`select`")
      expect(all).toContain("`order date`")
      expect(all).toContain("`user-id`")
      expect(all).toContain("`매출`")
      expect(all).toContain("CROSS JOIN UNNEST(`group`) AS group_item")
      // Keywords are written in upper case, so a lower-case hostile name is always the column:
      // quoted (unless it is only part of a longer name, such as the alias group_item).
      for (const name of ["select", "order date", "user-id", "매출", "group"]) {
        for (let at = all.indexOf(name); at >= 0; at = all.indexOf(name, at + 1)) {
          const around = `${all[at - 1]}${all[at + name.length]}`
          if (/\w/.test(around)) continue
          expect(around, `${name} at ${at} in ${all}`).toBe("``")
        }
      }
      for (const sql of sqls) expect(exampleProblems(sql, hostile, TEMPLATE_FUNCTIONS), sql).toEqual([])
    }
  })

  it("puts the partition filter on every example of a partitioned table", () => {
    const examples = templateExamples(partitionedOrders, "ko")
    expect(examples.map((e) => e.generator)).toEqual([
      "template:count_total",
      "template:count_by_category",
      "template:sum_measure",
      "template:trend_daily",
      "template:count_by_hour",
      "template:filter_boolean",
      "template:unnest_top_values"
    ])
    for (const example of examples) {
      expect(example.sql).toContain("created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)")
      expect(example.question.startsWith("최근 30일 동안 ")).toBe(true)
    }
    for (const example of templateExamples(partitionedOrders, "en")) {
      expect(example.question.endsWith(" in the last 30 days?")).toBe(true)
    }
  })

  it("writes exactly these examples for a partitioned orders table", () => {
    const within = "WHERE created_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)"
    expect(templateExamples(partitionedOrders, "en").map((e) => [e.question, e.sql])).toEqual([
      [
        "How many orders are there in total in the last 30 days?",
        `SELECT COUNT(*) AS total_orders FROM \`my-project.shop.orders\` ${within}`
      ],
      [
        "Which 10 values of status have the most orders in the last 30 days?",
        `SELECT status, COUNT(*) AS order_count FROM \`my-project.shop.orders\` ${within} GROUP BY status ORDER BY order_count DESC LIMIT 10`
      ],
      [
        "What is the total amount in the last 30 days?",
        `SELECT SUM(amount) AS total_amount FROM \`my-project.shop.orders\` ${within}`
      ],
      [
        "How many orders are there per day, by created_at in the last 30 days?",
        `SELECT DATE(created_at) AS day, COUNT(*) AS order_count FROM \`my-project.shop.orders\` ${within} GROUP BY day ORDER BY day`
      ],
      [
        "How many orders fall in each hour of the day (UTC), by created_at in the last 30 days?",
        `SELECT EXTRACT(HOUR FROM created_at) AS hour, COUNT(*) AS order_count FROM \`my-project.shop.orders\` ${within} GROUP BY hour ORDER BY hour`
      ],
      [
        "How many orders have is_gift set to TRUE in the last 30 days?",
        `SELECT COUNT(*) AS order_count FROM \`my-project.shop.orders\` ${within} AND is_gift IS TRUE`
      ],
      [
        "What are the 10 most frequent product_name values in lines in the last 30 days?",
        `SELECT line.product_name, COUNT(*) AS occurrences FROM \`my-project.shop.orders\` CROSS JOIN UNNEST(lines) AS line ${within} GROUP BY line.product_name ORDER BY occurrences DESC LIMIT 10`
      ]
    ])
  })

  it("filters an ingestion-time partitioned table on _PARTITIONTIME", () => {
    for (const example of templateExamples(ingestionTime, "ko")) {
      expect(example.sql).toContain("_PARTITIONTIME >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)")
    }
  })

  it("writes only the total count when no column fits another template", () => {
    const blobs = table("blobs", { schema: { fields: [{ name: "payload", type: "BYTES" }] } })
    expect(templateExamples(blobs, "ko")).toEqual([
      {
        question: "blobs 테이블의 전체 행 수는 얼마인가요?",
        sql: "SELECT COUNT(*) AS total_rows FROM `my-project.shop.blobs`",
        tables: [blobs.table_id],
        source: "template",
        generator: "template:count_total",
        language: "ko"
      }
    ])
  })

  it("writes nothing when the partition column is missing from the schema", () => {
    const broken = table("broken", {
      timePartitioning: { type: "DAY", field: "day", requirePartitionFilter: true },
      schema: { fields: [{ name: "status", type: "STRING" }] }
    })
    expect(templateExamples(broken, "ko")).toEqual([])
  })

  it("picks aliases no column already uses", () => {
    const clashing = table("events", {
      schema: {
        fields: [
          { name: "event_count", type: "INTEGER" },
          { name: "total_events", type: "INTEGER" },
          { name: "day", type: "DATE" },
          { name: "event_type", type: "STRING" }
        ]
      }
    })
    const sqls = templateExamples(clashing, "en").map((e) => e.sql)
    expect(sqls[0]).toBe("SELECT COUNT(*) AS total_events_2 FROM `my-project.shop.events`")
    expect(sqls.join("\n")).toContain("COUNT(*) AS event_count_2")
    expect(sqls.join("\n")).toContain("AS day_2")
  })
})

describe("templateExamples on a date-sharded family", () => {
  const window = "_TABLE_SUFFIX BETWEEN '20210125' AND '20210131'"

  it("reads the newest 7 days of shards in every example, and says so", () => {
    for (const language of languages) {
      const examples = templateExamples(shardedGa4, language)
      expect(examples.length).toBeGreaterThanOrEqual(5)
      for (const example of examples) {
        expect(example.sql).toContain("FROM `nlq-ex.ga4.events_*`")
        expect(example.sql).toContain(` WHERE ${window}`)
        expect(example.tables).toEqual(["nlq-ex.ga4.events_*"])
        if (language === "ko") expect(example.question.startsWith("최근 7일(20210125~20210131) 동안 ")).toBe(true)
        else expect(example.question.endsWith(" over the last 7 days of shards (20210125 to 20210131)?")).toBe(true)
        expect(readWithCst(example.sql).tables).toEqual(["nlq-ex.ga4.events_*"])
      }
    }
  })

  it("counts the family per shard date instead of per event_date", () => {
    const examples = templateExamples(shardedGa4, "ko")
    expect(examples[0]).toMatchObject({
      question: "최근 7일(20210125~20210131) 동안 총 이벤트 수는 얼마인가요?",
      sql: `SELECT COUNT(*) AS total_events FROM \`nlq-ex.ga4.events_*\` WHERE ${window}`
    })
    const trend = examples.find((e) => e.generator === "template:trend_by_shard")
    expect(trend?.sql).toBe(
      `SELECT PARSE_DATE('%Y%m%d', _TABLE_SUFFIX) AS day, COUNT(*) AS event_count FROM \`nlq-ex.ga4.events_*\` WHERE ${window} GROUP BY day ORDER BY day`
    )
    expect(examples.map((e) => e.generator)).not.toContain("template:trend_daily")
    expect(examples.some((e) => e.sql.includes("TIMESTAMP_MICROS(event_timestamp)"))).toBe(true)
  })

  it("reads every shard when there are fewer than 7 days of them", () => {
    for (const example of templateExamples(fewShards, "ko")) {
      expect(example.sql).toContain("_TABLE_SUFFIX BETWEEN '20210129' AND '20210131'")
      expect(example.question.startsWith("전체 샤드(20210129~20210131)에서 ")).toBe(true)
    }
  })

  it("counts the 7 days back across a month end", () => {
    for (const example of templateExamples(profiledGa4, "en")) {
      expect(example.sql).toContain("_TABLE_SUFFIX BETWEEN '20210224' AND '20210302'")
    }
  })

  it("counts GA4 sessions and groups by a parameter when the profile knows event_params' keys", () => {
    const examples = templateExamples(profiledGa4, "en")
    const from = "FROM `nlq-ex.ga4_profiled.events_*` WHERE _TABLE_SUFFIX BETWEEN '20210224' AND '20210302'"
    expect(examples.find((e) => e.generator === "template:count_sessions")).toMatchObject({
      question:
        "How many sessions (user_pseudo_id with the ga_session_id of event_params) are there over the last 7 days of shards (20210224 to 20210302)?",
      sql:
        "SELECT COUNT(DISTINCT CONCAT(user_pseudo_id, CAST((SELECT event_param.value.int_value FROM UNNEST(event_params) AS event_param WHERE event_param.key = 'ga_session_id') AS STRING))) AS sessions " +
        from
    })
    // page_location, a text parameter, rather than the more frequent ga_session_number.
    expect(examples.find((e) => e.generator === "template:unnest_value_by_key")?.sql).toBe(
      "SELECT (SELECT event_param.value.string_value FROM UNNEST(event_params) AS event_param WHERE event_param.key = 'page_location') AS page_location, COUNT(*) AS event_count " +
        `${from} GROUP BY page_location ORDER BY event_count DESC LIMIT 10`
    )
  })

  it("reads a parameter it knows nothing about as text from whichever value field holds it", () => {
    const byKey = templateExamples(customKeysGa4, "ko").filter((e) => e.generator === "template:unnest_value_by_key")
    expect(byKey.map((e) => e.sql)).toEqual([
      "SELECT (SELECT COALESCE(event_param.value.string_value, CAST(event_param.value.int_value AS STRING), CAST(event_param.value.float_value AS STRING), CAST(event_param.value.double_value AS STRING)) FROM UNNEST(event_params) AS event_param WHERE event_param.key = 'plan_tier') AS plan_tier, COUNT(*) AS event_count FROM `nlq-ex.ga4_custom.events_*` WHERE _TABLE_SUFFIX BETWEEN '20210125' AND '20210131' GROUP BY plan_tier ORDER BY event_count DESC LIMIT 10"
    ])
    expect(byKey[0].question).toBe(
      "최근 7일(20210125~20210131) 동안 event_params의 key가 \"plan_tier\"인 값 중 이벤트 수가 가장 많은 상위 10개는 무엇인가요?"
    )
    // No sessions without ga_session_id among the keys.
    expect(templateExamples(customKeysGa4, "ko").map((e) => e.generator)).not.toContain("template:count_sessions")
  })
})

describe("templateExamples with a column profile", () => {
  it("filters on the most frequent real value, skipping placeholders and empty strings", () => {
    const filter = templateExamples(koreanVisits, "ko").find((e) => e.generator === "template:filter_top_value")
    expect(filter).toMatchObject({
      question: "country 값이 \"South Korea\"인 방문 수는 얼마인가요?",
      sql: "SELECT COUNT(*) AS visit_count FROM `my-project.shop.visits` WHERE country = 'South Korea'"
    })
    expect(templateExamples(koreanVisits, "ko").map((e) => e.generator)).not.toContain("template:filter_not_null")
  })

  it("escapes a quote in the value", () => {
    const filter = templateExamples(quotedVisits, "en").find((e) => e.generator === "template:filter_top_value")
    expect(filter?.sql).toBe("SELECT COUNT(*) AS visit_count FROM `my-project.shop.site_visits` WHERE country = 'O\\'Brien'")
    expect(filter?.question).toBe("How many visits have country equal to \"O'Brien\"?")
    expect(readWithCst(filter?.sql ?? "").strings).toEqual(["O'Brien"])
  })

  it("filters a nested column with a top value (GA4 geo.country)", () => {
    const filter = templateExamples(profiledGa4, "en").find((e) => e.generator === "template:filter_top_value")
    expect(filter?.sql).toContain("AND geo.country = 'United States'")
  })

  it("asks how many rows have a value only of a column the profile shows sparse", () => {
    const plain = table("visits_plain", {
      schema: { fields: [{ name: "country", type: "STRING" }, { name: "city", type: "STRING" }] }
    })
    const generators = (t: TemplateTable) => templateExamples(t, "ko").map((e) => e.generator)
    expect(generators(plain)).not.toContain("template:filter_not_null")
    const dense = makeTableEntry({ ...plain, profile: profileOf([{ column: "city", null_fraction: 0.01, approx_distinct: 500 }]) })
    expect(generators(dense)).not.toContain("template:filter_not_null")
    const sparse = makeTableEntry({ ...plain, profile: profileOf([{ column: "city", null_fraction: 0.4, approx_distinct: 500 }]) })
    const filter = templateExamples(sparse, "en").find((e) => e.generator === "template:filter_not_null")
    expect(filter?.sql).toBe("SELECT COUNT(*) AS row_count FROM `my-project.shop.visits_plain` WHERE city IS NOT NULL")
    expect(generators(sparse)).not.toContain("template:filter_top_value")
  })
})

describe("templateExamples on partitioned tables that do not require a filter", () => {
  const filter = "clicked_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)"

  it("filters a large one (over 10 GiB, or over 100 million rows) on its partition column anyway", () => {
    for (const large of [largeClicks, manyRowClicks]) {
      const examples = templateExamples(large, "ko")
      expect(examples.length).toBeGreaterThanOrEqual(3)
      for (const example of examples) {
        expect(example.sql).toContain(` WHERE ${filter}`)
        expect(example.question.startsWith("최근 30일 동안 ")).toBe(true)
      }
    }
  })

  it("leaves a small one unfiltered", () => {
    const examples = templateExamples(smallClicks, "en")
    expect(examples[0].sql).toBe("SELECT COUNT(*) AS total_clicks FROM `my-project.shop.small_clicks`")
    for (const example of examples) expect(example.sql).not.toContain(filter)
  })
})
