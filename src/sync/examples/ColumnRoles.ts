/**
 * What a column is for, as example generators need to know: a key (grouping by it counts ones), free
 * text (grouping by it says nothing), personal data (never shown as a value or a group), or sparse
 * (only then is "rows that have a value" a question worth asking).
 */
import type { TableProfile } from "../../contract/Profile.ts"
import { DEFAULT_SENSITIVE_NAME_PATTERN } from "../profiles.ts"
import { words } from "../relationships/infer.ts"

/** Words of a column name that make it a key, not an attribute. */
const KEY_WORDS: ReadonlySet<string> = new Set([
  "id", "ids", "key", "code", "uuid", "guid", "no", "num", "number", "cd", "hash", "token", "pk", "fk", "vin", "isbn", "sku"
])
const FREE_TEXT_WORDS: ReadonlySet<string> = new Set([
  "description", "desc", "comment", "comments", "text", "note", "notes", "abstract", "body", "message", "summary",
  "content", "url", "uri", "homepage", "link", "remark", "remarks", "html", "json", "query", "agent"
])

/** A key or id-like column: a key word last (`sbCustId`, `airline_code`, `flight_number`). */
export const isIdLike = (path: string): boolean => {
  const ws = words(path.slice(path.lastIndexOf(".") + 1))
  return KEY_WORDS.has(ws[ws.length - 1] ?? "")
}

/** Free text: counting by it says nothing. */
export const isFreeText = (path: string): boolean => words(path.slice(path.lastIndexOf(".") + 1)).some((w) => FREE_TEXT_WORDS.has(w))

/** A profile says the column is (nearly) unique: about as many distinct values as non-NULL sampled rows. */
export const isProfileUnique = (table: { readonly profile?: TableProfile | null | undefined }, path: string): boolean => {
  const profile = table.profile
  const column = profile?.columns.find((c) => c.column === path)
  if (profile == null || column === undefined || profile.rows_sampled < 20) return false
  return column.approx_distinct >= 0.9 * profile.rows_sampled * (1 - column.null_fraction)
}

/** A profile says the column is often NULL (a fifth of the rows or more), yet not always. */
export const isProfileSparse = (table: { readonly profile?: TableProfile | null | undefined }, path: string): boolean => {
  const column = table.profile?.columns.find((c) => c.column === path)
  return column !== undefined && column.null_fraction >= 0.2 && column.null_fraction < 1
}

/** Any segment of the path names personal data (camelCase segments are tried with `_` at each hump). */
export const isSensitivePath = (path: string, pattern: RegExp | null = DEFAULT_SENSITIVE_NAME_PATTERN): boolean =>
  pattern !== null &&
  path.split(".").some((segment) => pattern.test(segment) || pattern.test(segment.replace(/([a-z0-9])([A-Z])/g, "$1_$2")))
