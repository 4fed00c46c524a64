import { describe, expect, it } from "@effect/vitest"
import { loadDevSet } from "../../eval/devSet.ts"
import { examplesReport } from "../../eval/reports/examples.ts"

// The figures of eval/RESULTS.md's examples section, held at the targets.
describe("examples over the defog dev set", () => {
  it("show most joining questions an example with their join, and never group by a key", async () => {
    const { figures } = await examplesReport.run(await loadDevSet())
    expect(figures.join_questions).toBeGreaterThanOrEqual(70)
    expect(figures.join_example_shown).toBeGreaterThanOrEqual(0.8)
    expect(figures.degenerate).toBe(0)
  }, 60_000)
})
