/**
 * The BigQuery layer against a local BigQuery over real HTTP: what each call returns, what each
 * server failure becomes, and that every call makes exactly the requests it should (the client's
 * own retries are off; retrying belongs to the Effect retry policy). `getTables` of more than ten
 * tables reads the dataset's INFORMATION_SCHEMA, served by the fake from rows derived from the same
 * table resources that `tables.get` serves.
 */
import { readFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { makeTableId, type TableRef } from "../../src/contract/TableId.ts"
import { SyncConfig } from "../../src/config/SyncConfig.ts"
import { type Collected, collectTables } from "../../src/sync/collect.ts"
import type { BigQuery } from "../../src/services/BigQuery/BigQueryService.ts"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery, type LiveBigQueryOptions, TABLES_GET_LIMIT } from "../../src/services/BigQuery/LiveBigQuery.ts"
import {
  type FakeBigQuery,
  type FakeBigQueryOptions,
  type FakeField,
  Fault,
  type RecordedRequest,
  type RequestKind,
  start
} from "../support/FakeBigQueryServer.ts"
import {
  arrangeInformationSchema,
  informationSchemaQueryOf,
  type TableResourceFixture
} from "../support/InformationSchemaRows.ts"
import { testSettings } from "../support/TestLayers.ts"

const PROJECT = "metasync-test"
/** Generous: only the stall tests are meant to reach a deadline. */
const DEADLINE = "30 seconds"
const SHORT_DEADLINE_MS = 800

const GA4: TableRef = {
  project: "bigquery-public-data",
  dataset: "ga4_obfuscated_sample_ecommerce",
  table: "events_20210131"
}
const GA4_FIELDS = JSON.parse(
  readFileSync(new URL(`../fixtures/bigquery/${GA4.dataset}.${GA4.table}.schema.json`, import.meta.url), "utf8")
) as ReadonlyArray<FakeField>

/** The fixture as the REST API sends it: `mode` left out where it is NULLABLE. */
const asRest = (field: FakeField): FakeField => {
  const { fields, mode, ...rest } = field
  return {
    ...rest,
    ...(mode === "NULLABLE" ? {} : { mode: mode! }),
    ...(fields === undefined ? {} : { fields: fields.map(asRest) })
  }
}

/** What the cache should say about a fixture field. */
const column = (field: FakeField): unknown => ({
  name: field.name,
  type: field.type,
  mode: field.mode,
  description: field.description ?? null,
  ...(field.fields === undefined ? {} : { fields: field.fields.map(column) })
})

const fakeBigQuery = (options?: FakeBigQueryOptions) =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (fake) => Effect.promise(() => fake.close()))

/** The layer's service on the fake's `apiEndpoint`, whatever the developer's environment says. */
const bigQueryOn = (
  fake: FakeBigQuery,
  timeout: Duration.DurationInput = DEADLINE,
  options: Partial<LiveBigQueryOptions> = {}
) =>
  LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: fake.url, timeout, ...options }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
  )

const putGa4 = (fake: FakeBigQuery) =>
  fake.tables.put(GA4.project, GA4.dataset, {
    tableReference: { tableId: GA4.table },
    type: "TABLE",
    description: "Obfuscated GA4 export of the Google Merchandise Store, 2021-01-31.",
    schema: { fields: GA4_FIELDS.map(asRest) },
    numRows: "26489",
    numBytes: "109416016",
    creationTime: "1612130000000",
    lastModifiedTime: "1612137600123",
    location: "US",
    labels: { source: "ga4" }
  })

// A dataset of another project with 26 tables of every kind, for getTables over INFORMATION_SCHEMA.
const WAREHOUSE = { project: "shop-warehouse", dataset: "sales" } as const
const SHAKESPEARE_FIELDS = JSON.parse(
  readFileSync(new URL("../fixtures/bigquery/samples.shakespeare.schema.json", import.meta.url), "utf8")
) as ReadonlyArray<FakeField>

const ga4Shard = (day: number): TableResourceFixture => ({
  tableReference: { tableId: `events_202101${String(day).padStart(2, "0")}` },
  type: "TABLE",
  description: `Obfuscated GA4 export of the Google Merchandise Store, 2021-01-${day}.`,
  schema: { fields: GA4_FIELDS.map(asRest) },
  numRows: String(20_000 + day),
  numBytes: String(100_000_000 + day),
  creationTime: String(1_609_459_200_000 + day * 86_400_000),
  lastModifiedTime: String(1_609_459_200_000 + day * 86_400_000 + 3_600_000),
  labels: { source: "ga4" }
})

const WAREHOUSE_TABLES: ReadonlyArray<TableResourceFixture> = [
  ...Array.from({ length: 20 }, (_, i) => ga4Shard(i + 1)),
  {
    tableReference: { tableId: "shakespeare" },
    description: "Word index for works of Shakespeare",
    schema: { fields: SHAKESPEARE_FIELDS.map(asRest) },
    numRows: "164656",
    numBytes: "6432064",
    creationTime: "1335916040125",
    lastModifiedTime: "1652781846016"
  },
  {
    tableReference: { tableId: "orders" },
    description: "Orders, \"as placed\".",
    schema: {
      fields: [
        { name: "order_date", type: "DATE", mode: "REQUIRED" },
        { name: "customer_id", type: "STRING", mode: "REQUIRED", description: "Who ordered." },
        {
          name: "items",
          type: "RECORD",
          mode: "REPEATED",
          fields: [{ name: "sku", type: "STRING" }, { name: "price", type: "NUMERIC", policyTags: { names: ["projects/p/locations/us/taxonomies/1/policyTags/2"] } }]
        }
      ]
    },
    numRows: "1200",
    numBytes: "524288",
    creationTime: "1690000000000",
    lastModifiedTime: "1700000000000",
    labels: { team: "shop" },
    timePartitioning: { type: "DAY", field: "order_date", expirationMs: "7776000000" },
    requirePartitionFilter: true,
    clustering: { fields: ["customer_id"] }
  },
  {
    tableReference: { tableId: "recent orders" },
    type: "VIEW",
    view: { query: "SELECT * FROM `shop-warehouse.sales.orders` WHERE order_date > '2024-01-01'" },
    schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "customer_id", type: "STRING" }] },
    numRows: "0",
    numBytes: "0",
    creationTime: "1700000000000",
    lastModifiedTime: "1700000000000"
  },
  {
    tableReference: { tableId: "daily_totals" },
    type: "MATERIALIZED_VIEW",
    materializedView: { query: "SELECT order_date, COUNT(*) AS n FROM `shop-warehouse.sales.orders` GROUP BY order_date" },
    schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "n", type: "INTEGER" }] },
    numRows: "30",
    numBytes: "480",
    lastModifiedTime: "1700000000000",
    timePartitioning: { type: "DAY", field: "order_date" }
  },
  {
    tableReference: { tableId: "hits" },
    schema: { fields: [{ name: "payload", type: "JSON" }] },
    numRows: "7",
    numBytes: "700",
    lastModifiedTime: "1700000000000",
    timePartitioning: { type: "HOUR", requirePartitionFilter: true }
  },
  {
    tableReference: { tableId: "scores" },
    schema: { fields: [{ name: "customer_id", type: "INTEGER" }, { name: "score", type: "FLOAT" }] },
    numRows: "9",
    numBytes: "144",
    lastModifiedTime: "1700000000000",
    rangePartitioning: { field: "customer_id", range: { start: "0", end: "1000", interval: "10" } }
  }
]

