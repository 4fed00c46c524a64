import { statSync } from "node:fs"
import { BaseSequencer, type TestSpecification } from "vitest/node"
import { defineConfig, mergeConfig } from "vitest/config"
import base from "./vitest.config.ts"

/**
 * Smallest test files first. Stryker stops a mutant's run at its first failing test, and a static
 * mutant (a module-level constant) runs every related file: the small, focused unit specs kill most
 * mutants long before the over-the-wire suites would.
 */
class SmallestFirst extends BaseSequencer {
  override sort(files: Array<TestSpecification>) {
    const size = (file: TestSpecification) => statSync(file.moduleId).size
    return Promise.resolve([...files].sort((a, b) => size(a) - size(b) || a.moduleId.localeCompare(b.moduleId)))
  }
}

/** `MUTATION_TESTS` (comma-separated globs): the test files a module's mutants are run against. */
const only = process.env.MUTATION_TESTS?.split(",").map((s) => s.trim()).filter((s) => s.length > 0) ?? []

// Mutation testing (stryker.config.mjs) runs the tests in-process with one mutant switched on at a
// time. Tests that drive the code through a child process (the CLI, the built function) run the
// sandbox's code without the active mutant, so they can never kill one: they only cost time.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      ...(only.length > 0 ? { include: only } : {}),
      exclude: [
        "**/node_modules/**",
        "test/e2e/FunctionProcess.test.ts",
        "test/cli/Cli.test.ts",
        "test/cli/Secrets.test.ts"
      ],
      sequence: { sequencer: SmallestFirst }
    }
  })
)
