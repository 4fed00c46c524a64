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

/** One JSON object per line in Cloud Logging's structured-logging format. */
export const cloudLoggingLogger = Logger.make(({ annotations, cause, date, logLevel, message }) => {
  const entry: Record<string, unknown> = {
    severity: SEVERITY[logLevel.label] ?? "DEFAULT",
    message: text(message),
    time: date.toISOString()
  }
  const labels: Record<string, unknown> = {}
  for (const [key, value] of HashMap.toEntries(annotations)) labels[key] = value
  if (Object.keys(labels).length > 0) entry["logging.googleapis.com/labels"] = labels
  if (!Cause.isEmpty(cause)) entry.error = Cause.pretty(cause)
  globalThis.console.log(JSON.stringify(entry))
})

/** Replaces the default logger: `json` for Cloud Logging, `pretty` for people at a terminal (stderr). */
export const runtimeLogger = (format: "json" | "pretty") =>
<A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.merge(
    layer,
    Logger.replace(
      Logger.defaultLogger,
      format === "json" ? cloudLoggingLogger : Logger.prettyLogger({ stderr: true, colors: "auto" })
    )
  )
