import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { type Alert, AlertService } from "../../src/services/Alerting/AlertService.ts"
import { WebhookAlerts, type WebhookAlertsOptions } from "../../src/services/Alerting/WebhookAlerts.ts"
import type { WebhookDestinationOptions } from "../../src/services/Alerting/WebhookDestination.ts"
import { type FakeWebhookReceiver, start } from "../support/FakeWebhookReceiver.ts"

const TARGET = "gs://metasync-prod/metadata_cache.json"

const syncFailed: Alert = {
  kind: "sync_failed",
  error: { tag: "RemoteUnavailable", message: "storage objects.insert on gs://metasync-prod/metadata_cache.json: 503 <backendError>" },
  target: TARGET
}
const syncPartial: Alert = {
  kind: "sync_partial",
  failed_tables: [
    { table_id: "nlq-ex.sales.orders", tag: "ResourceNotFound", message: "Not found: Table nlq-ex:sales.orders" },
    { table_id: "nlq-ex.sales.refunds", tag: "PermissionDenied", message: "Access Denied: Table nlq-ex:sales.refunds" }
  ],
  target: TARGET
}
const breakingDrift: Alert = {
  kind: "breaking_drift",
  changes: ["events_20210131: column event_params removed", "events_20210131: user_id changed from STRING to INT64"],
  target: TARGET
}
const staleCache: Alert = {
  kind: "stale_cache",
  generated_at: "2026-11-20T03:00:00.000Z",
  age_hours: 49.25,
  threshold_hours: 26,
  target: TARGET
}

const futureDocument: Alert = {
  kind: "future_document",
  generated_at: "2099-01-01T00:00:00.000Z",
  now: "2026-11-27T17:00:00.000Z",
  ahead_hours: 632551,
  max_skew_minutes: 5,
  replaced: true,
  target: TARGET
}

const receiver = Effect.acquireRelease(
  Effect.promise(() => start()),
  (fake) => Effect.promise(() => fake.close())
)

/** The tests' opt-in to their local receiver (http on 127.0.0.1), which configuration cannot make. */
const LOCAL_RECEIVER = { allowLoopbackForTests: true } as const

/** The live layer pointed at the fake receiver. */
const alertsFor = (fake: FakeWebhookReceiver, options: Omit<WebhookAlertsOptions, "url"> = {}) =>
  Effect.provide(AlertService, WebhookAlerts.layer({ url: Redacted.make(fake.url), destination: LOCAL_RECEIVER, ...options }))

/** Log lines as logfmt text, to assert on exactly what an operator would read. */
const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.replace(Logger.defaultLogger, Logger.map(Logger.logfmtLogger, (line) => void lines.push(line)))
  return { lines, layer }
}

const texts = (fake: FakeWebhookReceiver): ReadonlyArray<string> => fake.messages().map((m) => m.text)

