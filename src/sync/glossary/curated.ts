/**
 * Curated glossary files: the business terms and names the data team writes, beside the curated
 * examples (the deployed directory and/or the bucket prefix), named `<anything>.glossary.yaml`
 * (or `.yml`, `.json`):
 *
 * ```yaml
 * terms:
 *   - term: ADV
 *     synonyms: [Average Daily Volume, 평균 일일 거래량]      # any language
 *     definition: Average daily traded volume of a ticker
 *     sql: AVG(sbDpVolume)                                   # what it means in SQL
 *     tables: [nlq-ex.broker.sbDailyPrice]
 *     columns: [nlq-ex.broker.sbDailyPrice.sbDpVolume]
 *     instructions: Group by ticker.                         # standing instructions
 * aliases:
 *   - table: nlq-ex.shop.customers                           # or column: project.dataset.table.column
 *     names: [고객, client]
 * ```
 *
 * A file with a mistake is reported with its file, line and column, as curated examples are, and
 * left out; the others still count.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import type { Alias, ColumnRef, GlossaryTerm } from "../../contract/Glossary.ts"
import { TableId } from "../../contract/TableId.ts"
import { StorageService } from "../../services/Storage/StorageService.ts"
import {
  CuratedFileError,
  type CuratedProblem,
  type CuratedRead,
  decodeCuratedYaml,
  GLOSSARY_FILE,
  parseCuratedReads,
  readCuratedDirectory,
  readCuratedPrefix
} from "../curated.ts"
import type { RetrySettings } from "../RetryPolicy.ts"

const Text = Schema.String.pipe(Schema.filter((s) => s.trim() !== "", { message: () => "must not be empty" }))
const ColumnPath = Schema.String.pipe(
  Schema.pattern(/^[^.\s]+\.[^.\s]+\.[^.\s]+\.[^\s]+$/, { message: () => "must be project.dataset.table.column" })
)
const Term = Schema.Struct({
  term: Text,
  synonyms: Schema.optional(Schema.Array(Text)),
  definition: Schema.optional(Text),
  tables: Schema.optional(Schema.Array(TableId)),
  columns: Schema.optional(Schema.Array(ColumnPath)),
  sql: Schema.optional(Text),
  instructions: Schema.optional(Text)
})
const AliasEntry = Schema.Struct({
  table: Schema.optional(TableId),
  column: Schema.optional(ColumnPath),
  names: Schema.NonEmptyArray(Text)
})
const GlossaryFile = Schema.Struct({
  terms: Schema.optional(Schema.Array(Term)),
  aliases: Schema.optional(Schema.Array(AliasEntry))
})
const decodeFile = Schema.decodeUnknownEither(GlossaryFile, { errors: "all", onExcessProperty: "error" })
const decodeTableId = Schema.decodeUnknownEither(TableId)

const TERM_KEYS = "term, synonyms, definition, tables, columns, sql, instructions"

const columnRef = (text: string): Either.Either<ColumnRef, string> => {
  const parts = text.split(".")
  return Either.mapBoth(decodeTableId(parts.slice(0, 3).join(".")), {
    onLeft: (e) => ParseResult.TreeFormatter.formatErrorSync(e),
    onRight: (table_id) => ({ table_id, column: parts.slice(3).join(".") })
  })
}

export interface Glossary {
  readonly terms: ReadonlyArray<GlossaryTerm>
  readonly aliases: ReadonlyArray<Alias>
}

/** Parses one glossary file, or says everything wrong with it, each problem at its line and column. */
export const parseGlossaryFile = (name: string, text: string): Either.Either<Glossary, CuratedFileError> => {
  const decoded = decodeCuratedYaml(name, text, decodeFile, (issue) =>
    issue._tag === "Unexpected"
      ? `unknown key, expected one of ${
        issue.path.length === 1 ? "terms, aliases" : issue.path[0] === "terms" ? TERM_KEYS : "table, column, names"
      }`
      : undefined)
  if (Either.isLeft(decoded)) return Either.left(decoded.left)
  const { at, value } = decoded.right
  const problems: Array<CuratedProblem> = []
  const terms: Array<GlossaryTerm> = []
  ;(value.terms ?? []).forEach((entry, index) => {
    const columns: Array<ColumnRef> = []
    ;(entry.columns ?? []).forEach((c, i) => {
      const ref = columnRef(c)
      if (Either.isLeft(ref)) problems.push({ ...at(["terms", index, "columns", i]), path: `terms.${index}.columns.${i}`, message: ref.left })
      else columns.push(ref.right)
    })
    terms.push({
      term: entry.term.trim(),
      synonyms: (entry.synonyms ?? []).map((s) => s.trim()),
      definition: entry.definition?.trim() ?? null,
      tables: entry.tables ?? [],
      columns,
      sql: entry.sql?.trim() ?? null,
      instructions: entry.instructions?.trim() ?? null,
      source: `${path.basename(name)}:${at(["terms", index]).line}`
    })
  })
  const aliases: Array<Alias> = []
  ;(value.aliases ?? []).forEach((entry, index) => {
    const here = { ...at(["aliases", index]), path: `aliases.${index}` }
    if ((entry.table === undefined) === (entry.column === undefined)) {
      problems.push({ ...here, message: "needs exactly one of table or column" })
      return
    }
    const names = entry.names.map((n) => n.trim()) as [string, ...Array<string>]
    if (entry.table !== undefined) {
      aliases.push({ table_id: entry.table, column: null, names, source: "glossary" })
      return
    }
    const ref = columnRef(entry.column!)
    if (Either.isLeft(ref)) problems.push({ ...here, message: ref.left })
    else aliases.push({ ...ref.right, names, source: "glossary" })
  })
  return problems.length > 0
    ? Either.left(new CuratedFileError({ file: name, problems: [problems[0]!, ...problems.slice(1)] }))
    : Either.right({ terms, aliases })
}

/** Every glossary file that parsed, and the files that did not. */
export interface CuratedGlossary extends Glossary {
  readonly errors: ReadonlyArray<CuratedFileError>
  readonly files: number
}

const collect = (reads: ReadonlyArray<CuratedRead>): CuratedGlossary => {
  const { errors, files, parsed } = parseCuratedReads(reads, parseGlossaryFile)
  return { terms: parsed.flatMap((g) => g.terms), aliases: parsed.flatMap((g) => g.aliases), errors, files }
}

/** The glossary files of a local directory (not its subdirectories); none when it does not exist. */
export const loadGlossaryDirectory = (directory: string): Effect.Effect<CuratedGlossary> =>
  Effect.map(readCuratedDirectory(directory, GLOSSARY_FILE), collect)

/** The glossary files under a bucket prefix. */
export const loadGlossaryPrefix = (prefix: string, retry?: RetrySettings): Effect.Effect<CuratedGlossary, never, StorageService> =>
  Effect.map(
    readCuratedPrefix(prefix, GLOSSARY_FILE, retry),
    Either.match({ onLeft: (error) => ({ terms: [], aliases: [], errors: [error], files: 0 }), onRight: collect })
  )
