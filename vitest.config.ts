import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Over-the-wire tests start local servers and child processes; a busy 2-core machine needs headroom.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks"
  }
})
