/**
 * Turns the vocabulary's data files (ko-en.tsv, ko-grammar.tsv) into the module vocabularyData.ts:
 * their data lines as string constants, so the loader reads no file at run time (esbuild bundles it,
 * Node imports it from source). `node scripts/vocabulary.ts` writes it; a test fails while it is stale.
 */

/** A TSV's data lines (comments and blank lines dropped), joined by "\n". */
export const dataLines = (text: string): string =>
  text
    .split("\n")
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .join("\n")

export const renderDataModule = (koEn: string, grammar: string): string =>
  [
    "// Generated from ko-en.tsv and ko-grammar.tsv by `node scripts/vocabulary.ts`: do not edit; edit the TSV files.",
    `export const KO_EN_TSV = ${JSON.stringify(dataLines(koEn))}`,
    `export const KO_GRAMMAR_TSV = ${JSON.stringify(dataLines(grammar))}`,
    ""
  ].join("\n")
