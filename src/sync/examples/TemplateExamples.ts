/**
 * Few-shot examples made from what the sync knows about a table — its description, its shards and
 * its column profile — without running a query. A value appears in a filter only when the profile
 * saw it (a top value); otherwise every filter is one that holds without knowing a value (IS NOT
 * NULL, IS TRUE, a window relative to today or to the newest shard). The same table always gives
 * the same examples.
 *
 * Every example keeps its cost down the way a person would: a sharded family is read through
 * `_TABLE_SUFFIX` over its newest shards, and a partitioned table through its partition column
 * when it requires that or is large.
 *
 * A template is skipped when the table has no column that fits it; no column is ever invented.
 * There are no join templates: joins will come only from declared key relationships, which the
 * configuration cannot express yet.
 */
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import type { Example, FieldPathEntry, Language, Sharding } from "../../contract/CacheDocument.ts"
import { flattenFields, type FieldPath } from "../../contract/Field.ts"
import type { TableProfile } from "../../contract/Profile.ts"
import { isWildcardTable, tableRefOf } from "../../contract/TableId.ts"
import type { TableMetadata } from "../../services/BigQuery/TableResource.ts"
import { isPlainIdentifier, quoteFieldPath, quoteIdentifier, quoteTablePath, stringLiteral } from "../../sql/Identifiers.ts"
import { fieldPathEntries } from "../fieldPaths.ts"
import { DEFAULT_SENSITIVE_NAME_PATTERN } from "../profiles.ts"
import { isFreeText, isIdLike, isProfileSparse, isProfileUnique, isSensitivePath } from "./ColumnRoles.ts"

/**
 * What the templates read: a table's metadata, with its shards and profile when the sync has them
 * (a cache `TableEntry` is one).
 */
export type TemplateTable = TableMetadata & {
  readonly sharding?: Sharding | null
  readonly profile?: TableProfile | null
  /** The table's field paths when already computed (a `TableEntry` has them). */
  readonly field_paths?: ReadonlyArray<FieldPathEntry>
}

/** How many rows the top-N templates ask for. */
const TOP_N = 10
/** The window, in days, of the filter on a time partition column. */
const RECENT_DAYS = 30
/** The window, in days ending at the newest shard, that examples over a date-sharded family read. */
const SHARD_WINDOW_DAYS = 7
/** Above either size a partitioned table gets a partition filter even when it does not require one. */
const LARGE_TABLE_BYTES = 10 * 1024 ** 3
const LARGE_TABLE_ROWS = 100_000_000
/** Most examples over deeply nested leaves per table (one per UNNEST chain length). */
const NESTED_EXAMPLES = 4
/** Top values longer than this make poor examples. */
const MAX_FILTER_VALUE_LENGTH = 60

// ---------------------------------------------------------------------------------------------
// What the rows are called
// ---------------------------------------------------------------------------------------------

interface Entity {
  readonly ko: string
  readonly en: string
  /** snake_case singular, for `<alias>_count`. */
  readonly singular: string
  /** snake_case plural, for `total_<alias>`. */
  readonly plural: string
}

const ENTITIES: ReadonlyArray<readonly [RegExp, Entity]> = [
  [/^events?$/, { ko: "이벤트", en: "events", singular: "event", plural: "events" }],
  [/^users?$/, { ko: "사용자", en: "users", singular: "user", plural: "users" }],
  [/^sessions?$/, { ko: "세션", en: "sessions", singular: "session", plural: "sessions" }],
  [/^orders?$/, { ko: "주문", en: "orders", singular: "order", plural: "orders" }],
  [/^transactions?$/, { ko: "거래", en: "transactions", singular: "transaction", plural: "transactions" }],
  [/^purchases?$/, { ko: "구매", en: "purchases", singular: "purchase", plural: "purchases" }],
  [/^products?$/, { ko: "상품", en: "products", singular: "product", plural: "products" }],
  [/^customers?$/, { ko: "고객", en: "customers", singular: "customer", plural: "customers" }],
  [/^clicks?$/, { ko: "클릭", en: "clicks", singular: "click", plural: "clicks" }],
  [/^page_?views?$/, { ko: "페이지뷰", en: "page views", singular: "page_view", plural: "page_views" }],
  [/^visits?$/, { ko: "방문", en: "visits", singular: "visit", plural: "visits" }],
  [/^comments?$/, { ko: "댓글", en: "comments", singular: "comment", plural: "comments" }],
  [/^posts?$/, { ko: "게시물", en: "posts", singular: "post", plural: "posts" }]
]

