/**
 * Curated relationships: files people write, beside the curated examples (the deployed directory
 * and/or the bucket prefix), named `<anything>.relationships.yaml` (or `.yml`, `.json`):
 *
 * ```yaml
 * relationships:
 *   - from: nlq-ex.shop.orders.customer_id        # project.dataset.table.column
 *     to: nlq-ex.shop.customers.id
 *     cardinality: many-to-one                    # optional: many-to-one or one-to-one
 *     note: every order has its customer          # optional: becomes the evidence
 *   - from: { table: nlq-ex.shop.lines, columns: [order_id, shop_id] }   # several columns
 *     to: { table: nlq-ex.shop.orders, columns: [id, shop_id] }
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
import { Cardinality, type Relationship } from "../../contract/Relationship.ts"
import { TableId } from "../../contract/TableId.ts"
import { StorageService } from "../../services/Storage/StorageService.ts"
import { type CuratedProblem, CuratedFileError, locate, positionOf, RELATIONSHIPS_FILE } from "../curated.ts"
import { retryRemote, type RetrySettings } from "../RetryPolicy.ts"

const ColumnPath = Schema.String.pipe(
  Schema.pattern(/^[^.\s]+\.[^.\s]+\.[^.\s]+\.[^\s]+$/, {
    message: () => "must be project.dataset.table.column"
  })
)
const End = Schema.Union(
  ColumnPath,
  Schema.Struct({ table: TableId, columns: Schema.NonEmptyArray(Schema.NonEmptyString) })
)
const Entry = Schema.Struct({
  from: End,
  to: End,
  cardinality: Schema.optional(Cardinality),
  note: Schema.optional(Schema.String)
})
const RelationshipsFile = Schema.Struct({ relationships: Schema.Array(Entry) })
const decodeFile = Schema.decodeUnknownEither(RelationshipsFile, { errors: "all", onExcessProperty: "error" })
const decodeTableId = Schema.decodeUnknownEither(TableId)

type EndInput = typeof End.Type

const endOf = (end: EndInput): Either.Either<Relationship["from"], string> => {
  if (typeof end !== "string") return Either.right({ table_id: end.table, columns: end.columns })
  const parts = end.split(".")
  const table = parts.slice(0, 3).join(".")
  const column = parts.slice(3).join(".")
  return Either.mapBoth(decodeTableId(table), {
    onLeft: (e) => ParseResult.TreeFormatter.formatErrorSync(e),
    onRight: (table_id) => ({ table_id, columns: [column] as const })
  })
}

/** Parses one relationships file, or says everything wrong with it, each problem at its line and column. */
export const parseRelationshipsFile = (
  name: string,
  text: string
): Either.Either<ReadonlyArray<Relationship>, CuratedFileError> => {
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
        ? `unknown key, expected one of ${issue.path.length === 1 ? "relationships" : "from, to, cardinality, note"}`
        : issue._tag === "Missing"
        ? "is missing"
        : issue.path.length === 3 && (issue.path[2] === "from" || issue.path[2] === "to")
        ? "must be project.dataset.table.column, or { table, columns }"
        : issue.message
      const node = issue._tag === "Unexpected" ? at.key ?? at.node : at.node
      return { ...positionOf(node, lines), path: issue.path.map(String).join("."), message }
    }).filter((p, i, all) => all.findIndex((q) => q.path === p.path && q.message === p.message) === i)
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)))
  }
  const out: Array<Relationship> = []
  const problems: Array<CuratedProblem> = []
  decoded.right.relationships.forEach((entry, index) => {
    const from = endOf(entry.from)
    const to = endOf(entry.to)
    for (const [side, end] of [["from", from], ["to", to]] as const) {
      if (Either.isLeft(end)) {
        problems.push({
          ...positionOf(locate(root, ["relationships", index, side]).node, lines),
          path: `relationships.${index}.${side}`,
          message: end.left
        })
      }
    }
    if (Either.isLeft(from) || Either.isLeft(to)) return
    if (from.right.columns.length !== to.right.columns.length) {
      problems.push({
        ...positionOf(locate(root, ["relationships", index]).node, lines),
        path: `relationships.${index}`,
        message: `from has ${from.right.columns.length} columns and to has ${to.right.columns.length}: they must pair up`
      })
      return
    }
    const { line } = positionOf(locate(root, ["relationships", index]).node, lines)
    out.push({
      from: from.right,
      to: to.right,
      source: "curated",
      confidence: 1,
      evidence: entry.note ?? `${path.basename(name)}:${line}`,
      cardinality: entry.cardinality ?? null
    })
  })
  return problems.length > 0 ? fail(problems) : Either.right(out)
}

