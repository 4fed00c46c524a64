/**
 * The split layout: a document cut into a manifest and parts joins back into exactly itself; the
 * manifest and the parts render and decode through their codecs; a part that does not belong to
 * its manifest, and an inconsistent manifest, are refused with a message naming the problem.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { decodeCacheDocument, makeCacheDocument } from "../../src/contract/CacheDocument.ts"
import { decodeStoredBytes } from "../../src/contract/DocumentBytes.ts"
import {
  type CacheManifest,
  type CachePart,
  decodeManifest,
  decodePart,
  joinDocument,
  makeManifest,
  makePart,
  planParts,
  renderManifestChunks,
  renderPartChunks,
  splitLayoutOf
} from "../../src/contract/SplitDocument.ts"
import { makeTableEntry, type TableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { ga4Table } from "../support/TestLayers.ts"

const ga4 = ga4Table({ description: "GA4 이벤트" })
const base = makeTableEntry({ ...ga4, field_paths: fieldPathEntries(ga4.columns) })
const table = (dataset: string, name: string): TableEntry => ({ ...base, table_id: TableId.make(`proj-1.${dataset}.${name}`) })
const example = (tables: ReadonlyArray<string>, i: number) => ({
  question: `질문 ${i}`,
  sql: `SELECT 1 -- ${i}`,
  tables: tables.map((t) => TableId.make(t)),
  source: "template" as const,
  generator: "template:test",
  language: "ko" as const
})

// Datasets interleaved, one of them larger than a part; an example across datasets; one naming an unknown table.
const tables = [table("a", "t0"), table("b", "t1"), table("a", "t2"), table("a", "t3"), table("b", "t4"), table("c", "t5"), table("a", "t6")]
const examples = [
  example(["proj-1.b.t1"], 0),
  example(["proj-1.a.t0"], 1),
  example(["proj-1.c.t5", "proj-1.a.t2"], 2),
  example(["proj-1.a.t6"], 3),
  example(["proj-1.z.unknown"], 4),
  example(["proj-1.a.t0", "proj-1.b.t4"], 5)
]
const doc = makeCacheDocument({
  generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
  generator: { name: "metasync", version: "test" },
  tables: [tables[0]!, ...tables.slice(1)],
  examples
})

const bytesOf = (render: () => Iterable<Uint8Array>) => Buffer.concat([...render()])
const stored = (i: number) => ({ object: `parts/x/run/${i}.json`, generation: String(100 + i), bytes: 1, md5: null })

/** The manifest and parts of `doc`, each through its bytes and back. */
const roundTrip = (maxPartTables: number) => {
  const plan = planParts(doc, maxPartTables)
  const parts = plan.parts.map((p) => {
    const decoded = Either.getOrThrow(decodeStoredBytes(bytesOf(Either.getOrThrow(renderPartChunks(makePart(p, doc.generated_at))))))
    if (decoded._tag !== "Part") throw new Error(decoded._tag)
    return decoded.part
  })
  const manifest = makeManifest(doc, plan, plan.parts.map((_, i) => stored(i)))
  const decoded = Either.getOrThrow(decodeStoredBytes(bytesOf(Either.getOrThrow(renderManifestChunks(manifest)))))
  if (decoded._tag !== "Manifest") throw new Error(decoded._tag)
  return { plan, manifest: decoded.manifest, parts }
}

