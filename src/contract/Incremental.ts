/**
 * What an incremental run kept. A run compares, table by table, a fingerprint of every input the
 * table's entry and examples depend on with the one the previous document recorded; a table whose
 * fingerprints match keeps its entry, its examples and their validations (and dry-run estimates)
 * from the previous document instead of redoing the work.
 *
 * Additive within format 2: documents written before it decode with `null`.
 */
import * as Schema from "effect/Schema"
import { TableId } from "./TableId.ts"

/** The two fingerprints of one table: hex digests, compared for equality only. */
export const TableFingerprint = Schema.Struct({
  /**
   * The table's metadata as read (schema, descriptions, options, last modified time, shards,
   * declared keys) and the profile settings that apply to it: its entry and profile depend on these.
   */
  metadata: Schema.String,
  /**
   * `metadata` plus what its examples depend on: the curated examples naming it, the relationships
   * touching it, the run-wide example settings and the generator's version.
   */
  examples: Schema.String
}).annotations({ identifier: "TableFingerprint" })
export type TableFingerprint = typeof TableFingerprint.Type

export const IncrementalState = Schema.Struct({
  /** `full`: every table's work was done this run; `incremental`: unchanged tables kept theirs. */
  mode: Schema.Literal("full", "incremental"),
  /** When the most recent full run was made: this run's time when it was one. */
  last_full_run_at: Schema.DateTimeUtc,
  /** Tables whose entry and examples were kept from the previous document. */
  reused: Schema.Array(TableId),
  /** Per table id, its fingerprints as of this run. */
  fingerprints: Schema.Record({ key: Schema.String, value: TableFingerprint })
}).annotations({ identifier: "IncrementalState" })
export type IncrementalState = typeof IncrementalState.Type
