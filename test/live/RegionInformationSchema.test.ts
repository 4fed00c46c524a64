/**
 * Reading the tables of many datasets a region at a time (`getTablesByRegion`), over real HTTP
 * against the fake BigQuery, which answers the region-qualified INFORMATION_SCHEMA queries from the
 * same table resources its `tables.get` serves: one set of queries per region instead of a batch
 * per dataset, every table exactly what its own `tables.get` gives, a bad table's rows failing that
 * table only, and a failing region leaving its datasets to the per-dataset path.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { makeTableId, type TableRef } from "../../src/contract/TableId.ts"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { type BigQuery, BigQueryService, type DatasetTables, type TableRead } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery, type LiveBigQueryOptions, type MetadataReadOptions } from "../../src/services/BigQuery/LiveBigQuery.ts"
import { parseTargets } from "../../src/config/Targets.ts"
import { collectTables } from "../../src/sync/collect.ts"
import { readWarehouse } from "../../src/sync/pipeline.ts"
import { resolveTargets } from "../../src/sync/targets.ts"
import {
  type FakeBigQuery,
  type FakeBigQueryOptions,
  Fault,
  type RecordedRequest,
  start
} from "../support/FakeBigQueryServer.ts"
import { asRest, arrangeInformationSchema, type RestFieldJson, type TableResourceFixture } from "../support/InformationSchemaRows.ts"
import { testSettings } from "../support/TestLayers.ts"

/** The project jobs run in (and are billed to). */
const PROJECT = "metasync-test"
/** The project whose datasets are read. */
const WAREHOUSE = "shop-warehouse"
const DEADLINE = "30 seconds"

const GA4_FIELDS = JSON.parse(
  readFileSync(
    new URL("../fixtures/bigquery/ga4_obfuscated_sample_ecommerce.events_20210131.schema.json", import.meta.url),
    "utf8"
  )
) as ReadonlyArray<RestFieldJson>

/** Eleven tables of every kind (more than ten, so read through INFORMATION_SCHEMA), their times and sizes different in each dataset (`seed`). */
const datasetTables = (dataset: string, seed: number): ReadonlyArray<TableResourceFixture> => {
  const at = (n: number) => String(1_700_000_000_000 + seed * 1_000_000 + n)
  return [
    {
      tableReference: { tableId: "events_20210131" },
      type: "TABLE",
      description: `GA4 export of ${dataset}.`,
      schema: { fields: GA4_FIELDS.map(asRest) },
      numRows: String(20_000 + seed),
      numBytes: String(100_000_000 + seed),
      creationTime: at(1),
      lastModifiedTime: at(2),
      labels: { source: "ga4" }
    },
    {
      tableReference: { tableId: "orders" },
      description: "Orders, \"as placed\" (PARTITION BY day) AS SELECT;",
      schema: {
        fields: [
          { name: "order_date", type: "DATE", mode: "REQUIRED", description: "Day the order was placed." },
          { name: "customer_id", type: "STRING", mode: "REQUIRED" },
          {
            name: "items",
            type: "RECORD",
            mode: "REPEATED",
            fields: [
              { name: "sku", type: "STRING", description: "Stock keeping unit." },
              { name: "price", type: "NUMERIC", policyTags: { names: ["projects/p/locations/us/taxonomies/1/policyTags/2"] } }
            ]
          }
        ]
      },
      numRows: String(1200 + seed),
      numBytes: "524288",
      creationTime: at(3),
      lastModifiedTime: at(4),
      labels: { team: "shop" },
      timePartitioning: { type: "MONTH", field: "order_date", expirationMs: "7776000000" },
      requirePartitionFilter: true,
      clustering: { fields: ["customer_id"] }
    },
    {
      tableReference: { tableId: "recent orders" },
      type: "VIEW",
      view: { query: `SELECT * FROM \`${WAREHOUSE}.${dataset}.orders\` WHERE order_date > '2024-01-01'` },
      schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "customer_id", type: "STRING" }] },
      numRows: "0",
      numBytes: "0",
      creationTime: at(5),
      lastModifiedTime: at(6)
    },
    {
      tableReference: { tableId: "daily_totals" },
      type: "MATERIALIZED_VIEW",
      materializedView: { query: `SELECT order_date, COUNT(*) AS n FROM \`${WAREHOUSE}.${dataset}.orders\` GROUP BY order_date` },
      schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "n", type: "INTEGER" }] },
      numRows: "30",
      numBytes: "480",
      lastModifiedTime: at(7),
      timePartitioning: { type: "DAY", field: "order_date" }
    },
    {
      tableReference: { tableId: "hits" },
      schema: { fields: [{ name: "payload", type: "JSON" }] },
      numRows: "7",
      numBytes: "700",
      lastModifiedTime: at(8),
      timePartitioning: { type: "HOUR", requirePartitionFilter: true }
    },
    {
      tableReference: { tableId: "scores" },
      schema: { fields: [{ name: "customer_id", type: "INTEGER" }, { name: "score", type: "FLOAT" }] },
      numRows: "9",
      numBytes: "144",
      lastModifiedTime: at(9),
      rangePartitioning: { field: "customer_id", range: { start: "0", end: "1000", interval: "10" } }
    },
    ...Array.from({ length: 5 }, (_, i): TableResourceFixture => ({
      tableReference: { tableId: `plain_${i + 1}` },
      schema: { fields: [{ name: "id", type: "STRING", mode: "REQUIRED" }, { name: "at", type: "TIMESTAMP" }] },
      numRows: String(i),
      numBytes: String(10 * i),
      lastModifiedTime: at(10 + i)
    }))
  ]
}

