/**
 * Inferred relationships: what the tables' own metadata says about how they join, when nobody
 * declared it.
 *
 * 1. Every table gets its key candidates: columns named `id`, the table's name + `id`/`code`
 *    (`program.program_id`, `airline.airline_code`), its initials + `id` (`author.aid`), its
 *    last word + `id` (`course_offering.offering_id`), or, after the table's own column prefix is
 *    taken off, `id`/`code` (`sbCustomer.sbCustId`); a profile that finds the column unique
 *    supports it, one that finds many repeats weakens it.
 * 2. Every other column that could hold a key (an integer or a string, neither free text nor
 *    sensitive) looks for the table it names: the same column name as another table's key
 *    (`writes.aid` → `author.aid`), an entity in its name (`customer_id` → `customers.id`,
 *    `sbTxCustId` → `sbCustomer.sbCustId`, `from_airport` → `airport.airport_code`), or a
 *    description that says so ("Foreign key referencing the author table's primary key").
 * 3. The types must be compatible. A column that names two tables equally well links to both with
 *    low confidence rather than picking one.
 *
 * Names are compared as words: `snake_case`, `camelCase` and a prefix shared by a whole dataset
 * (`sb…`) are split off first; plurals are folded (`customers` → `customer`).
 */
import type { TableEntry } from "../../contract/TableEntry.ts"
import type { Field } from "../../contract/Field.ts"
import type { Relationship } from "../../contract/Relationship.ts"
import { mergeRelationships } from "../../contract/Relationship.ts"
import { DEFAULT_SENSITIVE_NAME_PATTERN } from "../profiles.ts"

export interface InferOptions {
  /** Column names never used (personal data); default: the profile's sensitive-name pattern. */
  readonly sensitiveNamePattern?: RegExp | null
  /** Candidates below this confidence are dropped (default 0.3). */
  readonly minConfidence?: number
}

// ---------------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------------

/** `sbTxCustId` → `sb tx cust id`; `from_airport` → `from airport`; `aid` → `a id`. */
export const words = (name: string): ReadonlyArray<string> => {
  const known = wordCache.get(name)
  if (known !== undefined) return known
  const split = splitWords(name)
  if (wordCache.size > 100_000) wordCache.clear()
  wordCache.set(name, split)
  return split
}
const wordCache = new Map<string, ReadonlyArray<string>>()

const splitWords = (name: string): ReadonlyArray<string> => {
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "")
  // A short word ending in "id" is an abbreviation + id: `aid`, `pid`, `oid`.
  return parts.flatMap((w) => (/^[a-z]{1,2}id$/.test(w) ? [w.slice(0, -2), "id"] : [w]))
}

/** `customers` → `customer`, `categories` → `category`, `sales` → `sale`; `status`, `address` stay. */
export const singular = (word: string): string => {
  if (word.length <= 3) return word
  if (word.endsWith("ies")) return `${word.slice(0, -3)}y`
  if (/(ss|us|is)$/.test(word)) return word
  if (/(sh|ch|x|ss)es$/.test(word)) return word.slice(0, -2)
  if (word.endsWith("s")) return word.slice(0, -1)
  return word
}

const phrase = (ws: ReadonlyArray<string>): string => ws.map(singular).join(" ")

const KEY_SUFFIXES: ReadonlySet<string> = new Set(["id", "code", "key", "no", "num", "number", "cd"])
const FREE_TEXT: ReadonlySet<string> = new Set([
  "name", "description", "desc", "comment", "comments", "text", "note", "notes", "title", "abstract", "body",
  "message", "summary", "content", "url", "homepage", "link", "address", "email", "phone", "remark", "remarks"
])
/** Words of a measure, not a key: `num_semesters`, `total_credit`, `sale_price`. */
const MEASURE: ReadonlySet<string> = new Set([
  "count", "total", "amount", "sum", "avg", "average", "price", "cost", "score", "rate", "ratio", "percent", "pct"
])
/** A description of a measure or a name, not of a key. */
const NOT_A_KEY = /\b(number of|count of|how many|amount|charged|cost of|price|duration|length of)\b|^\s*(the\s+)?name\b|\bname of\b/i
/** Key suffixes that mean the same kind of key: `x_id` refers to a `…id`, `x_code` to a `…code`. */
const suffixKind = (word: string | undefined): string | undefined =>
  word === undefined ? undefined : word === "id" || word === "key" ? "id" : word === "code" || word === "cd" ? "code" : KEY_SUFFIXES.has(word) ? "number" : undefined
