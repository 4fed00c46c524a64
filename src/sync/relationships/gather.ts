/**
 * The sync's relationships step: every configured source read, folded into the document's list.
 * Nothing here fails the sync: an unreadable curated file or manifest is logged and left out.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { Relationship } from "../../contract/Relationship.ts"
import type { TableEntry } from "../../contract/TableEntry.ts"
import { SyncConfig } from "../../config/SyncConfig.ts"
import type { TableMetadata } from "../../services/BigQuery/TableResource.ts"
import type { BigQueryError, QueryResult } from "../../services/BigQuery/BigQueryService.ts"
import { loadDbtManifest } from "./dbt.ts"
import { declaredRelationships } from "./declared.ts"
import { loadRelationshipsDirectory, loadRelationshipsPrefix } from "./curated.ts"
import { inferRelationships } from "./infer.ts"
import type { LoggedQuery } from "../examples/QueryLogExamples.ts"
import { queryLogRelationships, relationshipsFromQueries } from "./queryLog.ts"
import { checkRelationships } from "./checked.ts"
import { combineRelationships } from "./merge.ts"

/** Relationships from curated files, declared keys, dbt and inference, for the tables of this run. */
export const gatherRelationships = (input: {
  readonly tables: ReadonlyArray<TableEntry>
  /** The metadata read this run, with the keys BigQuery declares. */
  readonly fresh?: ReadonlyArray<TableMetadata>
  /** The query log when the sync read it (it is read once, for relationships and examples). */
  readonly logged?: ReadonlyArray<LoggedQuery>
  /** Datasets' declared-key queries the sync already asked, by `project.dataset` (see `declaredRelationships`). */
  readonly declaredKeys?: ReadonlyMap<string, Effect.Effect<Either.Either<QueryResult, BigQueryError>>>
}) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const declared = yield* declaredRelationships({
      tables: input.fresh ?? [],
      project: settings.project,
      maximumBytesBilled: settings.metadataMaxBytesBilled,
      live: settings.mode === "live",
      ...(input.declaredKeys === undefined ? {} : { prefetched: input.declaredKeys })
    })
    const local = yield* loadRelationshipsDirectory(settings.curatedExamplesDir)
    const remote = settings.curatedExamplesPrefix === null
      ? { relationships: [], errors: [], files: 0 }
      : yield* loadRelationshipsPrefix(settings.curatedExamplesPrefix, settings)
    for (const error of [...local.errors, ...remote.errors]) yield* Effect.logWarning(error.message)
    let dbt: ReadonlyArray<Relationship> = []
    if (settings.dbtManifest !== undefined && settings.dbtManifest !== null) {
      const read = yield* loadDbtManifest(settings.dbtManifest)
      if (Either.isLeft(read)) yield* Effect.logWarning(`dbt manifest ${read.left.file}: ${read.left.message}`)
      else {
        dbt = read.right.relationships
        if (read.right.skipped > 0) yield* Effect.logInfo(`dbt manifest: ${read.right.skipped} relationships tests not resolved to tables`)
      }
    }
    const inferred = settings.relationshipInference === false
      ? []
      : inferRelationships(input.tables, {
        ...(settings.sensitiveColumnPattern === null ? {} : { sensitiveNamePattern: settings.sensitiveColumnPattern })
      })
    const days = settings.queryLogDays ?? 0
    const queryLog = input.logged !== undefined && settings.project !== null
      ? relationshipsFromQueries(input.logged.map((l) => l.query), settings.project, input.tables, days)
      : days > 0 && settings.mode === "live" && settings.project !== null
      ? yield* queryLogRelationships({
        project: settings.project,
        location: settings.queryLogLocation ?? "us",
        days,
        tables: input.tables,
        maximumBytesBilled: settings.metadataMaxBytesBilled
      })
      : []
    // A relationship is kept when it touches a table of this document (its other end may lie outside).
    const ids = new Set(input.tables.map((t) => t.table_id as string))
    const touches = (r: Relationship) => ids.has(r.from.table_id) || ids.has(r.to.table_id)
    const combined = combineRelationships({
      curated: [...local.relationships, ...remote.relationships].filter(touches),
      declared: declared.filter(touches),
      dbt: dbt.filter(touches),
      queryLog,
      inferred
    })
    return settings.relationshipCheck === true && settings.mode === "live" && settings.project !== null
      ? yield* checkRelationships({ relationships: combined, project: settings.project, maximumBytesBilled: settings.metadataMaxBytesBilled })
      : combined
  }).pipe(Effect.withSpan("relationships"))
