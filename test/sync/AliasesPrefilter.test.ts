/**
 * `namesInDescription` skips its patterns for descriptions that cannot hold a name (no parenthesis,
 * no marker word, ASCII only). The names found must be those the patterns alone find: checked here
 * against the patterns run on every description, over text built from the pieces that matter.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { namesInDescription } from "../../src/sync/glossary/aliases.ts"

// The patterns of aliases.ts, run on every description (the definition the shortcut must keep).
const MARKER = /(?:also known as|also called|a\.?k\.?a\.?|aliases?|business names?|별칭|별명|일명|다른 이름)\s*[:：]?\s*([^.;\n()]+)/giu
const HANGUL_IN_PARENS = /\(([\p{Script=Hangul}][\p{Script=Hangul}\s]{0,24})\)/gu
const LEADING_HANGUL = /^\s*([\p{Script=Hangul}][\p{Script=Hangul}\s]{0,24}?)\s*(?::|：| - | — )/u
const clean = (name: string) => name.replace(/["'`]/g, "").replace(/\s+/g, " ").trim()
const split = (list: string): Array<string> =>
  list.split(/,|;|、|\/|\bor\b|또는/u).map(clean).filter((n) => n.length > 0 && n.length <= 60)
const reference = (description: string): Array<string> => {
  const names: Array<string> = []
  for (const m of description.matchAll(MARKER)) names.push(...split(m[1]!))
  for (const m of description.matchAll(HANGUL_IN_PARENS)) names.push(clean(m[1]!))
  const leading = LEADING_HANGUL.exec(description)
  if (leading !== null && !/^(?:별칭|별명|일명|다른 이름)$/u.test(clean(leading[1]!))) names.push(clean(leading[1]!))
  return [...new Set(names.filter((n) => n.length > 0))]
}

const piece = fc.constantFrom(
  "Also known as", "ALSO CALLED", "aka", "A.K.A.", "a\u212Aa", "alias", "Aliases:", "Business name", "business names",
  "별칭", "일명", "고객", "주문 상태", "(", ")", "(고객)", ":", " - ", " — ", ",", ";", " or ", ".", "\n",
  "Order status", "customer", "Osaka", "ſtatus", " ", "x", "Column 4, described for the model"
)
const text = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(""))

describe("namesInDescription", () => {
  it("finds the names its patterns find, whether or not it skips them", () => {
    fc.assert(fc.property(fc.oneof(text, fc.string(), fc.fullUnicodeString()), (d) => {
      expect(namesInDescription(d)).toEqual(reference(d))
    }), { numRuns: 2000 })
  })

  it("still finds names in the usual forms", () => {
    expect(namesInDescription("Customers of the shop (고객)")).toEqual(["고객"])
    expect(namesInDescription("Also known as: buyer, client")).toEqual(["buyer", "client"])
    expect(namesInDescription("a\u212Aa shopper")).toEqual(["shopper"])
    expect(namesInDescription("Column 4, described for the model")).toEqual([])
  })
})
