/**
 * The MetaSync MCP server: the official SDK's `McpServer` with `TOOLS` registered, each tool run
 * as an Effect on a runtime that holds one `CacheLoader` (so every session and request shares one
 * in-memory copy of the document, refreshed as the loader refreshes).
 *
 * A tool that cannot answer — no document loaded yet, a corrupt one and no good copy, an unknown
 * table — answers `isError: true` with a one-line message; the server stays up. Bad arguments are
 * rejected by the SDK against the tool's JSON Schema, also as a message without a stack.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import type { CacheLoader } from "../loader/CacheLoader.ts"
import { GENERATOR } from "../version.ts"
import { TOOLS, type ToolDefinition } from "./McpTools.ts"

/** The largest answer, in characters, any tool returns; the tools' own limits keep well below it. */
export const MAX_RESPONSE_CHARS = 200_000

export const SERVER_INSTRUCTIONS = [
  "Read-only access to MetaSync's published description of BigQuery tables, for writing BigQuery SQL.",
  "Use get_prompt_context for a question first; search_tables and describe_table for more detail on a table;",
  "get_examples for validated question→SQL pairs; cache_status to see how fresh the description is."
].join(" ")

const errorResult = (message: string): CallToolResult => ({ isError: true, content: [{ type: "text", text: message }] })

/** The text a client shows: a prompt context's own text first, then the rest as JSON. */
const render = (name: string, value: unknown): CallToolResult => {
  const json = JSON.stringify(value, null, 2)
  const structured = value as Record<string, unknown>
  const content: CallToolResult["content"] = name === "get_prompt_context" && typeof structured.text === "string"
    ? [{ type: "text", text: structured.text }, { type: "text", text: JSON.stringify({ ...structured, text: undefined }) }]
    : [{ type: "text", text: json }]
  if (json.length > MAX_RESPONSE_CHARS) {
    return errorResult(`the answer is ${json.length} characters, over the limit of ${MAX_RESPONSE_CHARS}: ask for fewer items (limit)`)
  }
  return { content, structuredContent: structured }
}

/** Runs one tool; every failure becomes a message (defects are logged with their cause, on stderr). */
export const runTool = (runtime: Runtime.Runtime<CacheLoader>, tool: ToolDefinition, input: unknown) =>
  Runtime.runPromiseExit(runtime)(
    tool.run(input).pipe(Effect.withSpan(`McpTool.${tool.name}`))
  ).then(async (exit): Promise<CallToolResult> => {
    if (Exit.isSuccess(exit)) return render(tool.name, exit.value)
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "Some") return errorResult(`${failure.value._tag}: ${failure.value.message}`)
    await Runtime.runPromise(runtime)(Effect.logError(`tool ${tool.name} failed`, exit.cause))
    return errorResult(`InternalError: tool ${tool.name} failed unexpectedly; the server's log has the details`)
  })

/** A server with every tool registered, answering through `runtime`'s loader. */
export const makeMcpServer = (runtime: Runtime.Runtime<CacheLoader>, tools: ReadonlyArray<ToolDefinition> = TOOLS) => {
  const server = new McpServer(
    { name: "metasync", title: "MetaSync", version: GENERATOR.version },
    { instructions: SERVER_INSTRUCTIONS }
  )
  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.input,
        annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false }
      },
      (input: unknown) => runTool(runtime, tool, input)
    )
  }
  return server
}
