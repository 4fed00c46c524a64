/**
 * An in-memory warehouse for tests and benchmarks: tables and query answers arranged by the test
 * through `MemoryBigQueryControl`, scripted failures, a log of calls, and optional latency per call.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import { formatTableRef, type TableRef, tableRefOf } from "../../contract/TableId.ts"
import { RemoteRejected, ResourceNotFound } from "../RemoteErrors.ts"
import { countQueryBytes } from "../RunCounters.ts"
import {
  type BigQueryError,
  BigQueryService,
  type QueryResult,
  type TableListing,
  type TableRead
} from "./BigQueryService.ts"
import type { TableMetadata } from "./TableResource.ts"

export type BigQueryOperation =
  | "getTable"
  | "getTables"
  | "getTablesByRegion"
  | "listTables"
  | "listTablesByRegion"
  | "query"
  | "dryRun"

export interface BigQueryCall {
  readonly operation: BigQueryOperation
  /** The table id, `project.dataset`, or the SQL. */
  readonly target: string
}

interface QueryAnswer {
  readonly matches: (sql: string) => boolean
  readonly result: QueryResult | ((sql: string) => QueryResult)
}

const answer = (a: QueryAnswer, sql: string): QueryResult => typeof a.result === "function" ? a.result(sql) : a.result

interface State {
  /** Changed in place (as are `calls`): a copy per change would make big arrangements quadratic. */
  readonly tables: Map<string, TableMetadata>
  readonly answers: ReadonlyArray<QueryAnswer>
  readonly faults: ReadonlyArray<{
    readonly operation: BigQueryOperation
    readonly target: string | undefined
    readonly error: BigQueryError
  }>
  readonly calls: Array<BigQueryCall>
}

/** What a test can do to the in-memory warehouse. */
export interface MemoryWarehouse {
  /** Adds or replaces a table. */
  readonly putTable: (table: TableMetadata) => Effect.Effect<void>
  readonly dropTable: (tableId: string) => Effect.Effect<void>
  /** Answers queries whose SQL satisfies `matches` (first arranged answer wins), with a result or a function of the SQL. */
  readonly answerQuery: (
    matches: (sql: string) => boolean,
    result: QueryResult | ((sql: string) => QueryResult)
  ) => Effect.Effect<void>
  /** The next call of `operation` (on `target`, when given) fails with `error` (queued in order). */
  readonly failNext: (operation: BigQueryOperation, error: BigQueryError, target?: string) => Effect.Effect<void>
  readonly calls: Effect.Effect<ReadonlyArray<BigQueryCall>>
}

export class MemoryBigQueryControl extends Context.Tag("MetaSync/MemoryBigQueryControl")<
  MemoryBigQueryControl,
  MemoryWarehouse
>() {}

export interface MemoryBigQueryOptions {
  /** Simulated round-trip time of every call (benchmarks); none by default. */
  readonly latency?: Duration.DurationInput
  /**
   * Read and list datasets a region at a time, as the live layer's `METADATA_READ=auto` does (every
   * dataset of a project in one location): a project with more than `above` datasets of more than
   * `TABLES_GET_LIMIT` tables is read with one `getTablesByRegion` call per set of at most
   * `REGION_BATCH_TABLES` tables, and, with more than `above` datasets to list, listed with one
   * `listTablesByRegion` call that waits two round trips (the live layer's `datasets.list`, then
   * its query). Off by default: every dataset is read and listed by itself.
   */
  readonly regionRead?: { readonly above: number }
}

/** The live layer's limits, mirrored: `LiveBigQuery.TABLES_GET_LIMIT` and `REGION_BATCH_TABLES`. */
const TABLES_GET_LIMIT = 10
const REGION_BATCH_TABLES = 2_000

