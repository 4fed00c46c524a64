/**
 * Text analysis for matching questions against the document, after Lucene's analysis chain: a
 * tokenizer, then small filters that each do one thing, composed per use. A new language or
 * synonym source is a new filter, not a branch inside the tokenizer.
 *
 * - `wordTokenizer`: NFKC, words of letters, marks, digits and `_`, each split into its CJK and
 *   non-CJK stretches (`GA4이벤트` → `GA4`, `이벤트`).
 * - `identifierFilter`: `_` and camelCase parts, lowercased; an identifier that split into several
 *   parts is also kept whole (as a keyword, untouched by later filters), so naming it exactly
 *   counts double.
 * - `stopFilter`, `stemFilter`: English stopwords out, a light suffix rule (keywords and CJK skip).
 * - `koreanSplitFilter`: Hangul words split by the built-in Korean vocabulary (particles and
 *   endings off, compounds into entries, grammar-only words out).
 * - `cjkBigramFilter`: Hangul, Han, Hiragana and Katakana words become overlapping character
 *   bigrams (one character stays a unigram): Korean writes compounds without spaces.
 * - `SynonymMap` (query side, like `SynonymGraphFilter`): a phrase of a synonym group (the
 *   glossary's) found in the analyzed question adds the other phrases' terms, at a lower weight;
 *   `koreanExpansion` adds the built-in vocabulary's English equivalents of Korean words.
 */
import { koreanVocabulary, splitKorean } from "./vocabulary/Vocabulary.ts"

export interface Token {
  readonly term: string
  readonly cjk: boolean
  /** Protected from stemming and stopwords (Lucene's KeywordAttribute). */
  readonly keyword?: boolean
}

export type TokenFilter = (tokens: ReadonlyArray<Token>) => ReadonlyArray<Token>

const CJK = "\\p{Script=Hangul}\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}"
const WORD = /[\p{L}\p{M}\p{N}_]+/gu
const SCRIPT_STRETCH = new RegExp(`([${CJK}]+)|([^${CJK}]+)`, "gu")
const HAS_CJK = new RegExp(`[${CJK}]`, "u")
const PLAIN_WORD = /^[a-z0-9]+$/
const CAMEL_BOUNDARY = /(?<=[\p{Ll}\p{N}])(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})/u

export const wordTokenizer = (text: string): ReadonlyArray<Token> => {
  const tokens: Array<Token> = []
  for (const word of text.normalize("NFKC").match(WORD) ?? []) {
    if (PLAIN_WORD.test(word) || !HAS_CJK.test(word)) {
      tokens.push({ term: word, cjk: false })
      continue
    }
    for (const [, cjk, other] of word.matchAll(SCRIPT_STRETCH)) {
      tokens.push(cjk !== undefined ? { term: cjk.toLowerCase(), cjk: true } : { term: other!, cjk: false })
    }
  }
  return tokens
}

export const identifierFilter: TokenFilter = (tokens) => {
  const out: Array<Token> = []
  for (const token of tokens) {
    if (token.cjk || PLAIN_WORD.test(token.term)) {
      out.push(token)
      continue
    }
    const parts: Array<string> = []
    for (const piece of token.term.split("_")) {
      for (const part of piece.split(CAMEL_BOUNDARY)) if (part.length > 0) parts.push(part.toLowerCase())
    }
    for (const part of parts) out.push({ term: part, cjk: false })
    if (parts.length > 1) out.push({ term: token.term.toLowerCase(), cjk: false, keyword: true })
  }
  return out
}

/** English words that say nothing about which table or column a question needs. */
export const STOPWORDS: ReadonlySet<string> = new Set([
  "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "and", "or", "is", "are", "was", "were", "be",
  "what", "which", "who", "how", "many", "much", "me", "show", "list", "give", "get", "find", "with", "from",
  "per", "each", "do", "does", "did", "that", "this", "there", "it", "its", "as", "i", "we", "you", "please", "s",
  "return", "all", "their", "them", "they", "those", "these", "than", "have", "has", "had", "any", "only",
  "also", "into", "out", "up", "if", "not", "no", "can", "could", "would", "should", "will", "our", "my", "your"
])

