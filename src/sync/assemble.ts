/**
 * Assemble: this run's results and the previous document become the tables of the new one. A
 * table read now is fresh; a table this run could not read keeps its previous entry, marked stale
 * since its first failure. When nothing at all could be read, there is nothing to publish.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { TableEntry } from "../contract/CacheDocument.ts"
import { parseTableRef } from "../contract/TableId.ts"
import { formatTarget, matchesTable } from "../config/Targets.ts"
import type { BigQueryError } from "../services/BigQuery/BigQueryService.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { isTransient } from "../services/RemoteErrors.ts"
import { fieldPathEntries } from "./fieldPaths.ts"
import type { Resolution } from "./targets.ts"

/** A table (or pattern) this run could not read. */
export interface TableFailureSummary {
  /** The table id, or the pattern whose dataset could not be listed. */
  readonly table_id: string
  readonly tag: string
  readonly message: string
  /** Whether its previous entry was kept (marked stale) in the published document. */
  readonly kept_stale: boolean
}

/** Every table failed: nothing was published. */
export class AllTablesFailed extends Schema.TaggedError<AllTablesFailed>()("AllTablesFailed", {
  failures: Schema.Array(Schema.Struct({ table_id: Schema.String, tag: Schema.String, message: Schema.String })),
  /** Every failure was transient (rate limits, 5xx, timeouts): a later run may succeed. */
  transient: Schema.Boolean
}) {
  override get message(): string {
    return `no table could be read, so nothing was published: ${
      this.failures.map((f) => `${f.table_id}: ${f.tag}: ${f.message}`).join("; ")
    }`
  }
}

/** A table just read, as the document describes it (before any profile). */
export const describeTable = (
  { table_constraints: _keys, ...table }: TableMetadata,
  sharding: TableEntry["sharding"]
): TableEntry => ({
  ...table,
  sharding,
  profile: null,
  field_paths: fieldPathEntries(table.columns),
  status: { state: "fresh" }
})

/** The previous entry of a table this run could not read, kept and marked stale since its first failure. */
const keepStale = (previous: TableEntry, error: BigQueryError, now: DateTime.Utc): TableEntry => ({
  ...previous,
  status: {
    state: "stale",
    failure: {
      tag: error._tag,
      message: error.message,
      since: previous.status.state === "stale" ? previous.status.failure.since : now
    }
  }
})

export interface Assembled {
  /** In target order: fresh entries, and stale ones kept in place of tables that failed. */
  readonly entries: ReadonlyArray<TableEntry>
  /** The metadata read this run, by table id. */
  readonly fresh: ReadonlyMap<string, TableMetadata>
  readonly failures: ReadonlyArray<TableFailureSummary>
}

/**
 * Merges what was read (`described[i]` is the entry of `collected[i]` when it was read) with the
 * previous document's entries; fails with `AllTablesFailed` when nothing was read.
 */
export const assembleTables = (input: {
  readonly resolution: Resolution
  readonly collected: ReadonlyArray<{ readonly table: { readonly id: string }; readonly result: Either.Either<TableMetadata, BigQueryError> }>
  readonly described: ReadonlyArray<TableEntry | undefined>
  readonly previous: ReadonlyMap<string, TableEntry>
  readonly now: DateTime.Utc
  /** The first target was named as the primary table: it stays first even without columns. */
  readonly primaryNamed?: boolean
}): Either.Either<Assembled, AllTablesFailed> => {
  const { collected, described, now, previous, resolution } = input
  const fresh = new Map<string, TableMetadata>()
  const entries: Array<TableEntry> = []
  const failures: Array<TableFailureSummary> = []
  const errors: Array<BigQueryError> = []
  for (const [index, { result, table }] of collected.entries()) {
    const entry = described[index]
    if (Either.isRight(result) && entry !== undefined) {
      fresh.set(table.id, result.right)
      entries.push(entry)
      continue
    }
    if (Either.isRight(result)) continue
    const kept = previous.get(table.id)
    if (kept !== undefined) entries.push(keepStale(kept, result.left, now))
    failures.push({ table_id: table.id, tag: result.left._tag, message: result.left.message, kept_stale: kept !== undefined })
    errors.push(result.left)
  }
  // A pattern whose dataset could not be listed keeps the previous entries it had matched.
  for (const { error, target } of resolution.failures) {
    const present = new Set(entries.map((e) => e.table_id as string))
    const kept = [...previous.values()].filter((entry) => {
      const ref = Either.getOrUndefined(parseTableRef(entry.table_id))
      return ref !== undefined && matchesTable(target, ref) && !present.has(entry.table_id)
    })
    entries.push(...kept.map((entry) => keepStale(entry, error, now)))
    failures.push({ table_id: formatTarget(target), tag: error._tag, message: error.message, kept_stale: kept.length > 0 })
    errors.push(error)
  }
  if (fresh.size === 0) {
    return Either.left(
      new AllTablesFailed({
        failures: failures.map(({ message, table_id, tag }) => ({ table_id, tag, message })),
        transient: errors.length > 0 && errors.every(isTransient)
      })
    )
  }
  return Either.right({ entries: input.primaryNamed === true ? entries : withPrimaryFirst(entries), fresh, failures })
}

/**
 * The entries with the primary table first: the first one that has columns, so that the seed's
 * `schema` block (which describes the primary table) never describes an empty table when another
 * could stand there. Otherwise in target order.
 */
const withPrimaryFirst = (entries: ReadonlyArray<TableEntry>): ReadonlyArray<TableEntry> => {
  const index = entries.findIndex((entry) => entry.columns.length > 0)
  return index <= 0 ? entries : [entries[index], ...entries.slice(0, index), ...entries.slice(index + 1)]
}
