/**
 * `BigQueryService` over BigQuery's REST API, through `@google-cloud/bigquery`.
 *
 * The client is used for what it does well — credentials and the endpoint — and every call is one
 * REST request through its `authClient`, its reply read as text and parsed here (the client's own
 * `request` deep-copies replies recursively, and a deeply nested one would crash the process):
 * - Effect owns retrying: no retries below it, so one call here is one HTTP request.
 * - Effect owns paging and polling, so each REST call gets its own deadline (the client has none).
 * - Replies are decoded with schemas, so a malformed reply is a typed `RemoteRejected`; the client's
 *   own job helpers crash the process on some malformed dry-run replies.
 *
 * `getTables` reads up to `TABLES_GET_LIMIT` tables with one free `tables.get` each, and more than
 * that from the dataset's INFORMATION_SCHEMA in three queries (`InformationSchema.ts`), each under
 * the `maximumBytesBilled` cap and the call deadline, so a run's requests grow with its datasets.
 * A table whose INFORMATION_SCHEMA rows cannot be read (a row that does not decode only makes its
 * own table unreadable), and a batch whose queries find no dataset (it is missing, or outside the
 * jobs' `location`), fall back to `tables.get`. Each table of a batch has its own outcome: a
 * `tables.get` that fails is that table's failure alone; only a failing query fails the batch.
 * Every `Table` resource is checked before it is walked (nesting, times within the range of dates).
 *
 * `getTablesByRegion` and `listTablesByRegion` read the datasets of one project and location at once
 * (`metadataRead`): the locations from one `datasets.list` per project (kept ten minutes) or the
 * configured one, then one set of region-qualified INFORMATION_SCHEMA queries per location and
 * up to `REGION_BATCH_TABLES` tables, each under the byte cap, the jobs running in that location.
 * Whatever they cannot read (a failing query, a dataset the region does not show) is left out for
 * the caller to read per dataset; a table whose rows cannot be read is read through `tables.get`.
 *
 * The endpoint is `BIGQUERY_EMULATOR_HOST` when set (`http://host:port` or `host:port`, requests at
 * `/projects/...` as the client sends them for an emulator), else the `apiEndpoint` option
 * (requests at `/bigquery/v2/projects/...`), else Google's. A local endpoint is used without
 * credentials, so nothing is looked up and no metadata server is probed.
 */
import type { BigQuery as BigQueryClient } from "@google-cloud/bigquery"
import * as Config from "effect/Config"
import * as DateTime from "effect/DateTime"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { formatTableRef, type TableRef } from "../../contract/TableId.ts"
import { countQueryBytes } from "../RunCounters.ts"
import { fromGoogleError, type RemoteCallContext } from "../GoogleErrors.ts"
import { RemoteRejected, RemoteTimeout } from "../RemoteErrors.ts"
import { cancelledOnAbort } from "../RequestCancellation.ts"
import {
  type BigQuery,
  type BigQueryError,
  BigQueryService,
  datasetKey,
  type DatasetTables,
  getTablesOneByOne,
  type DryRunResult,
  type TableRead,
  type QueryOptions,
  type QueryResult,
  type TableListing
} from "./BigQueryService.ts"
import {
  DATASETS_PARAMETER,
  informationSchemaQueries,
  QUALIFIED_TABLES_PARAMETER,
  readInformationSchemaTables,
  listingKindOf,
  readRegionInformationSchemaTables,
  regionInformationSchemaQueries,
  regionQualifier,
  regionTableListSql,
  TableListRow,
  TABLE_NAMES_PARAMETER
} from "./InformationSchema.ts"
import { fieldNestingProblem, referenceMismatch, RestTable, tableMetadataFromRest } from "./TableResource.ts"

/**
 * Up to this many tables a getTables batch uses one tables.get each: tables.get is free, while
 * each INFORMATION_SCHEMA query bills at least 10 MB.
 */
export const TABLES_GET_LIMIT = 10

/** How many tables.get calls of one getTables batch are in flight at once. */
const TABLES_GET_CONCURRENCY = 8

/** The default cap on the bytes each INFORMATION_SCHEMA query of getTables may bill: 100 MiB. */
const DEFAULT_METADATA_MAX_BYTES_BILLED = 100 * 1024 ** 2

export interface LiveBigQueryOptions {
  /** The project the client is created for (jobs name their own project). */
  readonly projectId: string
  /** A BigQuery-compatible endpoint such as `http://127.0.0.1:9050`; `BIGQUERY_EMULATOR_HOST` wins over it. */
  readonly apiEndpoint?: string | undefined
  /** Where jobs run (`US`, `EU`, `asia-northeast3`); BigQuery infers it from the tables when absent. */
  readonly location?: string | undefined
  /** The deadline of each REST call (and of the wait for a query job to finish). */
  readonly timeout: Duration.DurationInput
  /** The most bytes each INFORMATION_SCHEMA query of `getTables` may bill (default 100 MiB). */
  readonly maximumBytesBilled?: number | undefined
  /** How `getTablesByRegion` reads (default: `auto` above 3 datasets, locations from `datasets.list`). */
  readonly metadataRead?: MetadataReadOptions | undefined
}

/**
 * When `getTablesByRegion` and `listTablesByRegion` read a region's datasets with one set of
 * region-qualified queries: `dataset` never (each dataset is read by itself), `region` always,
 * `auto` when the region has more than `regionAbove` of the requested datasets (each dataset read
 * by itself costs up to three queries of at least 10 MB each; a region's set costs three in all).
 * Only datasets of more than `TABLES_GET_LIMIT` requested tables are read by region (and counted):
 * smaller ones keep their free `tables.get` reads, which carry declared keys too.
 */
