/**
 * A column of a BigQuery table, as the tree BigQuery returns it (`schema.fields` of a
 * `tables.get` response), and the flat list of field paths a prompt needs to reach nested data.
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { isStringArray, withFastPath } from "./fastPath.ts"

/** `NULLABLE`, `REQUIRED` or `REPEATED`. The REST API omits the mode when it is `NULLABLE`; the cache always writes it. */
export const FieldMode = Schema.Literal("NULLABLE", "REQUIRED", "REPEATED").annotations({ identifier: "FieldMode" })
export type FieldMode = typeof FieldMode.Type

/** A column or a nested field of a RECORD/STRUCT column. */
export interface Field {
  /** The column name as BigQuery spells it (may be a SQL keyword or hold Unicode). */
  readonly name: string
  /** BigQuery's type name: legacy REST names (`STRING`, `INTEGER`, `RECORD`) or standard ones (`INT64`, `STRUCT`). */
  readonly type: string
  readonly mode: FieldMode
  /** The column description, `null` when BigQuery has none. */
  readonly description: string | null
  /** The nested fields of a RECORD/STRUCT column, in BigQuery's order; absent for scalar columns. */
  readonly fields?: ReadonlyArray<Field>
  /** Data Catalog policy tags on the column (column-level security); absent when none. */
  readonly policy_tags?: ReadonlyArray<string>
}

export interface FieldEncoded {
  readonly name: string
  readonly type: string
  readonly mode: FieldMode
  readonly description?: string | null | undefined
  readonly fields?: ReadonlyArray<FieldEncoded>
  readonly policy_tags?: ReadonlyArray<string>
}

const MODES: ReadonlySet<unknown> = new Set(["NULLABLE", "REQUIRED", "REPEATED"])

/**
 * The plainly valid field (as in the file, or in memory), normalised; `undefined` for anything
 * else. A field already in normal form (description present, children normal) is returned as it
 * is, without copying: that is the common case when reading what MetaSync wrote.
 */
const plainField = (u: unknown): Field | undefined => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const f = u as Record<string, unknown>
  if (typeof f.name !== "string" || f.name === "" || typeof f.type !== "string" || f.type === "") return undefined
  if (!MODES.has(f.mode)) return undefined
  if (f.description !== undefined && f.description !== null && typeof f.description !== "string") return undefined
  if (f.policy_tags !== undefined && !isStringArray(f.policy_tags)) return undefined
  let fields: ReadonlyArray<Field> | undefined
  if (f.fields !== undefined) {
    fields = plainFields(f.fields)
    if (fields === undefined) return undefined
  }
  if (f.description !== undefined && fields === f.fields) return u as Field
  return {
    name: f.name,
    type: f.type,
    mode: f.mode as FieldMode,
    description: (f.description as string | null | undefined) ?? null,
    ...(fields === undefined ? {} : { fields }),
    ...(f.policy_tags === undefined ? {} : { policy_tags: f.policy_tags as ReadonlyArray<string> })
  }
}

/** The plainly valid fields, normalised; the same array when every field already is. */
export const plainFields = (u: unknown): ReadonlyArray<Field> | undefined => {
  if (!Array.isArray(u)) return undefined
  let out: Array<Field> | undefined
  for (let i = 0; i < u.length; i++) {
    const field = plainField(u[i])
    if (field === undefined) return undefined
    if (field !== u[i] && out === undefined) out = u.slice(0, i)
    out?.push(field)
  }
  return out ?? (u as ReadonlyArray<Field>)
}

export const Field: Schema.Schema<Field, FieldEncoded> = Schema.Struct({
  name: Schema.NonEmptyString,
  type: Schema.NonEmptyString,
  mode: FieldMode,
  description: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  fields: Schema.optionalWith(Schema.Array(Schema.suspend((): Schema.Schema<Field, FieldEncoded> => Field)), {
    exact: true
  }),
  policy_tags: Schema.optionalWith(Schema.Array(Schema.String), { exact: true })
}).annotations({ identifier: "Field" })

/** A table's columns: `Field`s, with a fast path for the common, valid case. */
export const Columns: Schema.Schema<ReadonlyArray<Field>, ReadonlyArray<FieldEncoded>> = withFastPath(
  Schema.Array(Field),
  { decode: plainFields, encode: plainFields },
  "Columns"
)

