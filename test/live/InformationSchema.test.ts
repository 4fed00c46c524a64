/**
 * Reading tables from INFORMATION_SCHEMA rows, without HTTP: GoogleSQL type strings, DDL clauses
 * and options, and the property that matters — the rows BigQuery shows for a table rebuild exactly
 * the metadata `tables.get` gives for it.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import {
  type DataType,
  decodeInformationSchemaRows,
  informationSchemaQueries,
  type InformationSchemaRows,
  parseDataType,
  parseTableDdl,
  readInformationSchemaTables,
  readRegionInformationSchemaTables,
  regionInformationSchemaQueries,
  tablesFromInformationSchema
} from "../../src/services/BigQuery/InformationSchema.ts"
import { decodeTableDefinition, tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { asRest, ddlOf, informationSchemaRowsOf, type RestFieldJson, type TableResourceFixture } from "../support/InformationSchemaRows.ts"

const PROJECT = "bigquery-public-data"
const FALLBACK = DateTime.unsafeMake(0)

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/bigquery/${name}.schema.json`, import.meta.url), "utf8")) as ReadonlyArray<
    RestFieldJson
  >

const GA4: TableResourceFixture = {
  tableReference: { tableId: "events_20210131" },
  type: "TABLE",
  description: "Obfuscated GA4 export of the Google Merchandise Store, 2021-01-31.",
  schema: { fields: fixture("ga4_obfuscated_sample_ecommerce.events_20210131").map(asRest) },
  numRows: "26489",
  numBytes: "109416016",
  creationTime: "1612130000000",
  lastModifiedTime: "1612137600123",
  labels: { source: "ga4" }
}

const SHAKESPEARE: TableResourceFixture = {
  tableReference: { tableId: "shakespeare" },
  type: "TABLE",
  description: "Word index for works of Shakespeare",
  schema: { fields: fixture("samples.shakespeare").map(asRest) },
  numRows: "164656",
  numBytes: "6432064",
  creationTime: "1335916040125",
  lastModifiedTime: "1652781846016"
}

const POLICY_TAG = "projects/shop-prod/locations/us/taxonomies/123/policyTags/456"

/** Partitioned by month, clustered, with nested records, policy tags and a description that looks like SQL. */
const ORDERS: TableResourceFixture = {
  tableReference: { tableId: "orders" },
  type: "TABLE",
  description: "Orders \"as placed\" (PARTITION BY day) AS SELECT;\nsecond line, tab\there, é, 🛒",
  schema: {
    fields: [
      { name: "order_date", type: "DATE", mode: "REQUIRED", description: "Day the order was placed." },
      { name: "customer_id", type: "STRING", mode: "REQUIRED" },
      { name: "status", type: "STRING" },
      { name: "email", type: "STRING", description: "Masked.", policyTags: { names: [POLICY_TAG] } },
      { name: "total", type: "NUMERIC" },
      { name: "paid", type: "BOOLEAN" },
      { name: "weight", type: "FLOAT" },
      { name: "placed_at", type: "TIMESTAMP" },
      { name: "coupon codes", type: "STRING", mode: "REPEATED", description: "Codes (any)." },
      {
        name: "items",
        type: "RECORD",
        mode: "REPEATED",
        description: "Line items.",
        fields: [
          { name: "sku", type: "STRING", description: "Stock keeping unit." },
          { name: "qty", type: "INTEGER" },
          { name: "tags", type: "STRING", mode: "REPEATED" },
          {
            name: "price",
            type: "RECORD",
            fields: [
              { name: "amount", type: "NUMERIC", description: "In `currency`." },
              { name: "currency", type: "STRING", policyTags: { names: [POLICY_TAG] } }
            ]
          }
        ]
      },
      { name: "shipping", type: "RECORD", fields: [{ name: "address", type: "JSON" }, { name: "at", type: "DATETIME" }] }
    ]
  },
  numRows: "1200",
  numBytes: "524288",
  creationTime: "1690000000000",
  lastModifiedTime: "1700000000000",
  labels: { team: "shop", "cost-center": "42" },
  timePartitioning: { type: "MONTH", field: "order_date", expirationMs: "7776000000" },
  requirePartitionFilter: true,
  clustering: { fields: ["customer_id", "status"] }
}

