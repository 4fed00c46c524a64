/**
 * The cache document from the bytes storage returns, without ever holding the whole text as one
 * string.
 *
 * Why: the document is UTF-8, and its Korean example questions make the whole text a two-byte
 * JavaScript string (twice the bytes) that, beside the bytes and the parsed tree, tripled what a
 * backend needed to load it. Here the top-level object is cut into its values and each table and
 * each example is parsed on its own (its text lives only while it is parsed), then the parsed
 * values share their repeated strings and empty arrays. The document is then decoded as a whole
 * by the codec, exactly as before: every table is validated at load, and a document with any
 * problem is refused whole, with the same message.
 *
 * Anything the slicer does not recognise — invalid UTF-8, invalid JSON, a top-level value that is
 * not an object, a `__proto__` key — and any document the codec refuses is handed to the
 * whole-text path, whose messages are the ones readers have always seen. The slicer never
 * decides that a document is bad, nor how its problems are worded.
 */
import * as Either from "effect/Either"
import { type CacheDocument, CacheDocumentError, decodeCacheDocument, parseCacheDocument } from "./CacheDocument.ts"
import { type CacheManifest, type CachePart, decodeManifest, decodePart, splitLayoutOf } from "./SplitDocument.ts"

/** How far `parseArray` looks for the end of an element before it has seen a larger one. */
const GUESS_BYTES = 1024 * 1024

/**
 * Strings shorter than this are not looked up: V8's JSON.parse already shares them (it
 * internalizes string values of up to 9 characters in Node 22), and most types and modes are that short.
 */
const SHARED_STRING_MIN = 10
/** Strings up to this length are shared between equal occurrences; longer ones are rarely repeated. */
const SHARED_STRING_MAX = 64

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/** A value the slicer could not take apart: the whole-text path decides. */
class NotSliceable extends Error {}

/** The empty array every parsed `[]` becomes: frozen, since every reader shares it. */
const EMPTY: ReadonlyArray<never> = Object.freeze([])

/**
 * Shares, within freshly parsed values that nobody else holds, what a synced document repeats
 * thousands of times: empty arrays become `EMPTY`; a field path's `expression` equal to its
 * `path` becomes the same string; column types and modes, column descriptions, example table
 * ids, sources, generators and reasons become the first equal string seen. Only the places where
 * repetition is the rule are visited (a generic walk hashing every string cost more time than it
 * saved memory); values of any other shape are left as parsed, for the codec to judge.
 */
const makeSharer = () => {
  const strings = new Map<string, string>()
  const shared = (value: unknown): unknown => {
    if (typeof value !== "string" || value.length < SHARED_STRING_MIN || value.length > SHARED_STRING_MAX) return value
    const seen = strings.get(value)
    if (seen !== undefined) return seen
    strings.set(value, value)
    return value
  }
  const emptyShared = (value: unknown): unknown => (Array.isArray(value) && value.length === 0 ? EMPTY : value)
  const isRecord = (value: unknown): value is Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value)
  const shareStrings = (value: unknown): unknown => {
    if (!Array.isArray(value)) return value
    if (value.length === 0) return EMPTY
    for (let i = 0; i < value.length; i++) value[i] = shared(value[i])
    return value
  }
  const shareFields = (fields: unknown): void => {
    if (!Array.isArray(fields)) return
    for (const field of fields) {
      if (!isRecord(field)) continue
      field.type = shared(field.type)
      field.mode = shared(field.mode)
      field.description = shared(field.description)
      if (field.fields !== undefined) shareFields(field.fields)
      if (field.policy_tags !== undefined) field.policy_tags = shareStrings(field.policy_tags)
    }
  }
  const table = (value: unknown): unknown => {
    if (!isRecord(value)) return value
    shareFields(value.columns)
    if (Array.isArray(value.clustering) && value.clustering.length === 0) value.clustering = EMPTY
    const paths = value.field_paths
    if (Array.isArray(paths)) {
      // A top-level column's path is its name: field paths come in the columns' order, so the
      // i-th top-level column is looked for from where the previous one was found.
      const columns = Array.isArray(value.columns) ? value.columns : EMPTY
      let c = 0
      for (const p of paths) {
        if (!isRecord(p)) continue
        p.unnest = emptyShared(p.unnest)
        p.joins = emptyShared(p.joins)
        const column = columns[c] as { readonly name?: unknown } | undefined
        if (column !== undefined && p.path === column.name) {
          p.path = column.name
          c++
        }
        if (p.expression === p.path) p.expression = p.path
      }
    }
    return value
  }
  const example = (value: unknown): unknown => {
    if (!isRecord(value)) return value
    value.tables = shareStrings(value.tables)
    value.source = shared(value.source)
    value.generator = shared(value.generator)
    value.language = shared(value.language)
    if (value.kept_because !== undefined) value.kept_because = shareStrings(value.kept_because)
    return value
  }
  return { table, example }
}