const KEY_TYPES: Readonly<Record<string, string>> = {
  INTEGER: "int", INT64: "int", STRING: "string", NUMERIC: "num", BIGNUMERIC: "num", DECIMAL: "num", BIGDECIMAL: "num",
  BYTES: "bytes"
}
const typeClass = (type: string): string | undefined => KEY_TYPES[type.toUpperCase()]
/** 1 for the same kind of value, 0.8 for integer ↔ numeric, 0 otherwise (a string never equals an integer). */
const typeFit = (a: string, b: string): number => {
  const x = typeClass(a)
  const y = typeClass(b)
  if (x === undefined || y === undefined) return 0
  if (x === y) return 1
  return (x === "int" && y === "num") || (x === "num" && y === "int") ? 0.8 : 0
}

// ---------------------------------------------------------------------------------------------
// Tables as words
// ---------------------------------------------------------------------------------------------

interface ColumnView {
  readonly field: Field
  /** The column's words with the dataset's and the table's prefixes taken off. */
  readonly core: ReadonlyArray<string>
  /** The column's words with only the dataset's prefix taken off. */
  readonly raw: ReadonlyArray<string>
  /** Not usable for relationships: free text, sensitive, policy-tagged, repeated or of a non-key type. */
  readonly unusable: boolean
  /** The cheap part of `unusable` (shape, type, name words), known without running any pattern. */
  readonly plainlyUnusable: boolean
}

interface TableView {
  readonly entry: TableEntry
  readonly id: string
  readonly dataset: string
  readonly name: string
  /** The table's words with the dataset's prefix taken off, singular. */
  readonly entity: ReadonlyArray<string>
  /** How a description may write the table's name: `salespersons`, `salesperson`, `course offering`. */
  readonly forms: ReadonlyArray<string>
  /** A prefix most of its columns share that is not a word of its name (`cust` in `sbCustomer`). */
  readonly alias: string | null
  readonly columns: ReadonlyArray<ColumnView>
  /** Key candidates, best first: column and how key-like it looks (0..1) and why. */
  readonly keys: ReadonlyArray<{ readonly column: ColumnView; readonly score: number; readonly why: string }>
}

const datasetOf = (id: string): string => id.slice(0, id.lastIndexOf("."))
const tableNameOf = (id: string): string => id.slice(id.lastIndexOf(".") + 1)

/** The first word every table of a dataset (two or more) starts with, e.g. `sb`. */
const sharedFirstWord = (names: ReadonlyArray<ReadonlyArray<string>>, share: number): string | null => {
  if (names.length < 2) return null
  const counts = new Map<string, number>()
  for (const ws of names) if (ws.length > 1) counts.set(ws[0]!, (counts.get(ws[0]!) ?? 0) + 1)
  for (const [word, n] of counts) if (n >= share * names.length) return word
  return null
}

const stripFirst = (ws: ReadonlyArray<string>, word: string | null): ReadonlyArray<string> =>
  word !== null && ws.length > 1 && ws[0] === word ? ws.slice(1) : ws

/** The cheap checks: shape, type, policy tags and the words of the name. */
const isPlainlyUnusable = (field: Field): boolean => {
  if (field.mode === "REPEATED" || field.fields !== undefined) return true
  if (typeClass(field.type) === undefined) return true
  if ((field.policy_tags ?? []).length > 0) return true
  const ws = words(field.name)
  if (ws.some((w) => FREE_TEXT.has(w) || MEASURE.has(w))) return true
  return ws.length > 1 && (ws[0] === "num" || ws[0] === "number")
}

/** The costlier checks, run only for columns that are candidates: the description and the sensitive-name pattern. */
const isBlocked = (field: Field, sensitive: RegExp | null): boolean => {
  if (NOT_A_KEY.test(field.description ?? "")) return true
  if (sensitive !== null) {
    const camel = field.name.replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    if (sensitive.test(field.name) || sensitive.test(camel)) return true
  }
  return false
}

const initials = (ws: ReadonlyArray<string>): string => ws.map((w) => w[0]).join("")

