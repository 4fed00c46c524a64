/**
 * Few-shot examples made from a table's description alone: no query is run and nothing is
 * guessed about the data, so every filter is one that holds without knowing a value (IS NOT NULL,
 * IS TRUE, a window relative to today). The same table always gives the same examples.
 *
 * A template is skipped when the table has no column that fits it; no column is ever invented.
 */
import type { Example, Language } from "../../contract/CacheDocument.ts"
import { flattenFields, type FieldPath } from "../../contract/Field.ts"
import { tableRefOf } from "../../contract/TableId.ts"
import type { TableMetadata } from "../../services/BigQuery/TableResource.ts"
import { isPlainIdentifier, quoteFieldPath, quoteIdentifier, quoteTablePath, stringLiteral } from "../../sql/Identifiers.ts"

/** How many rows the top-N templates ask for. */
const TOP_N = 10
/** The window, in days, of the filter on a time partition column. */
const RECENT_DAYS = 30

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

/** The rows' noun from the table name (`events_20210131` → events), when it is a known one. */
const entityOf = (tableName: string): Entity | null => {
  const base = tableName.toLowerCase().replace(/_?\d{6,8}$/, "")
  const lastWord = base.split("_").slice(-1)[0] ?? base
  for (const [pattern, entity] of ENTITIES) {
    if (pattern.test(base) || pattern.test(lastWord)) return entity
  }
  return null
}

// ---------------------------------------------------------------------------------------------
// Which columns fit which template
// ---------------------------------------------------------------------------------------------

const HANGUL = /[\u3131-\u318E\uAC00-\uD7A3]/

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
const categoryScore = (field: FieldPath): number => {
  const name = lastName(field)
  if (CATEGORY_NAME.test(name)) return 3
  if (NOT_CATEGORY_NAME.test(name)) return 0
  if (CATEGORY_DESCRIPTION.test(describe(field))) return 2
  return 1
}

