/**
 * A local Cloud Storage for tests: the parts of the GCS JSON API that @google-cloud/storage uses
 * for single objects (multipart upload, media download, metadata, list, rewrite, delete), with
 * generation preconditions, over real HTTP on 127.0.0.1.
 *
 * JSON calls are accepted under `/storage/v1/b/...` (the client with `apiEndpoint`) and `/b/...`
 * (the client with `STORAGE_EMULATOR_HOST`); uploads always come to `/upload/storage/v1/b/...`.
 * Only the live generation of an object is kept.
 *
 * Faults are scripted per request: `fake.faults.inject(fault, { kind: "upload" })` makes the next
 * matching request fail that way (the fault is picked when the request's headers arrive, so that
 * `cutBody` can cut an upload in the middle of its body). Every request, faulted or not, is
 * recorded in `fake.requests`. Uploads are read as they stream in (chunked or not); an upload
 * whose body does not arrive whole stores nothing, as in Cloud Storage.
 */
import { createHash } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { type FaultScript as FaultScriptOf, makeFaultQueue } from "./FaultQueue.ts"
import { type OpenConnections, trackConnections } from "./OpenConnections.ts"

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli), as Cloud Storage reports it: base64 of the big-endian 32-bit value.

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

export const crc32c = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (const byte of bytes) c = CRC32C_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

export const crc32cBase64 = (bytes: Uint8Array): string => {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(crc32c(bytes))
  return out.toString("base64")
}

const md5Base64 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("base64")

// ---------------------------------------------------------------------------------------------
// Objects

export interface StoredObject {
  readonly bucket: string
  readonly name: string
  readonly bytes: Buffer
  readonly contentType: string
  readonly generation: string
  readonly updated: string
}

export interface FakeObjects {
  /** Stores an object as a client write would (new generation); returns the generation. */
  readonly put: (bucket: string, name: string, bytes: Uint8Array | string, contentType?: string) => string
  readonly get: (bucket: string, name: string) => StoredObject | undefined
  /** Names in `bucket`, in order. */
  readonly names: (bucket: string) => ReadonlyArray<string>
  readonly remove: (bucket: string, name: string) => void
}

const objectResource = (object: StoredObject) => ({
  kind: "storage#object",
  id: `${object.bucket}/${object.name}/${object.generation}`,
  name: object.name,
  bucket: object.bucket,
  generation: object.generation,
  metageneration: "1",
  contentType: object.contentType,
  storageClass: "STANDARD",
  size: String(object.bytes.length),
  md5Hash: md5Base64(object.bytes),
  crc32c: crc32cBase64(object.bytes),
  etag: `${object.generation}-1`,
  timeCreated: object.updated,
  updated: object.updated
})

// ---------------------------------------------------------------------------------------------
// Requests and faults

export type RequestKind = "upload" | "download" | "metadata" | "list" | "delete" | "rewrite" | "other"

export interface RecordedRequest {
  readonly method: string
  /** The path as sent, without the query (names stay percent-encoded). */
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: http.IncomingHttpHeaders
  readonly kind: RequestKind
  readonly bucket: string | undefined
  /** The object addressed (decoded); for a rewrite, the source. */
  readonly name: string | undefined
}

export type Fault =
  /** An error reply with a JSON error body; `reason` defaults to the one GCS uses for the status. */
  | { readonly type: "status"; readonly status: number; readonly reason?: string }
  /** The socket is destroyed before any reply. */
  | { readonly type: "reset" }
  /** No reply at all, until the server closes. */
  | { readonly type: "stall" }
  /** The request is served, but the 200 reply body is damaged (invalid JSON; for media, wrong bytes). */
  | { readonly type: "malformed" }
  /** The request is served, but the reply stops halfway through its announced Content-Length. */
  | { readonly type: "truncated" }
  /** The request is served, but the checksums in the reply (resource or `x-goog-hash`) are wrong. */
  | { readonly type: "badChecksum" }
  /**
   * The request is served, but its JSON reply carries one more member, `unread`, nested `levels`
   * arrays deep: JSON that `JSON.stringify` cannot produce.
   */
  | { readonly type: "deep"; readonly levels: number }
  /** This text as a JSON reply's body, sent as it is. */
  | { readonly type: "raw"; readonly status: number; readonly text: string }
  /**
   * The socket is destroyed once `afterBytes` bytes of the request body have arrived (at its end
   * if it is shorter): an upload cut in the middle, never served.
   */
  | { readonly type: "cutBody"; readonly afterBytes: number }

