/**
 * A local BigQuery for tests: the parts of the BigQuery v2 REST API that MetaSync reads through
 * @google-cloud/bigquery (tables.get, tables.list, datasets.list, jobs.query with paging and
 * polling, jobs.getQueryResults, dry-run jobs.insert), over real HTTP on 127.0.0.1.
 *
 * Paths are accepted under `/bigquery/v2/projects/...` (the client with `apiEndpoint`) and
 * `/projects/...` (the client with `BIGQUERY_EMULATOR_HOST`).
 *
 * Tables are arranged as REST `Table` resources; queries as answers picked by a matcher on the SQL
 * (unknown SQL is a 400 `invalidQuery`, as BigQuery says for a query it cannot run), their rows
 * possibly a function of the query parameters, each billing `totalBytesBilled` against the
 * request's `maximumBytesBilled`. The region-qualified metadata queries that
 * `regionInformationSchemaQueries` writes (`` `p`.`region-us`.INFORMATION_SCHEMA.TABLES ``, its
 * COLUMN_FIELD_PATHS ⋈ COLUMNS, and the datasets' `__TABLES__` in one UNION ALL) are answered from
 * the arranged tables themselves, when no arranged answer matches: each dataset has a location
 * (`US` unless arranged), the job must run there, and the rows are the ones BigQuery shows for the
 * tables (`InformationSchemaRows.ts`), filtered on the queries' `@datasets` and
 * `@qualified_tables` as their WHERE clauses say. Faults are
 * scripted per request: `fake.faults.inject(Fault.status(503), { kind: "jobs.query" })` makes the
 * next matching request fail that way. Every request, faulted or not, is recorded in `fake.requests`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { InformationSchemaRows } from "../../src/services/BigQuery/InformationSchema.ts"
import { type FaultScript as FaultScriptOf, makeFaultQueue } from "./FaultQueue.ts"
import {
  COLUMNS_SCHEMA,
  informationSchemaRowsOf,
  STORAGE_SCHEMA,
  type TableResourceFixture,
  TABLES_SCHEMA
} from "./InformationSchemaRows.ts"
import { type OpenConnections, trackConnections } from "./OpenConnections.ts"

// ---------------------------------------------------------------------------------------------
// Arrangements

/** `TableFieldSchema`, as the REST API writes it. */
export interface FakeField {
  readonly name: string
  readonly type: string
  readonly mode?: string
  readonly description?: string
  readonly fields?: ReadonlyArray<FakeField>
}

/** A REST `Table` resource; `tableReference.tableId` names the table, the rest is served as given. */
export interface TableResourceJson {
  readonly tableReference: { readonly tableId: string; readonly projectId?: string; readonly datasetId?: string }
  readonly [key: string]: unknown
}

export interface FakeTables {
  /** Adds (or replaces) a table, creating its dataset; `id`, `kind` and the full `tableReference` are filled in. */
  readonly put: (project: string, dataset: string, resource: TableResourceJson) => void
  /** Creates an empty dataset (tables.list on an unknown dataset is a 404), in `location` (`US` by default). */
  readonly putDataset: (project: string, dataset: string, location?: string) => void
  readonly remove: (project: string, dataset: string, table: string) => void
}

/** A query's named parameters as sent: scalars as their string value, arrays as lists of those. */
export type QueryParams = Readonly<Record<string, string | ReadonlyArray<string | null> | null>>

/**
 * The answer to every query whose SQL matches: a string matches as a substring.
 *
 * Rows are plain arrays in the order of `schema`, or a function of the query's parameters (to
 * answer `WHERE x IN UNNEST(@names)` as BigQuery would). A RECORD value is an array in the order
 * of its fields or an object keyed by field name; a REPEATED value is an array; a TIMESTAMP may be
 * an ISO string; `null` is NULL. The fake encodes them as BigQuery does (`{f:[{v}]}`, values as strings).
 */
