/**
 * Log lines a test can assert on: every log entry of the effects it is provided to, as logfmt
 * text (`level=WARN … message="…" key=value`), as an operator would read them.
 */
import * as Logger from "effect/Logger"

export const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.replace(Logger.defaultLogger, Logger.map(Logger.logfmtLogger, (line) => void lines.push(line)))
  return { lines, layer, warnings: () => lines.filter((line) => line.includes("level=WARN")) }
}
