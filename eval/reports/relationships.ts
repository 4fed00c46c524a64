/**
 * Relationships against the gold SQL of the dev set: the share of join pairs the gold queries use
 * that the document's relationships cover (recall), with no curated file and with the glossaries
 * turned into curated files; the share of inferred relationships that are right (precision, by a
 * judgement made once by hand: `fixtures/judged-relationships.json`); and how long inference takes
 * on 1,000 tables.
 */
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describeRelationship, type Relationship, relationshipKey } from "../../src/contract/Relationship.ts"
import type { TableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { loadRelationshipsDirectory } from "../../src/sync/relationships/curated.ts"
import { inferRelationships } from "../../src/sync/relationships/infer.ts"
import { combineRelationships } from "../../src/sync/relationships/merge.ts"
import { wideDocument } from "../../bench/fixtures.ts"
import { type DevSet, PROJECT } from "../devSet.ts"
import { type JoinPair, pairKey, readJoinPairs } from "../goldJoins.ts"
import type { Report } from "./Report.ts"

export interface Judgement {
  readonly relationship: string
  readonly right: boolean
  readonly why?: string
}
export const JUDGED_FILE = fileURLToPath(new URL("../fixtures/judged-relationships.json", import.meta.url))
export const CURATED_DIR = fileURLToPath(new URL("../fixtures/curated-from-glossaries/", import.meta.url))

/** How a gold pair is covered: a relationship between the two columns, or both pointing at one key. */
export type Coverage = "direct" | "shared_key" | "missing"

export const coverage = (pair: JoinPair, relationships: ReadonlyArray<Relationship>): Coverage => {
  const col = (t: string, c: string) => `${t}.${c}`.toLowerCase()
  const reach = new Map<string, Set<string>>()
  const link = (a: string, b: string) => reach.set(a, (reach.get(a) ?? new Set()).add(b))
  for (const r of relationships) {
    r.from.columns.forEach((c, i) => link(col(r.from.table_id, c), col(r.to.table_id, r.to.columns[i]!)))
  }
  const a = col(pair.left.table, pair.left.column)
  const b = col(pair.right.table, pair.right.column)
  if (reach.get(a)?.has(b) || reach.get(b)?.has(a)) return "direct"
  const up = (x: string) => new Set([x, ...(reach.get(x) ?? [])])
  const ua = up(a)
  for (const y of up(b)) if (ua.has(y)) return "shared_key"
  return "missing"
}

export interface RecallFigures {
  readonly pairs: number
  readonly direct: number
  readonly sharedKey: number
  readonly missing: ReadonlyArray<string>
}

export const goldPairs = (dev: DevSet): { pairs: Map<string, JoinPair>; questionsWithJoins: number; unparsed: number } => {
  const pairs = new Map<string, JoinPair>()
  let questionsWithJoins = 0
  let unparsed = 0
  for (const q of dev.questions) {
    const read = readJoinPairs(q.sql, PROJECT)
    if (!read.parsed) unparsed++
    if (read.pairs.length > 0) questionsWithJoins++
    for (const p of read.pairs) pairs.set(pairKey(p), p)
  }
  return { pairs, questionsWithJoins, unparsed }
}

export const recall = (pairs: ReadonlyMap<string, JoinPair>, relationships: ReadonlyArray<Relationship>): RecallFigures => {
  let direct = 0
  let sharedKey = 0
  const missing: Array<string> = []
  for (const [key, pair] of pairs) {
    const c = coverage(pair, relationships)
    if (c === "direct") direct++
    else if (c === "shared_key") sharedKey++
    else missing.push(key)
  }
  return { pairs: pairs.size, direct, sharedKey, missing }
}

export const loadJudgements = (): ReadonlyArray<Judgement> => JSON.parse(readFileSync(JUDGED_FILE, "utf8")) as Array<Judgement>

export const precision = (inferred: ReadonlyArray<Relationship>, judged: ReadonlyArray<Judgement>) => {
  const byKey = new Map(judged.map((j) => [j.relationship, j]))
  const rows = inferred.map((r) => ({ r, judgement: byKey.get(relationshipKey(r)) }))
  const right = rows.filter((x) => x.judgement?.right === true)
  const wrong = rows.filter((x) => x.judgement?.right === false)
  const unjudged = rows.filter((x) => x.judgement === undefined)
  return { total: inferred.length, right: right.length, wrong, unjudged }
}

/** `copies` copies of the dev set's tables, each in datasets of its own: a warehouse of that many tables. */
export const scaledTables = (tables: ReadonlyArray<TableEntry>, copies: number): Array<TableEntry> =>
  Array.from({ length: copies }, (_, i) =>
    tables.map((t) => ({ ...t, table_id: TableId.make(t.table_id.replace(/^([^.]+)\.([^.]+)\./, `$1.$2_${i}.`)) }))).flat()

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const timeInference = (tables: ReadonlyArray<TableEntry>, runs = 5): number => {
  const times: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    inferRelationships(tables)
    times.push(performance.now() - start)
  }
  return median(times)
}

