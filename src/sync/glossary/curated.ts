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
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { LineCounter, parseDocument } from "yaml"
import type { Alias, ColumnRef, GlossaryTerm } from "../../contract/Glossary.ts"
import { TableId } from "../../contract/TableId.ts"
import { StorageService } from "../../services/Storage/StorageService.ts"
import { type CuratedProblem, CuratedFileError, GLOSSARY_FILE, locate, positionOf } from "../curated.ts"
import { retryRemote, type RetrySettings } from "../RetryPolicy.ts"

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
  const lines = new LineCounter()
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const fail = (problems: ReadonlyArray<CuratedProblem>) =>
    Either.left(new CuratedFileError({ file: name, problems: [problems[0]!, ...problems.slice(1)] }))
  if (document.errors.length > 0) {
    return fail(document.errors.map((error) => {
      const { col, line } = lines.linePos(error.pos[0])
      return { line, column: col, path: "", message: `invalid YAML: ${error.message}` }
    }))
  }
  const root = document.contents
  const decoded = decodeFile(document.toJS() ?? {})
  if (Either.isLeft(decoded)) {
    return fail(ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => {
      const at = locate(root, issue.path)
      const message = issue._tag === "Unexpected"
        ? `unknown key, expected one of ${
          issue.path.length === 1 ? "terms, aliases" : issue.path[0] === "terms" ? TERM_KEYS : "table, column, names"
        }`
        : issue._tag === "Missing"
        ? "is missing"
        : issue.message
      const node = issue._tag === "Unexpected" ? at.key ?? at.node : at.node
      return { ...positionOf(node, lines), path: issue.path.map(String).join("."), message }
    }).filter((p, i, all) => all.findIndex((q) => q.path === p.path && q.message === p.message) === i)
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)))
  }
  const problems: Array<CuratedProblem> = []
  const at = (segments: ReadonlyArray<string | number>) => positionOf(locate(root, segments).node, lines)
  const terms: Array<GlossaryTerm> = []
  ;(decoded.right.terms ?? []).forEach((entry, index) => {
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
  ;(decoded.right.aliases ?? []).forEach((entry, index) => {
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
  return problems.length > 0 ? fail(problems) : Either.right({ terms, aliases })
}

/** Every glossary file that parsed, and the files that did not. */
export interface CuratedGlossary extends Glossary {
  readonly errors: ReadonlyArray<CuratedFileError>
  readonly files: number
}

const NONE: CuratedGlossary = { terms: [], aliases: [], errors: [], files: 0 }

type Read = { readonly name: string; readonly text: Either.Either<string, string> }

const collect = (reads: ReadonlyArray<Read>): CuratedGlossary => {
  const terms: Array<GlossaryTerm> = []
  const aliases: Array<Alias> = []
  const errors: Array<CuratedFileError> = []
  for (const read of reads) {
    const parsed = Either.isLeft(read.text)
      ? Either.left(new CuratedFileError({ file: read.name, problems: [{ line: null, column: null, path: "", message: read.text.left }] }))
      : parseGlossaryFile(read.name, read.text.right)
    if (Either.isLeft(parsed)) errors.push(parsed.left)
    else {
      terms.push(...parsed.right.terms)
      aliases.push(...parsed.right.aliases)
    }
  }
  return { terms, aliases, errors, files: reads.length }
}

const message = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** The glossary files of a local directory (not its subdirectories); none when it does not exist. */
export const loadGlossaryDirectory = (directory: string): Effect.Effect<CuratedGlossary> =>
  Effect.tryPromise(() => fs.readdir(directory)).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(names.filter((n) => GLOSSARY_FILE.test(n)).sort(), (n) => {
        const name = path.join(directory, n)
        return Effect.tryPromise(() => fs.readFile(name, "utf8")).pipe(
          Effect.match({
            onFailure: (e): Read => ({ name, text: Either.left(`could not read: ${message(e.error)}`) }),
            onSuccess: (text): Read => ({ name, text: Either.right(text) })
          })
        )
      })
    ),
    Effect.map(collect),
    Effect.catchAll(() => Effect.succeed(NONE))
  )

/** The glossary files under a bucket prefix. */
export const loadGlossaryPrefix = (prefix: string, retry?: RetrySettings): Effect.Effect<CuratedGlossary, never, StorageService> =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const remote = <A, E extends { readonly _tag: string }>(call: Effect.Effect<A, E>) =>
      retry === undefined ? call : retryRemote(retry)(call)
    const listed = yield* Effect.either(remote(storage.list(prefix)))
    if (Either.isLeft(listed)) {
      return {
        ...NONE,
        errors: [new CuratedFileError({ file: storage.locate(prefix), problems: [{ line: null, column: null, path: "", message: `could not list: ${listed.left.message}` }] })]
      }
    }
    const reads = yield* Effect.forEach(listed.right.map((i) => i.name).filter((n) => GLOSSARY_FILE.test(n)), (name) =>
      remote(storage.read(name)).pipe(
        Effect.match({
          onFailure: (e): Read | null => ({ name: storage.locate(name), text: Either.left(`could not read: ${e.message}`) }),
          onSuccess: Option.match({
            onNone: () => null,
            onSome: (content): Read => ({ name: storage.locate(name), text: Either.right(new TextDecoder().decode(content.bytes)) })
          })
        })
      ))
    return collect(reads.filter((r) => r !== null))
  })
