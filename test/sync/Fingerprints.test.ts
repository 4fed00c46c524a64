/**
 * Fingerprints are stored in published documents: the same inputs must keep giving the same
 * fingerprint from one MetaSync to the next, or an upgrade silently redoes every table's work.
 * The expected value below was computed by the fingerprinting that wrote earlier documents.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import { metadataFingerprint, stableJson } from "../../src/sync/incremental.ts"
import { metadata } from "../../bench/fixtures.ts"

describe("fingerprints", () => {
  it("a known table gives the fingerprint earlier versions stored", () => {
    const table = { ...metadata("bench-project", "dataset_1", "table_1"), created: DateTime.unsafeMake("2026-01-02T03:04:05.678Z") }
    const print = metadataFingerprint({
      table,
      sharding: null,
      profile: { project: "bench-project", max_bytes: 100, sensitive: String(/(email|phone)/i) }
    })
    expect(print).toBe("0b7d7147c6948052f71523262c5d173b")
  })

  it("dates are their ISO time, in UTC whatever their zone", () => {
    const utc = DateTime.unsafeMake("2026-11-01T00:00:00Z")
    const zoned = DateTime.unsafeMakeZoned("2026-11-01T00:00:00Z", { timeZone: "Asia/Seoul" })
    expect(stableJson({ at: utc })).toBe('{"at":"2026-11-01T00:00:00.000Z"}')
    expect(stableJson({ at: zoned })).toBe('{"at":"2026-11-01T00:00:00.000Z"}')
  })
})
