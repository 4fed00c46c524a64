/**
 * Schema drift: what changed in the tables' metadata from the previous cache document to the new one.
 *
 * Changes form one flat list, tables in the new document's order (removed tables last), and each
 * change says whether it is `breaking` — whether SQL written against the previous document (the
 * backend's examples, its users' habits) may fail or mean something else against the new one:
 *
 * - a table or column removed: breaking; added: not breaking.
 * - a column's type changed: breaking. Standard and legacy names of one type (`INT64`/`INTEGER`,
 *   `STRUCT`/`RECORD`, …) are the same type and not reported.
 * - a column's mode changed: breaking only when REPEATED is on one side — an array column needs
 *   UNNEST and a scalar one must not have it. NULLABLE ↔ REQUIRED changes no query's validity.
 * - partitioning changed: breaking when queries that ran before may now be refused or lose a
 *   column — the new partitioning requires a partition filter that the old did not require (or on
 *   another column), or ingestion-time partitioning (`_PARTITIONTIME`) went away.
 * - descriptions and clustering changed: not breaking (they change wording and cost, not results).
 *
 * Columns are addressed by dotted path at every depth (`items.price`). When a RECORD is added or
 * removed only the RECORD is reported, not each field under it.
 *
 * - a relationship (how two tables join) appeared, disappeared or changed its source, confidence
 *   or cardinality: not breaking (a join hint, not a column a query names); reported under the
 *   referencing table, the relationship written `child.col → parent.col`.
 *
 * A table whose entry in the new document is `stale` was not re-read by the run that wrote it, so
 * it is compared as unchanged.
 */
import * as Schema from "effect/Schema"
import type { CacheDocument } from "./CacheDocument.ts"
import { Partitioning, type TableEntry } from "./TableEntry.ts"
import { type FieldPath, FieldMode, flattenFields } from "./Field.ts"
import { TableId } from "./TableId.ts"
import { describeRelationship, type Relationship, relationshipKey } from "./Relationship.ts"

const change = <Kind extends string, Fields extends Schema.Struct.Fields>(kind: Kind, fields: Fields) =>
  Schema.Struct({ kind: Schema.Literal(kind), table_id: TableId, breaking: Schema.Boolean, ...fields })

const Description = Schema.NullOr(Schema.String)

export const TableAdded = change("table_added", {})
export const TableRemoved = change("table_removed", {})
export const TableDescriptionChanged = change("table_description_changed", { from: Description, to: Description })
export const PartitioningChanged = change("partitioning_changed", {
  from: Schema.NullOr(Partitioning),
  to: Schema.NullOr(Partitioning)
})
export const ClusteringChanged = change("clustering_changed", {
  from: Schema.Array(Schema.String),
  to: Schema.Array(Schema.String)
})
/** `column` is the dotted path of the field, e.g. `items.price`. */
export const ColumnAdded = change("column_added", { column: Schema.String, type: Schema.String, mode: FieldMode })
export const ColumnRemoved = change("column_removed", { column: Schema.String, type: Schema.String, mode: FieldMode })
export const ColumnTypeChanged = change("column_type_changed", {
  column: Schema.String,
  from: Schema.String,
  to: Schema.String
})
export const ColumnModeChanged = change("column_mode_changed", { column: Schema.String, from: FieldMode, to: FieldMode })
export const ColumnDescriptionChanged = change("column_description_changed", {
  column: Schema.String,
  from: Description,
  to: Description
})

/** `relationship` is `child.col → parent.col` with qualified table ids; `detail` says what it is now (or was). */
export const RelationshipAdded = change("relationship_added", { relationship: Schema.String, detail: Schema.String })
export const RelationshipRemoved = change("relationship_removed", { relationship: Schema.String, detail: Schema.String })
export const RelationshipChanged = change("relationship_changed", {
  relationship: Schema.String,
  from: Schema.String,
  to: Schema.String
})

/** One change to one table, discriminated by `kind`. */
export const DriftChange = Schema.Union(
  TableAdded,
  TableRemoved,
  TableDescriptionChanged,
  PartitioningChanged,
  ClusteringChanged,
  ColumnAdded,
  ColumnRemoved,
  ColumnTypeChanged,
  ColumnModeChanged,
  ColumnDescriptionChanged,
  RelationshipAdded,
  RelationshipRemoved,
  RelationshipChanged
).annotations({ identifier: "DriftChange" })
export type DriftChange = typeof DriftChange.Type