export interface QueryAnswer {
  readonly match: string | RegExp | ((sql: string) => boolean)
  readonly schema: ReadonlyArray<FakeField>
  readonly rows: ReadonlyArray<ReadonlyArray<unknown>> | ((params: QueryParams) => ReadonlyArray<ReadonlyArray<unknown>>)
  readonly totalBytesProcessed?: number
  /**
   * What the query bills (`totalBytesProcessed` by default), checked against `maximumBytesBilled`
   * and reported in jobs.query replies; BigQuery bills INFORMATION_SCHEMA queries at least 10 MB.
   */
  readonly totalBytesBilled?: number
  /** Rows per page (all in one page by default). */
  readonly pageSize?: number
  /** How many replies (jobs.query's included) say `jobComplete: false` before the results are ready (0 by default). */
  readonly pendingPolls?: number
}

export interface FakeQueries {
  /** Arranges an answer; the first arranged answer that matches wins. */
  readonly answer: (answer: QueryAnswer) => void
  readonly clear: () => void
}

// ---------------------------------------------------------------------------------------------
// Requests and faults

export type RequestKind =
  | "tables.get"
  | "tables.list"
  | "datasets.list"
  | "jobs.query"
  | "jobs.getQueryResults"
  | "jobs.insert"
  | "other"

export interface RecordedRequest {
  readonly method: string
  /** The path as sent, without the query. */
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: http.IncomingHttpHeaders
  /** The JSON body (`undefined` when there is none). */
  readonly body: unknown
  readonly kind: RequestKind
  readonly project: string | undefined
}

export type Fault =
  /** An error reply with BigQuery's JSON error body; `reason` defaults to the one BigQuery uses for the status. */
  | { readonly type: "status"; readonly status: number; readonly reason?: string }
  /** The socket is destroyed before any reply. */
  | { readonly type: "reset" }
  /** No reply at all, until the server closes. */
  | { readonly type: "stall" }
  /** A 200 reply whose body is not valid JSON. */
  | { readonly type: "malformed" }
  /** The reply stops halfway through its announced Content-Length and the connection drops. */
  | { readonly type: "truncated" }
  /** This JSON reply instead of the real one (e.g. a 200 that lacks fields the client relies on). */
  | { readonly type: "reply"; readonly status: number; readonly body: unknown }
  /**
   * This text as the reply's body, sent as it is: for JSON that `JSON.stringify` cannot produce,
   * such as a table resource nested thousands of levels deep.
   */
  | { readonly type: "raw"; readonly status: number; readonly text: string }

export const Fault = {
  status: (status: number, reason?: string): Fault =>
    reason === undefined ? { type: "status", status } : { type: "status", status, reason },
  reset: { type: "reset" } as Fault,
  stall: { type: "stall" } as Fault,
  malformed: { type: "malformed" } as Fault,
  truncated: { type: "truncated" } as Fault,
  reply: (status: number, body: unknown): Fault => ({ type: "reply", status, body }),
  raw: (status: number, text: string): Fault => ({ type: "raw", status, text })
} as const

export type FaultMatch =
  | { readonly kind?: RequestKind; readonly method?: string }
  | ((request: RecordedRequest) => boolean)

export type FaultScript = FaultScriptOf<Fault, FaultMatch>

/** BigQuery's reasons by status; 403 defaults to the rate-limit reason BigQuery sends with 403. */
const REASONS: Record<number, string> = {
  400: "invalidQuery",
  401: "authError",
  403: "rateLimitExceeded",
  404: "notFound",
  429: "rateLimitExceeded",
  500: "backendError",
  502: "backendError",
  503: "backendError",
  504: "backendError"
}

const matches = (when: FaultMatch, request: RecordedRequest): boolean =>
  typeof when === "function"
    ? when(request)
    : (when.kind === undefined || when.kind === request.kind) &&
      (when.method === undefined || when.method.toUpperCase() === request.method)

// ---------------------------------------------------------------------------------------------
// Replies are values first, so that a fault can damage them before they are sent.

