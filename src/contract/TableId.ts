/**
 * BigQuery table identifiers, parsed and checked against BigQuery's own naming rules.
 *
 * - Project ids: 6–30 characters, lowercase ASCII letters, digits and hyphens, starting with a
 *   letter and not ending with a hyphen; legacy domain-scoped ids (`example.com:my-project`) allowed.
 * - Dataset names: 1–1024 ASCII letters, digits and underscores.
 * - Table names: 1–1024 UTF-8 bytes of Unicode letters (L), marks (M), numbers (N),
 *   connector punctuation (Pc, including `_`), dashes (Pd) and spaces (Zs).
 * - A table name ending in `*` names a wildcard table: a date-sharded family such as `events_*`
 *   (`events_20210101`, `events_20210102`, …), queried as one table with `_TABLE_SUFFIX`.
 *
 * @see https://cloud.google.com/bigquery/docs/tables#table_naming
 * @see https://cloud.google.com/bigquery/docs/datasets#dataset-naming
 * @see https://cloud.google.com/resource-manager/docs/creating-managing-projects
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/
const DOMAIN_SCOPED_PROJECT_ID = /^[a-z0-9][a-z0-9.-]*[a-z0-9]:[a-z][a-z0-9-]{4,28}[a-z0-9]$/
const DATASET_NAME = /^[A-Za-z0-9_]{1,1024}$/
const TABLE_NAME = /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+$/u
const MAX_TABLE_NAME_BYTES = 1024

/** The three parts of a fully qualified table id. */
export interface TableRef {
  readonly project: string
  readonly dataset: string
  readonly table: string
}

/** Why `project` is not a valid project id, or `undefined` when it is. */
export const projectIdProblem = (project: string): string | undefined => {
  if (project.length === 0) return "the project id is empty"
  if (PROJECT_ID.test(project) || DOMAIN_SCOPED_PROJECT_ID.test(project)) return undefined
  if (project.length < 6 || project.length > 30) {
    return `project id "${project}" must be 6 to 30 characters long (it has ${project.length})`
  }
  return `project id "${project}" may hold only lowercase letters, digits and hyphens, must start with a letter and must not end with a hyphen`
}

/** Why `dataset` is not a valid dataset name, or `undefined` when it is. */
export const datasetNameProblem = (dataset: string): string | undefined => {
  if (dataset.length === 0) return "the dataset name is empty"
  if (DATASET_NAME.test(dataset)) return undefined
  return `dataset name "${dataset}" may hold only letters, digits and underscores (at most 1024)`
}

/** Why `table` is not a valid table name (or wildcard family `prefix*`), or `undefined` when it is. */
export const tableNameProblem = (table: string): string | undefined => {
  if (table.length === 0) return "the table name is empty"
  if (table.endsWith("*")) {
    const prefix = table.slice(0, -1)
    if (prefix.length === 0) return "a wildcard table needs a prefix before *, such as events_*"
    return prefix.includes("*")
      ? `table name "${table}" may hold * only at its end (a wildcard table)`
      : tableNameProblem(prefix)
  }
  if (new TextEncoder().encode(table).length > MAX_TABLE_NAME_BYTES) {
    return `table name "${table.slice(0, 40)}…" is longer than ${MAX_TABLE_NAME_BYTES} UTF-8 bytes`
  }
  if (TABLE_NAME.test(table)) return undefined
  return `table name "${table}" may hold only Unicode letters, marks, numbers, connectors (_), dashes and spaces`
}

/**
 * Splits `project.dataset.table` into its parts and checks each, or says what is wrong.
 * A domain-scoped project (`example.com:proj`) keeps its own dots.
 */
export const parseTableRef = (input: string): Either.Either<TableRef, string> => {
  const trimmed = input.trim()
  if (trimmed !== input) return Either.left(`"${input}" has leading or trailing white space`)
  if (input.length === 0) return Either.left("the table id is empty; expected project.dataset.table")
  const colon = input.indexOf(":")
  let project: string
  let rest: string
  if (colon >= 0) {
    // `proj:dataset.table` is the bq tool's legacy form; `domain.com:proj.dataset.table` is a
    // domain-scoped project in standard form.
    const afterColon = input.slice(colon + 1)
    const firstDot = afterColon.indexOf(".")
    if (firstDot < 0) return Either.left(`"${input}" is not of the form project.dataset.table`)
    project = input.slice(0, colon + 1 + firstDot)
    rest = afterColon.slice(firstDot + 1)
    if (!input.slice(0, colon).includes(".") && rest.split(".").length === 1) {
      return Either.left(
        `"${input}" uses the legacy project:dataset.table form; write it as ${input.slice(0, colon)}.${afterColon}`
      )
    }
  } else {
    const firstDot = input.indexOf(".")
    if (firstDot < 0) return Either.left(`"${input}" is not of the form project.dataset.table`)
    project = input.slice(0, firstDot)
    rest = input.slice(firstDot + 1)
  }
  const secondDot = rest.indexOf(".")
  if (secondDot < 0) {
    return Either.left(`"${input}" names no table: expected project.dataset.table`)
  }
  const dataset = rest.slice(0, secondDot)
  const table = rest.slice(secondDot + 1)
  const problem = projectIdProblem(project) ?? datasetNameProblem(dataset) ?? tableNameProblem(table)
  return problem === undefined ? Either.right({ project, dataset, table }) : Either.left(problem)
}

/** `project.dataset.table`, the form used everywhere in the cache document. */
export const formatTableRef = (ref: TableRef): string => `${ref.project}.${ref.dataset}.${ref.table}`

/** A fully qualified BigQuery table id (`project.dataset.table`) that obeys BigQuery's naming rules. */
export const TableId = Schema.String.pipe(
  Schema.filter((s, _, ast) =>
    Either.match(parseTableRef(s), {
      onLeft: (message) => new ParseResult.Type(ast, s, message),
      onRight: () => undefined
    })
  ),
  Schema.brand("TableId"),
  Schema.annotations({
    identifier: "TableId",
    description: "A fully qualified BigQuery table id: project.dataset.table"
  })
)
export type TableId = typeof TableId.Type

/** Does `id` name a wildcard table (a date-sharded family) rather than one table? */
export const isWildcardTable = (ref: TableRef): boolean => ref.table.endsWith("*")

/** The parts of an already validated id. */
export const tableRefOf = (id: TableId): TableRef => Either.getOrThrow(parseTableRef(id))

export const makeTableId = (ref: TableRef): TableId => TableId.make(formatTableRef(ref))
