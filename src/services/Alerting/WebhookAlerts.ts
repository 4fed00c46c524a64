/**
 * Alerts as Slack-compatible webhook messages (`{ text, blocks }`; Slack, Google Chat and most
 * chat tools' incoming webhooks accept the `text` field).
 *
 * Rate limit: at most one message per (kind, target) per window, and at most `maxPerWindow`
 * messages per window overall, so one bad night is one message. A message that could not be
 * delivered does not count, so the next sync tries again.
 *
 * The webhook URL is a secret (its path is the token): only its host ever reaches a log or an error.
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import { InvalidConfig } from "../../config/InvalidConfig.ts"
import {
  PermissionDenied,
  RemoteRejected,
  RemoteTimeout,
  RemoteUnavailable,
  ResourceNotFound,
  TRANSIENT_STATUSES
} from "../RemoteErrors.ts"
import * as http from "node:http"
import * as https from "node:https"
import { makeSecretScrubber, urlSecrets } from "../SecretScrubber.ts"
import { type Alert, type AlertOutcome, AlertService } from "./AlertService.ts"
import {
  pinnedLookup,
  type ResolvedAddress,
  resolveDestination,
  staticProblem,
  UnsafeWebhookDestination,
  type WebhookDestinationOptions
} from "./WebhookDestination.ts"

export interface WebhookAlertsOptions {
  readonly url: Redacted.Redacted<string>
  /** How long a sent alert holds back its repeats, and the span of the overall cap (default 6 hours). */
  readonly window?: Duration.DurationInput
  /** Messages per window, all kinds and targets together (default 5). */
  readonly maxPerWindow?: number
  /** Deadline of one delivery (default 10 seconds). */
  readonly timeout?: Duration.DurationInput
  /** Which MetaSync this is (e.g. the Cloud Function's name), shown in every message. */
  readonly deployment?: string
  /** How the webhook's host is resolved, and the tests' opt-in to a local receiver; strict by default. */
  readonly destination?: WebhookDestinationOptions
}

// ---------------------------------------------------------------------------------------------
// The message

const KIND_HEADLINES: Record<Alert["kind"], string> = {
  sync_failed: "Sync failed — nothing was published",
  sync_partial: "Sync published with tables missing",
  breaking_drift: "Breaking schema drift",
  stale_cache: "The published cache is stale",
  future_document: "The published cache is dated in the future"
}

const LISTED = 10

/** Slack's mrkdwn reserves `&`, `<` and `>`. */
const escape = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

const listed = (lines: ReadonlyArray<string>) =>
  [
    ...lines.slice(0, LISTED).map((line) => `• ${clip(line, 300)}`),
    ...(lines.length > LISTED ? [`…and ${lines.length - LISTED} more`] : [])
  ].join("\n")

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** The one-line summary and the longer detail of an alert. */
const describe = (alert: Alert): { readonly summary: string; readonly detail: string } => {
  switch (alert.kind) {
    case "sync_failed":
      return {
        summary: `${alert.error.tag}: ${clip(alert.error.message, 300)}`,
        detail: `${alert.error.tag}: ${clip(alert.error.message, 1500)}`
      }
    case "sync_partial": {
      const ids = alert.failed_tables.map((t) => t.table_id)
      return {
        summary: `${plural(ids.length, "table")} failed: ${clip(ids.join(", "), 300)}`,
        detail: listed(alert.failed_tables.map((t) => `${t.table_id} — ${t.tag}: ${t.message}`))
      }
    }
    case "breaking_drift":
      return {
        summary: `${plural(alert.changes.length, "breaking change")}: ${clip(alert.changes.join("; "), 300)}`,
        detail: listed(alert.changes)
      }
    case "stale_cache": {
      const age = `generated at ${alert.generated_at}, ${alert.age_hours.toFixed(1)} hours old`
      return {
        summary: `${age} (threshold ${alert.threshold_hours} hours)`,
        detail: `The document was ${age}; it should be at most ${alert.threshold_hours} hours old.`
      }
    }
    case "future_document": {
      const found = `generated at ${alert.generated_at}, ${alert.ahead_hours.toFixed(1)} hours ahead of the clock (now ${alert.now})`
      const outcome = alert.replaced
        ? "this sync replaced it"
        : "every sync will replace it; until then the backend flags it expired"
      return {
        summary: `${found}; ${outcome}`,
        detail: `The document was ${found}, more than ${alert.max_skew_minutes} minutes ahead: a wrong clock or a hand-edited file wrote it, and ${outcome}.`
      }
    }
  }
}