const TABLE_NAMES = datasetTables("x", 0).map((t) => t.tableReference.tableId)

/**
 * Datasets `prefix_1`… in `location`, each with the eleven tables, as table resources and as the
 * per-dataset INFORMATION_SCHEMA answers (the path a dataset read by itself takes).
 */
const putDatasets = (fake: FakeBigQuery, prefix: string, count: number, location: string) => {
  const names = Array.from({ length: count }, (_, i) => `${prefix}_${i + 1}`)
  names.forEach((dataset, i) => {
    fake.tables.putDataset(WAREHOUSE, dataset, location)
    const tables = datasetTables(dataset, i)
    for (const table of tables) fake.tables.put(WAREHOUSE, dataset, table)
    arrangeInformationSchema(fake, WAREHOUSE, dataset, tables)
  })
  return names
}

/** Five US datasets, every table of each as a target but `sales_2.hits`, and settings without retries. */
const fiveSalesDatasets = (fake: FakeBigQuery) => {
  const us = putDatasets(fake, "sales", 5, "US")
  const targets = Either.getOrThrow(parseTargets([...us.map((d) => `${WAREHOUSE}.${d}.*`), `!${WAREHOUSE}.sales_2.hits`].join(",")))
  return { targets, settings: testSettings({ retryAttempts: 1 }) }
}

/** Each of `tables` of each of `datasets` in `read` is exactly what its own tables.get gives. */
const expectAsTablesGet = (
  bigquery: BigQuery,
  read: ReadonlyMap<string, ReadonlyMap<string, TableRead>>,
  datasets: ReadonlyArray<string>,
  tables: ReadonlyArray<string> = TABLE_NAMES
) =>
  Effect.gen(function*() {
    for (const dataset of datasets) {
      for (const table of tables) {
        expect(read.get(`${WAREHOUSE}.${dataset}`)!.get(table)).toEqual(
          Either.right(yield* bigquery.getTable({ project: WAREHOUSE, dataset, table }))
        )
      }
    }
  })

const requestsFor = (datasets: ReadonlyArray<string>, extra: ReadonlyArray<string> = []): ReadonlyArray<DatasetTables> =>
  datasets.map((dataset) => ({ project: WAREHOUSE, dataset, tables: [...TABLE_NAMES, ...extra] }))

const fakeBigQuery = (options?: FakeBigQueryOptions) =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (fake) => Effect.promise(() => fake.close()))

const bigQueryOn = (fake: FakeBigQuery, metadataRead: MetadataReadOptions, options: Partial<LiveBigQueryOptions> = {}) =>
  LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: fake.url, timeout: DEADLINE, metadataRead, ...options }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
  )

