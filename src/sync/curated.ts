/**
 * Curated few-shot examples: question→SQL pairs the data team writes and maintains, one file per
 * table, kept in the repository (a directory) or in the bucket (an object prefix). They pass the
 * same SQL validator as generated examples and win over a generated example with the same
 * question or the same SQL.
 *
 * File format — YAML (`*.yaml`, `*.yml`) or JSON (`*.json`; JSON is YAML, so both parse alike):
 *
 * ```yaml
 * table: nlq-ex.test_dataset.events_20210131   # a table id, or a family such as project.dataset.events_*
 * examples:
 *   - question: 총 이벤트 수는 얼마인가요?
 *     sql: SELECT COUNT(*) AS total_events FROM `nlq-ex.test_dataset.events_20210131`
 *     language: ko        # optional; default: ko when the question holds Hangul, else en
 * ```
 *
 * Unknown keys are errors (a typo such as `sqll` must not silently drop an example). Every
 * problem is reported as `<file>:<line>:<col>: <path>: <what is wrong>`; a bad file never stops
 * a run, its problems are returned to be logged and counted.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, type Pair, parseDocument } from "yaml"
import { type Example, Language } from "../contract/CacheDocument.ts"
import { TableId } from "../contract/TableId.ts"
import { SyncConfig } from "../config/SyncConfig.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { StorageService } from "../services/Storage/StorageService.ts"
import { type SqlRejection, type ValidatedSql, validateSql } from "../sql/SqlValidator.ts"
import { acceptExamples, type ExampleSet, labelMismatch } from "./examples.ts"
import { retryRemote, type RetrySettings } from "./RetryPolicy.ts"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** One thing wrong in a curated file, at a 1-based line and column (`null` for the whole file). */
export const CuratedProblem = Schema.Struct({
  line: Schema.NullOr(Schema.Int),
  column: Schema.NullOr(Schema.Int),
  /** Where in the document, e.g. `examples[2].sql`; empty for the document itself. */
  path: Schema.String,
  message: Schema.String
}).annotations({ identifier: "CuratedProblem" })
export type CuratedProblem = typeof CuratedProblem.Type

/** A curated file that could not be used in full, with every problem found in it. */
export class CuratedFileError extends Schema.TaggedError<CuratedFileError>()("CuratedFileError", {
  file: Schema.String,
  problems: Schema.NonEmptyArray(CuratedProblem)
}) {
  override get message(): string {
    return this.problems.map((problem) => formatProblem(this.file, problem)).join("\n")
  }
}

/** `<file>:<line>:<col>: <path>: <what is wrong>`, leaving out what is unknown. */
export const formatProblem = (file: string, problem: CuratedProblem): string => {
  const at = problem.line === null ? file : `${file}:${problem.line}:${problem.column ?? 1}`
  return problem.path === "" ? `${at}: ${problem.message}` : `${at}: ${problem.path}: ${problem.message}`
}

// ---------------------------------------------------------------------------------------------
// The file's schema
// ---------------------------------------------------------------------------------------------

const NonBlankString = Schema.String.annotations({
  message: (issue) => (issue.actual === null ? "has no value" : "must be a string")
}).pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "must not be empty" })
)

const isLanguage = Schema.is(Language)
/** A language, with one message for either wrong value (a literal union would report one per member). */
const LanguageCode = Schema.String.annotations({ message: () => `must be "ko" or "en"` }).pipe(
  Schema.filter((s): s is Language => isLanguage(s), { message: () => `must be "ko" or "en"` })
)

const EXAMPLE_KEYS = ["question", "sql", "language"] as const
const FILE_KEYS = ["table", "examples"] as const

const CuratedEntry = Schema.Struct({
  question: NonBlankString,
  sql: NonBlankString,
  language: Schema.optionalWith(LanguageCode, { exact: true })
}).annotations({ message: () => "must be a mapping with question and sql" })

const CuratedDocument = Schema.Struct({
  table: Schema.String.annotations({ message: () => "must be a table id (project.dataset.table)" }).pipe(
    Schema.compose(TableId)
  ),
  examples: Schema.Array(CuratedEntry).annotations({ message: () => "must be a list of examples (question, sql)" })
}).annotations({ message: () => "must be a mapping with table and examples" })

