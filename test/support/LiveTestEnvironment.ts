/**
 * The sync over real HTTP: a local BigQuery and a local Cloud Storage on 127.0.0.1, and the live
 * layers (Google's own clients) pointed at them, with settings that keep retries few and quick.
 * Tests arrange tables and faults on the servers, run the real pipeline, and read back what a
 * user would: the published object, the server's request log, the run's typed outcome.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { SyncConfig, type SyncSettings } from "../../src/config/SyncConfig.ts"
import { AlertService } from "../../src/services/Alerting/AlertService.ts"
import { BigQueryService } from "../../src/services/BigQuery/BigQueryService.ts"
import { LiveBigQuery } from "../../src/services/BigQuery/LiveBigQuery.ts"
import { ExampleGeneratorService } from "../../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { GcsStorage } from "../../src/services/Storage/GcsStorage.ts"
import type { StorageService } from "../../src/services/Storage/StorageService.ts"
import { quoteTablePath } from "../../src/sql/Identifiers.ts"
import { historyPrefix } from "../../src/sync/history.ts"
import { type FakeBigQuery, type FakeField, start as startBigQuery } from "./FakeBigQueryServer.ts"
import { type FakeGcs, type StoredObject, start as startGcs } from "./FakeGcsServer.ts"
import { fixtureFields, GA4_TABLE_ID, ref, testSettings } from "./TestLayers.ts"


export const PROJECT = "nlq-ex"
export const BUCKET = "test-bucket"
export const OBJECT = "metadata_cache.json"

export interface FakeServers {
  readonly bigQuery: FakeBigQuery
  readonly gcs: FakeGcs
}

/** Both servers, each on an ephemeral port, closed with the scope. */
export const fakeServers: Effect.Effect<FakeServers, never, Scope.Scope> = Effect.all({
  bigQuery: Effect.acquireRelease(Effect.promise(() => startBigQuery()), (fake) => Effect.promise(() => fake.close())),
  gcs: Effect.acquireRelease(Effect.promise(() => startGcs()), (fake) => Effect.promise(() => fake.close()))
})

/**
 * Settings for runs over the wire: 3 attempts per call (the policy's backoff starts at 500 ms, so
 * a persistent failure costs about 1.5 s), a budget and deadlines generous enough for a busy machine.
 */
export const liveSettings = (overrides: Partial<SyncSettings> = {}): SyncSettings =>
  testSettings({
    project: PROJECT,
    bucket: BUCKET,
    objectName: OBJECT,
    retryAttempts: 3,
    retryBudget: Duration.seconds(30),
    remoteTimeout: Duration.seconds(30),
    ...overrides
  })

export interface LiveLayerOptions {
  readonly settings?: Partial<SyncSettings>
  /** The deadline of BigQuery calls alone; default: the settings' `remoteTimeout`. */
  readonly bigQueryTimeout?: Duration.DurationInput
  /** The deadline of Cloud Storage calls alone; default: the settings' `remoteTimeout`. */
  readonly storageTimeout?: Duration.DurationInput
}

export type LiveServices = SyncConfig | BigQueryService | StorageService | ExampleGeneratorService | AlertService

/**
 * One function instance's services: the settings, the live BigQuery and Cloud Storage layers on
 * the fake servers, no LLM and no alerting. Each call builds new clients, as a new instance would.
 */
export const liveLayer = (servers: FakeServers, options: LiveLayerOptions = {}): Layer.Layer<LiveServices> => {
  const settings = liveSettings(options.settings)
  const bigQuery = Layer.effect(
    BigQueryService,
    LiveBigQuery.make({
      projectId: settings.project ?? PROJECT,
      apiEndpoint: servers.bigQuery.url,
      timeout: options.bigQueryTimeout ?? settings.remoteTimeout,
      maximumBytesBilled: settings.metadataMaxBytesBilled
    }).pipe(
      // The fake's endpoint, whatever BIGQUERY_EMULATOR_HOST the developer's shell may hold.
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
    )
  )
  return Layer.mergeAll(
    Layer.succeed(SyncConfig, settings),
    bigQuery,
    GcsStorage.layer({
      bucket: settings.bucket ?? BUCKET,
      apiEndpoint: servers.gcs.url,
      timeout: options.storageTimeout ?? settings.remoteTimeout
    }),
    ExampleGeneratorService.Disabled,
    AlertService.Disabled
  )
}

// ---------------------------------------------------------------------------------------------
// The GA4 table, as BigQuery's tables.get describes it

/** The GA4 export's fields as the REST API sends them: `mode` left out where it is NULLABLE. */
const asRest = (field: FakeField): FakeField => {
  const { fields, mode, ...rest } = field
  return {
    ...rest,
    ...(mode === undefined || mode === "NULLABLE" ? {} : { mode }),
    ...(fields === undefined ? {} : { fields: fields.map(asRest) })
  }
}

export const GA4_FIELDS: ReadonlyArray<FakeField> = fixtureFields(
  "ga4_obfuscated_sample_ecommerce.events_20210131"
) as ReadonlyArray<FakeField>

/** Milliseconds since the epoch: 2021-02-01T09:30:00.123Z. */
export const GA4_LAST_MODIFIED_MS = 1_612_171_800_123

/** The GA4 table's REST `Table` resource, as the fake BigQuery serves it. */
export const GA4_REST_TABLE = {
  tableReference: { tableId: ref(GA4_TABLE_ID).table },
  description: "GA4 obfuscated sample e-commerce export, one day of events",
  schema: { fields: GA4_FIELDS.map(asRest) },
  numRows: "26489",
  numBytes: "58301574",
  creationTime: "1612130000000",
  lastModifiedTime: String(GA4_LAST_MODIFIED_MS),
  location: "US",
  type: "TABLE"
} as const

/** Bytes the fake's dry runs of example queries report: well under any cap. */
export const DRY_RUN_BYTES = 1_048_576

/**
 * Answers BigQuery dry runs (live mode checks every example with one) of any query that reads
 * `tableId`, as BigQuery would for SQL that it accepts.
 */
export const answerDryRuns = (bigQuery: FakeBigQuery, tableId: string) => {
  const path = quoteTablePath(ref(tableId))
  bigQuery.queries.answer({ match: (sql) => sql.includes(path), schema: [], rows: [], totalBytesProcessed: DRY_RUN_BYTES })
}

/** Serves the GA4 table at `GA4_TABLE_ID`, and dry runs of queries over it. */
export const arrangeGa4 = (bigQuery: FakeBigQuery) => {
  const { dataset, project } = ref(GA4_TABLE_ID)
  bigQuery.tables.put(project, dataset, GA4_REST_TABLE)
  answerDryRuns(bigQuery, GA4_TABLE_ID)
}

// ---------------------------------------------------------------------------------------------
// Reading the bucket back

/** The published object as it is stored now, if any. */
export const publishedObject = (gcs: FakeGcs, objectName = OBJECT): StoredObject | undefined =>
  gcs.objects.get(BUCKET, objectName)

/** The names of the history snapshots of `objectName`, in order. */
export const snapshotNames = (gcs: FakeGcs, objectName = OBJECT): ReadonlyArray<string> =>
  gcs.objects.names(BUCKET).filter((name) => name.startsWith(historyPrefix(objectName)))
