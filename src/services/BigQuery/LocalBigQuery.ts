/**
 * Table definitions from a directory of JSON files in BigQuery's own format, for runs with no GCP
 * project: `<dir>/<project>.<dataset>.<table>.json` holds either the `Table` resource that
 * `bq show --format=prettyjson project:dataset.table` prints, or a bare `schema.fields` array
 * (`bq show --schema`). Queries and dry runs need a real BigQuery and are refused.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { formatTableRef, parseTableRef, type TableRef } from "../../contract/TableId.ts"
import { PermissionDenied, RemoteRejected, ResourceNotFound } from "../RemoteErrors.ts"
import { BigQueryService, getTablesOneByOne } from "./BigQueryService.ts"
import { decodeTableDefinition, referenceMismatch, tableMetadataFromRest } from "./TableResource.ts"

const DEFINITION_SUFFIX = ".json"

const errorCode = (cause: unknown) =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

const make = (directory: string) => {
  const root = path.resolve(directory)
  const fileOf = (ref: TableRef) => path.join(root, `${formatTableRef(ref)}${DEFINITION_SUFFIX}`)

  const ioError = (operation: string, resource: string, cause: unknown) => {
    const code = errorCode(cause)
    const message = cause instanceof Error ? cause.message : String(cause)
    if (code === "ENOENT") {
      return new ResourceNotFound({
        service: "bigquery",
        operation,
        resource,
        message: `no table definition file ${resource}`
      })
    }
    if (code === "EACCES" || code === "EPERM") {
      return new PermissionDenied({ service: "bigquery", operation, resource, status: 403, message })
    }
    return new RemoteRejected({ service: "bigquery", operation, resource, status: null, reason: code ?? "io", message })
  }

  const invalid = (file: string, problem: string) =>
    new RemoteRejected({
      service: "bigquery",
      operation: "tables.get",
      resource: file,
      status: null,
      reason: "invalidDefinition",
      message: `${file} is not a BigQuery table definition: ${problem}`
    })

  const unsupported = (operation: string) =>
    Effect.fail(
      new RemoteRejected({
        service: "bigquery",
        operation,
        resource: root,
        status: null,
        reason: "unsupported",
        message:
          `local table definitions (${root}) cannot run queries; run with METASYNC_MODE=live against BigQuery or an emulator`
      })
    )

  const getTable = (ref: TableRef) =>
      Effect.gen(function*() {
        const file = fileOf(ref)
        const { mtimeMs, text } = yield* Effect.tryPromise({
          try: async () => ({ text: await fs.readFile(file, "utf8"), mtimeMs: (await fs.stat(file)).mtimeMs }),
          catch: (cause) => ioError("tables.get", file, cause)
        })
        const json = yield* Effect.try({
          try: (): unknown => JSON.parse(text),
          catch: (cause) => invalid(file, `not JSON (${cause instanceof Error ? cause.message : String(cause)})`)
        })
        const resource = yield* Either.mapLeft(decodeTableDefinition(json), (problem) => invalid(file, problem))
        const mismatch = referenceMismatch(ref, resource)
        if (mismatch !== undefined) return yield* invalid(file, mismatch)
        return tableMetadataFromRest(ref, resource, DateTime.unsafeMake(mtimeMs))
      })

  return BigQueryService.of({
    getTable,
    getTables: (project, dataset, tables) => getTablesOneByOne(getTable, project, dataset, tables, 8),
    // Files have no regions: every dataset is read by its own getTables.
    getTablesByRegion: () => Effect.succeed(new Map()),
    listTablesByRegion: () => Effect.succeed(new Map()),
    listTables: (project, dataset) =>
      Effect.tryPromise({
        try: () => fs.readdir(root),
        catch: (cause) => ioError("tables.list", root, cause)
      }).pipe(
        Effect.flatMap((names) => {
          const files = names.filter((name) => name.endsWith(DEFINITION_SUFFIX)).sort()
          const parsed = files.map((name) => [name, parseTableRef(name.slice(0, -DEFINITION_SUFFIX.length))] as const)
          const misnamed = parsed.flatMap(([name, ref]) => (Either.isLeft(ref) ? [`${name} (${ref.left})`] : []))
          const tables = parsed
            .flatMap(([, ref]) => (Either.isRight(ref) ? [ref.right] : []))
            .filter((ref) => ref.project === project && ref.dataset === dataset)
            .map((ref) => ({ table: ref.table, kind: "TABLE" }))
            .sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))
          // A file a pattern can never find is worth a word: it is most likely a typo in its name.
          const warn = misnamed.length === 0 ? Effect.void : Effect.logWarning(
            `ignoring ${misnamed.length} file(s) of ${root} not named <project>.<dataset>.<table>${DEFINITION_SUFFIX}: ${misnamed.join("; ")}`
          ).pipe(Effect.annotateLogs({ directory: root, files: misnamed }))
          return Effect.as(warn, tables)
        })
      ),
    query: () => unsupported("jobs.query"),
    dryRun: () => unsupported("jobs.insert")
  })
}

export const LocalBigQuery = {
  /** A `BigQueryService` over the table definition files in `directory`. */
  layer: (directory: string): Layer.Layer<BigQueryService> => Layer.succeed(BigQueryService, make(directory))
} as const