/** One curated example and where it was written, so a refusal can point the team at it. */
export interface CuratedExample {
  readonly example: Example
  readonly file: string
  /** Where the example's SQL starts in the file (1-based). */
  readonly line: number
  readonly column: number
  /** `examples[<index>]` in the file. */
  readonly index: number
}

/** A curated file that parsed and passed the schema. */
export interface CuratedFile {
  readonly file: string
  readonly table: TableId
  readonly examples: ReadonlyArray<CuratedExample>
}

const HANGUL = /[\u1100-\u11FF\u3131-\u318E\uAC00-\uD7A3]/

/** `ko` when the question holds Hangul, `en` otherwise. */
export const detectLanguage = (question: string): Language => (HANGUL.test(question) ? "ko" : "en")

// ---------------------------------------------------------------------------------------------
// Parsing, with positions
// ---------------------------------------------------------------------------------------------

type PathSegment = PropertyKey

const formatPath = (segments: ReadonlyArray<PathSegment>): string =>
  segments.reduce<string>(
    (out, segment) =>
      typeof segment === "number" ? `${out}[${segment}]` : out === "" ? String(segment) : `${out}.${String(segment)}`,
    ""
  )

interface Located {
  /** The node at the path, or the nearest existing parent. */
  readonly node: YamlNode | null
  /** The key of the last segment when the path ends on a mapping entry. */
  readonly key: YamlNode | null
  /** Did the whole path resolve? */
  readonly found: boolean
}

/** Walks `segments` from the document's root through mappings and sequences. */
export const locate = (root: unknown, segments: ReadonlyArray<PathSegment>): Located => {
  let node: YamlNode | null = isMap(root) || isSeq(root) || isScalar(root) ? root : null
  let key: YamlNode | null = null
  for (const segment of segments) {
    if (isMap(node)) {
      const pair: Pair<unknown, unknown> | undefined = node.items.find((item) =>
        isScalar(item.key) && String(item.key.value) === String(segment)
      )
      if (pair === undefined) return { node, key: null, found: false }
      key = isScalar(pair.key) ? pair.key : null
      node = isMap(pair.value) || isSeq(pair.value) || isScalar(pair.value) ? pair.value : null
      // `question:` with nothing after it has no value, or an empty one at the line's end: report at the key.
      const empty = node === null || (node.range !== undefined && node.range !== null && node.range[0] === node.range[1])
      if (empty) return { node: key, key, found: true }
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment]
      if (!(isMap(item) || isSeq(item) || isScalar(item))) return { node, key: null, found: false }
      node = item
      key = null
    } else {
      return { node, key: null, found: false }
    }
  }
  return { node, key, found: true }
}

export const positionOf = (node: YamlNode | null, lines: LineCounter) => {
  const offset = node?.range?.[0]
  if (offset === undefined) return { line: 1, column: 1 }
  const { line, col } = lines.linePos(offset)
  return { line, column: col }
}

const unknownKeyMessage = (key: string, allowed: ReadonlyArray<string>): string => {
  const near = allowed.find((candidate) => editDistance(candidate, key.toLowerCase()) <= 2)
  const hint = near === undefined ? "" : `; did you mean "${near}"?`
  return `unknown key "${key}" (allowed: ${allowed.join(", ")})${hint}`
}

const editDistance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}

const decodeDocument = Schema.decodeUnknownEither(CuratedDocument, { errors: "all", onExcessProperty: "error" })

/**
 * Parses one curated file (YAML or JSON) named `name`, or says everything that is wrong with it,
 * each problem at its line and column.
 */
