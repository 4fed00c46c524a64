/**
 * The cache contract: the document MetaSync publishes and the backend reads, as effect/Schema
 * codecs. Import it from `metasync/contract`; it depends on nothing but `effect`.
 */
export * from "./CacheDocument.ts"
export * from "./Field.ts"
export * from "./TableId.ts"
export * from "./Drift.ts"
export * from "./Metrics.ts"
export * from "./Profile.ts"
export * from "./TableEntry.ts"
export * from "./Relationship.ts"
export * from "./Glossary.ts"
export * from "./Incremental.ts"
export * from "./Embeddings.ts"
export * from "./SplitDocument.ts"
export { decodeStoredBytes, type StoredObject } from "./DocumentBytes.ts"
