/**
 * Describe: every field of a table flattened to its dotted path, with the UNNEST joins and the
 * expression that reach it — what a model needs to query GA4-style nested, repeated data right.
 */
import type { FieldPathEntry } from "../contract/CacheDocument.ts"
import { type Field, flattenFields } from "../contract/Field.ts"
import { quoteFieldPath, quoteIdentifier } from "../sql/Identifiers.ts"

/** `event_params` → `event_param`, `items` → `item`, `user_properties` → `user_property`; else `<name>_item`. */
export const elementAlias = (name: string): string => {
  if (/[^s]ies$/i.test(name)) return `${name.slice(0, -3)}y`
  if (/[^s]s$/i.test(name) && name.length > 3) return name.slice(0, -1)
  return `${name}_item`
}

export const fieldPathEntries = (columns: ReadonlyArray<Field>): ReadonlyArray<FieldPathEntry> => {
  const top = new Set(columns.map((c) => c.name.toLowerCase()))
  const aliases = new Map<string, string>()
  const taken = new Set(top)
  /** One alias per repeated path for the whole table, never shadowing a column or another alias. */
  const aliasOf = (path: string, name: string) => {
    const known = aliases.get(path)
    if (known !== undefined) return known
    let alias = elementAlias(name)
    for (let n = 2; taken.has(alias.toLowerCase()); n++) alias = `${elementAlias(name)}_${n}`
    aliases.set(path, alias)
    taken.add(alias.toLowerCase())
    return alias
  }

  return flattenFields(columns).map((field): FieldPathEntry => {
    const joins: Array<string> = []
    // Walk the repeated ancestors outermost first: each is reached from the previous alias.
    let scope: { readonly alias: string | null; readonly depth: number } = { alias: null, depth: 0 }
    for (const repeatedPath of field.repeated) {
      const segments = repeatedPath.split(".")
      const relative = segments.slice(scope.depth)
      const source = scope.alias === null ? quoteFieldPath(relative) : `${quoteIdentifier(scope.alias)}.${quoteFieldPath(relative)}`
      const alias = aliasOf(repeatedPath, segments[segments.length - 1])
      joins.push(`CROSS JOIN UNNEST(${source}) AS ${quoteIdentifier(alias)}`)
      scope = { alias, depth: segments.length }
    }
    const rest = field.segments.slice(scope.depth)
    const expression = scope.alias === null
      ? quoteFieldPath(rest)
      : [quoteIdentifier(scope.alias), ...rest.map(quoteIdentifier)].join(".")
    return { path: field.path, unnest: field.repeated, joins, expression }
  })
}
