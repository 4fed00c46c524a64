/**
 * Column profiles: null fraction, approximate distinct count, top values of low-cardinality
 * strings and the range of numbers and dates, read from a cost-capped sample of one table.
 *
 * Cost: every query names its columns (never `SELECT *`), carries `maximumBytesBilled`, and reads
 * a `TABLESAMPLE SYSTEM` sample sized from the table's `size_bytes` so the profile's queries
 * together stay under the cap. A table too big for even a 0.1 % sample is not queried at all.
 *
 * Privacy: a column with a policy tag, or with a path segment that matches the sensitive-name
 * pattern, is never named in any query; the profile lists it as skipped, with the reason.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { type Field, flattenFields, isRecord } from "../contract/Field.ts"
import type { ColumnProfile, ProfileBound, SkippedColumn, TableProfile, TopValue } from "../contract/Profile.ts"
import { tableRefOf } from "../contract/TableId.ts"
import { type BigQueryError, BigQueryService, type QueryResult } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { RemoteRejected } from "../services/RemoteErrors.ts"
import { quoteFieldPath, quoteIdentifier, quoteTablePath } from "../sql/Identifiers.ts"

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/** Words that make a column name personal data, each matched as a whole word of a path segment. */
const SENSITIVE_WORDS = [
  "e_?mails?",
  "(?:tele|cell)?phones?(?:_?(?:number|num|no))?",
  "mobile_?(?:number|num|no)",
  "msisdn",
  "ssn",
  "social_?security(?:_?(?:number|no))?",
  "national_?id",
  "tax_?id",
  // A person's name: `name` itself and `<x>_name`, unless <x> says the name is of a thing.
  "(?<!(?:event|item|brand|model|marketing|list|promotion|creative|campaign|product|category|file|table|column|field|host|domain|app|page|screen|browser|os|device|city|country|region|state|store|shop|company|business|organization|org|team|project|dataset|metric|dimension|feature|plan|service|medium|channel|platform|tag|label|key|param|parameter|property|class|type|group|role|status|step|stage|experiment|variant|job|task|queue|topic|bucket|bundle|package|library|language|locale|currency|unit|color|colour|size|sku|merchant|department|site|website|template|workflow|pipeline|version|release|game|level)_)names?",
  "(?:user|full|first|last|middle|given|family|maiden|nick|display|sur|real|legal|contact|customer)names?",
  "addr(?:ess(?:es)?)?",
  "street",
  "zip(?:_?code)?",
  "post(?:al)?_?code",
  "birth(?:day|date|_?place|_?year)?s?",
  "dob",
  "passports?(?:_?(?:number|num|no))?",
  "driver_?licen[cs]e",
  "licen[cs]e_?(?:number|num|no)",
  "(?:credit_?)?cards?(?:_?(?:number|num|no|holder))?",
  "cvv",
  "cvc",
  "iban",
  "account_?(?:number|num|no)",
  "ip(?:v[46])?(?:_?addr(?:ess)?)?",
  "latitude",
  "longitude",
  "advertising_?id",
  "idfa",
  "idfv",
  "gaid",
  "passw(?:or)?d",
  "secret"
]

/**
 * The default sensitive-name pattern: any of the words above, case-insensitive, standing as a
 * word of the segment (delimited by the segment's ends, digits, `_` or other non-letters), so
 * `user_phone` and `customer_name` match while `shipping` (for `ip`) and `event_name` do not.
 * camelCase segments are also tried with `_` at each hump (`userEmail` → `user_Email`).
 */
export const DEFAULT_SENSITIVE_NAME_PATTERN: RegExp = new RegExp(
  `(?<![a-z])(?:${SENSITIVE_WORDS.join("|")})(?![a-z])`,
  "i"
)

/** How the profile of one table is taken. Everything but the cap has a default. */
export interface ProfileSettings {
  /** The most bytes the whole profile may bill (every query carries what is left of it). */
  readonly maximumBytesBilled: number
  /**
   * The `TABLESAMPLE SYSTEM` percentage. By default the largest that keeps the scan under the cap
   * (the whole table when it fits); a given value is lowered when it would not fit.
   */
  readonly samplePercent?: number
  /** Top values are taken for STRING columns with at most this many distinct values (100). */
  readonly topValuesMaxDistinct?: number
  /** … and at least this many (2). */
  readonly topValuesMinDistinct?: number
  /** How many top values are kept per column (10). */
  readonly topValuesLimit?: number
  /** Tested against each segment of a column's path (default: `DEFAULT_SENSITIVE_NAME_PATTERN`). */
  readonly sensitiveNamePattern?: RegExp
  /** Days of recent partitions read from a table that requires a partition filter (30). */
  readonly partitionWindowDays?: number
}

