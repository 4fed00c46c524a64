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
import { type Alert, type AlertOutcome, AlertService } from "./AlertService.ts"

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
}

// ---------------------------------------------------------------------------------------------
// The message

const KIND_HEADLINES: Record<Alert["kind"], string> = {
  sync_failed: "Sync failed — nothing was published",
  sync_partial: "Sync published with tables missing",
  breaking_drift: "Breaking schema drift",
  stale_cache: "The published cache is stale"
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

/** The URL's host, or a problem: only http(s) URLs with a host are webhooks. */
export const webhookHost = (url: string): Either.Either<string, string> => {
  if (!URL.canParse(url)) return Either.left("expected the webhook's http(s) URL")
  const parsed = new URL(url)
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return Either.left(`expected an http(s) URL, not ${parsed.protocol}`)
  }
  return parsed.host === "" ? Either.left("the URL has no host") : Either.right(parsed.host)
}

type WebhookError = RemoteUnavailable | RemoteTimeout | PermissionDenied | ResourceNotFound | RemoteRejected

const networkCode = (error: unknown): string => {
  const cause = (error as { cause?: { code?: unknown; name?: unknown } } | null)?.cause
  return typeof cause?.code === "string" ? cause.code : typeof cause?.name === "string" ? cause.name : "network error"
}

const make = (options: WebhookAlertsOptions) =>
  Effect.gen(function*() {
    const windowMillis = Duration.toMillis(options.window ?? Duration.hours(6))
    const maxPerWindow = options.maxPerWindow ?? 5
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(10))
    const url = Redacted.value(options.url)
    const host = Either.getOrElse(webhookHost(url), () => "(invalid webhook URL)")
    // The receiver's reply is shown in warnings; it should never echo the URL's secret parts, but make sure.
    const secrets = [url, ...(URL.canParse(url) ? [new URL(url).pathname, new URL(url).search] : [])]
      .filter((part) => part.length > 1)
    const scrub = (text: string) => secrets.reduce((scrubbed, secret) => scrubbed.replaceAll(secret, "…"), text)
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

    const post = (body: string) =>
      Effect.tryPromise({
        try: async (signal) => {
          const response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json; charset=utf-8" },
            body,
            signal
          })
          return { status: response.status, reply: clip(scrub(await response.text()), 200) }
        },
        catch: (error) =>
          new RemoteUnavailable({
            ...call,
            status: null,
            reason: networkCode(error),
            message: `the webhook at ${host} could not be reached (${networkCode(error)})`,
            attempts: 1
          })
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new RemoteTimeout({ ...call, timeout_ms: Duration.toMillis(timeout), attempts: 1 })
        }),
        Effect.flatMap(({ reply, status }) => {
          const refusal = refusalOf(status, reply)
          return refusal === undefined ? Effect.void : Effect.fail(refusal)
        })
      )

    /** The error for a reply that is not a 2xx. */
    const refusalOf = (status: number, reply: string): WebhookError | undefined => {
      if (status >= 200 && status < 300) return undefined
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
 * Reads `ALERT_WEBHOOK_URL` (absent or blank: alerting is disabled), `ALERT_WINDOW_HOURS`,
 * `ALERT_MAX_PER_WINDOW` and `ALERT_DEPLOYMENT` (default: `K_SERVICE`, the Cloud Function's name).
 */
const fromConfig: Layer.Layer<AlertService, InvalidConfig> = Layer.unwrapEffect(
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
    const problem = Either.getLeft(webhookHost(url))
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
      ...(deployment === undefined ? {} : { deployment })
    })
  })
)

export const WebhookAlerts = { layer, layerFromConfig: fromConfig } as const