describe("WebhookAlerts", () => {
  describe("messages", () => {
    it.scopedLive("posts a Slack-compatible message for each kind, naming the deployment, the target and the facts", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const logs = captureLogs()
        const alerts = yield* alertsFor(fake, { deployment: "metasync-prod" })

        for (const alert of [syncFailed, syncPartial, breakingDrift, staleCache, futureDocument]) {
          expect(yield* alerts.notify(alert).pipe(Effect.provide(logs.layer))).toBe("sent")
        }
        expect(logs.lines.map((line) => /message="([^"]*)".* alert_kind=(\w+)/.exec(line)?.slice(1))).toEqual(
          ["sync_failed", "sync_partial", "breaking_drift", "stale_cache", "future_document"].map((kind) => [
            `alert sent to the webhook at ${fake.host}`,
            kind
          ])
        )

        expect(fake.requests.map((r) => [r.method, r.path, r.contentType])).toEqual(
          Array(5).fill(["POST", fake.secretPath, "application/json; charset=utf-8"])
        )
        const [failed, partial, drift, stale, future] = fake.messages()
        for (
          const [message, kind] of [
            [failed, "sync_failed"],
            [partial, "sync_partial"],
            [drift, "breaking_drift"],
            [stale, "stale_cache"],
            [future, "future_document"]
          ]
        ) {
          expect(message.text).toContain(`[MetaSync metasync-prod] ${kind} on ${TARGET}`)
          expect(message.blocks[0].type).toBe("section")
          expect(message.blocks[1].elements[0].text).toBe(
            `kind: \`${kind}\` · target: \`${TARGET}\` · deployment: \`metasync-prod\``
          )
        }

        // mrkdwn's reserved characters are escaped, so the error shows as written.
        expect(failed.text).toContain("RemoteUnavailable: storage objects.insert")
        expect(failed.text).toContain("503 &lt;backendError&gt;")
        expect(failed.blocks[0].text.text).toContain("*Sync failed — nothing was published*")

        expect(partial.text).toContain("2 tables failed: nlq-ex.sales.orders, nlq-ex.sales.refunds")
        expect(partial.blocks[0].text.text).toContain("• nlq-ex.sales.refunds — PermissionDenied: Access Denied")

        expect(drift.text).toContain("2 breaking changes: events_20210131: column event_params removed; ")
        expect(drift.blocks[0].text.text).toContain("• events_20210131: user_id changed from STRING to INT64")

        expect(stale.text).toContain("generated at 2026-11-20T03:00:00.000Z, 49.3 hours old (threshold 26 hours)")

        // A document from the future is no "-632551.0 hours old" stale cache: it says when it claims and when it is now.
        expect(future.text).toContain(
          "generated at 2099-01-01T00:00:00.000Z, 632551.0 hours ahead of the clock (now 2026-11-27T17:00:00.000Z); this sync replaced it"
        )
        expect(future.text).not.toContain("hours old")
        expect(future.blocks[0].text.text).toContain("*The published cache is dated in the future*")
        expect(future.blocks[0].text.text).toContain("more than 5 minutes ahead")
      }))

    it.scopedLive("says a document from the future that was only found will be replaced by the next sync", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* alertsFor(fake)
        expect(yield* alerts.notify({ ...futureDocument, replaced: false }).pipe(Effect.provide(captureLogs().layer))).toBe("sent")
        expect(fake.messages()[0].text).toContain(
          "(now 2026-11-27T17:00:00.000Z); every sync will replace it; until then the backend flags it expired"
        )
      }))

    it.scopedLive("lists at most ten tables or changes in the message", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* alertsFor(fake)
        const changes = Array.from({ length: 13 }, (_, i) => `column c${i} removed`)

        expect(yield* alerts.notify({ kind: "breaking_drift", changes, target: TARGET }).pipe(Effect.provide(captureLogs().layer)))
          .toBe("sent")

        const [message] = fake.messages()
        expect(message.text).toContain(`[MetaSync] breaking_drift on ${TARGET} — 13 breaking changes`)
        const detail: string = message.blocks[0].text.text
        expect(detail).toContain("• column c9 removed\n…and 3 more")
        expect(detail).not.toContain("c10")
      }))
  })

  describe("rate limit", () => {
    it.scoped("sends the same alert once per window, and again once the window has passed", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* alertsFor(fake)

        expect(yield* alerts.notify(syncFailed)).toBe("sent")
        expect(yield* alerts.notify(syncFailed)).toBe("suppressed")
        yield* TestClock.adjust("359 minutes")
        expect(yield* alerts.notify(syncFailed)).toBe("suppressed")
        expect(fake.messages()).toHaveLength(1)

        yield* TestClock.adjust("1 minute")
        expect(yield* alerts.notify(syncFailed)).toBe("sent")
        expect(fake.messages()).toHaveLength(2)
      }))

    it.scoped("limits each kind and each target separately", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* alertsFor(fake)
        const otherTarget = "gs://metasync-staging/metadata_cache.json"

        expect(yield* alerts.notify(syncFailed)).toBe("sent")
        expect(yield* alerts.notify(staleCache)).toBe("sent")
        expect(yield* alerts.notify({ ...syncFailed, target: otherTarget })).toBe("sent")

        expect(texts(fake).map((text) => text.split(" — ")[0])).toEqual([
          `[MetaSync] sync_failed on ${TARGET}`,
          `[MetaSync] stale_cache on ${TARGET}`,
          `[MetaSync] sync_failed on ${otherTarget}`
        ])
      }))

    it.scoped("sends at most maxPerWindow messages per window overall", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* alertsFor(fake, { maxPerWindow: 3, window: "1 hour" })
        const forBucket = (n: number): Alert => ({ ...syncFailed, target: `gs://bucket-${n}/metadata_cache.json` })

        const outcomes = []
        for (const n of [1, 2, 3, 4]) outcomes.push(yield* alerts.notify(forBucket(n)))
        expect(outcomes).toEqual(["sent", "sent", "sent", "suppressed"])

        yield* TestClock.adjust("1 hour")
        expect(yield* alerts.notify(forBucket(4))).toBe("sent")
        expect(texts(fake).map((text) => text.split(" on ")[1].split(" — ")[0])).toEqual([
          "gs://bucket-1/metadata_cache.json",
          "gs://bucket-2/metadata_cache.json",
          "gs://bucket-3/metadata_cache.json",
          "gs://bucket-4/metadata_cache.json"
        ])
      }))

    it.scoped("does not count an alert that was not delivered, so the next sync tries again", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* alertsFor(fake)
        fake.failNext({ type: "status", status: 503 })

        expect(yield* alerts.notify(syncFailed)).toBe("failed")
        expect(yield* alerts.notify(syncFailed)).toBe("sent")
        expect(fake.requests.map((r) => r.answer)).toEqual([503, 200])
      }))
  })

  describe("a failing webhook", () => {
    // Only the stall gets a short deadline: the others must be answered, however busy the machine.
    const cases = [
      { name: "500", fault: { type: "status", status: 500 }, timeout: "30 seconds", says: "answered 500: Internal Server Error" },
      { name: "404 (webhook revoked)", fault: { type: "status", status: 404, body: "no_service" }, timeout: "30 seconds", says: "answered 404: no_service" },
      { name: "a reset connection", fault: { type: "reset" }, timeout: "30 seconds", says: "could not be reached (ECONNRESET)" },
      { name: "no answer before the deadline", fault: { type: "stall" }, timeout: "300 millis", says: "did not answer within 300 ms" }
    ] as const

    for (const { fault, name, says, timeout } of cases) {
      it.scopedLive(`reports ${name} as "failed" with a warning that hides the URL's secret path`, () =>
        Effect.gen(function*() {
          const fake = yield* receiver
          const logs = captureLogs()
          const alerts = yield* alertsFor(fake, { timeout })
          fake.failNext(fault)

          const exit = yield* Effect.exit(alerts.notify(syncFailed).pipe(Effect.provide(logs.layer)))

          expect(exit).toEqual(Exit.succeed("failed"))
          const warnings = logs.lines.filter((line) => line.includes("level=WARN"))
          expect(warnings).toHaveLength(1)
          expect(warnings[0]).toContain("alert not delivered: ")
          expect(warnings[0]).toContain(fake.host)
          expect(warnings[0]).toContain(says)
          expect(warnings[0]).toContain("alert_kind=sync_failed")
          for (const line of logs.lines) {
            expect(line).not.toContain(fake.secretPath)
            expect(line).not.toContain("s3cr3tT0ken")
          }
        }))
    }

    it.scopedLive("does not show a secret the receiver echoes back", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const logs = captureLogs()
        const alerts = yield* alertsFor(fake)
        fake.failNext({ type: "status", status: 400, body: `invalid_payload for ${fake.url}` })

        expect(yield* alerts.notify(breakingDrift).pipe(Effect.provide(logs.layer))).toBe("failed")
        expect(logs.lines.join("\n")).toContain("answered 400: invalid_payload for <redacted>")
        expect(logs.lines.join("\n")).not.toContain("s3cr3tT0ken")
      }))
  })

  describe("configuration", () => {
    const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromJson(env))
    const notifyWithEnv = (env: Record<string, string>, alert: Alert, destination: WebhookDestinationOptions = LOCAL_RECEIVER) =>
      Effect.flatMap(Effect.provide(AlertService, WebhookAlerts.layerFromConfigWith(destination)), (alerts) => alerts.notify(alert)).pipe(
        withEnv(env)
      )

    it.effect("the Disabled layer sends nothing", () =>
      Effect.gen(function*() {
        const alerts = yield* Effect.provide(AlertService, AlertService.Disabled)
        expect(yield* alerts.notify(syncFailed)).toBe("disabled")
      }))

    it.scopedLive("disables alerting when ALERT_WEBHOOK_URL is absent or blank", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        expect(yield* notifyWithEnv({}, syncFailed)).toBe("disabled")
        expect(yield* notifyWithEnv({ ALERT_WEBHOOK_URL: "  ", ALERT_WINDOW_HOURS: "1" }, syncFailed)).toBe("disabled")
        expect(fake.requests).toHaveLength(0)
      }))

    it.scoped("posts to ALERT_WEBHOOK_URL, names ALERT_DEPLOYMENT or K_SERVICE, and limits per ALERT_WINDOW_HOURS", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const alerts = yield* Effect.provide(AlertService, WebhookAlerts.layerFromConfigWith(LOCAL_RECEIVER)).pipe(
          withEnv({ ALERT_WEBHOOK_URL: fake.url, ALERT_WINDOW_HOURS: "1.5", K_SERVICE: "metasync-sync" })
        )

        expect(yield* alerts.notify(staleCache)).toBe("sent")
        yield* TestClock.adjust("89 minutes")
        expect(yield* alerts.notify(staleCache)).toBe("suppressed")
        yield* TestClock.adjust("1 minute")
        expect(yield* alerts.notify(staleCache)).toBe("sent")
        expect(texts(fake).map((text) => text.split(" on ")[0])).toEqual(Array(2).fill("[MetaSync metasync-sync] stale_cache"))

        expect(
          yield* notifyWithEnv({ ALERT_WEBHOOK_URL: fake.url, ALERT_DEPLOYMENT: "nightly", K_SERVICE: "x" }, syncPartial)
        ).toBe("sent")
        expect(texts(fake)[2]).toContain("[MetaSync nightly] sync_partial")
      }))

    it.effect("refuses a webhook URL that is not https, without showing its secret", () =>
      Effect.gen(function*() {
        for (const url of ["ftp://hooks.example.com/services/s3cr3tT0ken", "hooks.example.com/services/s3cr3tT0ken"]) {
          const error = yield* Effect.flip(notifyWithEnv({ ALERT_WEBHOOK_URL: url }, syncFailed))
          expect(error._tag).toBe("InvalidConfig")
          expect(error.message).toMatch(/^ALERT_WEBHOOK_URL is ".*": expected .*https/)
          expect(error.message).not.toContain("s3cr3tT0ken")
        }
        const ftp = yield* Effect.flip(notifyWithEnv({ ALERT_WEBHOOK_URL: "ftp://hooks.example.com/services/s3cr3tT0ken" }, syncFailed))
        expect(ftp.message).toBe(
          "ALERT_WEBHOOK_URL is \"ftp://hooks.example.com/…\": expected an https URL, not ftp: (alerts carry run details, and the URL's path is a secret)"
        )
      }))

    it.effect("refuses a malformed ALERT_WINDOW_HOURS or ALERT_MAX_PER_WINDOW, naming the variable", () =>
      Effect.gen(function*() {
        const url = "https://hooks.example.com/services/s3cr3tT0ken"
        const window = yield* Effect.flip(notifyWithEnv({ ALERT_WEBHOOK_URL: url, ALERT_WINDOW_HOURS: "soon" }, syncFailed))
        expect(window.message).toBe("ALERT_WINDOW_HOURS is \"soon\": expected a number of hours greater than 0")
        const max = yield* Effect.flip(notifyWithEnv({ ALERT_WEBHOOK_URL: url, ALERT_MAX_PER_WINDOW: "0" }, syncFailed))
        expect(max.message).toBe("ALERT_MAX_PER_WINDOW is \"0\": expected a whole number greater than 0")
      }))
  })

  describe("where a webhook may point", () => {
    const TOKEN_PATH = "/services/T0FAKE/B0FAKE/s3cr3tT0ken"
    const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromJson(env))
    /** The layer production builds: no resolver given, no local receiver allowed. */
    const configure = (url: string, destination?: WebhookDestinationOptions) =>
      Effect.flip(
        Effect.provide(AlertService, destination === undefined ? WebhookAlerts.layerFromConfig : WebhookAlerts.layerFromConfigWith(destination))
          .pipe(withEnv({ ALERT_WEBHOOK_URL: url }))
      )

    /** A resolver answering from a table, counting its calls: no real DNS in tests. */
    const fixedResolver = (table: Record<string, ReadonlyArray<string> | ((call: number) => ReadonlyArray<string>)>) => {
      const calls: Array<string> = []
      const resolve = async (hostname: string) => {
        calls.push(hostname)
        const entry = table[hostname]
        const addresses = typeof entry === "function" ? entry(calls.length) : entry ?? []
        return addresses.map((address) => ({ address, family: address.includes(":") ? 6 as const : 4 as const }))
      }
      return { calls, resolve }
    }

    it.effect("refuses at start plain http, loopback, private, link-local, CGNAT, unspecified and metadata addresses, saying why", () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [string, string]> = [
          ["http://hooks.example.com", "expected an https URL, not http:"],
          ["https://127.0.0.1", "127.0.0.1 is a loopback address"],
          ["https://2130706433", "127.0.0.1 is a loopback address"], // a decimal IPv4 literal
          ["https://[::1]", "::1 is a loopback address"],
          ["https://localhost", "localhost is an internal name"],
          ["https://10.20.30.40", "10.20.30.40 is a private address"],
          ["https://172.16.0.1", "172.16.0.1 is a private address"],
          ["https://172.31.255.254", "172.31.255.254 is a private address"],
          ["https://192.168.1.10", "192.168.1.10 is a private address"],
          ["https://[fd00:ec2::254]", "fd00:ec2::254 is a private (unique local) address"],
          ["https://169.254.169.254", "169.254.169.254 is a link-local address (the cloud metadata server is 169.254.169.254)"],
          ["https://[fe80::1]", "fe80::1 is a link-local address"],
          ["https://[::ffff:169.254.169.254]", "is a link-local address"],
          ["https://100.64.0.1", "100.64.0.1 is a carrier-grade NAT (shared) address"],
          ["https://0.0.0.0", "0.0.0.0 is the unspecified address"],
          ["https://[::]", ":: is the unspecified address"],
          ["https://metadata.google.internal", "metadata.google.internal is an internal name"],
          ["https://metadata.google.internal.", "is an internal name"]
        ]
        for (const [origin, says] of cases) {
          const error = yield* configure(`${origin}${TOKEN_PATH}`)
          expect(error._tag, origin).toBe("InvalidConfig")
          expect(error.message, origin).toMatch(/^ALERT_WEBHOOK_URL is "/)
          expect(error.message, origin).toContain(says)
          expect(error.message, origin).not.toContain("s3cr3tT0ken")
        }
        // Public hosts pass; 172.32/12 and 100.128/10 are outside the refused ranges.
        for (const origin of ["https://hooks.slack.com", "https://172.32.0.1", "https://100.128.0.1", "https://[2001:db8::1]"]) {
          // (`configure` flips: its failure is a layer that was built.)
          expect(Exit.isFailure(yield* Effect.exit(configure(`${origin}${TOKEN_PATH}`))), origin).toBe(true)
        }
      }))

    it.scoped("refuses the tests' own local receiver unless the test opts in, and even then refuses metadata", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        expect((yield* configure(fake.url)).message).toContain("expected an https URL, not http:")
        expect((yield* configure(fake.url.replace("http:", "https:"))).message).toContain("127.0.0.1 is a loopback address")
        expect((yield* configure(`https://169.254.169.254${TOKEN_PATH}`, LOCAL_RECEIVER)).message).toContain("is a link-local address")
        expect(fake.requests).toHaveLength(0)
      }))

    it.scopedLive("resolves the host at delivery and refuses a name with any internal address, calling nothing", () =>
      Effect.gen(function*() {
        const logs = captureLogs()
        const dns = fixedResolver({
          "hooks.example.com": ["10.0.0.7"],
          "mixed.example.com": ["203.0.113.10", "169.254.169.254"],
          "v6.example.com": ["fd12:3456::1"]
        })
        for (const host of ["hooks.example.com", "mixed.example.com", "v6.example.com"]) {
          const alerts = yield* Effect.provide(
            AlertService,
            WebhookAlerts.layer({ url: Redacted.make(`https://${host}${TOKEN_PATH}`), destination: { resolve: dns.resolve } })
          )
          expect(yield* alerts.notify(syncFailed).pipe(Effect.provide(logs.layer))).toBe("failed")
        }
        expect(dns.calls).toEqual(["hooks.example.com", "mixed.example.com", "v6.example.com"])
        const warnings = logs.lines.filter((line) => line.includes("level=WARN"))
        expect(warnings).toHaveLength(3)
        expect(warnings[0]).toContain("alert not delivered: the webhook at hooks.example.com was not called: hooks.example.com resolves to 10.0.0.7, a private address")
        expect(warnings[0]).toContain("error=UnsafeWebhookDestination")
        expect(warnings[1]).toContain("mixed.example.com resolves to 169.254.169.254, a link-local address")
        expect(warnings[2]).toContain("v6.example.com resolves to fd12:3456::1, a private (unique local) address")
        for (const line of logs.lines) expect(line).not.toContain("s3cr3tT0ken")
      }))

    it.scopedLive("connects to the address it checked, resolving once per delivery, so a rebinding name cannot swap it", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const port = new URL(fake.url).port
        // The first answer is the (test-allowed) receiver; every later one is the metadata server.
        const dns = fixedResolver({ "hooks.example.test": (call) => (call === 1 ? ["127.0.0.1"] : ["169.254.169.254"]) })
        const alerts = yield* Effect.provide(
          AlertService,
          WebhookAlerts.layer({
            url: Redacted.make(`http://hooks.example.test:${port}${fake.secretPath}`),
            destination: { ...LOCAL_RECEIVER, resolve: dns.resolve }
          })
        )
        // Only the injected resolver knows this name: the request went to the address it answered.
        expect(yield* alerts.notify(syncFailed)).toBe("sent")
        expect(dns.calls).toEqual(["hooks.example.test"])
        expect(fake.messages()).toHaveLength(1)
        // The next delivery resolves again, and is refused before any connection.
        expect(yield* alerts.notify(staleCache)).toBe("failed")
        expect(dns.calls).toHaveLength(2)
        expect(fake.requests).toHaveLength(1)
      }))

    it.scopedLive("never follows a redirect: a 3xx is a failed delivery, logged, and the target sees nothing", () =>
      Effect.gen(function*() {
        const fake = yield* receiver
        const elsewhere = yield* receiver
        const logs = captureLogs()
        const alerts = yield* alertsFor(fake, { maxPerWindow: 10 })
        const statuses = [301, 302, 303, 307, 308]
        for (const status of statuses) {
          fake.failNext({ type: "status", status, body: "moved", headers: { location: elsewhere.url } })
          const outcome = yield* alerts.notify({ ...syncFailed, target: `gs://bucket-${status}/metadata_cache.json` })
            .pipe(Effect.provide(logs.layer))
          expect(outcome, String(status)).toBe("failed")
        }
        expect(elsewhere.requests).toEqual([])
        expect(fake.requests.map((r) => r.answer)).toEqual(statuses)
        const warnings = logs.lines.filter((line) => line.includes("level=WARN"))
        expect(warnings.map((line) => /answered (\d+), a redirect, which is not followed/.exec(line)?.[1])).toEqual(statuses.map(String))
      }))
  })
})