interface Reply {
  readonly status: number
  readonly body: Buffer
}

const json = (status: number, value: unknown): Reply => ({ status, body: Buffer.from(JSON.stringify(value)) })

const errorReply = (status: number, message: string, reason = REASONS[status] ?? "invalid"): Reply =>
  json(status, { error: { code: status, message, errors: [{ message, domain: "global", reason }] } })

// ---------------------------------------------------------------------------------------------
// Query results in BigQuery's wire form

const isRecordType = (field: FakeField) => field.type === "RECORD" || field.type === "STRUCT"

const encodeScalar = (field: FakeField, value: unknown, int64Timestamps: boolean): unknown => {
  if (value === null || value === undefined) return null
  if (isRecordType(field)) {
    const fields = field.fields ?? []
    const values = Array.isArray(value) ? value : fields.map((f) => (value as Record<string, unknown>)[f.name])
    return { f: fields.map((f, i) => ({ v: encodeValue(f, values[i], int64Timestamps) })) }
  }
  if (field.type === "TIMESTAMP" && typeof value === "string" && !/^-?\d+$/.test(value)) {
    const micros = Date.parse(value) * 1000
    return int64Timestamps ? String(micros) : (micros / 1e6).toExponential().replace("e+", "E")
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value)
}

const encodeValue = (field: FakeField, value: unknown, int64Timestamps: boolean): unknown =>
  field.mode === "REPEATED"
    ? ((value ?? []) as ReadonlyArray<unknown>).map((item) => ({ v: encodeScalar(field, item, int64Timestamps) }))
    : encodeScalar(field, value, int64Timestamps)

const billedBy = (answer: QueryAnswer) => answer.totalBytesBilled ?? answer.totalBytesProcessed ?? 0

const encodeRow = (schema: ReadonlyArray<FakeField>, row: ReadonlyArray<unknown>, int64Timestamps: boolean) => ({
  f: schema.map((field, i) => ({ v: encodeValue(field, row[i], int64Timestamps) }))
})

interface Job {
  readonly id: string
  readonly project: string
  readonly answer: QueryAnswer
  readonly rows: ReadonlyArray<ReadonlyArray<unknown>>
  /** Where the job runs: the request's `location`, `US` when it names none. */
  readonly location: string
  pollsLeft: number
}

interface WireParameter {
  readonly name?: string
  readonly parameterValue?: {
    readonly value?: string
    readonly arrayValues?: ReadonlyArray<{ readonly value?: string }>
  }
}

const paramsOf = (body: Record<string, unknown>): QueryParams =>
  Object.fromEntries(
    ((body.queryParameters ?? []) as ReadonlyArray<WireParameter>).map((p) => [
      p.name ?? "",
      p.parameterValue?.arrayValues !== undefined
        ? p.parameterValue.arrayValues.map((item) => item.value ?? null)
        : p.parameterValue?.value ?? null
    ])
  )

// ---------------------------------------------------------------------------------------------
// Routing

interface Route {
  readonly kind: RequestKind
  readonly project: string | undefined
  readonly dataset?: string
  readonly table?: string
  readonly jobId?: string
}

const route = (method: string, path: string): Route => {
  const segments = path.split("/").slice(1).map(decodeURIComponent)
  const rest = segments[0] === "bigquery" && segments[1] === "v2" ? segments.slice(2) : segments
  if (rest[0] !== "projects" || rest[1] === undefined) return { kind: "other", project: undefined }
  const project = rest[1]
  const [collection, id, sub, subId] = rest.slice(2)
  if (collection === "datasets" && id !== undefined && sub === "tables" && method === "GET") {
    return subId === undefined
      ? { kind: "tables.list", project, dataset: id }
      : { kind: "tables.get", project, dataset: id, table: subId }
  }
  if (collection === "datasets" && id === undefined && method === "GET") return { kind: "datasets.list", project }
  if (collection === "queries" && id === undefined && method === "POST") return { kind: "jobs.query", project }
  if (collection === "queries" && id !== undefined && method === "GET") {
    return { kind: "jobs.getQueryResults", project, jobId: id }
  }
  if (collection === "jobs" && id === undefined && method === "POST") return { kind: "jobs.insert", project }
  return { kind: "other", project }
}

