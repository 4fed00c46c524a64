/**
 * `namesInDescription` skips its patterns for descriptions that cannot hold a name (no parenthesis,
 * no marker word, ASCII only). The names found must be those the patterns alone find: checked here
 * against the patterns run on every description, over text built from the pieces that matter.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import { namesByPatterns, namesInDescription } from "../../src/sync/glossary/aliases.ts"

const piece = fc.constantFrom(
  "Also known as", "ALSO CALLED", "aka", "A.K.A.", "a\u212Aa", "alias", "Aliases:", "Business name", "business names",
  "별칭", "일명", "고객", "주문 상태", "(", ")", "(고객)", ":", " - ", " — ", ",", ";", " or ", ".", "\n",
  "Order status", "customer", "Osaka", "ſtatus", " ", "x", "Column 4, described for the model"
)
const text = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(""))

describe("namesInDescription", () => {
  it("finds the names its patterns find, whether or not it skips them", () => {
    fc.assert(fc.property(fc.oneof(text, fc.string(), fc.fullUnicodeString()), (d) => {
      expect(namesInDescription(d)).toEqual(namesByPatterns(d))
    }), { numRuns: 2000 })
  })

  it("still finds names in the usual forms", () => {
    expect(namesInDescription("Customers of the shop (고객)")).toEqual(["고객"])
    expect(namesInDescription("Also known as: buyer, client")).toEqual(["buyer", "client"])
    expect(namesInDescription("a\u212Aa shopper")).toEqual(["shopper"])
    expect(namesInDescription("Column 4, described for the model")).toEqual([])
  })
})
