/**
 * The operator CLI as a user runs it: `node src/entry/cli.ts <command>` in a child process, in local
 * mode over a temporary bucket directory, checked by its output and exit code.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import type { SyncSummary } from "../../src/sync/SyncProgram.ts"
import {
  ageLatestDocument,
  type CliResult,
  type CliWorkspace,
  filesUnder,
  makeCliWorkspace,
  PROJECT_ROOT,
  SAMPLE_TABLE_FILE,
  SAMPLE_TABLE_ID,
  stripAnsi
} from "../support/CliRunner.ts"
import * as FakeWebhookReceiver from "../support/FakeWebhookReceiver.ts"

/** Tests that run the CLI several times get more than the default minute on a busy machine. */
const SLOW = 180_000

const workspaces: Array<CliWorkspace> = []
const workspace = async (options: Parameters<typeof makeCliWorkspace>[0] = {}) => {
  const created = await makeCliWorkspace(options)
  workspaces.push(created)
  return created
}
afterEach(async () => {
  await Promise.all(workspaces.splice(0).map((w) => w.remove()))
})

/** Fails with the command's output when it did not exit with `code`, so a failure says why. */
const expectExit = (result: CliResult, code: number) => {
  if (result.code !== code) {
    throw new Error(`expected exit ${code}, got ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`)
  }
}

const lines = (text: string) => text.split("\n").filter((line) => line.length > 0)

const syncJson = async (ws: CliWorkspace, env: Record<string, string> = {}): Promise<SyncSummary> => {
  const result = await ws.run(["sync", "--json"], env)
  expectExit(result, 0)
  return JSON.parse(result.stdout) as SyncSummary
}

interface HistoryEntry {
  readonly name: string
  readonly generated_at: string
  readonly size: number
}

const historyJson = async (ws: CliWorkspace): Promise<ReadonlyArray<HistoryEntry>> => {
  const result = await ws.run(["history", "--json"])
  expectExit(result, 0)
  return JSON.parse(result.stdout) as ReadonlyArray<HistoryEntry>
}

const baseName = (snapshot: string) => snapshot.split("/").pop() ?? snapshot

interface RestField {
  name: string
  type: string
  mode?: string
  fields?: Array<RestField>
}

/** Edits the sample table's definition file as a schema change in the warehouse would. */
const editSampleTable = async (ws: CliWorkspace, edit: (fields: Array<RestField>) => Array<RestField>) => {
  const file = path.join(ws.tablesDir, SAMPLE_TABLE_FILE)
  const definition = JSON.parse(await fs.readFile(file, "utf8")) as { schema: { fields: Array<RestField> } }
  definition.schema.fields = edit(definition.schema.fields)
  await fs.writeFile(file, JSON.stringify(definition, null, 2))
}

/** Drops `event_value_in_usd` and turns `stream_id` from INTEGER into STRING: two breaking changes. */
const breakSampleTable = (ws: CliWorkspace) =>
  editSampleTable(ws, (fields) =>
    fields
      .filter((f) => f.name !== "event_value_in_usd")
      .map((f) => (f.name === "stream_id" ? { ...f, type: "STRING" } : f)))

const REMOVED = `BREAKING ${SAMPLE_TABLE_ID}: column event_value_in_usd removed (was FLOAT NULLABLE)`
const RETYPED = `BREAKING ${SAMPLE_TABLE_ID}: column stream_id type INTEGER → STRING`

const USERS_TABLE_ID = "nlq-ex.test_dataset.users"

/** A curated relationships file beside the workspace's curated examples: the sample's events → a users table. */
const writeCuratedRelationship = (ws: CliWorkspace) =>
  fs.writeFile(
    path.join(ws.curatedDir, "events.relationships.yaml"),
    [
      "relationships:",
      `  - from: ${SAMPLE_TABLE_ID}.user_pseudo_id`,
      `    to: ${USERS_TABLE_ID}.user_pseudo_id`,
      "    cardinality: many-to-one",
      "    note: every event has its user"
    ].join("\n")
  )