export const parseCuratedFile = (name: string, text: string): Either.Either<CuratedFile, CuratedFileError> => {
  const lines = new LineCounter()
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  if (document.errors.length > 0) {
    const problems = document.errors.map((error): CuratedProblem => {
      const { line, col } = lines.linePos(error.pos[0])
      return { line, column: col, path: "", message: `invalid YAML: ${error.message}` }
    })
    return Either.left(new CuratedFileError({ file: name, problems: [problems[0], ...problems.slice(1)] }))
  }
  const root = document.contents
  if (root === null) {
    return Either.left(
      new CuratedFileError({
        file: name,
        problems: [{ line: 1, column: 1, path: "", message: "the file is empty; expected table and examples" }]
      })
    )
  }
  const decoded = decodeDocument(document.toJS())
  if (Either.isLeft(decoded)) {
    const problems = ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue): CuratedProblem => {
      const at = locate(root, issue.path)
      const pathText = formatPath(issue.path)
      if (issue._tag === "Unexpected") {
        const key = String(issue.path[issue.path.length - 1])
        const allowed = issue.path.length === 1 ? FILE_KEYS : EXAMPLE_KEYS
        return { ...positionOf(at.key ?? at.node, lines), path: pathText, message: unknownKeyMessage(key, allowed) }
      }
      if (issue._tag === "Missing") {
        return { ...positionOf(at.node, lines), path: pathText, message: "is missing" }
      }
      return { ...positionOf(at.node, lines), path: pathText, message: issue.message }
    })
    return Either.left(new CuratedFileError({ file: name, problems: [problems[0], ...problems.slice(1)] }))
  }
  const { table, examples } = decoded.right
  return Either.right({
    file: name,
    table,
    examples: examples.map((entry, index): CuratedExample => {
      const question = entry.question.trim()
      return {
        example: {
          question,
          sql: entry.sql.trim(),
          tables: [table],
          source: "curated",
          generator: `curated:${name}`,
          language: entry.language ?? detectLanguage(question)
        },
        file: name,
        ...positionOf(locate(root, ["examples", index, "sql"]).node, lines),
        index
      }
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Loading, from a directory or a bucket prefix
// ---------------------------------------------------------------------------------------------

/** Every curated example that parsed, and the files that did not. */
export interface CuratedSet {
  readonly examples: ReadonlyArray<CuratedExample>
  readonly errors: ReadonlyArray<CuratedFileError>
  /** How many curated files were found, good or bad. */
  readonly files: number
}

/** Curated files in a local directory (not its subdirectories). */
export interface CuratedDirectory {
  readonly directory: string
}

/** Curated files in the bucket, under an object prefix such as `examples/`. */
export interface CuratedPrefix {
  readonly prefix: string
  /** Retries transient storage failures under this policy; none when absent. */
  readonly retry?: RetrySettings | undefined
}

const CURATED_FILE = /\.(ya?ml|json)$/i
/** A curated relationships file (`src/sync/relationships/curated.ts`), which lives beside the examples. */
export const RELATIONSHIPS_FILE = /\.relationships\.(ya?ml|json)$/i

/** A curated glossary file (`src/sync/glossary/curated.ts`), which lives beside the examples too. */
export const GLOSSARY_FILE = /\.glossary\.(ya?ml|json)$/i

/** Is `name` a curated example file by its extension (relationships and glossary files are not)? */
export const isCuratedFileName = (name: string): boolean =>
  CURATED_FILE.test(name) && !RELATIONSHIPS_FILE.test(name) && !GLOSSARY_FILE.test(name)

/** A file as read: its text, or why it could not be read. */
type FileRead = { readonly name: string; readonly text: Either.Either<string, string> }

const utf8 = new TextDecoder("utf-8", { fatal: true })

const decodeText = (bytes: Uint8Array): Either.Either<string, string> =>
  Either.try({ try: () => utf8.decode(bytes), catch: () => "the file is not UTF-8 text" })

const wholeFileError = (file: string, message: string) =>
  new CuratedFileError({ file, problems: [{ line: null, column: null, path: "", message }] })

/** Parses what was read; both the directory and the bucket end here. */
const collect = (reads: ReadonlyArray<FileRead>): CuratedSet => {
  const examples: Array<CuratedExample> = []
  const errors: Array<CuratedFileError> = []
  for (const read of reads) {
    const parsed = Either.flatMap(
      Either.mapLeft(read.text, (message) => wholeFileError(read.name, message)),
      (text) => parseCuratedFile(read.name, text)
    )
    if (Either.isLeft(parsed)) errors.push(parsed.left)
    else examples.push(...parsed.right.examples)
  }
  return { examples, errors, files: reads.length }
}

const causeMessage = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))
const errorCode = (cause: unknown) =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

const readDirectory = (directory: string): Effect.Effect<CuratedSet> =>
  Effect.tryPromise(() => fs.readdir(directory, { withFileTypes: true })).pipe(
    Effect.flatMap((entries) => {
      const names = entries
        .filter((entry) => entry.isFile() && isCuratedFileName(entry.name))
        .map((entry) => path.join(directory, entry.name))
        .sort()
      return Effect.forEach(names, (name) =>
        Effect.tryPromise(() => fs.readFile(name)).pipe(
          Effect.match({
            onFailure: (error): FileRead => ({ name, text: Either.left(`could not read: ${causeMessage(error.error)}`) }),
            onSuccess: (bytes): FileRead => ({ name, text: decodeText(bytes) })
          })
        ))
    }),
    Effect.map(collect),
    Effect.catchAll((error) =>
      Effect.succeed<CuratedSet>(
        errorCode(error.error) === "ENOENT"
          ? { examples: [], errors: [], files: 0 }
          : { examples: [], errors: [wholeFileError(directory, `could not list: ${causeMessage(error.error)}`)], files: 0 }
      )
    )
  )

const readPrefix = (source: CuratedPrefix): Effect.Effect<CuratedSet, never, StorageService> =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const remote = <A, E extends { readonly _tag: string }>(call: Effect.Effect<A, E>) =>
      source.retry === undefined ? call : retryRemote(source.retry)(call)
    const listed = yield* Effect.either(remote(storage.list(source.prefix)))
    if (Either.isLeft(listed)) {
      return {
        examples: [],
        errors: [wholeFileError(storage.locate(source.prefix), `could not list: ${listed.left.message}`)],
        files: 0
      }
    }
    const names = listed.right.map((info) => info.name).filter(isCuratedFileName)
    const reads = yield* Effect.forEach(names, (name) =>
      remote(storage.read(name)).pipe(
        Effect.match({
          onFailure: (error): FileRead => ({ name: storage.locate(name), text: Either.left(`could not read: ${error.message}`) }),
          onSuccess: Option.match({
            // Removed between the listing and the read: no longer a curated file.
            onNone: (): FileRead | null => null,
            onSome: (content): FileRead => ({ name: storage.locate(name), text: decodeText(content.bytes) })
          })
        })
      ))
    return collect(reads.filter((read): read is FileRead => read !== null))
  })