/** A field of the seed-shaped `schema` block: as `FieldEncoded`, its description always a string when written. */
export interface SeedFieldEncoded {
  readonly name: string
  readonly type: string
  readonly mode: FieldMode
  readonly description?: string | null
  readonly fields?: ReadonlyArray<SeedFieldEncoded>
  readonly policy_tags?: ReadonlyArray<string>
}

/**
 * A field as the seed-shaped `schema` block writes it: a missing description is written `""`,
 * because the seed's readers call string methods on it (`column["description"].strip()`). In
 * memory it is `null`, as everywhere else. Documents written before (with `null`, or no
 * description) still decode.
 */
export const SeedField: Schema.Schema<Field, SeedFieldEncoded> = Schema.Struct({
  name: Schema.NonEmptyString,
  type: Schema.NonEmptyString,
  mode: FieldMode,
  description: Schema.optionalToRequired(Schema.NullOr(Schema.String), Schema.NullOr(Schema.String), {
    decode: (written) => {
      const description = Option.getOrNull(written)
      return description === "" ? null : description
    },
    encode: (description) => Option.some(description ?? "")
  }),
  fields: Schema.optionalWith(
    Schema.Array(Schema.suspend((): Schema.Schema<Field, SeedFieldEncoded> => SeedField)),
    { exact: true }
  ),
  policy_tags: Schema.optionalWith(Schema.Array(Schema.String), { exact: true })
}).annotations({ identifier: "SeedField" })

/** `fields` with `""` descriptions as `null` (decoding) or `null` ones as `""` (encoding). */
const mapDescriptions = (
  fields: ReadonlyArray<Field>,
  from: string | null,
  to: string | null
): ReadonlyArray<Field> =>
  fields.map((field) => ({
    ...field,
    description: field.description === from ? to : field.description,
    ...(field.fields === undefined ? {} : { fields: mapDescriptions(field.fields, from, to) })
  }))

/** The seed-shaped block's columns: `SeedField`s, with a fast path for the common, valid case. */
export const SeedColumns: Schema.Schema<ReadonlyArray<Field>, ReadonlyArray<SeedFieldEncoded>> = withFastPath(
  Schema.Array(SeedField),
  {
    decode: (u) => {
      const fields = plainFields(u)
      return fields === undefined ? undefined : mapDescriptions(fields, "", null)
    },
    encode: (u) => {
      const fields = plainFields(u)
      return fields === undefined ? undefined : (mapDescriptions(fields, null, "") as ReadonlyArray<SeedFieldEncoded>)
    }
  },
  "SeedColumns"
)

const RECORD_TYPES = new Set(["RECORD", "STRUCT"])

export const isRecord = (field: Field): boolean => RECORD_TYPES.has(field.type.toUpperCase())

/** One leaf or record of the field tree, addressed by its dotted path. */
export interface FieldPath {
  /** Dotted path from the table's top level, e.g. `event_params.value.string_value`. */
  readonly path: string
  /** The names along the path, unquoted. */
  readonly segments: ReadonlyArray<string>
  readonly type: string
  readonly mode: FieldMode
  readonly description: string | null
  /**
   * Paths of the REPEATED fields on the way to this one, outermost first (the field itself included
   * when it is repeated). Each must be UNNESTed to reach single values.
   */
  readonly repeated: ReadonlyArray<string>
  /** Depth in the tree: 0 for a top-level column. */
  readonly depth: number
}

/** Every field of the tree, depth first in BigQuery's order, with its path and repeated ancestors. */
export const flattenFields = (fields: ReadonlyArray<Field>): ReadonlyArray<FieldPath> => {
  const out: Array<FieldPath> = []
  const walk = (level: ReadonlyArray<Field>, parent: ReadonlyArray<string>, repeated: ReadonlyArray<string>) => {
    for (const field of level) {
      const segments = [...parent, field.name]
      const path = segments.join(".")
      const repeatedHere = field.mode === "REPEATED" ? [...repeated, path] : repeated
      out.push({
        path,
        segments,
        type: field.type,
        mode: field.mode,
        description: field.description,
        repeated: repeatedHere,
        depth: parent.length
      })
      if (field.fields !== undefined) walk(field.fields, segments, repeatedHere)
    }
  }
  walk(fields, [], [])
  return out
}

/** How many fields the tree holds at every depth (top-level columns included). */
export const countFields = (fields: ReadonlyArray<Field>): number =>
  fields.reduce((n, f) => n + 1 + (f.fields === undefined ? 0 : countFields(f.fields)), 0)
