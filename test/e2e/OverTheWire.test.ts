/**
 * The whole sync over real HTTP: `syncOnce` on the live layers (Google's own clients) against a
 * local BigQuery and a local Cloud Storage, with faults scripted on the servers.
 *
 * Every case first publishes a good document, then runs again under a fault and checks what a
 * user sees: the run's outcome (and the HTTP status the function would answer), how many requests
 * reached the server (exactly the attempts the retry policy made: the clients' own retries are
 * off), and that a failed run left the published object exactly as it was.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { type CacheDocument, parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import { answerOf } from "../../src/entry/SyncHttp.ts"
import { snapshotTime } from "../../src/sync/history.ts"
import { type SyncSummary, syncOnce } from "../../src/sync/SyncProgram.ts"
import { Fault as BigQueryFault } from "../support/FakeBigQueryServer.ts"
import { Fault as GcsFault } from "../support/FakeGcsServer.ts"
import { noneLeftOpen } from "../support/OpenConnections.ts"
import {
  arrangeGa4,
  BUCKET,
  DRY_RUN_BYTES,
  type FakeServers,
  fakeServers,
  liveLayer,
  type LiveLayerOptions,
  OBJECT,
  publishedObject,
  snapshotNames
} from "../support/LiveTestEnvironment.ts"
import { GA4_TABLE_ID } from "../support/TestLayers.ts"

/** The deadline of the call that stalls: short, since reaching it is the point. */
const STALL_DEADLINE_MS = 800
/** Enough scripted faults to outlast any run's attempts. */
const EVERY_ATTEMPT = 100

type Outcome = Exit.Exit<SyncSummary, { readonly _tag: string; readonly message: string }>

const run = (servers: FakeServers, options?: LiveLayerOptions) =>
  Effect.exit(syncOnce().pipe(Effect.provide(liveLayer(servers, options)))) as Effect.Effect<Outcome>

const succeeded = (outcome: Outcome): SyncSummary => {
  if (Exit.isFailure(outcome)) throw new Error(`the run failed: ${Cause.pretty(outcome.cause)}`)
  return outcome.value
}

const failure = (outcome: Outcome): { readonly _tag: string } => {
  if (Exit.isSuccess(outcome)) throw new Error(`the run succeeded: ${JSON.stringify(outcome.value)}`)
  return Option.getOrThrowWith(Cause.failureOption(outcome.cause), () => new Error(Cause.pretty(outcome.cause)))
}

const decoded = (bytes: Uint8Array): CacheDocument =>
  Either.getOrThrow(parseCacheDocument(new TextDecoder().decode(bytes)))

interface Published {
  readonly bytes: Buffer
  readonly generation: string
  readonly snapshots: ReadonlyArray<string>
}

const published = (servers: FakeServers): Published => {
  const object = publishedObject(servers.gcs)
  if (object === undefined) throw new Error(`nothing is published at gs://${BUCKET}/${OBJECT}`)
  return { bytes: Buffer.from(object.bytes), generation: object.generation, snapshots: snapshotNames(servers.gcs) }
}

/** Servers serving the GA4 table, and the document a clean first run published there. */
const afterGoodRun = Effect.gen(function*() {
  const servers = yield* fakeServers
  arrangeGa4(servers.bigQuery)
  succeeded(yield* run(servers))
  return { servers, before: published(servers) }
})

/** Requests of `kind` that reached `server` from index `from` of its log on. */
const requestsSince = (servers: FakeServers, server: keyof FakeServers, kind: string, from: number) =>
  (servers[server].requests as ReadonlyArray<{ readonly kind: string }>).slice(from).filter((r) => r.kind === kind)

const logLengths = (servers: FakeServers) => ({
  bigQuery: servers.bigQuery.requests.length,
  gcs: servers.gcs.requests.length
})


