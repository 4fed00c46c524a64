/**
 * Log output for the entry points: JSON lines that Cloud Logging reads as structured entries
 * (`severity`, `message`, labels) in the function, readable lines on stderr in a terminal.
 */
import * as Cause from "effect/Cause"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

const SEVERITY: Record<string, string> = {
  TRACE: "DEBUG",
  DEBUG: "DEBUG",
  INFO: "INFO",
  WARN: "WARNING",
  ERROR: "ERROR",
  FATAL: "CRITICAL"
}

const text = (message: unknown): string =>
  Array.isArray(message) ? message.map(text).join(" ") : typeof message === "string" ? message : JSON.stringify(message)

/** The log annotation that carries the request's trace; Cloud Logging reads it as a top-level field. */
export const TRACE_ANNOTATION = "logging.googleapis.com/trace"

/**
 * The trace of a request, as Cloud Logging names it (`projects/<project>/traces/<id>`), from its
 * `X-Cloud-Trace-Context` (`<id>/<span>;o=1`) or W3C `traceparent` (`00-<id>-<span>-01`) header.
 */
export const traceOf = (
  project: string,
  headers: { readonly cloudTraceContext?: string | undefined; readonly traceparent?: string | undefined }
): string | undefined => {
  const id = /^([0-9a-f]{32})\//i.exec(headers.cloudTraceContext ?? "")?.[1] ??
    /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/i.exec(headers.traceparent ?? "")?.[1]
  return id === undefined ? undefined : `projects/${project}/traces/${id.toLowerCase()}`
}

/** One JSON object per line in Cloud Logging's structured-logging format. */
export const cloudLoggingLogger = Logger.make(({ annotations, cause, date, logLevel, message }) => {
  const entry: Record<string, unknown> = {
    severity: SEVERITY[logLevel.label] ?? "DEFAULT",
    message: text(message),
    time: date.toISOString()
  }
  const labels: Record<string, unknown> = {}
  for (const [key, value] of HashMap.toEntries(annotations)) {
    if (key === TRACE_ANNOTATION) entry[TRACE_ANNOTATION] = value
    else labels[key] = value
  }
  if (Object.keys(labels).length > 0) entry["logging.googleapis.com/labels"] = labels
  if (!Cause.isEmpty(cause)) entry.error = Cause.pretty(cause)
  globalThis.console.log(JSON.stringify(entry))
})

/**
 * One short line per entry on stderr, for people at a terminal: the time, the level and the
 * message; the annotations only on warnings and errors, where they say which resource failed.
 */
export const terminalLogger = Logger.make(({ annotations, cause, date, logLevel, message }) => {
  const details = logLevel.ordinal >= 30000 // WARN and above
    ? HashMap.toEntries(annotations).map(([key, value]) => ` ${key}=${text(value)}`).join("")
    : ""
  const failure = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  globalThis.process.stderr.write(
    `${date.toISOString().slice(11, 19)} ${logLevel.label.padEnd(5)} ${text(message)}${details}${failure}\n`
  )
})

/** Replaces the default logger: `json` for Cloud Logging, `pretty` for people at a terminal (stderr). */
export const runtimeLogger = (format: "json" | "pretty") =>
<A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.merge(
    layer,
    Logger.replace(
      Logger.defaultLogger,
      format === "json" ? cloudLoggingLogger : terminalLogger
    )
  )
