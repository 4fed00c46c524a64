/** Writes src/context/vocabulary/vocabularyData.ts from the vocabulary's TSV files (see compile.ts there). */
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { renderDataModule } from "../src/context/vocabulary/compile.ts"

const dir = fileURLToPath(new URL("../src/context/vocabulary/", import.meta.url))
const out = renderDataModule(readFileSync(`${dir}/ko-en.tsv`, "utf8"), readFileSync(`${dir}/ko-grammar.tsv`, "utf8"))
writeFileSync(`${dir}/vocabularyData.ts`, out)
console.log(`wrote src/context/vocabulary/vocabularyData.ts (${out.length} characters)`)