/** How key-like `core` (a column's words) is in a table named `entity`, with alias `alias`. */
const keyScore = (
  core: ReadonlyArray<string>,
  rawCore: ReadonlyArray<string>,
  entity: ReadonlyArray<string>,
  alias: string | null
): [number, string] => {
  if (core.length === 1 && (core[0] === "id" || core[0] === "key")) {
    return [1, rawCore.length > core.length || alias !== null ? `the table's own ${core[0]}` : `named ${core[0]}`]
  }
  if (core.length === 1 && core[0] === "code" && alias !== null) return [0.8, "the table's own code"]
  const last = core[core.length - 1]
  if (last === undefined || !KEY_SUFFIXES.has(last) || core.length < 2) return [0, ""]
  const stem = core.slice(0, -1)
  const stemPhrase = phrase(stem)
  const strong = last === "id" || last === "key" || last === "code"
  if (stemPhrase === phrase(entity)) return [strong ? 1 : 0.8, "the table's name + " + last]
  if (stem.length === 1 && stem[0]!.length <= 3 && stem[0] === initials(entity) && last === "id") {
    return [0.9, "the table's initials + id"]
  }
  if (entity.length > 1 && stemPhrase === phrase(entity.slice(-stem.length)) && strong) {
    return [0.8, "the table's last word + " + last]
  }
  if (stem.length === 1 && entity.length === 1 && stem[0]!.length >= 3 && entity[0]!.startsWith(stem[0]!) && strong) {
    return [0.8, "an abbreviation of the table's name + " + last]
  }
  return [0, ""]
}

const DESCRIBED_AS_KEY = /\b(primary key|unique (?:id|identifier)|uniquely identif)/i

const profileUniqueness = (entry: TableEntry, column: string): "unique" | "repeats" | null => {
  const profile = entry.profile
  if (profile === null || profile.rows_sampled < 20) return null
  const p = profile.columns.find((c) => c.column === column)
  if (p === undefined) return null
  const nonNull = profile.rows_sampled * (1 - p.null_fraction)
  if (p.null_fraction === 0 && p.approx_distinct >= 0.95 * nonNull) return "unique"
  return p.approx_distinct < 0.5 * nonNull ? "repeats" : null
}

/** A column as words, with its usability checked lazily (the costly checks only for candidates). */
class Column implements ColumnView {
  readonly field: Field
  readonly core: ReadonlyArray<string>
  readonly raw: ReadonlyArray<string>
  readonly plainlyUnusable: boolean
  private readonly sensitive: RegExp | null
  private blocked: boolean | undefined
  constructor(field: Field, core: ReadonlyArray<string>, raw: ReadonlyArray<string>, sensitive: RegExp | null) {
    this.field = field
    this.core = core
    this.raw = raw
    this.sensitive = sensitive
    this.plainlyUnusable = isPlainlyUnusable(field)
  }
  get unusable(): boolean {
    if (this.plainlyUnusable) return true
    if (this.blocked === undefined) this.blocked = isBlocked(this.field, this.sensitive)
    return this.blocked
  }
}

const viewTables = (tables: ReadonlyArray<TableEntry>, sensitive: RegExp | null): Array<TableView> => {
  const byDataset = new Map<string, Array<TableEntry>>()
  for (const t of tables) {
    const d = datasetOf(t.table_id)
    const list = byDataset.get(d)
    if (list === undefined) byDataset.set(d, [t])
    else list.push(t)
  }
  const views: Array<TableView> = []
  for (const [dataset, entries] of byDataset) {
    const tablePrefix = sharedFirstWord(entries.map((t) => words(tableNameOf(t.table_id))), 1)
    const allColumns = entries.flatMap((t) => t.columns.map((c) => words(c.name)))
    const columnPrefix = sharedFirstWord(allColumns, 0.8)
    const entities = new Set(entries.map((t) => phrase(stripFirst(words(tableNameOf(t.table_id)), tablePrefix))))
    for (const entry of entries) {
      const name = tableNameOf(entry.table_id)
      const entity = stripFirst(words(name), tablePrefix).map(singular)
      const own = entry.columns.map((c) => stripFirst(words(c.name), columnPrefix))
      const aliasWord = entry.columns.length >= 3 ? sharedFirstWord(own, 0.6) : null
      const alias = aliasWord !== null && !entity.includes(singular(aliasWord)) && !KEY_SUFFIXES.has(aliasWord)
        ? aliasWord
        : null
      const columns = entry.columns.map((field, i) => new Column(field, stripFirst(own[i]!, alias), own[i]!, sensitive))
      const keys = columns
        .filter((c) => !c.plainlyUnusable)
        .map((column) => {
          let [score, why] = keyScore(column.core, column.raw, entity, alias)
          // `flight_fare.fare_id` names the table `fare`: a reference, not flight_fare's own key.
          const stem = column.core.slice(0, -1)
          if (score > 0 && stem.length > 0 && phrase(stem) !== phrase(entity) && entities.has(phrase(stem))) score = 0
          if (score === 0 && DESCRIBED_AS_KEY.test(column.field.description ?? "")) {
            ;[score, why] = [0.5, "described as a unique identifier"]
          }
          const uniqueness = profileUniqueness(entry, column.field.name)
          if (uniqueness === "unique") [score, why] = [Math.max(score, 0.6), `${why === "" ? "" : `${why}, `}unique in its profile`]
          if (uniqueness === "repeats") score *= 0.3
          return { column, score, why }
        })
        .filter((k) => k.score > 0 && !k.column.unusable)
        .sort((a, b) => b.score - a.score)
      const forms = [...new Set([name.toLowerCase(), phrase(entity), entity.join("_")])]
      views.push({ entry, id: entry.table_id, dataset, name, entity, forms, alias, columns, keys })
    }
  }
  return views
}

