/**
 * Turns StrykerJS JSON reports (reports/mutation/json/*.json, one per `npm run mutation` run) into
 * the committed summary, bench/MUTATION.md. When several runs mutated the same file, the newest
 * report wins. The hand-written part of the summary (below the NOTES marker) is kept as it is.
 *
 *   node scripts/mutation-report.ts [report.json ...]
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"

interface Mutant {
  readonly id: string
  readonly mutatorName: string
  readonly replacement?: string
  readonly status: string
  readonly static?: boolean
  readonly location: {
    readonly start: { readonly line: number; readonly column: number }
    readonly end: { readonly line: number; readonly column: number }
  }
}
interface FileResult {
  readonly source: string
  readonly mutants: ReadonlyArray<Mutant>
}
interface Report {
  readonly files: Readonly<Record<string, FileResult>>
}

const JSON_DIR = "reports/mutation/json"
const OUTPUT = "bench/MUTATION.md"
const NOTES = "<!-- NOTES: everything below this line is written by hand and kept by the script -->"

/** The modules the issue holds at ≥ 85 %; a glob-like prefix or an exact file. */
const MODULES: ReadonlyArray<{ readonly name: string; readonly matches: (file: string) => boolean }> = [
  { name: "src/contract/*", matches: (f) => f.startsWith("src/contract/") },
  { name: "src/sync/publish.ts", matches: (f) => f === "src/sync/publish.ts" },
  { name: "src/sync/history.ts", matches: (f) => f === "src/sync/history.ts" },
  { name: "src/sync/RetryPolicy.ts", matches: (f) => f === "src/sync/RetryPolicy.ts" },
  { name: "src/services/GoogleErrors.ts", matches: (f) => f === "src/services/GoogleErrors.ts" },
  { name: "src/services/RemoteErrors.ts", matches: (f) => f === "src/services/RemoteErrors.ts" },
  { name: "src/loader/CacheLoader.ts", matches: (f) => f === "src/loader/CacheLoader.ts" },
  { name: "src/sql/SqlValidator.ts", matches: (f) => f === "src/sql/SqlValidator.ts" },
  { name: "src/entry/SyncHttp.ts", matches: (f) => f === "src/entry/SyncHttp.ts" },
  { name: "src/entry/function.ts", matches: (f) => f === "src/entry/function.ts" }
]

const args = process.argv.slice(2)
const reports = (args.length > 0
  ? args
  : existsSync(JSON_DIR)
  ? readdirSync(JSON_DIR).filter((f) => f.endsWith(".json")).map((f) => join(JSON_DIR, f))
  : [])
  .map((path) => ({ path, mtime: statSync(path).mtimeMs }))
  .sort((a, b) => a.mtime - b.mtime)

/**
 * file → its mutants and when they were last measured. Mutants are matched across reports by
 * place, mutator and replacement; the newest report that measured a mutant wins. A mutant a newer
 * run skipped (`Ignored`, e.g. static mutants in a run limited to a module's own specs) keeps its
 * result from the older run that measured it — tests are only ever added, so a kill stays a kill.
 */
const files = new Map<string, { readonly mutants: Map<string, Mutant>; measured: Date }>()
for (const { mtime, path } of reports) {
  const report = JSON.parse(readFileSync(path, "utf8")) as Report
  for (const [name, result] of Object.entries(report.files)) {
    const file = name.replace(/\\/g, "/")
    const entry = files.get(file) ?? { mutants: new Map<string, Mutant>(), measured: new Date(0) }
    for (const m of result.mutants) {
      const { end, start } = m.location
      const key = `${start.line}:${start.column}-${end.line}:${end.column}:${m.mutatorName}:${m.replacement ?? ""}`
      const previous = entry.mutants.get(key)
      if (previous === undefined || m.status !== "Ignored") entry.mutants.set(key, m)
    }
    entry.measured = new Date(Math.max(entry.measured.getTime(), mtime))
    files.set(file, entry)
  }
}

