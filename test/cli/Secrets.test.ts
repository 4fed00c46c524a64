/**
 * Secrets never reach the output: the webhook URL's path (its token) and the Anthropic API key stay
 * out of stdout, stderr and log lines, even when the servers behind them fail and echo the request
 * back; and a failing webhook or LLM never fails the sync.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { WebhookAlerts } from "../../src/services/Alerting/WebhookAlerts.ts"
import { AlertService } from "../../src/services/Alerting/AlertService.ts"
import { AnthropicExampleGenerator } from "../../src/services/ExampleGenerator/AnthropicExampleGenerator.ts"
import { makeSecretScrubber, REDACTED, urlSecrets } from "../../src/services/SecretScrubber.ts"
import {
  ageLatestDocument,
  type CliResult,
  type CliWorkspace,
  makeCliWorkspace,
  PROJECT_ROOT,
  SAMPLE_TABLE_FILE,
  SAMPLE_TABLE_ID
} from "../support/CliRunner.ts"
import { LOCAL_RECEIVER_CHILD_ENV } from "../support/FakeWebhookReceiver.ts"
import { ga4Table } from "../support/TestLayers.ts"

const WEBHOOK_PATH = "/services/T000/B000/SECRETTOKEN123"
const API_KEY = "sk-ant-SECRET-KEY-456"
/** Any part of either secret that identifies it: both secrets' own parts contain this word. */
const SECRET_WORD = "SECRET"
/** The key without its `sk-ant-` prefix: what identifies it. */
const API_KEY_BODY = "SECRET-KEY-456"
const WEBHOOK_TOKEN = "SECRETTOKEN123"

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64").replace(/=+$/, "")
/** The encoded forms an echoing server sends back below; none may be printed either. */
const ENCODED_SECRETS = [base64(API_KEY), base64(API_KEY_BODY), base64(WEBHOOK_PATH), base64(WEBHOOK_TOKEN)]

const SLOW = 180_000

interface EchoRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
}

interface EchoServer {
  readonly base: string
  readonly requests: ReadonlyArray<EchoRequest>
  readonly close: () => Promise<void>
}

interface EchoReply {
  readonly body: string
  readonly headers?: Readonly<Record<string, string>>
}

/**
 * What a careless proxy's error page echoes: the secrets it saw in every form (the key without
 * its prefix, base64-encoded, the webhook token alone), in the body and in a `request-id` header,
 * then the whole request.
 */
const echoEverything = (request: EchoRequest): EchoReply => {
  const key = typeof request.headers["x-api-key"] === "string" ? request.headers["x-api-key"] : ""
  const keyBody = key.replace(/^sk-ant-/, "")
  const token = request.url.split("/").pop() ?? ""
  const forms = key.length > 0 ? [keyBody, base64(key), base64(keyBody)] : [token, base64(request.url), base64(token)]
  return {
    body: [...forms, JSON.stringify(request)].join(" "),
    headers: { "request-id": key.length > 0 ? `req_${keyBody}` : `req_${base64(token)}` }
  }
}

/**
 * A server that fails every request with 500, its reply made by `reply` from the request (by
 * default: the secrets and the request echoed back, as a careless proxy's error page does).
 */
