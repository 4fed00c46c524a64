/**
 * Hostile and huge tables through the live path: the local BigQuery serves them over HTTP, the
 * live layers read them, `syncOnce` publishes to the local Cloud Storage. What comes out must be
 * the table as served — every column, the full nesting, descriptions to the byte — and every
 * example must stay correctly quoted: it passes the validator against the table as served and
 * parses with node-sql-parser's BigQuery grammar.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import sqlParser from "node-sql-parser/build/bigquery.js"
import { exactTarget } from "../../src/config/Targets.ts"
import { type CacheDocument, parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { decodeTableDefinition, type TableMetadata, tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { validateSql } from "../../src/sql/SqlValidator.ts"
import { syncOnce } from "../../src/sync/SyncProgram.ts"
import { type FakeField, Fault } from "../support/FakeBigQueryServer.ts"
import {
  answerDryRuns,
  type FakeServers,
  fakeServers,
  liveLayer,
  PROJECT,
  publishedObject
} from "../support/LiveTestEnvironment.ts"
import { exampleProblems, fieldAt, TEMPLATE_FUNCTIONS } from "../sql/CstReading.ts"
import { ref } from "../support/TestLayers.ts"

const DATASET = "hostile_data"
/** BigQuery's limits: 10,000 columns, 15 levels of nesting. */
const COLUMN_LIMIT = 10_000
const NESTING_LIMIT = 15

const parser = new sqlParser.Parser()

const column = (name: string, type: string, extra: Partial<FakeField> = {}): FakeField => ({ name, type, ...extra })

/** Columns whose names are SQL keywords, hold spaces, dashes or Hangul, and whose descriptions hold anything. */
const HOSTILE_COLUMNS: ReadonlyArray<FakeField> = [
  column("select", "STRING", { description: `He said "select" isn't a column; it's \`select\` -- or /* not */ 'so'.` }),
  column("order", "TIMESTAMP", { mode: "REQUIRED", description: "주문 시각\nUTC 기준\r\n두 번째 줄\t탭" }),
  column("group", "STRING", { description: "고객 그룹 👥 (category of the customer)" }),
  column("매출 금액", "NUMERIC", { description: "매출 금액 (원) 💰 — `SUM` 해도 됩니다" }),
  column("user id", "STRING", { description: "A backslash \\ and a literal \\n, not a newline; emoji 🧑‍💻" }),
  column("event-name", "STRING", { description: "" }),
  column("is-refunded", "BOOLEAN", { description: "환불 여부 ✅/❌" }),
  column("from", "DATE", { description: "Day of the order; `from` is reserved" }),
  column("items", "RECORD", {
    mode: "REPEATED",
    description: "Line items 🧾",
    fields: [
      column("type", "STRING", { description: "Item category, e.g. \"shoes\" or 'hats'" }),
      column("가격", "FLOAT", { description: "가격\n(부가세 포함)" }),
      column("where", "STRING"),
      column("quantity", "INTEGER", { mode: "REQUIRED" })
    ]
  })
]

/** `level 1` > `level-2` > … > the leaf, `NESTING_LIMIT` records deep, every third one REPEATED. */
const nestedChain = (): FakeField => {
  const names = (level: number) =>
    [`level ${level}`, `level-${level}`, `단계 ${level}`, `select`, `order by`][level % 5]
  let inner: FakeField = column("leaf 🍃", "STRING", { description: `the deepest value, ${NESTING_LIMIT} records down` })
  for (let level = NESTING_LIMIT; level >= 1; level--) {
    inner = column(names(level), "RECORD", {
      ...(level % 3 === 0 ? { mode: "REPEATED" } : {}),
      description: `level ${level} of ${NESTING_LIMIT}: "quoted", \`ticked\`, 줄\n바꿈 🔁`,
      fields: [
        column("kind", "STRING", { description: `the kind at level ${level}` }),
        column(level % 2 === 0 ? "group" : "매출 금액", level % 2 === 0 ? "STRING" : "NUMERIC"),
        inner
      ]
    })
  }
  return inner
}

const TYPES = ["STRING", "INTEGER", "FLOAT", "BOOLEAN", "TIMESTAMP", "DATE", "NUMERIC", "BYTES", "JSON", "GEOGRAPHY"]

