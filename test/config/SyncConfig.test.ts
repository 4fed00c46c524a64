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
})
