/**
 * Incremental sync: which tables can keep last run's work.
 *
 * Each table gets two fingerprints (`src/contract/Incremental.ts`): one of its metadata and the
 * profile settings that apply to it (its entry and profile depend on nothing else), and one that
 * adds everything its examples depend on — the curated examples naming it, the relationships
 * touching it, the run-wide example settings and the generator's version. A table whose
 * fingerprint equals the previous document's keeps that document's entry (or examples) as they
 * were; any change to one of those inputs redoes exactly the tables it touches.
 *
 * A run is full — every table's work redone — when asked (`--full`, `{"full": true}`), when the
 * previous document records no fingerprints, or when its last full run is `FULL_REBUILD_EVERY` old.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { hash } from "node:crypto"
import type { CacheDocument, Example, Sharding } from "../contract/CacheDocument.ts"
import type { TableFingerprint } from "../contract/Incremental.ts"
import type { Relationship } from "../contract/Relationship.ts"
import type { TableMetadata } from "../services/BigQuery/TableResource.ts"
import type { ProfileInputs } from "./profile.ts"
import { GENERATOR } from "../version.ts"

/**
 * Bump when what the sync makes of unchanged inputs changes (templates, validator rules, field
 * paths): every table is then redone once, as in a full run.
 */
export const FINGERPRINT_VERSION = 1

/** The default of `FULL_REBUILD_EVERY`. */
export const DEFAULT_FULL_REBUILD_EVERY = Duration.days(7)

/**
 * JSON of a fingerprint's input: the same value always gives the same text. Inputs are JSON values
 * and DateTimes (whose `toJSON` is their ISO time); callers turn anything else into text first (a
 * pattern into its source, see `profileInputs`). Object keys keep the order they were built in
 * (the readers build them in one order); a value built in another order only makes a table's work
 * be redone, never kept wrongly. Plain `JSON.stringify`, with no replacer: a replacer function
 * called for every field of a thousand tables of fifty columns cost more than the rest of the
 * fingerprinting.
 */
export const stableJson = (value: unknown): string => JSON.stringify(value) ?? "null"

const digest = (text: string): string => hash("sha256", text).slice(0, 32)

/** The fingerprint of what a table's entry and profile are made from. */
export const metadataFingerprint = (input: {
  readonly table: TableMetadata
  readonly sharding: Sharding | null
  /** The profile settings that apply to this table, or `null` when it is not profiled. */
  readonly profile: ProfileInputs | null
}): string => digest(stableJson({ v: FINGERPRINT_VERSION, generator: GENERATOR.version, ...input }))

/** The fingerprint of what a table's examples are made from, given its metadata fingerprint. */
export const examplesFingerprint = (input: {
  readonly metadata: string
  /** Curated examples that name this table, in file order. */
  readonly curated: ReadonlyArray<Example>
  /** Relationships with this table at either end. */
  readonly relationships: ReadonlyArray<Relationship>
  /** Run-wide settings every table's examples depend on (language, dry runs, LLM, mode, …). */
  readonly settings: unknown
  /** The glossary terms, aliases and logged queries this table's examples depend on. */
  readonly vocabulary?: unknown
}): string => {
  const relationships = input.relationships
    .map((r) => stableJson({ from: r.from, to: r.to, source: r.source, confidence: r.confidence, cardinality: r.cardinality }))
    .sort()
  return digest(stableJson({ ...input, relationships, v: FINGERPRINT_VERSION, generator: GENERATOR.version }))
}

/** Whether this run redoes every table, and why. */
export interface RunMode {
  readonly full: boolean
  readonly reason: "asked" | "no_previous_fingerprints" | "schedule" | "incremental"
  /** The last full run's time as this run will record it. */
  readonly lastFullRunAt: DateTime.Utc
}

export const decideRunMode = (input: {
  readonly previous: Option.Option<CacheDocument>
  readonly now: DateTime.Utc
  /** `FULL_REBUILD_EVERY`; zero makes every run full. */
  readonly every: Duration.Duration
  readonly forced: boolean
}): RunMode => {
  const full = (reason: RunMode["reason"]): RunMode => ({ full: true, reason, lastFullRunAt: input.now })
  if (input.forced) return full("asked")
  const state = Option.getOrNull(Option.flatMap(input.previous, (doc) => Option.fromNullable(doc.incremental)))
  if (state === null) return full("no_previous_fingerprints")
  if (Duration.isZero(input.every)) return full("schedule")
  const since = DateTime.distance(state.last_full_run_at, input.now)
  if (since < 0 || since >= Duration.toMillis(input.every)) return full("schedule")
  return { full: false, reason: "incremental", lastFullRunAt: state.last_full_run_at }
}

/** The previous document's fingerprints, or none in a full run. */
export const previousFingerprints = (
  previous: Option.Option<CacheDocument>,
  mode: RunMode
): ReadonlyMap<string, TableFingerprint> =>
  mode.full
    ? new Map()
    : new Map(Object.entries(Option.getOrNull(Option.flatMap(previous, (doc) => Option.fromNullable(doc.incremental)))?.fingerprints ?? {}))