/**
 * Where the JSON value starting at `start` ends (exclusive), by its brackets and strings alone;
 * `JSON.parse` of the slice checks the rest.
 */
const endOfValue = (bytes: Uint8Array, start: number): number => {
  const n = bytes.length
  let i = start
  let depth = 0
  const first = bytes[i]
  if (first === QUOTE) return endOfString(bytes, i)
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // A number, `true`, `false` or `null`: up to the next separator.
    while (i < n) {
      const c = bytes[i]!
      if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isSpace(c)) break
      i++
    }
    return i
  }
  while (i < n) {
    const c = bytes[i]!
    if (c === QUOTE) {
      i = endOfString(bytes, i)
      continue
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--
      if (depth === 0) return i + 1
    }
    i++
  }
  throw new NotSliceable()
}

/** Where the string whose opening quote is at `start` ends (after its closing quote). */
const endOfString = (bytes: Uint8Array, start: number): number => {
  const n = bytes.length
  let i = start + 1
  while (i < n) {
    const c = bytes[i]!
    if (c === QUOTE) return i + 1
    i += c === BACKSLASH ? 2 : 1
  }
  throw new NotSliceable()
}

/**
 * The JSON value of a document's bytes, parsed a top-level value (and a table or an example) at a
 * time; `undefined` when the bytes are not plainly a JSON object (the whole-text path then decides).
 */
export const parseDocumentBytes = (bytes: Uint8Array): Record<string, unknown> | undefined => {
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  const share = makeSharer()
  const n = bytes.length
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const parseSlice = (from: number, to: number): unknown => JSON.parse(utf8.decode(bytes.subarray(from, to)))
  /** The value between `from` and `to`, or `undefined` when that is not one JSON value. */
  const tryParseSlice = (from: number, to: number): unknown => {
    try {
      return parseSlice(from, to)
    } catch {
      return undefined
    }
  }
  /**
   * The array whose `[` is at `open`, each element handed to `each`; returns where it ends.
   *
   * Each element is parsed on its own. Where it ends is found by a native search for the next
   * place that looks like the start of another element as the first one was written
   * (`},{"table_id":`), rather than by walking every byte: an element that parses from its start
   * to that place proves the place a real boundary (a JSON object ends at one place only). The
   * last element, and any element of a document written another way, is found by its brackets.
   */
  const parseArray = (open: number, each: (item: unknown) => void): number => {
    skipSpaceFrom(open + 1)
    if (bytes[i] === CLOSE_ARRAY) return i + 1
    let next: Uint8Array | undefined
    if (bytes[i] === OPEN_OBJECT && bytes[i + 1] === QUOTE) {
      const keyEnd = endOfString(bytes, i + 1)
      if (bytes[keyEnd] === COLON) next = Uint8Array.of(CLOSE_OBJECT, COMMA, ...bytes.subarray(i, keyEnd + 1))
    }
    let largest = 0
    for (;;) {
      const start = i
      if (next !== undefined) {
        const at = buffer.indexOf(next, start)
        // A place far beyond the elements seen so far is most likely past the array's end.
        if (at >= 0 && at - start <= Math.max(GUESS_BYTES, 8 * largest)) {
          const item = tryParseSlice(start, at + 1)
          if (item !== undefined) {
            each(item)
            largest = Math.max(largest, at + 1 - start)
            i = at + 2
            continue
          }
        }
      }
      const end = endOfValue(bytes, start)
      each(parseSlice(start, end))
      largest = Math.max(largest, end - start)
      i = end
      skipSpace()
      if (bytes[i] === CLOSE_ARRAY) return i + 1
      expect(COMMA)
      skipSpace()
    }
  }
  let i = 0
  const skipSpaceFrom = (from: number) => {
    i = from
    while (i < n && isSpace(bytes[i]!)) i++
  }
  const skipSpace = () => skipSpaceFrom(i)
  const expect = (c: number) => {
    skipSpace()
    if (bytes[i] !== c) throw new NotSliceable()
    i++
  }
  try {
    // TextDecoder drops a byte-order mark; so does the whole-text path.
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3
    expect(OPEN_OBJECT)
    const out: Record<string, unknown> = {}
    skipSpace()
    if (bytes[i] === CLOSE_OBJECT) {
      i++
    } else {
      for (;;) {
        skipSpace()
        if (bytes[i] !== QUOTE) throw new NotSliceable()
        const keyEnd = endOfString(bytes, i)
        const key = parseSlice(i, keyEnd) as string
        if (key === "__proto__") throw new NotSliceable()
        i = keyEnd
        expect(COLON)
        skipSpace()
        // The bulk of every document, parsed a chunk of elements at a time.
        const element = key === "tables" ? share.table : key === "examples" ? share.example : undefined
        if (element !== undefined && bytes[i] === OPEN_ARRAY) {
          const items: Array<unknown> = []
          i = parseArray(i, (item) => items.push(element(item)))
          out[key] = items
        } else {
          const end = endOfValue(bytes, i)
          out[key] = parseSlice(i, end)
          i = end
        }
        skipSpace()
        if (bytes[i] === CLOSE_OBJECT) {
          i++
          break
        }
        expect(COMMA)
      }
    }
    skipSpace()
    if (i !== n) throw new NotSliceable()
    return out
  } catch {
    // Invalid UTF-8, invalid JSON, or a shape the slicer does not take apart.
    return undefined
  }
}

