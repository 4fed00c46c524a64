import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { build } from "esbuild"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  CacheLocationConfig,
  cacheLoaderFromEnv,
  MaxDocumentBytesConfig,
  PartCacheBytesConfig,
  createCacheLoader,
  LocalStorage,
  makeCacheDocument,
  makeTableEntry,
  renderCacheDocument,
  TableId,
  type TableEntry
} from "../../src/loader/index.ts"
import { start as startFakeGcs } from "../support/FakeGcsServer.ts"
import { storeSplit } from "../support/SplitStore.ts"

const seedExample = fs.readFileSync(new URL("../fixtures/cache/seed-example.json", import.meta.url), "utf8")
const SEED_TABLE = "nlq-ex.test_dataset.events_20210131"
const ONE_DAY = 24 * 60 * 60 * 1000

const version2 = (generatedAt: Date) =>
  Either.getOrThrow(renderCacheDocument(makeCacheDocument({
    generated_at: DateTime.unsafeMake(generatedAt),
    generator: { name: "metasync", version: "2.0.0" },
    tables: [makeTableEntry({
      table_id: TableId.make("nlq-ex.test_dataset.events_20210201"),
      description: "events of 1 February",
      last_updated: DateTime.unsafeMake(generatedAt),
      row_count: 10,
      size_bytes: 2048,
      columns: [{ name: "event_name", type: "STRING", mode: "NULLABLE", description: null }]
    })],
    examples: []
  })))

const tempDirectory = () => fs.mkdtempSync(path.join(os.tmpdir(), "metasync-loader-"))

