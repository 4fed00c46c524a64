/**
 * Join examples: for each high-confidence relationship between two tables of the document, the
 * questions that need the join — a parent attribute by the child's counts and measures, the
 * parents that have no child, the average number of children per parent attribute — and, for a
 * table that links two parents (a bridge such as `writes(aid, pid)`), one parent's attribute by the
 * number of distinct rows of the other.
 *
 * Aggregates stay right across one-to-many joins: a child row meets at most one parent, so the
 * child's counts and sums grouped by a parent attribute are counted once; across a bridge the far
 * side is counted with `COUNT(DISTINCT key)`; a per-parent figure is aggregated in a subquery before
 * it is joined. A parent's own measure is never summed over its children.
 *
 * Grouping and filtering use only attributes an analyst groups by: never a key or id-like column,
 * free text, or a column whose name is sensitive (`SENSITIVE_COLUMN_PATTERN`). A value appears in a
 * filter only when the parent's profile saw it.
 *
 * The same tables and relationships always give the same examples (a pure function).
 */
import type { Example, Language } from "../../contract/CacheDocument.ts"
import type { Relationship } from "../../contract/Relationship.ts"
import { flattenFields, type FieldPath } from "../../contract/Field.ts"
import { type TableId, tableRefOf as refOf } from "../../contract/TableId.ts"

const tableRefOf = (id: string) => refOf(id as TableId)
import { isPlainIdentifier, quoteIdentifier, quoteTablePath, stringLiteral } from "../../sql/Identifiers.ts"
import { DEFAULT_SENSITIVE_NAME_PATTERN } from "../profiles.ts"
import { isFreeText, isIdLike, isProfileUnique, isSensitivePath as isSensitive } from "./ColumnRoles.ts"
import { singular, words } from "../relationships/infer.ts"
import {
  categoryScore,
  freshAlias,
  isNumeric,
  type BusinessNames,
  labelsFor,
  type TemplateTable,
  topValueOf
} from "./TemplateExamples.ts"

/** Relationships below this confidence give no example: a wrong join taught is worse than none. */
export const JOIN_MIN_CONFIDENCE = 0.7
const TOP_N = 10

export interface JoinOptions {
  /** Business names of columns, by table id then path (glossary, aliases). */
  readonly names?: ReadonlyMap<string, BusinessNames>
  readonly minConfidence?: number
  /** Column names never grouped or filtered by (default: the built-in sensitive-name pattern). */
  readonly sensitiveNamePattern?: RegExp | null
}

/** Whether grouping by the column says something: a top-level STRING that is not a key, free text, unique or sensitive. */
export const isGroupable = (table: TemplateTable, field: FieldPath, sensitive: RegExp | null): boolean =>
  field.depth === 0 && field.mode !== "REPEATED" && field.type.toUpperCase() === "STRING" &&
  !isIdLike(field.path) && !isFreeText(field.path) && !isSensitive(field.path, sensitive) &&
  (!isProfileUnique(table, field.path) || /(^|_)name$/i.test(words(field.path).join("_")))

/** The attribute a parent is best named or grouped by: a name first, then a category. */
const attributeOf = (table: TemplateTable, sensitive: RegExp | null, exclude: ReadonlySet<string>): FieldPath | undefined =>
  flattenFields(table.columns)
    .map((field, index) => ({ field, index }))
    .filter(({ field }) => !exclude.has(field.path.toLowerCase()) && isGroupable(table, field, sensitive))
    .map(({ field, index }) => {
      const ws = words(field.path)
      const named = ws[ws.length - 1] === "name" || ws[ws.length - 1] === "title" ? 4 : 0
      return { field, index, score: named + categoryScore(field) + (topValueOf(table.profile, field.path) !== undefined ? 1 : 0) }
    })
    .sort((a, b) => b.score - a.score || a.index - b.index)[0]?.field

