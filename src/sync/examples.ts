/**
 * Generate and validate: few-shot examples from every source, each checked by the one SQL
 * validator before it may enter the document. Rejections are counted by reason.
 */
import type { Example, Language } from "../contract/CacheDocument.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import { validateSql } from "../sql/SqlValidator.ts"
import { templateExamples } from "./examples/TemplateExamples.ts"

export interface ExampleSet {
  readonly examples: ReadonlyArray<Example>
  /** How many candidates were rejected, by the validator's reason (`duplicate` for repeats). */
  readonly rejected: Readonly<Record<string, number>>
}

/** Keeps the candidates that validate against `tables`, first of each normalised SQL only. */
export const acceptExamples = (
  candidates: ReadonlyArray<Example>,
  tables: ReadonlyArray<TableMetadata>
): ExampleSet => {
  const catalog = { tables }
  const seen = new Set<string>()
  const examples: Array<Example> = []
  const rejected: Record<string, number> = {}
  const reject = (reason: string) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1
  }
  for (const candidate of candidates) {
    const verdict = validateSql(candidate.sql, catalog)
    if (verdict._tag === "Left") {
      reject(verdict.left.reason)
      continue
    }
    if (seen.has(verdict.right.normalized)) {
      reject("duplicate")
      continue
    }
    seen.add(verdict.right.normalized)
    examples.push(candidate)
  }
  return { examples, rejected }
}

/** The deterministic template examples for every table, validated. */
export const buildExamples = (tables: ReadonlyArray<TableMetadata>, language: Language): ExampleSet =>
  acceptExamples(tables.flatMap((table) => templateExamples(table, language)), tables)
