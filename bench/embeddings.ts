/**
 * How much vectors add to a 1,000-table document, and what dense scoring costs the loader
 * (`node bench/embeddings.ts`). Vectors are the in-memory embedder's; their size does not
 * depend on the model, only on the dimension and the number of items.
 */
import * as Either from "effect/Either"
import { gzipSync } from "node:zlib"
import { renderCacheDocument } from "../src/contract/CacheDocument.ts"
import { embeddingItems, textHash } from "../src/sync/embeddings.ts"
import { quantizeVector } from "../src/contract/Embeddings.ts"
import { denseScores } from "../src/context/DenseScores.ts"
import { renderPromptContext } from "../src/context/PromptContext.ts"
import { hashedNgramVector } from "../src/services/Embeddings/EmbeddingService.ts"
import { DEFAULT_EMBEDDING_MAX_VECTORS } from "../src/services/Embeddings/VertexEmbeddings.ts"
import { wideDocument } from "./fixtures.ts"

const TABLES = 1000
const EXAMPLES_PER_TABLE = 6
const base = wideDocument(TABLES)
const examples = base.tables.flatMap((t) =>
  Array.from({ length: EXAMPLES_PER_TABLE }, (_, i) => ({
    question: `${t.table_id} 질문 ${i}: 지난 7일 동안 이벤트 수는 얼마인가요?`,
    sql: `SELECT COUNT(*) FROM \`${t.table_id}\``,
    tables: [t.table_id],
    source: "template" as const,
    generator: "template:count_total",
    language: "ko" as const
  }))
)
const document = { ...base, examples }
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`
const size = (doc: typeof document) => {
  const text = Either.getOrThrow(renderCacheDocument(doc))
  return { bytes: Buffer.byteLength(text), gzip: gzipSync(text).byteLength }
}
const without = size(document)
console.log(`${TABLES} tables × ${base.tables[0].columns.length} columns (${embeddingItems(base.tables, []).length - TABLES} fields), ${examples.length} examples`)
console.log(`| vectors | dimension | document | growth | gzip | gzip growth |`)
console.log(`|---|---:|---:|---:|---:|---:|`)
console.log(`| none | — | ${mib(without.bytes)} | — | ${mib(without.gzip)} | — |`)
for (const [dimension, budget] of [[256, DEFAULT_EMBEDDING_MAX_VECTORS], [256, Infinity], [768, DEFAULT_EMBEDDING_MAX_VECTORS], [128, Infinity]] as const) {
  const items = embeddingItems(document.tables, examples).slice(0, budget)
  const vectors = items.map((item) => ({ key: item.key, text_hash: textHash(item.text), ...quantizeVector(hashedNgramVector(item.text, dimension)) }))
  const withVectors = { ...document, embeddings: { model: "bench", dimension, encoding: "int8" as const, vectors } }
  const s = size(withVectors)
  console.log(
    `| ${vectors.length.toLocaleString("en")}${budget === Infinity ? " (all)" : " (default budget)"} | ${dimension} | ${mib(s.bytes)} | +${mib(s.bytes - without.bytes)} (${Math.round(((s.bytes - without.bytes) / vectors.length))} B/vector) | ${mib(s.gzip)} | +${mib(s.gzip - without.gzip)} |`
  )
  if (dimension === 256 && budget !== Infinity) {
    const question = hashedNgramVector("event count last week", dimension)
    let t0 = performance.now()
    denseScores(withVectors, question)
    const first = performance.now() - t0
    t0 = performance.now()
    for (let i = 0; i < 20; i++) renderPromptContext(withVectors, { question: "event count last week", language: "ko", questionEmbedding: question, maxTokens: 2000 })
    const per = (performance.now() - t0) / 20
    t0 = performance.now()
    for (let i = 0; i < 20; i++) renderPromptContext(withVectors, { question: "event count last week", language: "ko", maxTokens: 2000 })
    const lexical = (performance.now() - t0) / 20
    console.log(`  loader: first dense scoring (decodes vectors) ${first.toFixed(0)} ms; prompt context per question ${per.toFixed(1)} ms hybrid vs ${lexical.toFixed(1)} ms lexical`)
  }
}
{
  const items = embeddingItems(document.tables, examples).slice(0, DEFAULT_EMBEDDING_MAX_VECTORS)
  const vectors = items.map((item) => ({ key: item.key, text_hash: textHash(item.text), ...quantizeVector(hashedNgramVector(item.text, 256)) }))
  const withVectors = { ...document, embeddings: { model: "bench", dimension: 256, encoding: "int8" as const, vectors } }
  const question = hashedNgramVector("event count last week", 256)
  denseScores(withVectors, question)
  let t0 = performance.now()
  for (let i = 0; i < 20; i++) denseScores(withVectors, question)
  console.log(`denseScores alone ${((performance.now() - t0) / 20).toFixed(1)} ms`)
}