describe("createCacheLoader", () => {
  it("refuses a document over its maxDocumentBytes, saying why", async () => {
    const directory = tempDirectory()
    fs.writeFileSync(path.join(directory, "metadata_cache.json"), version2(new Date()))
    const loader = createCacheLoader({ directory }, { maxDocumentBytes: 100 })
    try {
      expect(await loader.isCacheAvailable()).toBe(false)
      expect((await loader.getCacheMetadata()).lastError).toMatchObject({
        tag: "DocumentTooLarge",
        message: expect.stringMatching(/over the loader's maxDocumentBytes \(100\); not loaded$/)
      })
    } finally {
      await loader.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it("flags a document generated in the future as expired", async () => {
    const directory = tempDirectory()
    fs.writeFileSync(path.join(directory, "metadata_cache.json"), version2(new Date("2099-01-01T00:00:00Z")))
    const loader = createCacheLoader({ directory })
    try {
      expect(await loader.getCacheMetadata()).toMatchObject({ available: true, expired: true, generated_at: "2099-01-01T00:00:00.000Z" })
    } finally {
      await loader.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it("serves the seed's document from a local directory as plain JSON", async () => {
    const directory = tempDirectory()
    const file = path.join(directory, "metadata_cache.json")
    fs.writeFileSync(file, seedExample)
    fs.utimesSync(file, new Date("2024-01-15T17:00:00Z"), new Date("2024-01-15T17:00:00Z"))
    const loader = createCacheLoader({ directory })
    try {
      expect(await loader.isCacheAvailable()).toBe(true)
      expect(await loader.getSchemaInfo()).toEqual({
        table_id: SEED_TABLE,
        last_updated: "2024-01-15T17:00:00.000Z",
        columns: [{ name: "event_timestamp", type: "TIMESTAMP", mode: "NULLABLE", description: "이벤트 발생 시간" }],
        description: null
      })
      expect(await loader.getFewShotExamples({ language: "ko" })).toEqual([{
        question: "총 이벤트 수는 얼마인가요?",
        sql: "SELECT COUNT(*) as total_events FROM `nlq-ex.test_dataset.events_20210131`",
        tables: [SEED_TABLE],
        source: "legacy",
        generator: "legacy",
        language: "ko"
      }])
      expect((await loader.getSchemaColumns()).map((c) => [c.path, c.type, c.repeated])).toEqual([
        ["event_timestamp", "TIMESTAMP", []]
      ])
      expect(await loader.getTable(SEED_TABLE)).toMatchObject({ table_id: SEED_TABLE, kind: "TABLE", row_count: null })
      expect(await loader.getTable("nlq-ex.test_dataset.other")).toBeUndefined()
      expect((await loader.listTables()).map((t) => t.table_id)).toEqual([SEED_TABLE])

      const metadata = await loader.getCacheMetadata()
      expect(metadata).toMatchObject({
        available: true,
        location: file,
        format_version: 1,
        generated_at: "2024-01-15T17:00:00.000Z",
        generator: { name: "metasync", version: "format-1" },
        expired: true, // written in 2024, read today
        lastError: null,
        tableCount: 1,
        exampleCount: 1
      })
      expect(typeof metadata.age).toBe("number")
      expect(metadata.age).toBeGreaterThan(ONE_DAY)
      // Plain data: survives JSON as is.
      expect(JSON.parse(JSON.stringify(metadata))).toEqual(metadata)

      // A newer document replaces it on refresh.
      fs.writeFileSync(file, version2(new Date()))
      fs.utimesSync(file, new Date("2024-02-01T00:00:00Z"), new Date("2024-02-01T00:00:00Z"))
      const refreshed = await loader.refresh()
      expect(refreshed).toMatchObject({ format_version: 2, expired: false, lastError: null })
      expect((await loader.getSchemaInfo()).description).toBe("events of 1 February")

      const unknown = await loader.getSchemaColumns("nlq-ex.test_dataset.other").then(
        () => undefined,
        (error: unknown) => error
      )
      expect(unknown).toBeInstanceOf(Error)
      expect(unknown).toMatchObject({ _tag: "TableNotCached", table_id: "nlq-ex.test_dataset.other" })
    } finally {
      await loader.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it("rejects with CacheUnavailable, a readable Error, while there is no document", async () => {
    const directory = tempDirectory()
    const loader = createCacheLoader({ directory, objectName: "cache/current.json" })
    const location = path.join(directory, "cache", "current.json")
    try {
      expect(await loader.isCacheAvailable()).toBe(false)
      const error = await loader.getSchemaInfo().then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(Error)
      expect(error).toMatchObject({ _tag: "CacheUnavailable", location })
      expect((error as Error).message).toBe(`the MetaSync cache at ${location} is unavailable: ${location} does not exist`)
      expect(await loader.getCacheMetadata()).toMatchObject({
        available: false,
        lastError: { tag: "ResourceNotFound", message: `${location} does not exist` }
      })

      fs.mkdirSync(path.dirname(location), { recursive: true })
      fs.writeFileSync(location, "{ not json")
      const corrupt = await loader.getFewShotExamples().then(() => undefined, (e: unknown) => e)
      expect((corrupt as Error).message).toContain(`${location} is not a valid MetaSync cache document:`)

      fs.writeFileSync(location, seedExample)
      fs.utimesSync(location, new Date("2024-01-16T00:00:00Z"), new Date("2024-01-16T00:00:00Z"))
      expect((await loader.getSchemaInfo()).table_id).toBe(SEED_TABLE)
    } finally {
      await loader.close()
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it("reads the document from Cloud Storage", async () => {
    const fake = await startFakeGcs()
    fake.objects.put("nlq-metadata-cache", "metadata_cache.json", seedExample, "application/json")
    const loader = createCacheLoader({ bucket: "nlq-metadata-cache", apiEndpoint: fake.url, timeout: "20 seconds" })
    try {
      expect((await loader.getSchemaInfo()).table_id).toBe(SEED_TABLE)
      expect(await loader.getCacheMetadata()).toMatchObject({
        available: true,
        location: "gs://nlq-metadata-cache/metadata_cache.json",
        format_version: 1
      })
      // One download served both calls.
      expect(fake.requestsOf("download")).toHaveLength(1)

      // An unchanged object costs a metadata request, no download.
      await loader.refresh()
      expect(fake.requestsOf("download")).toHaveLength(1)
    } finally {
      await loader.close()
      await fake.close()
    }
  })
})

describe("cacheLoaderFromEnv", () => {
  const withConfig = (env: Record<string, string>) =>
    Effect.withConfigProvider(CacheLocationConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("names a bucket from GCS_BUCKET, or a directory from LOCAL_BUCKET_DIR", () =>
    Effect.gen(function*() {
      expect(yield* withConfig({ GCS_BUCKET: "nlq-metadata-cache" })).toEqual({
        bucket: "nlq-metadata-cache",
        objectName: "metadata_cache.json"
      })
      expect(yield* withConfig({ GCS_BUCKET: "nlq-metadata-cache", LOCAL_BUCKET_DIR: "/tmp/b", CACHE_OBJECT: "c.json" }))
        .toEqual({ directory: "/tmp/b", objectName: "c.json" })
      const missing = yield* Effect.flip(withConfig({}))
      expect(String(missing)).toContain("GCS_BUCKET")
    }))

  it("builds a loader from the process environment, and refuses to guess without one", async () => {
    const directory = tempDirectory()
    fs.writeFileSync(path.join(directory, "seed.json"), seedExample)
    const saved = { ...process.env }
    try {
      delete process.env.GCS_BUCKET
      delete process.env.LOCAL_BUCKET_DIR
      expect(() => cacheLoaderFromEnv()).toThrow(/set GCS_BUCKET \(or LOCAL_BUCKET_DIR\)/)

      process.env.LOCAL_BUCKET_DIR = directory
      process.env.CACHE_OBJECT = "seed.json"
      const loader = cacheLoaderFromEnv()
      try {
        expect((await loader.getSchemaInfo()).table_id).toBe(SEED_TABLE)
      } finally {
        await loader.close()
      }
    } finally {
      process.env = saved
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })
})

describe("cacheLoaderFromEnv's size cap", () => {
  const withConfig = (env: Record<string, string>) =>
    Effect.withConfigProvider(MaxDocumentBytesConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))

  it.effect("is read from MAX_DOCUMENT_BYTES, as the sync's is, and checked", () =>
    Effect.gen(function*() {
      expect(yield* withConfig({})).toBeUndefined()
      expect(yield* withConfig({ MAX_DOCUMENT_BYTES: "1048576" })).toBe(1048576)
      for (const value of ["64MiB", "0", "-1", "1.5"]) {
        const invalid = yield* Effect.flip(withConfig({ MAX_DOCUMENT_BYTES: value }))
        expect(String(invalid)).toContain("MAX_DOCUMENT_BYTES")
      }
    }))

  it("refuses a document over the cap it names, and throws on an invalid one", async () => {
    const directory = tempDirectory()
    fs.writeFileSync(path.join(directory, "seed.json"), seedExample)
    const saved = { ...process.env }
    try {
      delete process.env.GCS_BUCKET
      process.env.LOCAL_BUCKET_DIR = directory
      process.env.CACHE_OBJECT = "seed.json"
      process.env.MAX_DOCUMENT_BYTES = "100"
      const capped = cacheLoaderFromEnv()
      try {
        expect(await capped.isCacheAvailable()).toBe(false)
        const metadata = await capped.getCacheMetadata()
        expect(metadata.lastError).toMatchObject({ tag: "DocumentTooLarge" })
        expect(metadata.lastError?.message).toContain("over the loader's maxDocumentBytes (100)")
      } finally {
        await capped.close()
      }

      // An explicit cap wins over the environment's.
      const explicit = cacheLoaderFromEnv({ maxDocumentBytes: 1024 ** 2 })
      try {
        expect((await explicit.getSchemaInfo()).table_id).toBe(SEED_TABLE)
      } finally {
        await explicit.close()
      }

      process.env.MAX_DOCUMENT_BYTES = "64MiB"
      expect(() => cacheLoaderFromEnv()).toThrow(/MAX_DOCUMENT_BYTES is invalid/)
    } finally {
      process.env = saved
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })
})

describe("the loader's import graph", () => {
  it("leaves out the function framework, the sync, the platform barrels and the Storage client", async () => {
    const entry = fileURLToPath(new URL("../../src/loader/index.ts", import.meta.url))
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      platform: "node",
      format: "esm",
      external: ["@google-cloud/storage"],
      logLevel: "silent"
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.some((input) => input.includes("src/loader/CacheLoader.ts"))).toBe(true)
    for (const heavy of ["functions-framework", "src/entry/", "src/sync/", "@effect/platform", "@google-cloud/bigquery"]) {
      expect(inputs.filter((input) => input.includes(heavy))).toEqual([])
    }
    // Deep effect imports only: the `effect` barrel is never loaded.
    expect(inputs.filter((input) => /node_modules\/effect\/dist\/esm\/index\.js$/.test(input))).toEqual([])
    // The Cloud Storage client is imported only when a GCS loader is built.
    const storageImports = Object.values(result.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((i) => i.path === "@google-cloud/storage")
    expect(storageImports.map((i) => i.kind)).toEqual(["dynamic-import"])
  })
})

describe("the facade over a split cache", () => {
  const splitDocument = () =>
    makeCacheDocument({
      generated_at: DateTime.unsafeMake(new Date()),
      generator: { name: "metasync", version: "3.0.0" },
      tables: (["shop.orders", "hr.employees"] as const).map((name) =>
        makeTableEntry({
          table_id: TableId.make(`acme-prod.${name}`),
          description: `the ${name.split(".")[1]} table`,
          last_updated: DateTime.unsafeMake(new Date()),
          columns: [{ name: "id", type: "INT64", mode: "REQUIRED", description: null }, {
            name: "detail",
            type: "RECORD",
            mode: "NULLABLE",
            description: null,
            fields: [{ name: "note", type: "STRING", mode: "NULLABLE", description: "a note" }]
          }]
        })
      ) as unknown as readonly [TableEntry, ...Array<TableEntry>],
      examples: [],
      aliases: [{ table_id: TableId.make("acme-prod.hr.employees"), column: null, names: ["staff"], source: "label" }]
    })

  const withSplitDirectory = async (body: (directory: string) => Promise<void>) => {
    const directory = tempDirectory()
    try {
      await Effect.runPromise(storeSplit(splitDocument(), { maxPartTables: 1 }).pipe(Effect.provide(LocalStorage.layer(directory))))
      await body(directory)
    } finally {
      fs.rmSync(directory, { recursive: true, force: true })
    }
  }

  it("gives the catalog document as plain JSON, without fetching a part", () =>
    withSplitDirectory(async (directory) => {
      const loader = createCacheLoader({ directory })
      try {
        const catalog = await loader.getCatalogDocument()
        expect(catalog.tables.map((t) => t.table_id)).toEqual(["acme-prod.shop.orders", "acme-prod.hr.employees"])
        // Slim entries: the fields by name (nested as the paths say, untyped) and the manifest's aliases; no examples.
        expect(catalog.tables[0]!.columns.map((c) => c.name)).toEqual(["id", "detail"])
        expect(catalog.tables[0]!.columns[1]!.fields?.map((c) => c.name)).toEqual(["note"])
        expect(catalog.aliases).toEqual([{ table_id: "acme-prod.hr.employees", column: null, names: ["staff"], source: "label" }])
        expect(catalog.examples).toEqual([])
        expect(typeof catalog.generated_at).toBe("string")
        expect(JSON.parse(JSON.stringify(catalog))).toEqual(catalog)
        expect((await loader.getCacheMetadata()).parts).toMatchObject({ total: 2, cached: 0 })
      } finally {
        await loader.close()
      }
    }))

  it("takes the part cache's budget from PART_CACHE_BYTES, and throws naming it when invalid", () =>
    withSplitDirectory(async (directory) => {
      const saved = { ...process.env }
      try {
        delete process.env.GCS_BUCKET
        delete process.env.MAX_DOCUMENT_BYTES
        delete process.env.CACHE_OBJECT
        process.env.LOCAL_BUCKET_DIR = directory
        process.env.PART_CACHE_BYTES = "0"
        const none = cacheLoaderFromEnv()
        try {
          expect((await none.getTable("acme-prod.hr.employees"))?.table_id).toBe("acme-prod.hr.employees")
          // A budget of 0 keeps no part.
          expect((await none.getCacheMetadata()).parts).toEqual({ total: 2, cached: 0, cachedBytes: 0, budgetBytes: 0 })
        } finally {
          await none.close()
        }
        // An explicit budget wins over the environment's.
        const explicit = cacheLoaderFromEnv({ partCacheBytes: 1024 ** 2 })
        try {
          await explicit.getTable("acme-prod.hr.employees")
          expect((await explicit.getCacheMetadata()).parts).toMatchObject({ cached: 1, budgetBytes: 1024 ** 2 })
        } finally {
          await explicit.close()
        }
        for (const value of ["64MiB", "-1", "1.5", "1e9"]) {
          process.env.PART_CACHE_BYTES = value
          expect(() => cacheLoaderFromEnv()).toThrow(/^MetaSync cache loader: PART_CACHE_BYTES is invalid: .*expected a whole number of bytes, 0 or more/)
        }
      } finally {
        process.env = saved
      }
    }))

  it.effect("PartCacheBytesConfig: absent is the default, a whole number of bytes is taken", () =>
    Effect.gen(function*() {
      const withConfig = (env: Record<string, string>) =>
        Effect.withConfigProvider(PartCacheBytesConfig, ConfigProvider.fromMap(new Map(Object.entries(env))))
      expect(yield* withConfig({})).toBeUndefined()
      expect(yield* withConfig({ PART_CACHE_BYTES: "0" })).toBe(0)
      expect(yield* withConfig({ PART_CACHE_BYTES: "268435456" })).toBe(268435456)
      expect(String(yield* Effect.flip(withConfig({ PART_CACHE_BYTES: "big" })))).toContain("PART_CACHE_BYTES")
    }))
})
