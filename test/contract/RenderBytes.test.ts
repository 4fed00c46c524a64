/** The document rendered to bytes piece by piece is, byte for byte, the text rendered whole. */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { makeCacheDocument, renderCacheDocument, renderCacheDocumentBytes } from "../../src/contract/CacheDocument.ts"
import { makeTableEntry } from "../../src/contract/TableEntry.ts"
import { TableId } from "../../src/contract/TableId.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { ga4Table } from "../support/TestLayers.ts"

const ga4 = ga4Table({ description: "GA4 이벤트 😀", labels: { team: "분석" } })
const entry = makeTableEntry({ ...ga4, field_paths: fieldPathEntries(ga4.columns) })
const example = (i: number) => ({
  question: `국가별 사용자 수는 어떻게 되나요? 😀 ${i}`,
  sql: `SELECT geo.country, COUNT(*) AS n FROM \`${ga4.table_id}\` GROUP BY 1 -- ${i}`,
  tables: [TableId.make(ga4.table_id)],
  source: "template" as const,
  generator: "template:count_by",
  language: "ko" as const,
  ...(i % 2 === 0 ? { estimated_bytes: i } : {})
})

describe("renderCacheDocumentBytes", () => {
  it("gives exactly the UTF-8 bytes of the rendered text, across chunk boundaries and for empty lists", () => {
    for (const examples of [[], [example(0)], Array.from({ length: 3000 }, (_, i) => example(i))]) {
      const doc = makeCacheDocument({
        generated_at: DateTime.unsafeMake("2026-11-30T00:00:00Z"),
        generator: { name: "metasync", version: "test" },
        tables: [entry],
        examples
      })
      const text = Either.getOrThrow(renderCacheDocument(doc))
      expect(Buffer.from(Either.getOrThrow(renderCacheDocumentBytes(doc))).equals(Buffer.from(text, "utf8"))).toBe(true)
    }
  })
})
