import { loadDevSet } from "./devSet.ts"
import { variants } from "./reports/promptContext.ts"
import { relevance, renderPromptContext } from "../src/context/index.ts"
import { koreanExpansion, tokenize } from "../src/context/Analysis.ts"
const dev = await loadDevSet()
const [db, q] = [process.argv[2]!, process.argv[3]!]
const v = (await variants())[1]!
const tables = db === "all" ? dev.tables : dev.tables.filter((t) => t.table_id.split(".")[1] === db)
const doc = v.document(tables, db)
console.log(tokenize(q), koreanExpansion(q))
const r = relevance(doc, q)
console.log(r.tables.slice(0, 10).map((t) => `${t.table_id} ${t.score.toFixed(2)}`).join("\n"))
const c = renderPromptContext(doc, { question: q, maxTokens: 2000 })
console.log("chosen:", c.tables, c.tokens, c.omitted)
