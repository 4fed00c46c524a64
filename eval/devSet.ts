/**
 * The Defog development set as the evaluation reads it: the BigQuery table definitions (read by
 * the LocalBigQuery layer, as `npm run sync` would), the questions with their gold SQL, and the
 * schemas' metadata files with their glossaries.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { TableEntry } from "../src/contract/TableEntry.ts"
import { parseTableRef } from "../src/contract/TableId.ts"
import { BigQueryService } from "../src/services/BigQuery/BigQueryService.ts"
import { LocalBigQuery } from "../src/services/BigQuery/LocalBigQuery.ts"
import { describeTable } from "../src/sync/assemble.ts"
import { parseCsv } from "./csv.ts"

export const DEV_SET_DIR = fileURLToPath(new URL("./fixtures/defog-dev/", import.meta.url))
export const PROJECT = "defog-eval"

export interface Question {
  readonly db: string
  readonly category: string
  readonly question: string
  /** The first of the gold variants (the file separates them with `;`). */
  readonly sql: string
  readonly file: string
}

export interface DevSet {
  readonly tables: ReadonlyArray<TableEntry>
  readonly questions: ReadonlyArray<Question>
  /** Each database's glossary text, from `metadata/<db>.json`. */
  readonly glossaries: ReadonlyMap<string, string>
}

/** The first statement of a `;`-separated list of variants (a `;` inside quotes does not count). */
export const firstVariant = (sql: string): string => {
  let quote: string | null = null
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!
    if (quote !== null) {
      if (c === quote) quote = null
    } else if (c === "'" || c === '"' || c === "`") quote = c
    else if (c === ";") return sql.slice(0, i).trim()
  }
  return sql.trim()
}

const readTables = (directory: string): Effect.Effect<Array<TableEntry>, unknown> =>
  Effect.gen(function*() {
    const bigquery = yield* BigQueryService
    const files = readdirSync(directory).filter((f) => f.endsWith(".json")).sort()
    return yield* Effect.forEach(files, (file) =>
      Effect.gen(function*() {
        const ref = yield* Either.mapLeft(parseTableRef(file.slice(0, -".json".length)), (e) => new Error(String(e)))
        return describeTable(yield* bigquery.getTable(ref), null)
      }))
  }).pipe(Effect.provide(LocalBigQuery.layer(directory)))

export const loadDevSet = (directory = DEV_SET_DIR): Promise<DevSet> =>
  Effect.runPromise(readTables(`${directory}/tables`)).then((tables) => {
    const questions: Array<Question> = []
    for (const file of readdirSync(`${directory}/questions`).filter((f) => f.endsWith(".csv")).sort()) {
      for (const row of parseCsv(readFileSync(`${directory}/questions/${file}`, "utf8"))) {
        questions.push({
          db: row.db_name ?? "",
          category: row.query_category ?? "",
          question: row.question ?? "",
          sql: firstVariant(row.query ?? ""),
          file
        })
      }
    }
    const glossaries = new Map<string, string>()
    for (const file of readdirSync(`${directory}/metadata`).filter((f) => f.endsWith(".json"))) {
      const json = JSON.parse(readFileSync(`${directory}/metadata/${file}`, "utf8")) as { glossary?: string }
      glossaries.set(file.slice(0, -".json".length), json.glossary ?? "")
    }
    return { tables, questions, glossaries }
  })