const startFailingServer = (
  reply: (request: EchoRequest, index: number) => string | EchoReply = echoEverything
): Promise<EchoServer> => {
  const requests: Array<EchoRequest> = []
  const server = http.createServer((request, response) => {
    request.resume()
    request.on("end", () => {
      const seen = { method: request.method ?? "", url: request.url ?? "", headers: request.headers }
      requests.push(seen)
      const answer = reply(seen, requests.length - 1)
      const { body, headers = {} } = typeof answer === "string" ? { body: answer } : answer
      response.writeHead(500, { "content-type": "text/plain", ...headers }).end(body)
    })
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      resolve({
        base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()))
})

const failingServer = async (reply?: Parameters<typeof startFailingServer>[0]) => {
  const server = await startFailingServer(reply)
  cleanups.push(server.close)
  return server
}

const workspace = async () => {
  const ws = await makeCliWorkspace()
  cleanups.push(ws.remove)
  return ws
}

const expectExit = (result: CliResult, code: number) => {
  if (result.code !== code) {
    throw new Error(`expected exit ${code}, got ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`)
  }
}

/** Neither secret, nor a recognisable part of one, anywhere in what the command printed. */
const expectNoSecrets = (result: CliResult) => {
  const printed = result.stdout + result.stderr
  expect(printed).not.toContain(API_KEY)
  expect(printed).not.toContain(WEBHOOK_PATH)
  expect(printed).not.toContain("SECRETTOKEN123")
  expect(printed).not.toContain("/services/T000/B000")
  expect(printed).not.toContain(SECRET_WORD)
  for (const encoded of ENCODED_SECRETS) expect(printed).not.toContain(encoded)
}

const SHAKESPEARE = "my-proj.samples.shakespeare"

/** A workspace whose first sync published two tables; then one table is gone and the other changed. */
const partialWorkspace = async () => {
  const ws = await workspace()
  await fs.copyFile(
    path.join(PROJECT_ROOT, "test/fixtures/bigquery/samples.shakespeare.schema.json"),
    path.join(ws.tablesDir, `${SHAKESPEARE}.json`)
  )
  const env = { TARGET_TABLES: `${SAMPLE_TABLE_ID},${SHAKESPEARE}` }
  expectExit(await ws.run(["sync"], env), 0)
  await fs.rm(path.join(ws.tablesDir, `${SHAKESPEARE}.json`))
  const file = path.join(ws.tablesDir, SAMPLE_TABLE_FILE)
  const definition = JSON.parse(await fs.readFile(file, "utf8")) as { schema: { fields: Array<{ name: string }> } }
  definition.schema.fields = definition.schema.fields.filter((f) => f.name !== "event_value_in_usd")
  await fs.writeFile(file, JSON.stringify(definition))
  return { ws, env }
}

const secretEnv = (webhook: EchoServer, anthropic: EchoServer) => ({
  ...LOCAL_RECEIVER_CHILD_ENV,
  ALERT_WEBHOOK_URL: `${webhook.base}${WEBHOOK_PATH}`,
  LLM_EXAMPLES: "anthropic",
  ANTHROPIC_API_KEY: API_KEY,
  ANTHROPIC_BASE_URL: anthropic.base,
  // One retry of the failing LLM call is enough to show retries stay quiet too, and keeps the run short.
  RETRY_MAX_ATTEMPTS: "2"
})

describe("a sync whose webhook and LLM both fail", () => {
  it("publishes, and prints neither the webhook token nor the API key", async () => {
    const webhook = await failingServer()
    const anthropic = await failingServer()
    const { env, ws } = await partialWorkspace()

    const result = await ws.run(["sync"], { ...env, ...secretEnv(webhook, anthropic) })

    // Partial (one table is gone), not failed: the failing webhook and LLM cost nothing but their output.
    expectExit(result, 3)
    expect(result.stdout).toMatch(/^Published \(partial\) 2 tables/)
    expect(result.stdout).toContain(`failed: ${SHAKESPEARE}: ResourceNotFound`)
    expect(result.stdout).toContain("Drift: 1 changes, 1 breaking")
    // Both failures happened, and were reported…
    expect(result.stderr).toContain(`alert not delivered: the webhook at ${webhook.base.slice(7)} answered 500`)
    expect(result.stderr).toContain(`LLM examples for ${SAMPLE_TABLE_ID} skipped: Anthropic answered 500`)
    // …to servers that did see the secrets, and echoed them back in their error replies…
    expect(webhook.requests.map((r) => [r.method, r.url])).toEqual([["POST", WEBHOOK_PATH], ["POST", WEBHOOK_PATH]])
    expect(anthropic.requests).toHaveLength(2)
    expect(anthropic.requests.every((r) => r.headers["x-api-key"] === API_KEY)).toBe(true)
    // …yet nothing printed shows them.
    expectNoSecrets(result)
  }, SLOW)

  it("prints neither secret as JSON either", async () => {
    const webhook = await failingServer()
    const anthropic = await failingServer()
    const { env, ws } = await partialWorkspace()
    const result = await ws.run(["sync", "--json"], { ...env, ...secretEnv(webhook, anthropic) })
    expectExit(result, 3)
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "partial" })
    expect(webhook.requests.length).toBeGreaterThan(0)
    expect(anthropic.requests.length).toBeGreaterThan(0)
    expectNoSecrets(result)
  }, SLOW)

  it("keeps the token out of a stale check whose alert fails", async () => {
    const webhook = await failingServer()
    const ws: CliWorkspace = await workspace()
    expectExit(await ws.run(["sync"]), 0)
    await ageLatestDocument(ws, 72)

    const result = await ws.run(["check", "--max-age-hours", "1"], {
      ...LOCAL_RECEIVER_CHILD_ENV,
      ALERT_WEBHOOK_URL: `${webhook.base}${WEBHOOK_PATH}`
    })
    expectExit(result, 4)
    expect(result.stdout).toContain("STALE (alert failed)")
    expect(webhook.requests).toHaveLength(1)
    expectNoSecrets(result)
  }, SLOW)
})