export const stopFilter = (words: ReadonlySet<string>): TokenFilter => (tokens) =>
  tokens.filter((t) => t.cjk || t.keyword === true || !words.has(t.term))

/**
 * A light English suffix rule so that inflections meet (`names`/`name`, `purchased`/`purchase`,
 * `countries`/`country` all reduce alike): plural, then `-ed`/`-ing`, then a final `e`/`y`,
 * each only when at least three letters remain. Not a real stemmer; it only has to be consistent.
 */
export const stem = (word: string): string => {
  if (word.length < 4 || !/^[a-z]+$/.test(word)) return word
  const strip = (w: string, suffix: string, replacement = "") =>
    w.endsWith(suffix) && w.length - suffix.length + replacement.length >= 3
      ? w.slice(0, w.length - suffix.length) + replacement
      : w
  let w = word
  if (w.endsWith("ies")) w = strip(w, "ies", "i")
  else if (w.endsWith("sses")) w = strip(w, "es")
  else if (w.endsWith("es")) w = strip(w, "es")
  // `-ss`, `-us`, `-is` are not plurals (`address`, `status`, `analysis`).
  else if (w.endsWith("s") && !/(ss|us|is)$/.test(w)) w = strip(w, "s")
  if (w.endsWith("ing")) w = strip(w, "ing")
  else if (w.endsWith("ed")) w = strip(w, "ed")
  if (w.length >= 4) {
    if (w.endsWith("e")) w = strip(w, "e")
    else if (w.endsWith("y")) w = strip(w, "y", "i")
  }
  return w
}

export const stemFilter: TokenFilter = (tokens) =>
  tokens.map((t) => (t.cjk || t.keyword === true ? t : { term: stem(t.term), cjk: false }))

const HANGUL = /\p{Script=Hangul}/u

/**
 * Hangul words split by the built-in vocabulary (`vocabulary/Vocabulary.ts`): particles and
 * endings stripped, compounds split into the longest entries, words that are only grammar
 * (`보여주세요`) dropped — `고객주문금액은` → `고객`, `주문금액`.
 */
export const koreanSplitFilter: TokenFilter = (tokens) => {
  const out: Array<Token> = []
  for (const t of tokens) {
    if (!t.cjk || !HANGUL.test(t.term)) {
      out.push(t)
      continue
    }
    for (const piece of splitKorean(t.term)) out.push({ term: piece, cjk: true })
  }
  return out
}

export const cjkBigramFilter: TokenFilter = (tokens) => {
  const out: Array<Token> = []
  for (const t of tokens) {
    if (!t.cjk) {
      out.push(t)
      continue
    }
    const chars = Array.from(t.term)
    if (chars.length === 1) out.push(t)
    for (let i = 0; i + 1 < chars.length; i++) out.push({ term: chars[i]! + chars[i + 1]!, cjk: true })
  }
  return out
}

export type Analyzer = (text: string) => ReadonlyArray<string>

export const analyzer = (tokenizer: (text: string) => ReadonlyArray<Token>, ...filters: ReadonlyArray<TokenFilter>): Analyzer =>
(text) => {
  let tokens = tokenizer(text)
  for (const filter of filters) tokens = filter(tokens)
  return tokens.map((t) => t.term)
}

/** The analysis every field and question goes through. */
export const tokenize: Analyzer = analyzer(
  wordTokenizer,
  identifierFilter,
  stopFilter(STOPWORDS),
  stemFilter,
  koreanSplitFilter,
  cjkBigramFilter
)

/**
 * The English equivalents of a question's Korean words, as index terms (`고객별 매출` → customer,
 * client, cust, sale, revenue, …): each vocabulary phrase analyzed by the same chain, and a
 * multi-word phrase also as snake_case (`sale_price`), as column names spell it.
 */
