import { defineConfig, mergeConfig } from "vitest/config"
import base from "./vitest.config.ts"

// Mutation testing (stryker.config.mjs) runs the tests in-process with one mutant switched on at a
// time. Tests that drive the code through a child process (the CLI, the built function) run the
// sandbox's code without the active mutant, so they can never kill one: they only cost time.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: [
        "**/node_modules/**",
        "test/e2e/FunctionProcess.test.ts",
        "test/cli/Cli.test.ts",
        "test/cli/Secrets.test.ts"
      ]
    }
  })
)
