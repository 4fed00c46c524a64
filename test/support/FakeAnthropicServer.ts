/**
 * A local stand-in for Anthropic's Messages API: `POST /v1/messages` over real HTTP on 127.0.0.1.
 *
 * It checks requests as the API does (an `x-api-key`, the `anthropic-version` header, a JSON body
 * with `model`, `max_tokens` and `messages`) and answers each with the next scripted reply:
 * `fake.script(Reply.text(…))`. With nothing scripted it answers 500 `api_error`, which says so.
 * Every request, answered or refused, is recorded in `fake.requests`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  /** The body as sent. */
  readonly raw: string
  /** The parsed JSON body, `undefined` when it is not JSON. */
  readonly body: MessagesRequestBody | undefined
}

/** The parts of a Messages API request the tests read. */
export interface MessagesRequestBody {
  readonly model?: unknown
  readonly max_tokens?: unknown
  readonly system?: unknown
  readonly messages?: ReadonlyArray<{ readonly role?: unknown; readonly content?: unknown }>
  readonly [key: string]: unknown
}

export type Reply =
  /** A 200 message whose one text block is `text`. */
  | { readonly type: "text"; readonly text: string; readonly stopReason: string }
  /** An error in the API's shape: `{"type":"error","error":{"type","message"}}`. */
  | { readonly type: "error"; readonly status: number; readonly errorType: string; readonly message: string }
  /** Any status and body, as is. */
  | { readonly type: "raw"; readonly status: number; readonly body: string; readonly contentType: string }
  /** No answer at all, until the server closes. */
  | { readonly type: "stall" }
  /** The connection is dropped before any answer. */
  | { readonly type: "reset" }

export interface PairSpec {
  readonly question: string
  readonly sql: string
}

const examplesJson = (pairs: ReadonlyArray<PairSpec>) => JSON.stringify({ examples: pairs }, null, 2)

export const Reply = {
  text: (text: string, stopReason = "end_turn"): Reply => ({ type: "text", text, stopReason }),
  /** The answer the prompt asks for: bare JSON. */
  examples: (pairs: ReadonlyArray<PairSpec>): Reply => Reply.text(examplesJson(pairs)),
  /** The same JSON in a ```json fence, with chatter around it, as models often write. */
  fencedExamples: (pairs: ReadonlyArray<PairSpec>): Reply =>
    Reply.text(`Here are the examples you asked for:\n\n\`\`\`json\n${examplesJson(pairs)}\n\`\`\`\n\nLet me know if you need more.`),
  error: (status: number, errorType: string, message: string): Reply => ({ type: "error", status, errorType, message }),
  rateLimited: { type: "error", status: 429, errorType: "rate_limit_error", message: "Number of request tokens has exceeded your per-minute rate limit" } as Reply,
  overloaded: { type: "error", status: 529, errorType: "overloaded_error", message: "Overloaded" } as Reply,
  internalError: { type: "error", status: 500, errorType: "api_error", message: "Internal server error" } as Reply,
  invalidRequest: (message: string): Reply => ({ type: "error", status: 400, errorType: "invalid_request_error", message }),
  raw: (status: number, body: string, contentType = "application/json"): Reply => ({ type: "raw", status, body, contentType }),
  stall: { type: "stall" } as Reply,
  reset: { type: "reset" } as Reply
} as const

export interface FakeAnthropicOptions {
  /** When set, any other `x-api-key` is refused with 401 `authentication_error`, as the API does. */
  readonly apiKey?: string
}

export interface FakeAnthropic {
  /** `http://127.0.0.1:PORT`, the `baseUrl` for the generator. */
  readonly url: string
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Queues replies for the next requests, in order. */
  readonly script: (...replies: ReadonlyArray<Reply>) => void
  /** Replies queued and not yet used. */
  readonly pending: () => number
  /** Resolves once `count` requests have arrived (to act on a request in flight). */
  readonly received: (count: number) => Promise<void>
  /** Requests the client gave up on (closed the connection) before they were answered. */
  readonly abandoned: () => number
  /** Stops the server, dropping open connections and stalled requests. */
  readonly close: () => Promise<void>
}

