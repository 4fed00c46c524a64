/**
 * Stores a cache document in the split layout (format 3) in a local-mode bucket directory, for the
 * Python loader's tests (test_metasync_cache_loader.py): the parts and the manifest are written by
 * the contract's own functions through LocalStorage, exactly as a reader will find them.
 *
 *     node python/split_cache_fixture.ts <document.json> <bucket dir> [max part tables] [object name] [run]
 *
 * Reads a format 1 or 2 document, writes its parts under `parts/<object>/<run>/` and the manifest
 * over `<object>`, and prints the part objects written, one a line.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { readFile } from "node:fs/promises"
import { parseCacheDocument } from "../src/contract/CacheDocument.ts"
import { LocalStorage } from "../src/services/Storage/LocalStorage.ts"
import { storeSplit } from "../test/support/SplitStore.ts"

const [documentFile, bucketDir, maxPartTables, objectName, run] = process.argv.slice(2)
if (documentFile === undefined || bucketDir === undefined) {
  process.stderr.write("usage: node python/split_cache_fixture.ts <document.json> <bucket dir> [max part tables] [object name] [run]\n")
  process.exit(2)
}
const document = Either.getOrThrow(parseCacheDocument(await readFile(documentFile, "utf8"), documentFile))
const manifest = await Effect.runPromise(
  storeSplit(document, {
    ...(maxPartTables === undefined ? {} : { maxPartTables: Number(maxPartTables) }),
    ...(objectName === undefined ? {} : { objectName }),
    ...(run === undefined ? {} : { run })
  }).pipe(Effect.provide(LocalStorage.layer(bucketDir)))
)
process.stdout.write(manifest.parts.map((p) => `${p.object}\n`).join(""))