const HOURLY: TableResourceFixture = {
  tableReference: { tableId: "events_hourly" },
  schema: { fields: [{ name: "payload", type: "STRING" }] },
  lastModifiedTime: "1700000000001",
  numRows: "5",
  numBytes: "50",
  timePartitioning: { type: "HOUR", expirationMs: "129600000", requirePartitionFilter: true }
}

const DAILY_INGESTION: TableResourceFixture = {
  tableReference: { tableId: "events_daily" },
  schema: { fields: [{ name: "payload", type: "STRING" }] },
  lastModifiedTime: "1700000000002",
  numRows: "5",
  numBytes: "50",
  timePartitioning: { type: "DAY" }
}

const SCORES: TableResourceFixture = {
  tableReference: { tableId: "scores" },
  schema: { fields: [{ name: "customer_id", type: "INTEGER", mode: "REQUIRED" }, { name: "at", type: "TIMESTAMP" }] },
  lastModifiedTime: "1700000000003",
  numRows: "9",
  numBytes: "90",
  rangePartitioning: { field: "customer_id", range: { start: "0", end: "100", interval: "10" } },
  clustering: { fields: ["at"] }
}

const TIMESTAMP_DAILY: TableResourceFixture = {
  tableReference: { tableId: "visits" },
  schema: { fields: [{ name: "at", type: "TIMESTAMP" }, { name: "local", type: "DATETIME" }] },
  lastModifiedTime: "1700000000004",
  numRows: "1",
  numBytes: "16",
  timePartitioning: { type: "DAY", field: "at" }
}

const VIEW: TableResourceFixture = {
  tableReference: { tableId: "recent orders" },
  type: "VIEW",
  description: "Orders of the last week.",
  view: { query: "SELECT order_date, customer_id AS who\nFROM `shop.orders`\nWHERE order_date > '2024-01-01' -- AS OF;" },
  schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "who", type: "STRING" }] },
  numRows: "0",
  numBytes: "0",
  creationTime: "1700000000000",
  lastModifiedTime: "1700000000005"
}

const MATERIALIZED: TableResourceFixture = {
  tableReference: { tableId: "daily_totals" },
  type: "MATERIALIZED_VIEW",
  materializedView: { query: "SELECT order_date, SUM(total) AS total FROM `shop.orders` GROUP BY order_date" },
  schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "total", type: "NUMERIC" }] },
  numRows: "30",
  numBytes: "600",
  lastModifiedTime: "1700000000006",
  timePartitioning: { type: "DAY", field: "order_date" },
  clustering: { fields: ["order_date"] }
}

/** What `tables.get` makes of the resource. */
const viaTablesGet = (dataset: string, resource: TableResourceFixture) =>
  tableMetadataFromRest(
    { project: PROJECT, dataset, table: resource.tableReference.tableId },
    Either.getOrThrow(decodeTableDefinition({
      ...resource,
      tableReference: { projectId: PROJECT, datasetId: dataset, tableId: resource.tableReference.tableId }
    })),
    FALLBACK
  )

/** What the INFORMATION_SCHEMA rows BigQuery shows for the resources make of them. */
const viaInformationSchema = (dataset: string, resources: ReadonlyArray<TableResourceFixture>, requested?: ReadonlyArray<string>) =>
  tablesFromInformationSchema(
    PROJECT,
    dataset,
    requested ?? resources.map((r) => r.tableReference.tableId),
    informationSchemaRowsOf(PROJECT, dataset, resources),
    FALLBACK
  )

const scalar = (name: string): DataType => ({ kind: "scalar", name })
const field = (name: string, type: DataType, required = false, description: string | null = null) => ({
  name,
  type,
  required,
  description
})

