/**
 * The operator CLI on a split cache (format 3) in local mode, run as a user runs it: the sample is
 * synced, then stored split (manifest over the latest object, parts under `parts/`) by the
 * contract's own functions through LocalStorage, as a reader finds it. `show`, `check`, `diff`,
 * `validate` and `rollback` on it.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { type CacheDocument, makeCacheDocument, parseCacheDocument } from "../../src/contract/CacheDocument.ts"
import type { CacheManifest } from "../../src/contract/SplitDocument.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import { historyPrefix } from "../../src/sync/history.ts"
import { type CliResult, type CliWorkspace, makeCliWorkspace } from "../support/CliRunner.ts"
import { storeSplit, type StoreSplitOptions } from "../support/SplitStore.ts"

const SLOW = 180_000
const OBJECT = "metadata_cache.json"
const SESSIONS = "nlq-ex.web_dataset.sessions"
const SNAPSHOT_FILE = "20261126T000000.000Z-0123456789ab.json"

const workspaces: Array<CliWorkspace> = []
afterEach(async () => {
  await Promise.all(workspaces.splice(0).map((w) => w.remove()))
})

const expectExit = (result: CliResult, code: number) => {
  expect(result.code, `exit ${result.code}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code)
}

/** The sample synced, then its document grown by a table in another dataset: two parts once split. */
const syncedWorkspace = async (): Promise<{ ws: CliWorkspace; grown: CacheDocument }> => {
  const ws = await makeCliWorkspace({ curated: "sample" })
  workspaces.push(ws)
  expectExit(await ws.run(["sync"]), 0)
  const doc = Either.getOrThrow(parseCacheDocument(await fs.readFile(ws.documentFile, "utf8")))
  const primary = doc.tables[0]
  const grown = makeCacheDocument({
    ...doc,
    tables: [primary, { ...primary, table_id: TableId.make(SESSIONS), description: "sessions" }],
    examples: [...doc.examples, { ...doc.examples[0]!, question: "sessions per event", tables: [TableId.make(SESSIONS)] }]
  })
  return { ws, grown }
}

const split = (ws: CliWorkspace, doc: CacheDocument, options: StoreSplitOptions = {}): Promise<CacheManifest> =>
  Effect.runPromise(storeSplit(doc, options).pipe(Effect.provide(LocalStorage.layer(ws.bucketDir))))

describe("metasync on a split cache", () => {
  it("show reads it through its parts, check stats them; both say its layout; check fails naming a missing part", async () => {
    const { grown, ws } = await syncedWorkspace()
    const manifest = await split(ws, grown)

    const show = await ws.run(["show"])
    expectExit(show, 0)
    expect(show.stdout).toContain("Format 3, written by metasync")
    expect(show.stdout).toMatch(/^Layout: split, a manifest and 2 parts \(\d+\.\d KiB in parts\)$/m)
    expect(show.stdout).toMatch(new RegExp(`^  nlq-ex\\.web_dataset   1 tables, 1 examples, \\d+\\.\\d KiB, generation ${manifest.parts[1]!.generation}$`, "m"))
    expect(show.stdout).toContain("Tables: 2")

    const json = await ws.run(["show", "--json"])
    expectExit(json, 0)
    const shown = JSON.parse(json.stdout)
    expect(shown).toMatchObject({ format_version: 3, layout: "split" })
    expect(shown.parts.map((p: { key: string; object: string }) => [p.key, p.object])).toEqual(manifest.parts.map((p) => [p.key, p.object]))
    expect(shown.tables.map((t: { table_id: string }) => t.table_id)).toEqual([grown.tables[0].table_id, SESSIONS])

    const check = await ws.run(["check"])
    expectExit(check, 0)
    expect(check.stdout.trim()).toMatch(new RegExp(`^${ws.documentFile.replaceAll(/[.\\]/g, "\\$&")} \\(split, 2 parts\\): generated \\S+, \\d+ min ago: fresh$`))

    await fs.rm(path.join(ws.bucketDir, manifest.parts[1]!.object))
    const broken = await ws.run(["check"])
    expectExit(broken, 1)
    expect(broken.stderr).toContain(`metasync: ResourceNotFound: part nlq-ex.web_dataset of the manifest generated at`)
    expect(broken.stderr).toContain(`${path.join(ws.bucketDir, manifest.parts[1]!.object)} does not exist`)
  }, SLOW)

  it("diff and rollback take a split snapshot; rollback refuses one whose part is gone, naming it", async () => {
    const { grown, ws } = await syncedWorkspace()
    const snapshot = `${historyPrefix(OBJECT)}${SNAPSHOT_FILE}`
    const manifest = await split(ws, grown, { objectName: snapshot, run: "snapshot" })

    const diff = await ws.run(["diff", SNAPSHOT_FILE])
    expectExit(diff, 0)
    expect(diff.stdout).toContain(`From ${snapshot}`)
    expect(diff.stdout).toContain(SESSIONS)

    const latest = await fs.readFile(ws.documentFile)
    const part = path.join(ws.bucketDir, manifest.parts[1]!.object)
    const partBytes = await fs.readFile(part)
    await fs.rm(part)
    const refused = await ws.run(["rollback", SNAPSHOT_FILE])
    expectExit(refused, 1)
    expect(refused.stderr.trim()).toBe(
      `metasync: IncompleteSnapshot: ${path.join(ws.bucketDir, snapshot)} is a split manifest, and 1 of its 2 parts cannot be read as it references them: ` +
        `nlq-ex.web_dataset (${part}) does not exist; not rolled back`
    )
    expect(await fs.readFile(ws.documentFile)).toEqual(latest)

    // Put back with its generation as recorded (a restore from a backup of the directory): accepted.
    await fs.writeFile(part, partBytes)
    const rolled = await ws.run(["rollback", SNAPSHOT_FILE])
    expectExit(rolled, 0)
    expect(rolled.stdout).toContain(`Rolled back ${ws.documentFile} to ${snapshot}`)
    expect(await fs.readFile(ws.documentFile)).toEqual(await fs.readFile(path.join(ws.bucketDir, snapshot)))
    const show = await ws.run(["show"])
    expectExit(show, 0)
    expect(show.stdout).toContain("Layout: split, a manifest and 2 parts")
  }, SLOW)
})