/** A category-like attribute (not a name): what a breakdown groups by. */
const categoryOf = (table: TemplateTable, sensitive: RegExp | null, exclude: ReadonlySet<string>): FieldPath | undefined =>
  flattenFields(table.columns)
    .map((field, index) => ({ field, index }))
    .filter(({ field }) => !exclude.has(field.path.toLowerCase()) && isGroupable(table, field, sensitive) && !/name$|title$/i.test(words(field.path).join("_")))
    .map(({ field, index }) => ({ field, index, score: categoryScore(field) + (topValueOf(table.profile, field.path) !== undefined ? 2 : 0) }))
    .filter((c) => c.score >= 2)
    .sort((a, b) => b.score - a.score || a.index - b.index)[0]?.field

const MEASURE_WORDS = /(^|_)(amount|price|revenue|total|cost|sales|spend|profit|quantity|qty|fee|fare|paid|value|balance|salary|budget|score|rating|duration|citations?|credits?)$/
/** A numeric child column worth summing or averaging. */
const measureOf = (table: TemplateTable, exclude: ReadonlySet<string>): FieldPath | undefined =>
  flattenFields(table.columns).find((field) =>
    field.depth === 0 && field.mode !== "REPEATED" && isNumeric(field) && !exclude.has(field.path.toLowerCase()) &&
    !isIdLike(field.path) && MEASURE_WORDS.test(words(field.path).join("_"))
  )

const AVERAGED = /(price|score|rating|rate|ratio|percent|age)$/

/** How a question names a table's rows: its name as words, without a prefix every word of which is short (`sb`). */
const nounOf = (tableId: string): string => {
  const ws = words(tableRefOf(tableId).table)
  const trimmed = ws.length > 1 && (ws[0] ?? "").length <= 2 ? ws.slice(1) : ws
  return trimmed.join(" ")
}
/** `author` → `authors`, `city` → `cities`; a plural (`sales`, `writes`) stays. */
const plural = (noun: string): string => {
  const ws = noun.split(" ")
  const last = ws[ws.length - 1] ?? ""
  if (last === "" || singular(last) !== last || /s$/.test(last)) return noun
  const p = /[^aeiou]y$/.test(last) ? `${last.slice(0, -1)}ies` : /(x|ch|sh)$/.test(last) ? `${last}es` : `${last}s`
  return [...ws.slice(0, -1), p].join(" ")
}
const isNameLike = (field: FieldPath) => /(^|_)(name|title)$/.test(words(field.path).join("_"))
const snake = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "")

/** A short alias from a table's initials (`course_offering` → `co`), never a keyword or one taken. */
const aliasFor = (tableId: string, taken: Set<string>): string => {
  const initials = words(tableRefOf(tableId).table).map((w) => w[0]).join("") || "t"
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? initials : `${initials}${n}`
    if (isPlainIdentifier(candidate) && !taken.has(candidate) && !/^(as|at|by|if|in|is|of|on|or|to|no|all|and|any|asc|end|for|not|set|cross|join|full|left|new|row|with|hash)$/i.test(candidate)) {
      taken.add(candidate)
      return candidate
    }
  }
}

/** A table an example may read without a filter the join cannot carry: not sharded, no partition filter required. */
const joinable = (table: TemplateTable | undefined): table is TemplateTable =>
  table !== undefined && table.partitioning?.require_partition_filter !== true && (table.sharding ?? null) === null &&
  !tableRefOf(table.table_id).table.includes("*")

const topLevel = (table: TemplateTable, column: string) =>
  table.columns.find((c) => c.name.toLowerCase() === column.toLowerCase() && c.mode !== "REPEATED")

const col = (alias: string, field: FieldPath | string) =>
  `${alias}.${quoteIdentifier(typeof field === "string" ? field : field.path)}`

interface Draft {
  readonly generator: string
  readonly ko: string
  readonly en: string
  readonly sql: string
  readonly tables: ReadonlyArray<string>
}