/** Every curated relationship that parsed, and the files that did not. */
export interface CuratedRelationships {
  readonly relationships: ReadonlyArray<Relationship>
  readonly errors: ReadonlyArray<CuratedFileError>
  readonly files: number
}

const NONE: CuratedRelationships = { relationships: [], errors: [], files: 0 }

const collect = (reads: ReadonlyArray<{ name: string; text: Either.Either<string, string> }>): CuratedRelationships => {
  const relationships: Array<Relationship> = []
  const errors: Array<CuratedFileError> = []
  for (const read of reads) {
    const parsed = Either.isLeft(read.text)
      ? Either.left(new CuratedFileError({ file: read.name, problems: [{ line: null, column: null, path: "", message: read.text.left }] }))
      : parseRelationshipsFile(read.name, read.text.right)
    if (Either.isLeft(parsed)) errors.push(parsed.left)
    else relationships.push(...parsed.right)
  }
  return { relationships, errors, files: reads.length }
}

const message = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

/** The relationships files of a local directory (not its subdirectories); none when it does not exist. */
export const loadRelationshipsDirectory = (directory: string): Effect.Effect<CuratedRelationships> =>
  Effect.tryPromise(() => fs.readdir(directory)).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(names.filter((n) => RELATIONSHIPS_FILE.test(n)).sort(), (n) => {
        const name = path.join(directory, n)
        return Effect.tryPromise(() => fs.readFile(name, "utf8")).pipe(
          Effect.match({
            onFailure: (e) => ({ name, text: Either.left(`could not read: ${message(e.error)}`) }),
            onSuccess: (text) => ({ name, text: Either.right(text) })
          })
        )
      })
    ),
    Effect.map(collect),
    Effect.catchAll(() => Effect.succeed(NONE))
  )

/** The relationships files under a bucket prefix. */
export const loadRelationshipsPrefix = (
  prefix: string,
  retry?: RetrySettings
): Effect.Effect<CuratedRelationships, never, StorageService> =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const remote = <A, E extends { readonly _tag: string }>(call: Effect.Effect<A, E>) =>
      retry === undefined ? call : retryRemote(retry)(call)
    const listed = yield* Effect.either(remote(storage.list(prefix)))
    if (Either.isLeft(listed)) {
      return { ...NONE, errors: [new CuratedFileError({ file: storage.locate(prefix), problems: [{ line: null, column: null, path: "", message: `could not list: ${listed.left.message}` }] })] }
    }
    const reads = yield* Effect.forEach(listed.right.map((i) => i.name).filter((n) => RELATIONSHIPS_FILE.test(n)), (name) =>
      remote(storage.read(name)).pipe(
        Effect.match({
          onFailure: (e): { name: string; text: Either.Either<string, string> } => ({ name: storage.locate(name), text: Either.left(`could not read: ${e.message}`) }),
          onSuccess: Option.match({
            onNone: () => null,
            onSome: (content) => ({ name: storage.locate(name), text: Either.right(new TextDecoder().decode(content.bytes)) })
          })
        })
      ))
    return collect(reads.filter((r) => r !== null))
  })