/** The webhook body: a `text` fallback line and blocks for clients that render them. */
export const slackMessage = (alert: Alert, deployment?: string) => {
  const { detail, summary } = describe(alert)
  const source = deployment === undefined ? "MetaSync" : `MetaSync ${deployment}`
  const context = [
    `kind: \`${alert.kind}\``,
    `target: \`${alert.target}\``,
    ...(deployment === undefined ? [] : [`deployment: \`${deployment}\``])
  ].join(" · ")
  return {
    text: escape(`[${source}] ${alert.kind} on ${alert.target} — ${summary}`),
    blocks: [
      {
        type: "section",
        text: { type: "mrkdwn", text: clip(`*${escape(KIND_HEADLINES[alert.kind])}*\n${escape(detail)}`, 3000) }
      },
      { type: "context", elements: [{ type: "mrkdwn", text: escape(context) }] }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** The URL's host, or a problem: only https URLs of public hosts are webhooks (see `WebhookDestination`). */
export const webhookHost = (url: string, destination: WebhookDestinationOptions = {}): Either.Either<string, string> => {
  if (!URL.canParse(url)) return Either.left("expected the webhook's https URL")
  const parsed = new URL(url)
  const problem = staticProblem(parsed, destination)
  return problem === undefined ? Either.right(parsed.host) : Either.left(problem)
}

type WebhookError =
  | RemoteUnavailable
  | RemoteTimeout
  | PermissionDenied
  | ResourceNotFound
  | RemoteRejected
  | UnsafeWebhookDestination

const networkCode = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : error instanceof Error ? error.name : "network error"
}

/** The most of a reply read: enough to show why it failed. */
const MAX_REPLY_BYTES = 64 * 1024

interface WebhookReply {
  readonly status: number
  readonly body: string
}

/**
 * POSTs `body` to `url`, connecting to `address` (already judged) whatever DNS says now. No
 * redirect is followed: node's http client never does.
 */
const postTo = (url: URL, address: ResolvedAddress, body: string, signal: AbortSignal): Promise<WebhookReply> =>
  new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? https.request : http.request)(url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) },
      lookup: pinnedLookup(address),
      signal
    }, (response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        if (size < MAX_REPLY_BYTES) chunks.push(chunk)
        size += chunk.byteLength
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }))
      response.on("error", reject)
    })
    request.on("error", reject)
    request.end(body)
  })