export const Fault = {
  status: (status: number, reason?: string): Fault =>
    reason === undefined ? { type: "status", status } : { type: "status", status, reason },
  reset: { type: "reset" } as Fault,
  stall: { type: "stall" } as Fault,
  malformed: { type: "malformed" } as Fault,
  truncated: { type: "truncated" } as Fault,
  badChecksum: { type: "badChecksum" } as Fault,
  deep: (levels: number): Fault => ({ type: "deep", levels }),
  raw: (status: number, text: string): Fault => ({ type: "raw", status, text }),
  cutBody: (afterBytes: number): Fault => ({ type: "cutBody", afterBytes })
} as const

export type FaultMatch =
  | { readonly kind?: RequestKind; readonly method?: string; readonly name?: string }
  | ((request: RecordedRequest) => boolean)

export type FaultScript = FaultScriptOf<Fault, FaultMatch>

const REASONS: Record<number, string> = {
  400: "invalid",
  401: "required",
  403: "forbidden",
  404: "notFound",
  408: "requestTimeout",
  412: "conditionNotMet",
  429: "rateLimitExceeded",
  500: "backendError",
  502: "backendError",
  503: "backendError",
  504: "backendError"
}

const matches = (when: FaultMatch, request: RecordedRequest): boolean =>
  typeof when === "function"
    ? when(request)
    : (when.kind === undefined || when.kind === request.kind) &&
      (when.method === undefined || when.method.toUpperCase() === request.method) &&
      (when.name === undefined || when.name === request.name)

// ---------------------------------------------------------------------------------------------
// Replies are values first, so that a fault can damage them before they are sent.

interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Buffer
}

const json = (status: number, value: unknown): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=UTF-8" },
  body: Buffer.from(JSON.stringify(value))
})

const errorReply = (status: number, message: string, reason = REASONS[status] ?? "unknown"): Reply =>
  json(status, { error: { code: status, message, errors: [{ message, domain: "global", reason }] } })

const damaged = (reply: Reply, kind: RequestKind): Reply =>
  kind === "download"
    ? { ...reply, body: Buffer.from(reply.body.map((byte) => byte ^ 0xff)) }
    : { ...reply, body: Buffer.from('{"kind": "storage#') }

const WRONG_CRC32C = crc32cBase64(Buffer.from("not these bytes"))
const WRONG_MD5 = md5Base64(Buffer.from("not these bytes"))

const misChecksummed = (reply: Reply, kind: RequestKind): Reply => {
  if (kind === "download") {
    return { ...reply, headers: { ...reply.headers, "x-goog-hash": `crc32c=${WRONG_CRC32C},md5=${WRONG_MD5}` } }
  }
  const resource = JSON.parse(reply.body.toString()) as Record<string, unknown>
  return json(reply.status, { ...resource, crc32c: WRONG_CRC32C, md5Hash: WRONG_MD5 })
}

// ---------------------------------------------------------------------------------------------
// Routing

interface Route {
  readonly kind: RequestKind
  readonly bucket: string | undefined
  readonly name: string | undefined
  readonly destination?: { readonly bucket: string; readonly name: string }
}