/** 24 of the warehouse's 26 tables and one that does not exist: 25 names. */
const WAREHOUSE_EXISTING = WAREHOUSE_TABLES.map((t) => t.tableReference.tableId).filter(
  (name) => name !== "events_20210119" && name !== "events_20210120"
)
const WAREHOUSE_REQUESTED = [...WAREHOUSE_EXISTING, "events_20990101"]

/** The fake holds the warehouse both as table resources and as INFORMATION_SCHEMA answers. */
const putWarehouse = (fake: FakeBigQuery, options?: Parameters<typeof arrangeInformationSchema>[4]) => {
  for (const table of WAREHOUSE_TABLES) fake.tables.put(WAREHOUSE.project, WAREHOUSE.dataset, table)
  arrangeInformationSchema(fake, WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_TABLES, options)
}

const metadataQueryOf = (request: RecordedRequest) =>
  request.kind === "jobs.query" ? informationSchemaQueryOf(String((request.body as { query?: unknown }).query)) : undefined

/** How many jobs.query requests each INFORMATION_SCHEMA query made. */
const metadataQueryCounts = (fake: FakeBigQuery) => {
  const counts: Record<string, number> = {}
  for (const request of fake.requestsOf("jobs.query")) {
    const which = metadataQueryOf(request) ?? "other"
    counts[which] = (counts[which] ?? 0) + 1
  }
  return counts
}

// Query results exercising every shape a cell can take.
const EVENT_SCHEMA: ReadonlyArray<FakeField> = [
  { name: "event_name", type: "STRING", mode: "NULLABLE" },
  { name: "event_count", type: "INTEGER", mode: "NULLABLE" },
  { name: "revenue", type: "FLOAT", mode: "NULLABLE" },
  { name: "is_purchase", type: "BOOLEAN", mode: "NULLABLE" },
  { name: "first_seen", type: "TIMESTAMP", mode: "NULLABLE" },
  { name: "price", type: "NUMERIC", mode: "NULLABLE" },
  { name: "tags", type: "STRING", mode: "REPEATED" },
  {
    name: "event_params",
    type: "RECORD",
    mode: "REPEATED",
    fields: [
      { name: "key", type: "STRING" },
      { name: "value", type: "RECORD", fields: [{ name: "string_value", type: "STRING" }, { name: "int_value", type: "INTEGER" }] }
    ]
  },
  { name: "device", type: "RECORD", mode: "NULLABLE", fields: [{ name: "category", type: "STRING" }] }
]

const EVENT_ROWS: ReadonlyArray<ReadonlyArray<unknown>> = [
  ["page_view", 5, 0, false, "2021-01-31T10:00:00.000Z", "1.50", ["a", "b"], [["page_title", ["Home", null]]], ["desktop"]],
  ["purchase", 2, 123.45, true, "2021-01-31T10:00:01.000Z", "99.99", [], [["value", [null, 3]]], { category: "mobile" }],
  ["session_start", null, null, null, null, null, ["x"], [], null],
  ["big", "9007199254740993", -1.5, true, "2021-01-31T00:00:00.000Z", "0", [], [], null],
  ["scroll", 1, 2.5, false, "2021-01-30T23:59:59.000Z", "1e-9", ["y", "z"], [["a", ["s", 1]], ["b", [null, null]]], null]
]

const EXPECTED_EVENT_ROWS = [
  {
    event_name: "page_view",
    event_count: 5,
    revenue: 0,
    is_purchase: false,
    first_seen: "2021-01-31T10:00:00.000Z",
    price: "1.50",
    tags: ["a", "b"],
    event_params: [{ key: "page_title", value: { string_value: "Home", int_value: null } }],
    device: { category: "desktop" }
  },
  {
    event_name: "purchase",
    event_count: 2,
    revenue: 123.45,
    is_purchase: true,
    first_seen: "2021-01-31T10:00:01.000Z",
    price: "99.99",
    tags: [],
    event_params: [{ key: "value", value: { string_value: null, int_value: 3 } }],
    device: { category: "mobile" }
  },
  {
    event_name: "session_start",
    event_count: null,
    revenue: null,
    is_purchase: null,
    first_seen: null,
    price: null,
    tags: ["x"],
    event_params: [],
    device: null
  },
  {
    event_name: "big",
    // Past 2^53 the exact digits are kept rather than a rounded number.
    event_count: "9007199254740993",
    revenue: -1.5,
    is_purchase: true,
    first_seen: "2021-01-31T00:00:00.000Z",
    price: "0",
    tags: [],
    event_params: [],
    device: null
  },
  {
    event_name: "scroll",
    event_count: 1,
    revenue: 2.5,
    is_purchase: false,
    first_seen: "2021-01-30T23:59:59.000Z",
    price: "1e-9",
    tags: ["y", "z"],
    event_params: [
      { key: "a", value: { string_value: "s", int_value: 1 } },
      { key: "b", value: { string_value: null, int_value: null } }
    ],
    device: null
  }
]

/** A schema whose one column nests `levels` RECORDs deep (BigQuery allows 15). */
const nestedFields = (levels: number): ReadonlyArray<FakeField> => {
  let field: FakeField = { name: "leaf", type: "STRING" }
  for (let level = levels; level > 0; level--) field = { name: `level_${level}`, type: "RECORD", fields: [field] }
  return [field]
}

/**
 * A `tables.get` reply whose one column nests `levels` RECORDs deep, as JSON text built without
 * recursion (`JSON.stringify` itself overflows the stack on thousands of levels).
 */
const deepTableJson = (ref: TableRef, levels: number): string => {
  const open = Array.from({ length: levels }, (_, i) => `{"name":"level_${i + 1}","type":"RECORD","fields":[`).join("")
  const close = "]}".repeat(levels)
  return `{"kind":"bigquery#table","tableReference":{"projectId":"${ref.project}","datasetId":"${ref.dataset}",` +
    `"tableId":"${ref.table}"},"lastModifiedTime":"1700000000000","schema":{"fields":[${open}{"name":"leaf","type":"STRING"}${close}]}}`
}

/** An epoch-millisecond time one past the last date JavaScript (and so a DateTime) can hold. */
const BEYOND_LAST_DATE = "8640000000000001"

/** The sync's collect step over the layer on the fake, one attempt per call unless told otherwise. */
const collectOver = (fake: FakeBigQuery, refs: ReadonlyArray<TableRef>, retryAttempts = 1) =>
  Effect.gen(function*() {
    const bigquery = yield* bigQueryOn(fake)
    return yield* collectTables(refs.map((ref) => ({ id: makeTableId(ref), read: ref, sharding: null }))).pipe(
      Effect.provideService(BigQueryService, bigquery),
      Effect.provideService(SyncConfig, testSettings({ retryAttempts }))
    )
  })

/** Each table: "read", or its error's tag and message. */
const outcomes = (collected: ReadonlyArray<Collected>) =>
  Object.fromEntries(collected.map(({ result, table }) => [
    table.read.table,
    Either.isRight(result) ? "read" : `${result.left._tag}: ${result.left.message}`
  ]))

