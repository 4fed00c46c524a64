/**
 * The built-in Korean↔English vocabulary of general data and business terms, so that a Korean question
 * reaches English-named tables and columns with no model.
 *
 * Data: `ko-en.tsv` (Korean term → English synonyms, by domain; its header states how it was written)
 * and `ko-grammar.tsv` (particles and endings to strip, question words → SQL-ish concepts), compiled
 * into `vocabularyData.ts` by `node scripts/vocabulary.ts`. Parsed once, at first use: importing this
 * module costs only the data module's string constants.
 *
 * For an analysis chain (tokenizer → filters, as Lucene's): `koreanSynonymFilter` is the filter. It keeps
 * every token, and after each Hangul token adds the vocabulary terms found in it (particles and endings
 * stripped, compounds split into their longest entries) and their English words. English plurals and
 * inflections are left to the chain's stemmer.
 *
 *   splitKorean("주문금액의")  → ["주문", "금액"]
 *   expandKorean("고객별")     → ["customer", "client", "cust"]
 *   conceptsOf("몇명")         → ["count"]
 *   koreanSynonymFilter(["고객별", "매출"]) → ["고객별", "고객", "customer", "client", "cust", "매출", "sales", "revenue"]
 *
 * For a query-side synonym map instead (phrases matched after the chain's own analysis),
 * `synonymGroups()` gives one group per entry: `["고객", "customer", "client", "cust"]`.
 */
import { KO_EN_TSV, KO_GRAMMAR_TSV } from "./vocabularyData.ts"

/** What a question word or suffix asks the SQL to do. */
export type SqlConcept =
  | "count"
  | "sum"
  | "avg"
  | "max"
  | "min"
  | "top"
  | "bottom"
  | "recent"
  | "earliest"
  | "distinct"
  | "ratio"
  | "group"
  | "sort_desc"
  | "sort_asc"
  | "difference"
  | "list"
  | "exists"
  | "not_exists"
  | "between"
  | "per"

export interface VocabularyEntry {
  readonly korean: string
  /** Lower case, in order of preference; multi-word synonyms are written with spaces. */
  readonly english: ReadonlyArray<string>
  readonly domain: string
}

export interface KoreanVocabulary {
  /** Number of Korean entries. */
  readonly size: number
  readonly entry: (korean: string) => VocabularyEntry | undefined
  /** English equivalents of a Korean term (particles and endings allowed; a compound gives its parts' equivalents). */
  readonly expandKorean: (term: string) => ReadonlyArray<string>
  /** The vocabulary terms in a Hangul word, in order: particles and endings stripped, longest entries first; unknown stems kept. */
  readonly splitKorean: (word: string) => ReadonlyArray<string>
  /** The SQL-ish concepts a Korean word signals (몇 → count, 고객별 → group, 평균 → avg). */
  readonly conceptsOf: (word: string) => ReadonlyArray<SqlConcept>
  /** Korean terms for an English word or phrase (the reverse direction; built at first call). */
  readonly expandEnglish: (english: string) => ReadonlyArray<string>
  /** Every entry, in file order. */
  readonly entries: () => ReadonlyArray<VocabularyEntry>
}

const HANGUL = /[\uAC00-\uD7A3]/u
const RUN = /[0-9\uAC00-\uD7A3]+/gu

type Kind = "entry" | "question" | "grammar" | "unknown"
interface Piece {
  readonly kind: Kind
  readonly text: string
  /** The vocabulary term a piece stands for (a verb's dictionary form for its stem). */
  readonly term: string
}

/** Syllable finals whose removal gives a verb stem: 팔린 → 팔리 (ㄴ), 팔릴 (ㄹ), 팔림 (ㅁ), 팔립 (ㅂ), 팔렸 (ㅆ, after 리 → 려). */
const STEM_FINALS = new Set([4, 8, 16, 17, 20])
const withoutFinal = (syllable: string): string | undefined => {
  const code = syllable.charCodeAt(0) - 0xac00
  if (code < 0 || code > 11171 || !STEM_FINALS.has(code % 28)) return undefined
  return String.fromCharCode(0xac00 + code - (code % 28))
}