interface Counts {
  killed: number
  timeout: number
  survived: number
  noCoverage: number
  errors: number
  ignored: number
  staticTotal: number
  staticDetected: number
}
const emptyCounts = (): Counts => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, staticTotal: 0, staticDetected: 0 })

const tally = (mutants: ReadonlyArray<Mutant>, into: Counts) => {
  for (const m of mutants) {
    if (m.status === "Killed") into.killed++
    else if (m.status === "Timeout") into.timeout++
    else if (m.status === "Survived") into.survived++
    else if (m.status === "NoCoverage") into.noCoverage++
    else if (m.status === "Ignored") into.ignored++
    else into.errors++
    if (m.static === true && m.status !== "Ignored") {
      into.staticTotal++
      if (m.status === "Killed" || m.status === "Timeout") into.staticDetected++
    }
  }
}

/** Stryker's mutation score: detected / (detected + undetected); compile and runtime errors excluded. */
const score = (c: Counts) => {
  const valid = c.killed + c.timeout + c.survived + c.noCoverage
  return valid === 0 ? "—" : `${((100 * (c.killed + c.timeout)) / valid).toFixed(1)} %`
}

const rows: Array<string> = []
const survivors: Array<string> = []
for (const module of MODULES) {
  const matching = [...files.entries()].filter(([file]) => module.matches(file)).sort(([a], [b]) => a.localeCompare(b))
  if (matching.length === 0) {
    rows.push(`| ${module.name} | not measured yet | | | | | | |`)
    continue
  }
  const total = emptyCounts()
  for (const [file, result] of matching) {
    const counts = emptyCounts()
    const mutants = [...result.mutants.values()]
    tally(mutants, counts)
    tally(mutants, total)
    if (matching.length > 1) rows.push(row(`&nbsp;&nbsp;${file}`, counts, result.measured))
    for (const m of mutants.filter((m) => m.status === "Survived" || m.status === "NoCoverage")) {
      const replacement = (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 70).replace(/\|/g, "\\|")
      survivors.push(`| ${file}:${m.location.start.line} | ${m.mutatorName} | ${m.status}${m.static === true ? " (static)" : ""} | \`${replacement}\` |`)
    }
  }
  const newest = new Date(Math.max(...matching.map(([, r]) => r.measured.getTime())))
  rows.push(row(`**${module.name}**`, total, newest))
}

function row(name: string, c: Counts, measured: Date) {
  const staticCell = c.ignored > 0 && c.staticTotal === 0 ? `ignored (${c.ignored})` : `${c.staticDetected}/${c.staticTotal}`
  return `| ${name} | ${score(c)} | ${c.killed} | ${c.timeout} | ${c.survived} | ${c.noCoverage} | ${staticCell} | ${measured.toISOString().slice(0, 16).replace("T", " ")} |`
}

const previous = existsSync(OUTPUT) ? readFileSync(OUTPUT, "utf8") : ""
const notes = previous.includes(NOTES) ? previous.slice(previous.indexOf(NOTES) + NOTES.length) : "\n"

const text = `# Mutation testing

Generated by \`npm run mutation:report\` from the StrykerJS JSON reports of \`npm run mutation\`
(one module: \`MUTATE=src/sync/publish.ts npm run mutation\`). Score = (killed + timed out) /
(killed + timed out + survived + no coverage). "Static" counts static mutants detected / measured
(static mutants change a module-level constant and rerun every related test file).

Machine: ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB, Node ${process.version}; shared with other jobs while measured.

| module | score | killed | timed out | survived | no coverage | static | measured (UTC) |
|---|---:|---:|---:|---:|---:|---:|---|
${rows.join("\n")}

## Mutants left undetected

| where | mutator | status | replacement |
|---|---|---|---|
${survivors.length === 0 ? "| — | | | |" : survivors.join("\n")}

${NOTES}${notes}`

writeFileSync(OUTPUT, text)
console.log(`wrote ${OUTPUT} from ${reports.length} report(s), ${files.size} file(s)`)