describe("a sync over the wire", () => {
  it.scopedLive("publishes the GA4 table through the live clients, one request per call", () =>
    Effect.gen(function*() {
      const servers = yield* fakeServers
      arrangeGa4(servers.bigQuery)

      const summary = succeeded(yield* run(servers))

      const now = published(servers)
      expect(summary).toMatchObject({
        status: "ok",
        table_count: 1,
        column_count: 23,
        object: `gs://${BUCKET}/${OBJECT}`,
        generation: now.generation,
        bytes: now.bytes.byteLength,
        retries: 0
      })
      const doc = decoded(now.bytes)
      expect(doc.schema.table_id).toBe(GA4_TABLE_ID)
      expect(DateTime.formatIso(doc.generated_at)).toBe(summary.generated_at)
      expect(doc.examples.length).toBe(summary.example_count)
      expect(summary.example_count).toBeGreaterThanOrEqual(4)
      // Each example was checked by one BigQuery dry run, whose estimate it carries.
      expect(doc.examples.map((e) => e.estimated_bytes)).toEqual(doc.examples.map(() => DRY_RUN_BYTES))
      expect(servers.bigQuery.requestsOf("jobs.insert")).toHaveLength(summary.example_count)
      // The latest object is a copy of the one snapshot written.
      expect(now.snapshots).toHaveLength(1)
      expect(servers.gcs.objects.get(BUCKET, now.snapshots[0])?.bytes.equals(now.bytes)).toBe(true)
      expect(servers.bigQuery.requestsOf("tables.get")).toHaveLength(1)
      expect(servers.gcs.requestsOf("upload")).toMatchObject([{ query: { ifGenerationMatch: "0" } }])
      expect(servers.gcs.requestsOf("rewrite")).toMatchObject([{ query: { ifGenerationMatch: "0" } }])
    }))

  describe("a transient fault is retried once and the run succeeds", () => {
    const cases: ReadonlyArray<{
      readonly name: string
      readonly server: keyof FakeServers
      readonly kind: string
      readonly arrange: (servers: FakeServers) => void
    }> = [
      {
        name: "BigQuery tables.get answers 503",
        server: "bigQuery",
        kind: "tables.get",
        arrange: (s) => s.bigQuery.faults.inject(BigQueryFault.status(503), { kind: "tables.get" })
      },
      {
        name: "the Cloud Storage upload answers 429",
        server: "gcs",
        kind: "upload",
        arrange: (s) => s.gcs.faults.inject(GcsFault.status(429), { kind: "upload" })
      },
      {
        name: "the Cloud Storage copy loses its connection",
        server: "gcs",
        kind: "rewrite",
        arrange: (s) => s.gcs.faults.inject(GcsFault.reset, { kind: "rewrite" })
      }
    ]
    for (const c of cases) {
      it.scopedLive(c.name, () =>
        Effect.gen(function*() {
          const { before, servers } = yield* afterGoodRun
          const from = logLengths(servers)
          c.arrange(servers)

          const summary = succeeded(yield* run(servers))

          expect(requestsSince(servers, c.server, c.kind, from[c.server])).toHaveLength(2)
          expect(summary).toMatchObject({ status: "ok", retries: 1 })
          const now = published(servers)
          expect(now.generation).toBe(summary.generation)
          expect(BigInt(now.generation)).toBeGreaterThan(BigInt(before.generation))
          const doc = decoded(now.bytes)
          expect(DateTime.formatIso(doc.generated_at)).toBe(summary.generated_at)
          expect(DateTime.greaterThan(doc.generated_at, decoded(before.bytes).generated_at)).toBe(true)
          expect(now.snapshots).toHaveLength(2)
        }))
    }
  })

  interface FailureCase {
    readonly name: string
    readonly server: keyof FakeServers
    readonly kind: string
    readonly arrange: (servers: FakeServers) => void
    readonly layer?: LiveLayerOptions
    /** Requests of `kind` that reach the server. */
    readonly requests: number
    readonly error: Record<string, unknown>
    readonly status: number
    /** Whether the run wrote its snapshot before failing (a failed copy leaves it behind). */
    readonly snapshotWritten?: boolean
  }

  const failsAndLeavesThePublishedDocument = (c: FailureCase) =>
    it.scopedLive(c.name, () =>
      Effect.gen(function*() {
        const { before, servers } = yield* afterGoodRun
        const from = logLengths(servers)
        c.arrange(servers)

        const outcome = yield* run(servers, c.layer)

        expect(failure(outcome)).toMatchObject(c.error)
        expect(requestsSince(servers, c.server, c.kind, from[c.server])).toHaveLength(c.requests)
        const answer = answerOf(outcome)
        expect(answer.status).toBe(c.status)
        expect(answer.body).toMatchObject({ error: { tag: c.error._tag } })
        const now = published(servers)
        expect(now.generation).toBe(before.generation)
        expect(now.bytes.equals(before.bytes)).toBe(true)
        if (c.snapshotWritten !== true) expect(now.snapshots).toEqual(before.snapshots)
        // A request cut by its deadline was cancelled: no socket is left waiting on the server.
        yield* noneLeftOpen(servers[c.server].connections)
      }))

  describe("a transient fault that persists fails after the policy's 3 attempts, with 503", () => {
    const cases: ReadonlyArray<FailureCase> = [
      {
        name: "BigQuery tables.get keeps answering 503",
        server: "bigQuery",
        kind: "tables.get",
        arrange: (s) => s.bigQuery.faults.inject(BigQueryFault.status(503), { kind: "tables.get" }, EVERY_ATTEMPT),
        requests: 3,
        error: {
          _tag: "AllTablesFailed",
          transient: true,
          failures: [{ table_id: GA4_TABLE_ID, tag: "RemoteUnavailable" }]
        },
        status: 503
      },
      {
        name: "reading the published object keeps answering 503",
        server: "gcs",
        kind: "metadata",
        arrange: (s) => s.gcs.faults.inject(GcsFault.status(503), { kind: "metadata" }, EVERY_ATTEMPT),
        requests: 3,
        error: {
          _tag: "RemoteUnavailable",
          service: "storage",
          operation: "objects.get",
          resource: `gs://${BUCKET}/${OBJECT}`,
          status: 503,
          attempts: 3
        },
        status: 503
      },
      {
        name: "the snapshot upload keeps answering 503",
        server: "gcs",
        kind: "upload",
        arrange: (s) => s.gcs.faults.inject(GcsFault.status(503), { kind: "upload" }, EVERY_ATTEMPT),
        requests: 3,
        error: { _tag: "RemoteUnavailable", service: "storage", operation: "objects.insert", status: 503, attempts: 3 },
        status: 503
      },
      {
        name: "the copy over the published object keeps losing its connection",
        server: "gcs",
        kind: "rewrite",
        arrange: (s) => s.gcs.faults.inject(GcsFault.reset, { kind: "rewrite" }, EVERY_ATTEMPT),
        requests: 3,
        error: {
          _tag: "RemoteUnavailable",
          service: "storage",
          operation: "objects.rewrite",
          resource: `gs://${BUCKET}/${OBJECT}`,
          status: null,
          attempts: 3
        },
        status: 503,
        snapshotWritten: true
      }
    ]
    cases.forEach(failsAndLeavesThePublishedDocument)
  })

  describe("a permanent fault fails at once, after one request, with 500", () => {
    const cases: ReadonlyArray<FailureCase> = [
      {
        name: "BigQuery tables.get answers 403 accessDenied",
        server: "bigQuery",
        kind: "tables.get",
        arrange: (s) => s.bigQuery.faults.inject(BigQueryFault.status(403, "accessDenied"), { kind: "tables.get" }),
        requests: 1,
        error: { _tag: "AllTablesFailed", transient: false, failures: [{ table_id: GA4_TABLE_ID, tag: "PermissionDenied" }] },
        status: 500
      },
      {
        name: "BigQuery tables.get answers 404: the table is gone",
        server: "bigQuery",
        kind: "tables.get",
        arrange: (s) => s.bigQuery.faults.inject(BigQueryFault.status(404), { kind: "tables.get" }),
        requests: 1,
        error: { _tag: "AllTablesFailed", transient: false, failures: [{ table_id: GA4_TABLE_ID, tag: "ResourceNotFound" }] },
        status: 500
      },
      {
        name: "the snapshot upload answers 403 forbidden",
        server: "gcs",
        kind: "upload",
        arrange: (s) => s.gcs.faults.inject(GcsFault.status(403), { kind: "upload" }),
        requests: 1,
        error: { _tag: "PermissionDenied", service: "storage", operation: "objects.insert", status: 403 },
        status: 500
      },
      {
        name: "the snapshot upload answers 404: the bucket is gone",
        server: "gcs",
        kind: "upload",
        arrange: (s) => s.gcs.faults.inject(GcsFault.status(404), { kind: "upload" }),
        requests: 1,
        error: { _tag: "ResourceNotFound", service: "storage", operation: "objects.insert" },
        status: 500
      },
      {
        name: "the copy over the published object answers 403 forbidden",
        server: "gcs",
        kind: "rewrite",
        arrange: (s) => s.gcs.faults.inject(GcsFault.status(403), { kind: "rewrite" }),
        requests: 1,
        error: { _tag: "PermissionDenied", service: "storage", operation: "objects.rewrite", status: 403 },
        status: 500,
        snapshotWritten: true
      }
    ]
    cases.forEach(failsAndLeavesThePublishedDocument)
  })

  describe("a stalled call is cut by its deadline (one attempt), with 503", () => {
    const cases: ReadonlyArray<FailureCase> = [
      {
        name: "BigQuery tables.get never answers",
        server: "bigQuery",
        kind: "tables.get",
        arrange: (s) => s.bigQuery.faults.inject(BigQueryFault.stall, { kind: "tables.get" }),
        layer: { settings: { retryAttempts: 1 }, bigQueryTimeout: STALL_DEADLINE_MS },
        requests: 1,
        error: { _tag: "AllTablesFailed", transient: true, failures: [{ table_id: GA4_TABLE_ID, tag: "RemoteTimeout" }] },
        status: 503
      },
      {
        name: "the snapshot upload never answers",
        server: "gcs",
        kind: "upload",
        arrange: (s) => s.gcs.faults.inject(GcsFault.stall, { kind: "upload" }),
        layer: { settings: { retryAttempts: 1 }, storageTimeout: STALL_DEADLINE_MS },
        requests: 1,
        error: {
          _tag: "RemoteTimeout",
          service: "storage",
          operation: "objects.insert",
          timeout_ms: STALL_DEADLINE_MS,
          attempts: 1
        },
        status: 503
      }
    ]
    cases.forEach(failsAndLeavesThePublishedDocument)
  })

  it.scopedLive("two overlapping runs: one publishes, the other fails with a conflict and leaves no snapshot", () =>
    Effect.gen(function*() {
      const { before, servers } = yield* afterGoodRun
      const from = logLengths(servers)
      // Two instances of the function, their clients built before either run starts.
      const layer = liveLayer(servers, { settings: { retryAttempts: 4 } })
      const instances = yield* Effect.all([Layer.build(layer), Layer.build(layer)])

      // The run that asks for the table first is held back about 0.5 s: it documents the table later.
      servers.bigQuery.faults.inject(BigQueryFault.status(503), { kind: "tables.get" })
      // The other one then uploads its snapshot first, and is held back about 3.5 s there (three
      // 503s on that snapshot), long after the first has published: both read the same generation.
      let heldSnapshot: string | undefined
      servers.gcs.faults.inject(
        GcsFault.status(503),
        (r) => r.kind === "upload" && (heldSnapshot ??= r.name) === r.name,
        3
      )

      const outcomes = yield* Effect.all(
        instances.map((services) => Effect.exit(Effect.provide(syncOnce(), services)) as Effect.Effect<Outcome>),
        { concurrency: "unbounded" }
      )

      const winners = outcomes.filter(Exit.isSuccess)
      const losers = outcomes.filter(Exit.isFailure)
      expect([winners.length, losers.length]).toEqual([1, 1])
      const winner = succeeded(winners[0])
      const loser = losers[0] as Outcome
      expect(failure(loser)).toMatchObject({
        _tag: "PreconditionFailed",
        service: "storage",
        operation: "objects.rewrite",
        resource: `gs://${BUCKET}/${OBJECT}`,
        expected_generation: before.generation
      })
      expect(answerOf(loser)).toMatchObject({ status: 409, body: { error: { tag: "PreconditionFailed" } } })

      // The winner's document is the one published, and it is newer than both the first and the loser's.
      const now = published(servers)
      expect(now.generation).toBe(winner.generation)
      const doc = decoded(now.bytes)
      expect(DateTime.formatIso(doc.generated_at)).toBe(winner.generated_at)
      expect(DateTime.greaterThan(doc.generated_at, decoded(before.bytes).generated_at)).toBe(true)
      const loserSnapshot = heldSnapshot ?? ""
      const loserGeneratedAt = snapshotTime(OBJECT, loserSnapshot)
      expect(loserGeneratedAt).toBeDefined()
      expect(DateTime.greaterThan(doc.generated_at, loserGeneratedAt!)).toBe(true)

      // The loser's snapshot was written (fourth attempt), then removed: history holds only published documents.
      const uploads = requestsSince(servers, "gcs", "upload", from.gcs) as ReadonlyArray<{ readonly name?: string }>
      expect(uploads.filter((r) => r.name === loserSnapshot)).toHaveLength(4)
      const winnerSnapshots = uploads.filter((r) => r.name !== loserSnapshot).map((r) => r.name)
      expect(winnerSnapshots).toHaveLength(1)
      expect(now.snapshots).toEqual([...before.snapshots, ...winnerSnapshots].sort())
      expect(now.snapshots).not.toContain(loserSnapshot)
      expect(servers.gcs.objects.get(BUCKET, winnerSnapshots[0] ?? "")?.bytes.equals(now.bytes)).toBe(true)
    }))
})
