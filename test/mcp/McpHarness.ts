/**
 * Starts `metasync mcp` as a user's MCP client does — a child process `node src/entry/cli.ts mcp …`
 * — and connects the SDK's own `Client` to it over stdio or Streamable HTTP (127.0.0.1 only).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import { makeCacheDocument, parseCacheDocument, renderCacheDocument, TableId } from "../../src/contract/index.ts"
import { LocalStorage } from "../../src/services/Storage/LocalStorage.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"
import { CLI_ENTRY, PROJECT_ROOT } from "../support/CliRunner.ts"

/** The environment a child gets: PATH, HOME and the temp directory, plus `env`; nothing of the machine's GCP settings. */
export const childEnv = (env: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name of ["PATH", "HOME", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT"]) {
    const value = process.env[name]
    if (value !== undefined) out[name] = value
  }
  return { ...out, ...env }
}

export interface Connected {
  readonly client: Client
  /** What the server wrote on stderr so far. */
  readonly stderr: () => string
  readonly close: () => Promise<void>
}

/** `metasync mcp <args>` over stdio. */
export const connectStdio = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Connected> => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI_ENTRY, "mcp", ...args],
    cwd: PROJECT_ROOT,
    env: childEnv(env),
    stderr: "pipe"
  })
  let stderr = ""
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  const client = new Client({ name: "metasync-test", version: "0.0.0" })
  await client.connect(transport)
  return { client, stderr: () => stderr, close: () => client.close() }
}

export interface HttpServerProcess {
  readonly url: URL
  readonly child: ChildProcess
  readonly stderr: () => string
  readonly stop: () => Promise<void>
}

/** Polls `condition` every few milliseconds until it holds, failing after `deadlineMs` with `what`. */
export const waitFor = async <A>(
  what: string,
  condition: () => A | undefined | Promise<A | undefined>,
  deadlineMs = 30_000
): Promise<A> => {
  const until = Date.now() + deadlineMs
  for (;;) {
    const value = await condition()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** `metasync mcp --http --port 0 <args>`; resolves once the server logged the address it listens on. */
export const startHttpServer = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<HttpServerProcess> => {
  const child = spawn(process.execPath, [CLI_ENTRY, "mcp", "--http", "--port", "0", ...args], {
    cwd: PROJECT_ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stderr = ""
  let stdout = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8")
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = await waitFor("the MCP server to listen", () => {
    if (child.exitCode !== null) throw new Error(`metasync mcp exited with ${child.exitCode}:\n${stderr}${stdout}`)
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr)
    return match === null ? undefined : new URL(match[1])
  })
  return {
    url,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM")
      await exited
    }
  }
}

/** The SDK's client over Streamable HTTP to `url`. */
export const connectHttp = async (url: URL): Promise<Client> => {
  const client = new Client({ name: "metasync-test", version: "0.0.0" })
  await client.connect(new StreamableHTTPClientTransport(url))
  return client
}

/** Calls a tool and returns its result as the client sees it. */
export const call = async (client: Client, name: string, args: Record<string, unknown> = {}) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult

/** The text of a result's first content item. */
export const textOf = (result: CallToolResult): string => {
  const first = result.content[0]
  return first?.type === "text" ? first.text : ""
}

/** A result's structured content, for a successful call. */
export const structured = (result: CallToolResult): any => {
  if (result.isError === true) throw new Error(`the tool failed: ${textOf(result)}`)
  return result.structuredContent
}

/** `document` (JSON text) with one more table, a copy of its primary under `tableId`, and a new `generated_at`. */
export const withExtraTable = (document: string, tableId: string): string => {
  const doc = Either.getOrThrow(parseCacheDocument(document))
  return Either.getOrThrow(renderCacheDocument(makeCacheDocument({
    ...doc,
    generated_at: DateTime.unsafeMake(DateTime.toEpochMillis(doc.generated_at) + 1000),
    tables: [...doc.tables, { ...doc.tables[0], table_id: TableId.make(tableId), sharding: null }]
  })))
}

/**
 * `document` (JSON text) with `tableIds` added as copies of its primary table, and `relationships`
 * (encoded, as a curated file would give them) between its tables.
 */
export const withRelationships = (
  document: string,
  tableIds: ReadonlyArray<string>,
  relationships: ReadonlyArray<Record<string, unknown>>
): string => {
  const json = JSON.parse(tableIds.reduce(withExtraTable, document))
  return JSON.stringify({ ...json, relationships })
}

/** Writes `text` over the object in a local bucket directory as the sync does (a new generation). */
export const writeLocalObject = (directory: string, name: string, text: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const storage = yield* StorageService
      const current = yield* storage.stat(name)
      yield* storage.write(name, new TextEncoder().encode(text), {
        contentType: "application/json",
        ifGenerationMatch: Option.match(current, { onNone: () => "0", onSome: (i) => i.generation })
      })
    }).pipe(Effect.provide(LocalStorage.layer(directory)))
  )
