import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Fault, start } from "./FakeBigQueryServer.ts"

const fakeBigQuery = Effect.acquireRelease(
  Effect.promise(() => start({ listPageSize: 2 })),
  (fake) => Effect.promise(() => fake.close())
)

const fetchJson = (url: string, body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(
      url,
      body === undefined
        ? undefined
        : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
    )
    return { status: response.status, body: await response.json() as Record<string, any> }
  })

describe("FakeBigQueryServer", () => {
  it.scopedLive("serves tables under both path prefixes, lists them in pages, and 404s unknown ones", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery
      for (const table of ["a", "b", "c"]) {
        fake.tables.put("proj-1", "ds", { tableReference: { tableId: table }, numRows: "3", schema: { fields: [] } })
      }

      const viaApiEndpoint = yield* fetchJson(`${fake.url}/bigquery/v2/projects/proj-1/datasets/ds/tables/b`)
      expect(viaApiEndpoint.body).toMatchObject({
        kind: "bigquery#table",
        id: "proj-1:ds.b",
        tableReference: { projectId: "proj-1", datasetId: "ds", tableId: "b" },
        type: "TABLE",
        numRows: "3"
      })
      const viaEmulatorPath = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/ds/tables/b`)
      expect(viaEmulatorPath.body).toEqual(viaApiEndpoint.body)

      const first = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/ds/tables`)
      expect(first.body).toMatchObject({ kind: "bigquery#tableList", totalItems: 3, nextPageToken: "c" })
      expect(first.body.tables.map((t: any) => t.tableReference.tableId)).toEqual(["a", "b"])
      const second = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/ds/tables?pageToken=c`)
      expect(second.body.tables.map((t: any) => t.id)).toEqual(["proj-1:ds.c"])
      expect(second.body.nextPageToken).toBeUndefined()

      const missing = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/nope/tables/a`)
      expect(missing.status).toBe(404)
      expect(missing.body.error).toMatchObject({ code: 404, message: "Not found: Dataset proj-1:nope" })
      expect(missing.body.error.errors[0].reason).toBe("notFound")
      expect(fake.requests.map((r) => r.kind)).toEqual(["tables.get", "tables.get", "tables.list", "tables.list", "tables.get"])
    }))

  it.scopedLive("answers a query as BigQuery does: not complete, then pages of f/v rows", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery
      fake.queries.answer({
        match: /FROM events/,
        schema: [
          { name: "n", type: "INTEGER" },
          { name: "tags", type: "STRING", mode: "REPEATED" },
          { name: "device", type: "RECORD", fields: [{ name: "os", type: "STRING" }] },
          { name: "at", type: "TIMESTAMP" }
        ],
        rows: [[1, ["x"], { os: "ios" }, "2021-01-31T00:00:00Z"], [null, [], null, null]],
        totalBytesProcessed: 2048,
        pageSize: 1,
        pendingPolls: 1
      })
      const query = { query: "SELECT * FROM events", useLegacySql: false, formatOptions: { useInt64Timestamp: true } }

      const started = yield* fetchJson(`${fake.url}/bigquery/v2/projects/proj-1/queries`, query)
      expect(started.body).toEqual({
        kind: "bigquery#queryResponse",
        jobReference: { projectId: "proj-1", jobId: "job_1", location: "US" },
        jobComplete: false
      })
      const results = `${fake.url}/bigquery/v2/projects/proj-1/queries/job_1?formatOptions.useInt64Timestamp=true`
      const page1 = yield* fetchJson(results)
      expect(page1.body).toMatchObject({
        jobComplete: true,
        totalRows: "2",
        totalBytesProcessed: "2048",
        pageToken: "offset-1",
        rows: [{ f: [{ v: "1" }, { v: [{ v: "x" }] }, { v: { f: [{ v: "ios" }] } }, { v: "1612051200000000" }] }]
      })
      const page2 = yield* fetchJson(`${results}&pageToken=offset-1`)
      expect(page2.body.rows).toEqual([{ f: [{ v: null }, { v: [] }, { v: null }, { v: null }] }])
      expect(page2.body.pageToken).toBeUndefined()

      const dryRun = yield* fetchJson(`${fake.url}/projects/proj-1/jobs`, {
        configuration: { dryRun: true, query: { query: "SELECT n FROM events", useLegacySql: false } }
      })
      expect(dryRun.body).toMatchObject({
        jobReference: { projectId: "proj-1" },
        status: { state: "DONE" },
        statistics: { totalBytesProcessed: "2048", query: { totalBytesProcessed: "2048", schema: { fields: expect.any(Array) } } }
      })

      const unknown = yield* fetchJson(`${fake.url}/projects/proj-1/queries`, { query: "SELEC 1", useLegacySql: false })
      expect(unknown.status).toBe(400)
      expect(unknown.body.error.errors[0].reason).toBe("invalidQuery")
    }))

  it.scopedLive("answers a scripted fault once, for the matching request only, and records every request", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBigQuery
      fake.tables.put("proj-1", "ds", { tableReference: { tableId: "a" } })
      fake.faults.inject(Fault.status(403), { kind: "tables.get" })
      fake.faults.inject(Fault.status(403, "accessDenied"), (r) => r.kind === "tables.list")
      expect(fake.faults.pending()).toBe(2)

      const listed = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/ds/tables`)
      expect(listed.status).toBe(403)
      expect(listed.body.error.errors[0].reason).toBe("accessDenied")
      const limited = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/ds/tables/a`)
      expect(limited.status).toBe(403)
      expect(limited.body.error.errors[0].reason).toBe("rateLimitExceeded")
      const served = yield* fetchJson(`${fake.url}/projects/proj-1/datasets/ds/tables/a`)
      expect(served.status).toBe(200)

      fake.faults.inject(Fault.malformed)
      const malformed = yield* Effect.promise(() => fetch(`${fake.url}/projects/proj-1/datasets/ds/tables/a`).then((r) => r.text()))
      expect(() => JSON.parse(malformed)).toThrow()
      fake.faults.inject(Fault.raw(200, "{\"kind\": \"as sent\"}"))
      const raw = yield* Effect.promise(() => fetch(`${fake.url}/projects/proj-1/datasets/ds/tables/a`).then((r) => r.text()))
      expect(raw).toBe("{\"kind\": \"as sent\"}")
      fake.faults.inject(Fault.reset)
      const reset = yield* Effect.promise(() => fetch(`${fake.url}/projects/proj-1/datasets/ds/tables/a`).then(() => "answered", () => "failed"))
      expect(reset).toBe("failed")

      expect(fake.faults.pending()).toBe(0)
      expect(fake.requestsOf("tables.get")).toHaveLength(5)
      expect(fake.requests.map((r) => r.project)).toEqual(["proj-1", "proj-1", "proj-1", "proj-1", "proj-1", "proj-1"])
    }))
})