const make = (options: WebhookAlertsOptions) =>
  Effect.gen(function*() {
    const windowMillis = Duration.toMillis(options.window ?? Duration.hours(6))
    const maxPerWindow = options.maxPerWindow ?? 5
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(10))
    const destination = options.destination ?? {}
    const url = Redacted.value(options.url)
    const host = URL.canParse(url) ? new URL(url).host : "(invalid webhook URL)"
    // The receiver's reply is shown in warnings; it should never echo the URL's secret parts
    // (Slack's token is a path segment), but make sure.
    const secrets = makeSecretScrubber(urlSecrets(url))
    const call = { service: "webhook", operation: "POST", resource: host } as const

    interface SentRecord {
      readonly key: string
      readonly at: number
    }
    /** Messages sent within the last window (older ones are dropped as time passes). */
    const sent = yield* Ref.make<ReadonlyArray<SentRecord>>([])

    /** Takes a slot for the alert, or none when the rate limit holds it back. */
    const reserve = (key: string, now: number) =>
      Ref.modify(sent, (records): [Option.Option<SentRecord>, ReadonlyArray<SentRecord>] => {
        const recent = records.filter((r) => now - r.at < windowMillis)
        if (recent.length >= maxPerWindow || recent.some((r) => r.key === key)) return [Option.none(), recent]
        const record = { key, at: now }
        return [Option.some(record), [...recent, record]]
      })
    const release = (record: SentRecord) => Ref.update(sent, (records) => records.filter((r) => r !== record))

    const unreachable = (error: unknown) =>
      new RemoteUnavailable({
        ...call,
        status: null,
        reason: networkCode(error),
        message: `the webhook at ${host} could not be reached (${networkCode(error)})`,
        attempts: 1
      })

    /** Judges the destination (resolving its host once), then posts to the very address judged. */
    const post = (body: string): Effect.Effect<void, WebhookError> =>
      Effect.tryPromise({
        try: () => (URL.canParse(url) ? resolveDestination(new URL(url), destination) : Promise.reject(new Error("invalid URL"))),
        catch: unreachable
      }).pipe(
        Effect.flatMap((resolved): Effect.Effect<WebhookReply, WebhookError> =>
          resolved instanceof UnsafeWebhookDestination
            ? Effect.fail(resolved)
            : Effect.tryPromise({ try: (signal) => postTo(new URL(url), resolved, body, signal), catch: unreachable })
        ),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new RemoteTimeout({ ...call, timeout_ms: Duration.toMillis(timeout), attempts: 1 })
        }),
        Effect.flatMap(({ body: reply, status }) => {
          const refusal = refusalOf(status, secrets.excerpt(reply, 200))
          return refusal === undefined ? Effect.void : Effect.fail(refusal)
        })
      )

    /** The error for a reply that is not a 2xx. */
    const refusalOf = (status: number, reply: string): WebhookError | undefined => {
      if (status >= 200 && status < 300) return undefined
      if (status >= 300 && status < 400) {
        // A redirect would re-send the alert (a 307 re-POSTs it) wherever the receiver points: never followed.
        return new RemoteRejected({
          ...call,
          status,
          reason: "redirect",
          message: `the webhook at ${host} answered ${status}, a redirect, which is not followed`
        })
      }
      const message = `the webhook at ${host} answered ${status}: ${reply}`
      if (TRANSIENT_STATUSES.has(status)) {
        return new RemoteUnavailable({ ...call, status, reason: String(status), message, attempts: 1 })
      }
      if (status === 401 || status === 403) return new PermissionDenied({ ...call, status, message })
      if (status === 404 || status === 410) return new ResourceNotFound({ ...call, message })
      return new RemoteRejected({ ...call, status, reason: reply, message })
    }

    const notify = Effect.fn("AlertService.notify")(function*(alert: Alert) {
      const now = yield* Clock.currentTimeMillis
      const slot = yield* reserve(`${alert.kind}\u0000${alert.target}`, now)
      if (Option.isNone(slot)) {
        yield* Effect.logInfo("alert suppressed by the rate limit")
        return "suppressed" as AlertOutcome
      }
      return yield* post(JSON.stringify(slackMessage(alert, options.deployment))).pipe(
        Effect.as<AlertOutcome>("sent"),
        Effect.tap(() => Effect.logInfo(`alert sent to the webhook at ${host}`)),
        Effect.catchAll((error) =>
          release(slot.value).pipe(
            Effect.zipRight(Effect.logWarning(`alert not delivered: ${error.message}`).pipe(
              Effect.annotateLogs("error", error._tag)
            )),
            Effect.as<AlertOutcome>("failed")
          )
        )
      )
    }, (effect, alert) => Effect.annotateLogs(effect, { alert_kind: alert.kind, alert_target: alert.target }))

    return AlertService.of({ notify })
  })

