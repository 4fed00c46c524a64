import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { renderDataModule } from "../../src/context/vocabulary/compile.ts"
import {
  conceptsOf,
  englishTerms,
  expandKorean,
  koreanSynonymFilter,
  koreanVocabulary,
  splitKorean,
  synonymGroups
} from "../../src/context/vocabulary/Vocabulary.ts"

const dir = new URL("../../src/context/vocabulary/", import.meta.url)
const read = (file: string) => readFileSync(new URL(file, dir), "utf8")

describe("the vocabulary data", () => {
  it("holds thousands of Korean terms, each on one line with English synonyms and a domain", () => {
    const lines = read("ko-en.tsv").split("\n").filter((l) => l !== "" && !l.startsWith("#"))
    const koreans = lines.map((l) => l.split("\t")[0])
    expect(new Set(koreans).size).toBe(koreans.length)
    expect(koreans.length).toBeGreaterThanOrEqual(3000)
    for (const line of lines) {
      const [korean, english, domain] = line.split("\t")
      expect(korean, line).toMatch(/^[0-9\uAC00-\uD7A3]+$/u)
      expect(english, line).toMatch(/^[a-z0-9][^|\t]*(\|[a-z0-9][^|\t]*)*$/u)
      expect(domain, line).toMatch(/^[a-z]+$/u)
    }
    expect(koreanVocabulary().size).toBe(koreans.length)
  })

  it("states its method in its header", () => {
    const header = read("ko-en.tsv").split("\n").filter((l) => l.startsWith("#")).join("\n")
    expect(header).toMatch(/Method/u)
    expect(header).toMatch(/NOT tuned to any benchmark/u)
  })

  it("is compiled into vocabularyData.ts (run `node scripts/vocabulary.ts` after editing a TSV)", () => {
    expect(read("vocabularyData.ts")).toBe(renderDataModule(read("ko-en.tsv"), read("ko-grammar.tsv")))
  })
})

describe("splitKorean", () => {
  it("strips particles and endings", () => {
    expect(splitKorean("고객별")).toEqual(["고객"])
    expect(splitKorean("주문의")).toEqual(["주문"])
    expect(splitKorean("판매했나요")).toEqual(["판매"])
    expect(splitKorean("고객들이")).toEqual(["고객"])
    expect(splitKorean("재고에서")).toEqual(["재고"])
    expect(splitKorean("가입한")).toEqual(["가입"])
    expect(splitKorean("영업사원별로")).toEqual(["영업사원"])
  })

  it("splits a compound into its longest entries", () => {
    expect(splitKorean("고객주문")).toEqual(["고객", "주문"])
    expect(splitKorean("고객주문금액")).toEqual(["고객", "주문금액"])
    expect(splitKorean("상품재고수량은")).toEqual(["상품", "재고수량"])
    expect(splitKorean("월별매출")).toEqual(["월별", "매출"])
  })

  it("finds a verb through its stem and a fused ending", () => {
    expect(splitKorean("팔린")).toEqual(["팔리다"])
    expect(splitKorean("팔렸나요")).toEqual(["팔리다"])
  })

  it("keeps unknown stems and numbers, drops words that are only grammar", () => {
    expect(splitKorean("마틴과")).toEqual(["마틴"])
    expect(splitKorean("2023년에")).toEqual(["2023", "년"])
    expect(splitKorean("보여주세요")).toEqual([])
    expect(splitKorean("abc")).toEqual([])
  })
})

describe("expandKorean", () => {
  it("gives the English equivalents of a term, through its particles", () => {
    expect(expandKorean("고객")).toEqual(["customer", "client", "cust"])
    expect(expandKorean("이름은")).toEqual(["name", "nm"])
    expect(expandKorean("수량")).toContain("qty")
    expect(expandKorean("고객주문")).toEqual(["customer", "client", "cust", "order", "orders", "ord"])
    expect(expandKorean("없는말")).toEqual([])
  })
})

describe("conceptsOf", () => {
  it("maps question words and suffixes to SQL-ish concepts", () => {
    expect(conceptsOf("몇명")).toEqual(["count"])
    expect(conceptsOf("얼마인가요")).toEqual(["sum"])
    expect(conceptsOf("평균")).toEqual(["avg"])
    expect(conceptsOf("상위")).toEqual(["top"])
    expect(conceptsOf("최근")).toEqual(["recent"])
    expect(conceptsOf("고객별")).toEqual(["group"])
    expect(conceptsOf("고객")).toEqual([])
  })
})

describe("koreanSynonymFilter", () => {
  it("keeps every token and adds the Korean terms and English words after each Hangul token", () => {
    expect(koreanSynonymFilter(["고객별", "sales", "판매가"])).toEqual([
      "고객별", "고객", "customer", "client", "cust",
      "sales",
      "판매가", "sale", "price", "sale_price", "selling", "selling_price"
    ])
  })

  it("writes English phrases as words and as snake_case", () => {
    expect(englishTerms(["order amount", "qty"])).toEqual(["order", "amount", "order_amount", "qty"])
  })
})

describe("synonymGroups", () => {
  it("gives one group per entry, the Korean term first", () => {
    const groups = synonymGroups()
    expect(groups.length).toBe(koreanVocabulary().size)
    expect(groups).toContainEqual(["고객", "customer", "client", "cust"])
  })
})
