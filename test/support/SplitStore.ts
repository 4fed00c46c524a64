/**
 * Stores a document in the split layout straight through `StorageService`, without the sync:
 * for tests of readers (loaders, operations) that need a split cache to read.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { createHash } from "node:crypto"
import type { CacheDocument } from "../../src/contract/CacheDocument.ts"
import {
  type CacheManifest,
  makeManifest,
  makePart,
  planParts,
  renderManifestChunks,
  renderPartChunks,
  type StoredPart
} from "../../src/contract/SplitDocument.ts"
import { StorageService } from "../../src/services/Storage/StorageService.ts"

const bytesOf = (render: () => Iterable<Uint8Array>): Uint8Array => Buffer.concat([...render()])

export interface StoreSplitOptions {
  readonly objectName?: string
  readonly maxPartTables?: number
  /** The run folder of the parts; default `test-run`. */
  readonly run?: string
}

/** Writes `doc`'s parts, then its manifest over `objectName` (whatever is there); returns the manifest. */
export const storeSplit = (doc: CacheDocument, options: StoreSplitOptions = {}) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const objectName = options.objectName ?? "metadata_cache.json"
    const plan = planParts(doc, options.maxPartTables)
    const stored: Array<StoredPart> = []
    for (const planned of plan.parts) {
      const bytes = bytesOf(Either.getOrThrow(renderPartChunks(makePart(planned, doc.generated_at))))
      const object = `parts/${objectName}/${options.run ?? "test-run"}/${planned.key}.json`
      const info = yield* storage.write(object, bytes, { contentType: "application/json", ifGenerationMatch: "0" })
      stored.push({ object, generation: info.generation, bytes: bytes.byteLength, md5: createHash("md5").update(bytes).digest("base64") })
    }
    const manifest: CacheManifest = makeManifest(doc, plan, stored)
    const current = yield* storage.stat(objectName)
    const bytes = bytesOf(Either.getOrThrow(renderManifestChunks(manifest)))
    yield* storage.write(objectName, bytes, {
      contentType: "application/json",
      ifGenerationMatch: current._tag === "Some" ? current.value.generation : "0"
    })
    return manifest
  })
