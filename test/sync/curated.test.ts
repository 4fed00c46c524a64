import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Example } from "../../src/contract/CacheDocument.ts"
import { tableMetadataFromRest, type RestField, type TableMetadata } from "../../src/services/BigQuery/TableResource.ts"
import { MemoryStorage, MemoryStorageControl } from "../../src/services/Storage/MemoryStorage.ts"
import { RemoteUnavailable } from "../../src/services/RemoteErrors.ts"
import { validateSql } from "../../src/sql/SqlValidator.ts"
import {
  type CuratedExample,
  type CuratedFile,
  loadCuratedExamples,
  mergeCurated,
  parseCuratedFile
} from "../../src/sync/curated.ts"
import { acceptExamples } from "../../src/sync/examples.ts"
import { templateExamples } from "../../src/sync/examples/TemplateExamples.ts"

const GA4_ID = "nlq-ex.test_dataset.events_20210131"
const GA4_TABLE = "`nlq-ex.test_dataset.events_20210131`"
const now = DateTime.unsafeMake("2024-01-15T17:00:00Z")

const ga4Fields: ReadonlyArray<RestField> = JSON.parse(
  readFileSync(
    new URL("../fixtures/bigquery/ga4_obfuscated_sample_ecommerce.events_20210131.schema.json", import.meta.url),
    "utf8"
  )
)
const ga4: TableMetadata = tableMetadataFromRest(
  { project: "nlq-ex", dataset: "test_dataset", table: "events_20210131" },
  { schema: { fields: ga4Fields } },
  now
)
const users: TableMetadata = tableMetadataFromRest(
  { project: "nlq-ex", dataset: "test_dataset", table: "users" },
  { schema: { fields: [{ name: "user_id", type: "STRING" }, { name: "country", type: "STRING" }] } },
  now
)

const shippedFile = new URL(`../../examples/${GA4_ID}.yaml`, import.meta.url)

/** The problems of a file that must not parse, one formatted line each. */
const problemsOf = (name: string, text: string): ReadonlyArray<string> => {
  const result = parseCuratedFile(name, text)
  if (Either.isRight(result)) throw new Error(`${name} parsed, but should not have`)
  return result.left.message.split("\n")
}

const parsed = (name: string, text: string): CuratedFile => {
  const result = parseCuratedFile(name, text)
  if (Either.isLeft(result)) throw new Error(result.left.message)
  return result.right
}

const lines = (...rows: ReadonlyArray<string>) => rows.join("\n") + "\n"

