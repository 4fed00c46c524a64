/**
 * The business glossary and the business names of tables and columns, as the document carries them.
 *
 * - A glossary term is what the data team writes in a curated glossary file: the term, its
 *   synonyms in any language, a definition, the tables and columns or the SQL expression it
 *   means (`ADV = AVG(sbDpVolume)`), and standing instructions ("always use sale_date"). The
 *   prompt context shows a term when the question names it (or a synonym), and it leads the
 *   question to the tables and columns the term means.
 * - An alias is another name of one table or column ("고객", "client" for `customers`), from the
 *   glossary, from the table's BigQuery labels, or from its description (`Also known as …`,
 *   `별칭: …`). Aliases are matched against questions and shown beside the name.
 *
 * Everything here is text people wrote: the prompt context renders it delimited as data.
 * This module is shared by the sync and the backend: it imports nothing but `effect`.
 */
import * as Schema from "effect/Schema"
import { TableId } from "./TableId.ts"

/** A column a term or alias points at: `project.dataset.table` and a column name or dotted path. */
export const ColumnRef = Schema.Struct({
  table_id: TableId,
  column: Schema.NonEmptyString
}).annotations({ identifier: "ColumnRef" })
export type ColumnRef = typeof ColumnRef.Type

export const GlossaryTerm = Schema.Struct({
  term: Schema.NonEmptyString,
  /** Other ways to say it, in any language. */
  synonyms: Schema.optionalWith(Schema.Array(Schema.NonEmptyString), { default: () => [] }),
  definition: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  /** The tables the term is about. */
  tables: Schema.optionalWith(Schema.Array(TableId), { default: () => [] }),
  /** The columns the term is about. */
  columns: Schema.optionalWith(Schema.Array(ColumnRef), { default: () => [] }),
  /** The SQL expression the term stands for, e.g. `AVG(sbDpVolume)`. */
  sql: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  /** Standing instructions for questions that use the term. */
  instructions: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  /** The file it was written in (`glossary/sales.glossary.yaml:12`). */
  source: Schema.String
}).annotations({ identifier: "GlossaryTerm" })
export type GlossaryTerm = typeof GlossaryTerm.Type

export const AliasSource = Schema.Literal("glossary", "label", "description", "llm").annotations({ identifier: "AliasSource" })
export type AliasSource = typeof AliasSource.Type

/** Business names of one table (`column` null) or one of its columns. */
export const Alias = Schema.Struct({
  table_id: TableId,
  column: Schema.NullOr(Schema.NonEmptyString),
  names: Schema.NonEmptyArray(Schema.NonEmptyString),
  /** Human-written sources win; `llm` suggestions are kept apart and never override them. */
  source: AliasSource
}).annotations({ identifier: "Alias" })
export type Alias = typeof Alias.Type