const errorBody = (errorType: string, message: string) =>
  JSON.stringify({ type: "error", error: { type: errorType, message } })

export const start = (options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> => {
  const requests: Array<RecordedRequest> = []
  const queue: Array<Reply> = []
  let served = 0
  let abandoned = 0
  const waiters: Array<{ readonly count: number; readonly resolve: () => void }> = []
  const wake = () => {
    for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }

  const send = (response: http.ServerResponse, status: number, body: string, contentType = "application/json") => {
    response.writeHead(status, {
      "content-type": contentType,
      "content-length": String(Buffer.byteLength(body)),
      "request-id": `req_fake_${served}`
    })
    response.end(body)
  }

  /** The refusal the real API gives for a request it cannot take, if any. */
  const refusal = (request: RecordedRequest): { status: number; errorType: string; message: string } | undefined => {
    if (request.method !== "POST" || request.path !== "/v1/messages") {
      return { status: 404, errorType: "not_found_error", message: `Not found: ${request.method} ${request.path}` }
    }
    const key = request.headers["x-api-key"]
    if (typeof key !== "string" || key.length === 0) {
      return { status: 401, errorType: "authentication_error", message: "x-api-key header is required" }
    }
    if (options.apiKey !== undefined && key !== options.apiKey) {
      return { status: 401, errorType: "authentication_error", message: "invalid x-api-key" }
    }
    if (request.headers["anthropic-version"] === undefined) {
      return { status: 400, errorType: "invalid_request_error", message: "anthropic-version: header is required" }
    }
    const body = request.body
    if (body === undefined) return { status: 400, errorType: "invalid_request_error", message: "request body is not valid JSON" }
    if (typeof body.model !== "string") return { status: 400, errorType: "invalid_request_error", message: "model: Field required" }
    if (typeof body.max_tokens !== "number") {
      return { status: 400, errorType: "invalid_request_error", message: "max_tokens: Field required" }
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return { status: 400, errorType: "invalid_request_error", message: "messages: at least one message is required" }
    }
    return undefined
  }

  const server = http.createServer((incoming, response) => {
    response.on("close", () => {
      if (!response.writableFinished) abandoned += 1
    })
    const chunks: Array<Buffer> = []
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
    incoming.on("end", () => {
      served += 1
      const raw = Buffer.concat(chunks).toString("utf8")
      let body: MessagesRequestBody | undefined
      try {
        const parsed: unknown = JSON.parse(raw)
        body = typeof parsed === "object" && parsed !== null ? (parsed as MessagesRequestBody) : undefined
      } catch {
        body = undefined
      }
      const request: RecordedRequest = {
        method: incoming.method ?? "GET",
        path: new URL(incoming.url ?? "/", "http://127.0.0.1").pathname,
        headers: incoming.headers,
        raw,
        body
      }
      requests.push(request)
      wake()

      const refused = refusal(request)
      if (refused !== undefined) return send(response, refused.status, errorBody(refused.errorType, refused.message))
      const reply = queue.shift() ??
        Reply.error(500, "api_error", "FakeAnthropicServer: no reply scripted for this request")
      switch (reply.type) {
        case "text":
          return send(
            response,
            200,
            JSON.stringify({
              id: `msg_fake_${served}`,
              type: "message",
              role: "assistant",
              model: body?.model,
              content: [{ type: "text", text: reply.text }],
              stop_reason: reply.stopReason,
              stop_sequence: null,
              usage: { input_tokens: Math.ceil(raw.length / 4), output_tokens: Math.ceil(reply.text.length / 4) }
            })
          )
        case "error":
          return send(response, reply.status, errorBody(reply.errorType, reply.message))
        case "raw":
          return send(response, reply.status, reply.body, reply.contentType)
        case "stall":
          return // held open until close() drops it
        case "reset":
          return incoming.socket.destroy()
      }
    })
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        script: (...replies) => void queue.push(...replies),
        pending: () => queue.length,
        received: (count) =>
          requests.length >= count ? Promise.resolve() : new Promise<void>((resolve) => void waiters.push({ count, resolve })),
        abandoned: () => abandoned,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}