const route = (method: string, path: string, query: Record<string, string>): Route => {
  const segments = path.split("/").slice(1).map(decodeURIComponent)
  const upload = segments[0] === "upload"
  const rest = upload ? segments.slice(3) : segments[0] === "storage" ? segments.slice(2) : segments
  if (rest[0] !== "b" || rest[1] === undefined || rest[2] !== "o") {
    return { kind: "other", bucket: rest[0] === "b" ? rest[1] : undefined, name: undefined }
  }
  const bucket = rest[1]
  const name = rest[3]
  if (upload && method === "POST") return { kind: "upload", bucket, name: query.name }
  if (name === undefined) return { kind: "list", bucket, name: undefined }
  if (method === "POST" && rest[4] === "rewriteTo" && rest[6] !== undefined && rest[8] !== undefined) {
    return { kind: "rewrite", bucket, name, destination: { bucket: rest[6], name: rest[8] } }
  }
  if (method === "GET") return { kind: query.alt === "media" ? "download" : "metadata", bucket, name }
  if (method === "DELETE") return { kind: "delete", bucket, name }
  return { kind: "other", bucket, name }
}

/** The parts of a `multipart/related` body. */
const parseMultipart = (body: Buffer, boundary: string) => {
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: Array<{ readonly headers: string; readonly content: Buffer }> = []
  let at = body.indexOf(delimiter)
  while (at !== -1 && body.subarray(at + delimiter.length, at + delimiter.length + 2).toString() !== "--") {
    const next = body.indexOf(delimiter, at + delimiter.length)
    if (next === -1) break
    const part = body.subarray(at + delimiter.length + 2, next - 2) // without the CRLFs around it
    const split = part.indexOf("\r\n\r\n")
    parts.push({ headers: part.subarray(0, split).toString(), content: part.subarray(split + 4) })
    at = next
  }
  return parts
}

// ---------------------------------------------------------------------------------------------
// The server

export interface FakeGcsOptions {
  /** Largest page a list returns when the client does not ask for less (GCS: 1000). */
  readonly pageSize?: number
}

export interface FakeGcs {
  /** `http://127.0.0.1:PORT`, for `apiEndpoint` or `STORAGE_EMULATOR_HOST`. */
  readonly url: string
  readonly port: number
  readonly objects: FakeObjects
  readonly requests: ReadonlyArray<RecordedRequest>
  readonly faults: FaultScript
  /** Requests of one kind, e.g. to assert that a call made exactly one. */
  readonly requestsOf: (kind: RequestKind) => ReadonlyArray<RecordedRequest>
  /** The connections clients hold open to it: a cancelled request closes its own. */
  readonly connections: OpenConnections
  /** Stops the server, dropping open connections and stalled requests. */
  readonly close: () => Promise<void>
}

