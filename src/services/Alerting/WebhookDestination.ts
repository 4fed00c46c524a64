/**
 * Where an alert may be posted: only to a public https endpoint. The webhook URL comes from the
 * environment, so a mistaken or malicious `ALERT_WEBHOOK_URL` must not turn alerting into a way
 * to reach inside: loopback, private and link-local ranges, CGNAT, the unspecified address and the
 * cloud metadata server are refused, whatever the name resolves to.
 *
 * - `staticProblem` judges the URL alone (scheme, an IP literal, a known internal name): at start.
 * - `resolveDestination` resolves the host once per delivery and judges every address it has; the
 *   request then connects to the address that was judged (`pinnedLookup`), so a second DNS answer
 *   (DNS rebinding) cannot swap it for an internal one.
 *
 * Tests reach their local receiver (http on 127.0.0.1) only through `allowLoopbackForTests`, a
 * layer option that configuration cannot set; tests of the CLI in a child process load
 * `test/support/allowLoopbackWebhooks.ts` with `node --import`, which calls
 * `allowLoopbackWebhooksInThisProcess`.
 */
import type { LookupAddress } from "node:dns"
import * as dns from "node:dns"
import * as net from "node:net"
import * as Schema from "effect/Schema"

export interface ResolvedAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** Every address of a host name; `dns.lookup` (what a connection would use) unless a test injects a table. */
export type HostResolver = (hostname: string) => Promise<ReadonlyArray<ResolvedAddress>>

export const systemResolver: HostResolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a: LookupAddress) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4
  }))

export interface WebhookDestinationOptions {
  /** Resolves the webhook's host; the system resolver unless given (tests pass a fixed table: no real DNS). */
  readonly resolve?: HostResolver | undefined
  /**
   * Test-only: also accept `http://` and loopback addresses (the tests' local receiver). Private,
   * link-local and metadata addresses stay refused. Never set from configuration.
   */
  readonly allowLoopbackForTests?: boolean | undefined
}

let loopbackAllowedInThisProcess = false

/**
 * Test-only, for a CLI run in a child process, where no layer option reaches: called by the
 * `node --import` preload `test/support/allowLoopbackWebhooks.ts`. No variable or setting can call it.
 */
export const allowLoopbackWebhooksInThisProcess = (): void => {
  loopbackAllowedInThisProcess = true
}

const allowsLoopback = (options: WebhookDestinationOptions) =>
  options.allowLoopbackForTests === true || loopbackAllowedInThisProcess

/** The alert was not sent because the webhook's address is not a public one. */
export class UnsafeWebhookDestination extends Schema.TaggedError<UnsafeWebhookDestination>()("UnsafeWebhookDestination", {
  /** The URL's host (never its path: that is the secret). */
  host: Schema.String,
  /** The address it resolved to that was refused, or `null` when the name itself was. */
  address: Schema.NullOr(Schema.String),
  problem: Schema.String
}) {
  override get message(): string {
    return `the webhook at ${this.host} was not called: ${this.problem}`
  }
}

// ---------------------------------------------------------------------------------------------
// Address ranges

interface Range {
  readonly family: 4 | 6
  readonly base: bigint
  readonly bits: number
  readonly what: string
  readonly loopback?: true
}

const parseIPv4 = (address: string): bigint | undefined => {
  const parts = address.split(".")
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n)
}