describe("metasync sync", () => {
  it("publishes the shipped sample and says what it wrote", async () => {
    const ws = await workspace({ curated: "sample" })
    const result = await ws.run(["sync"])
    expectExit(result, 0)
    const out = lines(result.stdout)
    expect(out[0]).toMatch(/^Published 1 table in \d+\.\d\d s \(local mode\)$/)
    expect(out[1]).toMatch(new RegExp(`^  ${SAMPLE_TABLE_ID.replaceAll(".", "\\.")}  23 columns, \\d+ fields$`))
    const examples = /^Examples: (\d+)$/.exec(out[2])
    expect(Number(examples?.[1])).toBeGreaterThanOrEqual(4)
    // One table alone joins nothing.
    expect(out[3]).toBe("Relationships: 0")
    expect(out[4]).toMatch(
      new RegExp(`^Document: ${ws.documentFile.replaceAll(/[.\\]/g, "\\$&")} \\(generation \\d+, \\d+\\.\\d KiB\\)$`)
    )
    expect(out[5]).toMatch(/^Generated at: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

    // What it says it wrote is on disk: the document, and its one snapshot.
    const written = Either.getOrThrow(parseCacheDocument(await fs.readFile(ws.documentFile, "utf8")))
    expect(written.examples).toHaveLength(Number(examples?.[1]))
    expect(`Generated at: ${DateTime.formatIso(written.generated_at)}`).toBe(out[5])
    expect(await filesUnder(ws.historyDir)).toHaveLength(1)
    // Logs go to stderr, so stdout is the summary alone.
    expect(result.stderr).toMatch(/INFO +sync metrics/)
  })

  it("prints a parseable summary with --json", async () => {
    const ws = await workspace({ curated: "sample" })
    const summary = await syncJson(ws)
    expect(summary).toMatchObject({
      status: "ok",
      table_count: 1,
      column_count: 23,
      tables: [{ table_id: SAMPLE_TABLE_ID, columns: 23, state: "fresh" }],
      failed_tables: [],
      drift: { total: 0, breaking: 0, breaking_changes: [] },
      object: ws.documentFile
    })
    expect(summary.example_count).toBeGreaterThanOrEqual(4)
    expect(summary.generation).toMatch(/^\d+$/)
    const written = Either.getOrThrow(parseCacheDocument(await fs.readFile(ws.documentFile, "utf8")))
    expect(DateTime.formatIso(written.generated_at)).toBe(summary.generated_at)
    expect(summary.bytes).toBe((await fs.stat(ws.documentFile)).size)
  })

  it("counts the relationships it published, by source", async () => {
    const ws = await workspace()
    await writeCuratedRelationship(ws)
    const result = await ws.run(["sync"])
    expectExit(result, 0)
    expect(lines(result.stdout)).toContain("Relationships: 1 (curated 1)")

    const summary = await syncJson(ws)
    expect(summary).toMatchObject({ relationship_count: 1, relationships_by_source: { curated: 1 } })
  })

  it("writes nothing with --dry-run", async () => {
    const ws = await workspace({ curated: "sample" })
    const result = await ws.run(["sync", "--dry-run"])
    expectExit(result, 0)
    expect(result.stdout).toMatch(/^Dry run: would publish 1 table in .* \(local mode\)$/m)
    expect(result.stdout).toContain(`Document: ${ws.documentFile} (`)
    expect(result.stdout).not.toContain("generation")
    expect(await filesUnder(ws.bucketDir)).toEqual([])

    const json = await ws.run(["sync", "--dry-run", "--json"])
    expectExit(json, 0)
    expect(JSON.parse(json.stdout)).toMatchObject({ status: "dry_run", generation: null, object: ws.documentFile })
    expect(await filesUnder(ws.bucketDir)).toEqual([])
  })
})

describe("metasync show", () => {
  it("summarises the published document: tables, freshness, health", async () => {
    const ws = await workspace({ curated: "sample" })
    const summary = await syncJson(ws)
    const result = await ws.run(["show"])
    expectExit(result, 0)
    const out = lines(result.stdout)
    expect(out[0]).toMatch(new RegExp(`^Document: .*metadata_cache\\.json \\(generation ${summary.generation}, \\d+\\.\\d KiB\\)$`))
    expect(out[1]).toMatch(/^Format 2, written by metasync \S+$/)
    expect(out).toContain(`Generated at: ${summary.generated_at} (0 min ago)`)
    expect(out).toContain("Tables: 1")
    expect(out).toContain(`  ${SAMPLE_TABLE_ID}  23 columns, ${summary.field_count} fields`)
    expect(out).toContain(`Examples: ${summary.example_count}`)
    expect(result.stdout).toMatch(/^Health: (pass|fail) \(tables described (pass|fail); \d of 1 tables meet/m)
    expect(result.stdout).not.toContain("STALE")
  })

  it("prints the same as JSON with --json", async () => {
    const ws = await workspace({ curated: "sample" })
    const summary = await syncJson(ws)
    const result = await ws.run(["show", "--json"])
    expectExit(result, 0)
    const shown = JSON.parse(result.stdout)
    expect(shown).toMatchObject({
      location: ws.documentFile,
      generation: summary.generation,
      generated_at: summary.generated_at,
      tables: [{ table_id: SAMPLE_TABLE_ID, state: "fresh" }],
      relationships: []
    })
    expect(shown.metrics.health).toHaveProperty("pass")
  })

  it("lists the relationships with --json", async () => {
    const ws = await workspace()
    await writeCuratedRelationship(ws)
    await syncJson(ws)
    const result = await ws.run(["show", "--json"])
    expectExit(result, 0)
    expect(JSON.parse(result.stdout).relationships).toEqual([{
      from: { table_id: SAMPLE_TABLE_ID, columns: ["user_pseudo_id"] },
      to: { table_id: USERS_TABLE_ID, columns: ["user_pseudo_id"] },
      source: "curated",
      confidence: 1,
      evidence: "every event has its user",
      cardinality: "many-to-one"
    }])

    const text = await ws.run(["show"])
    expectExit(text, 0)
    expect(text.stdout).toContain("Relationships: 1 (curated 1)")
  })

  // A document without metrics (the seed's format 1, or an older MetaSync's) still gets a full summary.
  it("prints location, generation and tables with --json for a document without metrics", async () => {
    const ws = await workspace()
    await fs.mkdir(ws.bucketDir, { recursive: true })
    await fs.copyFile(path.join(PROJECT_ROOT, "test/fixtures/cache/seed-example.json"), ws.documentFile)
    const text = await ws.run(["show"])
    expectExit(text, 0)
    expect(text.stdout).toContain(`Tables: 1\n  ${SAMPLE_TABLE_ID}`)

    const result = await ws.run(["show", "--json"])
    expectExit(result, 0)
    expect(JSON.parse(result.stdout)).toMatchObject({
      location: ws.documentFile,
      tables: [{ table_id: SAMPLE_TABLE_ID, state: "fresh" }],
      metrics: null
    })
  })

  it("fails with exit 1 when nothing is published yet", async () => {
    const ws = await workspace()
    const result = await ws.run(["show"])
    expectExit(result, 1)
    expect(result.stderr).toContain(`metasync: ResourceNotFound: ${ws.documentFile} does not exist`)
    expect(result.stdout).toBe("")
  })
})

describe("metasync history", () => {
  it("lists three snapshots after three syncs, newest first, the current one marked", async () => {
    const ws = await workspace()
    const summaries = [await syncJson(ws), await syncJson(ws), await syncJson(ws)]
    const result = await ws.run(["history"])
    expectExit(result, 0)
    const out = lines(result.stdout)
    expect(out).toHaveLength(3)
    const newestFirst = [...summaries].reverse()
    out.forEach((line, index) => {
      const match = /^([* ]) (\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{12}\.json)  generated (\S+)  \d+\.\d KiB$/.exec(line)
      expect(match, line).not.toBeNull()
      expect(match?.[1]).toBe(index === 0 ? "*" : " ")
      expect(match?.[3]).toBe(newestFirst[index].generated_at)
    })

    const json = await historyJson(ws)
    expect(json.map((s) => s.generated_at)).toEqual(summaries.map((s) => s.generated_at))
    expect(json.map((s) => baseName(s.name)).reverse()).toEqual(out.map((line) => line.slice(2).split("  ")[0]))
    expect(await filesUnder(ws.historyDir)).toEqual(json.map((s) => baseName(s.name)))
  }, SLOW)

  it("says so when there are no snapshots", async () => {
    const ws = await workspace()
    const result = await ws.run(["history"])
    expectExit(result, 0)
    expect(result.stdout.trim()).toBe("No snapshots yet.")
  })
})

describe("metasync diff", () => {
  it("lists the changes between a snapshot and the latest document, breaking ones marked", async () => {
    const ws = await workspace()
    await syncJson(ws)
    await breakSampleTable(ws)
    const second = await syncJson(ws)
    // The sync itself reports the drift it published.
    expect(second.drift).toEqual({ total: 2, breaking: 2, breaking_changes: expect.arrayContaining([REMOVED, RETYPED]) })

    const [older, newer] = await historyJson(ws)
    const result = await ws.run(["diff", baseName(older.name)])
    expectExit(result, 0)
    const out = lines(result.stdout)
    expect(out[0]).toBe(`From ${older.name} (generated ${older.generated_at})`)
    expect(out[1]).toBe(`  to metadata_cache.json (generated ${newer.generated_at})`)
    expect(out[2]).toBe("2 changes, 2 breaking:")
    expect(out.slice(3).sort()).toEqual([`  ${REMOVED}`, `  ${RETYPED}`].sort())

    // Between two snapshots, by full name and by bare name.
    const between = await ws.run(["diff", older.name, baseName(newer.name)])
    expectExit(between, 0)
    expect(lines(between.stdout).slice(2)).toEqual(out.slice(2))
    // And backwards: the column comes back (not breaking), the type changes back (breaking).
    const backwards = await ws.run(["diff", baseName(newer.name), baseName(older.name)])
    expectExit(backwards, 0)
    expect(backwards.stdout).toContain("2 changes, 1 breaking:")
    expect(backwards.stdout).toContain(`  ${SAMPLE_TABLE_ID}: column event_value_in_usd added (FLOAT NULLABLE)`)
    expect(backwards.stdout).toContain(`  BREAKING ${SAMPLE_TABLE_ID}: column stream_id type STRING → INTEGER`)

    const same = await ws.run(["diff", baseName(newer.name), "latest"])
    expectExit(same, 0)
    expect(same.stdout).toContain("No changes.")
  }, SLOW)

  it("fails with exit 1 for a snapshot that does not exist", async () => {
    const ws = await workspace()
    await syncJson(ws)
    const result = await ws.run(["diff", "20200101T000000.000Z-000000000000.json"])
    expectExit(result, 1)
    expect(result.stderr).toContain(
      `metasync: ResourceNotFound: ${path.join(ws.historyDir, "20200101T000000.000Z-000000000000.json")} does not exist`
    )
  })
})

describe("metasync rollback", () => {
  it("makes a snapshot the latest document again, as a new generation", async () => {
    const ws = await workspace()
    const first = await syncJson(ws)
    await breakSampleTable(ws)
    const second = await syncJson(ws)
    const [older] = await historyJson(ws)
    expect(older.generated_at).toBe(first.generated_at)

    const result = await ws.run(["rollback", baseName(older.name)])
    expectExit(result, 0)
    const said = /^Rolled back (.+) to (\S+) \(generated (\S+)\); new generation (\d+)$/.exec(result.stdout.trim())
    expect(said?.slice(1, 4)).toEqual([ws.documentFile, older.name, first.generated_at])
    const generation = said?.[4] ?? ""
    expect(BigInt(generation)).toBeGreaterThan(BigInt(second.generation ?? "0"))

    // The latest object holds exactly the snapshot's bytes.
    const latest = await fs.readFile(ws.documentFile)
    const snapshot = await fs.readFile(path.join(ws.historyDir, baseName(older.name)))
    expect(latest.equals(snapshot)).toBe(true)

    const show = await ws.run(["show"])
    expectExit(show, 0)
    expect(show.stdout).toContain(`(generation ${generation}, `)
    expect(show.stdout).toContain(`Generated at: ${first.generated_at} (`)
    expect(show.stdout).toContain(`  ${SAMPLE_TABLE_ID}  23 columns, `)

    const history = await ws.run(["history"])
    expectExit(history, 0)
    expect(lines(history.stdout).filter((line) => line.startsWith("* "))).toEqual([
      expect.stringContaining(baseName(older.name))
    ])
    // A rollback records no snapshot of its own: the history is unchanged.
    expect(await filesUnder(ws.historyDir)).toHaveLength(2)
  }, SLOW)

  it("fails with exit 1 and a clear message for a missing snapshot, leaving the latest alone", async () => {
    const ws = await workspace()
    await syncJson(ws)
    const before = await fs.readFile(ws.documentFile)
    const result = await ws.run(["rollback", "20200101T000000.000Z-000000000000.json"])
    expectExit(result, 1)
    expect(result.stderr).toContain(
      `metasync: ResourceNotFound: ${path.join(ws.historyDir, "20200101T000000.000Z-000000000000.json")} does not exist`
    )
    expect(result.stdout).toBe("")
    expect((await fs.readFile(ws.documentFile)).equals(before)).toBe(true)
  })
})

describe("metasync check", () => {
  it("exits 0 for a fresh document and 4 for a stale one", async () => {
    const ws = await workspace()
    const summary = await syncJson(ws)
    const fresh = await ws.run(["check", "--max-age-hours", "1"])
    expectExit(fresh, 0)
    expect(fresh.stdout.trim()).toBe(`${ws.documentFile}: generated ${summary.generated_at}, 0 min ago: fresh`)

    const generatedAt = await ageLatestDocument(ws, 72)
    const stale = await ws.run(["check", "--max-age-hours", "1"])
    expectExit(stale, 4)
    expect(stale.stdout.trim()).toBe(`${ws.documentFile}: generated ${generatedAt}, 3 d 0 h ago: STALE (alert disabled)`)

    // The default threshold is 26 hours.
    expectExit(await ws.run(["check"]), 4)
  }, SLOW)

  it("sends the stale_cache alert to the webhook", async () => {
    const ws = await workspace()
    const receiver = await FakeWebhookReceiver.start()
    try {
      await syncJson(ws)
      const generatedAt = await ageLatestDocument(ws, 72)
      const result = await ws.run(["check", "--max-age-hours", "1"], { ...FakeWebhookReceiver.LOCAL_RECEIVER_CHILD_ENV, ALERT_WEBHOOK_URL: receiver.url })
      expectExit(result, 4)
      expect(result.stdout).toContain("STALE (alert sent)")
      const messages = receiver.messages()
      expect(messages).toHaveLength(1)
      expect(messages[0].text).toContain(`stale_cache on ${ws.documentFile}`)
      expect(messages[0].text).toContain(`generated at ${generatedAt}, 72.0 hours old (threshold 1 hours)`)
      expect(JSON.stringify(messages[0].blocks)).toContain("The published cache is stale")
      expect(result.stderr).toContain(`alert sent to the webhook at ${receiver.host}`)
    } finally {
      await receiver.close()
    }
  }, SLOW)

  it("sends no alert for a fresh document", async () => {
    const ws = await workspace()
    const receiver = await FakeWebhookReceiver.start()
    try {
      await syncJson(ws)
      const result = await ws.run(["check", "--max-age-hours", "1"], { ...FakeWebhookReceiver.LOCAL_RECEIVER_CHILD_ENV, ALERT_WEBHOOK_URL: receiver.url })
      expectExit(result, 0)
      expect(result.stdout).toMatch(/: fresh$/m)
      expect(receiver.requests).toEqual([])
    } finally {
      await receiver.close()
    }
  }, SLOW)
})

describe("metasync validate", () => {
  it("accepts a good document and lists every problem of a corrupt one, with its path", async () => {
    const ws = await workspace()
    await syncJson(ws)
    const good = await ws.run(["validate", ws.documentFile])
    expectExit(good, 0)
    const written = JSON.parse(await fs.readFile(ws.documentFile, "utf8"))
    expect(good.stdout.trim()).toBe(
      `${ws.documentFile}: a valid cache document (format 2, 1 tables, ${written.examples.length} examples)`
    )

    delete written.generator
    written.tables[0].columns[0].type = 42
    written.examples[0].sql = ""
    const corruptFile = path.join(ws.root, "corrupt.json")
    await fs.writeFile(corruptFile, JSON.stringify(written))
    const corrupt = await ws.run(["validate", corruptFile])
    expectExit(corrupt, 1)
    expect(corrupt.stdout).toBe("")
    const problems = lines(corrupt.stderr)
    expect(problems[0]).toBe(`${corruptFile} is not a valid MetaSync cache document:`)
    expect(problems).toContainEqual(expect.stringMatching(/^- generator: is missing$/))
    expect(problems).toContainEqual(expect.stringMatching(/^- tables\.0\.columns\.0\.type: /))
    expect(problems).toContainEqual(expect.stringMatching(/^- examples\.0\.sql: /))

    const notJson = path.join(ws.root, "truncated.json")
    await fs.writeFile(notJson, (await fs.readFile(ws.documentFile, "utf8")).slice(0, 100))
    const truncated = await ws.run(["validate", notJson])
    expectExit(truncated, 1)
    expect(truncated.stderr).toContain(`${notJson} is not a valid MetaSync cache document:\n- (document): not JSON:`)
  }, SLOW)

  it("refuses a file that does not exist as a usage error", async () => {
    const ws = await workspace()
    const missing = path.join(ws.root, "nothing.json")
    const result = await ws.run(["validate", missing])
    expectExit(result, 2)
    expect(stripAnsi(result.stderr)).toContain(`Path '${missing}' must exist`)
  })
})

describe("a partial run", () => {
  it("exits 3, says which table failed and that it was kept stale", async () => {
    const ws = await workspace()
    await fs.copyFile(
      path.join(PROJECT_ROOT, "test/fixtures/bigquery/samples.shakespeare.schema.json"),
      path.join(ws.tablesDir, "my-proj.samples.shakespeare.json")
    )
    const env = { TARGET_TABLES: `${SAMPLE_TABLE_ID}, my-proj.samples.shakespeare` }
    const first = await ws.run(["sync"], env)
    expectExit(first, 0)
    expect(first.stdout).toContain("Published 2 tables")

    await fs.rm(path.join(ws.tablesDir, "my-proj.samples.shakespeare.json"))
    const second = await ws.run(["sync"], env)
    expectExit(second, 3)
    const out = lines(second.stdout)
    expect(out[0]).toMatch(/^Published \(partial\) 2 tables in /)
    expect(out).toContain(`  my-proj.samples.shakespeare          4 columns, 4 fields  (stale: kept from the previous document)`)
    expect(out).toContainEqual(expect.stringMatching(/^  failed: my-proj\.samples\.shakespeare: ResourceNotFound: .*shakespeare/))

    const show = await ws.run(["show"], env)
    expectExit(show, 0)
    expect(show.stdout).toMatch(/^  my-proj\.samples\.shakespeare +4 columns, 4 fields  STALE since \S+: ResourceNotFound$/m)
  }, SLOW)
})

describe("configuration and usage errors", () => {
  it("exits 2 and names the variable for a bad setting, writing nothing", async () => {
    const ws = await workspace()
    const result = await ws.run(["sync"], { TARGET_TABLE_ID: "bad" })
    expectExit(result, 2)
    expect(result.stderr.trim()).toMatch(/^metasync: InvalidConfig: TARGET_TABLE_ID is "bad": .+/)
    expect(result.stdout).toBe("")
    expect(await filesUnder(ws.bucketDir)).toEqual([])
  })

  it("exits 2 for an unknown command, saying so once", async () => {
    const ws = await workspace()
    const result = await ws.run(["frobnicate"])
    expectExit(result, 2)
    const said = stripAnsi(result.stdout + result.stderr)
    expect(said.match(/Invalid subcommand/g)).toHaveLength(1)
    expect(said).toContain("'sync', 'show', 'history', 'diff', 'rollback', 'check', 'validate'")
  })

  it("lists every command with --help", async () => {
    const ws = await workspace()
    const result = await ws.run(["--help"])
    expectExit(result, 0)
    const help = stripAnsi(result.stdout)
    for (const command of ["sync", "show", "history", "diff", "rollback", "check", "validate"]) {
      expect(help).toMatch(new RegExp(`^  - ${command}\\b.*  \\S`, "m"))
    }
    expect(help).toContain("Check the document's age; alert and exit 4 when it is stale")
  })
})

describe("metasync examples", () => {
  it("lists a table's examples with source and why kept, and exports the generated ones as curated files", async () => {
    const ws = await workspace({ curated: "sample" })
    expectExit(await ws.run(["sync"]), 0)
    const listed = await ws.run(["examples", "events_20210131"])
    expectExit(listed, 0)
    expect(lines(listed.stdout)[0]).toMatch(new RegExp(`^${SAMPLE_TABLE_ID.replaceAll(".", "\\.")}: \\d+ examples \\(curated 6, template \\d+\\)$`))
    expect(listed.stdout).toContain("kept because: curated (always kept)")
    expect(listed.stdout).toMatch(/\[template · template:count_total\] [^\n]+\n[^\n]+\n   kept because: shape count_total/)

    const out = path.join(ws.root, "candidates")
    const exported = await ws.run(["examples", "export", "--out", out])
    expectExit(exported, 0)
    const [file] = await fs.readdir(out)
    expect(file).toBe(`${SAMPLE_TABLE_ID}.candidates.yaml`)
    // Approved as it is: moved into the curated directory, the next sync reads every one as curated.
    const curated = path.join(ws.root, "approved")
    await fs.mkdir(curated)
    await fs.copyFile(path.join(out, file!), path.join(curated, `${SAMPLE_TABLE_ID}.yaml`))
    expectExit(await ws.run(["sync"], { CURATED_EXAMPLES_DIR: curated }), 0)
    const after = Either.getOrThrow(parseCacheDocument(await fs.readFile(ws.documentFile, "utf8")))
    const approved = (await fs.readFile(path.join(out, file!), "utf8")).match(/^  - question:/gm)?.length ?? 0
    expect(approved).toBeGreaterThan(0)
    expect(after.examples.filter((e) => e.source === "curated")).toHaveLength(approved)

    expectExit(await ws.run(["examples", "no_such_table"]), 2)
  })
})