const queryOf = (request: RecordedRequest) => String((request.body as { query?: unknown }).query)
const bodyOf = (request: RecordedRequest) => request.body as Record<string, unknown>

/** Which region query a request is: `tables`, `columns`, `storage`, or undefined. */
const regionQueryOf = (request: RecordedRequest) => {
  if (request.kind !== "jobs.query") return undefined
  const sql = queryOf(request)
  if (!sql.includes("@qualified_tables")) return undefined
  return sql.includes("INFORMATION_SCHEMA.TABLES") ? "tables" : sql.includes("COLUMN_FIELD_PATHS") ? "columns" : "storage"
}

describe("LiveBigQuery.getTablesByRegion", () => {
  it.scopedLive("five datasets of one region: one datasets.list and three queries in all, every table what its tables.get gives", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "auto", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 5, "US")
      const eu = putDatasets(fake, "eu_sales", 2, "EU")

      const read = yield* bigquery.getTablesByRegion(requestsFor([...us, ...eu], ["gone"]))

      // The EU region has only two of the datasets: auto leaves them to the caller.
      expect([...read.keys()].sort()).toEqual(us.map((d) => `${WAREHOUSE}.${d}`).sort())
      expect(fake.requestsOf("datasets.list")).toHaveLength(1)
      expect(fake.requestsOf("tables.get")).toHaveLength(0)
      const queries = fake.requestsOf("jobs.query")
      expect(queries.map(regionQueryOf).sort()).toEqual(["columns", "storage", "tables"])
      for (const request of queries) {
        // Jobs run in the configured project, in the datasets' location, under the byte cap.
        expect(request.path).toBe(`/bigquery/v2/projects/${PROJECT}/queries`)
        expect(bodyOf(request)).toMatchObject({
          location: "US",
          useLegacySql: false,
          maximumBytesBilled: String(100 * 1024 ** 2),
          parameterMode: "NAMED"
        })
        const params = bodyOf(request).queryParameters as ReadonlyArray<{ name: string; parameterValue: { arrayValues: ReadonlyArray<{ value: string }> } }>
        expect(params.find((p) => p.name === "datasets")?.parameterValue.arrayValues.map((v) => v.value)).toEqual(us)
        expect(params.find((p) => p.name === "qualified_tables")?.parameterValue.arrayValues).toHaveLength(5 * (TABLE_NAMES.length + 1))
      }
      expect(queries.map(queryOf).filter((sql) => sql.includes("`shop-warehouse`.`region-us`.INFORMATION_SCHEMA."))).toHaveLength(2)

      // Every table exactly as its own tables.get describes it; the table that does not exist is absent.
      for (const dataset of us) expect([...read.get(`${WAREHOUSE}.${dataset}`)!.keys()].sort()).toEqual([...TABLE_NAMES].sort())
      yield* expectAsTablesGet(bigquery, read, us)
      expect(Either.getOrThrow(read.get(`${WAREHOUSE}.sales_2`)!.get("orders")!)).toMatchObject({
        partitioning: { field: "order_date", type: "MONTH", expiration_ms: 7776000000, require_partition_filter: true },
        clustering: ["customer_id"],
        row_count: 1201
      })
    }))

  it.scopedLive("auto leaves a region of no more than METADATA_REGION_ABOVE datasets to the caller; dataset mode asks nothing", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const us = putDatasets(fake, "sales", 5, "US")

      const auto = yield* bigQueryOn(fake, { mode: "auto", regionAbove: 3 })
      // Three datasets of one project: no region can be worth it, so not even the locations are listed.
      expect(yield* auto.getTablesByRegion(requestsFor(us.slice(0, 3)))).toEqual(new Map())
      expect(fake.requests).toHaveLength(0)

      const byDataset = yield* bigQueryOn(fake, { mode: "dataset", regionAbove: 0 })
      expect(yield* byDataset.getTablesByRegion(requestsFor(us))).toEqual(new Map())
      expect(fake.requests).toHaveLength(0)

      const byRegion = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const one = yield* byRegion.getTablesByRegion(requestsFor(us.slice(0, 1)))
      expect([...one.keys()]).toEqual([`${WAREHOUSE}.sales_1`])
      expect(fake.requestsOf("jobs.query").map(regionQueryOf).sort()).toEqual(["columns", "storage", "tables"])
    }))

  it.scopedLive("datasets of at most ten tables keep their tables.get reads (which carry declared keys) and are not counted", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "auto", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 6, "US")
      const small = us.slice(0, 3).map((dataset) => ({ project: WAREHOUSE, dataset, tables: TABLE_NAMES.slice(0, 10) }))
      const large = us.slice(3).map((dataset) => ({ project: WAREHOUSE, dataset, tables: TABLE_NAMES }))

      // Three large datasets: not more than three, so auto reads none of them by region.
      expect(yield* bigquery.getTablesByRegion([...small, ...large])).toEqual(new Map())
      expect(fake.requests).toHaveLength(0)

      const byRegion = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const read = yield* byRegion.getTablesByRegion([...small, ...large])
      expect([...read.keys()].sort()).toEqual(us.slice(3).map((d) => `${WAREHOUSE}.${d}`))
    }))

  it.scopedLive("each location gets its own set of queries, its jobs running there", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery({ listPageSize: 2 })
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 2, "US")
      const seoul = putDatasets(fake, "kr_sales", 3, "asia-northeast3")

      const read = yield* bigquery.getTablesByRegion(requestsFor([...us, ...seoul]))

      expect([...read.keys()].sort()).toEqual([...us, ...seoul].map((d) => `${WAREHOUSE}.${d}`).sort())
      // Five datasets at two a page.
      expect(fake.requestsOf("datasets.list")).toHaveLength(3)
      const queries = fake.requestsOf("jobs.query")
      expect(queries).toHaveLength(6)
      const inSeoul = queries.filter((r) => bodyOf(r).location === "asia-northeast3")
      expect(inSeoul).toHaveLength(3)
      expect(inSeoul.filter((r) => queryOf(r).includes("`region-asia-northeast3`"))).toHaveLength(2)
      expect(inSeoul.every((r) => !queryOf(r).includes("`sales_1`"))).toBe(true)
      yield* expectAsTablesGet(bigquery, read, seoul, ["events_20210131"])
    }))

  it.scopedLive("answers in pages: every page fetched from the job's own location", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery({ regionPageSize: 25 })
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const seoul = putDatasets(fake, "kr_sales", 2, "asia-northeast3")

      const read = yield* bigquery.getTablesByRegion(requestsFor(seoul))

      const pages = fake.requestsOf("jobs.getQueryResults")
      expect(pages.length).toBeGreaterThan(2)
      expect(pages.every((r) => r.query.location === "asia-northeast3")).toBe(true)
      yield* expectAsTablesGet(bigquery, read, seoul)
    }))

  it.scopedLive("a configured location: no datasets.list; a dataset elsewhere fails its region's read, which is left to the caller", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3, location: "US" })
      const us = putDatasets(fake, "sales", 4, "US")
      const eu = putDatasets(fake, "eu_sales", 1, "EU")

      const read = yield* bigquery.getTablesByRegion(requestsFor(us))
      expect(read.size).toBe(4)
      expect(fake.requestsOf("datasets.list")).toHaveLength(0)

      // BigQuery refuses the EU dataset's __TABLES__ from a job in US: the region's read fails as a whole.
      expect(yield* bigquery.getTablesByRegion(requestsFor([...us, ...eu]))).toEqual(new Map())
    }))

  it.scopedLive("a region with more tables than one set reads is read in several sets of whole datasets", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3, batchTables: 2 * TABLE_NAMES.length })
      const us = putDatasets(fake, "sales", 5, "US")

      const read = yield* bigquery.getTablesByRegion(requestsFor(us))

      expect(read.size).toBe(5)
      const sets = fake.requestsOf("jobs.query").filter((r) => regionQueryOf(r) === "tables").map((r) => {
        const params = bodyOf(r).queryParameters as ReadonlyArray<{ name: string; parameterValue: { arrayValues: ReadonlyArray<{ value: string }> } }>
        return params.find((p) => p.name === "datasets")!.parameterValue.arrayValues.map((v) => v.value)
      })
      expect(sets.sort()).toEqual([["sales_1", "sales_2"], ["sales_3", "sales_4"], ["sales_5"]])
      expect(fake.requestsOf("jobs.query")).toHaveLength(9)
      yield* expectAsTablesGet(bigquery, read, us, ["orders"])
    }))

  it.scopedLive("a table whose rows cannot be read is read through its own tables.get; the rest come from the region", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery({
        adjustRegionRows: (_project, dataset, rows) =>
          dataset !== "sales_2" ? rows : {
            tables: rows.tables.map((t) =>
              t.table_name === "scores" ? { ...t, ddl: t.ddl!.replace(/PARTITION BY .*/, "PARTITION BY MOD(customer_id, 7)") } : t
            ),
            columns: rows.columns.map((c) => (c.table_name === "hits" ? { ...c, data_type: "DECIMAL<2>" } : c)),
            storage: rows.storage.map((s) => (s.table_id === "orders" ? { ...s, last_modified_time: 8_640_000_000_000_001 } : s))
          }
      })
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 4, "US")

      const read = yield* bigquery.getTablesByRegion(requestsFor(us))

      expect(read.size).toBe(4)
      expect(fake.requestsOf("tables.get").map((r) => r.path.split("/").slice(-3).join("/")).sort()).toEqual([
        "sales_2/tables/hits",
        "sales_2/tables/orders",
        "sales_2/tables/scores"
      ])
      yield* expectAsTablesGet(bigquery, read, us)
    }))

  it.scopedLive("a table whose own tables.get then fails fails alone", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery({
        adjustRegionRows: (_project, dataset, rows) =>
          dataset !== "sales_1" ? rows : {
            ...rows,
            tables: rows.tables.map((t) => (t.table_name === "hits" ? { ...t, ddl: null } : t))
          }
      })
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 4, "US")
      fake.faults.inject(Fault.status(403, "accessDenied"), (r) => r.kind === "tables.get" && r.path.endsWith("/sales_1/tables/hits"))

      const read = yield* bigquery.getTablesByRegion(requestsFor(us))
      const sales1 = read.get(`${WAREHOUSE}.sales_1`)!
      expect(sales1.get("hits")).toMatchObject(Either.left({ _tag: "PermissionDenied", resource: `${WAREHOUSE}.sales_1.hits` }))
      expect([...sales1.values()].filter(Either.isRight)).toHaveLength(TABLE_NAMES.length - 1)
    }))

  const failures = [
    { title: "a 503 on the columns query", which: "columns", fault: Fault.status(503) },
    { title: "a 403 on the tables query", which: "tables", fault: Fault.status(403, "accessDenied") },
    { title: "a malformed reply to the storage query", which: "storage", fault: Fault.malformed }
  ] as const
  for (const { fault, title, which } of failures) {
    it.scopedLive(`${title} leaves that region's datasets to the caller; another region is read`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
        const us = putDatasets(fake, "sales", 2, "US")
        const eu = putDatasets(fake, "eu_sales", 2, "EU")
        fake.faults.inject(fault, (r) => regionQueryOf(r) === which && bodyOf(r).location === "US")

        const read = yield* bigquery.getTablesByRegion(requestsFor([...us, ...eu]))
        expect([...read.keys()].sort()).toEqual(eu.map((d) => `${WAREHOUSE}.${d}`))
        expect(fake.faults.pending()).toBe(0)
        // No hidden retries, no tables.get: the caller reads the US datasets by itself.
        expect(fake.requestsOf("jobs.query").filter((r) => bodyOf(r).location === "US")).toHaveLength(3)
        expect(fake.requestsOf("tables.get")).toHaveLength(0)
      }))
  }

  it.scopedLive("a region query billing more than MAX_BYTES_BILLED is refused by BigQuery: the region is left to the caller", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery({ regionQueryBytesBilled: 50 * 1024 ** 2 })
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 }, { maximumBytesBilled: 20 * 1024 ** 2 })
      const us = putDatasets(fake, "sales", 4, "US")

      expect(yield* bigquery.getTablesByRegion(requestsFor(us))).toEqual(new Map())
      expect(fake.requestsOf("jobs.query").map((r) => bodyOf(r).maximumBytesBilled)).toEqual(
        Array.from({ length: 3 }, () => String(20 * 1024 ** 2))
      )
    }))

  it.scopedLive("datasets.list failing: the project's datasets are left to the caller", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 4, "US")
      fake.faults.inject(Fault.status(403, "accessDenied"), { kind: "datasets.list" })

      expect(yield* bigquery.getTablesByRegion(requestsFor(us))).toEqual(new Map())
      expect(fake.requestsOf("jobs.query")).toHaveLength(0)
    }))
})