// ---------------------------------------------------------------------------------------------
// The server

export interface FakeBigQueryOptions {
  /** Largest page tables.list and datasets.list return when the client does not ask for less (BigQuery: 50). */
  readonly listPageSize?: number
  /** What each region-qualified metadata query bills (BigQuery's minimum, 10 MB, by default). */
  readonly regionQueryBytesBilled?: number
  /** Rows per page of the region-qualified metadata queries' answers (all in one page by default). */
  readonly regionPageSize?: number
  /** Changes a dataset's rows before the region queries serve them (rows BigQuery might send but a resource would not give). */
  readonly adjustRegionRows?: (project: string, dataset: string, rows: InformationSchemaRows) => InformationSchemaRows
}

/** A SQL text's region-qualified views: `` `project`.`region-us`.INFORMATION_SCHEMA.TABLES ``. */
const REGION_VIEW = /`([^`]+)`\.`region-([a-z0-9-]+)`\.INFORMATION_SCHEMA\.([A-Z_]+)/g
/** A SQL text's `` `project`.`dataset`.__TABLES__ `` references. */
const META_TABLES = /`([^`]+)`\.`([^`]+)`\.__TABLES__/g

export interface FakeBigQuery {
  /** `http://127.0.0.1:PORT`, for `apiEndpoint` or `BIGQUERY_EMULATOR_HOST`. */
  readonly url: string
  readonly port: number
  readonly tables: FakeTables
  readonly queries: FakeQueries
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Requests of one kind, e.g. to assert that a call made exactly one. */
  readonly requestsOf: (kind: RequestKind) => ReadonlyArray<RecordedRequest>
  readonly faults: FaultScript
  /** The connections clients hold open to it: a cancelled request closes its own. */
  readonly connections: OpenConnections
  /** Stops the server, dropping open connections and stalled requests. */
  readonly close: () => Promise<void>
}

