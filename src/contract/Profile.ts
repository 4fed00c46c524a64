/**
 * Column profiles: what a small, cost-capped sample of a table's data says about its columns —
 * how often each is NULL, roughly how many distinct values it holds, its most frequent values when
 * it is a low-cardinality string, and its range when it is a number or a date/time.
 *
 * Profiling is opt-in per table. Columns that may hold personal data (policy-tagged, or named like
 * `email`, `phone`, `customer_name`) are never read; the profile lists them under `skipped` with
 * the reason, as it does every other column it did not profile.
 *
 * This module is shared by the sync and the backend: it imports nothing but `effect`.
 */
import * as Schema from "effect/Schema"

/** Why a column has no profile. */
export const ProfileSkipReason = Schema.Literal(
  /** The column (or a record holding it) carries a Data Catalog policy tag. */
  "policy_tag",
  /** A segment of the column's path matches the sensitive-name pattern (email, phone, ssn, …). */
  "sensitive_name",
  /** The type has no useful profile here (GEOGRAPHY, JSON, BYTES, INTERVAL, RANGE, …). */
  "unsupported_type",
  /** A REPEATED field: its values are arrays, which a profile would have to UNNEST. */
  "repeated",
  /** Even the smallest sample would bill more bytes than the cap allows. */
  "over_budget"
).annotations({ identifier: "ProfileSkipReason" })
export type ProfileSkipReason = typeof ProfileSkipReason.Type

/** A column, record or repeated field the profile did not read, and why. */
export const SkippedColumn = Schema.Struct({
  /** Dotted path from the table's top level, e.g. `device.advertising_id`. */
  column: Schema.String,
  reason: ProfileSkipReason,
  /** A sentence a person can act on, e.g. which name segment matched. */
  detail: Schema.String
}).annotations({ identifier: "SkippedColumn" })
export type SkippedColumn = typeof SkippedColumn.Type

/** One of a column's most frequent values and how many sampled rows hold it. */
export const TopValue = Schema.Struct({
  value: Schema.String,
  count: Schema.NonNegativeInt
}).annotations({ identifier: "TopValue" })
export type TopValue = typeof TopValue.Type

/**
 * A column's minimum or maximum: a number for INT64 and FLOAT64 values a JSON number holds
 * exactly; a string for NUMERIC/BIGNUMERIC, INT64 beyond 2^53, FLOAT64 `NaN`/`Infinity`, and
 * DATE, DATETIME, TIME and TIMESTAMP (ISO-8601; TIMESTAMP in UTC with a `Z`).
 */
export const ProfileBound = Schema.Union(Schema.Finite, Schema.String).annotations({ identifier: "ProfileBound" })
export type ProfileBound = typeof ProfileBound.Type

/** What the sample says about one column. */
export const ColumnProfile = Schema.Struct({
  /** Dotted path from the table's top level, e.g. `geo.country`. */
  column: Schema.String,
  /** BigQuery's type name, as in the table's field tree (`STRING`, `INTEGER`, `TIMESTAMP`, …). */
  type: Schema.String,
  /** The share of sampled rows where the column is NULL, 0 to 1 (0 when no row was sampled). */
  null_fraction: Schema.Number.pipe(Schema.between(0, 1)),
  /** BigQuery's `APPROX_COUNT_DISTINCT` over the sample (HyperLogLog++, about 1 % error). */
  approx_distinct: Schema.NonNegativeInt,
  /**
   * The most frequent non-NULL values, most frequent first (`APPROX_TOP_COUNT`), for STRING
   * columns whose distinct count lies within the configured range; `null` otherwise.
   */
  top_values: Schema.NullOr(Schema.Array(TopValue)),
  /** For numbers, dates and times; `null` for other types and when every sampled value is NULL. */
  min: Schema.NullOr(ProfileBound),
  max: Schema.NullOr(ProfileBound)
}).annotations({ identifier: "ColumnProfile" })
export type ColumnProfile = typeof ColumnProfile.Type

/** A table's column profiles and how they were obtained. */
export const TableProfile = Schema.Struct({
  /** When the profile was taken. */
  profiled_at: Schema.DateTimeUtc,
  /**
   * The `TABLESAMPLE SYSTEM` percentage (BigQuery samples whole storage blocks, so the share of
   * rows read is approximate); `null` when the table was read whole, within the byte cap. A table
   * that requires a partition filter is read only in its recent partitions either way.
   */
  sample_percent: Schema.NullOr(Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(100))),
  /** How many rows the profile read. */
  rows_sampled: Schema.NonNegativeInt,
  /** The bytes BigQuery reported processing for the profile's queries, together. */
  bytes_processed: Schema.NonNegativeInt,
  /** Profiled columns, in the table's field order. */
  columns: Schema.Array(ColumnProfile),
  /** Everything not profiled, in the table's field order. */
  skipped: Schema.Array(SkippedColumn)
}).annotations({ identifier: "TableProfile" })
export type TableProfile = typeof TableProfile.Type
export type TableProfileEncoded = typeof TableProfile.Encoded
