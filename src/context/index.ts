/**
 * The prompt context: analysis (`Analysis.ts`), the index built once per document
 * (`DocumentIndex.ts`), per-question scoring with pluggable scorers (`Scoring.ts`), the
 * relationship graph's use (`JoinGraph.ts`, `Relationships.ts`), rendering safe to paste
 * (`Render.ts`), and packing within the budget (`PromptContext.ts`).
 */
export { estimateTokens, type SynonymGroup, tokenize } from "./Analysis.ts"
export { joinGraphOf, type JoinGraph } from "./JoinGraph.ts"
export {
  DEFAULT_MAX_EXAMPLES,
  DEFAULT_MAX_TABLES,
  type PromptContext,
  type PromptContextRequest,
  prepareDocument,
  renderPromptContext,
  renderTableCatalog,
  type ScoringOptions,
  type TableCatalog,
  type TableCatalogRequest
} from "./PromptContext.ts"
export { PROMPT_CONTEXT_NOTE } from "./Render.ts"
export {
  DEFAULT_SCORERS,
  glossaryScorer,
  lexicalScorer,
  nameScorer,
  type Query,
  relevance,
  type Relevance,
  type ScoredExample,
  type ScoredTable,
  type TableScorer
} from "./Scoring.ts"
