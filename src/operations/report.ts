/**
 * The operator's view of documents, snapshots and drift, as plain text lines.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import type { CacheDocument } from "../contract/CacheDocument.ts"
import { describeDrift, type SchemaDrift } from "../contract/Drift.ts"
import { isGeneratedInTheFuture } from "../contract/Limits.ts"
import { countFields } from "../contract/Field.ts"
import { describeRelationship, type RelationshipSource } from "../contract/Relationship.ts"
import type { Snapshot } from "../sync/history.ts"
import type { StoredDocument } from "./Operations.ts"

const iso = (at: DateTime.Utc) => DateTime.formatIso(at)

/** `3 h 12 min`, `2 d 4 h`: how long ago, readably. */
export const formatAge = (age: Duration.Duration): string => {
  const minutes = Math.floor(Duration.toMinutes(age))
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return `${hours} h ${minutes % 60} min`
  return `${Math.floor(hours / 24)} d ${hours % 24} h`
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`

/**
 * How the document is stored: one object, or a split layout's manifest and parts (one line per
 * part, so an operator sees which dataset's part is large). `manifest` may be absent in values
 * built by hand for a whole document.
 */
export const formatLayout = (stored: Pick<StoredDocument, "manifest">): ReadonlyArray<string> => {
  const manifest = stored.manifest ?? null
  if (manifest === null) return ["Layout: one document"]
  const width = Math.max(...manifest.parts.map((p) => p.key.length))
  return [
    `Layout: split, a manifest and ${manifest.parts.length} part${manifest.parts.length === 1 ? "" : "s"} (${
      kib(manifest.parts.reduce((sum, p) => sum + p.bytes, 0))
    } in parts)`,
    ...manifest.parts.map((p) => `  ${p.key.padEnd(width)}  ${p.tables} tables, ${p.examples} examples, ${kib(p.bytes)}, generation ${p.generation}`)
  ]
}

/** `metasync show`: tables, freshness, metrics and health of the latest document. */
export const formatShow = (stored: StoredDocument, now: DateTime.Utc, maxAge: Duration.Duration): string => {
  const doc: CacheDocument = stored.document
  const sinceGenerated = DateTime.distance(doc.generated_at, now)
  const age = Duration.millis(Math.max(0, sinceGenerated))
  const width = Math.max(...doc.tables.map((t) => t.table_id.length))
  const metrics = doc.metrics
  const lines = [
    `Document: ${stored.location} (generation ${stored.info.generation}, ${kib(stored.info.size)})`,
    `Format ${stored.formatVersion ?? doc.format_version}, written by ${doc.generator.name} ${doc.generator.version}`,
    ...formatLayout(stored),
    `Generated at: ${iso(doc.generated_at)} (${
      isGeneratedInTheFuture(doc.generated_at, DateTime.toEpochMillis(now))
        ? `${formatAge(Duration.millis(-sinceGenerated))} in the future: SUSPECT, ahead of this clock`
        : `${formatAge(age)} ago${Duration.greaterThan(age, maxAge) ? `: STALE, older than ${formatAge(maxAge)}` : ""}`
    })`,
    `Tables: ${doc.tables.length}`,
    ...doc.tables.map((t) =>
      `  ${t.table_id.padEnd(width)}  ${t.columns.length} columns, ${countFields(t.columns)} fields${
        t.sharding === null ? "" : `, ${t.sharding.shard_count} shards ${t.sharding.first_suffix}..${t.sharding.last_suffix}`
      }${t.profile === null ? "" : ", profiled"}${
        t.status.state === "stale" ? `  STALE since ${iso(t.status.failure.since)}: ${t.status.failure.tag}` : ""
      }`
    ),
    `Examples: ${doc.examples.length}`
  ]
  if (metrics !== null) {
    const rejected = Object.entries(metrics.examples_rejected_by_reason)
    lines.push(
      `Descriptions: ${metrics.tables_described_pct}% of tables, ${metrics.fields_described_pct}% of fields`,
      `Examples by source: ${Object.entries(metrics.examples_by_source).map(([s, n]) => `${s} ${n}`).join(", ")}${
        rejected.length === 0 ? "" : `; rejected: ${rejected.map(([r, n]) => `${r} ${n}`).join(", ")}`
      }`,
      `Health: ${metrics.health.pass ? "pass" : "fail"} (tables described ${
        metrics.health.tables_described.pass ? "pass" : "fail"
      }; ${metrics.health.tables.filter((t) => t.fields_described.pass && t.examples.pass).length} of ${
        metrics.health.tables.length
      } tables meet the column and example targets)`
    )
  }
  if (doc.relationships.length > 0) {
    const bySource = new Map<RelationshipSource, number>()
    for (const r of doc.relationships) bySource.set(r.source, (bySource.get(r.source) ?? 0) + 1)
    lines.push(
      `Relationships: ${doc.relationships.length} (${[...bySource].map(([s, n]) => `${s} ${n}`).join(", ")})`,
      ...doc.relationships.map((r) => `  ${describeRelationship(r, true)}  ${r.source} ${r.confidence.toFixed(2)}`)
    )
  }
  if (doc.embeddings !== null) {
    const e = doc.embeddings
    lines.push(`Embeddings: ${e.vectors.length} vectors, ${e.model}, ${e.dimension} dimensions (${e.encoding})`)
  }
  if (doc.drift !== null && doc.drift.total > 0) {
    lines.push(`Drift since ${iso(doc.drift.previous_generated_at)}: ${doc.drift.total} changes, ${doc.drift.breaking} breaking`)
  }
  return lines.join("\n")
}

/** `metasync history`: snapshots, newest first, the one that is the latest marked. */
export const formatHistory = (snapshots: ReadonlyArray<Snapshot>, latest: CacheDocument | undefined): string => {
  if (snapshots.length === 0) return "No snapshots yet."
  const current = latest === undefined ? undefined : iso(latest.generated_at)
  return [...snapshots].reverse().map((s) =>
    `${iso(s.generatedAt) === current ? "* " : "  "}${s.info.name.split("/").pop()}  generated ${iso(s.generatedAt)}  ${
      kib(s.info.size)
    }`
  ).join("\n")
}

/** `metasync diff`: one line per change. */
export const formatDiff = (from: StoredDocument, to: StoredDocument, drift: SchemaDrift): string =>
  [
    `From ${from.name} (generated ${iso(from.document.generated_at)})`,
    `  to ${to.name} (generated ${iso(to.document.generated_at)})`,
    drift.total === 0 ? "No changes." : `${drift.total} changes, ${drift.breaking} breaking:`,
    ...describeDrift(drift).map((line) => `  ${line}`)
  ].join("\n")
