/** The one error every reader and writer of the cache's objects reports a bad document with. */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/** A document that did not decode, with a readable account of every problem and where it is. */
export class CacheDocumentError extends Schema.TaggedError<CacheDocumentError>()("CacheDocumentError", {
  /** Which document: an object URL, a file path, or "document" for in-memory values. */
  source: Schema.String,
  /** Human-readable, one problem per line, each with its path in the document. */
  problems: Schema.String
}) {
  override get message(): string {
    return `${this.source} is not a valid MetaSync cache document:\n${this.problems}`
  }
}

/** One line per problem, each with its path (below `prefix`) in the document. */
export const problemsAt = (prefix: ReadonlyArray<PropertyKey>, error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => {
      const path = [...prefix, ...issue.path]
      return `- ${path.length === 0 ? "(document)" : path.map(String).join(".")}: ${issue.message}`
    })
    .join("\n")

export const formatIssues = (error: ParseResult.ParseError): string => problemsAt([], error)
