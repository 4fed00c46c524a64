/**
 * The gold SQL's join pairs, read by the same extractor as the query log
 * (`src/sync/relationships/joinPredicates.ts`).
 */
export { type ColumnRef, type JoinPair, pairKey, readJoinPairs } from "../src/sync/relationships/joinPredicates.ts"