export const start = (options: FakeBigQueryOptions = {}): Promise<FakeBigQuery> => {
  const listPageSize = options.listPageSize ?? 50
  /** `project:dataset` → table name → resource. */
  const datasets = new Map<string, Map<string, Record<string, unknown>>>()
  /** `project:dataset` → location. */
  const locations = new Map<string, string>()
  /** `project:dataset` → its INFORMATION_SCHEMA rows, derived once until its tables change. */
  const derivedRows = new Map<string, InformationSchemaRows>()
  const answers: Array<QueryAnswer> = []
  const jobs = new Map<string, Job>()
  const requests: Array<RecordedRequest> = []
  const faults = makeFaultQueue<Fault, FaultMatch, RecordedRequest>(matches, {})
  let lastJob = 0

  const datasetOf = (project: string, dataset: string, location?: string) => {
    const key = `${project}:${dataset}`
    let tables = datasets.get(key)
    if (tables === undefined) datasets.set(key, tables = new Map())
    if (location !== undefined || !locations.has(key)) locations.set(key, location ?? "US")
    return tables
  }

  const tables: FakeTables = {
    put: (project, dataset, resource) => {
      derivedRows.delete(`${project}:${dataset}`)
      const table = resource.tableReference.tableId
      datasetOf(project, dataset).set(table, {
        kind: "bigquery#table",
        id: `${project}:${dataset}.${table}`,
        type: "TABLE",
        ...resource,
        tableReference: { projectId: project, datasetId: dataset, tableId: table }
      })
    },
    putDataset: (project, dataset, location) => void datasetOf(project, dataset, location),
    remove: (project, dataset, table) => {
      derivedRows.delete(`${project}:${dataset}`)
      datasets.get(`${project}:${dataset}`)?.delete(table)
    }
  }

  const answerFor = (sql: string) =>
    answers.find(({ match }) =>
      typeof match === "string" ? sql.includes(match) : match instanceof RegExp ? match.test(sql) : match(sql)
    )

  /** The rows BigQuery shows for a dataset's tables in INFORMATION_SCHEMA and __TABLES__. */
  const rowsOf = (project: string, dataset: string): InformationSchemaRows => {
    const key = `${project}:${dataset}`
    const known = derivedRows.get(key)
    if (known !== undefined) return known
    const resources = [...(datasets.get(key)?.values() ?? [])] as unknown as Array<TableResourceFixture>
    const derived = informationSchemaRowsOf(project, dataset, resources)
    const rows = options.adjustRegionRows === undefined ? derived : options.adjustRegionRows(project, dataset, derived)
    derivedRows.set(key, rows)
    return rows
  }

  const asList = (value: QueryParams[string]) => new Set(Array.isArray(value) ? value : [])

  /**
   * The answer to a region-qualified metadata query or a UNION ALL of datasets' `__TABLES__`, from
   * the arranged tables; an error reply when the job runs elsewhere than the datasets; `undefined`
   * for any other SQL.
   */
  const regionAnswer = (project: string, sql: string, params: QueryParams, jobLocation: string | undefined):
    | { readonly answer: QueryAnswer; readonly rows: ReadonlyArray<ReadonlyArray<unknown>> }
    | Reply
    | undefined =>
  {
    const views = [...sql.matchAll(REGION_VIEW)]
    const metaTables = [...sql.matchAll(META_TABLES)]
    if (views.length === 0 && metaTables.length === 0) return undefined
    // A dataset's own __TABLES__ query (the per-dataset read) is answered only as arranged.
    const filtersTables = "qualified_tables" in params
    if (views.length === 0 && !filtersTables) return undefined
    const wantedDatasets = asList(params.datasets)
    const tableFilter = asList(params.qualified_tables)
    const wantedTables = { has: (name: string) => !filtersTables || tableFilter.has(name) }
    const located = (location: string) => jobLocation !== undefined && jobLocation.toLowerCase() === location.toLowerCase()
    const billed = options.regionQueryBytesBilled ?? 10_485_760
    const answerOf = (schema: ReadonlyArray<FakeField>, rows: ReadonlyArray<ReadonlyArray<unknown>>) => ({
      answer: {
        match: sql,
        schema,
        rows,
        totalBytesProcessed: 1_048_576,
        totalBytesBilled: billed,
        ...(options.regionPageSize === undefined ? {} : { pageSize: options.regionPageSize })
      },
      rows
    })
    if (views.length > 0) {
      const [, viewProject, region] = views[0]
      if (!located(region)) {
        return errorReply(400, `Cannot read region-${region} INFORMATION_SCHEMA from a job in location ${jobLocation ?? "(none)"}`, "invalidQuery")
      }
      const inRegion = [...datasets.keys()]
        .filter((key) => key.startsWith(`${viewProject}:`) && locations.get(key)?.toLowerCase() === region)
        .map((key) => key.slice(viewProject.length + 1))
        .filter((dataset) => wantedDatasets.has(dataset))
      const view = views[0][3]
      if (view === "TABLES") {
        return answerOf(
          [{ name: "table_schema", type: "STRING" }, ...TABLES_SCHEMA],
          inRegion.flatMap((dataset) =>
            rowsOf(viewProject, dataset).tables
              .filter((row) => wantedTables.has(`${dataset}.${row.table_name}`))
              .map((row) => [dataset, row.table_name, row.table_type, row.ddl])
          )
        )
      }
      if (view === "COLUMN_FIELD_PATHS") {
        return answerOf(
          [{ name: "table_schema", type: "STRING" }, ...COLUMNS_SCHEMA],
          inRegion.flatMap((dataset) =>
            rowsOf(viewProject, dataset).columns
              .filter((row) => wantedTables.has(`${dataset}.${row.table_name}`))
              .map((row) => [dataset, ...COLUMNS_SCHEMA.map((field) => (row as Record<string, unknown>)[field.name])])
          )
        )
      }
      return errorReply(400, `FakeBigQueryServer does not serve region-${region}.INFORMATION_SCHEMA.${view}`, "invalidQuery")
    }
    const rows: Array<ReadonlyArray<unknown>> = []
    for (const [, tableProject, dataset] of metaTables) {
      const key = `${tableProject}:${dataset}`
      if (!datasets.has(key)) return errorReply(404, `Not found: Dataset ${key}`)
      if (jobLocation !== undefined && !located(locations.get(key)!)) {
        return errorReply(404, `Not found: Dataset ${key} was not found in location ${jobLocation}`)
      }
      for (const row of rowsOf(tableProject, dataset).storage) {
        if (wantedTables.has(`${dataset}.${row.table_id}`)) {
          rows.push([dataset, ...STORAGE_SCHEMA.map((field) => (row as Record<string, unknown>)[field.name])])
        }
      }
    }
    return answerOf([{ name: "dataset_id", type: "STRING" }, ...STORAGE_SCHEMA], rows)
  }

  const invalidQuery = (sql: string) =>
    errorReply(400, `Syntax error: FakeBigQueryServer has no answer arranged for: ${sql.slice(0, 200)}`, "invalidQuery")

  /** One page of a finished job, as jobs.query and jobs.getQueryResults both return it. */
  const resultPage = (
    job: Job,
    kind: string,
    pageToken: string | undefined,
    maxResults: number | undefined,
    int64Timestamps: boolean
  ) => {
    const { answer } = job
    const start = pageToken === undefined ? 0 : Number(pageToken.replace("offset-", ""))
    const size = Math.min(answer.pageSize ?? Number.POSITIVE_INFINITY, maxResults ?? Number.POSITIVE_INFINITY)
    const rows = job.rows.slice(start, start + size)
    const end = start + rows.length
    return {
      kind,
      jobReference: { projectId: job.project, jobId: job.id, location: job.location },
      jobComplete: true,
      schema: { fields: answer.schema },
      totalRows: String(job.rows.length),
      totalBytesProcessed: String(answer.totalBytesProcessed ?? 0),
      // As BigQuery does, only jobs.query replies say what was billed.
      ...(kind === "bigquery#queryResponse" ? { totalBytesBilled: String(billedBy(answer)) } : {}),
      cacheHit: false,
      // BigQuery leaves `rows` out of an empty page.
      ...(rows.length > 0 ? { rows: rows.map((row) => encodeRow(answer.schema, row, int64Timestamps)) } : {}),
      ...(end < job.rows.length ? { pageToken: `offset-${end}` } : {})
    }
  }

  const pending = (job: Job, kind: string) => ({
    kind,
    jobReference: { projectId: job.project, jobId: job.id, location: job.location },
    jobComplete: false
  })

  const serve = (request: RecordedRequest, target: Route): Reply => {
    const project = target.project ?? ""
    const body = (request.body ?? {}) as Record<string, unknown>
    switch (target.kind) {
      case "tables.get": {
        const dataset = datasets.get(`${project}:${target.dataset}`)
        if (dataset === undefined) return errorReply(404, `Not found: Dataset ${project}:${target.dataset}`)
        const table = dataset.get(target.table ?? "")
        if (table === undefined) return errorReply(404, `Not found: Table ${project}:${target.dataset}.${target.table}`)
        return json(200, table)
      }
      case "tables.list": {
        const dataset = datasets.get(`${project}:${target.dataset}`)
        if (dataset === undefined) return errorReply(404, `Not found: Dataset ${project}:${target.dataset}`)
        const names = [...dataset.keys()].sort()
        const limit = Math.min(listPageSize, Number(request.query.maxResults ?? listPageSize))
        const start = request.query.pageToken === undefined ? 0 : names.indexOf(request.query.pageToken)
        if (start < 0) return errorReply(400, `Invalid page token: ${request.query.pageToken}`, "invalid")
        const page = names.slice(start, start + limit)
        const next = names[start + limit]
        return json(200, {
          kind: "bigquery#tableList",
          etag: `"${names.length}"`,
          tables: page.map((name) => {
            const table = dataset.get(name)!
            return { kind: "bigquery#table", id: table.id, tableReference: table.tableReference, type: table.type }
          }),
          totalItems: names.length,
          ...(next !== undefined ? { nextPageToken: next } : {})
        })
      }
      case "datasets.list": {
        const names = [...datasets.keys()]
          .filter((key) => key.startsWith(`${project}:`))
          .map((key) => key.slice(project.length + 1))
          .sort()
        const limit = Math.min(listPageSize, Number(request.query.maxResults ?? listPageSize))
        const start = request.query.pageToken === undefined ? 0 : names.indexOf(request.query.pageToken)
        if (start < 0) return errorReply(400, `Invalid page token: ${request.query.pageToken}`, "invalid")
        const next = names[start + limit]
        return json(200, {
          kind: "bigquery#datasetList",
          etag: `"${names.length}"`,
          datasets: names.slice(start, start + limit).map((dataset) => ({
            kind: "bigquery#dataset",
            id: `${project}:${dataset}`,
            datasetReference: { projectId: project, datasetId: dataset },
            location: locations.get(`${project}:${dataset}`)
          })),
          ...(next !== undefined ? { nextPageToken: next } : {})
        })
      }
      case "jobs.query": {
        const sql = String(body.query ?? "")
        if (body.useLegacySql !== false) {
          return errorReply(400, "FakeBigQueryServer speaks GoogleSQL only: send useLegacySql: false", "invalid")
        }
        const arranged = answerFor(sql)
        const region = arranged === undefined
          ? regionAnswer(project, sql, paramsOf(body), typeof body.location === "string" ? body.location : undefined)
          : undefined
        if (region !== undefined && "status" in region) return region
        const answer = arranged ?? region?.answer
        if (answer === undefined) return invalidQuery(sql)
        const limit = body.maximumBytesBilled === undefined ? undefined : Number(body.maximumBytesBilled)
        const bytes = billedBy(answer)
        if (limit !== undefined && bytes > limit) {
          return errorReply(
            400,
            `Query exceeded limit for bytes billed: ${limit}. ${bytes} or higher required.`,
            "bytesBilledLimitExceeded"
          )
        }
        const rows = region !== undefined
          ? region.rows
          : typeof answer.rows === "function"
          ? answer.rows(paramsOf(body))
          : answer.rows
        const job: Job = {
          id: `job_${++lastJob}`,
          project,
          answer,
          rows,
          location: typeof body.location === "string" ? body.location : "US",
          pollsLeft: answer.pendingPolls ?? 0
        }
        jobs.set(job.id, job)
        const kind = "bigquery#queryResponse"
        if (job.pollsLeft > 0) {
          job.pollsLeft -= 1
          return json(200, pending(job, kind))
        }
        const maxResults = typeof body.maxResults === "number" ? body.maxResults : undefined
        const formatOptions = body.formatOptions as { useInt64Timestamp?: boolean } | undefined
        return json(200, resultPage(job, kind, undefined, maxResults, formatOptions?.useInt64Timestamp === true))
      }
      case "jobs.getQueryResults": {
        const job = jobs.get(target.jobId ?? "")
        const asked = request.query.location
        if (job === undefined || job.project !== project || (asked !== undefined && asked.toLowerCase() !== job.location.toLowerCase())) {
          return errorReply(404, `Not found: Job ${project}:${target.jobId}${asked === undefined ? "" : ` in location ${asked}`}`)
        }
        const kind = "bigquery#getQueryResultsResponse"
        if (job.pollsLeft > 0) {
          job.pollsLeft -= 1
          return json(200, pending(job, kind))
        }
        const maxResults = request.query.maxResults === undefined ? undefined : Number(request.query.maxResults)
        const int64Timestamps = request.query["formatOptions.useInt64Timestamp"] === "true"
        return json(200, resultPage(job, kind, request.query.pageToken, maxResults, int64Timestamps))
      }
      case "jobs.insert": {
        const configuration = (body.configuration ?? {}) as { dryRun?: boolean; query?: { query?: string } }
        if (configuration.dryRun !== true) return errorReply(400, "FakeBigQueryServer runs dry runs only", "invalid")
        const sql = String(configuration.query?.query ?? "")
        const answer = answerFor(sql)
        if (answer === undefined) return invalidQuery(sql)
        const bytes = String(answer.totalBytesProcessed ?? 0)
        return json(200, {
          kind: "bigquery#job",
          configuration: { ...configuration, jobType: "QUERY" },
          jobReference: { projectId: project, location: "US" },
          status: { state: "DONE" },
          statistics: {
            creationTime: String(Date.now()),
            totalBytesProcessed: bytes,
            query: { totalBytesProcessed: bytes, totalBytesBilled: "0", cacheHit: false, statementType: "SELECT", schema: { fields: answer.schema } }
          }
        })
      }
      case "other":
        return errorReply(404, `FakeBigQueryServer does not serve ${request.method} ${request.path}`, "notFound")
    }
  }

  const send = (response: http.ServerResponse, reply: Reply) => {
    response.writeHead(reply.status, {
      "content-type": "application/json; charset=UTF-8",
      "content-length": String(reply.body.length)
    })
    response.end(reply.body)
  }


  const handle = (incoming: http.IncomingMessage, response: http.ServerResponse, raw: Buffer) => {
    const url = new URL(incoming.url ?? "/", "http://127.0.0.1")
    const method = incoming.method ?? "GET"
    const target = route(method, url.pathname)
    const text = raw.toString("utf8")
    const request: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: incoming.headers,
      body: text.length === 0 ? undefined : JSON.parse(text),
      kind: target.kind,
      project: target.project
    }
    requests.push(request)

    const fault = faults.next(request)
    switch (fault?.type) {
      case undefined:
        return send(response, serve(request, target))
      case "status":
        return send(response, errorReply(fault.status, `Injected fault: HTTP ${fault.status}`, fault.reason))
      case "reset":
        return void incoming.socket.destroy()
      case "stall":
        return // closeAllConnections() in close() ends it
      case "malformed":
        return send(response, { status: 200, body: Buffer.from('{"kind": "bigquery#') })
      case "reply":
        return send(response, json(fault.status, fault.body))
      case "raw":
        return send(response, { status: fault.status, body: Buffer.from(fault.text) })
      case "truncated": {
        const reply = serve(request, target)
        response.writeHead(reply.status, {
          "content-type": "application/json; charset=UTF-8",
          "content-length": String(reply.body.length)
        })
        // Cut the connection once half of the announced body is on the wire.
        return void response.write(reply.body.subarray(0, Math.floor(reply.body.length / 2)), () =>
          incoming.socket.destroy())
      }
    }
  }

  const server = http.createServer((incoming, response) => {
    const chunks: Array<Buffer> = []
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
    incoming.on("end", () => {
      try {
        handle(incoming, response, Buffer.concat(chunks))
      } catch (error) {
        send(response, errorReply(400, `FakeBigQueryServer could not serve the request: ${String(error)}`, "invalid"))
      }
    })
  })

  const connections = trackConnections(server)

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        tables,
        queries: {
          answer: (answer) => void answers.push(answer),
          clear: () => void answers.splice(0)
        },
        requests,
        requestsOf: (kind) => requests.filter((r) => r.kind === kind),
        faults: faults.script,
        connections,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}