describe("LiveBigQuery", () => {
  describe("getTable", () => {
    it.scopedLive("reads the GA4 sample's schema tree, description, sizes and times", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        putGa4(fake)

        const table = yield* bigquery.getTable(GA4)
        expect(table).toMatchObject({
          table_id: "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20210131",
          kind: "TABLE",
          description: "Obfuscated GA4 export of the Google Merchandise Store, 2021-01-31.",
          row_count: 26489,
          size_bytes: 109416016,
          labels: { source: "ga4" },
          partitioning: null,
          clustering: [],
          view_query: null
        })
        expect(table.last_updated).toEqual(DateTime.unsafeMake(1612137600123))
        expect(table.created).toEqual(DateTime.unsafeMake(1612130000000))
        // The whole tree, NULLABLE filled in where the API leaves `mode` out.
        expect(table.columns).toEqual(GA4_FIELDS.map(column))
        const items = table.columns.find((c) => c.name === "items")
        expect(items).toMatchObject({ type: "RECORD", mode: "REPEATED" })
        expect(items?.fields?.length).toBeGreaterThan(20)
        const eventParams = table.columns.find((c) => c.name === "event_params")
        expect(eventParams?.fields?.find((f) => f.name === "value")?.fields?.map((f) => f.name)).toEqual([
          "string_value",
          "int_value",
          "float_value",
          "double_value"
        ])

        const [request] = fake.requests
        expect(fake.requests).toHaveLength(1)
        expect(request).toMatchObject({
          kind: "tables.get",
          method: "GET",
          path: "/bigquery/v2/projects/bigquery-public-data/datasets/ga4_obfuscated_sample_ecommerce/tables/events_20210131"
        })
        expect(request.headers.authorization).toBeUndefined()
      }))

    it.scopedLive("reads partitioning, clustering and a view's SQL", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.tables.put(PROJECT, "shop", {
          tableReference: { tableId: "orders" },
          schema: { fields: [{ name: "order_date", type: "DATE" }, { name: "customer_id", type: "STRING", mode: "REQUIRED" }] },
          timePartitioning: { type: "DAY", field: "order_date", expirationMs: "7776000000" },
          requirePartitionFilter: true,
          clustering: { fields: ["customer_id"] },
          lastModifiedTime: "1700000000000"
        })
        fake.tables.put(PROJECT, "shop", {
          tableReference: { tableId: "recent orders" },
          type: "VIEW",
          view: { query: "SELECT * FROM shop.orders WHERE order_date > '2024-01-01'", useLegacySql: false },
          schema: { fields: [{ name: "order_date", type: "DATE" }] },
          lastModifiedTime: "1700000000000"
        })

        const orders = yield* bigquery.getTable({ project: PROJECT, dataset: "shop", table: "orders" })
        expect(orders.partitioning).toEqual({
          field: "order_date",
          type: "DAY",
          expiration_ms: 7776000000,
          require_partition_filter: true
        })
        expect(orders.clustering).toEqual(["customer_id"])
        expect(orders.columns[1]).toEqual({ name: "customer_id", type: "STRING", mode: "REQUIRED", description: null })

        const view = yield* bigquery.getTable({ project: PROJECT, dataset: "shop", table: "recent orders" })
        expect(view).toMatchObject({ kind: "VIEW", view_query: "SELECT * FROM shop.orders WHERE order_date > '2024-01-01'" })
        expect(fake.requests[1].path).toBe(`/bigquery/v2/projects/${PROJECT}/datasets/shop/tables/recent%20orders`)
      }))

    it.scopedLive("a missing table or dataset → ResourceNotFound naming it", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        putGa4(fake)

        const noTable = yield* Effect.flip(bigquery.getTable({ ...GA4, table: "events_20990101" }))
        expect(noTable).toMatchObject({
          _tag: "ResourceNotFound",
          service: "bigquery",
          operation: "tables.get",
          resource: "bigquery-public-data.ga4_obfuscated_sample_ecommerce.events_20990101"
        })
        expect(noTable.message).toContain("events_20990101")
        const noDataset = yield* Effect.flip(bigquery.getTable({ ...GA4, dataset: "nope" }))
        expect(noDataset).toMatchObject({ _tag: "ResourceNotFound", resource: "bigquery-public-data.nope.events_20210131" })
        expect(fake.requestsOf("tables.get")).toHaveLength(2)
      }))

    it.scopedLive("a resource that is not a table → RemoteRejected saying what is wrong", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.tables.put(PROJECT, "shop", { tableReference: { tableId: "odd" }, schema: { fields: [{ name: "x" }] }, numRows: "-3" })

        const failure = yield* Effect.flip(bigquery.getTable({ project: PROJECT, dataset: "shop", table: "odd" }))
        expect(failure).toMatchObject({ _tag: "RemoteRejected", status: null, reason: "malformedResponse", operation: "tables.get" })
        expect(failure.message).toContain("schema.fields.0.type")
        expect(failure.message).toContain("numRows")
      }))
  })

  describe("getTables", () => {
    it.scopedLive("reads several tables of a dataset, leaving out the ones that do not exist", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        for (const table of ["orders", "items", "sessions"]) {
          fake.tables.put(PROJECT, "shop", {
            tableReference: { tableId: table },
            schema: { fields: [{ name: `${table}_id`, type: "STRING", mode: "REQUIRED" }] },
            lastModifiedTime: "1700000000000"
          })
        }

        const found = yield* bigquery.getTables(PROJECT, "shop", ["orders", "gone", "items", "sessions", "orders"])
        expect([...found.keys()].sort()).toEqual(["items", "orders", "sessions"])
        expect(found.get("items")).toMatchObject(Either.right({
          table_id: `${PROJECT}.shop.items`,
          columns: [{ name: "items_id", type: "STRING", mode: "REQUIRED", description: null }]
        }))
        // One request per distinct table.
        expect(fake.requestsOf("tables.get").map((r) => r.path.split("/").at(-1)).sort()).toEqual([
          "gone",
          "items",
          "orders",
          "sessions"
        ])
        expect(yield* bigquery.getTables(PROJECT, "no_such_dataset", ["orders"])).toEqual(new Map())
      }))

    it.scopedLive("any other failure is that table's alone: the others are read", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        for (const table of ["orders", "items"]) fake.tables.put(PROJECT, "shop", { tableReference: { tableId: table } })
        fake.faults.inject(Fault.status(403, "accessDenied"), (r) => r.path.endsWith("/items"))

        const found = yield* bigquery.getTables(PROJECT, "shop", ["orders", "items"])
        expect(found.get("items")).toMatchObject(
          Either.left({ _tag: "PermissionDenied", operation: "tables.get", resource: `${PROJECT}.shop.items` })
        )
        expect(found.get("orders")).toMatchObject(Either.right({ table_id: `${PROJECT}.shop.orders` }))
      }))

    it.scopedLive(`up to ${TABLES_GET_LIMIT} distinct tables: one tables.get each, no query`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        putWarehouse(fake)
        const ten = WAREHOUSE_EXISTING.slice(0, TABLES_GET_LIMIT)

        const found = yield* bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, [...ten, ten[0], ten[1]])
        expect([...found.keys()].sort()).toEqual([...ten].sort())
        expect(fake.requestsOf("tables.get")).toHaveLength(TABLES_GET_LIMIT)
        expect(fake.requestsOf("jobs.query")).toHaveLength(0)
      }))

    it.scopedLive("25 tables: three INFORMATION_SCHEMA queries under the byte cap, no tables.get, what tables.get gives", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        putWarehouse(fake, { columnsPageSize: 400 })
        expect(WAREHOUSE_REQUESTED).toHaveLength(25)

        const found = yield* bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_REQUESTED)
        expect([...found.keys()].sort()).toEqual([...WAREHOUSE_EXISTING].sort())
        expect(found.has("events_20990101")).toBe(false)

        expect(fake.requestsOf("tables.get")).toHaveLength(0)
        const queries = fake.requestsOf("jobs.query")
        expect(queries.length).toBeLessThanOrEqual(4)
        expect(metadataQueryCounts(fake)).toEqual({ tables: 1, columns: 1, storage: 1 })
        // The GA4 shards' field paths come in pages.
        expect(fake.requestsOf("jobs.getQueryResults").length).toBeGreaterThan(0)
        for (const request of queries) {
          // Jobs run in the configured project; the SQL addresses the dataset's own project.
          expect(request.path).toBe(`/bigquery/v2/projects/${PROJECT}/queries`)
          expect(String((request.body as { query: string }).query)).toContain("`shop-warehouse`.`sales`.")
          expect(request.body).toMatchObject({
            useLegacySql: false,
            maximumBytesBilled: String(100 * 1024 ** 2),
            timeoutMs: expect.any(Number),
            parameterMode: "NAMED",
            queryParameters: [{
              name: "tables",
              parameterType: { type: "ARRAY", arrayType: { type: "STRING" } },
              parameterValue: { arrayValues: WAREHOUSE_REQUESTED.map((value) => ({ value })) }
            }]
          })
        }

        // Every table exactly as its own tables.get describes it.
        for (const table of WAREHOUSE_EXISTING) {
          expect(found.get(table)).toEqual(Either.right(yield* bigquery.getTable({ ...WAREHOUSE, table })))
        }
        expect(found.get("orders")).toMatchObject(Either.right({
          partitioning: { field: "order_date", type: "DAY", expiration_ms: 7776000000, require_partition_filter: true },
          clustering: ["customer_id"],
          labels: { team: "shop" }
        }))
        expect(Either.getOrThrow(found.get("recent orders")!).view_query).toBe(
          "SELECT * FROM `shop-warehouse.sales.orders` WHERE order_date > '2024-01-01'"
        )
      }))

    it.scopedLive("the layer's maximumBytesBilled caps each query: over it, the batch fails with BigQuery's reason", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake, DEADLINE, { maximumBytesBilled: 5 * 1024 ** 2 })
        putWarehouse(fake, { totalBytesBilled: 10 * 1024 ** 2 })

        const failure = yield* Effect.flip(bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_REQUESTED))
        expect(failure).toMatchObject({
          _tag: "RemoteRejected",
          status: 400,
          reason: "bytesBilledLimitExceeded",
          operation: "jobs.query",
          resource: "shop-warehouse.sales"
        })
        expect(fake.requestsOf("jobs.query").map((r) => (r.body as { maximumBytesBilled: string }).maximumBytesBilled))
          .toEqual(fake.requestsOf("jobs.query").map(() => String(5 * 1024 ** 2)))
        expect(Object.values(metadataQueryCounts(fake)).every((n) => n === 1)).toBe(true)
        expect(fake.requestsOf("tables.get")).toHaveLength(0)
      }))

    for (const which of ["tables", "columns", "storage"] as const) {
      const faults = [
        { title: "503", fault: Fault.status(503), error: { _tag: "RemoteUnavailable", status: 503, reason: "backendError", attempts: 1 } },
        { title: "403 accessDenied", fault: Fault.status(403, "accessDenied"), error: { _tag: "PermissionDenied", status: 403 } }
      ] as const
      for (const { error, fault, title } of faults) {
        it.scopedLive(`${title} on the ${which} query fails the batch with ${error._tag}, after one request of each query`, () =>
          Effect.gen(function*() {
            const fake = yield* fakeBigQuery()
            const bigquery = yield* bigQueryOn(fake)
            putWarehouse(fake)
            fake.faults.inject(fault, (r) => metadataQueryOf(r) === which)

            const failure = yield* Effect.flip(bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_REQUESTED))
            expect(failure).toMatchObject({
              service: "bigquery",
              operation: "jobs.query",
              resource: "shop-warehouse.sales",
              ...error
            })
            expect(fake.faults.pending()).toBe(0)
            // No hidden retries: the faulted query was sent once, the others at most once, no tables.get.
            const counts = metadataQueryCounts(fake)
            expect(counts[which]).toBe(1)
            expect(Object.keys(counts).every((key) => key !== "other" && counts[key] === 1)).toBe(true)
            expect(fake.requestsOf("tables.get")).toHaveLength(0)
          }))
      }
    }

    it.scopedLive("a stalled query → RemoteTimeout at the layer's deadline", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake, `${SHORT_DEADLINE_MS} millis`)
        putWarehouse(fake)
        fake.faults.inject(Fault.stall, (r) => metadataQueryOf(r) === "columns")

        const failure = yield* Effect.flip(bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_REQUESTED))
        expect(failure).toMatchObject({
          _tag: "RemoteTimeout",
          operation: "jobs.query",
          resource: "shop-warehouse.sales",
          timeout_ms: SHORT_DEADLINE_MS,
          attempts: 1
        })
        expect(metadataQueryCounts(fake).columns).toBe(1)
      }))

    it.scopedLive("a dataset the queries do not find (missing, or in another location) → what tables.get finds", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake, DEADLINE, { location: "EU" })
        putWarehouse(fake)
        // Jobs in EU cannot see a US dataset: BigQuery answers 404 notFound, as for a missing one.
        fake.faults.inject(Fault.status(404), { kind: "jobs.query" }, 3)

        const found = yield* bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_REQUESTED)
        expect([...found.keys()].sort()).toEqual([...WAREHOUSE_EXISTING].sort())
        expect(fake.requestsOf("jobs.query").every((r) => (r.body as { location?: string }).location === "EU")).toBe(true)
        expect(fake.requestsOf("jobs.query").length).toBeLessThanOrEqual(3)
        expect(fake.requestsOf("tables.get")).toHaveLength(25)

        fake.faults.inject(Fault.status(404), { kind: "jobs.query" }, 3)
        expect(yield* bigquery.getTables(WAREHOUSE.project, "gone", WAREHOUSE_REQUESTED)).toEqual(new Map())
      }))

    it.scopedLive("a table whose INFORMATION_SCHEMA rows cannot be read is read through its own tables.get", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        putWarehouse(fake, {
          adjust: (rows) => ({
            ...rows,
            tables: rows.tables.map((t) =>
              t.table_name === "scores" ? { ...t, ddl: t.ddl!.replace(/PARTITION BY .*/, "PARTITION BY MOD(customer_id, 7)") } : t
            )
          })
        })

        const found = yield* bigquery.getTables(WAREHOUSE.project, WAREHOUSE.dataset, WAREHOUSE_REQUESTED)
        expect([...found.keys()].sort()).toEqual([...WAREHOUSE_EXISTING].sort())
        expect(fake.requestsOf("tables.get").map((r) => r.path.split("/").at(-1))).toEqual(["scores"])
        expect(found.get("scores")).toMatchObject(Either.right({ partitioning: { field: "customer_id", type: "RANGE" } }))
        expect(metadataQueryCounts(fake)).toEqual({ tables: 1, columns: 1, storage: 1 })
      }))
  })

  describe("one table's failure is its own (the sync's collect step over HTTP)", () => {
    it.scopedLive("tables.get batch: a 403, a 5xx past its retries, an impossible time and too deep a schema fail only their tables", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const put = (table: string, extra: Record<string, unknown> = {}) =>
          fake.tables.put(PROJECT, "shop", {
            tableReference: { tableId: table },
            schema: { fields: [{ name: "id", type: "STRING" }] },
            lastModifiedTime: "1700000000000",
            ...extra
          })
        for (const table of ["orders", "items", "sessions"]) put(table)
        put("refunds", { lastModifiedTime: BEYOND_LAST_DATE })
        put("deep")
        // Five thousand levels: refused before anything recurses into it (the Google client's own
        // recursive copy of every reply included: MetaSync parses the reply's text itself).
        fake.faults.inject(
          Fault.raw(200, deepTableJson({ project: PROJECT, dataset: "shop", table: "deep" }, 5000)),
          (r) => r.path.endsWith("/deep"),
          10
        )
        fake.faults.inject(Fault.status(403, "accessDenied"), (r) => r.path.endsWith("/items"), 10)
        fake.faults.inject(Fault.status(503), (r) => r.path.endsWith("/sessions"), 10)

        const refs = ["orders", "items", "sessions", "refunds", "deep"].map((table) => ({ project: PROJECT, dataset: "shop", table }))
        const collected = yield* collectOver(fake, refs, 2)

        const byTable = outcomes(collected)
        expect(byTable.orders).toBe("read")
        expect(byTable.items).toMatch(/^PermissionDenied: /)
        expect(byTable.sessions).toMatch(/^RemoteUnavailable: /)
        expect(byTable.refunds).toMatch(
          new RegExp(`^RemoteRejected: .*${PROJECT}\\.shop\\.refunds.*lastModifiedTime.*beyond the last representable date`)
        )
        expect(byTable.deep).toMatch(
          new RegExp(`^RemoteRejected: .*${PROJECT}\\.shop\\.deep.*nests deeper than BigQuery's 15 levels of RECORDs`)
        )
        expect(collected.find((c) => c.table.read.table === "items")?.result).toMatchObject(
          Either.left({ resource: `${PROJECT}.shop.items`, status: 403 })
        )
        // The 5xx table was retried by itself (the policy's 2 attempts in all), not the whole batch again.
        expect(fake.requestsOf("tables.get").filter((r) => r.path.endsWith("/sessions"))).toHaveLength(2)
        expect(fake.requestsOf("tables.get").filter((r) => r.path.endsWith("/orders"))).toHaveLength(1)
      }))

    it.scopedLive("INFORMATION_SCHEMA batch that fails as a whole: one tables.get per table, only the failing table fails", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        putWarehouse(fake)
        fake.faults.inject(Fault.status(403, "accessDenied"), (r) => metadataQueryOf(r) === "columns")
        fake.faults.inject(Fault.status(403, "accessDenied"), (r) => r.path.endsWith("/orders"), 10)

        const collected = yield* collectOver(fake, WAREHOUSE_REQUESTED.map((table) => ({ ...WAREHOUSE, table })))

        const byTable = outcomes(collected)
        expect(Object.entries(byTable).filter(([, outcome]) => outcome !== "read").map(([table, outcome]) => [table, outcome.split(":")[0]]))
          .toEqual([["orders", "PermissionDenied"], ["events_20990101", "ResourceNotFound"]])
        expect(fake.requestsOf("tables.get")).toHaveLength(WAREHOUSE_REQUESTED.length)
      }))

    it.scopedLive("INFORMATION_SCHEMA batch: a table with an impossible time or too deep a schema fails alone, with its own error", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const badTime: TableResourceFixture = {
          tableReference: { tableId: "bad_time" },
          schema: { fields: [{ name: "id", type: "STRING" }] },
          lastModifiedTime: BEYOND_LAST_DATE
        }
        const deep: TableResourceFixture = {
          tableReference: { tableId: "deep" },
          schema: { fields: nestedFields(200) },
          lastModifiedTime: "1700000000000"
        }
        const tables = [...WAREHOUSE_TABLES, badTime, deep]
        for (const table of tables) fake.tables.put(WAREHOUSE.project, WAREHOUSE.dataset, table)
        arrangeInformationSchema(fake, WAREHOUSE.project, WAREHOUSE.dataset, tables)

        const requested = [...WAREHOUSE_EXISTING, "bad_time", "deep"]
        const collected = yield* collectOver(fake, requested.map((table) => ({ ...WAREHOUSE, table })))

        const byTable = outcomes(collected)
        expect(Object.keys(byTable).filter((table) => byTable[table] !== "read")).toEqual(["bad_time", "deep"])
        expect(byTable.bad_time).toMatch(/^RemoteRejected: .*shop-warehouse\.sales\.bad_time.*lastModifiedTime/)
        expect(byTable.deep).toMatch(/^RemoteRejected: .*shop-warehouse\.sales\.deep.*nests deeper than BigQuery's 15 levels/)
        // The batch was read once; only the two bad tables were read again by themselves.
        expect(metadataQueryCounts(fake)).toEqual({ tables: 1, columns: 1, storage: 1 })
        expect(fake.requestsOf("tables.get").map((r) => r.path.split("/").at(-1)).sort()).toEqual(["bad_time", "deep"])
      }))
  })

  describe("listTables", () => {
    it.scopedLive("follows every page", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery({ listPageSize: 3 })
        const bigquery = yield* bigQueryOn(fake)
        const names = ["events_20210101", "events_20210102", "events_20210103", "items", "orders", "sessions", "v_daily"]
        for (const name of names) {
          fake.tables.put(PROJECT, "shop", { tableReference: { tableId: name }, type: name.startsWith("v_") ? "VIEW" : "TABLE" })
        }

        const listing = yield* bigquery.listTables(PROJECT, "shop")
        expect(listing).toEqual(names.map((table) => ({ table, kind: table.startsWith("v_") ? "VIEW" : "TABLE" })))
        expect(fake.requests.map((r) => r.query.pageToken)).toEqual([undefined, "items", "v_daily"])
        expect(fake.requests.every((r) => r.kind === "tables.list")).toBe(true)
      }))

    it.scopedLive("an empty dataset → no tables; a missing one → ResourceNotFound", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.tables.putDataset(PROJECT, "empty")

        expect(yield* bigquery.listTables(PROJECT, "empty")).toEqual([])
        const failure = yield* Effect.flip(bigquery.listTables(PROJECT, "missing"))
        expect(failure).toMatchObject({ _tag: "ResourceNotFound", operation: "tables.list", resource: `${PROJECT}.missing` })
      }))
  })

  describe("query", () => {
    it.scopedLive("waits for the job, follows every page and returns plain rows", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({
          match: "FROM `shop.events`",
          schema: EVENT_SCHEMA,
          rows: EVENT_ROWS,
          totalBytesProcessed: 52_428_800,
          pageSize: 2,
          pendingPolls: 2
        })

        const result = yield* bigquery.query(
          PROJECT,
          "SELECT * FROM `shop.events` WHERE event_name != @skipped AND event_count >= @min",
          { maximumBytesBilled: 1_000_000_000, params: { skipped: "none", min: 0, ratio: 0.5, live: true } }
        )
        expect(result.rows).toEqual(EXPECTED_EVENT_ROWS)
        expect(result.totalBytesProcessed).toBe(52_428_800)
        // Only a jobs.query reply that holds the results says what was billed; this one did not.
        expect(result.totalBytesBilled).toBeUndefined()

        // jobs.query says "not yet", one poll says "not yet", then three pages.
        expect(fake.requests.map((r) => r.kind)).toEqual([
          "jobs.query",
          "jobs.getQueryResults",
          "jobs.getQueryResults",
          "jobs.getQueryResults",
          "jobs.getQueryResults"
        ])
        expect(fake.requests.map((r) => r.query.pageToken)).toEqual([undefined, undefined, undefined, "offset-2", "offset-4"])
        expect(fake.requests[0].path).toBe(`/bigquery/v2/projects/${PROJECT}/queries`)
        expect(fake.requests[1].path).toBe(`/bigquery/v2/projects/${PROJECT}/queries/job_1`)
        expect(fake.requests[0].body).toMatchObject({
          useLegacySql: false,
          maximumBytesBilled: "1000000000",
          parameterMode: "NAMED",
          queryParameters: [
            { name: "skipped", parameterType: { type: "STRING" }, parameterValue: { value: "none" } },
            { name: "min", parameterType: { type: "INT64" }, parameterValue: { value: "0" } },
            { name: "ratio", parameterType: { type: "FLOAT64" }, parameterValue: { value: "0.5" } },
            { name: "live", parameterType: { type: "BOOL" }, parameterValue: { value: "true" } }
          ]
        })
      }))

    it.scopedLive("an empty result has no rows", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({ match: "WHERE FALSE", schema: EVENT_SCHEMA, rows: [], totalBytesProcessed: 0 })

        expect(yield* bigquery.query(PROJECT, "SELECT * FROM t WHERE FALSE", { maximumBytesBilled: 1 })).toEqual({
          rows: [],
          totalBytesProcessed: 0,
          totalBytesBilled: 0
        })
      }))

    it.scopedLive("says what BigQuery billed, which may exceed what it processed", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({
          match: "INFORMATION_SCHEMA",
          schema: [{ name: "table_name", type: "STRING" }],
          rows: [["orders"]],
          totalBytesProcessed: 2_048,
          totalBytesBilled: 10_485_760
        })

        const result = yield* bigquery.query(PROJECT, "SELECT table_name FROM shop.INFORMATION_SCHEMA.TABLES", {
          maximumBytesBilled: 20_000_000
        })
        expect(result).toEqual({ rows: [{ table_name: "orders" }], totalBytesProcessed: 2_048, totalBytesBilled: 10_485_760 })
        const overCap = yield* Effect.flip(
          bigquery.query(PROJECT, "SELECT table_name FROM shop.INFORMATION_SCHEMA.TABLES", { maximumBytesBilled: 5_000_000 })
        )
        expect(overCap).toMatchObject({ _tag: "RemoteRejected", reason: "bytesBilledLimitExceeded" })
      }))

    it.scopedLive("keeps microseconds of a TIMESTAMP", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({
          match: "ts",
          schema: [{ name: "ts", type: "TIMESTAMP" }],
          rows: [["1612051200123456"], ["-1"]]
        })

        const { rows } = yield* bigquery.query(PROJECT, "SELECT ts", { maximumBytesBilled: 1 })
        expect(rows).toEqual([{ ts: "2021-01-31T00:00:00.123456Z" }, { ts: "1969-12-31T23:59:59.999999Z" }])
      }))

    it.scopedLive("a query over its byte budget or not understood → RemoteRejected with BigQuery's reason", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({ match: "huge", schema: EVENT_SCHEMA, rows: [], totalBytesProcessed: 10_000_000 })

        const overBudget = yield* Effect.flip(bigquery.query(PROJECT, "SELECT * FROM huge", { maximumBytesBilled: 1_000 }))
        expect(overBudget).toMatchObject({
          _tag: "RemoteRejected",
          status: 400,
          reason: "bytesBilledLimitExceeded",
          operation: "jobs.query",
          resource: PROJECT
        })
        const unknown = yield* Effect.flip(bigquery.query(PROJECT, "SELEC nonsense", { maximumBytesBilled: 1_000 }))
        expect(unknown).toMatchObject({ _tag: "RemoteRejected", status: 400, reason: "invalidQuery" })
        expect(fake.requestsOf("jobs.query")).toHaveLength(2)
      }))

    it.scopedLive("a reply that cannot be followed → RemoteRejected, after that one request", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.faults.inject(Fault.reply(200, { kind: "bigquery#queryResponse", jobComplete: false }), { kind: "jobs.query" })
        fake.faults.inject(Fault.reply(200, { kind: "bigquery#queryResponse", rows: [] }), { kind: "jobs.query" })

        const noJob = yield* Effect.flip(bigquery.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1 }))
        expect(noJob).toMatchObject({ _tag: "RemoteRejected", reason: "malformedResponse", operation: "jobs.query" })
        expect(noJob.message).toContain("no jobReference")
        const noState = yield* Effect.flip(bigquery.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1 }))
        expect(noState).toMatchObject({ _tag: "RemoteRejected", reason: "malformedResponse" })
        expect(noState.message).toContain("jobComplete")
        expect(fake.requests.map((r) => r.kind)).toEqual(["jobs.query", "jobs.query"])
      }))

    it.scopedLive("a cell that does not fit its schema → RemoteRejected naming the field", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({ match: "n", schema: [{ name: "n", type: "INTEGER" }], rows: [["not a number"]] })

        const failure = yield* Effect.flip(bigquery.query(PROJECT, "SELECT n", { maximumBytesBilled: 1 }))
        expect(failure).toMatchObject({ _tag: "RemoteRejected", reason: "malformedResponse" })
        expect(failure.message).toContain(`n: "not a number" is not an integer`)
      }))
  })

  describe("dryRun", () => {
    it.scopedLive("returns BigQuery's byte estimate from one dry-run job", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({ match: "shop.events", schema: EVENT_SCHEMA, rows: [], totalBytesProcessed: 123_456_789 })

        expect(yield* bigquery.dryRun(PROJECT, "SELECT event_name FROM shop.events")).toEqual({
          totalBytesProcessed: 123_456_789
        })
        expect(fake.requests).toHaveLength(1)
        expect(fake.requests[0]).toMatchObject({
          kind: "jobs.insert",
          path: `/bigquery/v2/projects/${PROJECT}/jobs`,
          body: {
            configuration: { dryRun: true, query: { query: "SELECT event_name FROM shop.events", useLegacySql: false } }
          }
        })
      }))

    it.scopedLive("invalid SQL → RemoteRejected invalidQuery", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)

        const failure = yield* Effect.flip(bigquery.dryRun(PROJECT, "SELEC 1"))
        expect(failure).toMatchObject({ _tag: "RemoteRejected", status: 400, reason: "invalidQuery", operation: "jobs.insert" })
      }))

    it.scopedLive("a reply without jobReference, status or statistics → RemoteRejected, the process lives on", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.faults.inject(Fault.reply(200, { kind: "bigquery#job" }), { kind: "jobs.insert" })

        const failure = yield* Effect.flip(bigquery.dryRun(PROJECT, "SELECT 1"))
        expect(failure).toMatchObject({ _tag: "RemoteRejected", reason: "malformedResponse" })
        expect(failure.message).toContain("totalBytesProcessed")
      }))

    it.scopedLive("a dry-run job that reports an error result → the error's own tag", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        const errorResult = (reason: string, message: string) =>
          Fault.reply(200, { jobReference: { projectId: PROJECT }, status: { state: "DONE", errorResult: { reason, message } } })
        fake.faults.inject(errorResult("invalidQuery", "Unrecognized name: foo at [1:8]"), { kind: "jobs.insert" })
        fake.faults.inject(errorResult("notFound", "Not found: Table metasync-test:shop.gone"), { kind: "jobs.insert" })

        expect(yield* Effect.flip(bigquery.dryRun(PROJECT, "SELECT foo"))).toMatchObject({
          _tag: "RemoteRejected",
          reason: "invalidQuery",
          message: "Unrecognized name: foo at [1:8]"
        })
        expect(yield* Effect.flip(bigquery.dryRun(PROJECT, "SELECT * FROM shop.gone"))).toMatchObject({
          _tag: "ResourceNotFound",
          message: "Not found: Table metasync-test:shop.gone"
        })
      }))
  })

  describe("server failures: one call is one request, and each failure has its tag", () => {
    type Call = (bigquery: BigQuery) => Effect.Effect<unknown, { readonly _tag: string }>
    const calls: ReadonlyArray<{ readonly kind: RequestKind; readonly call: Call; readonly resource: string }> = [
      { kind: "tables.get", call: (bq) => bq.getTable(GA4), resource: `${GA4.project}.${GA4.dataset}.${GA4.table}` },
      { kind: "tables.list", call: (bq) => bq.listTables(GA4.project, GA4.dataset), resource: `${GA4.project}.${GA4.dataset}` },
      { kind: "jobs.query", call: (bq) => bq.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1e9 }), resource: PROJECT },
      { kind: "jobs.insert", call: (bq) => bq.dryRun(PROJECT, "SELECT 1"), resource: PROJECT }
    ]
    const unavailable = (status: number | null, reason: string) => ({ _tag: "RemoteUnavailable", status, reason, attempts: 1 })
    const faults: ReadonlyArray<{ readonly title: string; readonly fault: Fault; readonly error: Record<string, unknown> }> = [
      { title: "429", fault: Fault.status(429), error: unavailable(429, "rateLimitExceeded") },
      { title: "500", fault: Fault.status(500), error: unavailable(500, "backendError") },
      { title: "503", fault: Fault.status(503), error: unavailable(503, "backendError") },
      { title: "403 rateLimitExceeded", fault: Fault.status(403, "rateLimitExceeded"), error: unavailable(403, "rateLimitExceeded") },
      { title: "403 accessDenied", fault: Fault.status(403, "accessDenied"), error: { _tag: "PermissionDenied", status: 403 } },
      { title: "404", fault: Fault.status(404), error: { _tag: "ResourceNotFound" } },
      { title: "400", fault: Fault.status(400, "invalid"), error: { _tag: "RemoteRejected", status: 400, reason: "invalid" } },
      { title: "connection reset", fault: Fault.reset, error: unavailable(null, "ECONNRESET") },
      {
        title: "malformed JSON",
        fault: Fault.malformed,
        error: { _tag: "RemoteRejected", status: null, reason: "malformedResponse", message: expect.stringContaining("not valid JSON") }
      },
      { title: "truncated body", fault: Fault.truncated, error: unavailable(null, "ECONNRESET") }
    ]

    for (const { call, kind, resource } of calls) {
      for (const { error, fault, title } of faults) {
        it.scopedLive(`${title} on ${kind} → ${error._tag}`, () =>
          Effect.gen(function*() {
            const fake = yield* fakeBigQuery()
            const bigquery = yield* bigQueryOn(fake)
            putGa4(fake)
            fake.queries.answer({ match: "SELECT 1", schema: [{ name: "one", type: "INTEGER" }], rows: [[1]] })
            fake.faults.inject(fault, { kind })

            const failure = yield* Effect.flip(call(bigquery))
            expect(failure).toMatchObject({ service: "bigquery", operation: kind, resource, ...error })
            expect(fake.faults.pending()).toBe(0)
            expect(fake.requests.map((r) => r.kind)).toEqual([kind])
          }))
      }
    }

    it.scopedLive("a failure on a later page of a query → that page's operation, after exactly the requests made", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.queries.answer({ match: "events", schema: EVENT_SCHEMA, rows: EVENT_ROWS, pageSize: 2 })
        fake.faults.inject(Fault.status(503), (r) => r.kind === "jobs.getQueryResults" && r.query.pageToken === "offset-4")

        const failure = yield* Effect.flip(bigquery.query(PROJECT, "SELECT * FROM events", { maximumBytesBilled: 1e9 }))
        expect(failure).toMatchObject({ _tag: "RemoteUnavailable", status: 503, operation: "jobs.getQueryResults" })
        expect(fake.requests.map((r) => r.kind)).toEqual(["jobs.query", "jobs.getQueryResults", "jobs.getQueryResults"])
      }))
  })

  // The Google client deep-copies every reply recursively; on these it used to overflow the stack in
  // its own callback, uncaught, and take the process down with it. Each now fails its call alone.
  describe("replies nested 5,000 levels deep", () => {
    const LEVELS = 5_000
    /** A JSON value `levels` arrays deep, as text (`JSON.stringify` itself overflows on it). */
    const deepJson = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`
    const calls: ReadonlyArray<{ readonly kind: RequestKind; readonly call: (bq: BigQuery) => Effect.Effect<unknown, unknown> }> = [
      { kind: "tables.get", call: (bq) => bq.getTable(GA4) },
      { kind: "tables.list", call: (bq) => bq.listTables(GA4.project, GA4.dataset) },
      { kind: "jobs.query", call: (bq) => bq.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1e9 }) },
      { kind: "jobs.insert", call: (bq) => bq.dryRun(PROJECT, "SELECT 1") }
    ]

    for (const { call, kind } of calls) {
      it.scopedLive(`an error reply with a deep detail on ${kind} → RemoteRejected with its message`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeBigQuery()
          const bigquery = yield* bigQueryOn(fake)
          fake.faults.inject(
            Fault.raw(
              400,
              `{"error":{"code":400,"message":"Invalid: too deep","errors":[{"reason":"invalid","message":"Invalid: too deep","detail":${deepJson(LEVELS)}}]}}`
            ),
            { kind }
          )

          expect(yield* Effect.flip(call(bigquery))).toMatchObject({
            _tag: "RemoteRejected",
            operation: kind,
            status: 400,
            reason: "invalid",
            message: "Invalid: too deep"
          })
          expect(fake.requests.map((r) => r.kind)).toEqual([kind])
        }))
    }

    it.scopedLive("a query result whose schema nests 5,000 RECORDs → RemoteRejected naming the nesting", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        const open = Array.from({ length: LEVELS }, (_, i) => `{"name":"r${i + 1}","type":"RECORD","fields":[`).join("")
        fake.faults.inject(
          Fault.raw(
            200,
            `{"jobComplete":true,"schema":{"fields":[${open}{"name":"leaf","type":"STRING"}${"]}".repeat(LEVELS)}]},"rows":[]}`
          ),
          { kind: "jobs.query" }
        )

        expect(yield* Effect.flip(bigquery.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1e9 }))).toMatchObject({
          _tag: "RemoteRejected",
          operation: "jobs.query",
          reason: "malformedResponse",
          message: expect.stringMatching(/schema\.fields: field r1\.r2\..* nests deeper than BigQuery's 15 levels of RECORDs$/)
        })
      }))

    it.scopedLive("a tables.list page with a deep member MetaSync does not read → the listing", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const bigquery = yield* bigQueryOn(fake)
        fake.faults.inject(
          Fault.raw(
            200,
            `{"kind":"bigquery#tableList","tables":[{"tableReference":{"tableId":"orders"},"type":"TABLE"}],"unread":${deepJson(LEVELS)}}`
          ),
          { kind: "tables.list" }
        )

        expect(yield* bigquery.listTables(PROJECT, "shop")).toEqual([{ table: "orders", kind: "TABLE" }])
      }))
  })

  describe("deadlines", () => {
    const stalls: ReadonlyArray<{
      readonly title: string
      readonly kind: RequestKind
      readonly operation: string
      readonly call: (bigquery: BigQuery) => Effect.Effect<unknown, { readonly _tag: string }>
    }> = [
      { title: "tables.get", kind: "tables.get", operation: "tables.get", call: (bq) => bq.getTable(GA4) },
      { title: "tables.list", kind: "tables.list", operation: "tables.list", call: (bq) => bq.listTables(GA4.project, GA4.dataset) },
      {
        title: "jobs.query",
        kind: "jobs.query",
        operation: "jobs.query",
        call: (bq) => bq.query(PROJECT, "SELECT * FROM events", { maximumBytesBilled: 1e9 })
      },
      {
        title: "a page of jobs.getQueryResults",
        kind: "jobs.getQueryResults",
        operation: "jobs.getQueryResults",
        call: (bq) => bq.query(PROJECT, "SELECT * FROM events", { maximumBytesBilled: 1e9 })
      },
      { title: "jobs.insert", kind: "jobs.insert", operation: "jobs.insert", call: (bq) => bq.dryRun(PROJECT, "SELECT * FROM events") }
    ]

    for (const { call, kind, operation, title } of stalls) {
      it.scopedLive(`a stalled ${title} → RemoteTimeout at the deadline`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeBigQuery()
          const bigquery = yield* bigQueryOn(fake, `${SHORT_DEADLINE_MS} millis`)
          putGa4(fake)
          fake.queries.answer({ match: "events", schema: EVENT_SCHEMA, rows: EVENT_ROWS, pageSize: 2 })
          fake.faults.inject(Fault.stall, { kind })

          const failure = yield* Effect.flip(call(bigquery))
          expect(failure).toMatchObject({
            _tag: "RemoteTimeout",
            service: "bigquery",
            operation,
            timeout_ms: SHORT_DEADLINE_MS,
            attempts: 1
          })
          expect(fake.requestsOf(kind)).toHaveLength(1)
        }))
    }
  })

  describe("BIGQUERY_EMULATOR_HOST", () => {
    /** A stand-in metadata server: any request to it means the client went looking for credentials. */
    const metadataServer = Effect.acquireRelease(
      Effect.async<{ readonly host: string; readonly hits: Array<string>; readonly server: http.Server }>((resume) => {
        const hits: Array<string> = []
        const server = http.createServer((request, response) => {
          hits.push(request.url ?? "")
          response.writeHead(404).end()
        })
        server.listen(0, "127.0.0.1", () =>
          resume(Effect.succeed({ host: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server })))
      }),
      ({ server }) =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )

    /** Sets environment variables for the scope, restoring what was there. */
    const withEnv = (values: Readonly<Record<string, string | undefined>>) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const before = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]))
          for (const [key, value] of Object.entries(values)) {
            if (value === undefined) delete process.env[key]
            else process.env[key] = value
          }
          return before
        }),
        (before) =>
          Effect.sync(() => {
            for (const [key, value] of Object.entries(before)) {
              if (value === undefined) delete process.env[key]
              else process.env[key] = value
            }
          })
      )

    for (const form of ["host:port", "http://host:port"] as const) {
      it.scopedLive(`${form}: requests go to /projects/... with no credential lookup and no metadata probe`, () =>
        Effect.gen(function*() {
          const fake = yield* fakeBigQuery()
          const metadata = yield* metadataServer
          const emulatorHost = form === "host:port" ? `127.0.0.1:${fake.port}` : fake.url
          yield* withEnv({
            BIGQUERY_EMULATOR_HOST: emulatorHost,
            GCE_METADATA_HOST: metadata.host,
            GCE_METADATA_IP: undefined,
            METADATA_SERVER_DETECTION: undefined,
            GOOGLE_APPLICATION_CREDENTIALS: undefined
          })
          putGa4(fake)
          fake.queries.answer({ match: "SELECT 1", schema: [{ name: "one", type: "INTEGER" }], rows: [[1]] })

          const bigquery = yield* BigQueryService.pipe(
            Effect.provide(LiveBigQuery.layer({ projectId: PROJECT, timeout: DEADLINE }))
          )
          const table = yield* bigquery.getTable(GA4)
          expect(table.columns).toHaveLength(GA4_FIELDS.length)
          expect(yield* bigquery.query(PROJECT, "SELECT 1", { maximumBytesBilled: 1 })).toMatchObject({ rows: [{ one: 1 }] })

          expect(fake.requests.map((r) => r.path)).toEqual([
            `/projects/${GA4.project}/datasets/${GA4.dataset}/tables/${GA4.table}`,
            `/projects/${PROJECT}/queries`
          ])
          expect(fake.requests.every((r) => r.headers.authorization === undefined)).toBe(true)
          expect(metadata.hits).toEqual([])
        }))
    }

    it.scopedLive("wins over apiEndpoint, as it does in the Google client", () =>
      Effect.gen(function*() {
        const fake = yield* fakeBigQuery()
        const other = yield* fakeBigQuery()
        yield* withEnv({ BIGQUERY_EMULATOR_HOST: fake.url })
        fake.tables.putDataset(PROJECT, "shop")

        const bigquery = yield* LiveBigQuery.make({ projectId: PROJECT, apiEndpoint: other.url, timeout: DEADLINE })
        expect(yield* bigquery.listTables(PROJECT, "shop")).toEqual([])
        expect(fake.requests).toHaveLength(1)
        expect(other.requests).toHaveLength(0)
      }))
  })
})