/** Everything that changed since the previous document; `total` and `breaking` count `changes`. */
export const SchemaDrift = Schema.Struct({
  /** When the document compared against was generated. */
  previous_generated_at: Schema.DateTimeUtc,
  total: Schema.NonNegativeInt,
  breaking: Schema.NonNegativeInt,
  changes: Schema.Array(DriftChange)
}).pipe(
  Schema.filter((drift) => {
    if (drift.total !== drift.changes.length) return `total (${drift.total}) must count the changes (${drift.changes.length})`
    const breaking = drift.changes.filter((c) => c.breaking).length
    if (drift.breaking !== breaking) return `breaking (${drift.breaking}) must count the breaking changes (${breaking})`
    return undefined
  })
).annotations({ identifier: "SchemaDrift" })
export type SchemaDrift = typeof SchemaDrift.Type
export type SchemaDriftEncoded = typeof SchemaDrift.Encoded

// Standard SQL names the REST API may also report, mapped to the legacy names it usually reports.
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  INT64: "INTEGER",
  FLOAT64: "FLOAT",
  BOOL: "BOOLEAN",
  STRUCT: "RECORD",
  DECIMAL: "NUMERIC",
  BIGDECIMAL: "BIGNUMERIC"
}
const canonicalType = (type: string): string => {
  const upper = type.toUpperCase()
  return TYPE_ALIASES[upper] ?? upper
}

const samePartitioning = (a: Partitioning | null, b: Partitioning | null): boolean =>
  a === null || b === null
    ? a === b
    : a.field === b.field && a.type === b.type && a.expiration_ms === b.expiration_ms &&
      a.require_partition_filter === b.require_partition_filter

const partitioningBreaks = (from: Partitioning | null, to: Partitioning | null): boolean => {
  const newFilterRequired = to !== null && to.require_partition_filter &&
    (from === null || !from.require_partition_filter || from.field !== to.field)
  const ingestionTimeGone = from !== null && from.field === null && (to === null || to.field !== null)
  return newFilterRequired || ingestionTimeGone
}

const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i])

const parentPath = (field: FieldPath): string => field.segments.slice(0, -1).join(".")

const tableChanges = (previous: TableEntry, next: TableEntry): Array<DriftChange> => {
  const table_id = next.table_id
  const changes: Array<DriftChange> = []
  if (previous.description !== next.description) {
    changes.push({
      kind: "table_description_changed",
      table_id,
      breaking: false,
      from: previous.description,
      to: next.description
    })
  }
  if (!samePartitioning(previous.partitioning, next.partitioning)) {
    changes.push({
      kind: "partitioning_changed",
      table_id,
      breaking: partitioningBreaks(previous.partitioning, next.partitioning),
      from: previous.partitioning,
      to: next.partitioning
    })
  }
  if (!sameList(previous.clustering, next.clustering)) {
    changes.push({ kind: "clustering_changed", table_id, breaking: false, from: previous.clustering, to: next.clustering })
  }

  const before = new Map(flattenFields(previous.columns).map((f) => [f.path, f]))
  const after = new Map(flattenFields(next.columns).map((f) => [f.path, f]))
  for (const [column, old] of before) {
    const now = after.get(column)
    if (now === undefined) {
      if (old.depth === 0 || after.has(parentPath(old))) {
        changes.push({ kind: "column_removed", table_id, breaking: true, column, type: old.type, mode: old.mode })
      }
      continue
    }
    if (canonicalType(old.type) !== canonicalType(now.type)) {
      changes.push({ kind: "column_type_changed", table_id, breaking: true, column, from: old.type, to: now.type })
    }
    if (old.mode !== now.mode) {
      const breaking = (old.mode === "REPEATED") !== (now.mode === "REPEATED")
      changes.push({ kind: "column_mode_changed", table_id, breaking, column, from: old.mode, to: now.mode })
    }
    if (old.description !== now.description) {
      changes.push({
        kind: "column_description_changed",
        table_id,
        breaking: false,
        column,
        from: old.description,
        to: now.description
      })
    }
  }
  for (const [column, now] of after) {
    if (before.has(column)) continue
    if (now.depth === 0 || before.has(parentPath(now))) {
      changes.push({ kind: "column_added", table_id, breaking: false, column, type: now.type, mode: now.mode })
    }
  }
  return changes
}

const relationshipDetail = (r: Relationship): string =>
  `${r.source}, confidence ${r.confidence.toFixed(2)}${r.cardinality === null ? "" : `, ${r.cardinality}`}`

