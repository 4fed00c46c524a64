import { describe, expect, it } from "@effect/vitest"
import { loadDevSet } from "../../eval/devSet.ts"
import { promptContextReport } from "../../eval/reports/promptContext.ts"

// The figures of eval/RESULTS.md's prompt-context section, held at or above a floor a little under
// what they are (timings are measured by the eval, never asserted here).
describe("prompt context over the defog dev set", () => {
  it("holds the gold tables and columns at 2,000 tokens, in English and in Korean", async () => {
    const { figures } = await promptContextReport.run(await loadDevSet())
    const floors: Record<string, number> = {
      plain_en_2000_all: 0.96,
      plain_en_2000_own: 0.98,
      glossary_en_2000_all: 0.97,
      glossary_en_2000_own: 0.98,
      plain_ko_2000_all: 0.95,
      plain_ko_2000_own: 0.975,
      glossary_ko_2000_all: 0.95,
      glossary_ko_2000_own: 0.975,
      plain_en_4000_all: 0.98,
      plain_ko_4000_all: 0.98,
      plain_en_1000_all: 0.84,
      plain_ko_1000_all: 0.82
    }
    const below = Object.entries(floors).filter(([name, floor]) => !((figures[name] ?? 0) >= floor))
    expect(below.map(([name, floor]) => `${name} ${figures[name]} < ${floor}`)).toEqual([])
    for (const db of ["academic", "advising", "atis", "broker", "car_dealership"]) {
      expect(figures[`glossary_en_2000_own_${db}`]).toBeGreaterThanOrEqual(0.96)
      expect(figures[`glossary_ko_2000_own_${db}`]).toBeGreaterThanOrEqual(0.93)
    }
  }, 120_000)
})
