/**
 * The CLI as an operator runs it, in live mode against local BigQuery and Cloud Storage servers
 * that leave one call of each unanswered: the stalled calls are cut by their deadline, retried,
 * the document is published — and the process exits right after, instead of waiting forever on
 * the requests nobody answers.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { runCli } from "../support/CliRunner.ts"
import { Fault as BigQueryFault } from "../support/FakeBigQueryServer.ts"
import { Fault as GcsFault } from "../support/FakeGcsServer.ts"
import { arrangeGa4, BUCKET, fakeServers, OBJECT, PROJECT, publishedObject } from "../support/LiveTestEnvironment.ts"
import { GA4_TABLE_ID } from "../support/TestLayers.ts"

/** Far longer than the run needs (a few seconds); only a process that does not exit reaches it. */
const EXIT_DEADLINE_MS = 45_000

describe("metasync sync against servers that stall", () => {
  it.scopedLive("publishes after the stalled calls time out and are retried, then exits", () =>
    Effect.gen(function*() {
      const servers = yield* fakeServers
      arrangeGa4(servers.bigQuery)
      servers.bigQuery.faults.inject(BigQueryFault.stall, { kind: "tables.get" })
      servers.gcs.faults.inject(GcsFault.stall, { kind: "metadata" })

      const result = yield* Effect.promise(() =>
        runCli(["sync"], {
          METASYNC_MODE: "live",
          GOOGLE_CLOUD_PROJECT: PROJECT,
          TARGET_TABLE_ID: GA4_TABLE_ID,
          GCS_BUCKET: BUCKET,
          BIGQUERY_EMULATOR_HOST: servers.bigQuery.url,
          STORAGE_EMULATOR_HOST: servers.gcs.url,
          REMOTE_TIMEOUT_MS: "1000",
          RETRY_MAX_ATTEMPTS: "3",
          EXAMPLE_DRY_RUN: "off"
        }, { deadlineMs: EXIT_DEADLINE_MS })
      )

      expect(result.stderr).not.toMatch(/metasync: \w+:/)
      expect(result.stdout).toContain("Published 1 table")
      expect(result.code).toBe(0)
      expect(publishedObject(servers.gcs, OBJECT)).toBeDefined()
      // Each stalled call was made once and retried once.
      expect(servers.bigQuery.requestsOf("tables.get")).toHaveLength(2)
      expect(servers.gcs.faults.pending()).toBe(0)
      expect(servers.bigQuery.faults.pending()).toBe(0)
    }))
})
