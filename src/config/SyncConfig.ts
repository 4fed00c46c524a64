/**
 * The sync's configuration, read through Effect `Config` (environment variables in production,
 * `.env.yaml` on Cloud Functions) and validated once at start. A missing or malformed value
 * stops the run with an `InvalidConfig` that names the variable, shows the value and says why.
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Language } from "../contract/CacheDocument.ts"
import { parseTableRef, projectIdProblem } from "../contract/TableId.ts"
import { DEFAULT_MAX_DOCUMENT_BYTES } from "../contract/Limits.ts"
import { DEFAULT_MAX_PART_TABLES } from "../contract/SplitDocument.ts"
import { InvalidConfig } from "./InvalidConfig.ts"
import { exactTarget, parseTargets, type TargetPattern } from "./Targets.ts"

/** Where the sync reads tables from and writes the document to. */
export type SyncMode = "live" | "local"

export interface SyncSettings {
  readonly mode: SyncMode
  /** The GCP project that runs queries and is billed (live mode). */
  readonly project: string | null
  /** The tables and patterns to describe, in order; the first table found is the primary one. */
  readonly targets: ReadonlyArray<TargetPattern>
  /**
   * The first target was named as the primary table (`TARGET_TABLE_ID`, or the sample in local
   * mode) and stays primary even without columns. Otherwise the primary is the first table that
   * has columns. Absent: not named.
   */
  readonly primaryNamed?: boolean
  /** Live mode: the Cloud Storage bucket. */
  readonly bucket: string | null
  /** The cache document's object name in the bucket (or file name in the local directory). */
  readonly objectName: string
  /** Local mode: the directory standing in for the bucket. */
  readonly localBucketDir: string
  /** Local mode: the directory of BigQuery table definition files. */
  readonly localTablesDir: string
  readonly language: Language
  /** Deadline of every single remote call. */
  readonly remoteTimeout: Duration.Duration
  /** Attempts per remote call, the first included. */
  readonly retryAttempts: number
  /** Upper bound on the time spent retrying one call. */
  readonly retryBudget: Duration.Duration
  /** Snapshots of published documents kept at most. */
  readonly historyKeep: number
  /** Snapshots older than this are removed. */
  readonly historyMaxAge: Duration.Duration
  /** Tables whose columns are profiled (opt-in); none by default. */
  readonly profileTargets: ReadonlyArray<TargetPattern>
  /** The most bytes one table's profile may bill. */
  readonly profileMaxBytesBilled: number
  /** Column names never sampled; `null`: the built-in list (email, phone, ssn, name, address, …). */
  readonly sensitiveColumnPattern: RegExp | null
  /** The most bytes one metadata query (INFORMATION_SCHEMA) may bill. */
  readonly metadataMaxBytesBilled: number
  /** Live mode: whether every example is checked by a BigQuery dry run (one call per example). */
  readonly exampleDryRun: boolean
  /** Examples whose dry-run estimate exceeds this many bytes are rejected (live mode). */
  readonly exampleMaxBytes: number
  /** A directory of curated example files shipped with the deployment. */
  readonly curatedExamplesDir: string
  /** An object prefix in the bucket holding curated example files; `null`: none. */
  readonly curatedExamplesPrefix: string | null
  /** The largest document published (`MAX_DOCUMENT_BYTES`); `DEFAULT_MAX_DOCUMENT_BYTES` when absent. */
  readonly maxDocumentBytes?: number
  /** Whether relationships are inferred from names and descriptions (default on). */
  readonly relationshipInference?: boolean
  /** A dbt `manifest.json`: a local path, or `gs://<bucket>/<object>` in the document's bucket; absent: none. */
  readonly dbtManifest?: string | null
  /** Live mode: join predicates of the last N days of successful SELECT jobs become relationships; 0 (default): off. */
  readonly queryLogDays?: number
  /** The region of those jobs, as in `region-<location>.INFORMATION_SCHEMA.JOBS_BY_PROJECT` (default `us`). */
  readonly queryLogLocation?: string
  /** Live mode: check inferred and logged relationships with a sampled query each (default off). */
  readonly relationshipCheck?: boolean
  /** A run is full (every table redone) when the last full one is this old; zero: always. Default 7 days. */
  readonly fullRebuildEvery?: Duration.Duration
  /**
   * Live mode: how table metadata is read (`METADATA_READ`): `dataset` (each dataset by itself),
   * `region` (the datasets of one location with one set of region-qualified INFORMATION_SCHEMA
   * queries), or `auto` (the default): by region when a region has more than
   * `metadataRegionAbove` of the run's datasets.
   */
  readonly metadataRead?: MetadataRead
  /** `METADATA_REGION_ABOVE`: `auto` reads a region at once above this many datasets (default 3). */
  readonly metadataRegionAbove?: number
  /** `METADATA_LOCATION`: where every dataset is (`US`, `asia-northeast3`); absent: `datasets.list` says. */
  readonly metadataLocation?: string | null
  /**
   * `DOCUMENT_LAYOUT`: `single` (one document object), `split` (a manifest and per-dataset parts),
   * or `auto` (the default): split when the run has more than `splitAboveTables` tables.
   */
  readonly documentLayout?: DocumentLayout
  /** `SPLIT_ABOVE_TABLES`: `auto` splits above this many tables (default 2000). */
  readonly splitAboveTables?: number
  /** `PART_MAX_TABLES`: tables in one part at most (default `DEFAULT_MAX_PART_TABLES`). */
  readonly partMaxTables?: number
}