export const koreanExpansion = (text: string): ReadonlyArray<string> => {
  const vocabulary = koreanVocabulary()
  const out = new Set<string>()
  for (const token of wordTokenizer(text)) {
    if (!token.cjk || !HANGUL.test(token.term)) continue
    for (const piece of vocabulary.splitKorean(token.term)) {
      for (const english of vocabulary.entry(piece)?.english ?? []) {
        for (const term of tokenize(english)) out.add(term)
        const words = english.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w !== "")
        if (words.length > 1) out.add(words.join("_"))
      }
    }
  }
  return [...out]
}

// ---------------------------------------------------------------------------------------------
// Synonyms (query side)
// ---------------------------------------------------------------------------------------------

/** Equivalent phrases, in any language: `["ADV", "average daily volume", "평균 일일 거래량"]`. */
export type SynonymGroup = ReadonlyArray<string>

/** A question's terms with their weights: 1 for its own words, less for what synonyms added. */
export type WeightedQuery = ReadonlyMap<string, number>

export const SYNONYM_WEIGHT = 0.7

interface Phrase {
  readonly terms: ReadonlyArray<string>
  readonly group: number
}

export interface SynonymMap {
  /** The question's terms, expanded: synonyms' terms join at `SYNONYM_WEIGHT`. */
  readonly expand: (terms: ReadonlyArray<string>) => WeightedQuery
  /** The groups whose phrase the question holds (indexes into the groups given). */
  readonly matches: (terms: ReadonlyArray<string>) => ReadonlySet<number>
}

/** Matches phrases by their analyzed terms, in order, starting at each question term. */
export const synonymMap = (groups: ReadonlyArray<SynonymGroup>, analyze: Analyzer = tokenize): SynonymMap => {
  const byFirst = new Map<string, Array<Phrase>>()
  const groupTerms: Array<ReadonlyArray<string>> = []
  groups.forEach((group, g) => {
    const terms = new Set<string>()
    for (const text of group) {
      const phrase = analyze(text)
      if (phrase.length === 0) continue
      for (const t of phrase) terms.add(t)
      const list = byFirst.get(phrase[0]!) ?? []
      list.push({ terms: phrase, group: g })
      byFirst.set(phrase[0]!, list)
    }
    groupTerms.push([...terms])
  })
  const matches = (terms: ReadonlyArray<string>): Set<number> => {
    const found = new Set<number>()
    for (let i = 0; i < terms.length; i++) {
      for (const phrase of byFirst.get(terms[i]!) ?? []) {
        if (found.has(phrase.group)) continue
        let ok = i + phrase.terms.length <= terms.length
        for (let j = 1; ok && j < phrase.terms.length; j++) ok = terms[i + j] === phrase.terms[j]
        if (ok) found.add(phrase.group)
      }
    }
    return found
  }
  const expand = (terms: ReadonlyArray<string>): WeightedQuery => {
    const query = new Map<string, number>()
    for (const t of terms) query.set(t, 1)
    for (const g of matches(terms)) {
      for (const t of groupTerms[g]!) if (!query.has(t)) query.set(t, SYNONYM_WEIGHT)
    }
    return query
  }
  return { expand, matches }
}

/**
 * A conservative token count for `text`, without a tokenizer: one token per 3 ASCII characters
 * (rounded up) plus 2 per non-ASCII character. English prose runs about 4 characters a token and
 * SQL or snake_case identifiers about 3; a Hangul syllable (3 UTF-8 bytes) is usually 1 token and
 * rarely more than 2 in byte-level BPE vocabularies. Counting high keeps a prompt inside its
 * window. The count never decreases when text is appended, and the count of joined parts is at
 * most the sum of the parts' counts — which is what lets packing add up lines.
 */
export const estimateTokens = (text: string): number => {
  let ascii = 0
  let other = 0
  for (const ch of text) {
    if ((ch.codePointAt(0) ?? 0) < 0x80) ascii += 1
    else other += 1
  }
  return Math.ceil(ascii / 3) + 2 * other
}