/**
 * Reads every `*.yaml`, `*.yml` and `*.json` curated file of a local directory or of a bucket
 * prefix. Never fails: a bad or unreadable file is returned among `errors`, a missing directory
 * or empty prefix gives an empty set.
 */
export function loadCuratedExamples(source: CuratedDirectory): Effect.Effect<CuratedSet>
export function loadCuratedExamples(source: CuratedPrefix): Effect.Effect<CuratedSet, never, StorageService>
export function loadCuratedExamples(
  source: CuratedDirectory | CuratedPrefix
): Effect.Effect<CuratedSet, never, StorageService> {
  return "directory" in source ? readDirectory(source.directory) : readPrefix(source)
}

// ---------------------------------------------------------------------------------------------
// Merging with generated examples
// ---------------------------------------------------------------------------------------------

/** The examples of a run once curated and generated ones are merged. */
export interface CuratedMerge extends ExampleSet {
  /** Curated examples that were refused, by file, each naming the line of its SQL. */
  readonly errors: ReadonlyArray<CuratedFileError>
  /** Curated examples left out because their table is not among this run's tables. */
  readonly unmatched: { readonly examples: number; readonly tables: ReadonlyArray<TableId> }
}

/** Trimmed, white space collapsed, lower-cased: equal for the same question. */
export const normalizeQuestion = (question: string): string => question.trim().replace(/\s+/g, " ").toLowerCase()

/**
 * Curated examples first, then the generated ones that no curated example supersedes (same
 * normalised question or same normalised SQL; counted as `superseded_by_curated`). Everything,
 * curated included, goes through `acceptExamples`; a curated example it would refuse — the
 * validator's reasons, SQL that does not read exactly the table its file is for (`wrong_table`), the
 * same SQL as an earlier one (`duplicate`) — is counted by that reason and reported at its file and line.
 * `generated` may be raw candidates or already accepted ones.
 */
