/**
 * What to describe: `TARGET_TABLES`, a list of table ids and patterns, separated by commas or
 * new lines.
 *
 * - `project.dataset.table` — one table.
 * - `project.dataset.*` — every table of a dataset.
 * - `project.dataset.events_*` — tables matching a pattern (`*` stands for any characters).
 *   Date-sharded tables (`events_20210101`, …) matched by a pattern become one logical table,
 *   `project.dataset.events_*`, described by its newest shard.
 * - `!project.dataset.tmp_*` — leave out matching tables (an exclude pattern of that dataset).
 */
import * as Either from "effect/Either"
import { datasetNameProblem, parseTableRef, projectIdProblem, tableNameProblem, type TableRef } from "../contract/TableId.ts"

export interface TargetPattern {
  readonly project: string
  readonly dataset: string
  /** An exact table name, or a pattern holding `*`. */
  readonly table: string
  /** An exclude pattern (written with a leading `!`). */
  readonly exclude: boolean
}

export const isPattern = (target: TargetPattern): boolean => target.table.includes("*")

export const formatTarget = (target: TargetPattern): string =>
  `${target.exclude ? "!" : ""}${target.project}.${target.dataset}.${target.table}`

const globProblem = (table: string): string | undefined => {
  const literal = table.replaceAll("*", "")
  if (literal.length === 0) return undefined
  const problem = tableNameProblem(literal)
  return problem === undefined ? undefined : `in pattern "${table}": ${problem}`
}

/** One entry of the list, or why it is not one. */
export const parseTarget = (entry: string): Either.Either<TargetPattern, string> => {
  const exclude = entry.startsWith("!")
  const body = exclude ? entry.slice(1) : entry
  if (!body.includes("*")) {
    return Either.map(parseTableRef(body), (ref) => ({ ...ref, exclude }))
  }
  const parts = body.split(".")
  if (parts.length < 3) return Either.left(`"${entry}" is not of the form project.dataset.table-pattern`)
  // A domain-scoped project (`example.com:proj`) holds dots of its own: the last two parts are dataset and table.
  const table = parts[parts.length - 1]
  const dataset = parts[parts.length - 2]
  const project = parts.slice(0, -2).join(".")
  const problem = projectIdProblem(project) ?? datasetNameProblem(dataset) ?? globProblem(table)
  return problem === undefined ? Either.right({ project, dataset, table, exclude }) : Either.left(problem)
}

/** The whole list; fails with the first bad entry, named. */
export const parseTargets = (input: string): Either.Either<ReadonlyArray<TargetPattern>, string> => {
  const entries = input.split(/[,\n]/).map((e) => e.trim()).filter((e) => e.length > 0)
  if (entries.length === 0) return Either.left("the list names no table")
  const targets: Array<TargetPattern> = []
  for (const entry of entries) {
    const parsed = parseTarget(entry)
    if (Either.isLeft(parsed)) return Either.left(`entry "${entry}": ${parsed.left}`)
    targets.push(parsed.right)
  }
  if (targets.every((t) => t.exclude)) return Either.left("the list only excludes tables; name at least one to include")
  return Either.right(targets)
}

const escapeRegExp = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** Does `target` (same project and dataset) match `table`? */
export const matchesTable = (target: TargetPattern, ref: TableRef): boolean => {
  if (target.project !== ref.project || target.dataset !== ref.dataset) return false
  if (!isPattern(target)) return target.table === ref.table
  const regex = new RegExp(`^${target.table.split("*").map(escapeRegExp).join(".*")}$`, "u")
  return regex.test(ref.table)
}

/** The single-table target of `TARGET_TABLE_ID`. */
export const exactTarget = (ref: TableRef): TargetPattern => ({ ...ref, exclude: false })
