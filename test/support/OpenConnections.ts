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
  /**
   * Requests received and not answered whose connection is still open: a stalled request the
   * client gave up on stays here until the client closes its socket (idle keep-alive connections,
   * which `count` includes, do not).
   */
  readonly unanswered: () => number
  /** Resolves once `unanswered()` is 0. */
  readonly allAnswered: () => Promise<void>
}

export const trackConnections = (server: http.Server): OpenConnections => {
  const sockets = new Set<Socket>()
  const pending = new Set<http.ServerResponse>()
  const waiters = new Set<{ readonly reached: () => boolean; readonly done: () => void }>()
  const settle = () => {
    for (const waiter of waiters) {
      if (waiter.reached()) {
        waiters.delete(waiter)
        waiter.done()
      }
    }
  }
  const waitFor = (reached: () => boolean) =>
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
  // A response closes when it is sent, or when its connection closes before that.
  server.on("request", (_request: http.IncomingMessage, response: http.ServerResponse) => {
    pending.add(response)
    response.once("close", () => {
      pending.delete(response)
      settle()
    })
  })
  return {
    count: () => sockets.size,
    downTo: (count) => waitFor(() => sockets.size <= count),
    upTo: (count) => waitFor(() => sockets.size >= count),
    unanswered: () => pending.size,
    allAnswered: () => waitFor(() => pending.size === 0)
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

/** Succeeds once no request the server received is left open unanswered (same bound as `allClosed`). */
export const noneLeftOpen = (connections: OpenConnections) =>
  Effect.promise(() => connections.allAnswered()).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () =>
        new Error(`${connections.unanswered()} unanswered request(s) still open: abandoned by the client, not cancelled`)
    })
  )
