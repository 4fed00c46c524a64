/**
 * Bundles the entry points into dist/ with esbuild (the package's type declarations come from
 * `tsc -p tsconfig.build.json`, run after this by `npm run build`): effect is tree-shaken into each bundle (the
 * function starts several times faster than through Node's loader), while the Google clients
 * and functions-framework stay external, installed from package.json as on Cloud Functions.
 */
import { build } from "esbuild"

const external = [
  "@google-cloud/*",
  "google-auth-library",
  "node-sql-parser"
]

await build({
  entryPoints: {
    function: "src/entry/function.ts",
    cli: "src/entry/cli.ts",
    loader: "src/loader/index.ts",
    contract: "src/contract/index.ts"
  },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  external,
  minifySyntax: true,
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  // Bundled CommonJS dependencies call require(); give ESM output one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning"
})
console.error("built dist/function.js, dist/cli.js, dist/loader.js, dist/contract.js (types: tsc -p tsconfig.build.json)")