// ---------------------------------------------------------------------------------------------
// Layers

/** Posts alerts to a webhook; the rate limit's state belongs to this layer instance. */
const layer = (options: WebhookAlertsOptions): Layer.Layer<AlertService> => Layer.effect(AlertService, make(options))

const positiveNumber = (value: string): Either.Either<number, string> =>
  /^\d+(\.\d+)?$/.test(value) && Number(value) > 0
    ? Either.right(Number(value))
    : Either.left("expected a number of hours greater than 0")

const positiveInteger = (value: string): Either.Either<number, string> =>
  /^\d+$/.test(value) && Number.isSafeInteger(Number(value)) && Number(value) > 0
    ? Either.right(Number(value))
    : Either.left("expected a whole number greater than 0")

const check = <A>(variable: string, value: string, parse: (value: string) => Either.Either<A, string>) =>
  Either.match(parse(value), {
    onLeft: (problem) => Effect.fail(new InvalidConfig({ variable, value, problem })),
    onRight: Effect.succeed
  })

/** A variable that is unset or blank is absent. */
const present = <A>(config: Config.Config<A>, text: (a: A) => string) =>
  Config.option(config).pipe(Config.map(Option.filter((a) => text(a).trim().length > 0)))

/**
 * Reads `ALERT_WEBHOOK_URL` (absent or blank: alerting is disabled; else an https URL of a public
 * host), `ALERT_WINDOW_HOURS`, `ALERT_MAX_PER_WINDOW` and `ALERT_DEPLOYMENT` (default: `K_SERVICE`,
 * the Cloud Function's name). `destination` is for tests only (an injected resolver, a local receiver).
 */
const fromConfig = (destination: WebhookDestinationOptions = {}): Layer.Layer<AlertService, InvalidConfig> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const env = yield* Config.all({
        url: present(Config.redacted("ALERT_WEBHOOK_URL"), Redacted.value),
        windowHours: present(Config.string("ALERT_WINDOW_HOURS"), String),
        maxPerWindow: present(Config.string("ALERT_MAX_PER_WINDOW"), String),
        deployment: present(Config.string("ALERT_DEPLOYMENT"), String),
        service: present(Config.string("K_SERVICE"), String)
      }).pipe(Effect.orDie) // only `Config.option` reads: nothing here can be a ConfigError.
      if (Option.isNone(env.url)) return AlertService.Disabled

      const url = Redacted.value(env.url.value).trim()
      const problem = Either.getLeft(webhookHost(url, destination))
      if (Option.isSome(problem)) {
        // Show the scheme and host at most: the rest of the URL is the secret.
        const shown = URL.canParse(url) ? `${new URL(url).protocol}//${new URL(url).host}/…` : "(hidden: the URL is a secret)"
        return yield* new InvalidConfig({ variable: "ALERT_WEBHOOK_URL", value: shown, problem: problem.value })
      }
      const windowHours = Option.isSome(env.windowHours)
        ? yield* check("ALERT_WINDOW_HOURS", env.windowHours.value, positiveNumber)
        : 6
      const maxPerWindow = Option.isSome(env.maxPerWindow)
        ? yield* check("ALERT_MAX_PER_WINDOW", env.maxPerWindow.value, positiveInteger)
        : 5
      const deployment = Option.getOrUndefined(Option.orElse(env.deployment, () => env.service))
      return layer({
        url: Redacted.make(url),
        window: Duration.millis(windowHours * 3_600_000),
        maxPerWindow,
        destination,
        ...(deployment === undefined ? {} : { deployment })
      })
    })
  )

export const WebhookAlerts = {
  layer,
  /** The alerting the environment asks for, to public https webhooks only. */
  layerFromConfig: fromConfig(),
  /** The same, with a test's destination options (an injected resolver, a local receiver). */
  layerFromConfigWith: fromConfig
} as const