export interface MetadataReadOptions {
  readonly mode: "auto" | "dataset" | "region"
  readonly regionAbove: number
  /**
   * The location of every dataset read (`US`, `asia-northeast3`); absent: each project's
   * `datasets.list` says where its datasets are (one listing per project and run).
   */
  readonly location?: string | undefined
  /**
   * The most tables one set of region queries reads (default `REGION_BATCH_TABLES`): a region with
   * more is read in several sets, whole datasets each, so that no set's rows (one per field of
   * every table) are held at once beyond that.
   */
  readonly batchTables?: number | undefined
}

/** A set of region queries reads at most this many tables (about 100,000 field rows at 50 columns). */
export const REGION_BATCH_TABLES = 2_000

export const DEFAULT_METADATA_READ: MetadataReadOptions = { mode: "auto", regionAbove: 3 }

/** How many sets of region queries run at once. */
const REGION_CONCURRENCY = 2

/**
 * How long a project's dataset locations are kept, so that a run's listing and reading share one
 * `datasets.list` while a long-lived layer (a warm function instance) still sees new datasets.
 */
const LOCATIONS_TTL_MS = 10 * 60_000

// ---------------------------------------------------------------------------------------------
// Replies, as far as MetaSync reads them

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

const Int64String = Schema.Union(Schema.NumberFromString, Schema.Number).pipe(
  Schema.compose(Schema.NonNegativeInt, { strict: false })
)

const TableList = Schema.Struct({
  tables: Schema.optional(
    Schema.Array(Schema.Struct({
      tableReference: Schema.Struct({ tableId: Schema.String }),
      type: Schema.optional(Schema.String)
    }))
  ),
  nextPageToken: Schema.optional(Schema.String)
})

const DatasetList = Schema.Struct({
  datasets: Schema.optional(
    Schema.Array(Schema.Struct({
      datasetReference: Schema.Struct({ datasetId: Schema.String }),
      location: Schema.optional(Schema.String)
    }))
  ),
  nextPageToken: Schema.optional(Schema.String)
})

interface QueryField {
  readonly name: string
  readonly type: string
  readonly mode?: string | undefined
  readonly fields?: ReadonlyArray<QueryField> | undefined
}

const QueryField: Schema.Schema<QueryField> = Schema.Struct({
  name: Schema.String,
  type: Schema.String,
  mode: Schema.optional(Schema.String),
  fields: Schema.optional(Schema.Array(Schema.suspend((): Schema.Schema<QueryField> => QueryField)))
})

const JobReference = Schema.Struct({
  projectId: Schema.String,
  jobId: Schema.String,
  location: Schema.optional(Schema.String)
})
type JobReference = typeof JobReference.Type

/** What jobs.query and jobs.getQueryResults both answer. */
const QueryResponseStruct = Schema.Struct({
  jobReference: Schema.optional(JobReference),
  jobComplete: Schema.Boolean,
  schema: Schema.optional(Schema.Struct({ fields: Schema.optional(Schema.Array(QueryField)) })),
  rows: Schema.optional(Schema.Array(Schema.Struct({ f: Schema.Array(Schema.Struct({ v: Schema.Unknown })) }))),
  pageToken: Schema.optional(Schema.String),
  totalBytesProcessed: Schema.optional(Int64String),
  /** Only jobs.query replies carry it (getQueryResults replies do not). */
  totalBytesBilled: Schema.optional(Int64String)
})
type QueryResponse = typeof QueryResponseStruct.Type

/** The result schema's nesting is checked before the recursive `QueryField` decodes it (and `record` walks it). */
const QueryResponse: Schema.Schema<QueryResponse, unknown> = Schema.Unknown.pipe(
  Schema.filter((u) => {
    const schema = isObject(u) && isObject(u.schema) ? u.schema : undefined
    const problem = fieldNestingProblem(schema?.fields)
    return problem === undefined || { path: ["schema", "fields"], message: problem }
  }),
  Schema.compose(QueryResponseStruct, { strict: false })
)

const ErrorProto = Schema.Struct({ reason: Schema.optional(Schema.String), message: Schema.optional(Schema.String) })

const DryRunJob = Schema.Struct({
  status: Schema.optional(Schema.Struct({ errorResult: Schema.optional(ErrorProto) })),
  statistics: Schema.optional(Schema.Struct({
    totalBytesProcessed: Schema.optional(Int64String),
    query: Schema.optional(Schema.Struct({ totalBytesProcessed: Schema.optional(Int64String) }))
  }))
})