/** STRING columns that look like categories, best first (top-level before nested on a tie). */
const categoricalColumns = (fields: ReadonlyArray<FieldPath>): ReadonlyArray<FieldPath> =>
  fields
    .map((field, index) => ({ field, index, score: isString(field) && isSingle(field) ? categoryScore(field) : 0 }))
    .filter((c) => c.score > 0)
    .map((c) => ({ ...c, score: c.score + (c.field.depth === 0 ? 0.5 : 0) }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .map((c) => c.field)

const isNumeric = (field: FieldPath) =>
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
  const text = describe(field).trim().replace(/\.$/, "")
  return text.length === 0 || text.length > maxLength || /[\r\n]/.test(text) ? null : text
}

/** How a question names a column: a short Korean description, else its path. */
const labelKo = (field: FieldPath): string => {
  const description = cleanDescription(field, 30)
  return description !== null && HANGUL.test(description) ? description : field.path
}

/** How an English question names a column: its path, with a short English description. */
const labelEn = (field: FieldPath): string => {
  const description = cleanDescription(field, 40)
  if (description === null || HANGUL.test(description)) return field.path
  return `${field.path} (${description.charAt(0).toLowerCase()}${description.slice(1)})`
}

interface Wording {
  readonly ko: string
  /** Without the final question mark: the partition window may follow. */
  readonly en: string
}

// ---------------------------------------------------------------------------------------------
// SQL pieces
// ---------------------------------------------------------------------------------------------

interface PartitionFilter {
  readonly condition: string
  /** Korean opening, e.g. "최근 30일 동안 ". */
  readonly ko: string
  /** English closing, e.g. " in the last 30 days". */
  readonly en: string
}

const recentWindow = { ko: `최근 ${RECENT_DAYS}일 동안 `, en: ` in the last ${RECENT_DAYS} days` }

/**
 * The filter every example carries when the table is partitioned; `undefined` when the partition
 * column is not among the columns (then no honest example can be written).
 */
const partitionFilterOf = (table: TableMetadata, fields: ReadonlyArray<FieldPath>): PartitionFilter | null | undefined => {
  const partitioning = table.partitioning
  if (partitioning === null) return null
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

/** `base`, or `base_2`, `base_3`, … : a bare alias that no column of the table is called. */
const freshAlias = (base: string, taken: ReadonlySet<string>): string => {
  for (let n = 1; ; n += 1) {
    const candidate = n === 1 ? base : `${base}_${n}`
    if (isPlainIdentifier(candidate) && !taken.has(candidate.toLowerCase())) return candidate
  }
}

const singular = (word: string): string =>
  /ies$/.test(word) ? `${word.slice(0, -3)}y` : /[^s]s$/.test(word) ? word.slice(0, -1) : word

// ---------------------------------------------------------------------------------------------
// The templates
// ---------------------------------------------------------------------------------------------

interface Draft {
  readonly generator: string
  readonly wording: Wording
  readonly sql: string
}

/** Examples for `table`, questions in `language` (Korean unless asked otherwise). */
export const templateExamples = (table: TableMetadata, language: Language = "ko"): ReadonlyArray<Example> => {
  const ref = tableRefOf(table.table_id)
  const from = quoteTablePath(ref)
  const fields = flattenFields(table.columns)
  const partition = partitionFilterOf(table, fields)
  if (partition === undefined) return []
  const entity = entityOf(ref.table)
  const nounKo = entity?.ko ?? "행"
  const nounEn = entity?.en ?? "rows"
  const taken = new Set(table.columns.map((c) => c.name.toLowerCase()))
  const countAlias = freshAlias(`${entity?.singular ?? "row"}_count`, taken)
  const where = (...conditions: ReadonlyArray<string>) => {
    const all = [...(partition === null ? [] : [partition.condition]), ...conditions]
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
  const categories = categoricalColumns(fields)
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

  // Trend over the best time column: per day, or per year for a bare year.
  const trend = times[0]
  if (trend !== undefined) {
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

  // A filter that holds without knowing any value: a boolean flag, else a category that is set.
  const flag = fields.find((f) => isBoolean(f) && isSingle(f))
  const present = categories.find((f) => f !== category && f.mode !== "REQUIRED") ??
    (category !== undefined && category.mode !== "REQUIRED" ? category : undefined)
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
  } else if (present !== undefined) {
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

  // Into each REPEATED RECORD (GA4 event_params, items): its most frequent category-like value.
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
    if (child === undefined) continue
    const localTaken = new Set([...taken, ...children.map((c) => lastName(c).toLowerCase())])
    const word = lastName(record).toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 0).slice(-1)[0] ?? ""
    const alias = freshAlias(isPlainIdentifier(singular(word)) && singular(word) !== "" ? singular(word) : "elem", localTaken)
    const frequency = freshAlias("occurrences", localTaken)
    const value = `${alias}.${quoteIdentifier(lastName(child))}`
    drafts.push({
      generator: "template:unnest_top_values",
      wording: {
        ko: `${labelKo(record)}의 ${lastName(child)} 값 중 가장 많이 나타나는 상위 ${TOP_N}개는 무엇인가요?`,
        en: `What are the ${TOP_N} most frequent ${lastName(child)} values in ${labelEn(record)}`
      },
      sql: `SELECT ${value}, COUNT(*) AS ${frequency} FROM ${from} CROSS JOIN UNNEST(${quoteFieldPath(record.segments)}) AS ${alias}${where()} GROUP BY ${value} ORDER BY ${frequency} DESC LIMIT ${TOP_N}`
    })
  }

  return drafts.map((draft) => ({
    question: language === "ko"
      ? `${partition?.ko ?? ""}${draft.wording.ko}`
      : `${draft.wording.en}${partition?.en ?? ""}?`,
    sql: draft.sql,
    tables: [table.table_id],
    source: "template",
    generator: draft.generator,
    language
  }))
}
