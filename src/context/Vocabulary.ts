/**
 * The built-in vocabulary: groups of equivalent general data and business terms across languages
 * (Korean ↔ English), expanded into a question's terms so that a Korean question reaches
 * English-named columns with no model. The data and its loader come with the vocabulary work
 * (wip/vocab); until it is merged this is empty, and the glossary's synonyms are the only ones.
 * Loaded on first use (the first index build), not when the loader is imported.
 */
import type { SynonymGroup } from "./Analysis.ts"

let groups: ReadonlyArray<SynonymGroup> | undefined

export const builtInVocabulary = (): ReadonlyArray<SynonymGroup> => {
  if (groups === undefined) groups = []
  return groups
}
