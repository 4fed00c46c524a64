/**
 * The one error every configuration reader fails with: the sync's settings, the example
 * generator's and the alerting's alike.
 */
import * as Schema from "effect/Schema"

/** A configuration value that is missing or malformed. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  variable: Schema.String,
  /** The value as given, or `null` when the variable is not set. */
  value: Schema.NullOr(Schema.String),
  problem: Schema.String
}) {
  override get message(): string {
    const shown = this.value === null ? "is not set" : `is ${JSON.stringify(this.value)}`
    return `${this.variable} ${shown}: ${this.problem}`
  }
}
