/**
 * Cancelling the HTTP requests a Google client call makes, when the call is interrupted (its
 * deadline passed, or the run was stopped).
 *
 * Neither client can be told to: both send their REST calls through teeny-request, which drops an
 * `AbortSignal` from the request options and whose `abort()` (what `makeAuthenticatedRequest`
 * hands back) does nothing. A call cut by its deadline would leave its request — and its socket —
 * open until the server answered, keeping a CLI process alive and a function instance's sockets
 * busy.
 *
 * So the requests are found where Node creates them: every `http.ClientRequest` is announced on a
 * diagnostics channel, synchronously, in the async context that created it. A call runs inside an
 * `AsyncLocalStorage` scope holding its `AbortSignal`; each request created in that scope (the
 * client's retries and follow-up requests included) is destroyed when the signal aborts, or at
 * once if it already has. A destroyed request closes its socket instead of returning it to the
 * keep-alive pool.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import * as diagnosticsChannel from "node:diagnostics_channel"
import type { ClientRequest } from "node:http"

const currentCall = new AsyncLocalStorage<AbortSignal>()

/** What a cancelled request fails with, should anything still be listening. */
const cancelled = () =>
  Object.assign(new Error("request cancelled: its call was cut by a deadline or interrupted"), { code: "ECANCELED" })

const cancel = (request: ClientRequest) => {
  if (!request.destroyed) request.destroy(cancelled())
}

const track = (request: ClientRequest) => {
  const signal = currentCall.getStore()
  if (signal === undefined) return
  // Announced from the request's constructor: destroyed once that has returned.
  if (signal.aborted) return void process.nextTick(cancel, request)
  const onAbort = () => cancel(request)
  signal.addEventListener("abort", onAbort, { once: true })
  request.once("close", () => signal.removeEventListener("abort", onAbort))
}

const seen = new WeakSet<ClientRequest>()

const onRequest = (message: unknown) => {
  const request = (message as { readonly request?: ClientRequest }).request
  if (request === undefined || seen.has(request)) return
  seen.add(request)
  track(request)
}

let subscribed = false

/** `created` is published by the request's constructor (Node ≥ 22.12); `start` by older Nodes too. */
const subscribe = () => {
  if (subscribed) return
  subscribed = true
  diagnosticsChannel.subscribe("http.client.request.created", onRequest)
  diagnosticsChannel.subscribe("http.client.request.start", onRequest)
}

/**
 * Runs `send` (which starts a client call) so that every HTTP request the call makes is destroyed
 * when `signal` aborts. Use with the signal `Effect.tryPromise` or `Effect.async` provides: it
 * aborts when the effect is interrupted, by `Effect.timeout` among others.
 */
export const cancelledOnAbort = <A>(signal: AbortSignal, send: () => A): A => {
  subscribe()
  return currentCall.run(signal, send)
}