describe("parseCuratedFile: problems at their file, line and column", () => {
  it("reports bad YAML syntax where the parser stopped", () => {
    const text = lines(
      `table: ${GA4_ID}`,
      "examples:",
      "  - question: [unclosed",
      "    sql: SELECT 1"
    )
    expect(problemsOf("examples/broken.yaml", text)).toEqual([
      "examples/broken.yaml:4:5: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]"
    ])
  })

  it("refuses an unknown key such as `sqll`, at the key, and suggests the right one", () => {
    const text = lines(
      `table: ${GA4_ID}`,
      "examples:",
      "  - question: 총 이벤트 수는?",
      `    sqll: SELECT COUNT(*) FROM ${GA4_TABLE}`,
      "owner: data-team"
    )
    expect(problemsOf("examples/typo.yaml", text)).toEqual([
      `examples/typo.yaml:5:1: owner: unknown key "owner" (allowed: table, examples)`,
      `examples/typo.yaml:4:5: examples[0].sqll: unknown key "sqll" (allowed: question, sql, language); did you mean "sql"?`,
      "examples/typo.yaml:3:5: examples[0].sql: is missing"
    ])
  })

  it("refuses empty and missing questions and SQL", () => {
    const text = lines(
      `table: ${GA4_ID}`,
      "examples:",
      `  - question: "   "`,
      `    sql: SELECT COUNT(*) FROM ${GA4_TABLE}`,
      "  - question:",
      `    sql: ""`,
      "  - question: 몇 건인가요?",
      "    sql: 42",
      "    language: fr"
    )
    expect(problemsOf("examples/empty.yaml", text)).toEqual([
      "examples/empty.yaml:3:15: examples[0].question: must not be empty",
      "examples/empty.yaml:5:5: examples[1].question: has no value",
      "examples/empty.yaml:6:10: examples[1].sql: must not be empty",
      "examples/empty.yaml:8:10: examples[2].sql: must be a string",
      `examples/empty.yaml:9:15: examples[2].language: must be "ko" or "en"`
    ])
  })

  it("refuses a table id that is not project.dataset.table, saying why", () => {
    expect(problemsOf("examples/bad-table.yaml", lines("# for the events table", "table: events", "examples: []"))).toEqual([
      `examples/bad-table.yaml:2:8: table: "events" is not of the form project.dataset.table`
    ])
    expect(problemsOf("examples/bad-project.yaml", lines("table: NLQ.test_dataset.events", "examples: []"))).toEqual([
      `examples/bad-project.yaml:1:8: table: project id "NLQ" must be 6 to 30 characters long (it has 3)`
    ])
  })

  it("refuses examples that are not a list, and list items that are not mappings", () => {
    const notAList = lines(`table: ${GA4_ID}`, "examples:", "  question: 총 이벤트 수는?", "  sql: SELECT 1")
    expect(problemsOf("examples/not-a-list.yaml", notAList)).toEqual([
      "examples/not-a-list.yaml:3:3: examples: must be a list of examples (question, sql)"
    ])
    const notAMapping = lines(`table: ${GA4_ID}`, "examples:", "  - 총 이벤트 수는?")
    expect(problemsOf("examples/item.yaml", notAMapping)).toEqual([
      "examples/item.yaml:3:5: examples[0]: must be a mapping with question and sql"
    ])
  })

  it("refuses an empty file, a file that is not a mapping, and a repeated key", () => {
    expect(problemsOf("examples/empty.yml", "")).toEqual([
      "examples/empty.yml:1:1: the file is empty; expected table and examples"
    ])
    expect(problemsOf("examples/list.yml", lines("- question: a", "  sql: SELECT 1"))).toEqual([
      "examples/list.yml:1:1: must be a mapping with table and examples"
    ])
    expect(problemsOf("examples/twice.yml", lines(`table: ${GA4_ID}`, `table: ${GA4_ID}`, "examples: []"))).toEqual([
      "examples/twice.yml:2:1: invalid YAML: Map keys must be unique"
    ])
  })

  it("reads JSON files too, with positions in the JSON text", () => {
    const json = JSON.stringify(
      {
        table: GA4_ID,
        examples: [{ question: "How many events are there?", sql: `SELECT COUNT(*) AS total_events FROM ${GA4_TABLE}` }]
      },
      null,
      2
    )
    const file = parsed("examples/events.json", json)
    expect(file.table).toBe(GA4_ID)
    expect(file.examples).toEqual([
      {
        example: {
          question: "How many events are there?",
          sql: `SELECT COUNT(*) AS total_events FROM ${GA4_TABLE}`,
          tables: [GA4_ID],
          source: "curated",
          generator: "curated:examples/events.json",
          language: "en"
        },
        file: "examples/events.json",
        line: 6,
        column: 14,
        index: 0
      }
    ])
    expect(problemsOf("examples/bad.json", `{\n  "table": "${GA4_ID}",\n  "examples": [{ "question": "q", "sqll": "SELECT 1" }]\n}`))
      .toEqual([
        `examples/bad.json:3:35: examples[0].sqll: unknown key "sqll" (allowed: question, sql, language); did you mean "sql"?`,
        "examples/bad.json:3:16: examples[0].sql: is missing"
      ])
  })

  it("detects Korean questions as ko, others as en, unless the file says otherwise; trims block scalars", () => {
    const file = parsed(
      "examples/languages.yaml",
      lines(
        `table: ${GA4_ID}`,
        "examples:",
        "  - question: 총 이벤트 수는 얼마인가요?",
        "    sql: |",
        `      SELECT COUNT(*) AS total_events`,
        `      FROM ${GA4_TABLE}`,
        "  - question: How many events are there?",
        `    sql: SELECT COUNT(*) AS n FROM ${GA4_TABLE}`,
        "  - question: event_name별 이벤트 수",
        `    sql: SELECT event_name, COUNT(*) AS n FROM ${GA4_TABLE} GROUP BY event_name`,
        "  - question: Top 10 event_name",
        `    sql: SELECT event_name FROM ${GA4_TABLE} LIMIT 10`,
        "    language: ko"
      )
    )
    expect(file.examples.map((e) => e.example.language)).toEqual(["ko", "en", "ko", "ko"])
    expect(file.examples[0].example.sql).toBe(`SELECT COUNT(*) AS total_events\nFROM ${GA4_TABLE}`)
    expect(file.examples.map((e) => [e.line, e.column])).toEqual([[4, 10], [8, 10], [10, 10], [12, 10]])
  })

  it("accepts a sharded family as the table", () => {
    const file = parsed(
      "examples/family.yaml",
      lines("table: nlq-ex.test_dataset.events_*", "examples:", "  - question: q", "    sql: SELECT 1")
    )
    expect(file.examples[0].example.tables).toEqual(["nlq-ex.test_dataset.events_*"])
  })
})