describe("a malformed secret setting", () => {
  it("names the webhook variable without showing the URL's path", async () => {
    const ws = await workspace()
    const result = await ws.run(["sync"], { ALERT_WEBHOOK_URL: `ftp://hooks.example.com${WEBHOOK_PATH}` })
    expectExit(result, 2)
    expect(result.stderr).toContain(
      "metasync: InvalidConfig: ALERT_WEBHOOK_URL is \"ftp://hooks.example.com/…\": expected an https URL, not ftp:"
    )
    expectNoSecrets(result)

    const unparseable = await ws.run(["sync"], { ALERT_WEBHOOK_URL: `hooks.example.com${WEBHOOK_PATH}` })
    expectExit(unparseable, 2)
    expect(unparseable.stderr).toContain("metasync: InvalidConfig: ALERT_WEBHOOK_URL is \"(hidden: the URL is a secret)\"")
    expectNoSecrets(unparseable)
  })

  it("refuses a webhook inside the network at start, saying why, unless a test preloads its opt-in", async () => {
    const webhook = await failingServer()
    const ws = await workspace()
    const local = await ws.run(["sync"], { ALERT_WEBHOOK_URL: `${webhook.base}${WEBHOOK_PATH}` })
    expectExit(local, 2)
    expect(local.stderr).toContain(
      `metasync: InvalidConfig: ALERT_WEBHOOK_URL is "${webhook.base}/…": expected an https URL, not http:`
    )
    expectNoSecrets(local)

    const metadata = await ws.run(["sync"], { ALERT_WEBHOOK_URL: `https://169.254.169.254${WEBHOOK_PATH}` })
    expectExit(metadata, 2)
    expect(metadata.stderr).toContain(
      "metasync: InvalidConfig: ALERT_WEBHOOK_URL is \"https://169.254.169.254/…\": 169.254.169.254 is a link-local address"
    )
    expectNoSecrets(metadata)
    // The test-only preload allows loopback, and nothing more.
    const preloaded = await ws.run(["sync"], { ...LOCAL_RECEIVER_CHILD_ENV, ALERT_WEBHOOK_URL: `https://10.1.2.3${WEBHOOK_PATH}` })
    expectExit(preloaded, 2)
    expect(preloaded.stderr).toContain("10.1.2.3 is a private address")
    expect(webhook.requests).toHaveLength(0)
  }, SLOW)
})

describe("SecretScrubber", () => {
  it("removes a secret in every form it is echoed in, before cutting", () => {
    const scrubber = makeSecretScrubber([API_KEY, ...urlSecrets(`https://hooks.example.com${WEBHOOK_PATH}?x=1`)])
    const echoes = [
      API_KEY,
      API_KEY_BODY,
      encodeURIComponent(API_KEY),
      WEBHOOK_TOKEN,
      "T000/B000",
      base64(API_KEY),
      base64(API_KEY_BODY),
      Buffer.from(API_KEY).toString("base64url"),
      base64(WEBHOOK_TOKEN),
      // Inside a longer encoded text, at each of the three alignments (as in `Authorization: Basic …`).
      base64(`user:${API_KEY}`),
      base64(`us:${API_KEY}`),
      base64(`u:${API_KEY}!`),
      base64(`POST ${WEBHOOK_PATH} HTTP/1.1`),
      base64(`x${WEBHOOK_PATH}`)
    ]
    for (const echo of echoes) {
      const scrubbed = scrubber.scrub(`before ${echo} after`)
      expect(scrubbed, echo).toContain(REDACTED)
      expect(scrubbed, echo).not.toContain(SECRET_WORD)
      // What is left of an encoded echo decodes to no part of the secret.
      const decoded = Buffer.from(scrubbed.replace(REDACTED, ""), "base64").toString("latin1")
      expect(decoded, echo).not.toContain("SECR")
    }
    // Ordinary text is left alone, and a cut never leaves the start of a secret behind.
    expect(scrubber.scrub("Upstream error: 500")).toBe("Upstream error: 500")
    for (let cut = 1; cut < 40; cut++) expect(scrubber.excerpt(`${"x".repeat(cut)}${API_KEY}`, 30)).not.toContain("sk-ant-S")
  })
})

/** Log lines (message and annotations) written while `effect` runs. */
const capturingLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const logged: Array<string> = []
    const capture = Logger.make(({ annotations, message }) => {
      const annotated = HashMap.toEntries(annotations).map(([key, value]) => ` ${key}=${String(value)}`).join("")
      logged.push(`${Array.isArray(message) ? message.join(" ") : String(message)}${annotated}`)
    })
    const result = yield* Effect.provide(effect, Logger.replace(Logger.defaultLogger, capture))
    return [result, logged] as const
  })

