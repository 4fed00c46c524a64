/**
 * A local chat webhook for tests (Slack's incoming-webhook behaviour): records every POST and
 * answers `200 ok`, or `400 invalid_payload` / `400 no_text` for a body Slack would refuse.
 *
 * Failures are scripted in order: `receiver.failNext({ type: "status", status: 500 })` makes the
 * next request fail that way; `stall` never answers (until `close`), `reset` drops the connection.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"

/**
 * What a CLI child process needs to post to a local receiver: the test-only preload that allows
 * loopback webhooks in that process (production has no way to allow them).
 */
export const LOCAL_RECEIVER_CHILD_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: `--import=${fileURLToPath(new URL("./allowLoopbackWebhooks.ts", import.meta.url))}`
}

export type WebhookFault =
  | {
    readonly type: "status"
    readonly status: number
    readonly body?: string
    /** More reply headers, e.g. a redirect's `location`. */
    readonly headers?: Readonly<Record<string, string>>
  }
  | { readonly type: "reset" }
  | { readonly type: "stall" }

export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly contentType: string | undefined
  /** The parsed JSON body, or `undefined` when it was not JSON. */
  readonly body: unknown
  /** What the request got: an HTTP status, or the fault that cut it off. */
  readonly answer: number | "reset" | "stall"
}

export interface FakeWebhookReceiver {
  /** The full webhook URL, secret path included: `http://127.0.0.1:PORT/services/...`. */
  readonly url: string
  /** `127.0.0.1:PORT`: what may be shown of the URL. */
  readonly host: string
  /** The secret part of the URL: its path. */
  readonly secretPath: string
  /** Every request, in arrival order, failed ones included. */
  readonly requests: ReadonlyArray<ReceivedRequest>
  /** The bodies of the messages answered `200 ok`. */
  readonly messages: () => ReadonlyArray<any>
  readonly failNext: (fault: WebhookFault, times?: number) => void
  /** Stops the server, dropping open connections and stalled requests. */
  readonly close: () => Promise<void>
}

export const start = (
  options: { readonly secretPath?: string } = {}
): Promise<FakeWebhookReceiver> => {
  const secretPath = options.secretPath ?? "/services/T0FAKE/B0FAKE/s3cr3tT0ken"
  const requests: Array<ReceivedRequest> = []
  const faults: Array<WebhookFault> = []

  const server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        body = undefined
      }
      const record = (answer: ReceivedRequest["answer"]) =>
        requests.push({
          method: request.method ?? "",
          path: request.url ?? "",
          contentType: request.headers["content-type"],
          body,
          answer
        })
      const reply = (status: number, message: string, headers: Readonly<Record<string, string>> = {}) => {
        record(status)
        response.writeHead(status, { "content-type": "text/plain", ...headers }).end(message)
      }

      const fault = faults.shift()
      if (fault?.type === "reset") {
        record("reset")
        return request.socket.destroy()
      }
      if (fault?.type === "stall") return record("stall")
      if (fault?.type === "status") {
        return reply(fault.status, fault.body ?? http.STATUS_CODES[fault.status] ?? "error", fault.headers)
      }

      if (request.method !== "POST") return reply(405, "invalid_method")
      if (request.url !== secretPath) return reply(404, "no_service")
      if (body === null || typeof body !== "object") return reply(400, "invalid_payload")
      const { blocks, text: fallback } = body as { text?: unknown; blocks?: unknown }
      if (typeof fallback !== "string" && !Array.isArray(blocks)) return reply(400, "no_text")
      reply(200, "ok")
    })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      const host = `127.0.0.1:${port}`
      resolve({
        url: `http://${host}${secretPath}`,
        host,
        secretPath,
        requests,
        messages: () => requests.filter((r) => r.answer === 200).map((r) => r.body),
        failNext: (fault, times = 1) => {
          for (let i = 0; i < times; i++) faults.push(fault)
        },
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}
