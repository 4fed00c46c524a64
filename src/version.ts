/** MetaSync's own name and version, recorded in every document it writes. */
import pkg from "../package.json" with { type: "json" }

export const GENERATOR = { name: "metasync", version: pkg.version } as const
