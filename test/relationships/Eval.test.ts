import { describe, expect, it } from "@effect/vitest"
import { loadDevSet } from "../../eval/devSet.ts"
import { joinContextReport } from "../../eval/reports/joinContext.ts"
import { relationshipsReport } from "../../eval/reports/relationships.ts"

// The figures of eval/RESULTS.md, held at or above the targets (timings are not asserted).
describe("relationships over the defog dev set", () => {
  it("covers the gold join pairs and infers mostly right relationships", async () => {
    const { figures } = await relationshipsReport.run(await loadDevSet())
    expect(figures.gold_pairs).toBeGreaterThanOrEqual(30)
    expect(figures.recall_inferred).toBeGreaterThanOrEqual(0.9)
    expect(figures.recall_with_curated).toBe(1)
    expect(figures.unjudged).toBe(0)
    expect(figures.precision_inferred).toBeGreaterThanOrEqual(0.9)
  }, 60_000)

  it("brings more of a joining question's tables into the prompt context than without them", async () => {
    const { figures } = await joinContextReport.run(await loadDevSet())
    expect(figures.complete_with).toBeGreaterThan(figures.complete_without!)
    expect(figures.complete_with).toBeGreaterThanOrEqual(0.85)
  }, 60_000)
})
