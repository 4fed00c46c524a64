/**
 * Runs the operator CLI as a user does: `node src/entry/cli.ts <args>` in a child process, from the
 * project root, in local mode over a temporary workspace (a bucket directory, a directory of table
 * definitions, a curated-examples directory), and reports its exit code and output.
 *
 * The child gets a clean environment (PATH, HOME and the temp directory variables, plus what the
 * test gives), so settings of the machine running the tests (a GCP project, a webhook) never leak in.
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { makeCacheDocument, parseCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"

export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url))
export const CLI_ENTRY = path.join(PROJECT_ROOT, "src", "entry", "cli.ts")
export const SAMPLE_TABLES_DIR = path.join(PROJECT_ROOT, "samples", "tables")
export const SAMPLE_EXAMPLES_DIR = path.join(PROJECT_ROOT, "examples")
export const SAMPLE_TABLE_ID = "nlq-ex.test_dataset.events_20210131"
export const SAMPLE_TABLE_FILE = `${SAMPLE_TABLE_ID}.json`

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface CliWorkspace {
  /** The temporary directory holding the others. */
  readonly root: string
  /** `LOCAL_BUCKET_DIR`: not created until the CLI writes to it. */
  readonly bucketDir: string
  /** `LOCAL_TABLES_DIR`. */
  readonly tablesDir: string
  /** `CURATED_EXAMPLES_DIR`. */
  readonly curatedDir: string
  /** The latest document's file. */
  readonly documentFile: string
  /** The directory of its snapshots. */
  readonly historyDir: string
  /** Runs the CLI on this workspace; `env` adds variables (`undefined` removes one). */
  readonly run: (args: ReadonlyArray<string>, env?: Readonly<Record<string, string | undefined>>) => Promise<CliResult>
  readonly remove: () => Promise<void>
}

/** Node's type stripping runs `.ts` sources directly from Node 22.6 on; older Nodes cannot run the CLI. */
const assertNodeRunsTypeScript = () => {
  const [major, minor] = process.versions.node.split(".").map(Number)
  if (major < 22 || (major === 22 && minor < 6)) {
    throw new Error(
      `the CLI tests need Node >= 22.6 to run src/entry/cli.ts, but ${process.execPath} is ${process.version}; run them with \`npx vitest\` or \`npm test\`, which use the project's node@22`
    )
  }
}

/** A child's output is at most this long; a run that takes longer than the deadline is killed. */
const MAX_OUTPUT = 16 * 1024 * 1024
const DEFAULT_DEADLINE_MS = 90_000

/** Runs `node src/entry/cli.ts <args>` with exactly `env` (plus PATH, HOME and the temp directory). */
export const runCli = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly deadlineMs?: number } = {}
): Promise<CliResult> => {
  assertNodeRunsTypeScript()
  const inherited: Record<string, string> = {}
  for (const name of ["PATH", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT"]) {
    const value = process.env[name]
    if (value !== undefined) inherited[name] = value
  }
  const childEnv: Record<string, string> = { ...inherited }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name]
    else childEnv[name] = value
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd: PROJECT_ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    let size = 0
    const collect = (into: Array<Buffer>) => (chunk: Buffer) => {
      size += chunk.byteLength
      if (size > MAX_OUTPUT) child.kill("SIGKILL")
      else into.push(chunk)
    }
    child.stdout.on("data", collect(stdout))
    child.stderr.on("data", collect(stderr))
    const deadline = setTimeout(() => child.kill("SIGKILL"), options.deadlineMs ?? DEFAULT_DEADLINE_MS)
    child.once("error", (error) => {
      clearTimeout(deadline)
      reject(error)
    })
    child.once("close", (code, signal) => {
      clearTimeout(deadline)
      const result = {
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      }
      if (signal !== null) {
        reject(new Error(`metasync ${args.join(" ")} was killed (${signal}); stderr so far:\n${result.stderr}`))
      } else {
        resolve(result)
      }
    })
  })
}

/**
 * A fresh workspace in the temp directory. Its table definitions are a copy of the shipped sample
 * unless `tables: "none"`; the curated examples are the shipped ones with `curated: "sample"`,
 * none otherwise.
 */
export const makeCliWorkspace = async (
  options: { readonly tables?: "sample" | "none"; readonly curated?: "sample" | "none" } = {}
): Promise<CliWorkspace> => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "metasync-cli-"))
  const bucketDir = path.join(root, "bucket")
  const tablesDir = path.join(root, "tables")
  const emptyCurated = path.join(root, "curated")
  await fs.mkdir(tablesDir)
  await fs.mkdir(emptyCurated)
  if ((options.tables ?? "sample") === "sample") {
    await fs.copyFile(path.join(SAMPLE_TABLES_DIR, SAMPLE_TABLE_FILE), path.join(tablesDir, SAMPLE_TABLE_FILE))
  }
  const curatedDir = options.curated === "sample" ? SAMPLE_EXAMPLES_DIR : emptyCurated
  const base = {
    METASYNC_MODE: "local",
    LOCAL_BUCKET_DIR: bucketDir,
    LOCAL_TABLES_DIR: tablesDir,
    CURATED_EXAMPLES_DIR: curatedDir
  }
  return {
    root,
    bucketDir,
    tablesDir,
    curatedDir,
    documentFile: path.join(bucketDir, "metadata_cache.json"),
    historyDir: path.join(bucketDir, "history", "metadata_cache.json"),
    run: (args, env = {}) => runCli(args, { ...base, ...env }),
    remove: () => fs.rm(root, { recursive: true, force: true })
  }
}

/** The text without terminal colour codes (@effect/cli colours its help and errors even on a pipe). */
export const stripAnsi = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, "")

/** Every file under `dir`, relative and sorted; none when it does not exist. */
export const filesUnder = async (dir: string): Promise<ReadonlyArray<string>> => {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return []
    throw error
  })
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort()
}

/**
 * Rewrites the workspace's latest document as if generated `hoursAgo` hours ago (same content,
 * rendered by the codec); returns the new `generated_at` as ISO text.
 */
export const ageLatestDocument = async (ws: CliWorkspace, hoursAgo: number): Promise<string> => {
  const current = Either.getOrThrow(parseCacheDocument(await fs.readFile(ws.documentFile, "utf8")))
  const generatedAt = DateTime.unsafeMake(Date.now() - hoursAgo * 3_600_000)
  await fs.writeFile(ws.documentFile, Either.getOrThrow(renderCacheDocument(makeCacheDocument({ ...current, generated_at: generatedAt }))))
  return DateTime.formatIso(generatedAt)
}