const formatIssues = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`)
    .join("; ")

// ---------------------------------------------------------------------------------------------
// Query rows: BigQuery's `{f:[{v}]}` cells to plain values

class MalformedCell extends Error {}

const INTEGER = /^-?\d+$/

/** Microseconds since the epoch (`formatOptions.useInt64Timestamp`) or float seconds, as ISO-8601. */
const timestampIso = (value: string): string => {
  if (!INTEGER.test(value)) {
    const ms = Number(value) * 1000
    if (!Number.isFinite(ms)) throw new MalformedCell(`"${value}" is not a timestamp`)
    return DateTime.formatIso(DateTime.unsafeMake(Math.round(ms)))
  }
  const micros = BigInt(value)
  let ms = micros / 1000n
  let rest = micros % 1000n
  if (rest < 0n) {
    ms -= 1n
    rest += 1000n
  }
  const iso = DateTime.formatIso(DateTime.unsafeMake(Number(ms)))
  return rest === 0n ? iso : `${iso.slice(0, -1)}${String(rest).padStart(3, "0")}Z`
}

const scalar = (type: string, value: string, path: string): unknown => {
  switch (type) {
    case "INTEGER":
    case "INT64": {
      if (!INTEGER.test(value)) throw new MalformedCell(`${path}: "${value}" is not an integer`)
      const n = Number(value)
      // Beyond 2^53 a number would silently change the value; the exact digits are kept instead.
      return Number.isSafeInteger(n) ? n : value
    }
    case "FLOAT":
    case "FLOAT64": {
      const n = Number(value)
      if (Number.isNaN(n) && value !== "NaN") throw new MalformedCell(`${path}: "${value}" is not a number`)
      return n
    }
    case "BOOLEAN":
    case "BOOL":
      if (value !== "true" && value !== "false") throw new MalformedCell(`${path}: "${value}" is not a boolean`)
      return value === "true"
    case "TIMESTAMP":
      return timestampIso(value)
    default:
      // NUMERIC and BIGNUMERIC stay exact as strings; DATE, TIME, DATETIME, BYTES (base64), JSON,
      // GEOGRAPHY and INTERVAL are already in their canonical text form.
      return value
  }
}

const single = (field: QueryField, value: unknown, path: string): unknown => {
  if (value === null || value === undefined) return null
  const type = field.type.toUpperCase()
  if (type === "RECORD" || type === "STRUCT") {
    if (!isObject(value) || !Array.isArray(value.f)) throw new MalformedCell(`${path}: expected a record {f: [...]}`)
    return record(field.fields ?? [], value.f, path)
  }
  if (typeof value !== "string") throw new MalformedCell(`${path}: expected a string, got ${JSON.stringify(value)}`)
  return scalar(type, value, path)
}

const cell = (field: QueryField, value: unknown, path: string): unknown => {
  if (field.mode?.toUpperCase() !== "REPEATED") return single(field, value, path)
  // BigQuery arrays are never NULL: an empty one may come as null.
  if (value === null || value === undefined) return []
  if (!Array.isArray(value)) throw new MalformedCell(`${path}: expected an array for a REPEATED field`)
  return value.map((item: unknown, i) => {
    if (!isObject(item)) throw new MalformedCell(`${path}[${i}]: expected {v: ...}`)
    return single(field, item.v, `${path}[${i}]`)
  })
}

const record = (fields: ReadonlyArray<QueryField>, cells: ReadonlyArray<unknown>, path: string) => {
  if (cells.length !== fields.length) {
    throw new MalformedCell(`${path || "row"}: ${cells.length} values for ${fields.length} fields`)
  }
  const out: Record<string, unknown> = {}
  fields.forEach((field, i) => {
    const value = cells[i]
    out[field.name] = cell(field, isObject(value) ? value.v : value, path === "" ? field.name : `${path}.${field.name}`)
  })
  return out
}

type ScalarParameter = string | number | boolean
/** What a query parameter may hold here: the service's scalars, and lists of names. */
type QueryParameterValue = ScalarParameter | ReadonlyArray<string>

const scalarType = (value: ScalarParameter) =>
  typeof value === "string"
    ? "STRING"
    : typeof value === "boolean"
    ? "BOOL"
    : Number.isInteger(value)
    ? "INT64"
    : "FLOAT64"

const queryParameter = (name: string, value: QueryParameterValue) =>
  typeof value === "object"
    ? {
      name,
      parameterType: { type: "ARRAY", arrayType: { type: "STRING" } },
      parameterValue: { arrayValues: value.map((item) => ({ value: item })) }
    }
    : { name, parameterType: { type: scalarType(value) }, parameterValue: { value: String(value) } }

// ---------------------------------------------------------------------------------------------
// The endpoint

interface LocalEndpoint {
  readonly apiEndpoint: string
  /** What the client prefixes to `/projects/...`. */
  readonly baseUrl: string
}

const trimSlashes = (url: string) => url.replace(/\/+$/, "")

/** A name as one segment of a request path; `:` stays as it is (domain-scoped projects), as the client sends it. */
const pathSegment = (name: string) => encodeURIComponent(name).replace(/%3A/gi, ":")

/** How much of an error reply that is not JSON (an HTML page from a proxy) its error message keeps. */
const REPLY_TEXT_IN_MESSAGE = 1_000

/**
 * The client itself would use `BIGQUERY_EMULATOR_HOST` verbatim as its base URL (a bare
 * `host:port` then yields unusable URLs) and still look up credentials; both are settled here.
 */
const localEndpoint = (
  emulatorHost: string | undefined,
  apiEndpoint: string | undefined
): LocalEndpoint | undefined => {
  if (emulatorHost !== undefined) {
    const url = trimSlashes(/^https?:\/\//i.test(emulatorHost) ? emulatorHost : `http://${emulatorHost}`)
    return { apiEndpoint: url, baseUrl: url }
  }
  if (apiEndpoint !== undefined) {
    const url = trimSlashes(/^https?:\/\//i.test(apiEndpoint) ? apiEndpoint : `https://${apiEndpoint}`)
    return { apiEndpoint: url, baseUrl: `${url}/bigquery/v2` }
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// The layer

interface RestCall {
  readonly operation: string
  /** A table id, `project.dataset` or a project: what the errors name. */
  readonly resource: string
  readonly project: string
  readonly method: "GET" | "POST"
  /** Relative to `/projects/{project}`, its segments encoded (`pathSegment`). */
  readonly uri: string
  readonly qs?: Readonly<Record<string, string | number | boolean>>
  readonly json?: unknown
}

const make = (options: LiveBigQueryOptions): Effect.Effect<BigQuery> =>
  Effect.gen(function*() {
    const emulatorHost = yield* Config.option(Config.string("BIGQUERY_EMULATOR_HOST")).pipe(
      Effect.map(Option.filter((host) => host.trim() !== "")),
      Effect.orDie
    )
    const endpoint = localEndpoint(Option.getOrUndefined(emulatorHost), options.apiEndpoint)
    const timeoutMs = Duration.toMillis(Duration.decode(options.timeout))
    // How long BigQuery may hold a jobs.query or getQueryResults call open waiting for the job.
    const serverWaitMs = Math.max(1, Math.min(10_000, Math.floor(timeoutMs / 2)))

    // Loaded here, not at the top, so that modules needing only the service tag stay light.
    const { BigQuery: Client } = yield* Effect.promise(() => import("@google-cloud/bigquery"))
    const { PassThroughClient } = yield* Effect.promise(() => import("google-auth-library"))

    const client: BigQueryClient = new Client({
      projectId: options.projectId,
      ...(options.location === undefined ? {} : { location: options.location }),
      // Retries belong to the caller's Effect schedule; the legacy top-level flags must stay unset.
      retryOptions: { autoRetry: false },
      ...(endpoint === undefined ? {} : { apiEndpoint: endpoint.apiEndpoint, authClient: new PassThroughClient() })
    })
    if (endpoint !== undefined) client.baseUrl = endpoint.baseUrl

    const contextOf = (call: Pick<RestCall, "operation" | "resource">): RemoteCallContext => ({
      service: "bigquery",
      operation: call.operation,
      resource: call.resource
    })

    const toBigQueryError = (context: RemoteCallContext, error: unknown): BigQueryError => {
      const mapped = fromGoogleError(context, error)
      // No BigQuery read carries a generation precondition; a 412 is a plain refusal here.
      return mapped._tag === "PreconditionFailed"
        ? new RemoteRejected({ ...context, status: 412, reason: "conditionNotMet", message: mapped.message })
        : mapped
    }

    const malformed = (call: Pick<RestCall, "operation" | "resource">, problem: string) =>
      new RemoteRejected({
        ...contextOf(call),
        status: null,
        reason: "malformedResponse",
        message: `BigQuery ${call.operation} on ${call.resource} answered with a reply MetaSync cannot read: ${problem}`
      })

    const withDeadline = (call: Pick<RestCall, "operation" | "resource">) =>
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () => new RemoteTimeout({ ...contextOf(call), timeout_ms: timeoutMs, attempts: 1 })
      })

    /**
     * One HTTP request, its reply decoded with `schema`; no deadline (callers set it). When the
     * deadline or an interruption cuts it, the request is cancelled and its socket closed.
     *
     * The request goes out through the client's own credentials (`authClient`: the project's
     * credentials, or none for a local endpoint) to the client's base URL, and its body comes back
     * as text that is parsed here: the client's `request` deep-copies every parsed reply with a
     * recursive `extend`, which overflows the stack — uncaught, in its callback — on a reply nested
     * a few thousand levels deep. `JSON.parse` does not recurse, and the schemas then refuse what is
     * nested deeper than BigQuery allows before anything walks it.
     */
    const send = <A, I>(call: RestCall, schema: Schema.Schema<A, I>): Effect.Effect<A, BigQueryError> =>
      Effect.tryPromise({
        try: (signal) =>
          cancelledOnAbort(signal, () =>
            client.authClient.request<string>({
              method: call.method,
              url: `${client.baseUrl}/projects/${pathSegment(call.project)}${call.uri}`,
              ...(call.qs === undefined ? {} : { params: call.qs }),
              ...(call.json === undefined ? {} : { data: call.json }),
              responseType: "text",
              // Every status is read here, as the client would read it; retrying belongs to the caller.
              validateStatus: () => true,
              retry: false,
              signal
            })),
        catch: (error) => toBigQueryError(contextOf(call), error)
      }).pipe(
        Effect.flatMap((response) => replyBody(call, response.status, response.statusText, response.data)),
        Effect.flatMap((body) =>
          Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })(body).pipe(
            Effect.mapError((error) => malformed(call, formatIssues(error)))
          )
        )
      )

    /**
     * What a reply says, as the client would read it: a 2xx JSON object is the body, unless it
     * carries an `error`; an error reply becomes the client's `ApiError` shape (its `error.code`,
     * `error.message` and `error.errors`, else the status and the reply's text).
     */
    const replyBody = (
      call: RestCall,
      status: number,
      statusText: string,
      text: unknown
    ): Effect.Effect<unknown, BigQueryError> => {
      const raw = typeof text === "string" ? text : ""
      const parsed = Either.try(() => JSON.parse(raw) as unknown)
      const error = Either.isRight(parsed) && isObject(parsed.right) && isObject(parsed.right.error)
        ? parsed.right.error
        : undefined
      if (status >= 200 && status <= 299 && error === undefined) {
        if (Either.isLeft(parsed)) {
          const problem = parsed.left instanceof Error ? parsed.left.message : String(parsed.left)
          return Effect.fail(malformed(call, `the body is not valid JSON (${problem})`))
        }
        if (!isObject(parsed.right)) {
          return Effect.fail(malformed(call, `not a JSON object: ${raw.slice(0, 120)}`))
        }
        return Effect.succeed(parsed.right)
      }
      const errors = error !== undefined && Array.isArray(error.errors) ? error.errors.filter(isObject) : []
      const messages = [
        ...new Set(
          [error?.message, ...errors.map((e) => e.message)].filter((m): m is string => typeof m === "string" && m !== "")
        )
      ]
      const message = messages.length > 0
        ? messages.join("; ")
        : [statusText, Either.isLeft(parsed) ? raw.trim().slice(0, REPLY_TEXT_IN_MESSAGE) : ""].filter((m) => m !== "")
          .join(": ") || `HTTP ${status}`
      return Effect.fail(toBigQueryError(contextOf(call), {
        code: typeof error?.code === "number" ? error.code : status,
        errors,
        message
      }))
    }

    const getTable = Effect.fn("LiveBigQuery.getTable")(function*(ref: TableRef) {
      const call: RestCall = {
        operation: "tables.get",
        resource: formatTableRef(ref),
        project: ref.project,
        method: "GET",
        uri: `/datasets/${pathSegment(ref.dataset)}/tables/${pathSegment(ref.table)}`
      }
      const table = yield* send(call, RestTable).pipe(withDeadline(call))
      const mismatch = referenceMismatch(ref, table)
      if (mismatch !== undefined) return yield* Effect.fail(malformed(call, mismatch))
      return tableMetadataFromRest(ref, table, yield* DateTime.now)
    })

    const listTables = Effect.fn("LiveBigQuery.listTables")(function*(project: string, dataset: string) {
      const listings: Array<TableListing> = []
      const seen = new Set<string>()
      let pageToken: string | undefined
      do {
        const call: RestCall = {
          operation: "tables.list",
          resource: `${project}.${dataset}`,
          project,
          method: "GET",
          uri: `/datasets/${pathSegment(dataset)}/tables`,
          qs: pageToken === undefined ? { maxResults: 1000 } : { maxResults: 1000, pageToken }
        }
        const page = yield* send(call, TableList).pipe(withDeadline(call))
        for (const table of page.tables ?? []) {
          listings.push({ table: table.tableReference.tableId, kind: table.type ?? "TABLE" })
        }
        pageToken = page.nextPageToken
        if (pageToken !== undefined && seen.has(pageToken)) {
          return yield* Effect.fail(malformed(call, `page token ${pageToken} came back twice`))
        }
        if (pageToken !== undefined) seen.add(pageToken)
      } while (pageToken !== undefined)
      return listings
    })

    /** `query`, with list parameters and the resource errors name (the job's project by default). */
    const runQuery = Effect.fn("LiveBigQuery.query")(function*(
      project: string,
      sql: string,
      queryOptions: {
        readonly maximumBytesBilled: number
        readonly params?: Readonly<Record<string, QueryParameterValue>> | undefined
        readonly resource?: string | undefined
        /** Where the job runs, when not the layer's `location` (a region-qualified query runs in its region). */
        readonly location?: string | undefined
      }
    ) {
      const resource = queryOptions.resource ?? project
      const location = queryOptions.location ?? options.location
      const start: RestCall = {
        operation: "jobs.query",
        resource,
        project,
        method: "POST",
        uri: "/queries",
        json: {
          query: sql,
          useLegacySql: false,
          maximumBytesBilled: BigInt(Math.trunc(queryOptions.maximumBytesBilled)).toString(),
          formatOptions: { useInt64Timestamp: true },
          timeoutMs: serverWaitMs,
          ...(location === undefined ? {} : { location }),
          ...(queryOptions.params === undefined ? {} : {
            parameterMode: "NAMED",
            queryParameters: Object.entries(queryOptions.params).map(([name, value]) => queryParameter(name, value))
          })
        }
      }
      const resultsCall = (job: JobReference, pageToken: string | undefined): RestCall => ({
        operation: "jobs.getQueryResults",
        resource,
        project,
        method: "GET",
        uri: `/queries/${pathSegment(job.jobId)}`,
        qs: {
          timeoutMs: serverWaitMs,
          "formatOptions.useInt64Timestamp": true,
          ...(job.location ?? location) === undefined ? {} : { location: job.location ?? location! },
          ...(pageToken === undefined ? {} : { pageToken })
        }
      })
      const jobOf = (call: RestCall, response: QueryResponse) =>
        response.jobReference === undefined
          ? Effect.fail(malformed(call, "more results to fetch but no jobReference"))
          : Effect.succeed(response.jobReference)

      // Waiting for the job, however many polls it takes, shares one deadline.
      let totalBytesBilled: number | undefined
      const first = yield* Effect.gen(function*() {
        let response = yield* send(start, QueryResponse)
        totalBytesBilled = response.totalBytesBilled
        while (!response.jobComplete) {
          const call = resultsCall(yield* jobOf(start, response), undefined)
          response = yield* send(call, QueryResponse)
        }
        return response
      }).pipe(withDeadline(start))

      const fields = first.schema?.fields ?? []
      const decodeRows = (call: RestCall, response: QueryResponse) =>
        Effect.try({
          try: () => (response.rows ?? []).map((row) => record(fields, row.f, "")),
          catch: (error) => malformed(call, error instanceof Error ? error.message : String(error))
        })

      const rows = [...yield* decodeRows(start, first)]
      const seen = new Set<string>()
      let pageToken = first.pageToken
      while (pageToken !== undefined) {
        if (seen.has(pageToken)) return yield* Effect.fail(malformed(start, `page token ${pageToken} came back twice`))
        seen.add(pageToken)
        const call = resultsCall(yield* jobOf(start, first), pageToken)
        const page = yield* send(call, QueryResponse).pipe(withDeadline(call))
        if (!page.jobComplete) return yield* Effect.fail(malformed(call, "a page of a finished job says jobComplete: false"))
        rows.push(...yield* decodeRows(call, page))
        pageToken = page.pageToken
      }
      const result = {
        rows,
        totalBytesProcessed: first.totalBytesProcessed ?? 0,
        ...(totalBytesBilled === undefined ? {} : { totalBytesBilled })
      } satisfies QueryResult
      yield* countQueryBytes(result)
      return result
    })

    const query = (project: string, sql: string, queryOptions: QueryOptions) => runQuery(project, sql, queryOptions)

    /** One tables.get per table, each with its own outcome; the ones that do not exist are left out. */
    const getEach = (project: string, dataset: string, tables: ReadonlyArray<string>) =>
      Effect.map(
        getTablesOneByOne(getTable, project, dataset, tables, TABLES_GET_CONCURRENCY),
        (reads) => [...reads]
      )

    const readInformationSchema = Effect.fn("LiveBigQuery.readInformationSchema")(function*(
      project: string,
      dataset: string,
      tables: ReadonlyArray<string>
    ) {
      const resource = `${project}.${dataset}`
      const sql = informationSchemaQueries(project, dataset)
      // Jobs run (and are billed) in the configured project; they address the dataset by name.
      const run = (text: string) =>
        runQuery(options.projectId, text, {
          maximumBytesBilled: options.maximumBytesBilled ?? DEFAULT_METADATA_MAX_BYTES_BILLED,
          params: { [TABLE_NAMES_PARAMETER]: tables },
          resource
        })
      const results = yield* Effect.all([run(sql.tables), run(sql.columns), run(sql.storage)], {
        concurrency: "unbounded"
      }).pipe(
        Effect.map(Option.some),
        // A 404 means the dataset does not exist, or is not in the layer's `location` (where the
        // jobs run): tables.get, which has no location, tells which tables exist.
        Effect.catchIf(
          (error) => error._tag === "ResourceNotFound" && error.operation === "jobs.query",
          () => Effect.succeed(Option.none())
        )
      )
      if (Option.isNone(results)) return yield* getEach(project, dataset, tables)
      const [tablesResult, columnsResult, storageResult] = results.value
      yield* Effect.annotateCurrentSpan(
        "bytes_billed",
        [tablesResult, columnsResult, storageResult].reduce((sum, result) => sum + (result.totalBytesBilled ?? 0), 0)
      )
      const { found, unreadable } = yield* Either.mapLeft(
        readInformationSchemaTables(
          project,
          dataset,
          tables,
          { tables: tablesResult.rows, columns: columnsResult.rows, storage: storageResult.rows },
          yield* DateTime.now
        ),
        (problem) => malformed({ operation: "jobs.query", resource }, `INFORMATION_SCHEMA rows: ${problem}`)
      )
      const read = [...found].map(([table, metadata]): readonly [string, TableRead] => [table, Either.right(metadata)])
      if (unreadable.size === 0) return read
      yield* Effect.logWarning("reading tables through tables.get: their INFORMATION_SCHEMA rows are unreadable").pipe(
        Effect.annotateLogs({ dataset: resource, tables: Object.fromEntries(unreadable) })
      )
      return [...read, ...yield* getEach(project, dataset, [...unreadable.keys()])]
    })

    const getTables = Effect.fn("LiveBigQuery.getTables")(function*(
      project: string,
      dataset: string,
      tables: ReadonlyArray<string>
    ) {
      const distinct = [...new Set(tables)]
      const found = distinct.length <= TABLES_GET_LIMIT
        ? yield* getEach(project, dataset, distinct)
        : yield* readInformationSchema(project, dataset, distinct)
      return new Map(found) as ReadonlyMap<string, TableRead>
    })

    const metadataRead = options.metadataRead ?? DEFAULT_METADATA_READ

    /** Where each dataset of `project` is (`datasets.list`, all pages, hidden datasets included). */
    const fetchDatasetLocations = Effect.fn("LiveBigQuery.listDatasetLocations")(function*(project: string) {
      const locations = new Map<string, string>()
      const seen = new Set<string>()
      let pageToken: string | undefined
      do {
        const call: RestCall = {
          operation: "datasets.list",
          resource: project,
          project,
          method: "GET",
          uri: "/datasets",
          qs: { all: true, maxResults: 1000, ...(pageToken === undefined ? {} : { pageToken }) }
        }
        const page = yield* send(call, DatasetList).pipe(withDeadline(call))
        for (const dataset of page.datasets ?? []) {
          if (dataset.location !== undefined) locations.set(dataset.datasetReference.datasetId, dataset.location)
        }
        pageToken = page.nextPageToken
        if (pageToken !== undefined && seen.has(pageToken)) {
          return yield* Effect.fail(malformed(call, `page token ${pageToken} came back twice`))
        }
        if (pageToken !== undefined) seen.add(pageToken)
      } while (pageToken !== undefined)
      return locations as ReadonlyMap<string, string>
    })

    const knownLocations = new Map<string, { readonly at: number; readonly locations: ReadonlyMap<string, string> }>()
    /** `fetchDatasetLocations`, kept `LOCATIONS_TTL_MS` per project. */
    const listDatasetLocations = (project: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const known = knownLocations.get(project)
        if (known !== undefined && now - known.at < LOCATIONS_TTL_MS) return known.locations
        const locations = yield* fetchDatasetLocations(project)
        knownLocations.set(project, { at: now, locations })
        return locations
      })

    interface Region<D> {
      readonly project: string
      readonly location: string
      readonly datasets: ReadonlyArray<D>
      /** Whether `datasets.list` placed every dataset there (else the configured location is assumed). */
      readonly listed: boolean
    }

    /**
     * The requested datasets grouped by project and location, keeping only the regions worth
     * reading at once. A project whose locations cannot be listed is left out (logged).
     */
    const regionsOf = <D extends { readonly project: string; readonly dataset: string }>(requests: ReadonlyArray<D>) =>
      Effect.gen(function*() {
        const worthIt = (datasets: number) => metadataRead.mode === "region" || datasets > metadataRead.regionAbove
        const byProject = new Map<string, Map<string, D>>()
        for (const request of requests) {
          const datasets = byProject.get(request.project) ?? new Map<string, D>()
          byProject.set(request.project, datasets)
          datasets.set(request.dataset, request)
        }
        const regions: Array<Region<D>> = []
        if (metadataRead.mode === "dataset") return regions
        for (const [project, datasets] of byProject) {
          // No region of the project can hold more datasets than the project has here.
          if (!worthIt(datasets.size)) continue
          let locations: ReadonlyMap<string, string>
          const listed = metadataRead.location === undefined
          if (!listed) {
            locations = new Map([...datasets.keys()].map((dataset) => [dataset, metadataRead.location!]))
          } else {
            const found = yield* Effect.either(listDatasetLocations(project))
            if (Either.isLeft(found)) {
              yield* Effect.logWarning(
                `reading the datasets of ${project} one by one: their locations are unknown (datasets.list failed: ${found.left.message})`
              ).pipe(Effect.annotateLogs({ project, error: found.left._tag }))
              continue
            }
            locations = found.right
          }
          const byLocation = new Map<string, { location: string; datasets: Array<D> }>()
          for (const [dataset, request] of datasets) {
            const location = locations.get(dataset)
            // Not listed: missing, or not visible to the caller; read by itself, it fails or is found as it is.
            if (location === undefined) continue
            const group = byLocation.get(location.toLowerCase()) ?? { location, datasets: [] }
            byLocation.set(location.toLowerCase(), group)
            group.datasets.push(request)
          }
          for (const group of byLocation.values()) {
            if (worthIt(group.datasets.length)) regions.push({ project, listed, ...group })
          }
        }
        return regions
      })

    /**
     * The datasets of one project and location in three region-qualified queries (`InformationSchema.ts`),
     * each under the byte cap and the deadline, the jobs running in that location. A table whose
     * rows cannot be read is read through its own tables.get; a dataset the region does not show
     * is left out, for the caller to read by itself. Fails when a query fails.
     */
    const readRegion = Effect.fn("LiveBigQuery.readRegion")(function*(
      project: string,
      location: string,
      datasets: ReadonlyArray<DatasetTables>
    ) {
      const resource = `${project}.${regionQualifier(location)}`
      const names = datasets.map((d) => d.dataset)
      const sql = regionInformationSchemaQueries(project, location, names)
      const params = {
        [DATASETS_PARAMETER]: names,
        [QUALIFIED_TABLES_PARAMETER]: datasets.flatMap((d) => d.tables.map((table) => `${d.dataset}.${table}`))
      }
      const run = (text: string) =>
        runQuery(options.projectId, text, {
          maximumBytesBilled: options.maximumBytesBilled ?? DEFAULT_METADATA_MAX_BYTES_BILLED,
          params,
          resource,
          location
        })
      const [tablesResult, columnsResult, storageResult] = yield* Effect.all(
        [run(sql.tables), run(sql.columns), run(sql.storage)],
        { concurrency: "unbounded" }
      )
      yield* Effect.annotateCurrentSpan(
        "bytes_billed",
        [tablesResult, columnsResult, storageResult].reduce((sum, result) => sum + (result.totalBytesBilled ?? 0), 0)
      )
      const read = yield* Either.mapLeft(
        readRegionInformationSchemaTables(
          project,
          new Map(datasets.map((d) => [d.dataset, d.tables])),
          { tables: tablesResult.rows, columns: columnsResult.rows, storage: storageResult.rows },
          yield* DateTime.now
        ),
        (problem) => malformed({ operation: "jobs.query", resource }, `INFORMATION_SCHEMA rows: ${problem}`)
      )
      const out = new Map<string, ReadonlyMap<string, TableRead>>()
      yield* Effect.forEach([...read], ([dataset, { found, unreadable }]) =>
        Effect.gen(function*() {
          const reads: Array<readonly [string, TableRead]> = [...found].map(([table, metadata]) => [table, Either.right(metadata)])
          if (unreadable.size > 0) {
            yield* Effect.logWarning("reading tables through tables.get: their INFORMATION_SCHEMA rows are unreadable").pipe(
              Effect.annotateLogs({ dataset: `${project}.${dataset}`, tables: Object.fromEntries(unreadable) })
            )
            reads.push(...yield* getEach(project, dataset, [...unreadable.keys()]))
          }
          out.set(datasetKey({ project, dataset }), new Map(reads))
        }), { concurrency: TABLES_GET_CONCURRENCY })
      return out
    })

    const getTablesByRegion = Effect.fn("LiveBigQuery.getTablesByRegion")(function*(
      requests: ReadonlyArray<DatasetTables>
    ) {
      const out = new Map<string, ReadonlyMap<string, TableRead>>()
      const merged = new Map<string, { project: string; dataset: string; tables: Set<string> }>()
      for (const { dataset, project, tables } of requests) {
        if (tables.length === 0) continue
        const entry = merged.get(datasetKey({ project, dataset })) ?? { project, dataset, tables: new Set<string>() }
        merged.set(datasetKey({ project, dataset }), entry)
        for (const table of tables) entry.tables.add(table)
      }
      // A dataset of at most TABLES_GET_LIMIT tables keeps its free tables.get reads, which also
      // carry its declared keys (the relationships step queries keys only for larger datasets).
      const batched = [...merged.values()].filter((d) => d.tables.size > TABLES_GET_LIMIT)
      const limit = Math.max(1, metadataRead.batchTables ?? REGION_BATCH_TABLES)
      const sets: Array<{ project: string; location: string; datasets: Array<DatasetTables> }> = []
      for (const { datasets, location, project } of yield* regionsOf(batched)) {
        let set: Array<DatasetTables> = []
        let size = 0
        for (const dataset of datasets) {
          if (set.length > 0 && size + dataset.tables.size > limit) {
            sets.push({ project, location, datasets: set })
            set = []
            size = 0
          }
          set.push({ ...dataset, tables: [...dataset.tables] })
          size += dataset.tables.size
        }
        if (set.length > 0) sets.push({ project, location, datasets: set })
      }
      yield* Effect.forEach(sets, ({ datasets, location, project }) =>
        readRegion(project, location, datasets).pipe(
          Effect.tap((read) => {
            for (const [key, reads] of read) out.set(key, reads)
          }),
          Effect.catchAll((error) =>
            Effect.logWarning(
              `reading the ${datasets.length} datasets of ${project} in ${location} one by one: the region's INFORMATION_SCHEMA queries failed: ${error.message}`
            ).pipe(Effect.annotateLogs({ project, location, error: error._tag }))
          )
        ), { concurrency: REGION_CONCURRENCY, discard: true })
      return out as ReadonlyMap<string, ReadonlyMap<string, TableRead>>
    })

    const decodeListRow = Schema.decodeUnknownEither(TableListRow, { onExcessProperty: "ignore" })

    const listTablesByRegion = Effect.fn("LiveBigQuery.listTablesByRegion")(function*(
      requests: ReadonlyArray<{ readonly project: string; readonly dataset: string }>
    ) {
      const out = new Map<string, ReadonlyArray<TableListing>>()
      const regions = yield* regionsOf(requests)
      yield* Effect.forEach(regions, ({ datasets, listed, location, project }) =>
        Effect.gen(function*() {
          const resource = `${project}.${regionQualifier(location)}`
          const names = datasets.map((d) => d.dataset)
          const result = yield* runQuery(options.projectId, regionTableListSql(project, location), {
            maximumBytesBilled: options.maximumBytesBilled ?? DEFAULT_METADATA_MAX_BYTES_BILLED,
            params: { [DATASETS_PARAMETER]: names },
            resource,
            location
          })
          const byDataset = new Map<string, Array<TableListing>>(names.map((name) => [name, []]))
          for (const [index, row] of result.rows.entries()) {
            const decoded = decodeListRow(row)
            if (Either.isLeft(decoded)) {
              return yield* Effect.fail(malformed({ operation: "jobs.query", resource }, `INFORMATION_SCHEMA.TABLES row ${index}: ${formatIssues(decoded.left)}`))
            }
            byDataset.get(decoded.right.table_schema)?.push({
              table: decoded.right.table_name,
              kind: listingKindOf(decoded.right.table_type)
            })
          }
          for (const [dataset, tables] of byDataset) {
            // An empty answer is an empty dataset only where datasets.list placed it in this region.
            if (tables.length === 0 && !listed) continue
            out.set(
              datasetKey({ project, dataset }),
              tables.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))
            )
          }
        }).pipe(
          Effect.catchAll((error) =>
            Effect.logWarning(
              `listing the ${datasets.length} datasets of ${project} in ${location} one by one: the region's INFORMATION_SCHEMA.TABLES query failed: ${error.message}`
            ).pipe(Effect.annotateLogs({ project, location, error: error._tag }))
          )
        ), { concurrency: REGION_CONCURRENCY, discard: true })
      return out as ReadonlyMap<string, ReadonlyArray<TableListing>>
    })

    const dryRun = Effect.fn("LiveBigQuery.dryRun")(function*(project: string, sql: string) {
      const call: RestCall = {
        operation: "jobs.insert",
        resource: project,
        project,
        method: "POST",
        uri: "/jobs",
        json: {
          configuration: { query: { query: sql, useLegacySql: false }, dryRun: true },
          jobReference: { projectId: project, ...(options.location === undefined ? {} : { location: options.location }) }
        }
      }
      const job = yield* send(call, DryRunJob).pipe(withDeadline(call))
      const failure = job.status?.errorResult
      if (failure !== undefined) {
        return yield* Effect.fail(toBigQueryError(contextOf(call), {
          message: failure.message ?? `the dry run failed (${failure.reason ?? "no reason given"})`,
          errors: [failure]
        }))
      }
      const bytes = job.statistics?.query?.totalBytesProcessed ?? job.statistics?.totalBytesProcessed
      if (bytes === undefined) return yield* Effect.fail(malformed(call, "no statistics.totalBytesProcessed"))
      return { totalBytesProcessed: bytes } satisfies DryRunResult
    })

    return BigQueryService.of(
      { getTable, getTables, getTablesByRegion, listTables, listTablesByRegion, query, dryRun } satisfies BigQuery
    )
  })

export const LiveBigQuery = {
  /** The service itself. Construction loads the Google client; it needs no credentials for a local endpoint. */
  make,
  layer: (options: LiveBigQueryOptions): Layer.Layer<BigQueryService> => Layer.effect(BigQueryService, make(options))
} as const