/** The rows' noun from the table name (`events_20210131`, `events_*` → events), when it is a known one. */
const entityOf = (tableName: string): Entity | null => {
  const base = tableName.toLowerCase().replace(/_?\*$/, "").replace(/_?\d{6,8}$/, "")
  const lastWord = base.split("_").slice(-1)[0] ?? base
  for (const [pattern, entity] of ENTITIES) {
    if (pattern.test(base) || pattern.test(lastWord)) return entity
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Which columns fit which template
// ---------------------------------------------------------------------------------------------

/** Any Hangul letter: syllables, compatibility and conjoining jamo (text decomposed to NFD), half-width forms. */
const HANGUL = /\p{Script=Hangul}/u

const typeOf = (field: FieldPath) => field.type.toUpperCase()
const isString = (field: FieldPath) => typeOf(field) === "STRING"
const isInteger = (field: FieldPath) => typeOf(field) === "INTEGER" || typeOf(field) === "INT64"
const isBoolean = (field: FieldPath) => typeOf(field) === "BOOLEAN" || typeOf(field) === "BOOL"
const isRecordField = (field: FieldPath) => typeOf(field) === "RECORD" || typeOf(field) === "STRUCT"
/** Reachable without UNNEST: neither the field nor any of its parents is REPEATED. */
const isSingle = (field: FieldPath) => field.repeated.length === 0
const lastName = (field: FieldPath) => field.segments[field.segments.length - 1]
const describe = (field: FieldPath) => field.description ?? ""

const CATEGORY_NAME =
  /(^|[_\-\s])(name|type|category|kind|class|group|status|state|country|continent|region|city|metro|gender|sex|platform|source|medium|channel|browser|language|brand|operating_system|os|device|currency|level|tier|segment|plan|genre|stage|locale|market|department|role)\d*$/i
const CATEGORY_DESCRIPTION =
  /\b(category|categories|type of|kind of|country|status|gender|platform|channel|language|region|state code)\b/i
/** Identifiers, free text and time-like strings: counting by them says little. */
const NOT_CATEGORY_NAME =
  /(^|[_\-\s])(id|ids|uuid|guid|token|hash|url|uri|link|path|email|phone|address|text|title|body|content|comments?|description|message|word|html|json|query|version|ip|user_agent|timestamp|date|time|key)$/i

/** How much a STRING column looks like a category (0: not at all). */
export const categoryScore = (field: FieldPath): number => {
  const name = lastName(field)
  if (CATEGORY_NAME.test(name)) return 3
  if (NOT_CATEGORY_NAME.test(name)) return 0
  if (CATEGORY_DESCRIPTION.test(describe(field))) return 2
  return 1
}

/**
 * STRING columns that look like categories, best first (top-level before nested on a tie); a
 * profile that found top values (few distinct values) confirms a column is one.
 */
const categoricalColumns = (
  fields: ReadonlyArray<FieldPath>,
  hasTopValues: (field: FieldPath) => boolean
): ReadonlyArray<FieldPath> =>
  fields
    .map((field, index) => ({ field, index, score: isString(field) && isSingle(field) ? categoryScore(field) : 0 }))
    .filter((c) => c.score > 0)
    .map((c) => ({ ...c, score: c.score + (c.field.depth === 0 ? 0.5 : 0) + (hasTopValues(c.field) ? 1 : 0) }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .map((c) => c.field)

export const isNumeric = (field: FieldPath) =>
  ["INTEGER", "INT64", "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC"].includes(typeOf(field))

const MEASURE_NAME =
  /(^|[_\-\s])(revenue|price|amount|value|quantity|qty|count|total|cost|sales|spend|profit|score|rating|duration|number)(_in_[a-z]+)?$/i
const MEASURE_DESCRIPTION = /\b(amount|revenue|price|number of|count of|quantity|total|cost|sales|score)\b|금액|매출|수량|가격|비용|점수|수익|판매/i
const NOT_MEASURE_NAME =
  /(^|[_\-\s])(id|ids|key|index|offset|code|zip|lat|latitude|lon|lng|longitude|version|parent|seq|sequence|year|month|day|hour)$/i
/** Measures where a sum means nothing: averaged instead. */
const AVERAGED_NAME = /(price|score|rating|rank|ranking|rate|ratio|percent|pct|age)(_in_[a-z]+)?$/i

/** Numeric columns that look like measures, best first (`null` time columns excluded by the caller). */
const measureColumns = (fields: ReadonlyArray<FieldPath>, times: ReadonlySet<string>): ReadonlyArray<FieldPath> =>
  fields
    .filter((field) => isNumeric(field) && isSingle(field) && !times.has(field.path))
    .map((field, index) => {
      const name = lastName(field)
      const score = NOT_MEASURE_NAME.test(name)
        ? 0
        : MEASURE_NAME.test(name)
        ? 3
        : MEASURE_DESCRIPTION.test(describe(field)) || HANGUL.test(name)
        ? 2
        : 0
      return { field, index, score: score === 0 ? 0 : score + (field.depth === 0 ? 0.5 : 0) }
    })
    .filter((c) => c.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .map((c) => c.field)

/** Columns that identify a user, the most telling first (GA4's `user_pseudo_id` before `user_id`). */
const USER_ID_PATTERNS: ReadonlyArray<RegExp> = [
  /^user[_\-\s]?pseudo[_\-\s]?id$/i,
  /^(user|customer|client|visitor|member|account)[_\-\s]?id$/i
]

const userIdColumn = (fields: ReadonlyArray<FieldPath>): FieldPath | undefined => {
  for (const pattern of USER_ID_PATTERNS) {
    const found = fields.find((f) => f.depth === 0 && isSingle(f) && (isString(f) || isInteger(f)) && pattern.test(f.path))
    if (found !== undefined) return found
  }
  return undefined
}

type TimeKind = "DATE" | "TIMESTAMP" | "DATETIME" | "YYYYMMDD" | "MICROS" | "MILLIS" | "SECONDS" | "YEAR"

interface TimeColumn {
  readonly field: FieldPath
  readonly kind: TimeKind
}

const TIME_ORDER: ReadonlyArray<TimeKind> = ["DATE", "TIMESTAMP", "DATETIME", "YYYYMMDD", "MICROS", "MILLIS", "SECONDS", "YEAR"]

/** What kind of time a column holds, from its type, name and description; `null` for none. */
const timeKindOf = (field: FieldPath, all: ReadonlyArray<FieldPath>): TimeKind | null => {
  const type = typeOf(field)
  if (type === "DATE" || type === "TIMESTAMP" || type === "DATETIME") return type
  const name = lastName(field).toLowerCase()
  const description = describe(field)
  if (isString(field)) {
    // GA4's `event_date` is a YYYYMMDD string next to `event_timestamp`.
    const ga4Date = field.path === "event_date" && all.some((f) => f.path === "event_timestamp")
    return /yyyymmdd/i.test(description) || ga4Date ? "YYYYMMDD" : null
  }
  if (!isInteger(field)) return null
  if (/offset|duration|elapsed|length|zone/.test(name) || /\boffset\b|\bduration\b/i.test(description)) return null
  const timeName = /(timestamp|time|_at|_micros|_millis|_usec|_ms)$/.test(name)
  if (/micro/i.test(description) || /_micros$|_usec$/.test(name)) return timeName || /\btime\b/i.test(description) ? "MICROS" : null
  if (/milli/i.test(description) || /_millis$|_ms$/.test(name)) return timeName || /\btime\b/i.test(description) ? "MILLIS" : null
  if (/\bunix\b|\bepoch\b/i.test(description)) return "SECONDS"
  if (isIdLike(field.path)) return null
  if (/^year$|_year$/.test(name) || (/\byear\b/i.test(description) && !/\bage\b|years old/i.test(description))) {
    return "YEAR"
  }
  return null
}

/** Time columns reachable without UNNEST, best first; the partition column leads when it is one. */
const timeColumns = (fields: ReadonlyArray<FieldPath>, partitionField: string | null): ReadonlyArray<TimeColumn> =>
  fields
    .filter(isSingle)
    .map((field, index) => ({ field, index, kind: timeKindOf(field, fields) }))
    .filter((c): c is { field: FieldPath; index: number; kind: TimeKind } => c.kind !== null)
    .sort((a, b) => {
      const pa = a.field.path === partitionField ? 0 : 1
      const pb = b.field.path === partitionField ? 0 : 1
      return pa - pb || TIME_ORDER.indexOf(a.kind) - TIME_ORDER.indexOf(b.kind) || a.index - b.index
    })
    .map(({ field, kind }) => ({ field, kind }))

const EPOCH_FUNCTION: Partial<Record<TimeKind, string>> = {
  MICROS: "TIMESTAMP_MICROS",
  MILLIS: "TIMESTAMP_MILLIS",
  SECONDS: "TIMESTAMP_SECONDS"
}

/** The column as a TIMESTAMP/DATETIME, or `null` when it has no time of day. */
const instantExpression = (column: TimeColumn): string | null => {
  const q = quoteFieldPath(column.field.segments)
  if (column.kind === "TIMESTAMP" || column.kind === "DATETIME") return q
  const fn = EPOCH_FUNCTION[column.kind]
  return fn === undefined ? null : `${fn}(${q})`
}

/** The column as a DATE, or `null` when it is a bare year. */
const dayExpression = (column: TimeColumn): string | null => {
  const q = quoteFieldPath(column.field.segments)
  if (column.kind === "DATE") return q
  if (column.kind === "YYYYMMDD") return `PARSE_DATE(${stringLiteral("%Y%m%d")}, ${q})`
  const instant = instantExpression(column)
  return instant === null ? null : `DATE(${instant})`
}

// ---------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------

const cleanDescription = (field: FieldPath, maxLength: number): string | null => {
  const text = describe(field).normalize("NFC").trim().replace(/\.$/, "")
  return text.length === 0 || text.length > maxLength || /[\r\n]/.test(text) ? null : text
}

/** Acronyms and codes (ID, URL, UTC, KRW) read the same in a Korean and an English sentence. */
const ACRONYM = /^[A-Z]{1,5}$/

/** How many of a text's words are Hangul, Latin prose (acronyms aside) and of another script. */
const wordScripts = (text: string) => {
  const counts = { hangul: 0, latin: 0, other: 0 }
  for (const word of text.match(/\p{L}+/gu) ?? []) {
    if (HANGUL.test(word)) counts.hangul += 1
    else if (/^\p{Script=Latin}+$/u.test(word)) counts.latin += ACRONYM.test(word) ? 0 : 1
    else counts.other += 1
  }
  return counts
}

/** Korean: Hangul words, at least as many as words of any other script (`세션 ID` is Korean; `Order total (원)` is not). */
const isKorean = (text: string) => {
  const { hangul, latin, other } = wordScripts(text)
  return hangul > 0 && hangul >= latin + other
}

/** English: Latin letters only — no Hangul or other script at all, so nothing Korean reaches an English question. */
const isEnglish = (text: string) => {
  const { hangul, other } = wordScripts(text)
  return hangul === 0 && other === 0 && /\p{Script=Latin}/u.test(text)
}

/** How a Korean question names a column: a short description written in Korean, else its path. */
const describedKo = (field: FieldPath): string => {
  const description = cleanDescription(field, 30)
  return description !== null && isKorean(description) ? description : field.path
}

/** How an English question names a column: its path, with a short description written in English. */
const describedEn = (field: FieldPath): string => {
  const description = cleanDescription(field, 40)
  if (description === null || !isEnglish(description)) return field.path
  // "Order total" reads "order total" mid-sentence; "KRW amount" keeps its acronym.
  const lowered = /^\p{Lu}\p{Ll}/u.test(description) ? `${description.charAt(0).toLowerCase()}${description.slice(1)}` : description
  return `${field.path} (${lowered})`
}

/** Business names of a table's columns by path, from the glossary and aliases (any language). */
export type BusinessNames = ReadonlyMap<string, ReadonlyArray<string>>

/**
 * How a question names a column: its business name in the question's language when the glossary or
 * an alias gives one (`매출 금액 (order_amount)`), else a short description in that language, else its path.
 */
export const labelsFor = (names: BusinessNames | undefined) => {
  const named = (field: FieldPath, fits: (text: string) => boolean) => (names?.get(field.path) ?? []).find(fits)
  return {
    ko: (field: FieldPath): string => {
      const name = named(field, isKorean)
      return name === undefined ? describedKo(field) : `${name}(${field.path})`
    },
    en: (field: FieldPath): string => {
      const name = named(field, isEnglish)
      return name === undefined ? describedEn(field) : `${name} (${field.path})`
    }
  }
}
export const labelKo = (field: FieldPath): string => describedKo(field)
export const labelEn = (field: FieldPath): string => describedEn(field)

interface Wording {
  readonly ko: string
  /** Without the final question mark: the shard or partition window may follow. */
  readonly en: string
}

// ---------------------------------------------------------------------------------------------
// SQL pieces
// ---------------------------------------------------------------------------------------------

/** A condition every example of a table carries, and how the question says so. */
interface ScopeFilter {
  readonly condition: string
  /** Korean opening, e.g. "최근 30일 동안 ". */
  readonly ko: string
  /** English closing, e.g. " in the last 30 days". */
  readonly en: string
}

const recentWindow = { ko: `최근 ${RECENT_DAYS}일 동안 `, en: ` in the last ${RECENT_DAYS} days` }

/** A table that does not require a partition filter still gets one when it is large, or of unknown size. */
const wantsPartitionFilter = (table: TemplateTable): boolean => {
  if (table.partitioning?.require_partition_filter === true) return true
  if (table.size_bytes === null && table.row_count === null) return true
  return (table.size_bytes ?? 0) > LARGE_TABLE_BYTES || (table.row_count ?? 0) > LARGE_TABLE_ROWS
}

/**
 * The partition filter every example carries, `null` when none is wanted, `undefined` when one is
 * wanted but the partition column is not among the columns (then no honest example can be written).
 */
export const partitionFilterOf = (table: TemplateTable, fields: ReadonlyArray<FieldPath>): ScopeFilter | null | undefined => {
  const partitioning = table.partitioning
  if (partitioning === null || !wantsPartitionFilter(table)) return null
  if (partitioning.field === null) {
    return { condition: `_PARTITIONTIME >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${RECENT_DAYS} DAY)`, ...recentWindow }
  }
  const field = fields.find((f) => f.depth === 0 && f.path === partitioning.field)
  if (field === undefined) return undefined
  const q = quoteIdentifier(field.path)
  switch (typeOf(field)) {
    case "DATE":
      return { condition: `${q} >= DATE_SUB(CURRENT_DATE(), INTERVAL ${RECENT_DAYS} DAY)`, ...recentWindow }
    case "TIMESTAMP":
      return { condition: `${q} >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ${RECENT_DAYS} DAY)`, ...recentWindow }
    case "DATETIME":
      return { condition: `${q} >= DATETIME_SUB(CURRENT_DATETIME(), INTERVAL ${RECENT_DAYS} DAY)`, ...recentWindow }
    default:
      // Integer-range partitioning: no value is known, so keep to rows that have one.
      return {
        condition: `${q} IS NOT NULL`,
        ko: `${field.path} 값이 있는 행 가운데 `,
        en: ` among rows with a ${field.path} value`
      }
  }
}

/** A `YYYYMMDD` shard suffix as a date, or `null` when it is not one. */
const suffixDate = (suffix: string): DateTime.Utc | null => {
  if (!/^\d{8}$/.test(suffix)) return null
  const date = DateTime.make(`${suffix.slice(0, 4)}-${suffix.slice(4, 6)}-${suffix.slice(6)}T00:00:00Z`)
  return Option.isSome(date) && suffixOf(date.value) === suffix ? date.value : null
}

const suffixOf = (date: DateTime.Utc): string => DateTime.formatIso(date).slice(0, 10).replaceAll("-", "")

/** The shards a sharded family's examples read: its newest days, `null` for a plain table. */
interface ShardWindow extends ScopeFilter {
  /** Whether the suffixes are dates, so `PARSE_DATE` reads them. */
  readonly dated: boolean
}

export const shardWindowOf = (table: TemplateTable): ShardWindow | null => {
  const sharding = table.sharding
  // Only a wildcard id can be queried with `_TABLE_SUFFIX`.
  if (sharding === null || sharding === undefined || !isWildcardTable(tableRefOf(table.table_id))) return null
  const { first_suffix: first, last_suffix: last } = sharding
  const lastDate = suffixDate(last)
  const dated = lastDate !== null && suffixDate(first) !== null
  const windowStart = lastDate === null ? first : suffixOf(DateTime.subtract(lastDate, { days: SHARD_WINDOW_DAYS - 1 }))
  const start = dated && windowStart > first ? windowStart : first
  const condition = `_TABLE_SUFFIX BETWEEN ${stringLiteral(start)} AND ${stringLiteral(last)}`
  return start === first
    ? { condition, dated, ko: `전체 샤드(${first}~${last})에서 `, en: ` across all shards (${first} to ${last})` }
    : {
      condition,
      dated,
      ko: `최근 ${SHARD_WINDOW_DAYS}일(${start}~${last}) 동안 `,
      en: ` over the last ${SHARD_WINDOW_DAYS} days of shards (${start} to ${last})`
    }
}

/** `base`, or `base_2`, `base_3`, … : a bare alias that no column of the table is called. */
export const freshAlias = (base: string, taken: ReadonlySet<string>): string => {
  for (let n = 1; ; n += 1) {
    const candidate = n === 1 ? base : `${base}_${n}`
    if (isPlainIdentifier(candidate) && !taken.has(candidate.toLowerCase())) return candidate
  }
}

/** GA4's "(not set)", "(other)": real values, but poor examples. */
const PLACEHOLDER_VALUE = /^\(.*\)$/
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/

/** The values the profile saw most in `path` that read well in a question, most frequent first. */
export const topValuesOf = (profile: TableProfile | null | undefined, path: string): ReadonlyArray<string> =>
  (profile?.columns.find((c) => c.column === path)?.top_values ?? [])
    .map((t) => t.value)
    .filter((value) =>
      value.trim() !== "" && value.length <= MAX_FILTER_VALUE_LENGTH && !CONTROL_CHARACTER.test(value) &&
      !PLACEHOLDER_VALUE.test(value.trim())
    )

export const topValueOf = (profile: TableProfile | null | undefined, path: string): string | undefined =>
  topValuesOf(profile, path)[0]

// ---------------------------------------------------------------------------------------------
// GA4-style key/value records
// ---------------------------------------------------------------------------------------------

/** GA4's documented event parameters and the `value` field each is exported in. */
const GA4_PARAM_VALUE_FIELD: Readonly<Record<string, string>> = {
  ga_session_id: "int_value",
  ga_session_number: "int_value",
  engagement_time_msec: "int_value",
  entrances: "int_value",
  percent_scrolled: "int_value",
  page_location: "string_value",
  page_referrer: "string_value",
  page_title: "string_value",
  source: "string_value",
  medium: "string_value",
  campaign: "string_value",
  term: "string_value"
}

const VALUE_FIELDS = ["string_value", "int_value", "float_value", "double_value"]

/** A REPEATED RECORD of `key` + `value.{string,int,float,double}_value` entries (GA4 `event_params`). */
interface KeyValueRecord {
  readonly record: FieldPath
  /** `UNNEST(event_params) AS event_param`, as field_paths writes it. */
  readonly unnest: string
  /** `event_param.key`. */
  readonly key: string
  /** `string_value` → `event_param.value.string_value`, for the value fields the record has. */
  readonly values: ReadonlyMap<string, string>
}

const keyValueRecordOf = (
  record: FieldPath,
  fields: ReadonlyArray<FieldPath>,
  entries: ReadonlyMap<string, { readonly joins: ReadonlyArray<string>; readonly expression: string }>
): KeyValueRecord | null => {
  const keyField = fields.find((f) => f.path === `${record.path}.key` && isString(f) && f.repeated.length === 1)
  const keyEntry = keyField === undefined ? undefined : entries.get(keyField.path)
  const join = keyEntry?.joins[0]
  if (keyEntry === undefined || join === undefined || keyEntry.joins.length !== 1) return null
  const values = new Map<string, string>()
  for (const name of VALUE_FIELDS) {
    const path = `${record.path}.value.${name}`
    const field = fields.find((f) => f.path === path && f.repeated.length === 1)
    const entry = entries.get(path)
    if (field !== undefined && entry !== undefined && (name === "string_value" ? isString(field) : isNumeric(field))) {
      values.set(name, entry.expression)
    }
  }
  if (values.size === 0) return null
  return { record, unnest: join.replace(/^CROSS JOIN /, ""), key: keyEntry.expression, values }
}

/** The parameter's value as one expression: its documented field, else every value field as a STRING. */
const parameterValue = (kv: KeyValueRecord, key: string): string => {
  const known = kv.values.get(GA4_PARAM_VALUE_FIELD[key] ?? "")
  if (known !== undefined) return known
  const all = VALUE_FIELDS.flatMap((name) => {
    const expression = kv.values.get(name)
    if (expression === undefined) return []
    return [name === "string_value" ? expression : `CAST(${expression} AS STRING)`]
  })
  return all.length === 1 ? all[0] : `COALESCE(${all.join(", ")})`
}

/** `(SELECT event_param.value.int_value FROM UNNEST(event_params) AS event_param WHERE event_param.key = 'k')`. */
const parameterSubquery = (kv: KeyValueRecord, key: string, value: string): string =>
  `(SELECT ${value} FROM ${kv.unnest} WHERE ${kv.key} = ${stringLiteral(key)})`

// ---------------------------------------------------------------------------------------------
// The templates
// ---------------------------------------------------------------------------------------------

interface Draft {
  readonly generator: string
  readonly wording: Wording
  readonly sql: string
}

export interface TemplateOptions {
  /** Column names never grouped, filtered or shown by value (default: the built-in sensitive-name pattern). */
  readonly sensitiveNamePattern?: RegExp | null
  /** Business names of the table's columns (glossary, aliases). */
  readonly names?: BusinessNames
}

/** Examples for `table`, questions in `language` (Korean unless asked otherwise). */
export const templateExamples = (
  table: TemplateTable,
  language: Language = "ko",
  options: TemplateOptions = {}
): ReadonlyArray<Example> => {
  const sensitive = options.sensitiveNamePattern === undefined ? DEFAULT_SENSITIVE_NAME_PATTERN : options.sensitiveNamePattern
  const { en: labelEn, ko: labelKo } = labelsFor(options.names)
  const ref = tableRefOf(table.table_id)
  const from = quoteTablePath(ref)
  const fields = flattenFields(table.columns)
  const partition = partitionFilterOf(table, fields)
  if (partition === undefined) return []
  const shards = shardWindowOf(table)
  const scope = [shards, partition].filter((f): f is ScopeFilter => f !== null)
  const profile = table.profile
  const entity = entityOf(ref.table)
  const nounKo = entity?.ko ?? "행"
  const nounEn = entity?.en ?? "rows"
  const taken = new Set(table.columns.map((c) => c.name.toLowerCase()))
  const countAlias = freshAlias(`${entity?.singular ?? "row"}_count`, taken)
  const where = (...conditions: ReadonlyArray<string>) => {
    const all = [...scope.map((f) => f.condition), ...conditions]
    return all.length === 0 ? "" : ` WHERE ${all.join(" AND ")}`
  }
  const drafts: Array<Draft> = []

  // Total count.
  drafts.push({
    generator: "template:count_total",
    wording: entity !== null
      ? { ko: `총 ${nounKo} 수는 얼마인가요?`, en: `How many ${nounEn} are there in total` }
      : { ko: `${ref.table} 테이블의 전체 행 수는 얼마인가요?`, en: `How many rows are in the ${ref.table} table` },
    sql: `SELECT COUNT(*) AS ${freshAlias(`total_${entity?.plural ?? "rows"}`, taken)} FROM ${from}${where()}`
  })

  // Distinct users, when a column identifies them.
  const user = userIdColumn(fields)
  if (user !== undefined) {
    drafts.push({
      generator: "template:count_distinct_users",
      wording: {
        ko: `고유 사용자 수(${labelKo(user)} 기준)는 얼마인가요?`,
        en: `How many distinct users (by ${labelEn(user)}) are there`
      },
      sql: `SELECT COUNT(DISTINCT ${quoteFieldPath(user.segments)}) AS ${freshAlias("unique_users", taken)} FROM ${from}${where()}`
    })
  }

  // Breakdown by the most category-like column.
  // Worth grouping by: not a key, free text, personal data, or unique in the profile.
  const categories = categoricalColumns(fields, (f) => topValueOf(profile, f.path) !== undefined).filter((f) =>
    !isIdLike(f.path) && !isFreeText(f.path) && !isSensitivePath(f.path, sensitive) && !isProfileUnique(table, f.path)
  )
  const category = categories[0]
  if (category !== undefined) {
    const q = quoteFieldPath(category.segments)
    drafts.push({
      generator: "template:count_by_category",
      wording: {
        ko: `${nounKo} 수가 가장 많은 ${labelKo(category)} 상위 ${TOP_N}개는 무엇인가요?`,
        en: `Which ${TOP_N} values of ${labelEn(category)} have the most ${nounEn}`
      },
      sql: `SELECT ${q}, COUNT(*) AS ${countAlias} FROM ${from}${where()} GROUP BY ${q} ORDER BY ${countAlias} DESC LIMIT ${TOP_N}`
    })
  }

  const times = timeColumns(fields, table.partitioning?.field ?? null)

  // The total (or, for prices and scores, the average) of the most measure-like column.
  const measure = measureColumns(fields, new Set(times.map((t) => t.field.path)))[0]
  if (measure !== undefined) {
    const averaged = AVERAGED_NAME.test(lastName(measure))
    const name = lastName(measure).toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "")
    const alias = freshAlias(`${averaged ? "average" : "total"}_${name === "" ? "value" : name}`, taken)
    drafts.push({
      generator: averaged ? "template:average_measure" : "template:sum_measure",
      wording: averaged
        ? { ko: `${labelKo(measure)}의 평균은 얼마인가요?`, en: `What is the average ${labelEn(measure)}` }
        : { ko: `${labelKo(measure)}의 합계는 얼마인가요?`, en: `What is the total ${labelEn(measure)}` },
      sql: `SELECT ${averaged ? "AVG" : "SUM"}(${quoteFieldPath(measure.segments)}) AS ${alias} FROM ${from}${where()}`
    })
  }

  // Trend: for a sharded family per shard (what prunes), else over the best time column, per day
  // or per year for a bare year.
  const trend = times[0]
  if (shards !== null) {
    const alias = freshAlias(shards.dated ? "day" : "shard", taken)
    drafts.push({
      generator: "template:trend_by_shard",
      wording: shards.dated
        ? {
          ko: `일별(_TABLE_SUFFIX 샤드 날짜 기준) ${nounKo} 수 추이는 어떻게 되나요?`,
          en: `How many ${nounEn} are there per day, by shard date (_TABLE_SUFFIX)`
        }
        : { ko: `샤드(_TABLE_SUFFIX)별 ${nounKo} 수는 어떻게 되나요?`, en: `How many ${nounEn} are in each shard (_TABLE_SUFFIX)` },
      sql: `SELECT ${shards.dated ? `PARSE_DATE(${stringLiteral("%Y%m%d")}, _TABLE_SUFFIX)` : "_TABLE_SUFFIX"} AS ${alias}, COUNT(*) AS ${countAlias} FROM ${from}${where()} GROUP BY ${alias} ORDER BY ${alias}`
    })
  } else if (trend !== undefined) {
    const day = dayExpression(trend)
    if (day !== null) {
      const dayAlias = freshAlias("day", taken)
      drafts.push({
        generator: "template:trend_daily",
        wording: {
          ko: `${labelKo(trend.field)} 기준 일별 ${nounKo} 수 추이는 어떻게 되나요?`,
          en: `How many ${nounEn} are there per day, by ${labelEn(trend.field)}`
        },
        sql: `SELECT ${day} AS ${dayAlias}, COUNT(*) AS ${countAlias} FROM ${from}${where()} GROUP BY ${dayAlias} ORDER BY ${dayAlias}`
      })
    } else {
      const q = quoteFieldPath(trend.field.segments)
      drafts.push({
        generator: "template:trend_yearly",
        wording: {
          ko: `${labelKo(trend.field)} 기준 연도별 ${nounKo} 수 추이는 어떻게 되나요?`,
          en: `How many ${nounEn} are there per year, by ${labelEn(trend.field)}`
        },
        sql: `SELECT ${q}, COUNT(*) AS ${countAlias} FROM ${from}${where()} GROUP BY ${q} ORDER BY ${q}`
      })
    }
  }

  // Hour of day, from the best column with a time of day.
  const clock = times.find((t) => instantExpression(t) !== null)
  if (clock !== undefined) {
    const instant = instantExpression(clock) ?? ""
    const hourAlias = freshAlias("hour", taken)
    const utc = clock.kind === "DATETIME" ? "" : "(UTC)"
    drafts.push({
      generator: "template:count_by_hour",
      wording: {
        ko: `${labelKo(clock.field)} 기준 시간대${utc}별 ${nounKo} 수는 어떻게 되나요?`,
        en: `How many ${nounEn} fall in each hour of the day${utc === "" ? "" : " (UTC)"}, by ${labelEn(clock.field)}`
      },
      sql: `SELECT EXTRACT(HOUR FROM ${instant}) AS ${hourAlias}, COUNT(*) AS ${countAlias} FROM ${from}${where()} GROUP BY ${hourAlias} ORDER BY ${hourAlias}`
    })
  }

  // Filters: a value the profile saw in a category column (another than the breakdown's when
  // there is one), a boolean flag, and otherwise a category that is set.
  const valued = categories.flatMap((field) => {
    const value = topValueOf(profile, field.path)
    return value === undefined ? [] : [{ field, value }]
  })
  const topFilter = valued.find((v) => v.field !== category) ?? valued[0]
  if (topFilter !== undefined) {
    const { field, value } = topFilter
    drafts.push({
      generator: "template:filter_top_value",
      wording: {
        ko: `${labelKo(field)} 값이 "${value}"인 ${nounKo} 수는 얼마인가요?`,
        en: `How many ${nounEn} have ${labelEn(field)} equal to "${value}"`
      },
      sql: `SELECT COUNT(*) AS ${countAlias} FROM ${from}${where(`${quoteFieldPath(field.segments)} = ${stringLiteral(value)}`)}`
    })
  }
  const flag = fields.find((f) => isBoolean(f) && isSingle(f))
  // "Rows that have a value" is worth asking only of a column the profile shows sparse.
  const present = categories.find((f) => f !== category && f.mode !== "REQUIRED" && isProfileSparse(table, f.path)) ??
    (category !== undefined && category.mode !== "REQUIRED" && isProfileSparse(table, category.path) ? category : undefined)
  if (flag !== undefined) {
    const q = quoteFieldPath(flag.segments)
    drafts.push({
      generator: "template:filter_boolean",
      wording: {
        ko: `${labelKo(flag)} 값이 TRUE인 ${nounKo} 수는 얼마인가요?`,
        en: `How many ${nounEn} have ${labelEn(flag)} set to TRUE`
      },
      sql: `SELECT COUNT(*) AS ${countAlias} FROM ${from}${where(`${q} IS TRUE`)}`
    })
  } else if (topFilter === undefined && present !== undefined) {
    const q = quoteFieldPath(present.segments)
    drafts.push({
      generator: "template:filter_not_null",
      wording: {
        ko: `${labelKo(present)} 값이 있는 ${nounKo} 수는 얼마인가요?`,
        en: `How many ${nounEn} have a ${labelEn(present)} value`
      },
      sql: `SELECT COUNT(*) AS ${countAlias} FROM ${from}${where(`${q} IS NOT NULL`)}`
    })
  }

  // Into each REPEATED RECORD (GA4 event_params, items), with the aliases field_paths uses: its
  // most frequent category-like value and, for a key/value record whose keys the profile knows,
  // one parameter's values (or GA4 sessions).
  const entries = new Map(
    (table.field_paths !== undefined && table.field_paths.length > 0 ? table.field_paths : fieldPathEntries(table.columns))
      .map((e) => [e.path, e])
  )
  const frequency = freshAlias("occurrences", taken)
  for (const record of fields) {
    if (record.mode !== "REPEATED" || record.repeated.length !== 1 || !isRecordField(record)) continue
    const children = fields.filter((f) =>
      f.depth === record.depth + 1 && f.segments.slice(0, -1).join("\u0000") === record.segments.join("\u0000") &&
      f.mode !== "REPEATED" && isString(f)
    )
    const ranked = children
      .map((field, index) => ({ field, index, score: lastName(field).toLowerCase() === "key" ? 4 : categoryScore(field) }))
      .filter((c) => c.score > 0)
      .sort((a, b) => b.score - a.score || a.index - b.index)
    const child = ranked[0]?.field
    const entry = child === undefined ? undefined : entries.get(child.path)
    if (child === undefined || entry === undefined) continue
    const value = entry.expression
    drafts.push({
      generator: "template:unnest_top_values",
      wording: {
        ko: `${labelKo(record)}의 ${lastName(child)} 값 중 가장 많이 나타나는 상위 ${TOP_N}개는 무엇인가요?`,
        en: `What are the ${TOP_N} most frequent ${lastName(child)} values in ${labelEn(record)}`
      },
      sql: `SELECT ${value}, COUNT(*) AS ${frequency} FROM ${from} ${entry.joins.join(" ")}${where()} GROUP BY ${value} ORDER BY ${frequency} DESC LIMIT ${TOP_N}`
    })

    const kv = keyValueRecordOf(record, fields, entries)
    if (kv === null) continue
    const keys = topValuesOf(profile, `${record.path}.key`)
    const sessionValue = kv.values.get("int_value")
    if (keys.includes("ga_session_id") && sessionValue !== undefined && user !== undefined) {
      // GA4 sessions: a session id is unique per user, so a session is the pair.
      const userText = isString(user) ? quoteFieldPath(user.segments) : `CAST(${quoteFieldPath(user.segments)} AS STRING)`
      const session = `CAST(${parameterSubquery(kv, "ga_session_id", sessionValue)} AS STRING)`
      drafts.push({
        generator: "template:count_sessions",
        wording: {
          ko: `세션 수(${user.path}와 ${record.path}의 ga_session_id 기준)는 얼마인가요?`,
          en: `How many sessions (${user.path} with the ga_session_id of ${record.path}) are there`
        },
        sql: `SELECT COUNT(DISTINCT CONCAT(${userText}, ${session})) AS ${freshAlias("sessions", taken)} FROM ${from}${where()}`
      })
    }
    // A parameter worth grouping by: not an identifier, text rather than a number when one is.
    const groupable = keys.filter((k) => !/(^|_)(id|timestamp)$/i.test(k))
    const key = groupable.find((k) => GA4_PARAM_VALUE_FIELD[k] !== "int_value") ?? groupable[0]
    if (key !== undefined) {
      const base = key.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "")
      const alias = freshAlias(/^[a-z]/.test(base) ? base : "param_value", taken)
      drafts.push({
        generator: "template:unnest_value_by_key",
        wording: {
          ko: `${record.path}의 key가 "${key}"인 값 중 ${nounKo} 수가 가장 많은 상위 ${TOP_N}개는 무엇인가요?`,
          en: `Which ${TOP_N} values of the "${key}" entry of ${record.path} have the most ${nounEn}`
        },
        sql: `SELECT ${parameterSubquery(kv, key, parameterValue(kv, key))} AS ${alias}, COUNT(*) AS ${countAlias} FROM ${from}${where()} GROUP BY ${alias} ORDER BY ${countAlias} DESC LIMIT ${TOP_N}`
      })
    }
  }

  // Deeply nested leaves, reached through their whole UNNEST chain: one per chain length, the
  // deepest first, so a model sees how each level is reached from the alias of the one above it.
  const byChain = new Map<number, FieldPath>()
  for (const field of fields) {
    const entry = entries.get(field.path)
    if (entry === undefined || isRecordField(field) || field.mode === "REPEATED") continue
    if (field.depth < 2 && field.repeated.length < 2) continue
    if (isSensitivePath(field.path, sensitive) || isFreeText(field.path)) continue
    const chain = entry.joins.length
    const known = byChain.get(chain)
    if (known === undefined || field.depth > known.depth) byChain.set(chain, field)
  }
  const nestedAlias = freshAlias("entries", taken)
  for (const chain of [...byChain.keys()].sort((a, b) => b - a).slice(0, NESTED_EXAMPLES)) {
    const field = byChain.get(chain)!
    const entry = entries.get(field.path)!
    const parent = field.segments.slice(0, -1).join(".")
    const joins = entry.joins.length > 0 ? ` ${entry.joins.join(" ")}` : ""
    const groupable = isString(field) && !isIdLike(field.path) && categoryScore(field) > 0
    if (groupable) {
      drafts.push({
        generator: "template:nested_leaf_top_values",
        wording: {
          ko: `${parent}의 ${lastName(field)} 값 중 가장 많이 나타나는 상위 ${TOP_N}개는 무엇인가요?`,
          en: `What are the ${TOP_N} most frequent ${lastName(field)} values under ${parent}`
        },
        sql: `SELECT ${entry.expression} AS ${freshAlias("value", taken)}, COUNT(*) AS ${nestedAlias} FROM ${from}${joins}${where()} GROUP BY 1 ORDER BY ${nestedAlias} DESC LIMIT ${TOP_N}`
      })
    } else if (isNumeric(field) && !isIdLike(field.path)) {
      drafts.push({
        generator: "template:nested_leaf_sum",
        wording: { ko: `${parent}의 ${lastName(field)} 합계는 얼마인가요?`, en: `What is the total ${lastName(field)} under ${parent}` },
        sql: `SELECT SUM(${entry.expression}) AS ${freshAlias("total", taken)} FROM ${from}${joins}${where()}`
      })
    } else {
      drafts.push({
        generator: "template:nested_leaf_count",
        wording: {
          ko: `${parent}에서 ${lastName(field)} 값이 있는 항목은 몇 개인가요?`,
          en: `How many entries under ${parent} have a ${lastName(field)} value`
        },
        sql: `SELECT COUNT(*) AS ${nestedAlias} FROM ${from}${joins}${where(`${entry.expression} IS NOT NULL`)}`
      })
    }
  }

  return drafts.map((draft) => ({
    question: language === "ko"
      ? `${scope.map((f) => f.ko).join("")}${draft.wording.ko}`
      : `${draft.wording.en}${scope.map((f) => f.en).join("")}?`,
    sql: draft.sql,
    tables: [table.table_id],
    source: "template",
    generator: draft.generator,
    language
  }))
}