/** Relationships that appeared, disappeared or changed source, confidence or cardinality. */
export const relationshipChanges = (
  previous: ReadonlyArray<Relationship>,
  next: ReadonlyArray<Relationship>
): Array<DriftChange> => {
  const before = new Map(previous.map((r) => [relationshipKey(r), r]))
  const after = new Map(next.map((r) => [relationshipKey(r), r]))
  const changes: Array<DriftChange> = []
  for (const [key, now] of after) {
    const old = before.get(key)
    const relationship = describeRelationship({ ...now, cardinality: null }, true)
    if (old === undefined) {
      changes.push({ kind: "relationship_added", table_id: now.from.table_id, breaking: false, relationship, detail: relationshipDetail(now) })
    } else if (relationshipDetail(old) !== relationshipDetail(now)) {
      changes.push({
        kind: "relationship_changed",
        table_id: now.from.table_id,
        breaking: false,
        relationship,
        from: relationshipDetail(old),
        to: relationshipDetail(now)
      })
    }
  }
  for (const [key, old] of before) {
    if (after.has(key)) continue
    changes.push({
      kind: "relationship_removed",
      table_id: old.from.table_id,
      breaking: false,
      relationship: describeRelationship({ ...old, cardinality: null }, true),
      detail: relationshipDetail(old)
    })
  }
  return changes
}

/** What changed from `previous` to `next`; tables are matched by `table_id`. */
export const computeDrift = (previous: CacheDocument, next: CacheDocument): SchemaDrift => {
  const previousTables = new Map(previous.tables.map((t) => [t.table_id, t]))
  const nextIds = new Set(next.tables.map((t) => t.table_id))
  const changes: Array<DriftChange> = []
  for (const table of next.tables) {
    const old = previousTables.get(table.table_id)
    if (old === undefined) {
      changes.push({ kind: "table_added", table_id: table.table_id, breaking: false })
    } else if (table.status.state === "fresh") {
      changes.push(...tableChanges(old, table))
    }
  }
  for (const table of previous.tables) {
    if (!nextIds.has(table.table_id)) {
      changes.push({ kind: "table_removed", table_id: table.table_id, breaking: true })
    }
  }
  changes.push(...relationshipChanges(previous.relationships, next.relationships))
  return {
    previous_generated_at: previous.generated_at,
    total: changes.length,
    breaking: changes.filter((c) => c.breaking).length,
    changes
  }
}

const MAX_TEXT = 60
const quoted = (text: string | null): string =>
  text === null ? "(none)" : JSON.stringify(text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text)

const partitioningText = (p: Partitioning | null): string =>
  p === null
    ? "none"
    : `${p.type}(${p.field ?? "_PARTITIONTIME"})${p.require_partition_filter ? " filter required" : ""}` +
      (p.expiration_ms === null ? "" : ` expires after ${p.expiration_ms} ms`)

const clusteringText = (columns: ReadonlyArray<string>): string =>
  columns.length === 0 ? "none" : `[${columns.join(", ")}]`

const whatChanged = (c: DriftChange): string => {
  switch (c.kind) {
    case "table_added":
      return "table added"
    case "table_removed":
      return "table removed"
    case "table_description_changed":
      return `table description ${quoted(c.from)} → ${quoted(c.to)}`
    case "partitioning_changed":
      return `partitioning ${partitioningText(c.from)} → ${partitioningText(c.to)}`
    case "clustering_changed":
      return `clustering ${clusteringText(c.from)} → ${clusteringText(c.to)}`
    case "column_added":
      return `column ${c.column} added (${c.type} ${c.mode})`
    case "column_removed":
      return `column ${c.column} removed (was ${c.type} ${c.mode})`
    case "column_type_changed":
      return `column ${c.column} type ${c.from} → ${c.to}`
    case "column_mode_changed":
      return `column ${c.column} mode ${c.from} → ${c.to}`
    case "column_description_changed":
      return `column ${c.column} description ${quoted(c.from)} → ${quoted(c.to)}`
    case "relationship_added":
      return `relationship ${c.relationship} added (${c.detail})`
    case "relationship_removed":
      return `relationship ${c.relationship} removed (was ${c.detail})`
    case "relationship_changed":
      return `relationship ${c.relationship} ${c.from} → ${c.to}`
  }
}

/** One readable line per change, breaking ones marked `BREAKING`, e.g. `BREAKING p.d.t: column a.b type FLOAT → STRING`. */
export const describeDrift = (drift: SchemaDrift): ReadonlyArray<string> =>
  drift.changes.map((c) => `${c.breaking ? "BREAKING " : ""}${c.table_id}: ${whatChanged(c)}`)