const goodFile = lines(
  `table: ${GA4_ID}`,
  "examples:",
  "  - question: 총 이벤트 수는 얼마인가요?",
  `    sql: SELECT COUNT(*) AS total_events FROM ${GA4_TABLE}`
)
const badFile = lines(`table: ${GA4_ID}`, "examples:", "  - question: 이벤트 수", `    sqll: SELECT 1`)
const usersFile = lines(
  "table: nlq-ex.test_dataset.users",
  "examples:",
  "  - question: How many users are there per country?",
  "    sql: SELECT country, COUNT(*) AS users FROM `nlq-ex.test_dataset.users` GROUP BY country"
)

const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "metasync-curated-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

describe("loadCuratedExamples", () => {
  it.scopedLive("reads the YAML and JSON files of a directory; a bad file is reported, not fatal", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* Effect.promise(async () => {
        await fs.writeFile(path.join(dir, "a-events.yaml"), goodFile)
        await fs.writeFile(path.join(dir, "b-broken.yml"), badFile)
        await fs.writeFile(
          path.join(dir, "c-users.json"),
          JSON.stringify({ table: "nlq-ex.test_dataset.users", examples: [{ question: "How many users?", sql: "SELECT COUNT(*) FROM `nlq-ex.test_dataset.users`" }] })
        )
        await fs.writeFile(path.join(dir, "README.md"), "# not an examples file")
        await fs.mkdir(path.join(dir, "drafts.yaml"))
      })

      const set = yield* loadCuratedExamples({ directory: dir })
      expect(set.files).toBe(3)
      expect(set.examples.map((e) => [e.example.question, e.example.generator, e.line])).toEqual([
        ["총 이벤트 수는 얼마인가요?", `curated:${path.join(dir, "a-events.yaml")}`, 4],
        ["How many users?", `curated:${path.join(dir, "c-users.json")}`, 1]
      ])
      expect(set.errors.map((e) => e.message)).toEqual([
        `${path.join(dir, "b-broken.yml")}:4:5: examples[0].sqll: unknown key "sqll" (allowed: question, sql, language); did you mean "sql"?\n` +
        `${path.join(dir, "b-broken.yml")}:3:5: examples[0].sql: is missing`
      ])
    }))

  it.live("treats a missing directory as no curated examples", () =>
    Effect.gen(function*() {
      const set = yield* loadCuratedExamples({ directory: path.join(os.tmpdir(), "metasync-no-such-directory", "examples") })
      expect(set).toEqual({ examples: [], errors: [], files: 0 })
    }))

  it.scopedLive("reports a file that is not UTF-8 text", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* Effect.promise(() => fs.writeFile(path.join(dir, "latin1.yaml"), Uint8Array.of(0x74, 0x3a, 0x20, 0xe9, 0xff)))
      const set = yield* loadCuratedExamples({ directory: dir })
      expect(set.errors.map((e) => e.message)).toEqual([`${path.join(dir, "latin1.yaml")}: the file is not UTF-8 text`])
    }))

  it.effect("reads the files under a bucket prefix, and only those", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put("curated/events.yaml", goodFile, "application/yaml")
      yield* bucket.put("curated/broken.yaml", badFile, "application/yaml")
      yield* bucket.put("curated/users.json", JSON.stringify({ table: "nlq-ex.test_dataset.users", examples: [] }))
      yield* bucket.put("curated/notes.txt", "not examples")
      yield* bucket.put("elsewhere/events.yaml", goodFile)
      yield* bucket.put("metadata_cache.json", "{}")

      const set = yield* loadCuratedExamples({ prefix: "curated/" })
      expect(set.files).toBe(3)
      expect(set.examples.map((e) => e.example.generator)).toEqual(["curated:gs://test-bucket/curated/events.yaml"])
      expect(set.errors.map((e) => e.message.split("\n")[0])).toEqual([
        `gs://test-bucket/curated/broken.yaml:4:5: examples[0].sqll: unknown key "sqll" (allowed: question, sql, language); did you mean "sql"?`
      ])

      expect(yield* loadCuratedExamples({ prefix: "nothing-here/" })).toEqual({ examples: [], errors: [], files: 0 })
    }).pipe(Effect.provide(MemoryStorage.layer())))

  it.effect("reports a bucket that cannot be listed instead of failing the run", () =>
    Effect.gen(function*() {
      const bucket = yield* MemoryStorageControl
      yield* bucket.put("curated/events.yaml", goodFile)
      yield* bucket.failNext(
        "list",
        new RemoteUnavailable({
          service: "storage",
          operation: "objects.list",
          resource: "gs://test-bucket/curated/",
          status: 503,
          reason: "backendError",
          message: "Service Unavailable",
          attempts: 1
        })
      )
      const set = yield* loadCuratedExamples({ prefix: "curated/" })
      expect(set.examples).toEqual([])
      expect(set.errors.map((e) => e.message)).toEqual(["gs://test-bucket/curated/: could not list: Service Unavailable"])
    }).pipe(Effect.provide(MemoryStorage.layer())))
})

