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
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import { Cardinality, type Relationship } from "../../contract/Relationship.ts"
import { TableId } from "../../contract/TableId.ts"
import { StorageService } from "../../services/Storage/StorageService.ts"
import {
  CuratedFileError,
  type CuratedProblem,
  type CuratedRead,
  decodeCuratedYaml,
  parseCuratedReads,
  readCuratedDirectory,
  readCuratedPrefix,
  RELATIONSHIPS_FILE
} from "../curated.ts"
import type { RetrySettings } from "../RetryPolicy.ts"

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
  const decoded = decodeCuratedYaml(name, text, decodeFile, (issue) =>
    issue._tag === "Unexpected"
      ? `unknown key, expected one of ${issue.path.length === 1 ? "relationships" : "from, to, cardinality, note"}`
      : issue._tag !== "Missing" && issue.path.length === 3 && (issue.path[2] === "from" || issue.path[2] === "to")
      ? "must be project.dataset.table.column, or { table, columns }"
      : undefined)
  if (Either.isLeft(decoded)) return Either.left(decoded.left)
  const { at, value } = decoded.right
  const out: Array<Relationship> = []
  const problems: Array<CuratedProblem> = []
  value.relationships.forEach((entry, index) => {
    const from = endOf(entry.from)
    const to = endOf(entry.to)
    for (const [side, end] of [["from", from], ["to", to]] as const) {
      if (Either.isLeft(end)) {
        problems.push({ ...at(["relationships", index, side]), path: `relationships.${index}.${side}`, message: end.left })
      }
    }
    if (Either.isLeft(from) || Either.isLeft(to)) return
    if (from.right.columns.length !== to.right.columns.length) {
      problems.push({
        ...at(["relationships", index]),
        path: `relationships.${index}`,
        message: `from has ${from.right.columns.length} columns and to has ${to.right.columns.length}: they must pair up`
      })
      return
    }
    out.push({
      from: from.right,
      to: to.right,
      source: "curated",
      confidence: 1,
      evidence: entry.note ?? `${path.basename(name)}:${at(["relationships", index]).line}`,
      cardinality: entry.cardinality ?? null
    })
  })
  return problems.length > 0
    ? Either.left(new CuratedFileError({ file: name, problems: [problems[0]!, ...problems.slice(1)] }))
    : Either.right(out)
}

/** Every curated relationship that parsed, and the files that did not. */
export interface CuratedRelationships {
  readonly relationships: ReadonlyArray<Relationship>
  readonly errors: ReadonlyArray<CuratedFileError>
  readonly files: number
}

const collect = (reads: ReadonlyArray<CuratedRead>): CuratedRelationships => {
  const { errors, files, parsed } = parseCuratedReads(reads, parseRelationshipsFile)
  return { relationships: parsed.flat(), errors, files }
}

/** The relationships files of a local directory (not its subdirectories); none when it does not exist. */
export const loadRelationshipsDirectory = (directory: string): Effect.Effect<CuratedRelationships> =>
  Effect.map(readCuratedDirectory(directory, RELATIONSHIPS_FILE), collect)

/** The relationships files under a bucket prefix. */
export const loadRelationshipsPrefix = (
  prefix: string,
  retry?: RetrySettings
): Effect.Effect<CuratedRelationships, never, StorageService> =>
  Effect.map(
    readCuratedPrefix(prefix, RELATIONSHIPS_FILE, retry),
    Either.match({ onLeft: (error) => ({ relationships: [], errors: [error], files: 0 }), onRight: collect })
  )
