/**
 * Renders a top-level JSON object whose bulk is a few long arrays (tables, examples) as UTF-8
 * chunks, one element encoded at a time: the whole text, its bytes or an encoded copy of the whole
 * tree never exist. Shared by the single document, the split layout's manifest and its parts.
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { CacheDocumentError, formatIssues, problemsAt } from "./DocumentError.ts"

/** Text is encoded to UTF-8 and handed out in pieces of about this many characters. */
const CHUNK_CHARS = 1 << 16

type Encode = (item: unknown) => Either.Either<unknown, ParseResult.ParseError>

/**
 * A renderer for values of `fields` whose `streamed` fields (arrays) are encoded element by
 * element with the given element codecs. Fields are written in `fields`' order.
 *
 * Everything but the streamed arrays is encoded before the renderer returns; an element that does
 * not encode is found while rendering: the iteration then throws a `CacheDocumentError` naming it
 * (and every later problem), so a consumer must treat a throw as "nothing valid was produced".
 */
export const streamedRenderer = <F extends Schema.Struct.Fields, K extends keyof F & string>(
  struct: Schema.Struct<F>,
  streamed: { readonly [key in K]: Schema.Schema<any, any> }
) => {
  const keys = Object.keys(streamed) as Array<K>
  const encodeHead = Schema.encodeEither(struct.omit(...keys) as unknown as Schema.Schema<unknown, unknown>, { errors: "all" })
  const encoders: Record<string, Encode> = {}
  for (const key of keys) encoders[key] = Schema.encodeEither(streamed[key], { errors: "all" }) as Encode
  const order = Object.keys(struct.fields)
  return (value: Schema.Struct.Type<F>, source: string): Either.Either<() => Iterable<Uint8Array>, CacheDocumentError> => {
    const record = value as Record<string, unknown>
    const rest: Record<string, unknown> = {}
    for (const [key, field] of Object.entries(record)) if (!(key in encoders)) rest[key] = field
    const head = encodeHead(rest)
    if (Either.isLeft(head)) return Either.left(new CacheDocumentError({ source, problems: formatIssues(head.left) }))
    const encodedHead = head.right as Record<string, unknown>
    const lists: Record<string, ReadonlyArray<unknown>> = {}
    for (const key of keys) {
      const items = record[key]
      if (!Array.isArray(items)) return Either.left(new CacheDocumentError({ source, problems: `- ${key}: expected an array` }))
      lists[key] = items
    }
    return Either.right(function*() {
      const encoder = new TextEncoder()
      let pending = "{"
      let first = true
      for (const key of order) {
        const items = lists[key]
        if (items === undefined) {
          const whole = JSON.stringify(encodedHead[key])
          if (whole === undefined) continue // as JSON.stringify leaves such a field out
          pending += `${first ? "" : ","}${JSON.stringify(key)}:${whole}`
        } else {
          const encode = encoders[key]!
          pending += `${first ? "" : ","}${JSON.stringify(key)}:[`
          for (let i = 0; i < items.length; i++) {
            const encoded = encode(items[i])
            if (Either.isLeft(encoded)) {
              // Every problem from here on, for a complete report; nothing valid was produced.
              const problems = [problemsAt([key, i], encoded.left)]
              for (const later of order.slice(order.indexOf(key))) {
                const laterItems = lists[later]
                if (laterItems === undefined) continue
                for (let j = later === key ? i + 1 : 0; j < laterItems.length; j++) {
                  const again = encoders[later]!(laterItems[j])
                  if (Either.isLeft(again)) problems.push(problemsAt([later, j], again.left))
                }
              }
              throw new CacheDocumentError({ source, problems: problems.join("\n") })
            }
            pending += `${i === 0 ? "" : ","}${JSON.stringify(encoded.right) ?? "null"}`
            if (pending.length >= CHUNK_CHARS) {
              yield encoder.encode(pending)
              pending = ""
            }
          }
          pending += "]"
        }
        first = false
        if (pending.length >= CHUNK_CHARS) {
          yield encoder.encode(pending)
          pending = ""
        }
      }
      yield encoder.encode(`${pending}}\n`)
    })
  }
}