describe("a reply that echoes a secret in a header or in another form", () => {
  it.live("keeps the API key out of the request-id and the reply, however encoded", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => failingServer())
      const generator = yield* AnthropicExampleGenerator.make({
        apiKey: Redacted.make(API_KEY),
        model: "claude-test",
        baseUrl: server.base,
        timeout: "30 seconds",
        maxTokens: 100,
        maxCallsPerRun: 1
      })
      const error = yield* Effect.flip(generator.generate({ table: ga4Table(), curated: [], language: "en", count: 1 }))
      // The server did see the key, and answered with it in its request-id header and its body.
      expect(server.requests[0].headers["x-api-key"]).toBe(API_KEY)
      expect(error.message).toMatch(/^Anthropic answered 500 http_500: /)
      expect(error.message).toContain(`(request-id req_${REDACTED})`)
      const shown = [error.message, String(error), JSON.stringify(error)].join("\n")
      expect(shown).not.toContain(SECRET_WORD)
      for (const encoded of ENCODED_SECRETS) expect(shown).not.toContain(encoded)
    }))

  it.live("keeps the webhook's path segments out of the warning, however encoded", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => failingServer())
      const [outcome, logged] = yield* capturingLogs(
        Effect.flatMap(AlertService, (alerts) => alerts.notify({ kind: "sync_failed", error: { tag: "Test", message: "test" }, target: "t" }))
          .pipe(Effect.provide(WebhookAlerts.layer({
            url: Redacted.make(`${server.base}${WEBHOOK_PATH}`),
            destination: { allowLoopbackForTests: true }
          })))
      )
      expect(outcome).toBe("failed")
      expect(server.requests.map((r) => r.url)).toEqual([WEBHOOK_PATH])
      const warning = logged.find((line) => line.startsWith("alert not delivered: "))
      expect(warning).toContain(`answered 500: ${REDACTED}`)
      expect(logged.join("\n")).not.toContain(SECRET_WORD)
      for (const encoded of ENCODED_SECRETS) expect(logged.join("\n")).not.toContain(encoded)
    }))
})

/** Where a long error page echoes the secret: at every offset from 0 to this, one request each. */
const OFFSETS = 400

describe("an error reply that echoes a secret deep in a long page", () => {
  // The reply is scrubbed before it is cut: a key straddling the cut must not leave its start behind.
  it.live("never shows part of the API key in the error", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() =>
        failingServer((request, index) => `${"Upstream error. ".repeat(30).slice(0, index)}${String(request.headers["x-api-key"])} rejected`)
      )
      const generator = yield* AnthropicExampleGenerator.make({
        apiKey: Redacted.make(API_KEY),
        model: "claude-test",
        baseUrl: server.base,
        timeout: "10 seconds",
        maxTokens: 100,
        maxCallsPerRun: OFFSETS + 1
      })
      const messages: Array<string> = []
      for (let offset = 0; offset <= OFFSETS; offset++) {
        const error = yield* Effect.flip(generator.generate({ table: ga4Table(), curated: [], language: "en", count: 1 }))
        messages.push(error.message)
      }
      expect(server.requests).toHaveLength(OFFSETS + 1)
      expect(messages.every((m) => m.startsWith("Anthropic answered 500 http_500: "))).toBe(true)
      const leaking = messages.flatMap((m, offset) => (m.includes(SECRET_WORD) ? [offset] : []))
      expect(leaking, `offsets whose error shows part of the key: ${leaking.join(", ")}`).toEqual([])
    }), SLOW)

  // Likewise for the webhook: the token is scrubbed from the reply before the reply is cut.
  it.live("never shows part of the webhook token in the warning", () =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() =>
        failingServer((request, index) => `${"Cannot handle. ".repeat(30).slice(0, index)}POST ${request.url}`)
      )
      const [outcomes, logged] = yield* capturingLogs(
        Effect.gen(function*() {
          const alerts = yield* AlertService
          const outcomes: Array<string> = []
          for (let offset = 0; offset <= OFFSETS; offset++) {
            outcomes.push(
              yield* alerts.notify({ kind: "sync_failed", error: { tag: "Test", message: "test" }, target: `target-${offset}` })
            )
          }
          return outcomes
        }).pipe(
          Effect.provide(WebhookAlerts.layer({
            url: Redacted.make(`${server.base}${WEBHOOK_PATH}`),
            maxPerWindow: OFFSETS + 1,
            destination: { allowLoopbackForTests: true }
          }))
        )
      )
      expect(server.requests).toHaveLength(OFFSETS + 1)
      expect(outcomes.every((o) => o === "failed")).toBe(true)
      const warnings = logged.filter((line) => line.startsWith("alert not delivered: "))
      expect(warnings).toHaveLength(OFFSETS + 1)
      const leaking = warnings.flatMap((line, offset) => (line.includes(SECRET_WORD) ? [offset] : []))
      expect(leaking, `offsets whose warning shows part of the token: ${leaking.join(", ")}`).toEqual([])
    }), SLOW)
})
