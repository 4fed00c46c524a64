/**
 * The sync's glossary step: the curated glossary files (directory and bucket prefix) and the names
 * found in labels and descriptions. Nothing here fails the sync: a bad file is logged and left out.
 */
import * as Effect from "effect/Effect"
import type { Alias, GlossaryTerm } from "../../contract/Glossary.ts"
import type { TableEntry } from "../../contract/TableEntry.ts"
import { SyncConfig } from "../../config/SyncConfig.ts"
import { metadataAliases } from "./aliases.ts"
import { type Glossary, loadGlossaryDirectory, loadGlossaryPrefix } from "./curated.ts"

/** The curated glossary files (directory and bucket prefix), their problems logged. */
export const loadGlossaryFiles = Effect.gen(function*() {
  const settings = yield* SyncConfig
  const local = yield* loadGlossaryDirectory(settings.curatedExamplesDir)
  const remote = settings.curatedExamplesPrefix === null
    ? { terms: [], aliases: [], errors: [], files: 0 }
    : yield* loadGlossaryPrefix(settings.curatedExamplesPrefix, settings)
  for (const error of [...local.errors, ...remote.errors]) yield* Effect.logWarning(error.message)
  return { terms: [...local.terms, ...remote.terms], aliases: [...local.aliases, ...remote.aliases] } satisfies Glossary
})

/** The curated aliases of one table and those of its own metadata: its part of `gatherGlossary`'s aliases. */
export const tableAliases = (files: Glossary, table: TableEntry): ReadonlyArray<Alias> => [
  ...files.aliases.filter((a) => a.table_id === table.table_id),
  ...metadataAliases([table])
]

/** The glossary of `tables`; `files` when the caller has already loaded them (`loadGlossaryFiles`). */
export const gatherGlossary = (input: { readonly tables: ReadonlyArray<TableEntry>; readonly files?: Glossary }) =>
  Effect.gen(function*() {
    const files = input.files ?? (yield* loadGlossaryFiles)
    const ids = new Set(input.tables.map((t) => t.table_id as string))
    const glossary: ReadonlyArray<GlossaryTerm> = files.terms
    const aliases: ReadonlyArray<Alias> = [
      ...files.aliases.filter((a) => ids.has(a.table_id)),
      ...metadataAliases(input.tables)
    ]
    return { glossary, aliases }
  }).pipe(Effect.withSpan("glossary"))
