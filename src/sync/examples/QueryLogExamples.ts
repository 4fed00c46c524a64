/**
 * Examples from the query log: the SELECT queries the warehouse's own users ran successfully over
 * the target tables (the rows the relationships step reads from `INFORMATION_SCHEMA.JOBS_BY_PROJECT`,
 * read once for both). They are the best examples a warehouse has: real questions, real joins, the
 * filters people actually need.
 *
 * Each logged query is rewritten from its tokens — comments dropped, every literal scrubbed — then
 * checked by the one validator and grouped by its normalised form; shapes are ranked by how often
 * they ran and by how many people ran them. A literal survives only when it is compared with a
 * column that is neither sensitive (by name or policy tag) nor unprofiled, and the column's profile
 * saw that very value among its few frequent ones (`LIMIT` and `INTERVAL` counts stay too). Every
 * other literal becomes a typed placeholder: `'<column>'` for a string, `0` for a number — values
 * the validator accepts and a reader sees as placeholders. So no value from a sensitive or
 * policy-tagged column, and no value the sync did not already publish in a profile, leaves the log.
 *
 * A pure function of the logged queries and the tables: the same log gives the same examples.
 */
import type { Example, Language } from "../../contract/CacheDocument.ts"
import { type Field, flattenFields, type FieldPath } from "../../contract/Field.ts"
import type { TableId } from "../../contract/TableId.ts"
import { type SqlCatalog, sqlTokens, type Token, validateSql } from "../../sql/SqlValidator.ts"
import { DEFAULT_SENSITIVE_NAME_PATTERN } from "../profiles.ts"
import { words } from "../relationships/infer.ts"
import { type TemplateTable, topValuesOf } from "./TemplateExamples.ts"

/** One logged job: its SQL and who ran it (only ever counted, never kept). */
export interface LoggedQuery {
  readonly query: string
  readonly user: string | null
}

export interface QueryLogExampleOptions {
  readonly language?: Language
  readonly days?: number
  readonly sensitiveNamePattern?: RegExp | null
  /** Most shapes kept per run, the most run first (50). */
  readonly limit?: number
}

const COMPARISON = new Set(["=", "<", ">", "!"])
const SKIP_BACK = new Set(["(", ",", "IN", "NOT", "LIKE", "BETWEEN", "AND", "UNNEST", "["])
const TYPED_STRING = new Set(["DATE", "DATETIME", "TIMESTAMP", "TIME", "NUMERIC", "BIGNUMERIC", "JSON", "INTERVAL", "RANGE"])

/** The column name a literal is compared with: the identifier before the operator (or after, for `'x' = col`). */
const columnOf = (tokens: ReadonlyArray<Token>, at: number): string | null => {
  let i = at - 1
  let sawOperator = false
  while (i >= 0) {
    const t = tokens[i]!
    if (t.kind === "string" || t.kind === "number") i--
    else if (t.kind === "punct" && COMPARISON.has(t.value)) {
      sawOperator = true
      i--
    } else if ((t.kind === "punct" || t.kind === "word") && SKIP_BACK.has(t.value)) i--
    else break
  }
  const t = tokens[i]
  if (sawOperator || tokens[i + 1]?.value === "IN" || tokens[i + 1]?.value === "LIKE" || tokens[i + 1]?.value === "NOT" || tokens[i + 1]?.value === "BETWEEN") {
    if (t !== undefined && (t.kind === "word" || t.kind === "quoted")) return t.kind === "quoted" ? t.value.split(".").pop()! : t.text
  }
  // `'x' = col`
  const next = tokens[at + 1]
  if (next !== undefined && next.kind === "punct" && COMPARISON.has(next.value)) {
    let j = at + 2
    while (tokens[j]?.kind === "punct" && COMPARISON.has(tokens[j]!.value)) j++
    // The last name of a dotted path.
    let k = j
    while (tokens[k + 1]?.value === "." && tokens[k + 2] !== undefined) k += 2
    const last = tokens[k]
    if (last !== undefined && (last.kind === "word" || last.kind === "quoted")) return last.kind === "quoted" ? last.value.split(".").pop()! : last.text
  }
  return null
}

