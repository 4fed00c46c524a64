/**
 * `npm run eval`: runs every report over the Defog dev set (`eval/fixtures/defog-dev/`) and writes
 * `eval/RESULTS.md`. `npm run eval -- relationships` runs the named reports only (and writes nothing).
 */
import { cpus, loadavg } from "node:os"
import { writeFileSync } from "node:fs"
import { loadDevSet } from "./devSet.ts"
import { REPORTS } from "./reports/index.ts"

const only = process.argv.slice(2)
const dev = await loadDevSet()
const sections: Array<string> = []
for (const report of REPORTS.filter((r) => only.length === 0 || only.includes(r.name))) {
  const result = await report.run(dev)
  sections.push(`## ${report.title}\n\n${result.markdown}`)
  console.log(`${report.name}: ${JSON.stringify(result.figures)}`)
}
const header = [
  "# Evaluation results",
  "",
  `\`npm run eval\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node ${process.version}, ` +
    `load average ${loadavg()[0]!.toFixed(1)} at the start (the machine is shared: timings vary with it).`,
  "Dev set: `eval/fixtures/defog-dev/` (five Defog schemas and their BigQuery gold SQL; see its SOURCES.md).",
  ""
].join("\n")
const text = `${header}\n${sections.join("\n\n")}\n`
if (only.length === 0) writeFileSync(new URL("./RESULTS.md", import.meta.url), text)
else console.log(text)
