/**
 * Business names found in the warehouse's own metadata, for tables and columns that have them:
 *
 * - labels whose key says it is a name (`alias`, `business_name`, `display_name`, `name_ko`,
 *   `korean_name`, …); a label value's `_` and `-` read as spaces (labels allow no others);
 * - descriptions that say so: `Also known as X, Y`, `a.k.a. X`, `Alias: X`, `별칭: X`, `일명 X`;
 *   a Hangul name in parentheses in a description (`Customers of the shop (고객)`), and a Hangul
 *   name that opens a description before `:`, `-` or `—` (`고객 마스터: one row per customer`).
 *
 * Rules about how people write names, not about any one warehouse's words.
 */
import type { Alias } from "../../contract/Glossary.ts"
import { flattenFields } from "../../contract/Field.ts"
import type { TableEntry } from "../../contract/TableEntry.ts"

const NAME_LABEL = /^(?:alias(?:es)?|business[_-]?names?|display[_-]?names?|(?:ko|kr|en)[_-]?names?|names?[_-]?(?:ko|kr|en)|korean[_-]?names?|english[_-]?names?|별칭|이름)(?:[_-]?\d+)?$/u
const MARKER = /(?:also known as|also called|a\.?k\.?a\.?|aliases?|business names?|별칭|별명|일명|다른 이름)\s*[:：]?\s*([^.;\n()]+)/giu
const HANGUL_IN_PARENS = /\(([\p{Script=Hangul}][\p{Script=Hangul}\s]{0,24})\)/gu
const LEADING_HANGUL = /^\s*([\p{Script=Hangul}][\p{Script=Hangul}\s]{0,24}?)\s*(?::|：| - | — )/u
const MAX_NAME = 60

const clean = (name: string) => name.replace(/["'`]/g, "").replace(/\s+/g, " ").trim()

const split = (list: string): Array<string> =>
  list.split(/,|;|、|\/|\bor\b|또는/u).map(clean).filter((n) => n.length > 0 && n.length <= MAX_NAME)

/**
 * Whether `description` may hold a name at all: a superset of what the patterns above need (a
 * parenthesis, a marker word, or any non-ASCII character, Hangul and the characters that
 * case-fold to ASCII letters included). Most descriptions have none, and skip the patterns.
 */
const mayName = (description: string): boolean =>
  description.includes("(") || /[^\x00-\x7f]/.test(description) || /a\.?k\.?a|also|alias|business/i.test(description)

/** The names the patterns find in `description`, without the shortcut (what `namesInDescription` must equal). */
export const namesByPatterns = (description: string): Array<string> => {
  const names: Array<string> = []
  for (const m of description.matchAll(MARKER)) names.push(...split(m[1]!))
  for (const m of description.matchAll(HANGUL_IN_PARENS)) names.push(clean(m[1]!))
  const leading = LEADING_HANGUL.exec(description)
  if (leading !== null && !/^(?:별칭|별명|일명|다른 이름)$/u.test(clean(leading[1]!))) names.push(clean(leading[1]!))
  return [...new Set(names.filter((n) => n.length > 0))]
}

export const namesInDescription = (description: string | null): Array<string> =>
  description === null || !mayName(description) ? [] : namesByPatterns(description)

export const namesInLabels = (labels: Readonly<Record<string, string>>): Array<string> =>
  Object.entries(labels)
    .filter(([key]) => NAME_LABEL.test(key.toLowerCase()))
    .map(([, value]) => clean(value.replace(/[_-]+/g, " ")))
    .filter((n) => n.length > 0 && n.length <= MAX_NAME)

/** Aliases of `tables` and their columns from labels and descriptions. */
export const metadataAliases = (tables: ReadonlyArray<TableEntry>): Array<Alias> => {
  const out: Array<Alias> = []
  const push = (table: TableEntry, column: string | null, names: ReadonlyArray<string>, source: Alias["source"]) => {
    if (names.length > 0) out.push({ table_id: table.table_id, column, names: [names[0]!, ...names.slice(1)], source })
  }
  for (const table of tables) {
    push(table, null, namesInLabels(table.labels), "label")
    push(table, null, namesInDescription(table.description), "description")
    for (const field of flattenFields(table.columns)) push(table, field.path, namesInDescription(field.description), "description")
  }
  return out
}