const parse = (): KoreanVocabulary => {
  const entries = new Map<string, VocabularyEntry>()
  for (const line of KO_EN_TSV.split("\n")) {
    const [korean, english, domain] = line.split("\t")
    if (korean === undefined || english === undefined) continue
    entries.set(korean, { korean, english: english.split("|"), domain: domain ?? "" })
  }
  // Verbs and adjectives are listed as 팔리다; their stems (two syllables or more) find them inside words.
  const stems = new Map<string, string>()
  for (const korean of entries.keys()) {
    if (korean.length >= 3 && korean.endsWith("다")) {
      const stem = korean.slice(0, -1)
      if (!entries.has(stem)) stems.set(stem, korean)
    }
  }
  const grammar = new Set<string>()
  const concepts = new Map<string, SqlConcept>()
  for (const line of KO_GRAMMAR_TSV.split("\n")) {
    const [kind, form, concept] = line.split("\t")
    if (kind === undefined || form === undefined || form === "") continue
    if (kind === "particle" || kind === "ending" || kind === "suffix") grammar.add(form)
    if ((kind === "suffix" || kind === "question") && concept !== undefined && concept !== "") {
      concepts.set(form, concept as SqlConcept)
    }
  }
  let maxLength = 1
  for (const k of [...entries.keys(), ...grammar, ...concepts.keys()]) maxLength = Math.max(maxLength, k.length)

  /** A content piece starting the text, or undefined: an entry, a stem, or a stem with its final fused ending. */
  const contentTerm = (text: string): string | undefined => {
    if (entries.has(text)) return text
    const stem = stems.get(text)
    if (stem !== undefined) return stem
    const last = withoutFinal(text.slice(-1))
    if (last === undefined) return undefined
    const bare = text.slice(0, -1) + last
    if (bare.length >= 2) return stems.get(bare) ?? stems.get(bare.replace(/려$/u, "리")) ?? stems.get(bare.replace(/해$/u, "하"))
    return undefined
  }

  /** The cheapest segmentation of one Hangul/digit run: fewest unknown syllables, then fewest content pieces, then fewest grammar pieces. */
  const segment = (run: string): Array<Piece> => {
    const n = run.length
    // [unknown syllables, content pieces, grammar pieces]: 주문의 is 주문 + 의, not 주 + 문의.
    const cost: Array<[number, number, number]> = Array.from({ length: n + 1 }, () => [Infinity, Infinity, Infinity])
    const back: Array<Piece | undefined> = Array.from({ length: n + 1 }, () => undefined)
    cost[0] = [0, 0, 0]
    const better = (a: [number, number, number], b: [number, number, number]) =>
      a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2]
    for (let i = 0; i < n; i++) {
      const [unknown, content, functional] = cost[i]!
      if (unknown === Infinity) continue
      const offer = (j: number, piece: Piece, extraUnknown: number) => {
        const isGrammar = piece.kind === "grammar" || piece.kind === "question"
        const c: [number, number, number] = [unknown + extraUnknown, content + (isGrammar ? 0 : 1), functional + (isGrammar ? 1 : 0)]
        if (better(c, cost[j]!)) {
          cost[j] = c
          back[j] = piece
        }
      }
      for (let j = Math.min(n, i + maxLength); j > i; j--) {
        const text = run.slice(i, j)
        const term = contentTerm(text)
        if (term !== undefined) offer(j, { kind: "entry", text, term }, 0)
        else if (concepts.has(text) && !grammar.has(text)) offer(j, { kind: "question", text, term: text }, 0)
        else if (i > 0 && grammar.has(text)) offer(j, { kind: "grammar", text, term: text }, 0)
      }
      offer(i + 1, { kind: "unknown", text: run[i]!, term: run[i]! }, 1)
    }
    const out: Array<Piece> = []
    for (let j = n; j > 0;) {
      const piece = back[j]!
      out.push(piece)
      j -= piece.text.length
    }
    out.reverse()
    // Adjacent unknown syllables are one unknown stem.
    const merged: Array<Piece> = []
    for (const piece of out) {
      const last = merged.at(-1)
      if (piece.kind === "unknown" && last?.kind === "unknown") {
        merged[merged.length - 1] = { kind: "unknown", text: last.text + piece.text, term: last.term + piece.term }
      } else merged.push(piece)
    }
    return merged
  }

  const cache = new Map<string, ReadonlyArray<Piece>>()
  const piecesOf = (word: string): ReadonlyArray<Piece> => {
    let pieces = cache.get(word)
    if (pieces === undefined) {
      pieces = [...word.matchAll(RUN)].flatMap((m) => grammar.has(m[0]) ? [] : segment(m[0]))
      if (cache.size > 50_000) cache.clear()
      cache.set(word, pieces)
    }
    return pieces
  }

  const splitKorean = (word: string): ReadonlyArray<string> =>
    piecesOf(word).filter((p) => p.kind === "entry" || p.kind === "unknown").map((p) => p.term)

  const expandKorean = (term: string): ReadonlyArray<string> => {
    const whole = entries.get(term)
    if (whole !== undefined) return whole.english
    const out = new Set<string>()
    for (const part of splitKorean(term)) for (const e of entries.get(part)?.english ?? []) out.add(e)
    return [...out]
  }

  const conceptsOf = (word: string): ReadonlyArray<SqlConcept> => {
    const out = new Set<SqlConcept>()
    for (const piece of piecesOf(word)) {
      const concept = concepts.get(piece.text) ?? concepts.get(piece.term)
      if (concept !== undefined && piece.kind !== "unknown") out.add(concept)
    }
    return [...out]
  }

  let reverse: Map<string, Array<string>> | undefined
  const expandEnglish = (english: string): ReadonlyArray<string> => {
    if (reverse === undefined) {
      reverse = new Map()
      for (const entry of entries.values()) {
        for (const phrase of entry.english) {
          for (const key of new Set([phrase, ...englishTerms([phrase])])) {
            const list = reverse.get(key) ?? []
            if (!list.includes(entry.korean)) list.push(entry.korean)
            reverse.set(key, list)
          }
        }
      }
    }
    return reverse.get(english.toLowerCase()) ?? []
  }

  return {
    size: entries.size,
    entry: (k) => entries.get(k),
    expandKorean,
    splitKorean,
    conceptsOf,
    expandEnglish,
    entries: () => [...entries.values()]
  }
}

