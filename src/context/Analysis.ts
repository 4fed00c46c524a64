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
 * - `koreanStopFilter`, `koreanParticleFilter`: whole Korean words that say nothing about tables
 *   (보여주세요, 무엇) out; a particle attached to a noun (`거래량이`, `고객별로`) stripped.
 * - `cjkBigramFilter`: Hangul, Han, Hiragana and Katakana words become overlapping character
 *   bigrams (one character stays a unigram): Korean writes compounds without spaces.
 * - `SynonymMap` (query side, like `SynonymGraphFilter`): a phrase of a synonym group found in the
 *   analyzed question adds the other phrases' terms, at a lower weight.
 */

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

/** Whole Korean words of asking and quantifying, not of data (a general list, not any dataset's). */
export const KOREAN_STOPWORDS: ReadonlySet<string> = new Set([
  "무엇", "무엇인가요", "무엇입니까", "뭐", "뭔가요", "어떤", "어느", "누구", "언제", "어디", "어떻게", "왜", "몇", "몇몇",
  "보여", "보여줘", "보여주세요", "보여줄래", "알려", "알려줘", "알려주세요", "주세요", "해주세요", "해줘", "줘",
  "구해", "구해줘", "구해주세요", "찾아", "찾아줘", "찾아주세요", "나열", "나열해", "나열해주세요", "반환", "반환해", "반환해주세요",
  "있는", "있나요", "있습니까", "인가요", "입니까", "입니다", "이다", "하는", "한", "된", "되는", "및", "그리고", "또는",
  "각", "각각", "모든", "전체", "대한", "대해", "대해서", "위한", "중", "중에서", "그", "이", "저", "것", "등"
])

export const koreanStopFilter: TokenFilter = (tokens) =>
  tokens.filter((t) => !t.cjk || !KOREAN_STOPWORDS.has(t.term))

/** Particles and endings attached to nouns, longest first. */
const PARTICLES = [
  "에서는", "으로는", "에게서", "이라는", "에서", "으로", "에게", "까지", "부터", "보다", "처럼", "마다", "이나", "이랑",
  "라는", "별로", "은", "는", "이", "가", "을", "를", "의", "에", "로", "와", "과", "도", "만", "나"
]

export const koreanParticleFilter: TokenFilter = (tokens) =>
  tokens.map((t) => {
    if (!t.cjk || t.term.length < 3 || !/^[\p{Script=Hangul}]+$/u.test(t.term)) return t
    for (const p of PARTICLES) {
      // `-별로` keeps `별` (per): `지역별로` → `지역별`.
      const cut = p === "별로" ? 1 : p.length
      if (t.term.endsWith(p) && t.term.length - cut >= 2) return { ...t, term: t.term.slice(0, t.term.length - cut) }
    }
    return t
  })

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
  koreanStopFilter,
  koreanParticleFilter,
  cjkBigramFilter
)

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