describe("the split layout", () => {
  it("cuts by dataset, a large dataset into several parts, and joins back into exactly the document", () => {
    const { manifest, parts, plan } = roundTrip(3)
    expect(manifest.parts.map((p) => p.key)).toEqual(["proj-1.a", "proj-1.b", "proj-1.c", "proj-1.a-2"])
    expect(plan.parts.map((p) => p.tables.map((t) => t.table_id))).toEqual([
      ["proj-1.a.t0", "proj-1.a.t2", "proj-1.a.t3"],
      ["proj-1.b.t1", "proj-1.b.t4"],
      ["proj-1.c.t5"],
      ["proj-1.a.t6"]
    ])
    // An example goes with its first known table; an unknown table's example with the primary part.
    expect(manifest.example_parts).toEqual([1, 0, 2, 3, 0, 0])
    expect(manifest.parts.map((p) => p.example_tables)).toEqual([["proj-1.b.t4", "proj-1.z.unknown"], [], ["proj-1.a.t2"], []])
    expect(manifest.catalog.map((c) => c.table_id)).toEqual(tables.map((t) => t.table_id))
    expect(manifest.catalog[0].columns).toEqual(base.field_paths.map((f) => f.path))
    expect(manifest.examples.map((e) => e.question)).toEqual(["질문 1", "질문 5"])
    expect(Either.getOrThrow(joinDocument(manifest, parts))).toEqual(Either.getOrThrow(decodeCacheDocument(JSON.parse(JSON.stringify(doc)))))
    const whole = roundTrip(1000)
    expect(whole.manifest.parts.map((p) => p.key)).toEqual(["proj-1.a", "proj-1.b", "proj-1.c"])
    expect(Either.getOrThrow(joinDocument(whole.manifest, whole.parts))).toEqual(Either.getOrThrow(joinDocument(manifest, parts)))
  })

  it("puts an example naming a shard or a family wildcard with its family, even in a dataset cut into several parts", () => {
    const family: TableEntry = {
      ...table("a", "events_20240131"),
      sharding: { prefix: "events_", first_suffix: "20240101", last_suffix: "20240131", shard_count: 31 }
    }
    const sharded = makeCacheDocument({
      ...doc,
      tables: [table("a", "t0"), table("a", "t1"), family],
      examples: [example(["proj-1.a.events_20240105"], 0), example(["proj-1.a.events_*"], 1), example(["proj-1.a.other"], 2)]
    })
    const plan = planParts(sharded, 2)
    expect(plan.parts.map((p) => p.key)).toEqual(["proj-1.a", "proj-1.a-2"])
    // An unknown table of the dataset goes with the dataset's first part.
    expect(plan.examplePart).toEqual([1, 1, 0])
  })

  it("refuses parts that do not belong to the manifest, naming them", () => {
    const { manifest, parts } = roundTrip(3)
    const swapped = [parts[1]!, parts[0]!, parts[2]!, parts[3]!]
    expect(Either.getLeft(joinDocument(manifest, swapped, "gs://b/m.json")).pipe((e) => e._tag === "Some" && e.value.message)).toContain(
      "the object parts/x/run/0.json holds part proj-1.b, not proj-1.a"
    )
    const short: CachePart = { ...parts[0]!, tables: [parts[0]!.tables[0]!] }
    expect(String(Either.getLeft(joinDocument(manifest, [short, ...parts.slice(1)])).pipe((e) => e._tag === "Some" && e.value.problems))).toContain(
      "parts.0 (proj-1.a): 1 tables, the manifest says 3"
    )
    expect(Either.isLeft(joinDocument(manifest, parts.slice(1)))).toBe(true)
  })

  it("refuses an inconsistent manifest when decoding and when rendering", () => {
    const { manifest } = roundTrip(3)
    const json = JSON.parse(bytesOf(Either.getOrThrow(renderManifestChunks(manifest))).toString("utf8")) as Record<string, any>
    const problemsOf = (value: unknown) => Either.getLeft(decodeManifest(value, "m.json")).pipe((e) => (e._tag === "Some" ? e.value.problems : ""))
    expect(problemsOf({ ...json, example_parts: [0, 0, 0, 0, 0, 0] })).toContain("parts.0 (proj-1.a) says 3 examples; example_parts puts 6 there")
    expect(problemsOf({ ...json, catalog: json.catalog.map((c: any, i: number) => (i === 1 ? { ...c, part: 9 } : c)) })).toContain("names part 9; there are 4")
    expect(problemsOf({ ...json, parts: json.parts.map((p: any) => ({ ...p, key: "same" })) })).toContain("part same appears twice in parts")
    expect(problemsOf({ ...json, catalog: "none" })).toContain("catalog")
    const broken: CacheManifest = { ...manifest, example_parts: [] }
    expect(Either.isLeft(renderManifestChunks(broken))).toBe(true)
    // A reader of one whole document is told what a manifest is.
    expect(Either.getLeft(decodeCacheDocument(json)).pipe((e) => (e._tag === "Some" ? e.value.problems : ""))).toContain("split layout")
  })

  it("names each inconsistency of a manifest: primary table, duplicate ids, indexes at the boundary, counts, an empty part", () => {
    const { manifest } = roundTrip(3)
    const json = JSON.parse(bytesOf(Either.getOrThrow(renderManifestChunks(manifest))).toString("utf8")) as Record<string, any>
    const problemsOf = (value: unknown) => Either.getLeft(decodeManifest(value, "m.json")).pipe((e) => (e._tag === "Some" ? e.value.problems : "decoded"))
    const catalog = json.catalog as Array<Record<string, any>>
    expect(problemsOf({ ...json, schema: { ...json.schema, table_id: "proj-1.b.t1" } })).toContain("schema.table_id (proj-1.b.t1) must be the primary table catalog[0].table_id (proj-1.a.t0)")
    expect(problemsOf({ ...json, catalog: catalog.map((c, i) => (i === 2 ? { ...c, table_id: "proj-1.a.t0" } : c)) })).toContain("table proj-1.a.t0 appears twice in catalog")
    expect(problemsOf({ ...json, catalog: catalog.map((c, i) => (i === 1 ? { ...c, part: 4 } : c)) })).toContain("catalog entry proj-1.b.t1 names part 4; there are 4")
    expect(problemsOf({ ...json, example_parts: [4, 0, 2, 3, 0, 0] })).toContain("example_parts names part 4; there are 4")
    expect(problemsOf({ ...json, parts: json.parts.map((p: any, i: number) => (i === 1 ? { ...p, tables: 3 } : p)) })).toContain("parts.1 (proj-1.b) says 3 tables; the catalog puts 2 there")
    // A fifth part that no table is in.
    const empty = { ...json.parts[3], key: "proj-1.empty", tables: 0, examples: 0 }
    expect(problemsOf({ ...json, parts: [...json.parts, empty] })).toContain("parts.4 (proj-1.empty) holds no table")
    expect(problemsOf(json)).toBe("decoded")
  })

  it("plans with a positive whole number of tables a part, and an example with its first table a part is known for", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => planParts(doc, bad)).toThrow(`maxPartTables must be a positive integer, got ${bad}`)
    expect(planParts(doc, 1).parts).toHaveLength(tables.length)
    const other = makeCacheDocument({
      ...doc,
      examples: [example(["other-project.z.x", "proj-1.b.t4"], 0), example(["proj-1.b.unknown"], 1), example(["proj-1.c.unknown", "proj-1.a.t0"], 2)]
    })
    // Unknown project: the next table; an unknown table of a known dataset: that dataset's first part.
    expect(planParts(other, 3).examplePart).toEqual([1, 1, 2])
  })

  it("lists a table's columns from its columns when it has no field paths, and refuses parts stored for another plan", () => {
    const bare: TableEntry = { ...base, table_id: TableId.make("proj-1.a.bare"), field_paths: [] }
    const withBare = makeCacheDocument({ ...doc, tables: [bare, ...tables] })
    const plan = planParts(withBare)
    const manifest = makeManifest(withBare, plan, plan.parts.map((_, i) => stored(i)))
    expect(manifest.catalog[0].columns).toEqual(base.field_paths.map((f) => f.path))
    expect(() => makeManifest(withBare, plan, [stored(0)])).toThrow(`${plan.parts.length} parts were planned; 1 were stored`)
  })

  it("refuses a part whose examples or table order are not the manifest's", () => {
    const { manifest, parts } = roundTrip(3)
    const problemsOf = (given: ReadonlyArray<CachePart>) => Either.getLeft(joinDocument(manifest, given, "m.json")).pipe((e) => (e._tag === "Some" ? e.value.message : "joined"))
    const fewer: CachePart = { ...parts[0]!, examples: parts[0]!.examples.slice(1) }
    expect(problemsOf([fewer, ...parts.slice(1)])).toContain("parts.0 (proj-1.a): 2 examples, the manifest says 3")
    const reordered: CachePart = { ...parts[0]!, tables: [parts[0]!.tables[1]!, parts[0]!.tables[0]!, parts[0]!.tables[2]!] }
    expect(problemsOf([reordered, ...parts.slice(1)])).toContain("catalog.0: the manifest lists proj-1.a.t0; part proj-1.a holds proj-1.a.t2 there")
    expect(problemsOf(parts.slice(1))).toContain("m.json is not a valid MetaSync cache document:\n- parts: the manifest names 4 parts; 3 were given")
    expect(problemsOf(parts)).toBe("joined")
    const broken: CacheManifest = { ...manifest, example_parts: [] }
    expect(Either.getLeft(renderManifestChunks(broken)).pipe((e) => (e._tag === "Some" ? e.value.message : ""))).toBe(
      "manifest is not a valid MetaSync cache document:\n- (manifest): parts.0 (proj-1.a) says 3 examples; example_parts puts 0 there"
    )
  })

  it("tells a split layout's objects by their format and layout only", () => {
    expect(splitLayoutOf({ format_version: 3, layout: "manifest" })).toBe("manifest")
    expect(splitLayoutOf({ format_version: 3, layout: "part" })).toBe("part")
    for (const value of [null, undefined, "x", 3, [], { format_version: 2, layout: "manifest" }, { format_version: 3, layout: "other" }, { format_version: 3 }, { layout: "part" }]) {
      expect(splitLayoutOf(value)).toBeUndefined()
    }
    const { parts } = roundTrip(3)
    const text = bytesOf(Either.getOrThrow(renderPartChunks(parts[0]!))).toString("utf8")
    expect(Either.getLeft(decodePart({ ...JSON.parse(text), tables: [] }, "p.json")).pipe((e) => (e._tag === "Some" ? e.value.message : ""))).toMatch(/^p\.json is not a valid MetaSync cache document:\n- tables/)
  })
})