// ---------------------------------------------------------------------------------------------
// Candidates
// ---------------------------------------------------------------------------------------------

interface Candidate {
  readonly parent: TableView
  readonly key: ColumnView
  readonly score: number
  readonly evidence: string
}

const STRONG_REFERENCE = /\b(foreign key|referenc\w*|refers? to|points? to|links? to|joins? (?:to|with))\b/i
const WEAK_REFERENCE = /\b(?:id|ids|identifier|key|code)\s+(?:of|for)\s+(?:the|a|an|each)?\s*([a-z_ ]+)|\bthe\s+([a-z_ ]+?)\s+(?:id|identifier)\b/i

/** The tables a description names, longest name first, with the column it names in them when it does. */
const tablesNamedIn = (text: string, candidates: ReadonlyArray<TableView>): Array<{ table: TableView; column: ColumnView | undefined }> => {
  const lower = ` ${text.toLowerCase().replace(/[^a-z0-9_]+/g, " ")} `
  const normalized = ` ${lower.trim().split(/\s+/).map(singular).join(" ")} `
  const found: Array<{ table: TableView; column: ColumnView | undefined; length: number; at: number }> = []
  for (const table of candidates) {
    let at = -1
    for (const form of table.forms) {
      const i = Math.max(lower.indexOf(` ${form} `), normalized.indexOf(` ${form} `))
      if (i >= 0 && (at < 0 || i < at)) at = i
    }
    if (at < 0) continue
    const column = table.columns.find((c) => !c.unusable && lower.includes(` ${c.field.name.toLowerCase()} `))
    found.push({ table, column, length: phrase(table.entity).length, at })
  }
  return found.sort((a, b) => a.at - b.at || b.length - a.length)
}

const bestKey = (table: TableView) => table.keys[0]