/** The names from the top of `nestedChain()` down to its leaf, written out: 15 records, then the leaf. */
const LEAF_PATH = [
  "level-1", "단계 2", "select", "order by", "level 5",
  "level-6", "단계 7", "select", "order by", "level 10",
  "level-11", "단계 12", "select", "order by", "level 15",
  "leaf 🍃"
]
/** The REPEATED records of the chain: every third level. */
const REPEATED_LEVELS = [3, 6, 9, 12, 15]

/**
 * Fields of every depth, counted by hand: HOSTILE_COLUMNS are 9 columns and the 4 fields of
 * `items`; `nestedChain()` is 15 records of 2 scalars each, and the leaf.
 */
const HOSTILE_FIELD_COUNT = 9 + 4
const CHAIN_FIELD_COUNT = 15 + 15 * 2 + 1

/** Fill-up column `i`: names and descriptions as varied as a real wide table's, never repeating. */
const wideColumn = (i: number): FakeField => {
  const name = [`col_${i}`, `열 ${i}`, `c-${i}`, `Select ${i}`, `값_${i}_😀`][i % 5]
  const description = [undefined, `설명 ${i}`, `"${i}" with \`ticks\``, `line ${i}\nnext`, `emoji ${i} 🎉`][i % 5]
  return column(name, TYPES[i % TYPES.length], {
    ...(i % 7 === 0 ? { mode: "REQUIRED" } : {}),
    ...(description === undefined ? {} : { description })
  })
}

/** Serves a table of `fields` at `project.hostile_data.<table>`, and dry runs over it; returns its metadata as served. */
const serveTable = (servers: FakeServers, table: string, fields: ReadonlyArray<FakeField>): TableMetadata => {
  const resource = {
    tableReference: { tableId: table },
    description: `"${table}" — \`hostile\` 테이블 🧨\nsecond line`,
    schema: { fields },
    numRows: "1000",
    numBytes: "1000000",
    lastModifiedTime: "1764547200000"
  }
  servers.bigQuery.tables.put(PROJECT, DATASET, resource)
  const tableId = `${PROJECT}.${DATASET}.${table}`
  answerDryRuns(servers.bigQuery, tableId)
  const rest = Either.getOrThrowWith(
    decodeTableDefinition({ ...resource, tableReference: { projectId: PROJECT, datasetId: DATASET, tableId: table } }),
    (problem) => new Error(problem)
  )
  return tableMetadataFromRest(ref(tableId), rest, DateTime.unsafeMake(0))
}

const syncTables = (servers: FakeServers, tableIds: ReadonlyArray<string>) =>
  syncOnce().pipe(Effect.provide(liveLayer(servers, { settings: { targets: tableIds.map((id) => exactTarget(ref(id))) } })))

const syncTable = (servers: FakeServers, tableId: string) => syncTables(servers, [tableId])

/**
 * A tables.get reply whose one column nests `levels` RECORDs deep, as JSON text built without
 * recursion (`JSON.stringify` itself overflows the stack on thousands of levels).
 */
const deepTableJson = (table: string, levels: number): string => {
  const open = Array.from({ length: levels }, (_, i) => `{"name":"level_${i + 1}","type":"RECORD","fields":[`).join("")
  return `{"kind":"bigquery#table","tableReference":{"projectId":"${PROJECT}","datasetId":"${DATASET}","tableId":"${table}"},` +
    `"lastModifiedTime":"1764547200000","schema":{"fields":[${open}{"name":"leaf","type":"STRING"}${"]}".repeat(levels)}]}}`
}

const publishedDocument = (servers: FakeServers): CacheDocument => {
  const object = publishedObject(servers.gcs)
  if (object === undefined) throw new Error("nothing was published")
  return Either.getOrThrow(parseCacheDocument(object.bytes.toString("utf8")))
}

/** What the cache must say of a served field: its mode written out, no description as null. */
const expected = (field: FakeField): unknown => ({
  name: field.name,
  type: field.type,
  mode: field.mode ?? "NULLABLE",
  description: field.description === undefined || field.description === "" ? null : field.description,
  ...(field.fields === undefined ? {} : { fields: field.fields.map(expected) })
})

/**
 * Every example is quoted right: a second parser (sql-parser-cst) reads it as a query over the
 * table's own fields by rules the test states (CstReading.exampleProblems); the validator accepts
 * it against the table as served, and node-sql-parser's BigQuery grammar parses it.
 */