describe("metasync validate on a split cache's files", () => {
  it("checks a manifest's parts where it finds them, and says which it did not check", async () => {
    const { grown, ws } = await syncedWorkspace()
    const manifest = await split(ws, grown)
    const [primary, web] = manifest.parts

    const whole = await ws.run(["validate", ws.documentFile])
    expectExit(whole, 0)
    expect(whole.stdout.trim()).toBe(
      `${ws.documentFile}: a valid split cache manifest (format 3, 2 tables, ${grown.examples.length} examples in 2 parts); all 2 parts checked under ${ws.bucketDir}`
    )

    const alone = path.join(ws.root, "downloaded", OBJECT)
    await fs.mkdir(path.dirname(alone))
    await fs.copyFile(ws.documentFile, alone)
    const unchecked = await ws.run(["validate", alone])
    expectExit(unchecked, 0)
    expect(unchecked.stdout.trim()).toBe(
      `${alone}: a valid split cache manifest (format 3, 2 tables, ${grown.examples.length} examples in 2 parts); its parts were not checked: ` +
        `none was found next to it (looked for ${primary!.object} under ${path.dirname(alone)} and its parent directories)`
    )

    // Copied out of the bucket with one part: that one checked (no generations recorded), the other listed.
    await fs.mkdir(path.dirname(path.join(ws.root, "downloaded", primary!.object)), { recursive: true })
    await fs.copyFile(path.join(ws.bucketDir, primary!.object), path.join(ws.root, "downloaded", primary!.object))
    const partly = await ws.run(["validate", alone])
    expectExit(partly, 0)
    expect(partly.stdout.trim()).toBe(
      `${alone}: a valid split cache manifest (format 3, 2 tables, ${grown.examples.length} examples in 2 parts); 1 parts checked under ${
        path.dirname(alone)
      } (their generations not compared: this directory does not record them); 1 not checked, not found: nlq-ex.web_dataset`
    )

    const part = await ws.run(["validate", path.join(ws.bucketDir, web!.object)])
    expectExit(part, 0)
    expect(part.stdout.trim()).toBe(
      `${path.join(ws.bucketDir, web!.object)}: a valid part (nlq-ex.web_dataset) of a split cache document (1 tables, 1 examples); validate its manifest to check that it belongs to it`
    )
  }, SLOW)

  it("fails naming each part that is not the one the manifest references", async () => {
    const { grown, ws } = await syncedWorkspace()
    const manifest = await split(ws, grown)
    const [primary, web] = manifest.parts
    // The web part's bytes replaced by the primary part's (its recorded generation kept); the
    // primary part's generation record moved on, as if it were written again.
    await fs.copyFile(path.join(ws.bucketDir, primary!.object), path.join(ws.bucketDir, web!.object))
    await fs.writeFile(path.join(ws.bucketDir, ".metasync-generations", primary!.object), `${BigInt(primary!.generation) + 1n}`)

    const result = await ws.run(["validate", ws.documentFile])
    expectExit(result, 1)
    expect(result.stdout).toBe("")
    const said = result.stderr.split("\n").filter((l) => l.length > 0)
    expect(said).toEqual([
      `${ws.documentFile} is not a valid MetaSync cache document:`,
      `- parts.0 (nlq-ex.test_dataset, ${path.join(ws.bucketDir, primary!.object)}): generation ${BigInt(primary!.generation) + 1n}; the manifest references ${primary!.generation} (the part was replaced since)`,
      `- parts.1 (nlq-ex.web_dataset, ${path.join(ws.bucketDir, web!.object)}): holds part nlq-ex.test_dataset with 1 tables and ${primary!.examples} examples; the manifest expects nlq-ex.web_dataset with 1 and 1`
    ])
  }, SLOW)

  it("syncs the split layout when asked, says so, reuses the unchanged part on the next run, and reads it back", async () => {
    const ws = await makeCliWorkspace({ curated: "sample" })
    workspaces.push(ws)
    const first = await ws.run(["sync"], { DOCUMENT_LAYOUT: "split" })
    expectExit(first, 0)
    expect(first.stdout).toMatch(/^Layout: split, 1 part written, 0 reused$/m)
    const again = await ws.run(["sync"], { DOCUMENT_LAYOUT: "split" })
    expectExit(again, 0)
    expect(again.stdout).toMatch(/^Layout: split, 0 parts written, 1 reused$/m)
    const show = await ws.run(["show"])
    expectExit(show, 0)
    expect(show.stdout).toMatch(/^Layout: split, a manifest and 1 part/m)
    const back = await ws.run(["sync"], { DOCUMENT_LAYOUT: "single" })
    expectExit(back, 0)
    expect(back.stdout).not.toContain("Layout:")
  }, SLOW)

  it("documents in its help how a manifest's parts are found", async () => {
    const ws = await makeCliWorkspace()
    workspaces.push(ws)
    const help = await ws.run(["validate", "--help"])
    expectExit(help, 0)
    expect(help.stdout.replace(/\s+/g, " ")).toContain("parts not found are listed as not checked, and the manifest alone still passes")
  })
})