/** `ProfileSettings` with every default filled in; `samplePercent` stays unset when not given. */
export interface ResolvedProfileSettings {
  readonly maximumBytesBilled: number
  readonly samplePercent: number | undefined
  readonly topValuesMaxDistinct: number
  readonly topValuesMinDistinct: number
  readonly topValuesLimit: number
  readonly sensitiveNamePattern: RegExp
  readonly partitionWindowDays: number
}

export const PROFILE_DEFAULTS = {
  topValuesMaxDistinct: 100,
  topValuesMinDistinct: 2,
  topValuesLimit: 10,
  sensitiveNamePattern: DEFAULT_SENSITIVE_NAME_PATTERN,
  partitionWindowDays: 30
} as const

/** The smallest sample the profile lowers itself to before giving up as over budget. */
export const MIN_SAMPLE_PERCENT = 0.1

/** BigQuery bills at least 10 MiB per query (on-demand); a smaller cap refuses every query. */
export const MIN_BILLED_BYTES = 10 * 1024 * 1024

const positive = (value: number | undefined): number | undefined =>
  value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined

/** The settings with every default filled in. */
export const resolveProfileSettings = (settings: ProfileSettings): ResolvedProfileSettings => {
  const pattern = settings.sensitiveNamePattern ?? PROFILE_DEFAULTS.sensitiveNamePattern
  return {
    maximumBytesBilled: Math.max(0, Math.floor(settings.maximumBytesBilled)),
    samplePercent: positive(settings.samplePercent),
    topValuesMaxDistinct: settings.topValuesMaxDistinct ?? PROFILE_DEFAULTS.topValuesMaxDistinct,
    topValuesMinDistinct: settings.topValuesMinDistinct ?? PROFILE_DEFAULTS.topValuesMinDistinct,
    topValuesLimit: Math.floor(positive(settings.topValuesLimit) ?? PROFILE_DEFAULTS.topValuesLimit),
    // `g`/`y` would make `test` remember where it stopped; segments are tested one by one.
    sensitiveNamePattern: new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, "")),
    partitionWindowDays: Math.max(
      1,
      Math.floor(positive(settings.partitionWindowDays) ?? PROFILE_DEFAULTS.partitionWindowDays)
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Which columns
// ---------------------------------------------------------------------------------------------

/** What the profile computes for a column: nulls and distinct count always, plus … */
export type ProfileValueKind =
  /** … top values when the distinct count is within range. */
  | "string"
  /** … min and max. */
  | "number"
  /** … min and max, as ISO-8601 strings. */
  | "temporal"
  /** … nothing more. */
  | "boolean"

/** A scalar column or record leaf the profile reads. */
export interface ProfileColumn {
  /** Dotted path, e.g. `geo.country`. */
  readonly path: string
  readonly segments: ReadonlyArray<string>
  /** BigQuery's type name as the field tree spells it. */
  readonly type: string
  readonly kind: ProfileValueKind
}

const baseType = (type: string) => type.toUpperCase().replace(/[<(].*$/s, "").trim()

const VALUE_KINDS: Readonly<Record<string, ProfileValueKind>> = {
  STRING: "string",
  INT64: "number",
  INTEGER: "number",
  FLOAT64: "number",
  FLOAT: "number",
  NUMERIC: "number",
  DECIMAL: "number",
  BIGNUMERIC: "number",
  BIGDECIMAL: "number",
  BOOL: "boolean",
  BOOLEAN: "boolean",
  DATE: "temporal",
  DATETIME: "temporal",
  TIMESTAMP: "temporal",
  TIME: "temporal"
}

const camelSplit = (segment: string) => segment.replace(/(\p{Ll}|\p{N})(\p{Lu})/gu, "$1_$2")

const isSensitiveSegment = (segment: string, pattern: RegExp) =>
  pattern.test(segment) || pattern.test(camelSplit(segment))

/** Why `field` (at `path`) may never be read, or `undefined` when it may. */
const privacyReason = (
  field: Field,
  path: string,
  settings: ResolvedProfileSettings
): SkippedColumn | undefined => {
  const tags = field.policy_tags ?? []
  if (tags.length > 0) {
    return {
      column: path,
      reason: "policy_tag",
      detail: `column-level security: policy tag ${tags.join(", ")}`
    }
  }
  if (isSensitiveSegment(field.name, settings.sensitiveNamePattern)) {
    return {
      column: path,
      reason: "sensitive_name",
      detail: `"${field.name}" matches the sensitive-name pattern ${String(settings.sensitiveNamePattern)}`
    }
  }
  return undefined
}

/**
 * The columns a profile reads — top-level scalars and the leaves of non-repeated records, in the
 * table's field order — and the fields it does not, with why. A skipped record or repeated field
 * stands for everything under it.
 */
export const profileableColumns = (
  table: TableMetadata,
  settings: ProfileSettings
): ProfileableColumns => columnsOf(table, resolveProfileSettings(settings))

export interface ProfileableColumns {
  readonly columns: ReadonlyArray<ProfileColumn>
  readonly skipped: ReadonlyArray<SkippedColumn>
}

const columnsOf = (table: TableMetadata, resolved: ResolvedProfileSettings): ProfileableColumns => {
  const columns: Array<ProfileColumn> = []
  const skipped: Array<SkippedColumn> = []
  const walk = (fields: ReadonlyArray<Field>, parent: ReadonlyArray<string>) => {
    for (const field of fields) {
      const segments = [...parent, field.name]
      const path = segments.join(".")
      const privacy = privacyReason(field, path, resolved)
      if (privacy !== undefined) {
        skipped.push(privacy)
      } else if (field.mode === "REPEATED") {
        skipped.push({
          column: path,
          reason: "repeated",
          detail: "a REPEATED field holds arrays; profiling it would need UNNEST"
        })
      } else if (isRecord(field)) {
        walk(field.fields ?? [], segments)
      } else {
        const kind = VALUE_KINDS[baseType(field.type)]
        if (kind === undefined) {
          skipped.push({ column: path, reason: "unsupported_type", detail: `${field.type} values are not profiled` })
        } else {
          columns.push({ path, segments, type: field.type, kind })
        }
      }
    }
  }
  walk(table.columns, [])
  return { columns, skipped }
}

// ---------------------------------------------------------------------------------------------
// How much to read
// ---------------------------------------------------------------------------------------------

/** How much of the table the profile reads. */
export type SamplePlan =
  /** The whole table (or, when a partition filter is required, its recent partitions). */
  | { readonly kind: "whole" }
  | { readonly kind: "sample"; readonly percent: number }
  | { readonly kind: "over_budget"; readonly detail: string }

/** Table kinds `TABLESAMPLE` applies to; views and external tables can only be read whole. */
const SAMPLEABLE_KINDS: ReadonlySet<string> = new Set(["TABLE", "SNAPSHOT", "CLONE"])

const formatBytes = (bytes: number): string => {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`
}

/** `percent` rounded down to three significant digits, written without an exponent. */
const percentLiteral = (percent: number): string => {
  const decimals = Math.max(0, 2 - Math.floor(Math.log10(percent)))
  const scale = 10 ** decimals
  // The epsilon keeps 0.3 * 1000 = 299.99… from flooring a digit away.
  const text = (Math.floor(percent * scale + 1e-9) / scale).toFixed(decimals)
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text
}

/**
 * The sample for `queries` queries over `table`: each is planned to read at most
 * `size_bytes × sample` (an upper bound: it reads only some columns), and together they must stay
 * under the cap. With no known size the requested sample (or the whole table) is read and
 * BigQuery's own enforcement of the cap is the guard.
 */
export const planSample = (table: TableMetadata, settings: ProfileSettings, queries: number = 2): SamplePlan =>
  planOf(table, resolveProfileSettings(settings), queries)

const planOf = (table: TableMetadata, resolved: ResolvedProfileSettings, queries: number): SamplePlan => {
  const cap = resolved.maximumBytesBilled
  if (cap < MIN_BILLED_BYTES) {
    return {
      kind: "over_budget",
      detail: `the cap of ${formatBytes(cap)} is below the ${formatBytes(MIN_BILLED_BYTES)} BigQuery bills for any query`
    }
  }
  const requested = resolved.samplePercent === undefined ? undefined : Math.min(100, resolved.samplePercent)
  const sampleable = SAMPLEABLE_KINDS.has(table.kind)
  const size = table.size_bytes
  if (size === null || size === 0) {
    return requested === undefined || requested >= 100 || !sampleable
      ? { kind: "whole" }
      : { kind: "sample", percent: Number(percentLiteral(requested)) }
  }
  const perQuery = cap / Math.max(1, queries)
  const fitting = (perQuery / size) * 100
  if (!sampleable) {
    if (fitting >= 100) return { kind: "whole" }
    return {
      kind: "over_budget",
      detail: `a ${table.kind} cannot be sampled, and reading all ${formatBytes(size)} would exceed the cap of ${formatBytes(cap)}`
    }
  }
  const wanted = Math.min(requested ?? 100, fitting)
  if (wanted >= 100) return { kind: "whole" }
  if (fitting < MIN_SAMPLE_PERCENT && (requested === undefined || requested > fitting)) {
    return {
      kind: "over_budget",
      detail: queries === 1
        ? `even a ${MIN_SAMPLE_PERCENT} % sample of ${formatBytes(size)} would exceed the cap of ${formatBytes(cap)}`
        : `even a ${MIN_SAMPLE_PERCENT} % sample of ${formatBytes(size)} would exceed ${
          formatBytes(perQuery)
        }, the share of the ${formatBytes(cap)} cap each of the profile's ${queries} queries may use`
    }
  }
  return { kind: "sample", percent: Number(percentLiteral(wanted)) }
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

/** The queries of one profile, or why none may run. */
export type ProfileSql =
  | {
    readonly kind: "queries"
    /** The `TABLESAMPLE` percentage; `null` when the table is read whole. */
    readonly samplePercent: number | null
    /**
     * `row_count`, and for the i-th column `c{i}_nulls`, `c{i}_distinct` and, for numbers and
     * dates, `c{i}_min` and `c{i}_max`.
     */
    readonly stats: string
    /** `c{j}_top` (`APPROX_TOP_COUNT`) for the j-th of `columns` (STRING columns chosen from the stats). */
    readonly topValues: (columns: ReadonlyArray<ProfileColumn>) => string
  }
  | {
    readonly kind: "skip"
    /** Every column, skipped for this reason. */
    readonly reason: SkippedColumn["reason"]
    readonly detail: string
  }

/** A table alias no top-level column is called, so `alias.col` can only mean the column. */
const tableAlias = (table: TableMetadata): string => {
  const taken = new Set(table.columns.map((c) => c.name.toLowerCase()))
  for (let n = 1; ; n += 1) {
    const candidate = n === 1 ? "profiled" : `profiled_${n}`
    if (!taken.has(candidate)) return candidate
  }
}

/**
 * The WHERE condition a table that requires a partition filter needs (its recent partitions), or
 * why the profile may not run: the partition column is itself one that is never read.
 */
const partitionCondition = (
  table: TableMetadata,
  alias: string,
  settings: ResolvedProfileSettings
): { readonly condition: string | null } | { readonly refused: SkippedColumn } => {
  const partitioning = table.partitioning
  if (partitioning === null || !partitioning.require_partition_filter) return { condition: null }
  const days = settings.partitionWindowDays
  if (partitioning.field === null) {
    return { condition: `_PARTITIONTIME >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${days} DAY)` }
  }
  const name = partitioning.field.toLowerCase()
  const field = table.columns.find((c) => c.name.toLowerCase() === name)
  if (field !== undefined) {
    const privacy = privacyReason(field, field.name, settings)
    if (privacy !== undefined) return { refused: privacy }
  }
  const column = `${alias}.${quoteIdentifier(field?.name ?? partitioning.field)}`
  switch (field === undefined ? "" : baseType(field.type)) {
    case "DATE":
      return { condition: `${column} >= DATE_SUB(CURRENT_DATE(), INTERVAL ${days} DAY)` }
    case "TIMESTAMP":
      return { condition: `${column} >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${days} DAY)` }
    case "DATETIME":
      return { condition: `${column} >= DATETIME_SUB(CURRENT_DATETIME(), INTERVAL ${days} DAY)` }
    default:
      // Integer-range partitioning: no range is known here, so keep to rows that have a value.
      return { condition: `${column} IS NOT NULL` }
  }
}

/**
 * The profile's SQL over `columns` (from `profileableColumns`): a stats query, then — once its
 * distinct counts are known — a top-values query for the qualifying STRING columns. Both sample
 * the same share of the same partitions (`TABLESAMPLE SYSTEM` picks its blocks anew each time).
 */
export const profileSql = (
  table: TableMetadata,
  columns: ReadonlyArray<ProfileColumn>,
  settings: ProfileSettings
): ProfileSql => sqlOf(table, columns, resolveProfileSettings(settings))

const sqlOf = (
  table: TableMetadata,
  columns: ReadonlyArray<ProfileColumn>,
  resolved: ResolvedProfileSettings
): ProfileSql => {
  const alias = tableAlias(table)
  const partition = partitionCondition(table, alias, resolved)
  if ("refused" in partition) {
    return {
      kind: "skip",
      reason: partition.refused.reason,
      detail: `the table requires a partition filter on ${partition.refused.column}, which is never read (${partition.refused.detail})`
    }
  }
  const queries = columns.some((c) => c.kind === "string") ? 2 : 1
  const plan = planOf(table, resolved, queries)
  if (plan.kind === "over_budget") return { kind: "skip", reason: "over_budget", detail: plan.detail }

  const sample = plan.kind === "sample" ? ` TABLESAMPLE SYSTEM (${percentLiteral(plan.percent)} PERCENT)` : ""
  const from = `FROM ${quoteTablePath(tableRefOf(table.table_id))} AS ${alias}${sample}`
  const where = partition.condition === null ? "" : `\nWHERE ${partition.condition}`
  const ref = (column: ProfileColumn) => `${alias}.${quoteFieldPath(column.segments)}`
  const select = (items: ReadonlyArray<string>) => `SELECT\n  ${items.join(",\n  ")}\n${from}${where}`

  const stats = select([
    "COUNT(*) AS row_count",
    ...columns.flatMap((column, i) => {
      const c = ref(column)
      const range = column.kind === "number" || column.kind === "temporal"
        ? [`MIN(${c}) AS c${i}_min`, `MAX(${c}) AS c${i}_max`]
        : []
      return [`COUNTIF(${c} IS NULL) AS c${i}_nulls`, `APPROX_COUNT_DISTINCT(${c}) AS c${i}_distinct`, ...range]
    })
  ])
  // One extra slot: a NULL may take one of the top places, and it is dropped from the profile.
  const topValues = (stringColumns: ReadonlyArray<ProfileColumn>) =>
    select(stringColumns.map((column, j) => `APPROX_TOP_COUNT(${ref(column)}, ${resolved.topValuesLimit + 1}) AS c${j}_top`))
  return { kind: "queries", samplePercent: plan.kind === "sample" ? plan.percent : null, stats, topValues }
}

// ---------------------------------------------------------------------------------------------
// Reading the answers
// ---------------------------------------------------------------------------------------------

class MalformedAnswer extends Error {}

const INTEGER = /^-?\d+$/

const countOf = (value: unknown, what: string): number => {
  const n = typeof value === "number"
    ? value
    : typeof value === "bigint"
    ? Number(value)
    : typeof value === "string" && INTEGER.test(value)
    ? Number(value)
    : Number.NaN
  if (!Number.isSafeInteger(n) || n < 0) throw new MalformedAnswer(`${what} is ${JSON.stringify(String(value))}, not a count`)
  return n
}

/** Unwraps the Node client's `{ value }` wrappers (BigQueryDate, BigQueryTimestamp, Big …). */
const unwrap = (value: unknown): unknown =>
  typeof value === "object" && value !== null && !(value instanceof Date) && "value" in value
    ? (value as { readonly value: unknown }).value
    : value

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/

const numberBound = (type: string, value: unknown, what: string): ProfileBound => {
  const base = baseType(type)
  if (typeof value === "bigint") value = value.toString()
  if (base === "INT64" || base === "INTEGER") {
    if (typeof value === "number" && Number.isInteger(value)) return value
    if (typeof value === "string" && INTEGER.test(value)) {
      // Beyond 2^53 a number would change the value; the digits are kept.
      return Number.isSafeInteger(Number(value)) ? Number(value) : value
    }
  } else if (base === "FLOAT64" || base === "FLOAT") {
    const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN
    if (Number.isFinite(n)) return n
    // JSON has no NaN or Infinity: keep BigQuery's spelling.
    if (typeof value === "number" || ["NaN", "Infinity", "-Infinity", "inf", "-inf", "nan"].includes(String(value))) {
      return String(value)
    }
  } else {
    // NUMERIC and BIGNUMERIC: exact decimal text.
    if (typeof value === "string" && /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/.test(value)) return value
    if (typeof value === "number" && Number.isFinite(value)) return value
  }
  throw new MalformedAnswer(`${what} is ${JSON.stringify(String(value))}, not a ${type}`)
}

const temporalBound = (type: string, value: unknown, what: string): ProfileBound => {
  const base = baseType(type)
  if (value instanceof Date && base === "TIMESTAMP") return value.toISOString()
  if (typeof value !== "string") throw new MalformedAnswer(`${what} is ${JSON.stringify(String(value))}, not a ${type}`)
  if (base === "TIMESTAMP" && !ISO_TIMESTAMP.test(value)) {
    // Other spellings (`2021-01-31 12:00:00 UTC`, offsets) become ISO-8601 in UTC.
    const parsed = DateTime.make(value.replace(/ UTC$/, "Z"))
    if (parsed._tag === "None") throw new MalformedAnswer(`${what} is ${JSON.stringify(value)}, not a TIMESTAMP`)
    return DateTime.formatIso(parsed.value)
  }
  // DATETIME may come with a space between date and time.
  return base === "DATETIME" ? value.replace(/^(\d{4}-\d{2}-\d{2}) /, "$1T") : value
}

const boundOf = (column: ProfileColumn, row: Readonly<Record<string, unknown>>, key: string): ProfileBound | null => {
  const value = unwrap(row[key])
  if (value === null || value === undefined) return null
  const what = `${key} (${column.path})`
  return column.kind === "temporal" ? temporalBound(column.type, value, what) : numberBound(column.type, value, what)
}

const topValuesOf = (value: unknown, limit: number, what: string): ReadonlyArray<TopValue> => {
  if (value === null || value === undefined) return []
  if (!Array.isArray(value)) throw new MalformedAnswer(`${what} is not an array of {value, count}`)
  return value
    .map((entry: unknown): TopValue | null => {
      if (typeof entry !== "object" || entry === null) throw new MalformedAnswer(`${what} holds ${JSON.stringify(entry)}`)
      const { count, value: v } = entry as { readonly value?: unknown; readonly count?: unknown }
      // NULL is reported by null_fraction, not as a value.
      return v === null || v === undefined ? null : { value: String(unwrap(v)), count: countOf(count, `${what} count`) }
    })
    .filter((entry): entry is TopValue => entry !== null)
    .slice(0, limit)
}

interface ColumnStats {
  readonly rows: number
  readonly profiles: ReadonlyArray<ColumnProfile>
}

const readStats = (columns: ReadonlyArray<ProfileColumn>, result: QueryResult): ColumnStats => {
  const row = result.rows[0]
  if (row === undefined) throw new MalformedAnswer("the stats query returned no row")
  const rows = countOf(row.row_count, "row_count")
  const profiles = columns.map((column, i): ColumnProfile => {
    const nulls = countOf(row[`c${i}_nulls`], `c${i}_nulls (${column.path})`)
    const ranged = column.kind === "number" || column.kind === "temporal"
    return {
      column: column.path,
      type: column.type,
      null_fraction: rows === 0 ? 0 : Math.min(1, nulls / rows),
      approx_distinct: countOf(row[`c${i}_distinct`], `c${i}_distinct (${column.path})`),
      top_values: null,
      min: ranged ? boundOf(column, row, `c${i}_min`) : null,
      max: ranged ? boundOf(column, row, `c${i}_max`) : null
    }
  })
  return { rows, profiles }
}

const malformed = (table: TableMetadata, problem: string) =>
  new RemoteRejected({
    service: "bigquery",
    operation: "jobs.query",
    resource: table.table_id,
    status: null,
    reason: "malformedResponse",
    message: `the profile of ${table.table_id} cannot read BigQuery's answer: ${problem}`
  })

const interpret = <A>(table: TableMetadata, read: () => A): Effect.Effect<A, RemoteRejected> =>
  Effect.try({
    try: read,
    catch: (cause) => malformed(table, cause instanceof Error ? cause.message : String(cause))
  })

/** BigQuery refused the query because it would bill more than `maximumBytesBilled`. */
const isOverCap = (error: BigQueryError) =>
  (error._tag === "RemoteRejected" || error._tag === "RemoteUnavailable") && error.reason === "bytesBilledLimitExceeded"

// ---------------------------------------------------------------------------------------------
// The profile
// ---------------------------------------------------------------------------------------------

/**
 * Profiles `table` by running its queries in `project` (the billed project), each with
 * `maximumBytesBilled` set to what is left of the cap. When BigQuery refuses the stats query as
 * over the cap, every column is reported `over_budget`; when it refuses the top-values query (or
 * too little of the cap is left for it), those columns keep `top_values: null`.
 */
export const profileTable = (
  project: string,
  table: TableMetadata,
  settings: ProfileSettings
): Effect.Effect<TableProfile, BigQueryError, BigQueryService> =>
  Effect.gen(function*() {
    const resolved = resolveProfileSettings(settings)
    const profiledAt = yield* DateTime.now
    const { columns, skipped } = columnsOf(table, resolved)
    const order = new Map(flattenFields(table.columns).map((f, i) => [f.path, i]))
    const inFieldOrder = (entries: ReadonlyArray<SkippedColumn>) =>
      [...entries].sort((a, b) => (order.get(a.column) ?? 0) - (order.get(b.column) ?? 0))
    const profile = (fields: Omit<TableProfile, "profiled_at">): TableProfile => ({ profiled_at: profiledAt, ...fields })
    const allSkipped = (samplePercent: number | null, reason: SkippedColumn["reason"], detail: string) =>
      profile({
        sample_percent: samplePercent,
        rows_sampled: 0,
        bytes_processed: 0,
        columns: [],
        skipped: inFieldOrder([...skipped, ...columns.map((c) => ({ column: c.path, reason, detail }))])
      })

    if (columns.length === 0) {
      return profile({ sample_percent: null, rows_sampled: 0, bytes_processed: 0, columns: [], skipped })
    }
    const sql = sqlOf(table, columns, resolved)
    if (sql.kind === "skip") return allSkipped(null, sql.reason, sql.detail)

    const bigQuery = yield* BigQueryService
    const cap = resolved.maximumBytesBilled
    const first = yield* bigQuery.query(project, sql.stats, { maximumBytesBilled: cap }).pipe(
      Effect.map((result): QueryResult | undefined => result),
      Effect.catchIf(isOverCap, () => Effect.succeed(undefined))
    )
    if (first === undefined) {
      return allSkipped(
        sql.samplePercent,
        "over_budget",
        `BigQuery refused the profile query: it would bill more than the cap of ${formatBytes(cap)}`
      )
    }
    const stats = yield* interpret(table, () => readStats(columns, first))

    const lowCardinality = columns.filter((column, i) =>
      column.kind === "string" &&
      stats.profiles[i].approx_distinct >= resolved.topValuesMinDistinct &&
      stats.profiles[i].approx_distinct <= resolved.topValuesMaxDistinct
    )
    const left = cap - Math.max(first.totalBytesProcessed, MIN_BILLED_BYTES)
    const second = lowCardinality.length === 0 || left < MIN_BILLED_BYTES
      ? undefined
      : yield* bigQuery.query(project, sql.topValues(lowCardinality), { maximumBytesBilled: left }).pipe(
        Effect.map((result): QueryResult | undefined => result),
        Effect.catchIf(isOverCap, () => Effect.succeed(undefined))
      )
    const topValues = second === undefined
      ? new Map<string, ReadonlyArray<TopValue>>()
      : yield* interpret(table, () => {
        const row = second.rows[0]
        if (row === undefined) throw new MalformedAnswer("the top-values query returned no row")
        return new Map(lowCardinality.map((column, j) => [
          column.path,
          topValuesOf(row[`c${j}_top`], resolved.topValuesLimit, `c${j}_top (${column.path})`)
        ]))
      })

    return profile({
      sample_percent: sql.samplePercent,
      rows_sampled: stats.rows,
      bytes_processed: first.totalBytesProcessed + (second?.totalBytesProcessed ?? 0),
      columns: stats.profiles.map((p) => ({ ...p, top_values: topValues.get(p.column) ?? null })),
      skipped: inFieldOrder(skipped)
    })
  }).pipe(Effect.withSpan("sync.profileTable", { attributes: { table: table.table_id } }))