const expectExamplesQuotedRight = (doc: CacheDocument, table: TableMetadata) => {
  expect(doc.examples.length).toBeGreaterThanOrEqual(3)
  for (const example of doc.examples) {
    expect(example.tables).toEqual([table.table_id])
    expect(exampleProblems(example.sql, table, TEMPLATE_FUNCTIONS), example.sql).toEqual([])
    const verdict = validateSql(example.sql, { tables: [table] })
    expect(Either.isRight(verdict) ? "valid" : verdict.left.message, example.sql).toBe("valid")
    expect(() => parser.astify(example.sql, { database: "bigquery" }), example.sql).not.toThrow()
  }
}

/** Each field's dotted path and its description as UTF-8 bytes, depth first: a walk of the test's own. */
const describedBytes = (
  fields: ReadonlyArray<{ readonly name: string; readonly description?: string | null; readonly fields?: ReadonlyArray<unknown> }>,
  prefix = ""
): Array<readonly [string, Buffer | null]> =>
  fields.flatMap((field) => {
    const path = prefix === "" ? field.name : `${prefix}.${field.name}`
    const description = field.description === undefined || field.description === null || field.description === ""
      ? null
      : Buffer.from(field.description)
    const children = (field.fields ?? []) as Parameters<typeof describedBytes>[0]
    return [[path, description] as const, ...describedBytes(children, path)]
  })