export type DocumentLayout = "auto" | "single" | "split"

/**
 * `auto` splits above this many tables: a 2,000-table document is about 23 MB, well under the
 * 64 MiB cap, and a backend still loads it whole in reasonable memory.
 */
export const DEFAULT_SPLIT_ABOVE_TABLES = 2000
export { DEFAULT_MAX_PART_TABLES }

export type MetadataRead = "auto" | "dataset" | "region"

/** `auto` reads a region at once when it has more than this many of the run's datasets. */
export const DEFAULT_METADATA_REGION_ABOVE = 3

/** A BigQuery location: a multi-region (`US`, `EU`) or a region (`asia-northeast3`, `us-central1`). */
const LOCATION = /^[a-z]+(-[a-z]+[0-9]+)?$/i

export class SyncConfig extends Context.Tag("MetaSync/SyncConfig")<SyncConfig, SyncSettings>() {}

/** The seed's table, which the shipped sample describes: the local-mode default target. */
export const SAMPLE_TABLE_ID = "nlq-ex.test_dataset.events_20210131"
export const DEFAULT_OBJECT_NAME = "metadata_cache.json"
export { DEFAULT_MAX_DOCUMENT_BYTES }

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/

export const bucketNameProblem = (bucket: string): string | undefined => {
  if (!BUCKET_NAME.test(bucket)) {
    return "a bucket name has 3 to 63 lowercase letters, digits, dashes, underscores or dots, and starts and ends with a letter or digit"
  }
  if (bucket.startsWith("goog")) return "bucket names may not start with \"goog\""
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket)) return "a bucket name may not look like an IP address"
  return undefined
}

export const objectNameProblem = (name: string): string | undefined => {
  if (name.length === 0) return "the object name is empty"
  if (new TextEncoder().encode(name).length > 1024) return "an object name is at most 1024 UTF-8 bytes"
  if (/[\r\n]/.test(name)) return "an object name may not contain line breaks"
  if (name === "." || name === ".." || name.split("/").includes("..")) return "an object name may not be . or .."
  if (name.startsWith("/")) return "an object name may not start with /"
  return undefined
}

/** Reads an optional string variable; blank counts as unset. */
const raw = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.map(Option.filter((v) => v.trim().length > 0))
  )