/** The relationships examples are made from: confident, between two joinable tables, on top-level columns; one per table pair. */
const usableRelationships = (
  byId: ReadonlyMap<string, TemplateTable>,
  relationships: ReadonlyArray<Relationship>,
  minConfidence: number
): ReadonlyArray<Relationship> => {
  const best = new Map<string, Relationship>()
  for (const r of relationships) {
    const child = byId.get(r.from.table_id)
    const parent = byId.get(r.to.table_id)
    if (r.confidence < minConfidence || !joinable(child) || !joinable(parent) || child === parent) continue
    // Which side is the parent must be known: a logged join whose direction nothing told is left out.
    if (r.cardinality === null && r.source === "query_log") continue
    if (r.from.columns.length !== r.to.columns.length) continue
    if (!r.from.columns.every((c) => topLevel(child, c)) || !r.to.columns.every((c) => topLevel(parent, c))) continue
    const key = `${r.from.table_id}\u0000${r.to.table_id}`
    const known = best.get(key)
    if (known === undefined || r.confidence > known.confidence) best.set(key, r)
  }
  return [...best.values()].sort((a, b) =>
    `${a.from.table_id}.${a.from.columns.join()}>${a.to.table_id}`.localeCompare(`${b.from.table_id}.${b.from.columns.join()}>${b.to.table_id}`)
  )
}