describe("INFORMATION_SCHEMA", () => {
  describe("parseDataType", () => {
    it("reads GA4's event_params type, GoogleSQL names becoming the REST API's", () => {
      expect(parseDataType("ARRAY<STRUCT<key STRING, value STRUCT<string_value STRING, int_value INT64>>>")).toEqual(
        Either.right({
          kind: "array",
          element: {
            kind: "struct",
            fields: [
              field("key", scalar("STRING")),
              field("value", { kind: "struct", fields: [field("string_value", scalar("STRING")), field("int_value", scalar("INTEGER"))] })
            ]
          }
        })
      )
    })

    it.each([
      ["INT64", "INTEGER"],
      ["FLOAT64", "FLOAT"],
      ["BOOL", "BOOLEAN"],
      ["NUMERIC(10, 2)", "NUMERIC"],
      ["BIGNUMERIC(50)", "BIGNUMERIC"],
      ["STRING(255)", "STRING"],
      ["BYTES(16)", "BYTES"],
      ["RANGE<DATE>", "RANGE"],
      ["timestamp", "TIMESTAMP"],
      ["JSON", "JSON"],
      ["GEOGRAPHY", "GEOGRAPHY"],
      ["INTERVAL", "INTERVAL"]
    ])("%s is %s", (text, name) => {
      expect(parseDataType(text)).toEqual(Either.right(scalar(name)))
    })

    it("reads quoted names, NOT NULL, collations and field options in a STRUCT", () => {
      expect(parseDataType(
        "STRUCT<`from` STRING NOT NULL, `my field` STRING COLLATE 'und:ci', n INT64 OPTIONS(description=\"count, \\\"exact\\\"\")>"
      )).toEqual(
        Either.right({
          kind: "struct",
          fields: [
            field("from", scalar("STRING"), true),
            field("my field", scalar("STRING")),
            field("n", scalar("INTEGER"), false, "count, \"exact\"")
          ]
        })
      )
    })

    it.each([
      ["ARRAY<", "found the end"],
      ["STRUCT<a STRING", "expected \">\""],
      ["STRUCT<INT64, STRING>", "has no type"],
      ["ARRAY<ARRAY<INT64>>", "ARRAY of ARRAY"],
      ["STRING extra", "unexpected \"extra\""],
      ["STRUCT<a 'x'>", "expected a type"]
    ])("refuses %s, saying why", (text, problem) => {
      const parsed = parseDataType(text)
      expect(Either.isLeft(parsed) && parsed.left).toContain(problem)
    })

    const nestedStructs = (levels: number) => `${"STRUCT<a ".repeat(levels)}INT64${">".repeat(levels)}`

    it("reads 15 levels of STRUCT, BigQuery's limit, and refuses a 16th", () => {
      expect(Either.isRight(parseDataType(nestedStructs(15)))).toBe(true)
      const parsed = parseDataType(nestedStructs(16))
      expect(Either.isLeft(parsed) && parsed.left).toContain("nests deeper than BigQuery's 15 levels of RECORDs")
    })

    it.each([
      ["STRUCT", nestedStructs(100_000)],
      ["ARRAY", `${"ARRAY<".repeat(100_000)}INT64${">".repeat(100_000)}`],
      ["RANGE", `${"RANGE<".repeat(100_000)}DATE${">".repeat(100_000)}`]
    ])("refuses 100,000 nested %ss without recursing into them", (_, text) => {
      const parsed = parseDataType(text)
      expect(Either.isLeft(parsed)).toBe(true)
    })
  })

  describe("parseTableDdl", () => {
    it("reads partitioning, clustering and the table's own options, not its columns'", () => {
      const ddl = [
        "CREATE TABLE `shop-prod.sales.orders`",
        "(",
        "  order_date DATE NOT NULL OPTIONS(description=\"PARTITION BY x) OPTIONS(labels=[]\"),",
        "  items ARRAY<STRUCT<sku STRING OPTIONS(description='CLUSTER BY sku'), qty INT64>>,",
        "  customer_id STRING",
        ")",
        "PARTITION BY DATE_TRUNC(order_date, MONTH)",
        "CLUSTER BY customer_id, `order_date`",
        "OPTIONS(",
        "  partition_expiration_days=1.5,",
        "  require_partition_filter=TRUE,",
        "  expiration_timestamp=TIMESTAMP \"2030-01-01 00:00:00+00\",",
        "  description=\"\"\"Line one",
        "line \"two\" \\x41\\101\\u00e9\"\"\",",
        "  friendly_name=r\"C:\\orders\",",
        "  labels=[(\"team\", \"shop\"), STRUCT(\"tier\", 'gold')],",
        "  max_staleness=INTERVAL '4:0:0' HOUR TO SECOND,",
        "  kms_key_name=NULL",
        ");"
      ].join("\n")
      const parsed = Either.getOrThrow(parseTableDdl(ddl))
      expect(parsed.partitioning).toEqual({ field: "order_date", type: "MONTH" })
      expect(parsed.clustering).toEqual(["customer_id", "order_date"])
      expect(parsed.viewQuery).toBeNull()
      expect(Object.fromEntries(parsed.options)).toEqual({
        partition_expiration_days: 1.5,
        require_partition_filter: true,
        expiration_timestamp: "2030-01-01 00:00:00+00",
        description: "Line one\nline \"two\" AAé",
        friendly_name: "C:\\orders",
        labels: [["team", "shop"], ["tier", "gold"]],
        max_staleness: { expression: "INTERVAL '4:0:0' HOUR TO SECOND" },
        kms_key_name: null
      })
    })

    it.each([
      ["order_date", { field: "order_date", type: "DAY" }],
      ["`order date`", { field: "order date", type: "DAY" }],
      ["DATE(placed_at)", { field: "placed_at", type: "DAY" }],
      ["TIMESTAMP_TRUNC(placed_at, HOUR)", { field: "placed_at", type: "HOUR" }],
      ["DATETIME_TRUNC(local, YEAR)", { field: "local", type: "YEAR" }],
      ["DATE_TRUNC(order_date, MONTH)", { field: "order_date", type: "MONTH" }],
      ["_PARTITIONDATE", { field: null, type: "DAY" }],
      ["DATE(_PARTITIONTIME)", { field: null, type: "DAY" }],
      ["TIMESTAMP_TRUNC(_PARTITIONTIME, HOUR)", { field: null, type: "HOUR" }],
      ["RANGE_BUCKET(customer_id, GENERATE_ARRAY(0, 100, 10))", { field: "customer_id", type: "RANGE" }]
    ])("PARTITION BY %s", (expression, partitioning) => {
      const parsed = parseTableDdl(`CREATE TABLE \`p1-x.d.t\`\n(\n  x INT64\n)\nPARTITION BY ${expression}\nOPTIONS(description="d");`)
      expect(Either.map(parsed, (ddl) => ddl.partitioning)).toEqual(Either.right(partitioning))
    })

    it.each([
      ["MOD(x, 3)", "PARTITION BY MOD(x, 3) is not a partitioning MetaSync knows"],
      ["TIMESTAMP_TRUNC(x, WEEK)", "is not a partitioning MetaSync knows"],
      ["DATE(x) + 1", "is not a partitioning MetaSync knows"]
    ])("PARTITION BY %s is refused, saying why", (expression, problem) => {
      const parsed = parseTableDdl(`CREATE TABLE \`p1-x.d.t\` (x INT64) PARTITION BY ${expression};`)
      expect(Either.isLeft(parsed) && parsed.left).toContain(problem)
    })

    it("takes a view's SQL from after its AS, keeping AS inside strings, names and comments in the SQL", () => {
      const ddl = [
        "CREATE VIEW `p1-x.d.v`",
        "(",
        "  who OPTIONS(description=\"AS who\")",
        ")",
        "OPTIONS(",
        "  description=\"A view; AS it is\"",
        ")",
        "AS SELECT `as` AS who -- AS OF;",
        "FROM t WHERE note = ' AS ';"
      ].join("\n")
      expect(parseTableDdl(ddl)).toEqual(Either.right({
        partitioning: null,
        clustering: [],
        options: new Map([["description", "A view; AS it is"]]),
        viewQuery: "SELECT `as` AS who -- AS OF;\nFROM t WHERE note = ' AS '"
      }))
    })

    it("reads a materialized view's partitioning, clustering and SQL", () => {
      const ddl = "CREATE MATERIALIZED VIEW `p1-x.d.mv`\nPARTITION BY d\nCLUSTER BY d\n" +
        "OPTIONS(\n  enable_refresh=true,\n  refresh_interval_minutes=30.0\n)\nAS SELECT d, COUNT(*) AS n FROM t GROUP BY d;"
      expect(parseTableDdl(ddl)).toEqual(Either.right({
        partitioning: { field: "d", type: "DAY" },
        clustering: ["d"],
        options: new Map<string, unknown>([["enable_refresh", true], ["refresh_interval_minutes", 30]]),
        viewQuery: "SELECT d, COUNT(*) AS n FROM t GROUP BY d"
      }))
    })

    it.each([
      ["SELECT 1", "does not start with CREATE"],
      ["CREATE TABLE `p.d.t` (x STRING OPTIONS(description=\"open", "unterminated string"],
      ["CREATE TABLE `p.d.t` OPTIONS(description=\"\\q\")", "unknown escape \\q"],
      ["CREATE TABLE `p.d.t` CLUSTER BY a + b", "CLUSTER BY lists something other than columns"]
    ])("refuses %s, saying why", (ddl, problem) => {
      const parsed = parseTableDdl(ddl)
      expect(Either.isLeft(parsed) && parsed.left).toContain(problem)
    })
  })

  describe("hostile values", () => {
    it("a DDL whose options nest lists 100,000 deep is refused, not recursed into", () => {
      const ddl = `CREATE TABLE \`p.d.t\` (x INT64) OPTIONS(labels=${"[".repeat(100_000)}${"]".repeat(100_000)})`
      const parsed = parseTableDdl(ddl)
      expect(Either.isLeft(parsed) && parsed.left).toContain("nests more than 32 lists")
    })

    it("a row that does not decode makes only its own table unreadable, saying what is wrong", () => {
      const rows = informationSchemaRowsOf(PROJECT, "shop", [ORDERS, HOURLY, SCORES])
      const raw = {
        tables: rows.tables,
        columns: rows.columns.map((c) => (c.table_name === "scores" ? { ...c, ordinal_position: "first" } : c)),
        storage: rows.storage.map((r) => (r.table_id === "orders" ? { ...r, last_modified_time: 8_640_000_000_000_001 } : r))
      }
      const read = Either.getOrThrow(
        readInformationSchemaTables(PROJECT, "shop", ["orders", "events_hourly", "scores"], raw, FALLBACK)
      )
      expect([...read.found.keys()]).toEqual(["events_hourly"])
      expect(Object.fromEntries(read.unreadable)).toEqual({
        orders: expect.stringMatching(/^__TABLES__ row: last_modified_time: .*8640000000000001 ms since the epoch is beyond the range of dates/),
        scores: expect.stringMatching(/^INFORMATION_SCHEMA\.COLUMN_FIELD_PATHS row: ordinal_position/)
      })
    })

    it("a row that does not say which table it is about fails the batch", () => {
      const rows = informationSchemaRowsOf(PROJECT, "shop", [ORDERS])
      const read = readInformationSchemaTables(
        PROJECT,
        "shop",
        ["orders"],
        { ...rows, storage: [{ table_id: null, creation_time: 1, last_modified_time: 1, row_count: 1, size_bytes: 1 }] },
        FALLBACK
      )
      expect(Either.isLeft(read) && read.left).toMatch(/^__TABLES__ row 0: table_id/)
    })
  })

  describe("the queries", () => {
    it("address the dataset in its project and filter every view on @tables", () => {
      const sql = informationSchemaQueries("example.com:shop-prod", "2024_sales")
      expect(sql.tables).toContain("FROM `example.com:shop-prod`.`2024_sales`.INFORMATION_SCHEMA.TABLES")
      expect(sql.columns).toContain("FROM `example.com:shop-prod`.`2024_sales`.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS AS p")
      expect(sql.columns).toContain("JOIN `example.com:shop-prod`.`2024_sales`.INFORMATION_SCHEMA.COLUMNS AS c")
      expect(sql.storage).toContain("FROM `example.com:shop-prod`.`2024_sales`.__TABLES__")
      expect(sql.tables).toContain("WHERE table_name IN UNNEST(@tables)")
      expect(sql.columns).toContain("WHERE p.table_name IN UNNEST(@tables) AND c.is_system_defined = 'NO'")
      expect(sql.storage).toContain("WHERE table_id IN UNNEST(@tables)")
    })

    it("rows that are not what the queries select are refused, saying where", () => {
      const decoded = decodeInformationSchemaRows({
        tables: [{ table_name: "t", table_type: "BASE TABLE" }],
        columns: [],
        storage: [{ table_id: "t", creation_time: "soon", last_modified_time: 1, row_count: 1, size_bytes: 1 }]
      })
      expect(Either.isLeft(decoded) && decoded.left).toContain("tables.0.ddl")
      expect(Either.isLeft(decoded) && decoded.left).toContain("storage.0.creation_time")
    })
  })

  describe("the rows rebuild exactly what tables.get gives", () => {
    const cases: ReadonlyArray<readonly [string, string, TableResourceFixture]> = [
      ["the GA4 sample (nested and repeated records)", "ga4_obfuscated_sample_ecommerce", GA4],
      ["shakespeare (REQUIRED columns)", "samples", SHAKESPEARE],
      ["a partitioned, clustered table with policy tags and a description that looks like SQL", "shop", ORDERS],
      ["an hourly ingestion-time partitioned table", "shop", HOURLY],
      ["a daily ingestion-time partitioned table", "shop", DAILY_INGESTION],
      ["an integer-range partitioned table", "shop", SCORES],
      ["a table partitioned by day on a TIMESTAMP", "shop", TIMESTAMP_DAILY],
      ["a view", "shop", VIEW],
      ["a materialized view", "shop", MATERIALIZED]
    ]
    for (const [title, dataset, resource] of cases) {
      it(title, () => {
        const { found, unreadable } = viaInformationSchema(dataset, [resource])
        expect(unreadable).toEqual(new Map())
        expect(found.get(resource.tableReference.tableId)).toEqual(viaTablesGet(dataset, resource))
      })
    }

    it("the fixtures' rows are what BigQuery shows (spot checks)", () => {
      const rows = informationSchemaRowsOf(PROJECT, "shop", [ORDERS])
      expect(rows.tables[0]).toMatchObject({ table_name: "orders", table_type: "BASE TABLE" })
      expect(rows.tables[0].ddl).toContain("PARTITION BY DATE_TRUNC(order_date, MONTH)\nCLUSTER BY customer_id, status\n")
      expect(rows.columns.find((r) => r.field_path === "items")).toMatchObject({
        data_type: "ARRAY<STRUCT<sku STRING, qty INT64, tags ARRAY<STRING>, price STRUCT<amount NUMERIC, currency STRING>>>",
        is_nullable: "NO",
        ordinal_position: 10
      })
      expect(rows.columns.find((r) => r.field_path === "items.price.currency")).toMatchObject({
        column_name: "items",
        data_type: "STRING",
        policy_tags: [POLICY_TAG]
      })
      expect(ddlOf(PROJECT, "shop", VIEW)).toBe(
        "CREATE VIEW `bigquery-public-data.shop.recent orders`\nOPTIONS(\n  description=\"Orders of the last week.\"\n)\n" +
          `AS ${VIEW.view!.query};`
      )
    })

    it("many tables at once: requested ones only, missing ones absent, whatever the row order", () => {
      const all = [GA4, SHAKESPEARE, ORDERS, HOURLY, SCORES, VIEW, MATERIALIZED]
      const requested = ["orders", "shakespeare", "gone", "recent orders", "daily_totals", "events_20210131"]
      const rows = informationSchemaRowsOf(PROJECT, "mixed", all)
      const reversed: InformationSchemaRows = {
        tables: [...rows.tables].reverse(),
        columns: [...rows.columns].reverse(),
        storage: [...rows.storage].reverse()
      }
      const { found, unreadable } = tablesFromInformationSchema(PROJECT, "mixed", requested, reversed, FALLBACK)
      expect(unreadable).toEqual(new Map())
      expect([...found.keys()].sort()).toEqual(["daily_totals", "events_20210131", "orders", "recent orders", "shakespeare"])
      for (const resource of all.filter((r) => found.has(r.tableReference.tableId))) {
        expect(found.get(resource.tableReference.tableId)).toEqual(viaTablesGet("mixed", resource))
      }
    })

    it("pseudo-column rows and rows of tables not asked for are left out", () => {
      const rows = informationSchemaRowsOf(PROJECT, "shop", [HOURLY, SCORES])
      const withPseudo: InformationSchemaRows = {
        ...rows,
        columns: [
          ...rows.columns,
          {
            table_name: "events_hourly",
            column_name: "_PARTITIONTIME",
            field_path: "_PARTITIONTIME",
            data_type: "TIMESTAMP",
            description: null,
            policy_tags: [],
            ordinal_position: null,
            is_nullable: "YES"
          }
        ]
      }
      const { found } = tablesFromInformationSchema(PROJECT, "shop", ["events_hourly"], withPseudo, FALLBACK)
      expect([...found.keys()]).toEqual(["events_hourly"])
      expect(found.get("events_hourly")?.columns.map((c) => c.name)).toEqual(["payload"])
    })

    it("a table whose rows cannot be read is reported, not guessed", () => {
      const rows = informationSchemaRowsOf(PROJECT, "shop", [ORDERS, HOURLY, SCORES])
      const broken: InformationSchemaRows = {
        tables: rows.tables.map((t) =>
          t.table_name === "events_hourly"
            ? { ...t, ddl: null }
            : t.table_name === "scores"
            ? { ...t, ddl: t.ddl!.replace(/PARTITION BY .*/, "PARTITION BY MOD(customer_id, 7)") }
            : t
        ),
        columns: rows.columns.map((c) => (c.field_path === "total" ? { ...c, data_type: "DECIMAL<2>" } : c)),
        storage: rows.storage
      }
      const { found, unreadable } = tablesFromInformationSchema(
        PROJECT,
        "shop",
        ["orders", "events_hourly", "scores"],
        broken,
        FALLBACK
      )
      expect(found.size).toBe(0)
      expect(Object.fromEntries(unreadable)).toEqual({
        orders: expect.stringContaining("column total: type \"DECIMAL<2>\""),
        events_hourly: "INFORMATION_SCHEMA.TABLES has no DDL for it",
        scores: "DDL: PARTITION BY MOD(customer_id, 7) is not a partitioning MetaSync knows"
      })
    })

    it("a table with no __TABLES__ row has no sizes and the fallback time", () => {
      const rows = informationSchemaRowsOf(PROJECT, "shop", [HOURLY])
      const { found } = tablesFromInformationSchema(PROJECT, "shop", ["events_hourly"], { ...rows, storage: [] }, FALLBACK)
      expect(found.get("events_hourly")).toMatchObject({ row_count: null, size_bytes: null, created: null, last_updated: FALLBACK })
    })
  })

  describe("many datasets of one region", () => {
    /** The three region queries' rows for datasets of resources, each row saying its dataset. */
    const regionRows = (datasets: ReadonlyArray<readonly [string, ReadonlyArray<TableResourceFixture>]>) => {
      const out = { tables: [] as Array<unknown>, columns: [] as Array<unknown>, storage: [] as Array<unknown> }
      for (const [dataset, resources] of datasets) {
        const rows = informationSchemaRowsOf(PROJECT, dataset, resources)
        out.tables.push(...rows.tables.map((row) => ({ table_schema: dataset, ...row })))
        out.columns.push(...rows.columns.map((row) => ({ table_schema: dataset, ...row })))
        out.storage.push(...rows.storage.map((row) => ({ dataset_id: dataset, ...row })))
      }
      // Rows of different datasets interleaved, as a query without ORDER BY may return them.
      return { tables: out.tables.reverse(), columns: out.columns.reverse(), storage: out.storage.reverse() }
    }

    it("the queries: region-qualified views filtered to the datasets and tables, and every dataset's __TABLES__ in one query", () => {
      const sql = regionInformationSchemaQueries("example.com:shop-prod", "asia-northeast3", ["sales", "2024_orders"])
      const region = "`example.com:shop-prod`.`region-asia-northeast3`.INFORMATION_SCHEMA"
      expect(sql.tables).toContain(`FROM ${region}.TABLES\n`)
      expect(sql.tables).toContain("WHERE table_schema IN UNNEST(@datasets) AND CONCAT(table_schema, '.', table_name) IN UNNEST(@qualified_tables)")
      expect(sql.columns).toContain(`FROM ${region}.COLUMN_FIELD_PATHS AS p`)
      expect(sql.columns).toContain(`JOIN ${region}.COLUMNS AS c`)
      expect(sql.columns).toContain("ON c.table_schema = p.table_schema AND c.table_name = p.table_name AND c.column_name = p.column_name")
      expect(sql.columns).toContain("c.is_system_defined = 'NO'")
      expect(sql.storage).toContain("FROM `example.com:shop-prod`.`sales`.__TABLES__\n  UNION ALL\n")
      expect(sql.storage).toContain("FROM `example.com:shop-prod`.`2024_orders`.__TABLES__")
      expect(sql.storage).toContain("WHERE CONCAT(dataset_id, '.', table_id) IN UNNEST(@qualified_tables)")
      expect(regionInformationSchemaQueries("p", "US", ["d"]).tables).toContain("`p`.`region-us`.INFORMATION_SCHEMA.TABLES")
    })

    it("rebuild each dataset's tables exactly as tables.get gives them, tables of the same name in two datasets apart", () => {
      const read = Either.getOrThrow(readRegionInformationSchemaTables(
        PROJECT,
        new Map([["shop", ["orders", "recent orders", "gone"]], ["shop_eu", ["orders", "scores"]], ["samples", ["shakespeare"]]]),
        regionRows([
          ["shop", [ORDERS, VIEW, HOURLY]],
          ["shop_eu", [{ ...ORDERS, description: "EU orders.", numRows: "7" }, SCORES]],
          ["samples", [SHAKESPEARE]]
        ]),
        FALLBACK
      ))
      expect([...read.keys()].sort()).toEqual(["samples", "shop", "shop_eu"])
      expect([...read.get("shop")!.found.keys()].sort()).toEqual(["orders", "recent orders"])
      expect(read.get("shop")!.found.get("orders")).toEqual(viaTablesGet("shop", ORDERS))
      expect(read.get("shop")!.found.get("recent orders")).toEqual(viaTablesGet("shop", VIEW))
      expect(read.get("shop_eu")!.found.get("orders")).toEqual(viaTablesGet("shop_eu", { ...ORDERS, description: "EU orders.", numRows: "7" }))
      expect(read.get("shop_eu")!.found.get("scores")).toEqual(viaTablesGet("shop_eu", SCORES))
      expect(read.get("samples")!.found.get("shakespeare")).toEqual(viaTablesGet("samples", SHAKESPEARE))
    })

    it("a dataset the region shows none of is left out, for the caller to read by itself", () => {
      const read = Either.getOrThrow(readRegionInformationSchemaTables(
        PROJECT,
        new Map([["shop", ["orders"]], ["elsewhere", ["orders"]]]),
        regionRows([["shop", [ORDERS]]]),
        FALLBACK
      ))
      expect([...read.keys()]).toEqual(["shop"])
    })

    it("a bad row makes only its own table of its own dataset unreadable", () => {
      const rows = regionRows([["shop", [ORDERS, SCORES]], ["shop_eu", [ORDERS, SCORES]]])
      const broken = {
        ...rows,
        storage: rows.storage.map((row) => {
          const r = row as { dataset_id: string; table_id: string }
          return r.dataset_id === "shop_eu" && r.table_id === "scores" ? { ...r, row_count: "many" } : row
        })
      }
      const read = Either.getOrThrow(readRegionInformationSchemaTables(
        PROJECT,
        new Map([["shop", ["orders", "scores"]], ["shop_eu", ["orders", "scores"]]]),
        broken,
        FALLBACK
      ))
      expect([...read.get("shop")!.found.keys()].sort()).toEqual(["orders", "scores"])
      expect([...read.get("shop_eu")!.found.keys()]).toEqual(["orders"])
      expect(Object.fromEntries(read.get("shop_eu")!.unreadable)).toEqual({
        scores: expect.stringMatching(/^__TABLES__ row: row_count/)
      })
    })

    it("a row that does not say its dataset fails the region's read, saying where", () => {
      const rows = regionRows([["shop", [ORDERS]]])
      const read = readRegionInformationSchemaTables(
        PROJECT,
        new Map([["shop", ["orders"]]]),
        { ...rows, columns: [...rows.columns, { table_name: "orders" }] },
        FALLBACK
      )
      expect(Either.isLeft(read) && read.left).toBe(
        `INFORMATION_SCHEMA.COLUMN_FIELD_PATHS row ${rows.columns.length}: table_schema: expected the dataset's name`
      )
    })
  })
})