let loaded: KoreanVocabulary | undefined
/** The vocabulary, parsed at the first call and kept. */
export const koreanVocabulary = (): KoreanVocabulary => (loaded ??= parse())

export const expandKorean = (term: string): ReadonlyArray<string> => koreanVocabulary().expandKorean(term)
export const splitKorean = (word: string): ReadonlyArray<string> => koreanVocabulary().splitKorean(word)
export const conceptsOf = (word: string): ReadonlyArray<SqlConcept> => koreanVocabulary().conceptsOf(word)

/**
 * The vocabulary as synonym groups, one per Korean entry: `[korean, ...english]`
 * (`["주문금액", "order amount", "order value", "order total"]`), for a query-side synonym map that
 * analyzes each phrase with its own chain (as Lucene's SynonymGraphFilter does). Built at first call.
 */
export const synonymGroups = (): ReadonlyArray<ReadonlyArray<string>> => (groups ??= koreanVocabulary().entries().map((e) => [e.korean, ...e.english]))
let groups: ReadonlyArray<ReadonlyArray<string>> | undefined

/**
 * English phrases as index terms: each word, and a multi-word phrase also joined as snake_case
 * ("sale price" → sale, price, sale_price), as column names spell it.
 */
export const englishTerms = (phrases: Iterable<string>): Array<string> => {
  const out = new Set<string>()
  for (const phrase of phrases) {
    const words = phrase.toLowerCase().split(/[^a-z0-9&]+/u).filter((w) => w !== "")
    for (const w of words) out.add(w)
    if (words.length > 1) out.add(words.join("_"))
  }
  return [...out]
}

/**
 * The synonym filter for an analysis chain: every token passes through; each token with Hangul is
 * followed by its vocabulary terms (when they differ from the token) and their English index terms.
 */
export const koreanSynonymFilter = (tokens: Iterable<string>): Array<string> => {
  const vocabulary = koreanVocabulary()
  const out: Array<string> = []
  for (const token of tokens) {
    out.push(token)
    if (!HANGUL.test(token)) continue
    const added = new Set<string>()
    const parts = vocabulary.splitKorean(token)
    for (const part of parts) if (part !== token) added.add(part)
    for (const part of parts) {
      for (const term of englishTerms(vocabulary.entry(part)?.english ?? [])) added.add(term)
    }
    out.push(...added)
  }
  return out
}