const pct = (n: number, d: number) => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)} %`)

/** The warm 1,000-table sync's wall time in bench/RESULTS.md (in-memory layers, dry runs off, 2026-11-30 23:33, idle). */
export const BENCH_SYNC_1000_MS = 585

export const relationshipsReport: Report = {
  name: "relationships",
  title: "Relationships: gold join pairs covered, inferred relationships right",
  run: async (dev) => {
    const inferred = inferRelationships(dev.tables)
    const curated = await Effect.runPromise(loadRelationshipsDirectory(CURATED_DIR))
    if (curated.errors.length > 0) throw new Error(curated.errors.map((e) => e.message).join("\n"))
    const withCurated = combineRelationships({ inferred, curated: curated.relationships })
    const gold = goldPairs(dev)
    const plain = recall(gold.pairs, inferred)
    const full = recall(gold.pairs, withCurated)
    const judged = precision(inferred, loadJudgements())
    const scaled = scaledTables(dev.tables, Math.ceil(1000 / dev.tables.length))
    const ms = timeInference(scaled)
    const wideMs = timeInference(wideDocument(1000).tables)
    const figures = {
      gold_pairs: plain.pairs,
      recall_inferred: (plain.direct + plain.sharedKey) / plain.pairs,
      recall_inferred_direct: plain.direct / plain.pairs,
      recall_with_curated: (full.direct + full.sharedKey) / full.pairs,
      inferred: judged.total,
      precision_inferred: judged.right / Math.max(1, judged.total),
      unjudged: judged.unjudged.length,
      inference_ms_1000_tables: ms,
      inference_share_of_sync: ms / BENCH_SYNC_1000_MS,
      inference_ms_bench_document: wideMs
    }
    const lines = [
      `Dev set: ${dev.tables.length} tables, ${dev.questions.length} questions; ${gold.questionsWithJoins} questions join tables, ` +
      `using ${gold.pairs.size} distinct join pairs (\`a.x = b.y\` between two base tables, aliases resolved; ` +
      `${gold.unparsed} of the gold queries read by pattern because node-sql-parser does not parse ${gold.unparsed === 1 ? "it" : "them"}). ` +
      "A pair counts as covered when a relationship links its two columns, or when both columns point at one key " +
      "(`writes.aid = domain_author.aid`, both → `author.aid`): the join the hints let a model write.",
      "",
      "| measure | result | target |",
      "|---|---:|---:|",
      `| gold join pairs covered, inferred only (no curated file, no query log) | ${plain.direct + plain.sharedKey} / ${plain.pairs} = ${pct(plain.direct + plain.sharedKey, plain.pairs)} (${plain.direct} by a relationship between the two columns, ${plain.sharedKey} by both pointing at one key) | ≥ 90 % |`,
      `| gold join pairs covered, glossaries as curated files (${curated.relationships.length} relationships in ${curated.files} files) + inferred | ${full.direct + full.sharedKey} / ${full.pairs} = ${pct(full.direct + full.sharedKey, full.pairs)} | 100 % |`,
      `| inferred relationships right (judged by hand, \`eval/fixtures/judged-relationships.json\`) | ${judged.right} / ${judged.total} = ${pct(judged.right, judged.total)}${judged.unjudged.length > 0 ? `, ${judged.unjudged.length} not judged yet` : ""} | ≥ 90 % |`,
      `| inference on ${scaled.length} tables (the dev set's tables copied into ${Math.ceil(1000 / dev.tables.length) * 5} datasets), median of 5 | ${ms.toFixed(1)} ms = ${pct(ms, BENCH_SYNC_1000_MS)} of the 1,000-table sync in bench/RESULTS.md (${BENCH_SYNC_1000_MS} ms) | ≤ 10 % |`,
      `| inference on the bench's 1,000 × 50-column document (no key-like names), median of 5 | ${wideMs.toFixed(1)} ms = ${pct(wideMs, BENCH_SYNC_1000_MS)} of that sync | ≤ 10 % |`,
      "",
      "Timings vary with the machine's load (it is shared); the sync figure is the committed one of `npm run bench`. " +
        "The same sync run with inference on and off in one process: `node bench/relationships.ts` (bench/RESULTS.md).",
      "",
      "These rules were written while looking at these five schemas: they are the development set. Defog's other " +
        "schemas, held back, are what tells whether the rules generalise.",
      ""
    ]
    if (plain.missing.length > 0) lines.push("Gold pairs not covered by inference:", "", ...plain.missing.map((m) => `- \`${m}\``), "")
    if (full.missing.length > 0) lines.push("Gold pairs not covered even with the curated files:", "", ...full.missing.map((m) => `- \`${m}\``), "")
    if (judged.wrong.length > 0) {
      lines.push("Inferred relationships judged wrong:", "", ...judged.wrong.map((w) => `- ${describeRelationship(w.r, false)} (confidence ${w.r.confidence}): ${w.judgement?.why ?? ""}`), "")
    }
    if (judged.unjudged.length > 0) {
      lines.push("Not judged yet:", "", ...judged.unjudged.map((u) => `- \`${relationshipKey(u.r)}\` (${u.r.evidence})`), "")
    }
    return { markdown: lines.join("\n"), figures }
  }
}