/** The version the document declares, before migration: the seed wrote none (version 1). */
const writtenVersion = (json: unknown): number => {
  if (typeof json === "object" && json !== null && "format_version" in json) {
    return typeof json.format_version === "number" ? json.format_version : Number.NaN
  }
  return 1
}

/** A decoded document and the version it was written in. */
export interface DecodedDocument {
  readonly document: CacheDocument
  /** The `format_version` the document declares (1 for the seed's documents), before migration. */
  readonly formatVersion: number
}

/** The document in `bytes` (UTF-8 JSON, as storage holds it), decoded into its newest form. */
export const decodeDocumentBytes = (
  bytes: Uint8Array,
  source = "document"
): Either.Either<DecodedDocument, CacheDocumentError> => decodeParsedBytes(bytes, parseDocumentBytes(bytes), source)

/** `decodeDocumentBytes` of bytes already parsed by `parseDocumentBytes` (`sliced`). */
const decodeParsedBytes = (
  bytes: Uint8Array,
  sliced: Record<string, unknown> | undefined,
  source: string
): Either.Either<DecodedDocument, CacheDocumentError> => {
  const decoded = (json: unknown) =>
    Either.map(decodeCacheDocument(json, source), (document) => ({ document, formatVersion: writtenVersion(json) }))
  if (sliced !== undefined) {
    const result = decoded(sliced)
    if (Either.isRight(result)) return result
    // A bad document is worded by the whole-text path: its messages quote values, and a value
    // sharing an array with another would be quoted differently.
  }
  let text: string
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return Either.left(new CacheDocumentError({ source, problems: "- (document): not UTF-8 text" }))
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    // The codec words the JSON error the same way for every reader.
    return Either.flatMap(
      parseCacheDocument(text, source),
      () => Either.left(new CacheDocumentError({ source, problems: "- (document): not JSON" }))
    )
  }
  return decoded(json)
}

/** What an object of the cache holds: a whole document (formats 1 and 2), or a split layout's manifest or part. */
export type StoredObject =
  | { readonly _tag: "Document"; readonly document: CacheDocument; readonly formatVersion: number }
  | { readonly _tag: "Manifest"; readonly manifest: CacheManifest }
  | { readonly _tag: "Part"; readonly part: CachePart }

/**
 * The object in `bytes`, whichever it is: a split layout's manifest or part is decoded as one
 * (sliced as a document is), anything else as a whole document, with its messages.
 */
export const decodeStoredBytes = (bytes: Uint8Array, source = "document"): Either.Either<StoredObject, CacheDocumentError> => {
  const sliced = parseDocumentBytes(bytes)
  const layout = splitLayoutOf(sliced)
  if (layout === "manifest") return Either.map(decodeManifest(sliced, source), (manifest) => ({ _tag: "Manifest" as const, manifest }))
  if (layout === "part") return Either.map(decodePart(sliced, source), (part) => ({ _tag: "Part" as const, part }))
  // Parsed once: a whole document is decoded from the same slices.
  return Either.map(decodeParsedBytes(bytes, sliced, source), (d) => ({ _tag: "Document" as const, ...d }))
}
