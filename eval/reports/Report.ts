/** One section of `eval/RESULTS.md`: a name, a title, and what it measures on the dev set. */
import type { DevSet } from "../devSet.ts"

export interface ReportResult {
  /** The section's body in Markdown. */
  readonly markdown: string
  /** The figures a test holds at or above a floor. */
  readonly figures: Readonly<Record<string, number>>
}

export interface Report {
  readonly name: string
  readonly title: string
  readonly run: (dev: DevSet) => Promise<ReportResult>
}
