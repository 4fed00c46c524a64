/**
 * `metasync validate <file>`: a file checked against the contract, whichever object it is.
 *
 * - A whole document (formats 1 and 2): decoded, as before.
 * - A split layout's manifest (format 3): decoded and checked for consistency; then its parts are
 *   looked for as the local-mode bucket directory holds them (`<bucket>/<parts[i].object>`), the
 *   bucket being the file's directory or the nearest parent under which the first part exists (a
 *   `CACHE_OBJECT` with a folder puts the manifest below the bucket's root). Each part found is
 *   decoded and must be the part the manifest names; its generation is compared where the
 *   directory records generations (files copied out of a bucket carry none). When every part is
 *   found, the whole document is joined as a reader would. Parts not found are reported as not
 *   checked, not as problems: a manifest downloaded alone is still worth validating.
 * - A part: decoded; whether it belongs to a manifest cannot be told from the part alone.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { decodeStoredBytes } from "../contract/DocumentBytes.ts"
import { CacheDocumentError } from "../contract/DocumentError.ts"
import { type CacheManifest, type CachePart, joinDocument } from "../contract/SplitDocument.ts"
import { LocalStorage } from "../services/Storage/LocalStorage.ts"
import { StorageService } from "../services/Storage/StorageService.ts"

/** Where the local storage directory keeps its objects' generations (see LocalStorage). */
const GENERATIONS_DIR = ".metasync-generations"

export type FileVerdict =
  | { readonly kind: "document"; readonly formatVersion: number; readonly tables: number; readonly examples: number }
  | { readonly kind: "part"; readonly key: string; readonly tables: number; readonly examples: number }
  | {
    readonly kind: "manifest"
    readonly manifest: CacheManifest
    /** The directory the parts were looked for under; `null` when no part was found anywhere. */
    readonly bucket: string | null
    /** Keys of the parts checked (found, decoded, the ones named). */
    readonly checked: ReadonlyArray<string>
    /** Keys of the parts not found: not checked. */
    readonly notFound: ReadonlyArray<string>
    /** Whether the generation of every part checked was compared (the directory records them). */
    readonly generationsChecked: boolean
  }

const exists = (file: string) => fs.stat(file).then(() => true, () => false)

