/**
 * The local Cloud Storage of the TypeScript tests (`FakeGcsServer.ts`) as a child process, for tests
 * in other languages (python/test_metasync_cache_loader.py): `node test/support/fake-gcs-process.ts`.
 *
 * Prints one JSON line, `{"url": "http://127.0.0.1:PORT"}`, then answers one JSON line per command
 * read from stdin, and exits when stdin closes:
 *
 * - `{"op": "put", "bucket", "name", "text"}` → `{"generation"}`
 * - `{"op": "remove", "bucket", "name"}` → `{}`
 * - `{"op": "fault", "status", "kind"?, "times"?}` → `{}`: the next matching requests answer `status`
 * - `{"op": "requests", "kind"?}` → `{"requests": [{method, path, kind, authorization}]}`
 */
import * as readline from "node:readline"
import { type RequestKind, start } from "./FakeGcsServer.ts"

const fake = await start()
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`)

interface Command {
  readonly op: string
  readonly bucket?: string
  readonly name?: string
  readonly text?: string
  readonly status?: number
  readonly kind?: RequestKind
  readonly times?: number
}

const answer = (command: Command): unknown => {
  switch (command.op) {
    case "put":
      return { generation: fake.objects.put(command.bucket ?? "", command.name ?? "", command.text ?? "", "application/json") }
    case "remove":
      fake.objects.remove(command.bucket ?? "", command.name ?? "")
      return {}
    case "fault":
      fake.faults.inject(
        { type: "status", status: command.status ?? 503 },
        command.kind === undefined ? {} : { kind: command.kind },
        command.times ?? 1
      )
      return {}
    case "requests":
      return {
        requests: (command.kind === undefined ? fake.requests : fake.requestsOf(command.kind)).map((r) => ({
          method: r.method,
          path: r.path,
          kind: r.kind,
          authorization: r.headers.authorization ?? null
        }))
      }
    default:
      return { error: `unknown op ${command.op}` }
  }
}

const lines = readline.createInterface({ input: process.stdin })
lines.on("line", (line) => {
  let reply: unknown
  try {
    reply = answer(JSON.parse(line) as Command)
  } catch (error) {
    reply = { error: error instanceof Error ? error.message : String(error) }
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`)
})
lines.on("close", () => {
  void fake.close().then(() => process.exit(0))
})