/** The backtick-quoted names of `sql` (the table path included), unescaped. */
const quotedNames = (sql: string) => [...sql.matchAll(/`((?:[^`\\]|\\.)*)`/g)].map((m) => m[1].replace(/\\(.)/g, "$1"))


describe("hostile tables over the wire", () => {
  it.scopedLive("keeps keyword, spaced, dashed and Hangul names, every description and 15 levels of nesting", () =>
    Effect.gen(function*() {
      const servers = yield* fakeServers
      const fields = [...HOSTILE_COLUMNS, nestedChain()]
      const table = serveTable(servers, "주문 내역-2024", fields)

      const summary = yield* syncTable(servers, table.table_id)

      expect(summary).toMatchObject({
        status: "ok",
        column_count: fields.length,
        field_count: HOSTILE_FIELD_COUNT + CHAIN_FIELD_COUNT,
        rejected_examples: {}
      })
      const doc = publishedDocument(servers)
      const entry = doc.tables[0]
      expect(entry.table_id).toBe(table.table_id)
      expect(entry.description).toBe(`"주문 내역-2024" — \`hostile\` 테이블 🧨\nsecond line`)
      expect(entry.columns).toEqual(fields.map(expected))
      // Descriptions to the byte, at every depth: the served fields against the published ones.
      expect(describedBytes(entry.columns)).toEqual(describedBytes(fields))

      // The leaf, 15 records down, each REPEATED every third level.
      expect(LEAF_PATH).toHaveLength(NESTING_LIMIT + 1)
      expect(fieldAt(entry.columns, LEAF_PATH)).toMatchObject({ type: "STRING", description: "the deepest value, 15 records down" })
      expect(REPEATED_LEVELS.map((level) => fieldAt(entry.columns, LEAF_PATH.slice(0, level))?.mode))
        .toEqual(REPEATED_LEVELS.map(() => "REPEATED"))
      // Written out by hand: each UNNEST of the chain starts from the alias of the one before it.
      expect(entry.field_paths.find((p) => p.path === LEAF_PATH.join("."))).toMatchObject({
        joins: [
          "CROSS JOIN UNNEST(`level-1`.`단계 2`.`select`) AS select_item",
          "CROSS JOIN UNNEST(select_item.`order by`.`level 5`.`level-6`) AS `level-6_item`",
          "CROSS JOIN UNNEST(`level-6_item`.`단계 7`.`select`.`order by`) AS `order by_item`",
          "CROSS JOIN UNNEST(`order by_item`.`level 10`.`level-11`.`단계 12`) AS `단계 12_item`",
          "CROSS JOIN UNNEST(`단계 12_item`.`select`.`order by`.`level 15`) AS `level 15_item`"
        ],
        expression: "`level 15_item`.`leaf 🍃`"
      })

      expectExamplesQuotedRight(doc, table)
      // The examples reach the hostile columns, quoted.
      const used = new Set(doc.examples.flatMap((e) => quotedNames(e.sql)))
      expect([...used].filter((name) => HOSTILE_COLUMNS.some((c) => c.name === name)).length).toBeGreaterThanOrEqual(3)

      // Every field path's ready-made expression and joins form a query BigQuery's rules accept.
      expect(entry.field_paths).toHaveLength(HOSTILE_FIELD_COUNT + CHAIN_FIELD_COUNT)
      for (const path of entry.field_paths) {
        const sql = `SELECT ${path.expression} FROM \`${table.table_id}\` ${path.joins.join(" ")}`
        // Each UNNEST of the chain (five deep at the leaf) names the element alias before it.
        expect(exampleProblems(sql, table, TEMPLATE_FUNCTIONS), sql).toEqual([])
        const verdict = validateSql(sql, { tables: [table] })
        expect(Either.isRight(verdict) ? "valid" : verdict.left.message, sql).toBe("valid")
      }
    }))

  it.scopedLive("keeps every one of 10,000 columns", () =>
    Effect.gen(function*() {
      const servers = yield* fakeServers
      const fields = [
        ...HOSTILE_COLUMNS,
        nestedChain(),
        ...Array.from({ length: COLUMN_LIMIT - HOSTILE_COLUMNS.length - 1 }, (_, i) => wideColumn(i))
      ]
      expect(fields).toHaveLength(COLUMN_LIMIT)
      const table = serveTable(servers, "orders", fields)

      const summary = yield* syncTable(servers, table.table_id)

      // The wide columns are scalars: one field each.
      const fieldCount = HOSTILE_FIELD_COUNT + CHAIN_FIELD_COUNT + (COLUMN_LIMIT - HOSTILE_COLUMNS.length - 1)
      expect(summary).toMatchObject({
        status: "ok",
        column_count: COLUMN_LIMIT,
        field_count: fieldCount,
        rejected_examples: {}
      })
      const doc = publishedDocument(servers)
      const entry = doc.tables[0]
      expect(entry.columns).toHaveLength(COLUMN_LIMIT)
      expect(entry.columns).toEqual(fields.map(expected))
      expect(entry.field_paths).toHaveLength(fieldCount)
      expect(fieldAt(entry.columns, LEAF_PATH)).toMatchObject({ type: "STRING" })
      expectExamplesQuotedRight(doc, table)
    }))

  // The Google client deep-copies every reply recursively: on this one it used to overflow the
  // stack in its own callback, uncaught, and take the process down with it.
  it.scopedLive("a tables.get reply nested 5,000 levels deep fails that table alone; the others are published", () =>
    Effect.gen(function*() {
      const servers = yield* fakeServers
      const orders = serveTable(servers, "orders", HOSTILE_COLUMNS)
      serveTable(servers, "abyss", [column("id", "STRING")])
      const abyss = `${PROJECT}.${DATASET}.abyss`
      servers.bigQuery.faults.inject(
        Fault.raw(200, deepTableJson("abyss", 5_000)),
        (request) => request.kind === "tables.get" && request.path.endsWith("/abyss"),
        100
      )

      const summary = yield* syncTables(servers, [orders.table_id, abyss])

      expect(summary.status).toBe("partial")
      expect(summary.tables.map((t) => [t.table_id, t.state])).toEqual([[orders.table_id, "fresh"]])
      expect(summary.failed_tables).toEqual([{
        table_id: abyss,
        tag: "RemoteRejected",
        message: expect.stringMatching(
          new RegExp(`^BigQuery tables\\.get on ${abyss.replace(/\./g, "\\.")} answered with a reply MetaSync cannot read: ` +
            "schema\\.fields: field level_1\\.level_2\\..* nests deeper than BigQuery's 15 levels of RECORDs$")
        ),
        kept_stale: false
      }])
      // Refused, not retried: the reply is what BigQuery says of the table.
      expect(servers.bigQuery.requestsOf("tables.get").filter((r) => r.path.endsWith("/abyss"))).toHaveLength(1)
      const doc = publishedDocument(servers)
      expect(doc.tables.map((t) => t.table_id)).toEqual([orders.table_id])
      expect(doc.tables[0].columns).toEqual(HOSTILE_COLUMNS.map(expected))
    }))
})

