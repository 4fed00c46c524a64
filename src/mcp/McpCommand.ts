/**
 * `metasync mcp`: the read-only MCP server over the published document, on stdio by default or on
 * Streamable HTTP with `--http`. It needs read access to the document only (a local directory or
 * file, or `gs://bucket/object` with `roles/storage.objectViewer`), never BigQuery.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as path from "node:path"
import { CacheLoader, DEFAULT_OBJECT_NAME } from "../loader/CacheLoader.ts"
import { type CacheLocation, cacheLoaderLayer, CacheLocationConfig } from "../loader/index.ts"
import { runtimeLogger } from "../entry/logging.ts"
import { serveHttp, serveStdio } from "./McpTransports.ts"

/** Where the local mode publishes when nothing else is named. */
const DEFAULT_LOCAL_BUCKET = ".metasync/bucket"
const DEFAULT_PORT = 8080
const EXIT_USAGE = 2

/**
 * The document `source` names: `gs://bucket` or `gs://bucket/object`, a `.json` file, or a
 * directory laid out as the local mode's bucket (`<dir>/metadata_cache.json`).
 */
export const parseSource = (source: string): Either.Either<CacheLocation, string> => {
  if (source.startsWith("gs://")) {
    const rest = source.slice("gs://".length)
    const slash = rest.indexOf("/")
    const bucket = slash === -1 ? rest : rest.slice(0, slash)
    const objectName = slash === -1 || slash === rest.length - 1 ? DEFAULT_OBJECT_NAME : rest.slice(slash + 1)
    if (!/^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$/.test(bucket)) {
      return Either.left(`--source ${JSON.stringify(source)}: "${bucket}" is not a Cloud Storage bucket name`)
    }
    return Either.right({ bucket, objectName })
  }
  if (source.trim() === "") return Either.left("--source is empty: give a directory, a .json file or gs://bucket/object")
  if (source.endsWith(".json")) {
    return Either.right({ directory: path.dirname(source), objectName: path.basename(source) })
  }
  return Either.right({ directory: source })
}

const describe = (location: CacheLocation) =>
  "bucket" in location
    ? `gs://${location.bucket}/${location.objectName ?? DEFAULT_OBJECT_NAME}`
    : path.resolve(location.directory, location.objectName ?? DEFAULT_OBJECT_NAME)

const options = {
  source: Options.text("source").pipe(
    Options.optional,
    Options.withDescription(
      "The document: a directory (the local bucket), a .json file, or gs://bucket/object. Default: LOCAL_BUCKET_DIR or GCS_BUCKET (with CACHE_OBJECT), else .metasync/bucket"
    )
  ),
  http: Options.boolean("http").pipe(Options.withDescription("Serve Streamable HTTP instead of stdio")),
  host: Options.text("host").pipe(
    Options.withDefault("127.0.0.1"),
    Options.withDescription("HTTP: the address to bind (0.0.0.0 on Cloud Run)")
  ),
  port: Options.integer("port").pipe(
    Options.optional,
    Options.withDescription(`HTTP: the port (default PORT, else ${DEFAULT_PORT}; 0 picks a free one)`)
  ),
  refreshSeconds: Options.integer("refresh-seconds").pipe(
    Options.withDefault(3600),
    Options.withDescription("How long the document in memory is trusted before its generation is checked again")
  )
}

export const mcpCommand = Command.make("mcp", options, (opts) =>
  Effect.gen(function*() {
    const fromEnv = yield* Effect.option(CacheLocationConfig)
    const location = Option.match(opts.source, {
      onNone: () => Either.right(Option.getOrElse(fromEnv, (): CacheLocation => ({ directory: DEFAULT_LOCAL_BUCKET }))),
      onSome: parseSource
    })
    if (Either.isLeft(location)) {
      yield* Console.error(`metasync mcp: ${location.left}`)
      return yield* Effect.sync(() => {
        process.exitCode = EXIT_USAGE
      })
    }
    const port = Option.getOrElse(opts.port, () => Number(process.env.PORT ?? DEFAULT_PORT))
    if (opts.refreshSeconds < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
      yield* Console.error("metasync mcp: --port must be 0-65535 and --refresh-seconds at least 0")
      return yield* Effect.sync(() => {
        process.exitCode = EXIT_USAGE
      })
    }
    // Standard output carries the protocol on stdio; on Cloud Run, JSON lines for Cloud Logging.
    const logFormat = opts.http && process.env.K_SERVICE !== undefined ? "json" : "pretty"
    const layer = cacheLoaderLayer(location.right, { refreshInterval: `${opts.refreshSeconds} seconds` })
    yield* Effect.gen(function*() {
      const runtime = yield* Effect.runtime<CacheLoader>()
      const loader = yield* CacheLoader
      yield* Effect.logInfo(`MetaSync MCP server reading ${describe(location.right)}`)
      // Load once at start so the log says at once whether the document is there; serving does not wait.
      yield* Effect.forkScoped(
        Effect.flatMap(loader.getCacheMetadata, (m) =>
          m.available
            ? Effect.logInfo(`loaded generation ${m.generation} (${m.tableCount} tables, ${m.exampleCount} examples)`)
            : Effect.void)
      )
      yield* opts.http ? serveHttp(runtime, { host: opts.host, port }) : serveStdio(runtime)
    }).pipe(Effect.scoped, Effect.provide(layer.pipe(runtimeLogger(logFormat))))
  })).pipe(
    Command.withDescription(
      "Serve the published document to AI assistants over the Model Context Protocol (read-only; stdio, or --http)"
    )
  )
