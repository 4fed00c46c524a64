/**
 * The cache document as a JSON Schema (draft-07), generated from the effect/Schema codecs, for
 * backends in other languages. It accepts every version a reader must decode: the current one
 * and the seed's format 1.
 *
 * Fields the codecs do not know are allowed, as the TypeScript reader ignores them: a validator
 * built on an older schema keeps accepting documents that gained optional fields since.
 */
import * as JSONSchema from "effect/JSONSchema"
import * as Schema from "effect/Schema"
import { CacheDocumentV1, CacheDocumentV2 } from "./CacheDocument.ts"
import { CacheManifest, CachePart } from "./SplitDocument.ts"

const relax = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(relax)
  if (typeof node !== "object" || node === null) return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === "additionalProperties" && value === false) continue
    out[key] = relax(value)
  }
  if (out.description === "a string to be decoded into a DateTime.Utc") {
    return { type: "string", format: "date-time", description: "An ISO-8601 timestamp" }
  }
  return out
}

export const cacheDocumentJsonSchema = (): Record<string, unknown> => {
  const generated = relax(JSONSchema.make(Schema.Union(CacheDocumentV2, CacheManifest, CacheDocumentV1))) as {
    readonly $defs: Record<string, Record<string, unknown>>
  }
  // Format 1 is recognised by having no format_version: a broken newer document must not pass as one.
  const v1 = { ...generated.$defs.CacheDocumentV1, not: { required: ["format_version"] } }
  return {
    ...generated,
    $defs: { ...generated.$defs, CacheDocumentV1: v1 },
  $id: "https://metasync/schema/cache-document.schema.json",
  title: "MetaSync cache document",
    description:
      "The JSON document MetaSync publishes: format 2 (one document), format 3's manifest (the split layout; its parts are described by cache-part.schema.json) or the seed's format 1 (no format_version)."
  }
}

/** A split layout's part (format 3), an object of its own beside the manifest. */
export const cachePartJsonSchema = (): Record<string, unknown> => ({
  ...(relax(JSONSchema.make(CachePart)) as Record<string, unknown>),
  $id: "https://metasync/schema/cache-part.schema.json",
  title: "MetaSync cache document part",
  description: "One part of a split MetaSync cache document (format 3): full table entries and examples of one dataset."
})

/** The committed file's text. */
export const renderJsonSchema = (): string => `${JSON.stringify(cacheDocumentJsonSchema(), null, 2)}\n`
export const renderPartJsonSchema = (): string => `${JSON.stringify(cachePartJsonSchema(), null, 2)}\n`