/** Examples that need the joins of `relationships` between `tables`, questions in `language`. */
export const joinExamples = (
  tables: ReadonlyArray<TemplateTable>,
  relationships: ReadonlyArray<Relationship>,
  language: Language = "ko",
  options: JoinOptions = {}
): ReadonlyArray<Example> => {
  const sensitive = options.sensitiveNamePattern === undefined ? DEFAULT_SENSITIVE_NAME_PATTERN : options.sensitiveNamePattern
  const byId = new Map(tables.map((t) => [t.table_id as string, t]))
  const labelOf = (table: TemplateTable, lang: Language, field: FieldPath) => {
    const labels = labelsFor(options.names?.get(table.table_id))
    return lang === "ko" ? labels.ko(field) : labels.en(field)
  }
  const usable = usableRelationships(byId, relationships, options.minConfidence ?? JOIN_MIN_CONFIDENCE)
  const drafts: Array<Draft> = []

  for (const r of usable) {
    const child = byId.get(r.from.table_id)!
    const parent = byId.get(r.to.table_id)!
    const aliases = new Set<string>()
    const c = aliasFor(child.table_id, aliases)
    const p = aliasFor(parent.table_id, aliases)
    const on = r.from.columns.map((fk, i) => `${col(c, fk)} = ${col(p, r.to.columns[i]!)}`).join(" AND ")
    const from = `${quoteTablePath(tableRefOf(child.table_id))} AS ${c} JOIN ${quoteTablePath(tableRefOf(parent.table_id))} AS ${p} ON ${on}`
    const childNoun = plural(nounOf(child.table_id))
    const parentNoun = plural(nounOf(parent.table_id))
    const taken = new Set([...child.columns, ...parent.columns].map((x) => x.name.toLowerCase()))
    const countAlias = freshAlias(`${snake(childNoun.split(" ").map(singular).join("_")) || "row"}_count`, taken)
    const keys = new Set([...r.from.columns, ...r.to.columns].map((x) => x.toLowerCase()))
    const pair = [child.table_id, parent.table_id]
    const name = attributeOf(parent, sensitive, keys)
    const category = categoryOf(parent, sensitive, keys)
    const measure = measureOf(child, keys)

    // The parents with the most children (or the largest child total), each child aggregated per
    // parent before the join: one row per parent, so nothing is counted twice.
    const shown = [...r.to.columns.map((k) => col(p, k)), ...(name !== undefined && isNameLike(name) ? [col(p, name)] : [])]
    const fkList = r.from.columns.map((fk) => quoteIdentifier(fk)).join(", ")
    const perParent = freshAlias("per_parent", taken)
    const onAgg = r.from.columns.map((fk, i) => `${perParent}.${quoteIdentifier(fk)} = ${col(p, r.to.columns[i]!)}`).join(" AND ")
    const childTable = quoteTablePath(tableRefOf(child.table_id))
    const parentTable = quoteTablePath(tableRefOf(parent.table_id))
    const byName = name !== undefined && isNameLike(name) ? ` (${language === "ko" ? labelOf(parent, "ko", name) : `with their ${labelOf(parent, "en", name)}`})` : ""
    drafts.push({
      generator: "join:top_parents_by_child_count",
      ko: `${childNoun} 수가 가장 많은 ${parentNoun} 상위 ${TOP_N}개${byName}는 무엇인가요?`,
      en: `Which ${TOP_N} ${parentNoun}${byName} have the most ${childNoun}, and how many each?`,
      sql: `SELECT ${shown.join(", ")}, IFNULL(${perParent}.${countAlias}, 0) AS ${countAlias} FROM ${parentTable} AS ${p} ` +
        `LEFT JOIN (SELECT ${fkList}, COUNT(*) AS ${countAlias} FROM ${childTable} GROUP BY ${fkList}) AS ${perParent} ON ${onAgg} ` +
        `ORDER BY ${countAlias} DESC LIMIT ${TOP_N}`,
      tables: [parent.table_id, child.table_id]
    })
    if (measure !== undefined && !AVERAGED.test(words(measure.path).join("_"))) {
      const total = freshAlias(`total_${snake(words(measure.path).join("_"))}`, taken)
      drafts.push({
        generator: "join:top_parents_by_child_total",
        ko: `${childNoun}의 ${labelOf(child, "ko", measure)} 합계가 가장 큰 ${parentNoun} 상위 ${TOP_N}개${byName}는 무엇인가요?`,
        en: `Which ${TOP_N} ${parentNoun}${byName} have the highest total ${labelOf(child, "en", measure)} of their ${childNoun}?`,
        sql: `SELECT ${shown.join(", ")}, ${perParent}.${total} FROM ${parentTable} AS ${p} ` +
          `JOIN (SELECT ${fkList}, SUM(${quoteIdentifier(measure.path)}) AS ${total} FROM ${childTable} GROUP BY ${fkList}) AS ${perParent} ON ${onAgg} ` +
          `ORDER BY ${total} DESC LIMIT ${TOP_N}`,
        tables: [parent.table_id, child.table_id]
      })
    }
    if (category !== undefined && measure === undefined) {
      drafts.push({
        generator: "join:child_count_by_parent_category",
        ko: `${parentNoun}의 ${labelOf(parent, "ko", category)}별 ${childNoun} 수는 얼마인가요?`,
        en: `How many ${childNoun} are there for each ${labelOf(parent, "en", category)} of their ${parentNoun}?`,
        sql: `SELECT ${col(p, category)}, COUNT(*) AS ${countAlias} FROM ${from} GROUP BY ${col(p, category)} ORDER BY ${countAlias} DESC`,
        tables: pair
      })
    }
    const breakdown = category ?? name
    if (breakdown !== undefined && measure !== undefined) {
      const averaged = AVERAGED.test(words(measure.path).join("_"))
      const fn = averaged ? "AVG" : "SUM"
      const measureAlias = freshAlias(`${averaged ? "average" : "total"}_${snake(words(measure.path).join("_"))}`, taken)
      drafts.push({
        generator: "join:parent_attribute_by_child_measure",
        ko: `${parentNoun}의 ${labelOf(parent, "ko", breakdown)}별 ${childNoun}의 ${labelOf(child, "ko", measure)} ${averaged ? "평균" : "합계"}와 건수는 얼마인가요?`,
        en: `What is the ${averaged ? "average" : "total"} ${labelOf(child, "en", measure)} and number of ${childNoun} for each ${labelOf(parent, "en", breakdown)} of the ${parentNoun}?`,
        sql: `SELECT ${col(p, breakdown)}, ${fn}(${col(c, measure)}) AS ${measureAlias}, COUNT(*) AS ${countAlias} FROM ${from} GROUP BY ${col(p, breakdown)} ORDER BY ${measureAlias} DESC`,
        tables: pair
      })
    }
    if (category !== undefined) {
      const value = topValueOf(parent.profile, category.path)
      if (value !== undefined) {
        drafts.push({
          generator: "join:child_filtered_by_parent",
          ko: `${parentNoun}의 ${labelOf(parent, "ko", category)} 값이 "${value}"인 ${childNoun} 수는 얼마인가요?`,
          en: `How many ${childNoun} belong to ${parentNoun} whose ${labelOf(parent, "en", category)} is "${value}"?`,
          sql: `SELECT COUNT(*) AS ${countAlias} FROM ${from} WHERE ${col(p, category)} = ${stringLiteral(value)}`,
          tables: pair
        })
      } else {
        // Aggregate before the join: one row per parent, so the average is over parents.
        const n = freshAlias(`${snake(childNoun)}_per_${snake(parentNoun)}`.replace(/^_+/, "") || "children", taken)
        drafts.push({
          generator: "join:average_children_per_parent",
          ko: `${parentNoun}의 ${labelOf(parent, "ko", category)}별로 ${parentNoun} 하나당 평균 ${childNoun} 수는 얼마인가요?`,
          en: `On average, how many ${childNoun} does one ${parentNoun} have, for each ${labelOf(parent, "en", category)}?`,
          sql: `SELECT ${col(p, category)}, AVG(IFNULL(${perParent}.${countAlias}, 0)) AS ${n} ` +
            `FROM ${quoteTablePath(tableRefOf(parent.table_id))} AS ${p} LEFT JOIN ` +
            `(SELECT ${fkList}, COUNT(*) AS ${countAlias} FROM ${quoteTablePath(tableRefOf(child.table_id))} GROUP BY ${fkList}) AS ${perParent} ` +
            `ON ${onAgg} GROUP BY ${col(p, category)} ORDER BY ${n} DESC`,
          tables: [parent.table_id, child.table_id]
        })
      }
    }
    // Parents without a child: NOT EXISTS, which no fan-out can disturb.
    const parentCount = freshAlias(`${snake(parentNoun.split(" ").map(singular).join("_")) || "row"}_count`, taken)
    drafts.push({
      generator: "join:parents_without_children",
      ko: `${childNoun}이(가) 하나도 없는 ${parentNoun}은(는) 몇 개인가요?`,
      en: `How many ${parentNoun} have no ${childNoun}?`,
      sql: `SELECT COUNT(*) AS ${parentCount} FROM ${quoteTablePath(tableRefOf(parent.table_id))} AS ${p} WHERE NOT EXISTS ` +
        `(SELECT 1 FROM ${quoteTablePath(tableRefOf(child.table_id))} AS ${c} WHERE ${on})`,
      tables: [parent.table_id, child.table_id]
    })
  }

  // Bridges: a child of two parents links them many-to-many; the far side is counted distinct.
  const byChild = new Map<string, Array<Relationship>>()
  for (const r of usable) byChild.set(r.from.table_id, [...(byChild.get(r.from.table_id) ?? []), r])
  for (const [bridgeId, out] of byChild) {
    for (let i = 0; i < out.length; i++) {
      for (let j = 0; j < out.length; j++) {
        const near = out[i]!
        const far = out[j]!
        if (i === j || near.to.table_id === far.to.table_id) continue
        const bridge = byId.get(bridgeId)!
        const a = byId.get(near.to.table_id)!
        const b = byId.get(far.to.table_id)!
        const name = attributeOf(a, sensitive, new Set(near.to.columns.map((x) => x.toLowerCase())))
        const aliases = new Set<string>()
        const pa = aliasFor(a.table_id, aliases)
        const br = aliasFor(bridge.table_id, aliases)
        const pb = aliasFor(b.table_id, aliases)
        const onA = near.from.columns.map((fk, k) => `${col(br, fk)} = ${col(pa, near.to.columns[k]!)}`).join(" AND ")
        const onB = far.from.columns.map((fk, k) => `${col(pb, far.to.columns[k]!)} = ${col(br, fk)}`).join(" AND ")
        const farKey = far.to.columns.map((k) => col(pb, k))
        const distinct = farKey.length === 1 ? farKey[0]! : `TO_JSON_STRING(STRUCT(${farKey.join(", ")}))`
        const aNoun = plural(nounOf(a.table_id))
        const bNoun = plural(nounOf(b.table_id))
        const taken = new Set([...a.columns, ...b.columns, ...bridge.columns].map((x) => x.name.toLowerCase()))
        const alias = freshAlias(`${snake(bNoun.split(" ").map(singular).join("_")) || "row"}_count`, taken)
        const bridgeNoun = nounOf(bridgeId)
        if (name !== undefined && !isNameLike(name)) {
          drafts.push({
            generator: "join:bridge_distinct_count",
            ko: `${aNoun}의 ${labelOf(a, "ko", name)}별 ${bNoun} 수(중복 제외, ${bridgeNoun} 경유) 상위 ${TOP_N}개는 무엇인가요?`,
            en: `Which ${TOP_N} values of ${labelOf(a, "en", name)} of the ${aNoun} have the most distinct ${bNoun}, through ${bridgeNoun}?`,
            sql: `SELECT ${col(pa, name)}, COUNT(DISTINCT ${distinct}) AS ${alias} ` +
              `FROM ${quoteTablePath(tableRefOf(a.table_id))} AS ${pa} JOIN ${quoteTablePath(tableRefOf(bridgeId))} AS ${br} ON ${onA} ` +
              `JOIN ${quoteTablePath(tableRefOf(b.table_id))} AS ${pb} ON ${onB} GROUP BY ${col(pa, name)} ORDER BY ${alias} DESC LIMIT ${TOP_N}`,
            tables: [a.table_id, bridgeId, b.table_id]
          })
        }
        // Per row of one side, the distinct rows of the other: a correlated subquery, so no key is grouped by.
        const shown = [...near.to.columns.map((k) => col(pa, k)), ...(name !== undefined && isNameLike(name) ? [col(pa, name)] : [])]
        const byName = name !== undefined && isNameLike(name) ? ` (${language === "ko" ? labelOf(a, "ko", name) : `with their ${labelOf(a, "en", name)}`})` : ""
        drafts.push({
          generator: "join:bridge_top_parents",
          ko: `${bridgeNoun}을(를) 통해 ${bNoun}이(가) 가장 많은 ${aNoun} 상위 ${TOP_N}개${byName}는 무엇인가요?`,
          en: `Which ${TOP_N} ${aNoun}${byName} have the most ${bNoun}, through ${bridgeNoun}?`,
          sql: `SELECT ${shown.join(", ")}, (SELECT COUNT(DISTINCT ${distinct}) FROM ${quoteTablePath(tableRefOf(bridgeId))} AS ${br} ` +
            `JOIN ${quoteTablePath(tableRefOf(b.table_id))} AS ${pb} ON ${onB} WHERE ${onA}) AS ${alias} ` +
            `FROM ${quoteTablePath(tableRefOf(a.table_id))} AS ${pa} ORDER BY ${alias} DESC LIMIT ${TOP_N}`,
          tables: [a.table_id, bridgeId, b.table_id]
        })
      }
    }
  }

  // Chains: a child's rows counted by its grandparent (A → B → C, both many-to-one, so each A row is
  // counted once), per row of the grandparent through a correlated subquery.
  for (const first of usable) {
    for (const second of usable) {
      if (second.from.table_id !== first.to.table_id || second.to.table_id === first.from.table_id) continue
      const a = byId.get(first.from.table_id)!
      const b = byId.get(first.to.table_id)!
      const cTable = byId.get(second.to.table_id)!
      const aliases = new Set<string>()
      const aa = aliasFor(a.table_id, aliases)
      const ba = aliasFor(b.table_id, aliases)
      const ca = aliasFor(cTable.table_id, aliases)
      const onAB = first.from.columns.map((fk, k) => `${col(aa, fk)} = ${col(ba, first.to.columns[k]!)}`).join(" AND ")
      const onBC = second.from.columns.map((fk, k) => `${col(ba, fk)} = ${col(ca, second.to.columns[k]!)}`).join(" AND ")
      const aNoun = plural(nounOf(a.table_id))
      const cNoun = plural(nounOf(cTable.table_id))
      const bNoun = nounOf(b.table_id)
      const taken = new Set([...a.columns, ...b.columns, ...cTable.columns].map((x) => x.name.toLowerCase()))
      const alias = freshAlias(`${snake(aNoun.split(" ").map(singular).join("_")) || "row"}_count`, taken)
      const name = attributeOf(cTable, sensitive, new Set(second.to.columns.map((x) => x.toLowerCase())))
      const shown = [...second.to.columns.map((k) => col(ca, k)), ...(name !== undefined && isNameLike(name) ? [col(ca, name)] : [])]
      const byName = name !== undefined && isNameLike(name) ? ` (${language === "ko" ? labelOf(cTable, "ko", name) : `with their ${labelOf(cTable, "en", name)}`})` : ""
      drafts.push({
        generator: "join:chain_top_grandparents",
        ko: `${bNoun}을(를) 거쳐 ${aNoun} 수가 가장 많은 ${cNoun} 상위 ${TOP_N}개${byName}는 무엇인가요?`,
        en: `Which ${TOP_N} ${cNoun}${byName} have the most ${aNoun}, through their ${bNoun}?`,
        sql: `SELECT ${shown.join(", ")}, (SELECT COUNT(*) FROM ${quoteTablePath(tableRefOf(a.table_id))} AS ${aa} ` +
          `JOIN ${quoteTablePath(tableRefOf(b.table_id))} AS ${ba} ON ${onAB} WHERE ${onBC}) AS ${alias} ` +
          `FROM ${quoteTablePath(tableRefOf(cTable.table_id))} AS ${ca} ORDER BY ${alias} DESC LIMIT ${TOP_N}`,
        tables: [a.table_id, b.table_id, cTable.table_id]
      })
    }
  }

  // Siblings: two children of one parent, each aggregated per parent before the joins; joined raw,
  // every child row would be repeated once per row of the other child.
  const byParent = new Map<string, Array<Relationship>>()
  for (const r of usable) byParent.set(r.to.table_id, [...(byParent.get(r.to.table_id) ?? []), r])
  for (const [parentId, into] of byParent) {
    for (let i = 0; i < into.length; i++) {
      for (let j = i + 1; j < into.length; j++) {
        const one = into[i]!
        const other = into[j]!
        if (one.from.table_id === other.from.table_id) continue
        const parent = byId.get(parentId)!
        const aliases = new Set<string>()
        const p = aliasFor(parent.table_id, aliases)
        const nouns = [one, other].map((r) => plural(nounOf(r.from.table_id)))
        const taken = new Set([parent, byId.get(one.from.table_id)!, byId.get(other.from.table_id)!].flatMap((t) => t.columns.map((x) => x.name.toLowerCase())))
        const parts = [one, other].map((r, k) => {
          const sub = freshAlias(`per_${snake(nounOf(r.from.table_id)) || "child"}`, taken)
          taken.add(sub)
          const count = freshAlias(`${snake(nouns[k]!.split(" ").map(singular).join("_")) || "row"}_count`, taken)
          taken.add(count)
          const fkList = r.from.columns.map((fk) => quoteIdentifier(fk)).join(", ")
          const on = r.from.columns.map((fk, n) => `${sub}.${quoteIdentifier(fk)} = ${col(p, r.to.columns[n]!)}`).join(" AND ")
          return {
            count,
            select: `IFNULL(${sub}.${count}, 0) AS ${count}`,
            join: `LEFT JOIN (SELECT ${fkList}, COUNT(*) AS ${count} FROM ${quoteTablePath(tableRefOf(r.from.table_id))} GROUP BY ${fkList}) AS ${sub} ON ${on}`
          }
        })
        const keys = one.to.columns.map((k) => col(p, k))
        const parentNoun = plural(nounOf(parentId))
        drafts.push({
          generator: "join:siblings_aggregated_first",
          ko: `${parentNoun}별 ${nouns[0]} 수와 ${nouns[1]} 수는 얼마인가요? (${nouns[0]} 수 상위 ${TOP_N}개)`,
          en: `For each of the ${TOP_N} ${parentNoun} with the most ${nouns[0]}, how many ${nouns[0]} and how many ${nouns[1]} do they have?`,
          sql: `SELECT ${keys.join(", ")}, ${parts.map((x) => x.select).join(", ")} FROM ${quoteTablePath(tableRefOf(parentId))} AS ${p} ` +
            `${parts.map((x) => x.join).join(" ")} ORDER BY ${parts[0]!.count} DESC LIMIT ${TOP_N}`,
          tables: [one.from.table_id, parentId, other.from.table_id]
        })
      }
    }
  }

  return drafts.map((d): Example => ({
    question: language === "ko" ? d.ko : d.en,
    sql: d.sql,
    tables: d.tables.map((t) => byId.get(t)!.table_id),
    source: "template",
    generator: d.generator,
    language
  }))
}