const make = (options: MemoryBigQueryOptions) =>
  Effect.gen(function*() {
    const state = yield* Ref.make<State>({ tables: new Map(), answers: [], faults: [], calls: [] })
    const latency = options.latency === undefined ? Duration.zero : Duration.decode(options.latency)

    /** Records the call, waits the simulated latency, and fails with the first matching scripted fault. */
    const enter = (operation: BigQueryOperation, target: string) =>
      Ref.modify(state, (s): [BigQueryError | undefined, State] => {
        s.calls.push({ operation, target })
        const index = s.faults.findIndex((f) =>
          f.operation === operation && (f.target === undefined || f.target === target)
        )
        if (index < 0) return [undefined, s]
        return [s.faults[index].error, { ...s, faults: s.faults.filter((_, i) => i !== index) }]
      }).pipe(
        Effect.zipLeft(Duration.isZero(latency) ? Effect.void : Effect.sleep(latency)),
        Effect.flatMap((error) => (error === undefined ? Effect.void : Effect.fail(error)))
      )

    const notFound = (operation: string, resource: string) =>
      new ResourceNotFound({ service: "bigquery", operation, resource, message: `Not found: ${resource}` })

    const bigQuery = BigQueryService.of({
      getTable: (ref: TableRef) => {
        const id = formatTableRef(ref)
        return enter("getTable", id).pipe(
          Effect.zipRight(Ref.get(state)),
          Effect.flatMap((s) => {
            const table = s.tables.get(id)
            return table === undefined ? Effect.fail(notFound("tables.get", id)) : Effect.succeed(table)
          })
        )
      },
      // One call per batch, as the live layer's INFORMATION_SCHEMA read is a fixed number of queries.
      getTables: (project, dataset, tables) =>
        enter("getTables", `${project}.${dataset}`).pipe(
          Effect.zipRight(Ref.get(state)),
          Effect.map((s) => {
            const found = new Map<string, TableRead>()
            for (const table of tables) {
              const metadata = s.tables.get(formatTableRef({ project, dataset, table }))
              if (metadata !== undefined) found.set(table, Either.right(metadata))
            }
            return found
          })
        ),
      // No region read: every dataset is read by its own getTables.
      getTablesByRegion: (requests) =>
        Effect.gen(function*() {
          const out = new Map<string, ReadonlyMap<string, TableRead>>()
          if (options.regionRead === undefined) return out
          const byProject = new Map<string, Array<{ dataset: string; tables: ReadonlyArray<string> }>>()
          for (const { dataset, project, tables } of requests) {
            const distinct = [...new Set(tables)]
            if (distinct.length <= TABLES_GET_LIMIT) continue
            byProject.set(project, [...(byProject.get(project) ?? []), { dataset, tables: distinct }])
          }
          const sets: Array<{ project: string; datasets: Array<{ dataset: string; tables: ReadonlyArray<string> }> }> = []
          for (const [project, datasets] of byProject) {
            if (datasets.length <= options.regionRead.above) continue
            let set: Array<{ dataset: string; tables: ReadonlyArray<string> }> = []
            let size = 0
            for (const dataset of datasets) {
              if (set.length > 0 && size + dataset.tables.length > REGION_BATCH_TABLES) {
                sets.push({ project, datasets: set })
                set = []
                size = 0
              }
              set.push(dataset)
              size += dataset.tables.length
            }
            if (set.length > 0) sets.push({ project, datasets: set })
          }
          // Two sets at once, as the live layer runs them; a failing set is left to the caller.
          yield* Effect.forEach(sets, ({ datasets, project }) =>
            enter("getTablesByRegion", project).pipe(
              Effect.zipRight(Ref.get(state)),
              Effect.map((s) => {
                for (const { dataset, tables } of datasets) {
                  const found = new Map<string, TableRead>()
                  for (const table of tables) {
                    const metadata = s.tables.get(formatTableRef({ project, dataset, table }))
                    if (metadata !== undefined) found.set(table, Either.right(metadata))
                  }
                  out.set(`${project}.${dataset}`, found)
                }
              }),
              Effect.ignore
            ), { concurrency: 2, discard: true })
          return out
        }),
      listTablesByRegion: (requests) =>
        Effect.gen(function*() {
          const out = new Map<string, ReadonlyArray<TableListing>>()
          if (options.regionRead === undefined) return out
          const byProject = new Map<string, Set<string>>()
          for (const { dataset, project } of requests) byProject.set(project, (byProject.get(project) ?? new Set()).add(dataset))
          yield* Effect.forEach([...byProject].filter(([, datasets]) => datasets.size > options.regionRead!.above), ([project, datasets]) =>
            enter("listTablesByRegion", project).pipe(
              Effect.zipLeft(Duration.isZero(latency) ? Effect.void : Effect.sleep(latency)),
              Effect.zipRight(Ref.get(state)),
              Effect.map((s) => {
                const listed = new Map<string, Array<TableListing>>([...datasets].map((dataset) => [dataset, []]))
                for (const t of s.tables.values()) {
                  const ref = tableRefOf(t.table_id)
                  if (ref.project === project) listed.get(ref.dataset)?.push({ table: ref.table, kind: t.kind })
                }
                // A dataset with no table is not known to exist: left to listTables, which says so.
                for (const [dataset, tables] of listed) {
                  if (tables.length > 0) out.set(`${project}.${dataset}`, tables.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0)))
                }
              }),
              Effect.ignore
            ), { concurrency: 2, discard: true })
          return out
        }),
      listTables: (project, dataset) =>
        enter("listTables", `${project}.${dataset}`).pipe(
          Effect.zipRight(Ref.get(state)),
          Effect.flatMap((s) => {
            const tables = [...s.tables.values()]
              .map((t) => ({ ref: tableRefOf(t.table_id), kind: t.kind }))
              .filter(({ ref }) => ref.project === project && ref.dataset === dataset)
              .map(({ kind, ref }) => ({ table: ref.table, kind }))
              .sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))
            const datasetExists = tables.length > 0
            return datasetExists ? Effect.succeed(tables) : Effect.fail(notFound("tables.list", `${project}.${dataset}`))
          })
        ),
      query: (_project, sql) =>
        enter("query", sql).pipe(
          Effect.zipRight(Ref.get(state)),
          Effect.flatMap((s) => {
            const found = s.answers.find((a) => a.matches(sql))
            return found === undefined
              ? Effect.fail(
                new RemoteRejected({
                  service: "bigquery",
                  operation: "jobs.query",
                  resource: sql.slice(0, 200),
                  status: 400,
                  reason: "invalidQuery",
                  message: "no answer arranged for this query"
                })
              )
              : Effect.tap(Effect.succeed(answer(found, sql)), countQueryBytes)
          })
        ),
      dryRun: (_project, sql) =>
        enter("dryRun", sql).pipe(
          Effect.zipRight(Ref.get(state)),
          Effect.map((s) => ({
            totalBytesProcessed: Option.match(Option.fromNullable(s.answers.find((a) => a.matches(sql))), {
              onNone: () => 0,
              onSome: (found) => answer(found, sql).totalBytesProcessed
            })
          }))
        )
    })

    const control = MemoryBigQueryControl.of({
      putTable: (table) => Effect.map(Ref.get(state), (s) => void s.tables.set(table.table_id, table)),
      dropTable: (tableId) => Effect.map(Ref.get(state), (s) => void s.tables.delete(tableId)),
      answerQuery: (matches, result) =>
        Ref.update(state, (s) => ({ ...s, answers: [...s.answers, { matches, result }] })),
      failNext: (operation, error, target) =>
        Ref.update(state, (s) => ({ ...s, faults: [...s.faults, { operation, target, error }] })),
      calls: Effect.map(Ref.get(state), (s) => [...s.calls])
    })
    return Context.make(BigQueryService, bigQuery).pipe(Context.add(MemoryBigQueryControl, control))
  })

/** Provides `BigQueryService` and its `MemoryBigQueryControl` over an empty in-memory warehouse. */
export const MemoryBigQuery = {
  layer: (options: MemoryBigQueryOptions = {}): Layer.Layer<BigQueryService | MemoryBigQueryControl> =>
    Layer.effectContext(make(options))
} as const
