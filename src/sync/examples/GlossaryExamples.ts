/**
 * Business-logic examples: a glossary term that carries a SQL definition (`ADV = AVG(sbDpVolume)`)
 * becomes the questions that use it — the term over its table, and per row of the table its table
 * points at ("ADV for each ticker"), the term computed per parent before the join so that no row
 * is counted twice — or, with no such parent, per category of its own table. The model then sees
 * the team's definition applied, not guessed.
 *
 * A term is used only when its SQL reads one table of the document and is an expression (no
 * statement, no semicolon); the validator decides the rest, as for every example. The same terms
 * and tables always give the same examples.
 */
import type { Example, Language } from "../../contract/CacheDocument.ts"
import { flattenFields } from "../../contract/Field.ts"
import type { GlossaryTerm } from "../../contract/Glossary.ts"
import type { Relationship } from "../../contract/Relationship.ts"
import { type TableId, tableRefOf } from "../../contract/TableId.ts"
import { quoteIdentifier, quoteTablePath } from "../../sql/Identifiers.ts"
import { DEFAULT_SENSITIVE_NAME_PATTERN } from "../profiles.ts"
import { words } from "../relationships/infer.ts"
import { isFreeText, isIdLike, isProfileUnique, isSensitivePath } from "./ColumnRoles.ts"
import { JOIN_MIN_CONFIDENCE } from "./JoinExamples.ts"
import { categoryScore, freshAlias, type TemplateTable } from "./TemplateExamples.ts"

const TOP_N = 10

/** A SQL expression a term may carry: one expression, no statement separator or comment. */
const isExpression = (sql: string) => sql.trim() !== "" && !/;|--|\/\*|#/.test(sql) && !/\b(select|from)\b/i.test(sql)

const aliasOf = (term: string, taken: ReadonlySet<string>) =>
  freshAlias(term.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").replace(/^(?=\d)/, "m_") || "value", taken)

const nounOf = (id: string) => {
  const ws = words(tableRefOf(id as TableId).table)
  return (ws.length > 1 && (ws[0] ?? "").length <= 2 ? ws.slice(1) : ws).join(" ")
}

export const glossaryExamples = (
  terms: ReadonlyArray<GlossaryTerm>,
  tables: ReadonlyArray<TemplateTable>,
  relationships: ReadonlyArray<Relationship>,
  language: Language = "ko",
  options: { readonly sensitiveNamePattern?: RegExp | null } = {}
): ReadonlyArray<Example> => {
  const sensitive = options.sensitiveNamePattern === undefined ? DEFAULT_SENSITIVE_NAME_PATTERN : options.sensitiveNamePattern
  const byId = new Map(tables.map((t) => [t.table_id as string, t]))
  const out: Array<Example> = []
  for (const term of terms) {
    const sql = term.sql?.trim() ?? ""
    const ids = [...new Set([...term.tables, ...term.columns.map((c) => c.table_id)])]
    const table = ids.length === 1 ? byId.get(ids[0]!) : undefined
    if (table === undefined || !isExpression(sql)) continue
    const from = quoteTablePath(tableRefOf(table.table_id))
    const taken = new Set(table.columns.map((c) => c.name.toLowerCase()))
    const alias = aliasOf(term.term, taken)
    const named = term.synonyms.length > 0 && term.synonyms[0] !== term.term ? `${term.term} (${term.synonyms[0]})` : term.term
    const example = (generator: string, ko: string, en: string, query: string, reads: ReadonlyArray<string>): Example => ({
      question: language === "ko" ? ko : en,
      sql: query,
      tables: reads.map((id) => byId.get(id)!.table_id),
      source: "template",
      generator,
      language
    })
    out.push(example("glossary:term_total", `전체 ${named}은(는) 얼마인가요?`, `What is the overall ${named}?`, `SELECT ${sql} AS ${alias} FROM ${from}`, [table.table_id]))

    // Per row of the table it points at, computed per key before the join.
    const parentLink = relationships
      .filter((r) => r.from.table_id === table.table_id && r.confidence >= JOIN_MIN_CONFIDENCE && byId.has(r.to.table_id) && r.to.table_id !== table.table_id)
      .sort((a, b) => b.confidence - a.confidence || a.to.table_id.localeCompare(b.to.table_id))[0]
    if (parentLink !== undefined) {
      const parent = byId.get(parentLink.to.table_id)!
      const fks = parentLink.from.columns.map(quoteIdentifier).join(", ")
      const on = parentLink.from.columns.map((fk, i) => `per_parent.${quoteIdentifier(fk)} = p.${quoteIdentifier(parentLink.to.columns[i]!)}`).join(" AND ")
      const keys = parentLink.to.columns.map((k) => `p.${quoteIdentifier(k)}`).join(", ")
      const parentNoun = nounOf(parent.table_id)
      out.push(example(
        "glossary:term_per_parent",
        `${named}이(가) 가장 높은 ${parentNoun} 상위 ${TOP_N}개는 무엇인가요?`,
        `Which ${TOP_N} ${parentNoun} have the highest ${named}?`,
        `SELECT ${keys}, per_parent.${alias} FROM ${quoteTablePath(tableRefOf(parent.table_id))} AS p ` +
          `JOIN (SELECT ${fks}, ${sql} AS ${alias} FROM ${from} GROUP BY ${fks}) AS per_parent ON ${on} ` +
          `ORDER BY per_parent.${alias} DESC LIMIT ${TOP_N}`,
        [parent.table_id, table.table_id]
      ))
      continue
    }
    // Else per category of its own table.
    const category = flattenFields(table.columns).find((f) =>
      f.depth === 0 && f.type.toUpperCase() === "STRING" && categoryScore(f) >= 2 && !isIdLike(f.path) && !isFreeText(f.path) &&
      !isSensitivePath(f.path, sensitive) && !isProfileUnique(table, f.path)
    )
    if (category !== undefined) {
      const q = quoteIdentifier(category.path)
      out.push(example(
        "glossary:term_by_category",
        `${category.path}별 ${named}은(는) 얼마인가요?`,
        `What is the ${named} for each ${category.path}?`,
        `SELECT ${q}, ${sql} AS ${alias} FROM ${from} GROUP BY ${q} ORDER BY ${alias} DESC`,
        [table.table_id]
      ))
    }
  }
  return out
}