export const start = (options: FakeGcsOptions = {}): Promise<FakeGcs> => {
  const pageSize = options.pageSize ?? 1000
  const buckets = new Map<string, Map<string, StoredObject>>()
  const requests: Array<RecordedRequest> = []
  const faults = makeFaultQueue<Fault, FaultMatch, RecordedRequest>(matches, {})
  // Monotonic across the whole server, like GCS's microsecond generations.
  let lastGeneration = 1_700_000_000_000_000

  const bucketOf = (bucket: string) => {
    let objects = buckets.get(bucket)
    if (objects === undefined) buckets.set(bucket, objects = new Map())
    return objects
  }

  const store = (bucket: string, name: string, bytes: Buffer, contentType: string): StoredObject => {
    const object: StoredObject = {
      bucket,
      name,
      bytes,
      contentType,
      generation: String(++lastGeneration),
      updated: new Date().toISOString()
    }
    bucketOf(bucket).set(name, object)
    return object
  }

  const objects: FakeObjects = {
    put: (bucket, name, bytes, contentType = "application/octet-stream") =>
      store(bucket, name, Buffer.from(bytes), contentType).generation,
    get: (bucket, name) => buckets.get(bucket)?.get(name),
    names: (bucket) => [...(buckets.get(bucket)?.keys() ?? [])].sort(),
    remove: (bucket, name) => void buckets.get(bucket)?.delete(name)
  }

  /** The 412 reply when `ifGenerationMatch` is set and does not hold (`"0"`: must not exist). */
  const precondition = (current: StoredObject | undefined, ifGenerationMatch: string | undefined) =>
    ifGenerationMatch === undefined || ifGenerationMatch === (current?.generation ?? "0")
      ? undefined
      : errorReply(412, "At least one of the pre-conditions you specified did not hold.")

  const notFound = (bucket: string, name: string) => errorReply(404, `No such object: ${bucket}/${name}`)

  const serve = (request: RecordedRequest, target: Route, body: Buffer): Reply => {
    const { query } = request
    const bucket = target.bucket ?? ""
    const name = target.name ?? ""
    const current = objects.get(bucket, name)
    switch (target.kind) {
      case "upload": {
        if (query.uploadType !== "multipart") {
          return errorReply(400, `uploadType=${query.uploadType} is not supported here`)
        }
        if (target.name === undefined) return errorReply(400, "Required parameter: name", "required")
        const boundary = /boundary="?([^";]+)"?/.exec(request.headers["content-type"] ?? "")?.[1]
        const parts = boundary === undefined ? [] : parseMultipart(body, boundary)
        if (parts.length !== 2) return errorReply(400, "Expected a multipart/related body with metadata and media")
        const metadata = JSON.parse(parts[0].content.toString()) as { contentType?: string }
        const contentType = metadata.contentType ?? /content-type:\s*(.+)/i.exec(parts[1].headers)?.[1].trim()
        return precondition(current, query.ifGenerationMatch) ??
          json(200, objectResource(store(bucket, name, parts[1].content, contentType ?? "application/octet-stream")))
      }
      case "metadata":
      case "download": {
        const wanted = query.generation === undefined || query.generation === current?.generation
        if (current === undefined || !wanted) return notFound(bucket, name)
        const failed = precondition(current, query.ifGenerationMatch)
        if (failed !== undefined) return failed
        if (target.kind === "metadata") return json(200, objectResource(current))
        return {
          status: 200,
          headers: {
            "content-type": current.contentType,
            "x-goog-generation": current.generation,
            "x-goog-metageneration": "1",
            "x-goog-stored-content-encoding": "identity",
            "x-goog-stored-content-length": String(current.bytes.length),
            "x-goog-hash": `crc32c=${crc32cBase64(current.bytes)},md5=${md5Base64(current.bytes)}`
          },
          body: current.bytes
        }
      }
      case "list": {
        const prefix = query.prefix ?? ""
        const limit = Math.min(pageSize, Number(query.maxResults ?? pageSize))
        const after = query.pageToken === undefined ? undefined : Buffer.from(query.pageToken, "base64url").toString()
        const names = objects.names(bucket).filter((n) => n.startsWith(prefix) && (after === undefined || n > after))
        const page = names.slice(0, limit)
        const last = page.at(-1)
        return json(200, {
          kind: "storage#objects",
          items: page.map((n) => objectResource(objects.get(bucket, n)!)),
          ...(names.length > limit && last !== undefined
            ? { nextPageToken: Buffer.from(last).toString("base64url") }
            : {})
        })
      }
      case "rewrite": {
        const destination = target.destination!
        const source = query.sourceGeneration === undefined || query.sourceGeneration === current?.generation
          ? current
          : undefined
        if (source === undefined) return notFound(bucket, name)
        const failed = precondition(objects.get(destination.bucket, destination.name), query.ifGenerationMatch)
        if (failed !== undefined) return failed
        const copy = store(destination.bucket, destination.name, source.bytes, source.contentType)
        const size = String(copy.bytes.length)
        return json(200, {
          kind: "storage#rewriteResponse",
          totalBytesRewritten: size,
          objectSize: size,
          done: true,
          resource: objectResource(copy)
        })
      }
      case "delete": {
        if (current === undefined) return notFound(bucket, name)
        const failed = precondition(current, query.ifGenerationMatch)
        if (failed !== undefined) return failed
        bucketOf(bucket).delete(name)
        return { status: 204, headers: {}, body: Buffer.alloc(0) }
      }
      case "other":
        return errorReply(404, `FakeGcsServer does not serve ${request.method} ${request.path}`)
    }
  }

  const send = (response: http.ServerResponse, reply: Reply) => {
    response.writeHead(reply.status, { ...reply.headers, "content-length": String(reply.body.length) })
    response.end(reply.body)
  }


  /** The request as recorded, and where it goes: known from its headers, before its body. */
  const recordOf = (incoming: http.IncomingMessage) => {
    const url = new URL(incoming.url ?? "/", "http://127.0.0.1")
    const method = incoming.method ?? "GET"
    const query = Object.fromEntries(url.searchParams)
    const target = route(method, url.pathname, query)
    const request: RecordedRequest = {
      method,
      path: url.pathname,
      query,
      headers: incoming.headers,
      kind: target.kind,
      bucket: target.bucket,
      name: target.name
    }
    return { request, target }
  }

  const handle = (
    incoming: http.IncomingMessage,
    response: http.ServerResponse,
    { request, target }: ReturnType<typeof recordOf>,
    fault: Fault | undefined,
    body: Buffer
  ) => {
    switch (fault?.type) {
      case undefined:
        return send(response, serve(request, target, body))
      case "status":
        return send(response, errorReply(fault.status, `Injected fault: HTTP ${fault.status}`, fault.reason))
      case "reset":
        return void incoming.socket.destroy()
      case "stall":
        return // closeAllConnections() in close() ends it
      case "malformed": {
        const reply = serve(request, target, body)
        return send(response, reply.status === 200 ? damaged(reply, target.kind) : reply)
      }
      case "deep": {
        const reply = serve(request, target, body)
        const text = reply.body.toString("utf8")
        if (!text.startsWith("{") || !text.endsWith("}")) return send(response, reply)
        const deep = `${"[".repeat(fault.levels)}${"]".repeat(fault.levels)}`
        return send(response, { ...reply, body: Buffer.from(`${text.slice(0, -1)},"unread":${deep}}`) })
      }
      case "raw":
        return send(response, {
          status: fault.status,
          headers: { "content-type": "application/json; charset=UTF-8" },
          body: Buffer.from(fault.text)
        })
      case "badChecksum": {
        const reply = serve(request, target, body)
        return send(response, reply.status === 200 ? misChecksummed(reply, target.kind) : reply)
      }
      case "cutBody":
        return void incoming.socket.destroy()
      case "truncated": {
        const reply = serve(request, target, body)
        response.writeHead(reply.status, { ...reply.headers, "content-length": String(reply.body.length) })
        // Cut the connection once half of the announced body is on the wire.
        return void response.write(reply.body.subarray(0, Math.floor(reply.body.length / 2)), () =>
          incoming.socket.destroy())
      }
    }
  }

  const server = http.createServer((incoming, response) => {
    const record = recordOf(incoming)
    requests.push(record.request)
    const fault = faults.next(record.request)
    const chunks: Array<Buffer> = []
    let received = 0
    incoming.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      received += chunk.length
      if (fault?.type === "cutBody" && received >= fault.afterBytes) incoming.socket.destroy()
    })
    incoming.on("end", () => {
      try {
        handle(incoming, response, record, fault, Buffer.concat(chunks))
      } catch (error) {
        send(response, errorReply(400, `FakeGcsServer could not serve the request: ${String(error)}`))
      }
    })
  })

  const connections = trackConnections(server)

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        objects,
        requests,
        requestsOf: (kind) => requests.filter((r) => r.kind === kind),
        faults: faults.script,
        connections,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}
