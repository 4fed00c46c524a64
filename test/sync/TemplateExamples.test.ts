import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { readdirSync, readFileSync } from "node:fs"
import type { Language } from "../../src/contract/CacheDocument.ts"
import type { RestTable, TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { parseBigQuery, validateSql } from "../../src/sql/SqlValidator.ts"
import { templateExamples } from "../../src/sync/examples/TemplateExamples.ts"

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

const catalog = { tables: [...fixtures, hostile, partitionedOrders, ingestionTime] }
const languages: ReadonlyArray<Language> = ["ko", "en"]
const HANGUL = /[\uAC00-\uD7A3]/

const byId = (id: string) => {
  const found = catalog.tables.find((t) => t.table_id === id)
  if (found === undefined) throw new Error(`no fixture ${id}`)
  return found
}
const ga4 = () => byId("bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131")

describe("templateExamples on the BigQuery fixtures", () => {
  it("covers all four fixtures", () => {
    expect(fixtures.map((t) => t.table_id)).toEqual(expect.arrayContaining([
      "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131",
      "bigquery-public-data.hacker_news.full",
      "bigquery-public-data.samples.shakespeare",
      "bigquery-public-data.usa_names.usa_1910_current"
    ]))
  })

  for (const metadata of [...fixtures, hostile, partitionedOrders, ingestionTime]) {
    for (const language of languages) {
      it(`${metadata.table_id} (${language}): every example validates, parses and names the table in backticks`, () => {
        const examples = templateExamples(metadata, language)
        expect(examples.length).toBeGreaterThanOrEqual(3)
        const quotedTable = `\`${metadata.table_id}\``
        for (const example of examples) {
          const verdict = validateSql(example.sql, catalog)
          expect(Either.isRight(verdict), `${example.sql}\n→ ${JSON.stringify(Either.getLeft(verdict))}`).toBe(true)
          expect(Either.isRight(parseBigQuery(example.sql)), example.sql).toBe(true)
          expect(example.sql).toContain(`FROM ${quotedTable}`)
          expect(Either.getOrThrow(verdict).tables).toEqual([metadata.table_id])
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

  it("reaches into GA4's repeated records with UNNEST", () => {
    const unnest = templateExamples(ga4(), "ko").filter((e) => e.generator === "template:unnest_top_values")
    expect(unnest.map((e) => e.sql)).toEqual([
      "SELECT param.key, COUNT(*) AS occurrences FROM `bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131` CROSS JOIN UNNEST(event_params) AS param GROUP BY param.key ORDER BY occurrences DESC LIMIT 10",
      "SELECT item.item_name, COUNT(*) AS occurrences FROM `bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131` CROSS JOIN UNNEST(items) AS item GROUP BY item.item_name ORDER BY occurrences DESC LIMIT 10"
    ])
    expect(unnest[0].question).toBe("event_params의 key 값 중 가장 많이 나타나는 상위 10개는 무엇인가요?")
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
      expect(all).toContain("CROSS JOIN UNNEST(`group`) AS elem")
      // Keywords are written in upper case, so a lower-case hostile name is always the column: quoted.
      for (const name of ["select", "order date", "user-id", "매출", "group"]) {
        for (let at = all.indexOf(name); at >= 0; at = all.indexOf(name, at + 1)) {
          expect(`${all[at - 1]}${all[at + name.length]}`, `${name} at ${at} in ${all}`).toBe("``")
        }
      }
      for (const sql of sqls) expect(Either.isRight(validateSql(sql, catalog)), sql).toBe(true)
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