/** A generated example, as the templates would make it. */
const generatedExample = (question: string, sql: string): Example => ({
  question,
  sql,
  tables: [ga4.table_id],
  source: "template",
  generator: "template:test",
  language: "ko"
})

const curatedFrom = (name: string, text: string): ReadonlyArray<CuratedExample> => parsed(name, text).examples

describe("mergeCurated", () => {
  it("puts curated examples first and drops generated ones with the same question or the same SQL", () => {
    const curated = curatedFrom(
      "examples/events.yaml",
      lines(
        `table: ${GA4_ID}`,
        "examples:",
        "  - question: 총 이벤트 수는 얼마인가요?",
        `    sql: SELECT COUNT(*) AS total_events FROM ${GA4_TABLE}`,
        "  - question: 이벤트 이름별 건수",
        `    sql: SELECT event_name, COUNT(*) AS events FROM ${GA4_TABLE} GROUP BY event_name`
      )
    )
    const generated = [
      // Same question, other spacing and case; different SQL.
      generatedExample("  총 이벤트   수는 얼마인가요? ", `SELECT COUNT(1) AS n FROM ${GA4_TABLE}`),
      // Same SQL up to case and white space; different question.
      generatedExample("이벤트 종류별 수는?", `select event_name,  count(*) as events\nfrom ${GA4_TABLE}\ngroup by event_name`),
      generatedExample("고유 사용자 수는?", `SELECT COUNT(DISTINCT user_pseudo_id) AS users FROM ${GA4_TABLE}`)
    ]
    const merged = mergeCurated(curated, generated, [ga4])
    expect(merged.examples.map((e) => [e.source, e.question])).toEqual([
      ["curated", "총 이벤트 수는 얼마인가요?"],
      ["curated", "이벤트 이름별 건수"],
      ["template", "고유 사용자 수는?"]
    ])
    expect(merged.rejected).toEqual({ superseded_by_curated: 2 })
    expect(merged.errors).toEqual([])
  })

  it("rejects curated examples the validator refuses, naming file and line for the team", () => {
    const curated = curatedFrom(
      "examples/events.yaml",
      lines(
        `table: ${GA4_ID}`,
        "examples:",
        "  - question: 모든 이벤트를 지워주세요",
        `    sql: DELETE FROM ${GA4_TABLE} WHERE TRUE`,
        "  - question: 국가별 매출",
        "    sql: |",
        `      SELECT geo.nation, SUM(ecommerce.purchase_revenue_in_usd) AS revenue`,
        `      FROM ${GA4_TABLE} GROUP BY 1`,
        "  - question: 총 이벤트 수",
        `    sql: SELECT COUNT(*) AS total FROM ${GA4_TABLE}`,
        "  - question: 전체 이벤트 건수",
        `    sql: select count(*) as total from ${GA4_TABLE}`
      )
    )
    // A generated example with the question of a refused curated one stays: nothing replaced it.
    const generated = [generatedExample("국가별 매출", `SELECT geo.country, COUNT(*) AS events FROM ${GA4_TABLE} GROUP BY 1`)]
    const merged = mergeCurated(curated, generated, [ga4])

    expect(merged.examples.map((e) => e.question)).toEqual(["총 이벤트 수", "국가별 매출"])
    expect(merged.examples[1].source).toBe("template")
    expect(merged.rejected).toEqual({ not_read_only: 1, unknown_column: 1, duplicate: 1 })
    expect(merged.errors).toHaveLength(1)
    const report = merged.errors[0].message.split("\n")
    expect(report).toHaveLength(3)
    expect(report[0]).toMatch(/^examples\/events\.yaml:4:10: examples\[0\]\.sql: rejected \(not_read_only\): /)
    expect(report[1]).toMatch(/^examples\/events\.yaml:6:10: examples\[1\]\.sql: rejected \(unknown_column\): geo\.nation: geo has no field nation/)
    expect(report[2]).toBe("examples/events.yaml:12:10: examples[3].sql: rejected (duplicate): the same SQL as examples/events.yaml:10")
  })

  it("rejects a curated example whose SQL reads another table than its file's", () => {
    const curated = curatedFrom(
      "examples/events.yaml",
      lines(
        `table: ${GA4_ID}`,
        "examples:",
        "  - question: How many users are there?",
        "    sql: SELECT COUNT(*) AS users FROM `nlq-ex.test_dataset.users`"
      )
    )
    const merged = mergeCurated(curated, [], [ga4, users])
    expect(merged.examples).toEqual([])
    expect(merged.rejected).toEqual({ wrong_table: 1 })
    expect(merged.errors.map((e) => e.message)).toEqual([
      `examples/events.yaml:4:10: examples[0].sql: rejected (wrong_table): the SQL does not read ${GA4_ID}, the table this file is for`
    ])
  })

  // The gate refuses it too (for every source); the file's report must say why, not "duplicate".
  it("rejects a curated example whose SQL also reads a table other than its file's, saying so", () => {
    const curated = curatedFrom(
      "examples/events.yaml",
      lines(
        `table: ${GA4_ID}`,
        "examples:",
        "  - question: Events by user country",
        `    sql: SELECT u.country, COUNT(*) AS events FROM ${GA4_TABLE} AS e JOIN \`nlq-ex.test_dataset.users\` AS u ON e.user_pseudo_id = u.user_id GROUP BY u.country`
      )
    )
    const merged = mergeCurated(curated, [], [ga4, users])
    expect(merged.examples).toEqual([])
    expect(merged.rejected).toEqual({ wrong_table: 1 })
    expect(merged.errors.map((e) => e.message)).toEqual([
      "examples/events.yaml:4:10: examples[0].sql: rejected (wrong_table): the SQL reads nlq-ex.test_dataset.users, " +
      "not only the table this file is for"
    ])
  })

  it("sets aside curated files for tables this run does not describe, without errors", () => {
    const merged = mergeCurated(
      [...curatedFrom("examples/users.yaml", usersFile), ...curatedFrom("examples/events.yaml", goodFile)],
      [],
      [ga4]
    )
    expect(merged.examples.map((e) => e.question)).toEqual(["총 이벤트 수는 얼마인가요?"])
    expect(merged.errors).toEqual([])
    expect(merged.unmatched).toEqual({ examples: 1, tables: ["nlq-ex.test_dataset.users"] })
  })
})

