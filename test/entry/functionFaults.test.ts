/**
 * Faults in the function's own code, through the HTTP function: a request handler that throws and
 * a framework error that is not the caller's both answer a short JSON 500 with an incident id, and
 * the log entry carrying that id holds the details. The faults are made by replacing two of
 * SyncHttp.ts's functions; everything else is the real function.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { vi } from "vitest"

vi.mock("../../src/entry/SyncHttp.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/entry/SyncHttp.ts")>()
  return {
    ...original,
    parseSyncRequest: () => {
      throw new Error("a bug in the request parsing")
    },
    // Every framework error taken as the function's own fault.
    answerOfFrameworkError: (_error: unknown, incidentId: string) => original.internalError(incidentId)
  }
})

let server: Server
let base: string

beforeAll(async () => {
  process.env.METASYNC_MODE = "local"
  await import("../../src/entry/function.ts")
  const { getTestServer } = await import("@google-cloud/functions-framework/testing")
  server = getTestServer("update_metadata_cache")
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

interface InternalErrorBody {
  readonly error: { readonly tag: string; readonly message: string; readonly incident_id: string }
}

const answerAndLog = async (url: string) => {
  const lines: Array<string> = []
  const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
    lines.push(String(line))
  })
  try {
    const response = await fetch(url, { method: "POST" })
    const text = await response.text()
    return { status: response.status, text, entries: lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
  } finally {
    spy.mockRestore()
  }
}

describe("a fault in the function's own code", () => {
  it("a handler that throws answers 500 with an incident id; the log has the error under that id", async () => {
    const { entries, status, text } = await answerAndLog(base)
    expect(status).toBe(500)
    const body = JSON.parse(text) as InternalErrorBody
    expect(body.error.tag).toBe("InternalError")
    expect(body.error.incident_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(text).not.toContain("a bug in the request parsing")
    const errors = entries.filter((e) => e.severity === "ERROR")
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      message: "request failed",
      "logging.googleapis.com/labels": { incident_id: body.error.incident_id }
    })
    expect(String(errors[0].error)).toContain("a bug in the request parsing")
  })

  it("a framework error that is not the caller's answers 500; the log has it under the incident id", async () => {
    const { entries, status, text } = await answerAndLog(`${base}/%E0%A4%A`)
    expect(status).toBe(500)
    const body = JSON.parse(text) as InternalErrorBody
    expect(body.error.tag).toBe("InternalError")
    const errors = entries.filter((e) => e.severity === "ERROR")
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      message: "request failed in the framework",
      "logging.googleapis.com/labels": { incident_id: body.error.incident_id }
    })
    expect(String(errors[0].error)).toMatch(/decode/i)
  })
})