/** The file's directory or the nearest parent holding `object` inside it; `null` when none does. */
const bucketOf = async (file: string, object: string): Promise<string | null> => {
  let dir = path.dirname(path.resolve(file))
  for (;;) {
    const target = path.resolve(dir, object)
    if (target.startsWith(dir + path.sep) && (await exists(target))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

/** Why a part read from `bucket` is not the one `manifest.parts[index]` names, or its decoded part. */
const checkPart = (manifest: CacheManifest, index: number, bucket: string) =>
  Effect.gen(function*() {
    const storage = yield* StorageService
    const ref = manifest.parts[index]!
    const where = `parts.${index} (${ref.key}, ${storage.locate(ref.object)})`
    const content = yield* Effect.either(storage.read(ref.object))
    if (content._tag === "Left") return { problem: `${where}: cannot be read: ${content.left.message}` }
    if (Option.isNone(content.right)) return { missing: true as const }
    const { bytes, info } = content.right.value
    const recorded = yield* Effect.promise(() => exists(path.join(bucket, GENERATIONS_DIR, ref.object)))
    if (recorded && info.generation !== ref.generation) {
      return { problem: `${where}: generation ${info.generation}; the manifest references ${ref.generation} (the part was replaced since)` }
    }
    const decoded = yield* Effect.either(decodeStoredBytes(bytes, storage.locate(ref.object)))
    if (decoded._tag === "Left") return { problem: `${where}: ${decoded.left.problems.replaceAll("\n", "; ").replace(/^- /, "")}` }
    if (decoded.right._tag !== "Part") return { problem: `${where}: a ${decoded.right._tag.toLowerCase()}, not a part` }
    const part = decoded.right.part
    if (part.key !== ref.key || part.tables.length !== ref.tables || part.examples.length !== ref.examples) {
      return {
        problem: `${where}: holds part ${part.key} with ${part.tables.length} tables and ${part.examples.length} examples; the manifest expects ${ref.key} with ${ref.tables} and ${ref.examples}`
      }
    }
    return { part, recorded }
  })

/** Checks the file at `file` (see the module's comment); fails with every problem found. */
export const validateFile = (file: string) =>
  Effect.gen(function*() {
    const bytes = yield* Effect.promise(() => fs.readFile(file))
    const stored = yield* decodeStoredBytes(new Uint8Array(bytes), file)
    switch (stored._tag) {
      case "Document":
        return {
          kind: "document",
          formatVersion: stored.formatVersion,
          tables: stored.document.tables.length,
          examples: stored.document.examples.length
        } satisfies FileVerdict
      case "Part":
        return { kind: "part", key: stored.part.key, tables: stored.part.tables.length, examples: stored.part.examples.length } satisfies FileVerdict
      case "Manifest":
        break
    }
    const manifest = stored.manifest
    const bucket = yield* Effect.promise(() => bucketOf(file, manifest.parts[0].object))
    if (bucket === null) {
      return {
        kind: "manifest",
        manifest,
        bucket,
        checked: [],
        notFound: manifest.parts.map((p) => p.key),
        generationsChecked: false
      } satisfies FileVerdict
    }
    const results = yield* Effect.forEach(manifest.parts, (_, i) => checkPart(manifest, i, bucket), { concurrency: 4 }).pipe(
      Effect.provide(LocalStorage.layer(bucket))
    )
    const problems = results.flatMap((r) => ("problem" in r ? [`- ${r.problem}`] : []))
    if (problems.length > 0) return yield* new CacheDocumentError({ source: file, problems: problems.join("\n") })
    const found = results.flatMap((r, i) => ("part" in r ? [{ index: i, part: r.part as CachePart, recorded: r.recorded }] : []))
    if (found.length === manifest.parts.length) {
      // Every part is here: joined as a reader joins them, so the catalog's order is checked too.
      yield* joinDocument(manifest, found.map((f) => f.part), file)
    }
    return {
      kind: "manifest",
      manifest,
      bucket,
      checked: found.map((f) => manifest.parts[f.index]!.key),
      notFound: results.flatMap((r, i) => ("missing" in r ? [manifest.parts[i]!.key] : [])),
      generationsChecked: found.every((f) => f.recorded)
    } satisfies FileVerdict
  })

/** The verdict as the line `validate` prints. */
export const formatVerdict = (file: string, verdict: FileVerdict): string => {
  switch (verdict.kind) {
    case "document":
      return `${file}: a valid cache document (format ${verdict.formatVersion}, ${verdict.tables} tables, ${verdict.examples} examples)`
    case "part":
      return `${file}: a valid part (${verdict.key}) of a split cache document (${verdict.tables} tables, ${verdict.examples} examples); validate its manifest to check that it belongs to it`
    case "manifest": {
      const m = verdict.manifest
      const head = `${file}: a valid split cache manifest (format 3, ${m.catalog.length} tables, ${m.example_parts.length} examples in ${m.parts.length} parts)`
      if (verdict.bucket === null) {
        return `${head}; its parts were not checked: none was found next to it (looked for ${m.parts[0].object} under ${path.dirname(path.resolve(file))} and its parent directories)`
      }
      const generations = verdict.generationsChecked ? "" : " (their generations not compared: this directory does not record them)"
      if (verdict.notFound.length === 0) return `${head}; all ${m.parts.length} parts checked under ${verdict.bucket}${generations}`
      return `${head}; ${verdict.checked.length} parts checked under ${verdict.bucket}${verdict.checked.length === 0 ? "" : generations}; ${verdict.notFound.length} not checked, not found: ${verdict.notFound.join(", ")}`
    }
  }
}
