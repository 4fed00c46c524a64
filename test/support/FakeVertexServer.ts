/**
 * A local stand-in for Vertex AI's text embeddings: `POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predict`
 * over real HTTP on 127.0.0.1.
 *
 * It checks requests as the API does (a JSON body with `instances: [{content, task_type?}]`, at
 * most `maxInstances` of them, and `parameters.outputDimensionality` within the model's range) and
 * answers `{"predictions":[{"embeddings":{"values":[…],"statistics":{…}}}]}` with deterministic
 * vectors (`hashedNgramVector`: texts sharing words are near). Faults are scripted per request:
 * `fake.script(Fault.status(429), Fault.stall, …)`; unscripted requests are answered normally.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { hashedNgramVector } from "../../src/services/Embeddings/EmbeddingService.ts"

export interface PredictRequest {
  readonly path: string
  readonly model: string
  readonly texts: ReadonlyArray<string>
  readonly taskTypes: ReadonlyArray<unknown>
  readonly dimension: unknown
  readonly authorization: string | undefined
}

export type Fault =
  | { readonly type: "status"; readonly status: number; readonly googleStatus: string }
  /** A 200 whose body is not a predict response. */
  | { readonly type: "malformed"; readonly body: string }
  /** No answer until the server closes or the client gives up. */
  | { readonly type: "stall" }
  /** The connection dropped before an answer. */
  | { readonly type: "reset" }

const GOOGLE_STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE"
}

export const Fault = {
  status: (status: number): Fault => ({ type: "status", status, googleStatus: GOOGLE_STATUS[status] ?? "UNKNOWN" }),
  malformed: (body = "{\"predictions\":\"nope\"}"): Fault => ({ type: "malformed", body }),
  stall: { type: "stall" } as Fault,
  reset: { type: "reset" } as Fault
} as const

export interface FakeVertex {
  /** `http://127.0.0.1:PORT`, the `VERTEX_API_ENDPOINT`. */
  readonly url: string
  /** Every well-formed predict request, in arrival order (faulted ones included). */
  readonly requests: ReadonlyArray<PredictRequest>
  /** Every text embedded and answered (not faulted). */
  readonly embedded: () => ReadonlyArray<string>
  readonly script: (...faults: ReadonlyArray<Fault>) => void
  /** Fails every request from now on with `fault` (a Vertex that is down). */
  readonly failAlways: (fault: Fault | null) => void
  readonly received: (count: number) => Promise<void>
  /** Requests the client gave up on before they were answered. */
  readonly abandoned: () => number
  /** Resolves once `count` requests have been given up on by the client. */
  readonly waitAbandoned: (count: number) => Promise<void>
  readonly close: () => Promise<void>
}

const PATH = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):predict$/

export const start = (options: { readonly maxInstances?: number } = {}): Promise<FakeVertex> => {
  const requests: Array<PredictRequest> = []
  const embedded: Array<string> = []
  const queue: Array<Fault> = []
  let always: Fault | null = null
  let abandoned = 0
  const abandonWaiters: Array<{ readonly count: number; readonly resolve: () => void }> = []
  const waiters: Array<{ readonly count: number; readonly resolve: () => void }> = []
  const wake = () => {
    for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }

  const send = (response: http.ServerResponse, status: number, body: unknown) => {
    const text = typeof body === "string" ? body : JSON.stringify(body)
    response.writeHead(status, { "content-type": "application/json; charset=UTF-8", "content-length": String(Buffer.byteLength(text)) })
    response.end(text)
  }
  const error = (response: http.ServerResponse, status: number, message: string) =>
    send(response, status, { error: { code: status, message, status: GOOGLE_STATUS[status] ?? "UNKNOWN" } })

  const server = http.createServer((incoming, response) => {
    response.on("close", () => {
      if (!response.writableFinished) abandoned += 1
      for (const waiter of abandonWaiters.filter((w) => abandoned >= w.count)) {
        abandonWaiters.splice(abandonWaiters.indexOf(waiter), 1)
        waiter.resolve()
      }
    })
    const chunks: Array<Buffer> = []
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk))
    incoming.on("end", () => {
      const path = (incoming.url ?? "").split("?")[0]
      const match = PATH.exec(path)
      if (incoming.method !== "POST" || match === null) return error(response, 404, `Not found: ${incoming.method} ${path}`)
      let body: { instances?: unknown; parameters?: { outputDimensionality?: unknown } } | undefined
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return error(response, 400, "Invalid JSON payload received.")
      }
      const model = decodeURIComponent(match[3])
      const maxInstances = options.maxInstances ?? (model.startsWith("gemini-embedding") ? 1 : 250)
      const instances = body?.instances
      if (!Array.isArray(instances) || instances.length === 0) return error(response, 400, "instances: at least one instance is required")
      if (instances.length > maxInstances) {
        return error(response, 400, `Number of instances ${instances.length} exceeds the limit of ${maxInstances}`)
      }
      if (!instances.every((i) => typeof i === "object" && i !== null && typeof i.content === "string")) {
        return error(response, 400, "instances[].content: a string is required")
      }
      const dimension = body?.parameters?.outputDimensionality ?? 768
      if (typeof dimension !== "number" || !Number.isInteger(dimension) || dimension < 1 || dimension > 3072) {
        return error(response, 400, `outputDimensionality: invalid value ${JSON.stringify(dimension)}`)
      }
      const texts = instances.map((i: { content: string }) => i.content)
      requests.push({
        path,
        model,
        texts,
        taskTypes: instances.map((i: { task_type?: unknown }) => i.task_type),
        dimension,
        authorization: incoming.headers.authorization
      })
      wake()
      const fault = queue.shift() ?? always
      if (fault !== null) {
        switch (fault.type) {
          case "status":
            return send(response, fault.status, { error: { code: fault.status, message: "scripted fault", status: fault.googleStatus } })
          case "malformed":
            return send(response, 200, fault.body)
          case "stall":
            return
          case "reset":
            return incoming.socket.destroy()
        }
      }
      embedded.push(...texts)
      send(response, 200, {
        predictions: texts.map((text: string) => ({
          embeddings: { values: Array.from(hashedNgramVector(text, dimension)), statistics: { token_count: Math.ceil(text.length / 4), truncated: false } }
        })),
        metadata: { billableCharacterCount: texts.reduce((n: number, t: string) => n + t.length, 0) }
      })
    })
  })

  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        embedded: () => embedded,
        script: (...faults) => void queue.push(...faults),
        failAlways: (fault) => void (always = fault),
        received: (count) => (requests.length >= count ? Promise.resolve() : new Promise((r) => waiters.push({ count, resolve: r }))),
        abandoned: () => abandoned,
        waitAbandoned: (count) =>
          abandoned >= count ? Promise.resolve() : new Promise((r) => abandonWaiters.push({ count, resolve: r })),
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections()
            server.close(() => r())
          })
      })
    })
  })
}
