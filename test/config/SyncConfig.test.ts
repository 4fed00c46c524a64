import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { loadSyncSettings } from "../../src/config/SyncConfig.ts"

const load = (env: Record<string, string>) =>
  loadSyncSettings.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

const live = {
  GOOGLE_CLOUD_PROJECT: "nlq-ex",
  TARGET_TABLE_ID: "nlq-ex.test_dataset.events_20210131",
  GCS_BUCKET: "nlq-metadata-cache"
}

describe("sync configuration", () => {
  it.effect("reads the seed's values in live mode, with defaults for the rest", () =>
    Effect.gen(function*() {
      const settings = yield* load(live)
      expect(settings).toMatchObject({
        mode: "live",
        project: "nlq-ex",
        targets: [{ project: "nlq-ex", dataset: "test_dataset", table: "events_20210131", exclude: false }],
        bucket: "nlq-metadata-cache",
        objectName: "metadata_cache.json",
        language: "ko",
        retryAttempts: 5
      })
      expect(Duration.toMillis(settings.remoteTimeout)).toBe(30_000)
    }))

  it.effect("runs on the shipped sample with nothing set", () =>
    Effect.gen(function*() {
      const settings = yield* load({})
      expect(settings.mode).toBe("local")
      expect(settings.targets).toEqual([{ project: "nlq-ex", dataset: "test_dataset", table: "events_20210131", exclude: false }])
      expect(settings.localTablesDir).toBe("samples/tables")
    }))

  it.effect.each<readonly [Record<string, string>, string]>([
    [{ ...live, TARGET_TABLE_ID: "events" }, "TARGET_TABLE_ID is \"events\": \"events\" is not of the form project.dataset.table"],
    [{ ...live, TARGET_TABLE_ID: "nlq-ex.my-ds.t" }, "TARGET_TABLE_ID is \"nlq-ex.my-ds.t\": dataset name \"my-ds\" may hold only letters, digits and underscores (at most 1024)"],
    [{ GOOGLE_CLOUD_PROJECT: "nlq-ex", GCS_BUCKET: "b-1" }, "TARGET_TABLE_ID is not set: expected the table to describe, as project.dataset.table"],
    [{ ...live, GCS_BUCKET: "" }, "GCS_BUCKET is not set: live mode needs the Cloud Storage bucket to publish to"],
    [{ ...live, GCS_BUCKET: "Bad_Bucket" }, "GCS_BUCKET is \"Bad_Bucket\": a bucket name has 3 to 63 lowercase letters"],
    [{ ...live, GOOGLE_CLOUD_PROJECT: "NLQ" }, "GOOGLE_CLOUD_PROJECT is \"NLQ\": project id \"NLQ\" must be 6 to 30 characters long"],
    [{ METASYNC_MODE: "cloud" }, "METASYNC_MODE is \"cloud\": expected \"live\""],
    [{ METASYNC_MODE: "live" }, "GOOGLE_CLOUD_PROJECT is not set: live mode needs the GCP project"],
    [{ EXAMPLE_LANGUAGE: "jp" }, "EXAMPLE_LANGUAGE is \"jp\": expected \"ko\""],
    [{ CACHE_OBJECT: "../escape.json" }, "CACHE_OBJECT is \"../escape.json\": an object name may not be . or .."],
    [{ REMOTE_TIMEOUT_MS: "soon" }, "REMOTE_TIMEOUT_MS is \"soon\": expected a whole number greater than 0"]
  ])("stops on a bad value, naming the variable and the value: %j", ([env, message]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(load(env))
      expect(error._tag).toBe("InvalidConfig")
      expect(error.message).toContain(message)
    }))

  describe("reading metadata by region", () => {
    it.effect("auto above 3 datasets a region, locations from datasets.list, by default", () =>
      Effect.gen(function*() {
        const settings = yield* load(live)
        expect(settings).toMatchObject({ metadataRead: "auto", metadataRegionAbove: 3, metadataLocation: null })
      }))

    it.effect("METADATA_READ, METADATA_REGION_ABOVE and METADATA_LOCATION are read", () =>
      Effect.gen(function*() {
        const settings = yield* load({ ...live, METADATA_READ: "region", METADATA_REGION_ABOVE: "0", METADATA_LOCATION: " asia-northeast3 " })
        expect(settings).toMatchObject({ metadataRead: "region", metadataRegionAbove: 0, metadataLocation: "asia-northeast3" })
        expect((yield* load({ ...live, METADATA_READ: "dataset" })).metadataRead).toBe("dataset")
        expect((yield* load({ ...live, METADATA_LOCATION: "US" })).metadataLocation).toBe("US")
      }))

    it.effect.each<readonly [Record<string, string>, string]>([
      [{ ...live, METADATA_READ: "regional" }, "METADATA_READ is \"regional\": expected \"auto\" (the default: by region when a region has more than METADATA_REGION_ABOVE datasets), \"dataset\" or \"region\""],
      [{ ...live, METADATA_REGION_ABOVE: "-1" }, "METADATA_REGION_ABOVE is \"-1\": expected a number of datasets from 0 to 999999"],
      [{ ...live, METADATA_REGION_ABOVE: "three" }, "METADATA_REGION_ABOVE is \"three\": expected a number of datasets"],
      [{ ...live, METADATA_LOCATION: "region-us" }, "METADATA_LOCATION is \"region-us\": expected the location itself (us), without the region- of its INFORMATION_SCHEMA qualifier"],
      [{ ...live, METADATA_LOCATION: "us central1" }, "METADATA_LOCATION is \"us central1\": expected the datasets' BigQuery location"],
      [{ ...live, METADATA_LOCATION: "us-`x`" }, "METADATA_LOCATION is \"us-`x`\": expected the datasets' BigQuery location"]
    ])("stops on a bad value, naming it: %j", ([env, message]) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load(env))
        expect(error._tag).toBe("InvalidConfig")
        expect(error.message).toContain(message)
      }))
  })
})
