/**
 * The connections a local test server holds open, to show that a client closed its socket (a
 * cancelled request) rather than leaving it to the server.
 */
import * as Effect from "effect/Effect"
import type * as http from "node:http"
import type { Socket } from "node:net"

export interface OpenConnections {
  /** Connections open right now, idle keep-alive ones included. */
  readonly count: () => number
  /** Resolves once at most `count` connections are open (the server saw the others close). */
  readonly downTo: (count: number) => Promise<void>
  /** Resolves once at least `count` connections are open. */
  readonly upTo: (count: number) => Promise<void>
}

export const trackConnections = (server: http.Server): OpenConnections => {
  const sockets = new Set<Socket>()
  const waiters = new Set<{ readonly reached: (open: number) => boolean; readonly done: () => void }>()
  const settle = () => {
    for (const waiter of waiters) {
      if (waiter.reached(sockets.size)) {
        waiters.delete(waiter)
        waiter.done()
      }
    }
  }
  const waitFor = (reached: (open: number) => boolean) =>
    new Promise<void>((done) => {
      waiters.add({ reached, done })
      settle()
    })
  server.on("connection", (socket: Socket) => {
    sockets.add(socket)
    settle()
    socket.once("close", () => {
      sockets.delete(socket)
      settle()
    })
  })
  return {
    count: () => sockets.size,
    downTo: (count) => waitFor((open) => open <= count),
    upTo: (count) => waitFor((open) => open >= count)
  }
}

/**
 * Succeeds once every connection to the server is closed. Event-driven: it returns as soon as they
 * are; the bound only turns a socket left open into a failure instead of a hang.
 */
export const allClosed = (connections: OpenConnections) =>
  Effect.promise(() => connections.downTo(0)).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () =>
        new Error(`${connections.count()} connection(s) still open: a request was abandoned, not cancelled`)
    })
  )
