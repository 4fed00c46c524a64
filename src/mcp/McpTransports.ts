/**
 * The MCP server's two transports, kept thin: stdio for a client that starts the server as a child
 * process, and Streamable HTTP (stateless: one server per request, all sharing the loader) for a
 * service such as Cloud Run. Both run until interrupted (or, for stdio, until stdin closes).
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { CacheLoader } from "../loader/CacheLoader.ts"
import { makeMcpServer } from "./McpServer.ts"
import { cacheStatus } from "./McpTools.ts"

/** Serves MCP on this process's stdin and stdout until stdin closes; logs must go to stderr. */
export const serveStdio = (runtime: Runtime.Runtime<CacheLoader>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = makeMcpServer(runtime)
      const transport = new StdioServerTransport()
      await server.connect(transport)
      return { server, transport }
    }),
    ({ server }) => Effect.promise(() => server.close())
  ).pipe(
    Effect.zipRight(
      Effect.async<void>((resume) => {
        const done = () => resume(Effect.void)
        process.stdin.once("end", done)
        process.stdin.once("close", done)
        return Effect.sync(() => {
          process.stdin.off("end", done)
          process.stdin.off("close", done)
        })
      })
    ),
    Effect.scoped
  )

export interface HttpOptions {
  readonly host: string
  /** 0 picks a free port; the one chosen is logged. */
  readonly port: number
  /** The path MCP is served at; default `/mcp`. */
  readonly path?: string | undefined
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"])

const sendJson = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

/**
 * Serves MCP over Streamable HTTP at `http://host:port/mcp` (POST; GET and DELETE answer 405, as a
 * stateless server has no stream to resume or session to end), and `GET /healthz` with the cache's
 * status. Bound to a loopback address, requests must name it in `Host` (DNS rebinding protection).
 */
export const serveHttp = (runtime: Runtime.Runtime<CacheLoader>, options: HttpOptions) =>
  Effect.gen(function*() {
    const mcpPath = options.path ?? "/mcp"
    const loopback = LOOPBACK.has(options.host)
    let allowedHosts: Array<string> | undefined

    const handleMcp = async (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.method !== "POST") {
        return sendJson(res, 405, {
          jsonrpc: "2.0",
          error: { code: -32000, message: "Method not allowed: this stateless server takes POST only" },
          id: null
        }, { allow: "POST" })
      }
      const server = makeMcpServer(runtime)
      // No session id generator: stateless, so any instance behind a load balancer can answer.
      const transport = new StreamableHTTPServerTransport({
        enableJsonResponse: true,
        ...(allowedHosts === undefined ? {} : { enableDnsRebindingProtection: true, allowedHosts })
      })
      res.on("close", () => {
        void transport.close()
        void server.close()
      })
      await server.connect(transport)
      await transport.handleRequest(req, res)
    }

    const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      const work = url.pathname === mcpPath
        ? handleMcp(req, res)
        : url.pathname === "/healthz" && req.method === "GET"
        ? Runtime.runPromise(runtime)(cacheStatus).then((status) => sendJson(res, 200, status))
        : Promise.resolve(sendJson(res, 404, { error: `not found: ${url.pathname}; MCP is served at ${mcpPath}` }))
      work.catch((error: unknown) => {
        Runtime.runFork(runtime)(Effect.logError(`MCP HTTP request to ${url.pathname} failed`, error))
        if (res.headersSent) return res.end()
        sendJson(res, 500, { jsonrpc: "2.0", error: { code: -32603, message: "Internal server error" }, id: null })
      })
    }

    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server, Error>((resume) => {
        const server = http.createServer(handle)
        server.once("error", (error) => resume(Effect.fail(error)))
        server.listen(options.port, options.host, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const port = (server.address() as AddressInfo).port
    if (loopback) allowedHosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]
    const shown = options.host.includes(":") ? `[${options.host}]` : options.host
    yield* Effect.logInfo(`MetaSync MCP server listening on http://${shown}:${port}${mcpPath}`)
    return yield* Effect.never
  }).pipe(Effect.scoped)