export const mergeCurated = (
  curated: ReadonlyArray<CuratedExample>,
  generated: ReadonlyArray<Example>,
  tables: ReadonlyArray<TableMetadata>
): CuratedMerge => {
  const catalog = { tables }
  const known = new Set<string>(tables.map((table) => table.table_id))
  const rejected: Record<string, number> = {}
  const count = (reason: string) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1
  }

  const inScope = curated.filter((entry) => entry.example.tables.every((table) => known.has(table)))
  const unmatchedTables = [
    ...new Set(curated.filter((entry) => !inScope.includes(entry)).flatMap((entry) => entry.example.tables))
  ].sort()

  const problems = new Map<string, Array<CuratedProblem>>()
  const report = (entry: CuratedExample, message: string) => {
    const list = problems.get(entry.file) ?? []
    list.push({ line: entry.line, column: entry.column, path: `examples[${entry.index}].sql`, message })
    problems.set(entry.file, list)
  }

  // Each candidate is validated once: the gate below reuses these verdicts (same catalog).
  const verdicts = new Map<Example, Either.Either<ValidatedSql, SqlRejection>>()
  const validate = (example: Example) => {
    const verdict = validateSql(example.sql, catalog)
    verdicts.set(example, verdict)
    return verdict
  }
  const winners: Array<CuratedExample> = []
  const winnerBySql = new Map<string, CuratedExample>()
  for (const entry of inScope) {
    const verdict = validate(entry.example)
    if (Either.isLeft(verdict)) {
      count(verdict.left.reason)
      report(entry, `rejected (${verdict.left.reason}): ${verdict.left.message}`)
      continue
    }
    // The same rule as the gate's (`acceptExamples`), checked here first so the file hears why.
    const mismatch = labelMismatch(entry.example.tables, verdict.right.tables)
    if (mismatch !== undefined) {
      count("wrong_table")
      report(
        entry,
        mismatch.unread.length > 0
          ? `rejected (wrong_table): the SQL does not read ${mismatch.unread.join(", ")}, the table this file is for`
          : `rejected (wrong_table): the SQL reads ${mismatch.unlabelled.join(", ")}, not only the table this file is for`
      )
      continue
    }
    const first = winnerBySql.get(verdict.right.normalized)
    if (first !== undefined) {
      count("duplicate")
      report(entry, `rejected (duplicate): the same SQL as ${first.file}:${first.line}`)
      continue
    }
    winners.push(entry)
    winnerBySql.set(verdict.right.normalized, entry)
  }

  const curatedQuestions = new Set(winners.map((entry) => normalizeQuestion(entry.example.question)))
  const remaining = generated.filter((example) => {
    const verdict = validate(example)
    // With no curated winner nothing is superseded: the questions need no normalising then.
    const superseded = winners.length > 0 && (curatedQuestions.has(normalizeQuestion(example.question)) ||
      (Either.isRight(verdict) && winnerBySql.has(verdict.right.normalized)))
    if (superseded) count("superseded_by_curated")
    return !superseded
  })

  const merged = acceptExamples([...winners.map((entry) => entry.example), ...remaining], tables, verdicts)
  for (const [reason, n] of Object.entries(merged.rejected)) rejected[reason] = (rejected[reason] ?? 0) + n

  const errors = [...problems].map(([file, list]) => new CuratedFileError({ file, problems: [list[0], ...list.slice(1)] }))
  return {
    examples: merged.examples,
    rejected,
    errors,
    unmatched: { examples: curated.length - inScope.length, tables: unmatchedTables }
  }
}

/**
 * Every curated example of the deployment: the directory shipped with it and, when configured,
 * the bucket prefix. Files that do not parse are logged with their lines and left out.
 */
export const gatherCurated = Effect.gen(function*() {
  const settings = yield* SyncConfig
  const local = yield* loadCuratedExamples({ directory: settings.curatedExamplesDir })
  const remote = settings.curatedExamplesPrefix === null
    ? { examples: [], errors: [], files: 0 }
    : yield* loadCuratedExamples({ prefix: settings.curatedExamplesPrefix, retry: settings })
  for (const error of [...local.errors, ...remote.errors]) yield* Effect.logWarning(error.message)
  return [...local.examples, ...remote.examples]
})

/** A YAML file decoded by a schema; `at` gives a path's line and column for checks after decoding. */
export interface DecodedYaml<A> {
  readonly value: A
  readonly at: (segments: ReadonlyArray<PathSegment>) => { readonly line: number; readonly column: number }
}

/**
 * Parses `text` as YAML and decodes it with `decode`, or says everything wrong with it, each
 * problem once, at its line and column, in file order. `wording` words a schema issue when its own
 * message is not what a person needs (the keys allowed where an unknown one stands, the form a
 * value must take); `undefined` keeps the default.
 */
