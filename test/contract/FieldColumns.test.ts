/**
 * Columns in the cache document: which field objects the fast path vouches for (and passes through
 * without copying), which it sends to the schema, and the dotted paths the backend sees. Expected
 * values are written out by hand.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { Columns, countFields, type Field, flattenFields, isRecord, plainFields } from "../../src/contract/Field.ts"
import { isStringArray } from "../../src/contract/fastPath.ts"

const id = { name: "id", type: "INTEGER", mode: "REQUIRED", description: "key" } as const
const items = {
  name: "items",
  type: "RECORD",
  mode: "REPEATED",
  description: null,
  fields: [
    { name: "sku", type: "STRING", mode: "NULLABLE", description: null },
    {
      name: "tags",
      type: "STRUCT",
      mode: "REPEATED",
      description: null,
      fields: [{ name: "label", type: "STRING", mode: "NULLABLE", description: null }]
    }
  ]
} as const

describe("plainFields, the fast path", () => {
  it("passes complete fields through as they are, without copying", () => {
    const input = [id, items]
    expect(plainFields(input)).toBe(input)
    expect(plainFields([])).toEqual([])
  })

  it("fills a missing description with null, copying only what it must", () => {
    const input = [id, { name: "n", type: "STRING", mode: "NULLABLE" }, { name: "m", type: "STRING", mode: "NULLABLE", description: null }]
    const out = plainFields(input)
    expect(out).not.toBe(input)
    expect(out).toEqual([id, { name: "n", type: "STRING", mode: "NULLABLE", description: null }, input[2]])
    expect(out?.[0]).toBe(id)
    expect(input[1]).toEqual({ name: "n", type: "STRING", mode: "NULLABLE" })
  })

  it("keeps policy tags, and copies a record whose nested fields were completed", () => {
    const tagged = { name: "email", type: "STRING", mode: "NULLABLE", policy_tags: ["projects/p/taxonomies/1/policyTags/2"] }
    expect(plainFields([tagged])).toEqual([{ ...tagged, description: null }])
    const nested = { name: "r", type: "RECORD", mode: "NULLABLE", description: "d", fields: [{ name: "x", type: "INT64", mode: "NULLABLE" }] }
    expect(plainFields([nested])).toEqual([
      { name: "r", type: "RECORD", mode: "NULLABLE", description: "d", fields: [{ name: "x", type: "INT64", mode: "NULLABLE", description: null }] }
    ])
    const complete = { ...tagged, description: "mail" }
    expect(plainFields([complete])?.[0]).toBe(complete)
  })

  it.each([
    ["not an array", { name: "id" }],
    ["a null element", [null]],
    ["a string element", ["id"]],
    ["an array element", [[]]],
    ["an empty name", [{ ...id, name: "" }]],
    ["a numeric name", [{ ...id, name: 1 }]],
    ["an empty type", [{ ...id, type: "" }]],
    ["a missing type", [{ name: "id", mode: "NULLABLE", description: null }]],
    ["an unknown mode", [{ ...id, mode: "OPTIONAL" }]],
    ["a numeric description", [{ ...id, description: 5 }]],
    ["policy tags that are not strings", [{ ...id, policy_tags: [1] }]],
    ["policy tags that are not an array", [{ ...id, policy_tags: "x" }]],
    ["nested fields that are not an array", [{ ...items, fields: {} }]],
    ["an invalid nested field", [{ ...items, fields: [{ ...id, mode: "SOMETIMES" }] }]],
    ["an invalid field after valid ones", [id, id, { ...id, type: 3 }]]
  ])("declines %s (the schema decides)", (_, input) => {
    expect(plainFields(input)).toBeUndefined()
  })

  it("isStringArray", () => {
    expect(isStringArray([])).toBe(true)
    expect(isStringArray(["a", "b"])).toBe(true)
    expect(isStringArray(["a", 1])).toBe(false)
    expect(isStringArray("ab")).toBe(false)
  })
})

describe("Columns, the codec", () => {
  const decode = Schema.decodeUnknownEither(Columns)
  const encode = Schema.encodeUnknownEither(Columns)

  it("decodes plain fields, filling descriptions", () => {
    expect(decode([{ name: "n", type: "STRING", mode: "NULLABLE" }])).toEqual(
      Either.right([{ name: "n", type: "STRING", mode: "NULLABLE", description: null }])
    )
    const input = [id, items]
    expect(Either.getOrThrow(decode(input))).toBe(input)
  })

  it("refuses what the fast path declines, with the schema's own message", () => {
    const refused = decode([{ ...id, mode: "OPTIONAL" }])
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.isLeft(refused) && refused.left.message).toContain("\"OPTIONAL\"")
    expect(Either.isLeft(decode([{ ...id, name: "" }]))).toBe(true)
    expect(Either.isLeft(decode("columns"))).toBe(true)
  })

  it("encodes through the fast path, and refuses invalid fields", () => {
    const input: ReadonlyArray<Field> = [id, items]
    expect(Either.getOrThrow(encode(input))).toBe(input)
    expect(Either.isLeft(encode([{ ...id, mode: "OPTIONAL" }]))).toBe(true)
  })
})

describe("field paths", () => {
  it("flattens records into dotted paths with depth and repeated ancestors", () => {
    expect(flattenFields([id, items])).toEqual([
      { path: "id", segments: ["id"], type: "INTEGER", mode: "REQUIRED", description: "key", repeated: [], depth: 0 },
      { path: "items", segments: ["items"], type: "RECORD", mode: "REPEATED", description: null, repeated: ["items"], depth: 0 },
      {
        path: "items.sku",
        segments: ["items", "sku"],
        type: "STRING",
        mode: "NULLABLE",
        description: null,
        repeated: ["items"],
        depth: 1
      },
      {
        path: "items.tags",
        segments: ["items", "tags"],
        type: "STRUCT",
        mode: "REPEATED",
        description: null,
        repeated: ["items", "items.tags"],
        depth: 1
      },
      {
        path: "items.tags.label",
        segments: ["items", "tags", "label"],
        type: "STRING",
        mode: "NULLABLE",
        description: null,
        repeated: ["items", "items.tags"],
        depth: 2
      }
    ])
    expect(flattenFields([])).toEqual([])
  })

  it("counts every field, nested ones included", () => {
    expect(countFields([id, items])).toBe(5)
    expect(countFields([id])).toBe(1)
    expect(countFields([])).toBe(0)
  })

  it("RECORD and STRUCT, in any case, are records", () => {
    expect(isRecord(items)).toBe(true)
    expect(isRecord({ ...id, type: "struct" })).toBe(true)
    expect(isRecord({ ...id, type: "Record" })).toBe(true)
    expect(isRecord(id)).toBe(false)
  })
})