describe("the sync's collect step reading by region, over HTTP", () => {
  const collectOver = (fake: FakeBigQuery, metadataRead: MetadataReadOptions, refs: ReadonlyArray<TableRef>) =>
    Effect.gen(function*() {
      const bigquery = yield* bigQueryOn(fake, metadataRead)
      return yield* collectTables(refs.map((ref) => ({ id: makeTableId(ref), read: ref, sharding: null }))).pipe(
        Effect.provideService(BigQueryService, bigquery),
        Effect.provideService(SyncConfig, testSettings({ retryAttempts: 1 }))
      )
    })

  const refsOf = (datasets: ReadonlyArray<string>) =>
    datasets.flatMap((dataset) => TABLE_NAMES.map((table) => ({ project: WAREHOUSE, dataset, table })))

  it.scopedLive("every table of five datasets from three queries, as tables.get describes it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const us = putDatasets(fake, "sales", 5, "US")

      const collected = yield* collectOver(fake, { mode: "auto", regionAbove: 3 }, refsOf(us))

      expect(collected.every((c) => Either.isRight(c.result))).toBe(true)
      expect(fake.requestsOf("jobs.query")).toHaveLength(3)
      expect(fake.requestsOf("tables.get")).toHaveLength(0)
      const bigquery = yield* bigQueryOn(fake, { mode: "dataset", regionAbove: 3 })
      for (const { result, table } of collected) {
        expect(result).toEqual(Either.right(yield* bigquery.getTable(table.read)))
      }
    }))

  it.scopedLive("a table with an impossible time or too deep a schema fails alone, with its own error; the region's other tables are read", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const us = putDatasets(fake, "sales", 4, "US")
      let deep: RestFieldJson = { name: "leaf", type: "STRING" }
      for (let level = 200; level > 0; level--) deep = { name: `level_${level}`, type: "RECORD", fields: [deep] }
      fake.tables.put(WAREHOUSE, "sales_1", { tableReference: { tableId: "deep" }, schema: { fields: [deep] }, lastModifiedTime: "1700000000000" })
      fake.tables.put(WAREHOUSE, "sales_1", {
        tableReference: { tableId: "bad_time" },
        schema: { fields: [{ name: "id", type: "STRING" }] },
        lastModifiedTime: "8640000000000001"
      })

      const collected = yield* collectOver(fake, { mode: "region", regionAbove: 3 }, [
        ...refsOf(us),
        { project: WAREHOUSE, dataset: "sales_1", table: "deep" },
        { project: WAREHOUSE, dataset: "sales_1", table: "bad_time" }
      ])

      const failed = Object.fromEntries(
        collected.filter((c) => Either.isLeft(c.result)).map((c) => [c.table.read.table, Either.isLeft(c.result) ? c.result.left.message : ""])
      )
      expect(Object.keys(failed).sort()).toEqual(["bad_time", "deep"])
      expect(failed.deep).toMatch(/shop-warehouse\.sales_1\.deep.*nests deeper than BigQuery's 15 levels/)
      expect(failed.bad_time).toMatch(/shop-warehouse\.sales_1\.bad_time.*lastModifiedTime/)
      // The region was read once; only the two bad tables were read again by themselves.
      expect(fake.requestsOf("jobs.query")).toHaveLength(3)
      expect(fake.requestsOf("tables.get").map((r) => r.path.split("/").at(-1)).sort()).toEqual(["bad_time", "deep"])
    }))

  it.scopedLive("a failing region: each dataset read by itself, and only the table that really fails fails", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const us = putDatasets(fake, "sales", 4, "US")
      fake.faults.inject(Fault.status(503), (r) => regionQueryOf(r) === "columns")
      // sales_3's own batch fails too, so its tables are read one by one, and one of them fails.
      fake.faults.inject(
        Fault.status(403, "accessDenied"),
        (r) => r.kind === "jobs.query" && queryOf(r).includes("`shop-warehouse`.`sales_3`.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS")
      )
      fake.faults.inject(Fault.status(403, "accessDenied"), (r) => r.kind === "tables.get" && r.path.endsWith("/sales_3/tables/orders"))

      const collected = yield* collectOver(fake, { mode: "region", regionAbove: 3 }, [
        ...refsOf(us),
        { project: WAREHOUSE, dataset: "sales_4", table: "gone" }
      ])

      const failed = collected.filter((c) => Either.isLeft(c.result)).map((c) => [c.table.id, Either.isLeft(c.result) ? c.result.left._tag : ""])
      expect(failed).toEqual([
        [`${WAREHOUSE}.sales_3.orders`, "PermissionDenied"],
        [`${WAREHOUSE}.sales_4.gone`, "ResourceNotFound"]
      ])
      expect(fake.faults.pending()).toBe(0)
      // Three region queries once; then each dataset's own three queries; sales_3's tables one by one.
      expect(fake.requestsOf("jobs.query").filter((r) => regionQueryOf(r) !== undefined)).toHaveLength(3)
      expect(fake.requestsOf("jobs.query").filter((r) => regionQueryOf(r) === undefined)).toHaveLength(4 * 3)
      expect(fake.requestsOf("tables.get").map((r) => r.path.split("/").at(-3)))
        .toEqual(Array.from({ length: TABLE_NAMES.length }, () => "sales_3"))
    }))
})