/** The 128-bit value of an IPv6 address (`::` and a trailing dotted quad allowed), or undefined. */
const parseIPv6 = (address: string): bigint | undefined => {
  if (!net.isIPv6(address)) return undefined
  let text = address.split("%")[0]
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted !== null) {
    const v4 = parseIPv4(dotted[1])
    if (v4 === undefined) return undefined
    text = `${text.slice(0, -dotted[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined]
  const headWords = head === "" ? [] : head.split(":")
  const tailWords = tail === undefined || tail === "" ? [] : tail.split(":")
  const words = tail === undefined
    ? headWords
    : [...headWords, ...Array<string>(8 - headWords.length - tailWords.length).fill("0"), ...tailWords]
  if (words.length !== 8) return undefined
  return words.reduce((n, w) => (n << 16n) | BigInt(parseInt(w, 16)), 0n)
}

const v4 = (cidr: string, what: string, loopback?: true): Range => {
  const [base, bits] = cidr.split("/")
  return { family: 4, base: parseIPv4(base)!, bits: Number(bits), what, ...(loopback ? { loopback } : {}) }
}
const v6 = (cidr: string, what: string, loopback?: true): Range => {
  const [base, bits] = cidr.split("/")
  return { family: 6, base: parseIPv6(base)!, bits: Number(bits), what, ...(loopback ? { loopback } : {}) }
}

/** Addresses a webhook may never be: inside the network, on the host, or the metadata server. */
const REFUSED_RANGES: ReadonlyArray<Range> = [
  v4("0.0.0.0/8", "the unspecified address"),
  v4("10.0.0.0/8", "a private address"),
  v4("100.64.0.0/10", "a carrier-grade NAT (shared) address"),
  v4("127.0.0.0/8", "a loopback address", true),
  v4("169.254.0.0/16", "a link-local address (the cloud metadata server is 169.254.169.254)"),
  v4("172.16.0.0/12", "a private address"),
  v4("192.168.0.0/16", "a private address"),
  v4("224.0.0.0/4", "a multicast address"),
  v4("240.0.0.0/4", "a reserved address"),
  v6("::/128", "the unspecified address"),
  v6("::1/128", "a loopback address", true),
  v6("fc00::/7", "a private (unique local) address"),
  v6("fe80::/10", "a link-local address"),
  v6("ff00::/8", "a multicast address")
]

/** IPv6 forms that carry an IPv4 address: IPv4-mapped `::ffff:a.b.c.d` and NAT64 `64:ff9b::a.b.c.d`. */
const EMBEDDING_V4: ReadonlyArray<Range> = [v6("::ffff:0:0/96", "IPv4-mapped"), v6("64:ff9b::/96", "NAT64")]

const inRange = (value: bigint, range: Range) => {
  const width = range.family === 4 ? 32 : 128
  const shift = BigInt(width - range.bits)
  return value >> shift === range.base >> shift
}

/** The refused range `address` (an IP literal) falls in, if any. */
const refusedRangeOf = (address: string): Range | undefined => {
  const four = parseIPv4(address)
  if (four !== undefined) return REFUSED_RANGES.find((r) => r.family === 4 && inRange(four, r))
  const six = parseIPv6(address)
  if (six === undefined) return undefined
  if (EMBEDDING_V4.some((r) => inRange(six, r))) {
    const embedded = six & 0xffffffffn
    return REFUSED_RANGES.find((r) => r.family === 4 && inRange(embedded, r))
  }
  return REFUSED_RANGES.find((r) => r.family === 6 && inRange(six, r))
}

/** What `address` is when a webhook may not be there ("a private address"), or undefined when it may. */
export const refusedAddress = (address: string, options: WebhookDestinationOptions = {}): string | undefined => {
  const range = refusedRangeOf(address)
  return range === undefined || (range.loopback === true && allowsLoopback(options)) ? undefined : range.what
}

const PUBLIC_ONLY = "a webhook must be a public address"

/** Names that are the host itself or the metadata server, whatever DNS says. */
const INTERNAL_NAMES = /^(localhost|metadata|metadata\.google\.internal|metadata\.goog)\.?$|\.localhost\.?$|\.internal\.?$/i

/** The URL's host name without IPv6 brackets. */
export const hostnameOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, "$1")

/** What is wrong with `url` as a webhook without resolving it (the scheme, an IP literal, an internal name), if anything. */
export const staticProblem = (url: URL, options: WebhookDestinationOptions = {}): string | undefined => {
  if (url.protocol !== "https:" && !(url.protocol === "http:" && allowsLoopback(options))) {
    return `expected an https URL, not ${url.protocol} (alerts carry run details, and the URL's path is a secret)`
  }
  const hostname = hostnameOf(url)
  if (hostname === "") return "the URL has no host"
  if (net.isIP(hostname) !== 0) {
    const refused = refusedAddress(hostname, options)
    return refused === undefined ? undefined : `${hostname} is ${refused}; ${PUBLIC_ONLY}`
  }
  if (INTERNAL_NAMES.test(hostname) && !(allowsLoopback(options) && /^localhost\.?$/i.test(hostname))) {
    return `${hostname} is an internal name (the host itself or the cloud metadata server); ${PUBLIC_ONLY}`
  }
  return undefined
}

/**
 * The address to connect to for `url`: judged, with every other address the name has. Fails with
 * `UnsafeWebhookDestination` when the URL or any of its addresses is refused.
 */
export const resolveDestination = async (
  url: URL,
  options: WebhookDestinationOptions = {}
): Promise<ResolvedAddress | UnsafeWebhookDestination> => {
  const host = url.host
  const problem = staticProblem(url, options)
  if (problem !== undefined) return new UnsafeWebhookDestination({ host, address: null, problem })
  const hostname = hostnameOf(url)
  const family = net.isIP(hostname)
  if (family !== 0) return { address: hostname, family: family === 6 ? 6 : 4 }
  const addresses = await (options.resolve ?? systemResolver)(hostname)
  if (addresses.length === 0) {
    return new UnsafeWebhookDestination({ host, address: null, problem: `${hostname} has no address` })
  }
  for (const { address } of addresses) {
    const refused = refusedAddress(address, options)
    // One internal address is enough to refuse: the connection could be steered to it.
    if (refused !== undefined) {
      return new UnsafeWebhookDestination({ host, address, problem: `${hostname} resolves to ${address}, ${refused}; ${PUBLIC_ONLY}` })
    }
  }
  return addresses[0]
}

/** A `lookup` for `http.request` that answers the address already judged, so the connection goes exactly there. */
export const pinnedLookup = (pinned: ResolvedAddress): net.LookupFunction => (_hostname, options, callback) => {
  if (options.all === true) callback(null, [{ address: pinned.address, family: pinned.family }])
  else callback(null, pinned.address, pinned.family)
}