export const decodeCuratedYaml = <A>(
  name: string,
  text: string,
  decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>,
  wording: (issue: ParseResult.ArrayFormatterIssue) => string | undefined
): Either.Either<DecodedYaml<A>, CuratedFileError> => {
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
  const decoded = decode(document.toJS() ?? {})
  if (Either.isLeft(decoded)) {
    return fail(ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => {
      const at = locate(root, issue.path)
      const message = wording(issue) ?? (issue._tag === "Missing" ? "is missing" : issue.message)
      const node = issue._tag === "Unexpected" ? at.key ?? at.node : at.node
      return { ...positionOf(node, lines), path: issue.path.map(String).join("."), message }
    }).filter((p, i, all) => all.findIndex((q) => q.path === p.path && q.message === p.message) === i)
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)))
  }
  return Either.right({ value: decoded.right, at: (segments) => positionOf(locate(root, segments).node, lines) })
}

/** One curated file as read: its text, or why it could not be read. */
export interface CuratedRead {
  readonly name: string
  readonly text: Either.Either<string, string>
}

/**
 * Parses each file read with `parse`, keeping what parsed and the errors of what did not (an
 * unreadable file is an error of its own).
 */
export const parseCuratedReads = <A>(
  reads: ReadonlyArray<CuratedRead>,
  parse: (name: string, text: string) => Either.Either<A, CuratedFileError>
): { readonly parsed: ReadonlyArray<A>; readonly errors: ReadonlyArray<CuratedFileError>; readonly files: number } => {
  const parsed: Array<A> = []
  const errors: Array<CuratedFileError> = []
  for (const read of reads) {
    const result = Either.isLeft(read.text)
      ? Either.left(new CuratedFileError({ file: read.name, problems: [{ line: null, column: null, path: "", message: read.text.left }] }))
      : parse(read.name, read.text.right)
    if (Either.isLeft(result)) errors.push(result.left)
    else parsed.push(result.right)
  }
  return { parsed, errors, files: reads.length }
}

/** The files of a local directory (not its subdirectories) whose names match; none when it does not exist. */
export const readCuratedDirectory = (directory: string, pattern: RegExp): Effect.Effect<ReadonlyArray<CuratedRead>> =>
  Effect.tryPromise(() => fs.readdir(directory)).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(names.filter((n) => pattern.test(n)).sort(), (n) => {
        const name = path.join(directory, n)
        return Effect.tryPromise(() => fs.readFile(name, "utf8")).pipe(
          Effect.match({
            onFailure: (e): CuratedRead => ({ name, text: Either.left(`could not read: ${causeMessage(e.error)}`) }),
            onSuccess: (text): CuratedRead => ({ name, text: Either.right(text) })
          })
        )
      })
    ),
    Effect.catchAll(() => Effect.succeed([]))
  )

/**
 * The objects under a bucket prefix whose names match, or the error of a listing that failed
 * (named after the prefix). An object gone between listing and reading is left out.
 */
export const readCuratedPrefix = (
  prefix: string,
  pattern: RegExp,
  retry?: RetrySettings
): Effect.Effect<Either.Either<ReadonlyArray<CuratedRead>, CuratedFileError>, never, StorageService> =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const remote = <A, E extends { readonly _tag: string }>(call: Effect.Effect<A, E>) =>
      retry === undefined ? call : retryRemote(retry)(call)
    const listed = yield* Effect.either(remote(storage.list(prefix)))
    if (Either.isLeft(listed)) {
      return Either.left(
        new CuratedFileError({ file: storage.locate(prefix), problems: [{ line: null, column: null, path: "", message: `could not list: ${listed.left.message}` }] })
      )
    }
    const reads = yield* Effect.forEach(listed.right.map((i) => i.name).filter((n) => pattern.test(n)), (name) =>
      remote(storage.read(name)).pipe(
        Effect.match({
          onFailure: (e): CuratedRead | null => ({ name: storage.locate(name), text: Either.left(`could not read: ${e.message}`) }),
          onSuccess: Option.match({
            onNone: () => null,
            onSome: (content): CuratedRead => ({ name: storage.locate(name), text: Either.right(new TextDecoder().decode(content.bytes)) })
          })
        })
      ))
    return Either.right(reads.filter((r) => r !== null))
  })
