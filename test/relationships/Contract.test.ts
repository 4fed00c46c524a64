import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { makeCacheDocument, parseCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"
import { computeDrift, describeDrift } from "../../src/contract/Drift.ts"
import { describeRelationship, mergeRelationships, type Relationship } from "../../src/contract/Relationship.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"

const PUBLICATION = TableId.make("defog-eval.academic.publication")
const CONFERENCE = TableId.make("defog-eval.academic.conference")

const rel = (overrides: Partial<Relationship> = {}): Relationship => ({
  from: { table_id: PUBLICATION, columns: ["cid"] },
  to: { table_id: CONFERENCE, columns: ["cid"] },
  source: "inferred",
  confidence: 0.9,
  evidence: "name: cid is conference's key",
  cardinality: "many-to-one",
  ...overrides
})

const doc = (relationships: ReadonlyArray<Relationship>, at = "2026-11-01T00:00:00Z") =>
  makeCacheDocument({
    generated_at: DateTime.unsafeMake(at),
    generator: { name: "metasync", version: "test" },
    tables: [
      makeTableEntry({
        table_id: PUBLICATION,
        last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
        columns: [{ name: "cid", type: "INTEGER", mode: "NULLABLE", description: null }]
      })
    ],
    examples: [],
    relationships
  })

describe("relationships in the cache document", () => {
  it("round-trips through the document's JSON text", () => {
    const text = Either.getOrThrow(renderCacheDocument(doc([rel()])))
    const back = Either.getOrThrow(parseCacheDocument(text))
    expect(back.relationships).toEqual([rel()])
  })

  it("decodes a document written before relationships existed, with none", () => {
    const encoded = JSON.parse(Either.getOrThrow(renderCacheDocument(doc([]))))
    delete encoded.relationships
    expect(Either.getOrThrow(parseCacheDocument(JSON.stringify(encoded))).relationships).toEqual([])
  })

  it("refuses a relationship whose ends do not pair up", () => {
    const text = Either.getOrThrow(renderCacheDocument(doc([rel()])))
    const result = parseCacheDocument(text.replace('"columns":["cid"]},"source"', '"columns":["cid","year"]},"source"'))
    expect(Either.isLeft(result)).toBe(true)
  })

  it("renders a join hint without project and dataset", () => {
    expect(describeRelationship(rel())).toBe("publication.cid → conference.cid (many-to-one)")
  })

  it("keeps one relationship per pair of ends, from the most trusted source, in either direction", () => {
    const curated = rel({ source: "curated", confidence: 1, evidence: "curated/academic.yaml", cardinality: null })
    const reversed = rel({
      from: { table_id: CONFERENCE, columns: ["cid"] },
      to: { table_id: PUBLICATION, columns: ["cid"] },
      source: "dbt",
      confidence: 1,
      evidence: "dbt test"
    })
    const merged = mergeRelationships([rel(), reversed, curated])
    expect(merged).toHaveLength(1)
    expect(merged[0]!.source).toBe("curated")
    expect(merged[0]!.cardinality).toBe("many-to-one")
    expect(merged[0]!.evidence).toBe("curated/academic.yaml; also dbt: dbt test; inferred: name: cid is conference's key")
  })

  it("reports relationships that appear, disappear and change as drift, none of them breaking", () => {
    const other = rel({ from: { table_id: PUBLICATION, columns: ["jid"] }, to: { table_id: TableId.make("defog-eval.academic.journal"), columns: ["jid"] } })
    const drift = computeDrift(doc([rel(), other]), doc([rel({ source: "curated", confidence: 1 }), rel({ from: { table_id: PUBLICATION, columns: ["pid"] } })]))
    expect(drift.breaking).toBe(0)
    expect(describeDrift(drift)).toEqual([
      "defog-eval.academic.publication: relationship defog-eval.academic.publication.cid → defog-eval.academic.conference.cid inferred, confidence 0.90, many-to-one → curated, confidence 1.00, many-to-one",
      "defog-eval.academic.publication: relationship defog-eval.academic.publication.pid → defog-eval.academic.conference.cid added (inferred, confidence 0.90, many-to-one)",
      "defog-eval.academic.publication: relationship defog-eval.academic.publication.jid → defog-eval.academic.journal.jid removed (was inferred, confidence 0.90, many-to-one)"
    ])
  })
})
