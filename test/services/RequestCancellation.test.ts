/**
 * `cancelledOnAbort` on its own: the HTTP requests started inside it are destroyed when its signal
 * aborts — those in flight, and those started after the abort — and nothing outside it is touched.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { cancelledOnAbort } from "../../src/services/RequestCancellation.ts"
import { allClosed, trackConnections } from "../support/OpenConnections.ts"

/** A server that never answers, and its open connections; closed with the scope. */
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly server: http.Server; readonly url: string; readonly connections: ReturnType<typeof trackConnections> }>(
    (resume) => {
      const server = http.createServer(() => undefined)
      const connections = trackConnections(server)
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, connections, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` })))
    }
  ),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      server.closeAllConnections()
    })
)

/** What a request ends with: its error's code, or "answered". */
const outcome = (request: http.ClientRequest) =>
  new Promise<string>((resolve) => {
    request.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    request.once("response", () => resolve("answered"))
  })

describe("cancelledOnAbort", () => {
  it.scopedLive("destroys a request in flight when the signal aborts", () =>
    Effect.gen(function*() {
      const { connections, url } = yield* silentServer
      const controller = new AbortController()
      const request = cancelledOnAbort(controller.signal, () => http.get(url))
      const ended = outcome(request)
      yield* Effect.promise(() => connections.upTo(1))

      controller.abort()
      expect(yield* Effect.promise(() => ended)).toBe("ECANCELED")
      yield* allClosed(connections)
    }))

  it.scopedLive("destroys a request started after the signal aborted (a follow-up of a cut call)", () =>
    Effect.gen(function*() {
      const { connections, url } = yield* silentServer
      const controller = new AbortController()
      controller.abort()
      const request = cancelledOnAbort(controller.signal, () => http.get(url))
      expect(yield* Effect.promise(() => outcome(request))).toBe("ECANCELED")
      yield* allClosed(connections)
    }))

  it.scopedLive("leaves requests started outside it alone", () =>
    Effect.gen(function*() {
      const { connections, url } = yield* silentServer
      const controller = new AbortController()
      cancelledOnAbort(controller.signal, () => undefined)
      const outside = http.get(url)
      outside.on("error", () => undefined)
      yield* Effect.promise(() => connections.upTo(1))

      controller.abort()
      expect(outside.destroyed).toBe(false)
      outside.destroy()
    }))
})
