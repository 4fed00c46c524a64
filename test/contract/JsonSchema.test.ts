import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import addFormats from "ajv-formats"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import { readFileSync } from "node:fs"
import { makeCacheDocument, renderCacheDocument } from "../../src/contract/CacheDocument.ts"
import { renderJsonSchema } from "../../src/contract/jsonSchema.ts"
import { fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { ga4Table } from "../support/TestLayers.ts"

const committed = readFileSync(new URL("../../schema/cache-document.schema.json", import.meta.url), "utf8")
const seed = JSON.parse(readFileSync(new URL("../fixtures/cache/seed-example.json", import.meta.url), "utf8"))

const validator = () => {
  const ajv = new Ajv({ allErrors: true, strict: false })
  ;(addFormats as unknown as (ajv: Ajv) => void)(ajv)
  return ajv.compile(JSON.parse(committed))
}

describe("the published JSON Schema", () => {
  it("is up to date with the codecs (run `npm run schema` after changing src/contract)", () => {
    expect(committed).toBe(renderJsonSchema())
  })

  it("accepts what MetaSync writes and the seed's document, and rejects a broken one", () => {
    const validate = validator()
    const table = ga4Table()
    const doc = makeCacheDocument({
      generated_at: DateTime.unsafeMake("2026-11-27T17:00:00Z"),
      generator: { name: "metasync", version: "test" },
      tables: [{ ...table, sharding: null, profile: null, field_paths: fieldPathEntries(table.columns), status: { state: "fresh" } }],
      examples: []
    })
    const written = JSON.parse(Either.getOrThrow(renderCacheDocument(doc)))
    expect(validate(written), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(seed), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...written, tables: "none" })).toBe(false)
    expect(validate({ ...written, future_field: { added: "later" } })).toBe(true)
  })
})
