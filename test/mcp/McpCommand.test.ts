import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { parseSource } from "../../src/mcp/McpCommand.ts"
import { runCli } from "../support/CliRunner.ts"

describe("metasync mcp --source", () => {
  it("reads gs:// URLs, document files and bucket directories", () => {
    expect(parseSource("gs://nlq-metadata-cache")).toEqual(Either.right({ bucket: "nlq-metadata-cache", objectName: "metadata_cache.json" }))
    expect(parseSource("gs://nlq-metadata-cache/")).toEqual(Either.right({ bucket: "nlq-metadata-cache", objectName: "metadata_cache.json" }))
    expect(parseSource("gs://nlq-metadata-cache/prod/cache.json")).toEqual(
      Either.right({ bucket: "nlq-metadata-cache", objectName: "prod/cache.json" })
    )
    expect(parseSource("/srv/cache/metadata_cache.json")).toEqual(Either.right({ directory: "/srv/cache", objectName: "metadata_cache.json" }))
    expect(parseSource(".metasync/bucket")).toEqual(Either.right({ directory: ".metasync/bucket" }))
  })

  it("says what is wrong with a source it cannot read", () => {
    expect(parseSource("gs://")).toEqual(Either.left(`--source "gs://": "" is not a Cloud Storage bucket name`))
    expect(parseSource("gs://Not_A_Bucket/x.json")).toEqual(
      Either.left(`--source "gs://Not_A_Bucket/x.json": "Not_A_Bucket" is not a Cloud Storage bucket name`)
    )
    expect(Either.isLeft(parseSource("  "))).toBe(true)
  })
})

describe("metasync mcp", () => {
  it("exits 2 with the reason when the source is not readable", async () => {
    const result = await runCli(["mcp", "--source", "gs://"], {})
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`metasync mcp: --source "gs://": "" is not a Cloud Storage bucket name`)
    expect(result.stdout).toBe("")
  })
})