describe("LiveBigQuery.listTablesByRegion", () => {
  it.scopedLive("five datasets of one region: one datasets.list and one query, each listing what tables.list gives", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "auto", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 4, "US")
      fake.tables.putDataset(WAREHOUSE, "empty", "US")
      const eu = putDatasets(fake, "eu_sales", 2, "EU")
      const all = [...us, "empty", ...eu].map((dataset) => ({ project: WAREHOUSE, dataset }))

      const listed = yield* bigquery.listTablesByRegion(all)

      expect([...listed.keys()].sort()).toEqual([...us, "empty"].map((d) => `${WAREHOUSE}.${d}`).sort())
      expect(fake.requestsOf("datasets.list")).toHaveLength(1)
      const [query] = fake.requestsOf("jobs.query")
      expect(fake.requestsOf("jobs.query")).toHaveLength(1)
      expect(queryOf(query)).toContain("FROM `shop-warehouse`.`region-us`.INFORMATION_SCHEMA.TABLES")
      expect(bodyOf(query)).toMatchObject({ location: "US", maximumBytesBilled: String(100 * 1024 ** 2) })
      expect(fake.requestsOf("tables.list")).toHaveLength(0)
      // Each listing is what tables.list gives, kinds included (a view is VIEW, not BASE TABLE's TABLE).
      for (const dataset of [...us, "empty"]) {
        expect(listed.get(`${WAREHOUSE}.${dataset}`)).toEqual(yield* bigquery.listTables(WAREHOUSE, dataset))
      }
      expect(listed.get(`${WAREHOUSE}.sales_1`)!.find((t) => t.table === "daily_totals")?.kind).toBe("MATERIALIZED_VIEW")
      expect(listed.get(`${WAREHOUSE}.empty`)).toEqual([])
    }))

  it.scopedLive("with a configured location, a dataset the region shows nothing of is left to tables.list", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3, location: "US" })
      const us = putDatasets(fake, "sales", 2, "US")
      fake.tables.putDataset(WAREHOUSE, "empty", "US")

      const listed = yield* bigquery.listTablesByRegion([...us, "empty", "nowhere"].map((dataset) => ({ project: WAREHOUSE, dataset })))
      expect([...listed.keys()].sort()).toEqual(us.map((d) => `${WAREHOUSE}.${d}`))
      expect(fake.requestsOf("datasets.list")).toHaveLength(0)
    }))

  it.scopedLive("a failing query leaves the region's datasets to tables.list", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const bigquery = yield* bigQueryOn(fake, { mode: "region", regionAbove: 3 })
      const us = putDatasets(fake, "sales", 4, "US")
      fake.faults.inject(Fault.status(500), { kind: "jobs.query" })

      expect(yield* bigquery.listTablesByRegion(us.map((dataset) => ({ project: WAREHOUSE, dataset })))).toEqual(new Map())
      expect(fake.faults.pending()).toBe(0)
    }))

  it.scopedLive("the sync's resolve and collect steps: patterns over five datasets, one datasets.list, four queries, no tables.list", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const { settings, targets } = fiveSalesDatasets(fake)

      const byRegion = yield* bigQueryOn(fake, { mode: "auto", regionAbove: 3 })
      const { failures, tables } = yield* resolveTargets(targets).pipe(
        Effect.provideService(BigQueryService, byRegion),
        Effect.provideService(SyncConfig, settings)
      )
      const collected = yield* collectTables(tables).pipe(
        Effect.provideService(BigQueryService, byRegion),
        Effect.provideService(SyncConfig, settings)
      )
      expect(failures).toEqual([])
      expect(collected.every((c) => Either.isRight(c.result))).toBe(true)
      expect(fake.requestsOf("tables.list")).toHaveLength(0)
      expect(fake.requestsOf("datasets.list")).toHaveLength(1)
      // One listing query; three reading the four datasets of more than ten targets; sales_2, down
      // to ten by the exclusion, read through its ten tables.get.
      expect(fake.requestsOf("jobs.query")).toHaveLength(4)
      expect(new Set(fake.requestsOf("tables.get").map((r) => r.path.split("/").at(-3)))).toEqual(new Set(["sales_2"]))
      expect(fake.requestsOf("tables.get")).toHaveLength(10)

      // The same tables as listing each dataset by itself finds.
      const byDataset = yield* bigQueryOn(fake, { mode: "dataset", regionAbove: 3 })
      const alone = yield* resolveTargets(targets).pipe(
        Effect.provideService(BigQueryService, byDataset),
        Effect.provideService(SyncConfig, settings)
      )
      expect(tables).toEqual(alone.tables)
      expect(tables).toHaveLength(5 * TABLE_NAMES.length - 1)
    }))

  it.scopedLive("the sync's warehouse pipeline reads the same way: one datasets.list, four queries, no tables.list, what resolve and collect give", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery()
      const { settings, targets } = fiveSalesDatasets(fake)
      const byRegion = yield* bigQueryOn(fake, { mode: "auto", regionAbove: 3 })

      const read = yield* readWarehouse(targets, (table) => Effect.succeed(table.id)).pipe(
        Effect.provideService(BigQueryService, byRegion),
        Effect.provideService(SyncConfig, settings)
      )

      expect(fake.requestsOf("tables.list")).toHaveLength(0)
      expect(fake.requestsOf("datasets.list")).toHaveLength(1)
      // One query listing the region, three reading it (its TABLES and COLUMNS views, the datasets'
      // __TABLES__ in one union); then one declared-keys query per batched dataset.
      const queries = fake.requestsOf("jobs.query").map(queryOf)
      expect(fake.requestsOf("jobs.query").filter((r) => regionQueryOf(r) !== undefined)).toHaveLength(3)
      expect(queries.filter((q) => !q.includes("KEY_COLUMN_USAGE"))).toHaveLength(4)
      expect(queries).toHaveLength(8)
      expect(fake.requestsOf("tables.get")).toHaveLength(10)
      expect(read.resolution.failures).toEqual([])
      expect(read.described).toEqual(read.collected.map((c) => c.table.id))
      // The same tables and metadata as the per-dataset reads give.
      const byDataset = yield* bigQueryOn(fake, { mode: "dataset", regionAbove: 3 })
      const alone = yield* resolveTargets(targets).pipe(
        Effect.provideService(BigQueryService, byDataset),
        Effect.provideService(SyncConfig, settings)
      )
      const collected = yield* collectTables(alone.tables).pipe(
        Effect.provideService(BigQueryService, byDataset),
        Effect.provideService(SyncConfig, settings)
      )
      expect(read.resolution.tables).toEqual(alone.tables)
      expect(read.collected).toEqual(collected)
    }))
})