const stringValue = (text: string): string | null => {
  const m = /^(['"])(.*)\1$/s.exec(text)
  return m === null || /\\/.test(m[2]!) ? null : m[2]!
}

interface Column {
  readonly field: FieldPath
  readonly table: TemplateTable
  readonly sensitive: boolean
}

/** Every field of the tables by its last name, lower-cased, with whether it may never be shown. */
const columnIndex = (tables: ReadonlyArray<TemplateTable>, pattern: RegExp | null): Map<string, Array<Column>> => {
  const index = new Map<string, Array<Column>>()
  for (const table of tables) {
    const tagged = new Set<string>()
    // A policy tag on a record covers every field inside it.
    const walk = (fields: ReadonlyArray<Field>, prefix: string, inherited: boolean) => {
      for (const f of fields) {
        const path = prefix === "" ? f.name : `${prefix}.${f.name}`
        const t = inherited || (f.policy_tags?.length ?? 0) > 0
        if (t) tagged.add(path)
        if (f.fields !== undefined) walk(f.fields, path, t)
      }
    }
    walk(table.columns, "", false)
    for (const field of flattenFields(table.columns)) {
      const name = field.segments[field.segments.length - 1]!.toLowerCase()
      const sensitive = tagged.has(field.path) ||
        (pattern !== null && field.segments.some((s) => pattern.test(s) || pattern.test(s.replace(/([a-z0-9])([A-Z])/g, "$1_$2"))))
      index.set(name, [...(index.get(name) ?? []), { field, table, sensitive }])
    }
  }
  return index
}

const placeholderName = (column: string | null) => `<${(column ?? "value").replace(/[^A-Za-z0-9_]/g, "_")}>`

/** The query's tokens written back with every literal scrubbed; `null` when it cannot be tokenised. */
export const scrubLiterals = (
  sql: string,
  tables: ReadonlyArray<TemplateTable>,
  pattern: RegExp | null = DEFAULT_SENSITIVE_NAME_PATTERN
): string | null => {
  const tokens = sqlTokens(sql)
  if (tokens === null || tokens.length === 0) return null
  const index = columnIndex(tables, pattern)
  const out: Array<string> = []
  tokens.forEach((t, i) => {
    let text = t.text
    const previous = tokens[i - 1]
    if (t.kind === "string" && previous?.kind === "string") return // adjacent literals are one: scrubbed with the first
    if (t.kind === "string") {
      const typed = previous?.kind === "word" && TYPED_STRING.has(previous.value)
      const column = columnOf(tokens, i)
      const candidates = column === null ? [] : index.get(column.toLowerCase()) ?? []
      const value = stringValue(t.text)
      const known = value !== null && tokens[i + 1]?.kind !== "string" && candidates.length > 0 && candidates.every((c) => !c.sensitive) &&
        candidates.some((c) => topValuesOf(c.table.profile, c.field.path).includes(value))
      if (typed) text = previous.value === "DATE" ? "'2000-01-01'" : previous.value === "TIMESTAMP" || previous.value === "DATETIME" ? "'2000-01-01 00:00:00'" : previous.value === "TIME" ? "'00:00:00'" : "'0'"
      else if (!known) text = `'${placeholderName(column)}'`
    } else if (t.kind === "number") {
      const kept = previous?.kind === "word" && ["LIMIT", "INTERVAL", "OFFSET"].includes(previous.value) ||
        // Ordinals: GROUP BY 1, 2 / ORDER BY 1.
        /^\d+$/.test(t.text) && /^(BY|,)$/.test(previous?.value ?? "") && tokens.slice(Math.max(0, i - 12), i).some((x) => x.value === "BY")
      const column = columnOf(tokens, i)
      if (!kept || column !== null) text = /[.eE]/.test(t.text) ? "0.0" : "0"
    }
    // The source's own spacing between tokens; a gap that held a comment becomes one space.
    const gap = i === 0 ? "" : sql.slice(tokens[i - 1]!.start + tokens[i - 1]!.text.length, t.start)
    out.push(gap === "" ? text : ` ${text}`)
  })
  return out.join("")
}

/** A stable, short fingerprint of a user, so people are counted without being kept. */
const fingerprint = (user: string) => {
  let h = 2166136261
  for (let i = 0; i < user.length; i++) h = Math.imul(h ^ user.charCodeAt(i), 16777619)
  return (h >>> 0).toString(36)
}

const nameOf = (id: string) => id.slice(id.lastIndexOf(".") + 1)
const phrase = (name: string) => words(name).join(" ")

/** What a query computes, in a sentence: its aggregates, tables, groups and filtered columns. */
const describeQuery = (sql: string, tables: ReadonlyArray<string>, language: Language): string => {
  const tokens = sqlTokens(sql) ?? []
  const aggregates = new Set<string>()
  const groups: Array<string> = []
  const filters = new Set<string>()
  let clause = ""
  tokens.forEach((t, i) => {
    if (t.kind === "word" && ["SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "JOIN", "ON", "QUALIFY"].includes(t.value)) clause = t.value
    if (t.kind === "word" && tokens[i + 1]?.value === "(" && ["COUNT", "SUM", "AVG", "MIN", "MAX"].includes(t.value)) aggregates.add(t.value)
    const name = t.kind === "word" || t.kind === "quoted" ? (t.kind === "quoted" ? t.value.split(".").pop()! : t.text) : null
    if (name === null || tokens[i + 1]?.value === "." || tokens[i + 1]?.value === "(") return
    if (["GROUP", "BY", "WHERE", "AND", "OR", "NOT"].includes(t.value)) return
    if (clause === "GROUP" && !groups.includes(name)) groups.push(name)
    if (clause === "WHERE" && tokens[i + 1]?.kind === "punct" && COMPARISON.has(tokens[i + 1]!.value)) filters.add(name)
    if (clause === "WHERE" && ["IN", "LIKE", "BETWEEN", "IS"].includes(tokens[i + 1]?.value ?? "")) filters.add(name)
  })
  const en: Record<string, string> = { COUNT: "the number", SUM: "the total", AVG: "the average", MIN: "the smallest", MAX: "the largest" }
  const ko: Record<string, string> = { COUNT: "건수", SUM: "합계", AVG: "평균", MIN: "최솟값", MAX: "최댓값" }
  const tablesText = tables.map((t) => phrase(nameOf(t))).join(language === "ko" ? ", " : " and ")
  const groupText = groups.filter((g) => !/^\d+$/.test(g)).map(phrase)
  const filterText = [...filters].map(phrase)
  if (language === "ko") {
    const what = aggregates.size > 0 ? [...aggregates].map((a) => ko[a]).join(", ") : "목록"
    return `${tablesText}에서 ${groupText.length > 0 ? `${groupText.join(", ")}별 ` : ""}${filterText.length > 0 ? `${filterText.join(", ")} 조건으로 ` : ""}${what}을(를) 구하면 어떻게 되나요?`
  }
  const what = aggregates.size > 0 ? [...aggregates].map((a) => en[a]).join(" and ") : "the rows"
  return `What is ${what} of ${tablesText}${groupText.length > 0 ? ` by ${groupText.join(", ")}` : ""}${filterText.length > 0 ? `, filtered on ${filterText.join(", ")}` : ""}?`
}

/** The logged queries as examples: scrubbed, validated, grouped by shape, most run (then by most people) first. */
export const queryLogExamples = (
  logged: ReadonlyArray<LoggedQuery>,
  tables: ReadonlyArray<TemplateTable>,
  options: QueryLogExampleOptions = {}
): ReadonlyArray<Example> => {
  const language = options.language ?? "ko"
  const pattern = options.sensitiveNamePattern === undefined ? DEFAULT_SENSITIVE_NAME_PATTERN : options.sensitiveNamePattern
  const catalog: SqlCatalog = { tables }
  const shapes = new Map<string, { sql: string; tables: ReadonlyArray<TableId>; runs: number; users: Set<string>; first: number }>()
  logged.forEach((entry, order) => {
    const scrubbed = scrubLiterals(entry.query, tables, pattern)
    if (scrubbed === null) return
    const verdict = validateSql(scrubbed, catalog)
    if (verdict._tag === "Left") return
    const key = verdict.right.normalized
    const shape = shapes.get(key) ?? { sql: scrubbed, tables: verdict.right.tables, runs: 0, users: new Set<string>(), first: order }
    shape.runs++
    if (entry.user !== null) shape.users.add(fingerprint(entry.user))
    shapes.set(key, shape)
  })
  const days = options.days
  return [...shapes.values()]
    .sort((a, b) => b.runs - a.runs || b.users.size - a.users.size || a.first - b.first)
    .slice(0, options.limit ?? 50)
    .map((shape): Example => ({
      question: describeQuery(shape.sql, shape.tables, language),
      sql: shape.sql,
      tables: [...shape.tables],
      source: "template",
      generator: `query_log:${shape.runs} ${shape.runs === 1 ? "run" : "runs"} by ${shape.users.size} ${shape.users.size === 1 ? "user" : "users"}${days === undefined ? "" : ` in ${days} days`}`,
      language
    }))
}
