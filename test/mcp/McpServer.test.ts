/**
 * `metasync mcp` as an MCP client meets it: a child process, the SDK's own Client, over stdio (a
 * local bucket directory) and over Streamable HTTP (Cloud Storage, the local fake on 127.0.0.1).
 * The document is what a real sync of the shipped sample publishes.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { parseCacheDocument } from "../../src/contract/index.ts"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import { type CliWorkspace, makeCliWorkspace, SAMPLE_TABLE_ID } from "../support/CliRunner.ts"
import { type FakeGcs, start as startFakeGcs } from "../support/FakeGcsServer.ts"
import {
  call,
  type Connected,
  connectHttp,
  connectStdio,
  type HttpServerProcess,
  startHttpServer,
  structured,
  textOf,
  waitFor,
  withExtraTable,
  withRelationships,
  writeLocalObject
} from "./McpHarness.ts"
import { storeSplit } from "../support/SplitStore.ts"

const TOOL_NAMES = [
  "cache_status",
  "describe_table",
  "get_examples",
  "get_join_path",
  "get_prompt_context",
  "get_relationships",
  "search_tables"
]
const OBJECT = "metadata_cache.json"
const NO_STACK = /\n\s+at /

let ws: CliWorkspace
let published: string

beforeAll(async () => {
  ws = await makeCliWorkspace({ curated: "sample" })
  const result = await ws.run(["sync"])
  expect(result.code, result.stderr).toBe(0)
  published = await fs.readFile(ws.documentFile, "utf8")
})

afterAll(async () => {
  await ws?.remove()
})

const freshDirectory = () => fs.mkdtemp(path.join(os.tmpdir(), "metasync-mcp-"))

describe("metasync mcp over stdio", () => {
  let server: Connected

  beforeAll(async () => {
    server = await connectStdio(["--source", ws.bucketDir])
  })
  afterAll(async () => {
    await server?.close()
  })

  it("lists its read-only tools with JSON Schema inputs", async () => {
    const { tools } = await server.client.listTools()
    expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES)
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object")
      expect(tool.annotations?.readOnlyHint).toBe(true)
      expect(tool.description?.length).toBeGreaterThan(20)
    }
    const describeTable = tools.find((t) => t.name === "describe_table")
    expect(describeTable?.inputSchema.required).toEqual(["table_id"])
    expect(describeTable?.inputSchema.properties?.limit).toMatchObject({ type: "integer", maximum: 500 })
  })

  it("finds the tables for a question", async () => {
    const found = structured(await call(server.client, "search_tables", { question: "국가별 사용자 수", limit: 3 }))
    expect(found.total_tables).toBe(1)
    expect(found.tables[0]).toMatchObject({ table_id: SAMPLE_TABLE_ID, kind: "TABLE", columns: 23, state: "fresh" })
    expect(found.tables[0].score).toBeGreaterThan(0)
  })

  it("renders the prompt context within the budget and language asked for", async () => {
    const result = await call(server.client, "get_prompt_context", {
      question: "How many users per country?",
      max_tokens: 600,
      language: "en"
    })
    const context = structured(result)
    expect(context.tokens).toBeLessThanOrEqual(600)
    expect(context.tables).toEqual([SAMPLE_TABLE_ID])
    expect(textOf(result)).toBe(context.text)
    expect(context.text).toContain(`## Table \`${SAMPLE_TABLE_ID}\``)
  })

  it("describes a table page by page, with the UNNEST joins of nested fields", async () => {
    const first = structured(await call(server.client, "describe_table", { table_id: SAMPLE_TABLE_ID, limit: 500 }))
    expect(first.total_fields).toBe(108)
    expect(first.next_offset).toBeNull()
    const nested = first.fields.find((f: { path: string }) => f.path === "event_params.value.string_value")
    expect(nested).toMatchObject({ type: "STRING", repeated: ["event_params"] })
    expect(nested.joins).toEqual([expect.stringMatching(/CROSS JOIN UNNEST\(event_params\)/)])
    expect(nested.expression).toMatch(/\.value\.string_value$/)

    const page = structured(await call(server.client, "describe_table", { table_id: SAMPLE_TABLE_ID, offset: 100, limit: 5 }))
    expect(page.fields).toHaveLength(5)
    expect(page.next_offset).toBe(105)
  })

  it("returns examples for a table, and ranked for a question", async () => {
    const forTable = structured(await call(server.client, "get_examples", { table_id: SAMPLE_TABLE_ID, limit: 3 }))
    expect(forTable.examples).toHaveLength(3)
    expect(forTable.matching_examples).toBe(forTable.total_examples)
    const ranked = structured(await call(server.client, "get_examples", { question: "국가별 사용자 수", language: "ko" }))
    expect(ranked.examples[0].sql).toContain("geo.country")
    expect(ranked.examples[0].score).toBeGreaterThan(0)
  })

  it("reports the document's freshness and health", async () => {
    const status = structured(await call(server.client, "cache_status"))
    expect(status).toMatchObject({ status: "ok", available: true, expired: false, lastError: null, tableCount: 1, format_version: 2 })
    expect(status.location).toBe(path.join(ws.bucketDir, OBJECT))
    expect(typeof status.age).toBe("number")
  })

  it("rejects bad arguments with a clear message and no stack", async () => {
    const wrongType = await call(server.client, "describe_table", { table_id: 42 })
    expect(wrongType.isError).toBe(true)
    expect(textOf(wrongType)).toMatch(/Invalid arguments for tool describe_table.*table_id/s)

    const tooMany = await call(server.client, "search_tables", { question: "users", limit: 10_000 })
    expect(tooMany.isError).toBe(true)
    expect(textOf(tooMany)).toMatch(/limit/)

    const unknownTable = await call(server.client, "describe_table", { table_id: "nlq-ex.test_dataset.nope" })
    expect(unknownTable.isError).toBe(true)
    expect(textOf(unknownTable)).toBe(
      `ToolInputError: table nlq-ex.test_dataset.nope is not in the MetaSync cache; it describes ${SAMPLE_TABLE_ID}`
    )

    const unknownTool = await call(server.client, "drop_table", {})
    expect(unknownTool.isError).toBe(true)
    expect(textOf(unknownTool)).toMatch(/drop_table not found/)

    for (const result of [wrongType, tooMany, unknownTable, unknownTool]) expect(textOf(result)).not.toMatch(NO_STACK)
    expect(structured(await call(server.client, "cache_status")).status).toBe("ok")
  })
})

describe("metasync mcp over stdio, with relationships between tables", () => {
  // The shipped sample is one table, so it has no relationships: the test arranges three tables,
  // lines → orders → customers, as a curated relationships file would state them.
  const ORDERS = "nlq-ex.test_dataset.orders"
  const CUSTOMERS = "nlq-ex.test_dataset.customers"
  const LINES = "nlq-ex.test_dataset.lines"
  const WAREHOUSE = "nlq-ex.other_dataset.warehouses"
  const relationship = (from: string, fromColumn: string, to: string, toColumn: string, confidence: number) => ({
    from: { table_id: from, columns: [fromColumn] },
    to: { table_id: to, columns: [toColumn] },
    source: confidence === 1 ? "curated" : "inferred",
    confidence,
    evidence: `${fromColumn} names ${to}`,
    cardinality: "many-to-one"
  })
  let server: Connected
  let directory: string

  beforeAll(async () => {
    directory = await freshDirectory()
    await writeLocalObject(
      directory,
      OBJECT,
      withRelationships(published, [ORDERS, CUSTOMERS, LINES], [
        relationship(ORDERS, "user_id", CUSTOMERS, "user_pseudo_id", 1),
        relationship(LINES, "event_name", ORDERS, "event_name", 0.6),
        relationship(LINES, "stream_id", WAREHOUSE, "id", 1)
      ])
    )
    server = await connectStdio(["--source", directory])
  })
  afterAll(async () => {
    await server?.close()
    if (directory !== undefined) await fs.rm(directory, { recursive: true, force: true })
  })

  it("lists every relationship, or a table's, with its join condition, bounded by the limit", async () => {
    const all = structured(await call(server.client, "get_relationships", {}))
    expect(all.total_relationships).toBe(3)
    expect(all.relationships.map((r: any) => r.source)).toEqual(["curated", "curated", "inferred"])
    expect(all.relationships[0]).toMatchObject({
      from: { table_id: ORDERS, columns: ["user_id"] },
      to: { table_id: CUSTOMERS, columns: ["user_pseudo_id"] },
      confidence: 1,
      cardinality: "many-to-one",
      join_condition: `\`${ORDERS}\`.user_id = \`${CUSTOMERS}\`.user_pseudo_id`
    })

    const ofCustomers = structured(await call(server.client, "get_relationships", { table_id: CUSTOMERS }))
    expect(ofCustomers).toMatchObject({ table_id: CUSTOMERS, total_relationships: 1 })
    // A table outside the document that a relationship names (a curated key may point at one) has its relationships too.
    const outside = structured(await call(server.client, "get_relationships", { table_id: WAREHOUSE }))
    expect(outside).toMatchObject({ table_id: WAREHOUSE, total_relationships: 1 })

    const limited = structured(await call(server.client, "get_relationships", { limit: 1 }))
    expect(limited.total_relationships).toBe(3)
    expect(limited.relationships).toHaveLength(1)
    expect((await call(server.client, "get_relationships", { limit: 10_000 })).isError).toBe(true)

    const unknown = await call(server.client, "get_relationships", { table_id: "nlq-ex.test_dataset.nope" })
    expect(unknown.isError).toBe(true)
    expect(textOf(unknown)).toMatch(/^ToolInputError: table nlq-ex.test_dataset.nope is not in the MetaSync cache/)
  })

  it("finds the join path between two tables through a third, with each step's condition", async () => {
    const path = structured(await call(server.client, "get_join_path", { from_table_id: LINES, to_table_id: CUSTOMERS }))
    expect(path).toMatchObject({ from_table_id: LINES, to_table_id: CUSTOMERS, connected: true, joins: 2 })
    expect(path.steps.map((s: any) => [s.from_table_id, s.to_table_id])).toEqual([[LINES, ORDERS], [ORDERS, CUSTOMERS]])
    expect(path.join_conditions).toEqual([
      `\`${LINES}\`.event_name = \`${ORDERS}\`.event_name`,
      `\`${ORDERS}\`.user_id = \`${CUSTOMERS}\`.user_pseudo_id`
    ])

    const backwards = structured(await call(server.client, "get_join_path", { from_table_id: CUSTOMERS, to_table_id: LINES }))
    expect(backwards.steps.map((s: any) => [s.from_table_id, s.to_table_id])).toEqual([[CUSTOMERS, ORDERS], [ORDERS, LINES]])

    const apart = structured(await call(server.client, "get_join_path", { from_table_id: SAMPLE_TABLE_ID, to_table_id: CUSTOMERS }))
    expect(apart).toMatchObject({ connected: false, joins: 0, steps: [] })
  })

  it("describes a table with its relationships", async () => {
    const orders = structured(await call(server.client, "describe_table", { table_id: ORDERS, limit: 1 }))
    expect(orders.total_relationships).toBe(2)
    expect(orders.relationships.map((r: any) => r.join_condition)).toEqual([
      `\`${ORDERS}\`.user_id = \`${CUSTOMERS}\`.user_pseudo_id`,
      `\`${LINES}\`.event_name = \`${ORDERS}\`.event_name`
    ])
    const sample = structured(await call(server.client, "describe_table", { table_id: SAMPLE_TABLE_ID, limit: 1 }))
    expect(sample).toMatchObject({ total_relationships: 0, relationships: [] })
  })
})

describe("metasync mcp over stdio, while the document changes", () => {
  it("says so when there is no document, and serves it once it appears", async () => {
    const directory = await freshDirectory()
    const server = await connectStdio(["--source", directory, "--refresh-seconds", "0"])
    try {
      const unavailable = await call(server.client, "search_tables", { question: "users" })
      expect(unavailable.isError).toBe(true)
      expect(textOf(unavailable)).toBe(
        `CacheUnavailable: the MetaSync cache at ${path.join(directory, OBJECT)} is unavailable: ${path.join(directory, OBJECT)} does not exist`
      )
      expect(structured(await call(server.client, "cache_status"))).toMatchObject({
        status: "unavailable",
        available: false,
        lastError: { tag: "ResourceNotFound" }
      })

      await writeLocalObject(directory, OBJECT, published)
      const found = structured(await call(server.client, "search_tables", { question: "users" }))
      expect(found.tables[0].table_id).toBe(SAMPLE_TABLE_ID)
    } finally {
      await server.close()
      await fs.rm(directory, { recursive: true, force: true })
    }
  })

  it("follows a new generation, and keeps serving its last good copy when the next one is corrupt", async () => {
    const directory = await freshDirectory()
    await writeLocalObject(directory, OBJECT, published)
    const server = await connectStdio(["--source", path.join(directory, OBJECT), "--refresh-seconds", "0"])
    try {
      const before = structured(await call(server.client, "cache_status"))
      expect(before.tableCount).toBe(1)

      await writeLocalObject(directory, OBJECT, withExtraTable(published, "nlq-ex.test_dataset.sessions"))
      const after = structured(await call(server.client, "cache_status"))
      expect(after.generation).not.toBe(before.generation)
      expect(after.tableCount).toBe(2)
      const described = structured(await call(server.client, "describe_table", { table_id: "nlq-ex.test_dataset.sessions", limit: 1 }))
      expect(described.total_fields).toBe(108)

      await writeLocalObject(directory, OBJECT, "{\"format_version\": 2, \"tables\": ")
      const degraded = structured(await call(server.client, "cache_status"))
      expect(degraded).toMatchObject({ status: "degraded", available: true, generation: after.generation, tableCount: 2 })
      expect(degraded.lastError.tag).toBe("CacheDocumentError")
      expect(structured(await call(server.client, "search_tables", { question: "sessions" })).total_tables).toBe(2)
      await waitFor("the warning on stderr", () => (server.stderr().includes("keeping the MetaSync cache copy") ? true : undefined))

      await writeLocalObject(directory, OBJECT, JSON.stringify({ ...JSON.parse(published), format_version: 9 }))
      const future = structured(await call(server.client, "cache_status"))
      expect(future.lastError.message).toMatch(/format_version/)
      expect(future.available).toBe(true)
    } finally {
      await server.close()
      await fs.rm(directory, { recursive: true, force: true })
    }
  })
})

describe("metasync mcp over Streamable HTTP, reading Cloud Storage", () => {
  let gcs: FakeGcs
  let server: HttpServerProcess

  beforeAll(async () => {
    gcs = await startFakeGcs()
    gcs.objects.put("cache", OBJECT, published, "application/json")
    server = await startHttpServer(["--source", `gs://cache/${OBJECT}`, "--refresh-seconds", "0"], {
      STORAGE_EMULATOR_HOST: gcs.url
    })
  })
  afterAll(async () => {
    await server?.stop()
    await gcs?.close()
  })

  it("binds 127.0.0.1 and answers every tool", async () => {
    expect(server.url.hostname).toBe("127.0.0.1")
    const client = await connectHttp(server.url)
    try {
      const { tools } = await client.listTools()
      expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES)
      expect(structured(await call(client, "search_tables", { question: "event" })).tables[0].table_id).toBe(SAMPLE_TABLE_ID)
      expect(structured(await call(client, "get_prompt_context", { question: "event count", max_tokens: 400 })).tokens)
        .toBeLessThanOrEqual(400)
      expect(structured(await call(client, "describe_table", { table_id: SAMPLE_TABLE_ID, limit: 2 })).fields).toHaveLength(2)
      expect(structured(await call(client, "get_examples", { limit: 1 })).examples).toHaveLength(1)
      expect(structured(await call(client, "cache_status"))).toMatchObject({
        status: "ok",
        location: `gs://cache/${OBJECT}`,
        generation: gcs.objects.get("cache", OBJECT)?.generation
      })
      const bad = await call(client, "get_prompt_context", { question: "", max_tokens: -1 })
      expect(bad.isError).toBe(true)
      expect(textOf(bad)).toMatch(/Invalid arguments for tool get_prompt_context/)
      expect(textOf(bad)).not.toMatch(NO_STACK)
    } finally {
      await client.close()
    }
  })

  it("follows the bucket: a corrupt object keeps the last good copy, a missing one says so, a new one is served", async () => {
    const client = await connectHttp(server.url)
    try {
      const good = structured(await call(client, "cache_status")).generation
      gcs.objects.put("cache", OBJECT, "not json at all", "application/json")
      const corrupt = structured(await call(client, "cache_status"))
      expect(corrupt).toMatchObject({ status: "degraded", available: true, generation: good })
      expect(corrupt.lastError.tag).toBe("CacheDocumentError")

      gcs.objects.remove("cache", OBJECT)
      const missing = structured(await call(client, "cache_status"))
      expect(missing.lastError).toMatchObject({ tag: "ResourceNotFound" })
      expect(missing.available).toBe(true)

      const next = gcs.objects.put("cache", OBJECT, withExtraTable(published, "nlq-ex.test_dataset.sessions"), "application/json")
      expect(structured(await call(client, "cache_status"))).toMatchObject({ status: "ok", generation: next, tableCount: 2 })
    } finally {
      await client.close()
    }
  })

  it("answers a health check, and refuses requests that name another host", async () => {
    const health = await fetch(new URL("/healthz", server.url))
    expect(health.status).toBe(200)
    expect(((await health.json()) as { available: boolean }).available).toBe(true)

    const foreign = await new Promise<number>((resolve, reject) => {
      const request = http.request(server.url, {
        method: "POST",
        headers: { host: "attacker.example", "content-type": "application/json", accept: "application/json, text/event-stream" }
      }, (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      })
      request.on("error", reject)
      request.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }))
    })
    expect(foreign).toBe(403)

    expect((await fetch(server.url)).status).toBe(405)
  })
})

describe("metasync mcp over stdio, on a split cache (format 3)", () => {
  // The sample's table and two copies in datasets of their own, one table per part: three parts.
  const ORDERS = "nlq-ex.other_dataset.orders"
  const CUSTOMERS = "nlq-ex.third_dataset.customers"
  let server: Connected
  let directory: string
  let parts: ReadonlyArray<string>

  beforeAll(async () => {
    directory = await freshDirectory()
    const text = withRelationships(published, [ORDERS, CUSTOMERS], [{
      from: { table_id: ORDERS, columns: ["user_id"] },
      to: { table_id: CUSTOMERS, columns: ["user_pseudo_id"] },
      source: "curated",
      confidence: 1,
      evidence: "orders.user_id names customers",
      cardinality: "many-to-one"
    }])
    const document = Either.getOrThrow(parseCacheDocument(text))
    const manifest = await Effect.runPromise(storeSplit(document, { maxPartTables: 1 }).pipe(Effect.provide(LocalStorage.layer(directory))))
    parts = manifest.parts.map((p) => p.key)
    server = await connectStdio(["--source", directory])
  })
  afterAll(async () => {
    await server?.close()
    if (directory !== undefined) await fs.rm(directory, { recursive: true, force: true })
  })

  it("answers every tool from the manifest and the parts, fetching only the parts a tool needs", async () => {
    expect(parts).toEqual(["nlq-ex.test_dataset", "nlq-ex.other_dataset", "nlq-ex.third_dataset"])
    const cached = async () => structured(await call(server.client, "cache_status")).parts.cached
    const status = structured(await call(server.client, "cache_status"))
    expect(status).toMatchObject({ status: "ok", available: true, format_version: 3, layout: "split", tableCount: 3 })
    expect(status.parts).toMatchObject({ total: 3, cached: 0 })

    // Ranked on the manifest's catalog.
    const found = structured(await call(server.client, "search_tables", { question: "orders by event", limit: 5 }))
    expect(found.total_tables).toBe(3)
    expect(found.tables[0]).toMatchObject({ table_id: ORDERS, columns: 23, fields: 108, state: "fresh" })
    const path = structured(await call(server.client, "get_join_path", { from_table_id: ORDERS, to_table_id: CUSTOMERS }))
    expect(path).toMatchObject({ connected: true, joins: 1 })
    expect(await cached()).toBe(0)

    // One table: its part.
    const described = structured(await call(server.client, "describe_table", { table_id: CUSTOMERS, limit: 3 }))
    expect(described).toMatchObject({ table_id: CUSTOMERS, total_fields: 108, total_relationships: 1 })
    expect(described.fields).toHaveLength(3)
    expect(await cached()).toBe(1)
    const examples = structured(await call(server.client, "get_examples", { table_id: SAMPLE_TABLE_ID, limit: 2 }))
    expect(examples.examples).toHaveLength(2)
    expect(examples.examples[0].tables).toEqual([SAMPLE_TABLE_ID])
    expect(await cached()).toBe(2)

    // The tables are copies of one another: the question's "orders" names one of them.
    const context = structured(await call(server.client, "get_prompt_context", { question: "How many orders per country?", max_tokens: 800 }))
    expect(context.tables[0]).toBe(ORDERS)
    expect(context.tokens).toBeLessThanOrEqual(800)
    expect(context.text).toContain(`## Table \`${ORDERS}\``)

    const unknown = await call(server.client, "describe_table", { table_id: "nlq-ex.test_dataset.nope" })
    expect(unknown.isError).toBe(true)
    expect(textOf(unknown)).toMatch(/^ToolInputError: table nlq-ex\.test_dataset\.nope is not in the MetaSync cache/)
  })
})
