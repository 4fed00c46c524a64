/**
 * Limits a writer and a reader of the document both apply.
 *
 * Size: the sync does not publish, and the loader does not download, a document over its cap
 * (`MAX_DOCUMENT_BYTES`; the loader's `maxDocumentBytes`), so neither side can be made to hold
 * an unbounded object in memory.
 *
 * Time: how a reader judges a document's `generated_at` against its own clock.
 * Clocks drift by seconds, so a document stamped slightly ahead is normal. One stamped further
 * ahead cannot have been written by a working sync (a wrong clock, a hand-edited or restored
 * file): trusted, it would look fresh for ever and, being "newer" than every real run, block
 * them all from publishing. The sync replaces such a document, `metasync check` reports it and
 * the loader treats it as expired.
 */
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"

/** Far above a real warehouse's document (a few MiB), low enough for a backend to hold in memory. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 ** 2

/** How far ahead of the reader's clock `generated_at` may be before the document is suspect. */
export const MAX_FUTURE_SKEW: Duration.Duration = Duration.minutes(5)

/** Whether `generatedAt` lies more than `MAX_FUTURE_SKEW` after `now` (epoch milliseconds). */
export const isGeneratedInTheFuture = (generatedAt: DateTime.Utc, now: number): boolean =>
  DateTime.toEpochMillis(generatedAt) - now > Duration.toMillis(MAX_FUTURE_SKEW)