describe("the shipped curated file for the GA4 sample", () => {
  const text = readFileSync(shippedFile, "utf8")

  it("parses, in Korean, with 4 to 6 examples for the sample table", () => {
    const file = parsed(`examples/${GA4_ID}.yaml`, text)
    expect(file.table).toBe(GA4_ID)
    expect(file.examples.length).toBeGreaterThanOrEqual(4)
    expect(file.examples.length).toBeLessThanOrEqual(6)
    expect(file.examples.every((e) => e.example.language === "ko")).toBe(true)
  })

  it("has SQL that passes the validator against the GA4 table", () => {
    for (const { example } of parsed(`examples/${GA4_ID}.yaml`, text).examples) {
      const verdict = validateSql(example.sql, { tables: [ga4] })
      expect(Either.isRight(verdict) ? verdict.right.tables : verdict.left.message).toEqual([GA4_ID])
    }
  })

  it.live("loads from the repository's examples directory and wins over the templates", () =>
    Effect.gen(function*() {
      const set = yield* loadCuratedExamples({ directory: path.dirname(fileURLToPath(shippedFile)) })
      expect(set.errors).toEqual([])
      const mine = set.examples.filter((e) => e.example.tables.includes(ga4.table_id))
      expect(mine.length).toBeGreaterThanOrEqual(4)

      const templates = acceptExamples(templateExamples(ga4, "ko"), [ga4])
      const merged = mergeCurated(set.examples, templates.examples, [ga4])
      expect(merged.errors).toEqual([])
      expect(merged.examples.slice(0, mine.length)).toEqual(mine.map((e) => e.example))
      expect(merged.examples.length).toBe(mine.length + templates.examples.length - (merged.rejected.superseded_by_curated ?? 0))
      expect(Object.keys(merged.rejected).filter((reason) => reason !== "superseded_by_curated")).toEqual([])
    }))
})
