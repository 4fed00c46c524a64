/**
 * The split layout over real HTTP: `syncOnce` on the live layers (Google's own clients) against a
 * local BigQuery and a local Cloud Storage, two datasets, `DOCUMENT_LAYOUT=split`. The first run
 * publishes a manifest and a part per dataset that read back, through the official client, as the
 * document; a second run after one table changed uploads that table's part alone and reuses the
 * other, object for object. Each snapshot gets its part index, and the second run's pruning
 * downloads those, never a snapshot's manifest.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { readStoredDocument } from "../../src/loader/StoredDocument.ts"
import { GcsStorage } from "../../src/services/Storage/GcsStorage.ts"
import { historyPrefix, partIndexName, partsPrefix } from "../../src/sync/history.ts"
import { type SyncOptions, type SyncSummary, syncOnce } from "../../src/sync/SyncProgram.ts"
import { exactTarget } from "../../src/config/Targets.ts"
import {
  answerDryRuns,
  arrangeGa4,
  BUCKET,
  type FakeServers,
  fakeServers,
  GA4_LAST_MODIFIED_MS,
  GA4_REST_TABLE,
  liveLayer,
  OBJECT
} from "../support/LiveTestEnvironment.ts"
import { GA4_TABLE_ID, ref } from "../support/TestLayers.ts"

/** A second table, in a dataset of its own: a second part. */
const OTHER_TABLE_ID = "nlq-ex.web_dataset.sessions"

const arrangeOther = (servers: FakeServers, description: string, lastModifiedMs: number) => {
  const { dataset, project, table } = ref(OTHER_TABLE_ID)
  servers.bigQuery.tables.put(project, dataset, {
    ...GA4_REST_TABLE,
    tableReference: { tableId: table },
    description,
    lastModifiedTime: String(lastModifiedMs)
  })
  answerDryRuns(servers.bigQuery, OTHER_TABLE_ID)
}

const settings = {
  documentLayout: "split" as const,
  targets: [exactTarget(ref(GA4_TABLE_ID)), exactTarget(ref(OTHER_TABLE_ID))]
}

const sync = (servers: FakeServers, options: SyncOptions = {}) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(syncOnce(options).pipe(Effect.provide(liveLayer(servers, { settings }))))
    if (Exit.isFailure(exit)) throw new Error(`the run failed: ${Cause.pretty(exit.cause)}`)
    return exit.value as SyncSummary
  })

/** The published cache read back through the official client, as a reader would. */
const readBack = (servers: FakeServers) =>
  Effect.gen(function*() {
    const stored = yield* readStoredDocument(OBJECT).pipe(
      Effect.provide(GcsStorage.layer({ bucket: BUCKET, apiEndpoint: servers.gcs.url, timeout: "30 seconds" }))
    )
    return Option.getOrThrow(stored)
  })

const partUploads = (servers: FakeServers) =>
  servers.gcs.requestsOf("upload").filter((r) => (r.query["name"] ?? "").startsWith(partsPrefix(OBJECT))).map((r) => r.query["name"])

describe("the split layout over the local GCS server", () => {
  it.scopedLive("a split sync reads back whole, and an incremental run uploads only the changed dataset's part", () =>
    Effect.gen(function*() {
      const servers = yield* fakeServers
      arrangeGa4(servers.bigQuery)
      arrangeOther(servers, "web sessions", GA4_LAST_MODIFIED_MS)

      const first = yield* sync(servers)
      expect(first).toMatchObject({ status: "ok", layout: "split", parts_written: 2, parts_reused: 0, table_count: 2 })
      const stored = yield* readBack(servers)
      expect(stored.formatVersion).toBe(3)
      expect(stored.info.generation).toBe(first.generation)
      expect(stored.document.tables.map((t) => [t.table_id, t.description])).toEqual([
        [GA4_TABLE_ID, GA4_REST_TABLE.description],
        [OTHER_TABLE_ID, "web sessions"]
      ])
      const manifest = stored.manifest!
      expect(manifest.parts.map((p) => p.key)).toEqual(["nlq-ex.test_dataset", "nlq-ex.web_dataset"])
      // Each part is in the bucket at the generation, size and MD5 the manifest references.
      for (const ref of manifest.parts) {
        const object = servers.gcs.objects.get(BUCKET, ref.object)!
        expect([object.generation, object.bytes.length]).toEqual([ref.generation, ref.bytes])
      }
      expect(partUploads(servers)).toEqual(manifest.parts.map((p) => p.object))

      // One table changed: its dataset's part is uploaded again, the other is referenced as it was.
      arrangeOther(servers, "web sessions, described anew", GA4_LAST_MODIFIED_MS + 60_000)
      const uploadsBefore = partUploads(servers).length
      const downloadsBefore = servers.gcs.requestsOf("download").length
      const second = yield* sync(servers)
      expect(second).toMatchObject({ status: "ok", layout: "split", parts_written: 1, parts_reused: 1 })
      const again = yield* readBack(servers)
      expect(again.info.generation).toBe(second.generation)
      expect(again.document.tables.map((t) => t.description)).toEqual([GA4_REST_TABLE.description, "web sessions, described anew"])
      const [ga4Part, webPart] = again.manifest!.parts
      expect(ga4Part).toEqual(manifest.parts[0])
      expect(webPart!.object).not.toBe(manifest.parts[1]!.object)
      expect(partUploads(servers).slice(uploadsBefore)).toEqual([webPart!.object])
      // Both runs' snapshots are retained, so the first run's web part is kept for a rollback.
      const partsNow = servers.gcs.objects.names(BUCKET).filter((n) => n.startsWith(partsPrefix(OBJECT)))
      expect(partsNow).toHaveLength(3)
      // Each snapshot has its part index beside it; pruning downloaded those, and no snapshot.
      const history = servers.gcs.objects.names(BUCKET).filter((n) => n.startsWith(historyPrefix(OBJECT)))
      const snapshots = history.filter((n) => !n.endsWith(".parts.json"))
      expect(snapshots).toHaveLength(2)
      expect([...history].sort()).toEqual([...snapshots, ...snapshots.map(partIndexName)].sort())
      const historyDownloads = servers.gcs.requestsOf("download").slice(downloadsBefore)
        .map((r) => r.name ?? "").filter((n) => n.startsWith(historyPrefix(OBJECT)))
      expect([...historyDownloads].sort()).toEqual(snapshots.map(partIndexName).sort())

      // A dry run with nothing changed would reuse both parts, and uploads nothing.
      const uploads = servers.gcs.requestsOf("upload").length
      const dry = yield* sync(servers, { dryRun: true })
      expect(dry).toMatchObject({ status: "dry_run", layout: "split", parts_written: 0, parts_reused: 2, generation: null })
      expect(servers.gcs.requestsOf("upload")).toHaveLength(uploads)
      expect(servers.gcs.objects.names(BUCKET).filter((n) => n.startsWith(partsPrefix(OBJECT)))).toEqual(partsNow)
    }))
})