/** Checks `value` of `variable` with `problemOf`, failing with an `InvalidConfig` that says why. */
const check = <A>(
  variable: string,
  value: string,
  parse: (value: string) => Either.Either<A, string>
): Effect.Effect<A, InvalidConfig> =>
  Either.match(parse(value), {
    onLeft: (problem) => Effect.fail(new InvalidConfig({ variable, value, problem })),
    onRight: Effect.succeed
  })

const fromProblem = (problemOf: (value: string) => string | undefined) => (value: string) => {
  const problem = problemOf(value)
  return problem === undefined ? Either.right(value) : Either.left(problem)
}

const positiveInteger = (value: string): Either.Either<number, string> => {
  const n = Number(value)
  return /^\d+$/.test(value) && Number.isSafeInteger(n) && n > 0
    ? Either.right(n)
    : Either.left("expected a whole number greater than 0")
}

const required = (variable: string, value: Option.Option<string>, why: string): Effect.Effect<string, InvalidConfig> =>
  Option.match(value, {
    onNone: () => Effect.fail(new InvalidConfig({ variable, value: null, problem: why })),
    onSome: Effect.succeed
  })

/** Reads and validates every setting; fails with the first `InvalidConfig`. */
export const loadSyncSettings: Effect.Effect<SyncSettings, InvalidConfig> = Effect.gen(function*() {
  const env = yield* Config.all({
    mode: raw("METASYNC_MODE"),
    project: raw("GOOGLE_CLOUD_PROJECT"),
    tableId: raw("TARGET_TABLE_ID"),
    tableList: raw("TARGET_TABLES"),
    bucket: raw("GCS_BUCKET"),
    objectName: raw("CACHE_OBJECT"),
    localBucketDir: raw("LOCAL_BUCKET_DIR"),
    localTablesDir: raw("LOCAL_TABLES_DIR"),
    language: raw("EXAMPLE_LANGUAGE"),
    timeout: raw("REMOTE_TIMEOUT_MS"),
    attempts: raw("RETRY_MAX_ATTEMPTS"),
    budget: raw("RETRY_BUDGET_MS"),
    historyKeep: raw("HISTORY_KEEP"),
    historyDays: raw("HISTORY_MAX_AGE_DAYS"),
    profileTables: raw("PROFILE_TABLES"),
    profileBytes: raw("PROFILE_MAX_BYTES_BILLED"),
    sensitive: raw("SENSITIVE_COLUMN_PATTERN"),
    metadataBytes: raw("MAX_BYTES_BILLED"),
    exampleBytes: raw("EXAMPLE_MAX_BYTES"),
    exampleDryRun: raw("EXAMPLE_DRY_RUN"),
    curatedDir: raw("CURATED_EXAMPLES_DIR"),
    curatedPrefix: raw("CURATED_EXAMPLES_PREFIX"),
    maxDocumentBytes: raw("MAX_DOCUMENT_BYTES"),
    relationshipInference: raw("RELATIONSHIP_INFERENCE"),
    dbtManifest: raw("DBT_MANIFEST"),
    queryLogDays: raw("QUERY_LOG_DAYS"),
    queryLogLocation: raw("QUERY_LOG_LOCATION"),
    relationshipCheck: raw("RELATIONSHIP_CHECK"),
    fullRebuildEvery: raw("FULL_REBUILD_EVERY"),
    metadataRead: raw("METADATA_READ"),
    metadataRegionAbove: raw("METADATA_REGION_ABOVE"),
    metadataLocation: raw("METADATA_LOCATION"),
    documentLayout: raw("DOCUMENT_LAYOUT"),
    splitAboveTables: raw("SPLIT_ABOVE_TABLES"),
    partMaxTables: raw("PART_MAX_TABLES")
  }).pipe(Effect.orDie) // only `Config.option` reads: nothing here can be a ConfigError.

  const mode = yield* Option.match(env.mode, {
    onNone: () => Effect.succeed<SyncMode>(Option.isSome(env.project) ? "live" : "local"),
    onSome: (value) =>
      check("METASYNC_MODE", value, (v) =>
        v === "live" || v === "local"
          ? Either.right<SyncMode>(v)
          : Either.left("expected \"live\" (BigQuery and Cloud Storage) or \"local\" (sample files and a directory)"))
  })

  const project = mode === "live"
    ? yield* required("GOOGLE_CLOUD_PROJECT", env.project, "live mode needs the GCP project that runs BigQuery jobs").pipe(
      Effect.flatMap((v) => check("GOOGLE_CLOUD_PROJECT", v, fromProblem(projectIdProblem)))
    )
    : Option.getOrNull(env.project)

  // TARGET_TABLE_ID (the seed's single table) comes first and is the primary table; TARGET_TABLES adds more.
  const primary = yield* Option.match(env.tableId, {
    onNone: () =>
      mode === "local" && Option.isNone(env.tableList)
        ? Effect.succeed([exactTarget(Either.getOrThrow(parseTableRef(SAMPLE_TABLE_ID)))])
        : Effect.succeed([]),
    onSome: (value) => Effect.map(check("TARGET_TABLE_ID", value, parseTableRef), (ref) => [exactTarget(ref)])
  })
  const listed = yield* Option.match(env.tableList, {
    onNone: () => Effect.succeed<ReadonlyArray<TargetPattern>>([]),
    onSome: (value) => check("TARGET_TABLES", value, parseTargets)
  })
  const targets = [...primary, ...listed]
  if (targets.length === 0) {
    return yield* new InvalidConfig({
      variable: "TARGET_TABLE_ID",
      value: null,
      problem: "expected the table to describe, as project.dataset.table (or a list in TARGET_TABLES)"
    })
  }

  const bucket = mode === "live"
    ? yield* required("GCS_BUCKET", env.bucket, "live mode needs the Cloud Storage bucket to publish to").pipe(
      Effect.flatMap((v) => check("GCS_BUCKET", v, fromProblem(bucketNameProblem)))
    )
    : Option.getOrNull(env.bucket)

  const objectName = yield* check(
    "CACHE_OBJECT",
    Option.getOrElse(env.objectName, () => DEFAULT_OBJECT_NAME),
    fromProblem(objectNameProblem)
  )

  const language = yield* Option.match(env.language, {
    onNone: () => Effect.succeed<Language>("ko"),
    onSome: (value) =>
      check("EXAMPLE_LANGUAGE", value, (v) =>
        v === "ko" || v === "en"
          ? Either.right<Language>(v)
          : Either.left("expected \"ko\" (Korean questions, the default) or \"en\" (English)"))
  })

  const count = (variable: string, value: Option.Option<string>, fallback: number): Effect.Effect<number, InvalidConfig> =>
    Option.match(value, {
      onNone: () => Effect.succeed(fallback),
      onSome: (v) => check(variable, v, positiveInteger)
    })

  const profileTargets = yield* Option.match(env.profileTables, {
    onNone: () => Effect.succeed<ReadonlyArray<TargetPattern>>([]),
    onSome: (value) => check("PROFILE_TABLES", value, parseTargets)
  })
  const sensitiveColumnPattern = yield* Option.match(env.sensitive, {
    onNone: () => Effect.succeed(null),
    onSome: (value) =>
      check("SENSITIVE_COLUMN_PATTERN", value, (v) => {
        try {
          return Either.right(new RegExp(v, "iu"))
        } catch (cause) {
          return Either.left(`not a regular expression: ${cause instanceof Error ? cause.message : String(cause)}`)
        }
      })
  })

  const curatedExamplesPrefix = yield* Option.match(env.curatedPrefix, {
    onNone: () => Effect.succeed(null),
    onSome: (value) =>
      check("CURATED_EXAMPLES_PREFIX", value, (v) =>
        !v.endsWith("/")
          ? Either.left("expected a folder-like prefix ending in /, such as curated/")
          : objectName.startsWith(v) || v.startsWith("history/") || v.startsWith("parts/")
          ? Either.left(`the prefix would take in the cache document (${objectName}), its history or its parts`)
          : Either.right(v))
  })

  return {
    mode,
    project,
    targets,
    primaryNamed: primary.length > 0,
    bucket,
    objectName,
    localBucketDir: Option.getOrElse(env.localBucketDir, () => ".metasync/bucket"),
    localTablesDir: Option.getOrElse(env.localTablesDir, () => "samples/tables"),
    language,
    remoteTimeout: Duration.millis(yield* count("REMOTE_TIMEOUT_MS", env.timeout, 30_000)),
    retryAttempts: yield* count("RETRY_MAX_ATTEMPTS", env.attempts, 5),
    retryBudget: Duration.millis(yield* count("RETRY_BUDGET_MS", env.budget, 120_000)),
    historyKeep: yield* count("HISTORY_KEEP", env.historyKeep, 30),
    historyMaxAge: Duration.days(yield* count("HISTORY_MAX_AGE_DAYS", env.historyDays, 90)),
    profileTargets,
    profileMaxBytesBilled: yield* count("PROFILE_MAX_BYTES_BILLED", env.profileBytes, 1024 ** 3),
    sensitiveColumnPattern,
    metadataMaxBytesBilled: yield* count("MAX_BYTES_BILLED", env.metadataBytes, 100 * 1024 ** 2),
    exampleDryRun: yield* Option.match(env.exampleDryRun, {
      onNone: () => Effect.succeed(true),
      onSome: (value) =>
        check("EXAMPLE_DRY_RUN", value, (v) =>
          v === "on" || v === "off" ? Either.right(v === "on") : Either.left("expected \"on\" (the default) or \"off\""))
    }),
    exampleMaxBytes: yield* count("EXAMPLE_MAX_BYTES", env.exampleBytes, 10 * 1024 ** 3),
    curatedExamplesDir: Option.getOrElse(env.curatedDir, () => "examples"),
    curatedExamplesPrefix,
    maxDocumentBytes: yield* count("MAX_DOCUMENT_BYTES", env.maxDocumentBytes, DEFAULT_MAX_DOCUMENT_BYTES),
    relationshipInference: yield* Option.match(env.relationshipInference, {
      onNone: () => Effect.succeed(true),
      onSome: (value) =>
        check("RELATIONSHIP_INFERENCE", value, (v) =>
          v === "on" || v === "off" ? Either.right(v === "on") : Either.left("expected \"on\" (the default) or \"off\""))
    }),
    dbtManifest: yield* Option.match(env.dbtManifest, {
      onNone: () => Effect.succeed(null),
      onSome: (value) =>
        check("DBT_MANIFEST", value, (v) => {
          if (!v.startsWith("gs://")) return v.endsWith(".json") ? Either.right(v) : Either.left("expected a path to a dbt manifest.json, or gs://<bucket>/<object>")
          const [target, ...rest] = v.slice("gs://".length).split("/")
          return target !== bucket || rest.join("/") === ""
            ? Either.left(`expected an object in the document's bucket (gs://${bucket ?? "<GCS_BUCKET>"}/<object>)`)
            : Either.right(v)
        })
    }),
    queryLogDays: yield* Option.match(env.queryLogDays, {
      onNone: () => Effect.succeed(0),
      onSome: (value) =>
        check("QUERY_LOG_DAYS", value, (v) =>
          /^\d+$/.test(v) && Number(v) <= 180 ? Either.right(Number(v)) : Either.left("expected a number of days from 0 (off) to 180"))
    }),
    queryLogLocation: yield* Option.match(env.queryLogLocation, {
      onNone: () => Effect.succeed("us"),
      onSome: (value) =>
        check("QUERY_LOG_LOCATION", value, (v) =>
          /^[a-z]+(-[a-z]+[0-9]*)?$/i.test(v) ? Either.right(v) : Either.left("expected a BigQuery location such as us, eu or asia-northeast3"))
    }),
    relationshipCheck: yield* Option.match(env.relationshipCheck, {
      onNone: () => Effect.succeed(false),
      onSome: (value) =>
        check("RELATIONSHIP_CHECK", value, (v) =>
          v === "on" || v === "off" ? Either.right(v === "on") : Either.left("expected \"on\" or \"off\" (the default)"))
    }),
    fullRebuildEvery: yield* Option.match(env.fullRebuildEvery, {
      onNone: () => Effect.succeed(Duration.days(7)),
      onSome: (value) => check("FULL_REBUILD_EVERY", value, parseRebuildEvery)
    }),
    metadataRead: yield* Option.match(env.metadataRead, {
      onNone: () => Effect.succeed<MetadataRead>("auto"),
      onSome: (value) =>
        check("METADATA_READ", value, (v) =>
          v === "auto" || v === "dataset" || v === "region"
            ? Either.right<MetadataRead>(v)
            : Either.left(
              "expected \"auto\" (the default: by region when a region has more than METADATA_REGION_ABOVE datasets), \"dataset\" or \"region\""
            ))
    }),
    metadataRegionAbove: yield* Option.match(env.metadataRegionAbove, {
      onNone: () => Effect.succeed(DEFAULT_METADATA_REGION_ABOVE),
      onSome: (value) =>
        check("METADATA_REGION_ABOVE", value, (v) =>
          /^\d{1,6}$/.test(v) ? Either.right(Number(v)) : Either.left("expected a number of datasets from 0 to 999999"))
    }),
    metadataLocation: yield* Option.match(env.metadataLocation, {
      onNone: () => Effect.succeed(null),
      onSome: (value) =>
        check("METADATA_LOCATION", value.trim(), (v) =>
          /^region-/i.test(v)
            ? Either.left(`expected the location itself (${v.slice("region-".length)}), without the region- of its INFORMATION_SCHEMA qualifier`)
            : LOCATION.test(v)
            ? Either.right(v)
            : Either.left("expected the datasets' BigQuery location, such as US, EU or asia-northeast3"))
    }),
    documentLayout: yield* Option.match(env.documentLayout, {
      onNone: () => Effect.succeed<DocumentLayout>("auto"),
      onSome: (value) =>
        check("DOCUMENT_LAYOUT", value, (v) =>
          v === "auto" || v === "single" || v === "split"
            ? Either.right<DocumentLayout>(v)
            : Either.left(
              "expected \"auto\" (the default: split above SPLIT_ABOVE_TABLES tables), \"single\" (one document object) or \"split\" (a manifest and per-dataset parts)"
            ))
    }),
    splitAboveTables: yield* Option.match(env.splitAboveTables, {
      onNone: () => Effect.succeed(DEFAULT_SPLIT_ABOVE_TABLES),
      onSome: (value) =>
        check("SPLIT_ABOVE_TABLES", value, (v) =>
          /^\d{1,9}$/.test(v) ? Either.right(Number(v)) : Either.left("expected a number of tables from 0 (always split) to 999999999"))
    }),
    partMaxTables: yield* count("PART_MAX_TABLES", env.partMaxTables, DEFAULT_MAX_PART_TABLES)
  }
})

/** `7d`, `36h`, `90m`, or `0` (every run is full). */
const parseRebuildEvery = (value: string): Either.Either<Duration.Duration, string> => {
  const match = /^(\d{1,6})([dhm]?)$/.exec(value.trim())
  if (match === null || (match[2] === "" && match[1] !== "0")) {
    return Either.left("expected a period such as 7d, 36h or 90m, or 0 (every run is full)")
  }
  const n = Number(match[1])
  return Either.right(match[2] === "d" ? Duration.days(n) : match[2] === "h" ? Duration.hours(n) : Duration.minutes(n))
}

export const SyncConfigLive: Layer.Layer<SyncConfig, InvalidConfig> = Layer.effect(SyncConfig, loadSyncSettings)
