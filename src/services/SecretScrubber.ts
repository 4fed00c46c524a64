/**
 * The one place that keeps secrets out of what MetaSync logs or reports: every reply body, reply
 * header (Anthropic's `request-id`) or answer text a remote service sends back goes through a
 * `SecretScrubber` before it reaches an error message or a log line. A proxy or a careless
 * server may echo the API key or the webhook URL back in any of them.
 *
 * A secret is looked for in every form it could be echoed in: as is, without its well-known
 * prefix (`sk-ant-api03-…`), percent-encoded, and base64 / base64url-encoded at any alignment
 * (as inside `Authorization: Basic …`). Scrub before cutting: a secret cut in half no longer
 * matches, and its start would show (`excerpt` does both in that order).
 */

export const REDACTED = "<redacted>"

/** Shorter strings are not looked for: they would match ordinary text, and identify nothing. */
const MIN_SECRET_LENGTH = 4

/** Well-known prefixes of API keys, stripped to find the part that identifies the key. */
const KEY_PREFIXES: ReadonlyArray<RegExp> = [/^sk-ant-[a-z]+\d*-/, /^sk-ant-/, /^sk-/]

/** The secret without each known prefix it starts with (`sk-ant-api03-XYZ` → `api03-XYZ`, `XYZ`). */
const withoutPrefixes = (secret: string): ReadonlyArray<string> =>
  KEY_PREFIXES.flatMap((prefix) => {
    const match = prefix.exec(secret)
    return match === null ? [] : [secret.slice(match[0].length)]
  })

/**
 * The base64 characters that encode only `secret`'s own bytes, for each of the three alignments
 * it can have inside a longer encoded text; so `base64(anything + secret + anything)` contains one of them.
 */
const base64Cores = (secret: string): ReadonlyArray<string> => {
  const bytes = Buffer.from(secret, "utf8")
  return [0, 1, 2].flatMap((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64")
    const core = encoded.slice(Math.ceil((offset * 8) / 6), Math.floor(((offset + bytes.length) * 8) / 6))
    return [core, core.replaceAll("+", "-").replaceAll("/", "_")]
  })
}

/** Every form of `secret` worth looking for in a reply. */
export const secretForms = (secret: string): ReadonlyArray<string> => {
  const plain = [secret, ...withoutPrefixes(secret)]
  return [...plain, ...plain.map(encodeURIComponent), ...plain.flatMap(base64Cores)]
}

/** The parts of a webhook URL that are secret: the URL, its path and query, and each path segment (Slack's token is one). */
export const urlSecrets = (url: string): ReadonlyArray<string> => {
  if (!URL.canParse(url)) return [url]
  const parsed = new URL(url)
  const segments = parsed.pathname.split("/").map((segment) => {
    try {
      return decodeURIComponent(segment)
    } catch {
      return segment
    }
  })
  return [url, parsed.href, `${parsed.pathname}${parsed.search}`, parsed.pathname, parsed.search, ...segments]
}

export interface SecretScrubber {
  /** `text` with every form of every secret replaced by `<redacted>`. */
  readonly scrub: (text: string) => string
  /** The scrubbed text, then cut to `max` characters: scrubbing first, so no part of a secret survives the cut. */
  readonly excerpt: (text: string, max: number) => string
}

/** A scrubber for `secrets` (each looked for in all its forms; blank and very short ones are ignored). */
export const makeSecretScrubber = (secrets: ReadonlyArray<string>): SecretScrubber => {
  // Longest first, so a whole secret becomes one marker rather than a marker inside its leftovers.
  const forms = [...new Set(secrets.flatMap(secretForms))]
    .filter((form) => form.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length)
  const scrub = (text: string) => forms.reduce((scrubbed, form) => scrubbed.split(form).join(REDACTED), text)
  return {
    scrub,
    excerpt: (text, max) => {
      const clean = scrub(text)
      return clean.length > max ? `${clean.slice(0, max)}…` : clean
    }
  }
}
