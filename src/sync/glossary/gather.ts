/**
 * The sync's glossary step: the curated glossary files (directory and bucket prefix) and the names
 * found in labels and descriptions. Nothing here fails the sync: a bad file is logged and left out.
 */
import * as Effect from "effect/Effect"
import type { Alias, GlossaryTerm } from "../../contract/Glossary.ts"
import type { TableEntry } from "../../contract/TableEntry.ts"
import { SyncConfig } from "../../config/SyncConfig.ts"
import { metadataAliases } from "./aliases.ts"
import { loadGlossaryDirectory, loadGlossaryPrefix } from "./curated.ts"

export const gatherGlossary = (input: { readonly tables: ReadonlyArray<TableEntry> }) =>
  Effect.gen(function*() {
    const settings = yield* SyncConfig
    const local = yield* loadGlossaryDirectory(settings.curatedExamplesDir)
    const remote = settings.curatedExamplesPrefix === null
      ? { terms: [], aliases: [], errors: [], files: 0 }
      : yield* loadGlossaryPrefix(settings.curatedExamplesPrefix, settings)
    for (const error of [...local.errors, ...remote.errors]) yield* Effect.logWarning(error.message)
    const ids = new Set(input.tables.map((t) => t.table_id as string))
    const glossary: ReadonlyArray<GlossaryTerm> = [...local.terms, ...remote.terms]
    const aliases: ReadonlyArray<Alias> = [
      ...[...local.aliases, ...remote.aliases].filter((a) => ids.has(a.table_id)),
      ...metadataAliases(input.tables)
    ]
    return { glossary, aliases }
  }).pipe(Effect.withSpan("glossary"))
