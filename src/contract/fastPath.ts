/**
 * A fast path for the document's most numerous shapes (fields, field paths): when a plain check
 * vouches for the input, decoding and encoding skip walking the schema; anything else goes
 * through the schema itself, so every error message is the schema's own. The schema stays the
 * definition: JSON Schema generation sees it through the surrogate annotation.
 *
 * Why: a 1,000-table document holds ~100,000 of these objects, and walking each through the
 * generic decoder costs several times what JSON.parse of the whole file does.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

export interface FastPath<A, I> {
  /** The decoded value when `input` is plainly valid; `undefined` sends it through the schema. */
  readonly decode: (input: unknown) => A | undefined
  /** The encoded value when `value` is plainly valid; `undefined` sends it through the schema. */
  readonly encode: (value: unknown) => I | undefined
}

export const withFastPath = <A, I>(
  schema: Schema.Schema<A, I>,
  fast: FastPath<A, I>,
  identifier: string
): Schema.Schema<A, I> =>
  Schema.declare([schema], {
    decode: (full) => (input, options) => {
      const decoded = fast.decode(input)
      return decoded !== undefined ? ParseResult.succeed(decoded) : ParseResult.decodeUnknown(full)(input, options)
    },
    encode: (full) => (input, options) => {
      const encoded = fast.encode(input)
      return encoded !== undefined ? ParseResult.succeed(encoded) : ParseResult.encodeUnknown(full)(input, options)
    }
  }, { identifier, [AST.SurrogateAnnotationId]: schema.ast })

export const isStringArray = (u: unknown): u is ReadonlyArray<string> => {
  if (!Array.isArray(u)) return false
  // A loop rather than `every`: this runs twice per field path, ~100,000 times per document.
  for (let i = 0; i < u.length; i++) if (typeof u[i] !== "string") return false
  return true
}
