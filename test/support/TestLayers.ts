/**
 * The sync's test environment: every GCP service replaced by an in-memory one the test can
 * arrange and inspect, and settings that need no environment.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import { SyncConfig, type SyncSettings } from "../../src/config/SyncConfig.ts"
import { exactTarget } from "../../src/config/Targets.ts"
import { parseTableRef, type TableRef } from "../../src/contract/TableId.ts"
import { MemoryBigQuery } from "../../src/services/BigQuery/MemoryBigQuery.ts"
import { type RestField, type TableMetadata, tableMetadataFromRest } from "../../src/services/BigQuery/TableResource.ts"
import { AlertService } from "../../src/services/Alerting/AlertService.ts"
import { ExampleGeneratorService } from "../../src/services/ExampleGenerator/ExampleGeneratorService.ts"
import { MemoryStorage } from "../../src/services/Storage/MemoryStorage.ts"

export const GA4_TABLE_ID = "nlq-ex.test_dataset.events_20210131"

export const ref = (id: string): TableRef => {
  const parsed = parseTableRef(id)
  if (parsed._tag === "Left") throw new Error(parsed.left)
  return parsed.right
}

/** A fixture of test/fixtures/bigquery (a bare `schema.fields` array). */
export const fixtureFields = (name: string): ReadonlyArray<RestField> =>
  JSON.parse(readFileSync(new URL(`../fixtures/bigquery/${name}.schema.json`, import.meta.url), "utf8"))

/** A table as `tables.get` would describe it, from a fixture's fields. */
export const fixtureTable = (
  id: string,
  fixture: string,
  extra: Partial<TableMetadata> = {}
): TableMetadata => ({
  ...tableMetadataFromRest(ref(id), { schema: { fields: fixtureFields(fixture) } }, DateTime.unsafeMake("2026-11-20T00:00:00Z")),
  ...extra
})

export const ga4Table = (extra: Partial<TableMetadata> = {}) =>
  fixtureTable(GA4_TABLE_ID, "ga4_obfuscated_sample_ecommerce.events_20210131", extra)

export const testSettings = (overrides: Partial<SyncSettings> = {}): SyncSettings => ({
  mode: "live",
  project: "nlq-ex",
  targets: [exactTarget(ref(GA4_TABLE_ID))],
  bucket: "test-bucket",
  objectName: "metadata_cache.json",
  localBucketDir: ".metasync/bucket",
  localTablesDir: "samples/tables",
  language: "ko",
  remoteTimeout: Duration.seconds(30),
  retryAttempts: 5,
  retryBudget: Duration.minutes(2),
  historyKeep: 30,
  historyMaxAge: Duration.days(90),
  profileTargets: [],
  profileMaxBytesBilled: 1024 ** 3,
  sensitiveColumnPattern: null,
  metadataMaxBytesBilled: 100 * 1024 ** 2,
  exampleDryRun: true,
  exampleMaxBytes: 10 * 1024 ** 3,
  curatedExamplesDir: "test/fixtures/no-curated-examples",
  curatedExamplesPrefix: null,
  ...overrides
})

/** Settings, an in-memory warehouse and an in-memory bucket, with their controls exposed. */
export const testLayer = (overrides: Partial<SyncSettings> = {}) =>
  Layer.mergeAll(
    Layer.succeed(SyncConfig, testSettings(overrides)),
    MemoryBigQuery.layer(),
    MemoryStorage.layer("test-bucket"),
    ExampleGeneratorService.Disabled,
    AlertService.Disabled
  )
