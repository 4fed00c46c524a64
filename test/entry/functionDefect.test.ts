/**
 * A defect inside the sync, through the HTTP function: the answer is a short JSON error with an
 * incident id, and the details (the defect's stack) are in the log entry carrying that id.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { Server } from "node:http"
import type { AddressInfo } from "node:net"
import { vi } from "vitest"

vi.mock("../../src/sync/notify.ts", async () => {
  const Effect = await import("effect/Effect")
  return { syncAndNotify: () => Effect.die(new Error("a bug in the sync")) }
})

let server: Server
let base: string
const savedNodeEnv = process.env.NODE_ENV

beforeAll(async () => {
  // Express and functions-framework show more outside production; the function must not.
  process.env.NODE_ENV = "development"
  process.env.METASYNC_MODE = "local"
  await import("../../src/entry/function.ts")
  const { getTestServer } = await import("@google-cloud/functions-framework/testing")
  server = getTestServer("update_metadata_cache")
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  if (savedNodeEnv === undefined) delete process.env.NODE_ENV
  else process.env.NODE_ENV = savedNodeEnv
})

describe("a defect inside the sync", () => {
  it("answers 500 with a short JSON error and an incident id; the details go to the log under that id", async () => {
    const lines: Array<string> = []
    const spy = vi.spyOn(console, "log").mockImplementation((line: unknown) => {
      lines.push(String(line))
    })
    let response: Response
    let text: string
    try {
      response = await fetch(base, { method: "POST" })
      text = await response.text()
    } finally {
      spy.mockRestore()
    }

    expect(response.status).toBe(500)
    const body = JSON.parse(text) as { error: { tag: string; message: string; incident_id: string } }
    expect(body.error.tag).toBe("InternalError")
    expect(body.error.incident_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(text).not.toContain("a bug in the sync")
    expect(text).not.toMatch(/\n\s+at \S|\.ts:\d+|\.js:\d+/)

    const entry = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((e) => e.severity === "ERROR")
    expect(entry).toMatchObject({
      message: "sync failed",
      "logging.googleapis.com/labels": { incident_id: body.error.incident_id }
    })
    expect(String(entry?.error)).toContain("a bug in the sync")
  })
})