export const inferRelationships = (
  tables: ReadonlyArray<TableEntry>,
  options: InferOptions = {}
): Array<Relationship> => {
  const sensitive = options.sensitiveNamePattern === undefined ? DEFAULT_SENSITIVE_NAME_PATTERN : options.sensitiveNamePattern
  const minConfidence = options.minConfidence ?? 0.3
  const views = viewTables(tables, sensitive)

  // Key columns by exact name, and tables by the entity words that name them.
  const keysByName = new Map<string, Array<{ table: TableView; key: TableView["keys"][number] }>>()
  const byEntity = new Map<string, Array<{ table: TableView; weight: number; why: string }>>()
  const addEntity = (words: string, table: TableView, weight: number, why: string) => {
    const list = byEntity.get(words) ?? []
    if (!list.some((e) => e.table === table)) list.push({ table, weight, why })
    byEntity.set(words, list)
  }
  for (const table of views) {
    for (const key of table.keys) {
      const name = key.column.field.name.toLowerCase()
      const list = keysByName.get(name) ?? []
      list.push({ table, key })
      keysByName.set(name, list)
    }
    const best = bestKey(table)
    if (best === undefined || best.score < 0.8) continue
    addEntity(phrase(table.entity), table, 1, `names the table ${table.name}`)
    if (table.alias !== null) addEntity(singular(table.alias), table, 0.9, `names ${table.name} by its column prefix "${table.alias}"`)
    const keyStem = best.column.core.slice(0, -1)
    if (keyStem.length > 0 && phrase(keyStem) !== phrase(table.entity) && keyStem.join("").length > 2) {
      addEntity(phrase(keyStem), table, 0.8, `names the key ${table.name}.${best.column.field.name}`)
    }
  }

  const datasetViews = new Map<string, Array<TableView>>()
  for (const v of views) datasetViews.set(v.dataset, [...(datasetViews.get(v.dataset) ?? []), v])
  /** Hits in the child's own dataset when there are any: a dataset's tables join among themselves first. */
  const nearest = <A extends { readonly table: TableView }>(hits: ReadonlyArray<A> | undefined, dataset: string): ReadonlyArray<A> => {
    if (hits === undefined) return []
    const own = hits.filter((h) => h.table.dataset === dataset)
    return own.length > 0 ? own : hits
  }

  const found: Array<Relationship> = []
  for (const child of views) {
    const ownKey = bestKey(child)
    const sameDataset = datasetViews.get(child.dataset) ?? []
    for (const column of child.columns) {
      if (column.plainlyUnusable) continue
      const isOwnKey = ownKey !== undefined && ownKey.column === column && ownKey.score >= 0.8
      const candidates: Array<Candidate> = []
      const childSuffix = suffixKind(column.core[column.core.length - 1])
      const add = (parent: TableView, key: ColumnView | undefined, score: number, evidence: string) => {
        if (parent === child || key === undefined || key.unusable) return
        // A key suffix on both sides must agree: `flight_number` is not `flight_id`.
        const parentSuffix = suffixKind(key.core[key.core.length - 1])
        if (childSuffix !== undefined && parentSuffix !== undefined && childSuffix !== parentSuffix) return
        // Across datasets only a column that says it is a key (`…_id`, `…_code`) may point.
        if (parent.dataset !== child.dataset && childSuffix === undefined) return
        const fit = typeFit(column.field.type, key.field.type)
        if (fit === 0) return
        const distance = parent.dataset === child.dataset ? 1 : 0.8
        candidates.push({ parent, key, score: score * fit * distance, evidence })
      }

      // The same name as another table's key.
      if (!isOwnKey) {
        for (const { key, table } of nearest(keysByName.get(column.field.name.toLowerCase()), child.dataset)) {
          const best = bestKey(table)
          if (best !== key || key.score < 0.5) continue
          add(table, key.column, 0.9 * key.score, `same name as ${table.name}'s key (${key.why})`)
        }
      }

      // An entity in the name: the longest run of words at its end that names a table.
      if (!isOwnKey) {
        const core = column.core
        const last = core[core.length - 1]
        const suffixed = last !== undefined && KEY_SUFFIXES.has(last)
        const stem = suffixed ? core.slice(0, -1) : core
        for (let start = 0; start < stem.length; start++) {
          const hits = nearest(byEntity.get(phrase(stem.slice(start))), child.dataset)
          if (hits.length === 0) continue
          for (const hit of hits) {
            const key = bestKey(hit.table)
            if (key === undefined) continue
            add(
              hit.table,
              key.column,
              hit.weight * key.score * (suffixed ? 1 : 0.7) * (start === 0 ? 1 : 0.9),
              `"${column.field.name}" ${hit.why}`
            )
          }
          break
        }
      }

      // A description that says where it points.
      const description = column.field.description ?? ""
      if (description !== "") {
        const strong = STRONG_REFERENCE.test(description)
        const weak = !strong && !isOwnKey && WEAK_REFERENCE.test(description)
        if (strong || weak) {
          const named = tablesNamedIn(description, sameDataset).filter((n) => n.table !== child)
          const first = named[0]
          if (first !== undefined) {
            const key = first.column ?? bestKey(first.table)?.column
            const clipped = description.length > 80 ? `${description.slice(0, 79)}…` : description
            add(first.table, key, strong ? 0.95 : 0.6, `described as "${clipped}"`)
          }
        }
      }
      if (candidates.length === 0 || column.unusable) continue

      // Evidence for the same parent column adds up; different parents compete.
      const byParent = new Map<string, { parent: TableView; key: ColumnView; p: number; evidence: Array<string> }>()
      for (const c of candidates) {
        const id = `${c.parent.id}.${c.key.field.name}`
        const entry = byParent.get(id) ?? { parent: c.parent, key: c.key, p: 0, evidence: [] }
        entry.p = 1 - (1 - entry.p) * (1 - Math.min(c.score, 0.99))
        if (!entry.evidence.includes(c.evidence)) entry.evidence.push(c.evidence)
        byParent.set(id, entry)
      }
      const ranked = [...byParent.values()].sort((a, b) => b.p - a.p)
      const top = ranked[0]!
      const rivals = ranked.filter((r) => r.p >= top.p - 0.1)
      for (const r of rivals) {
        const confidence = Math.round((rivals.length === 1 ? r.p : Math.min(0.5, r.p / rivals.length)) * 100) / 100
        if (confidence < minConfidence) continue
        const childUnique = isOwnKey || profileUniqueness(child.entry, column.field.name) === "unique"
        found.push({
          from: { table_id: child.entry.table_id, columns: [column.field.name] },
          to: { table_id: r.parent.entry.table_id, columns: [r.key.field.name] },
          source: "inferred",
          confidence,
          evidence: (rivals.length > 1 ? `ambiguous (${rivals.length} candidates); ` : "") + r.evidence.join("; "),
          cardinality: childUnique ? "one-to-one" : "many-to-one"
        })
      }
    }
  }
  return mergeRelationships(found)
}
