/**
 * Cloud Storage through `@google-cloud/storage`, one bucket.
 *
 * - The client is imported when the layer is built, so modules that only name `StorageService`
 *   stay light.
 * - The client's own retries are off: the Effect retry policy owns retrying, and each call here
 *   makes exactly one HTTP request per attempt (a `read` makes two: metadata, then bytes).
 * - Every request has a deadline (`RemoteTimeout`): the client has none of its own. A request cut
 *   by it, or by an interruption, is cancelled (`RequestCancellation.ts`): its socket is closed.
 * - The `apiEndpoint` option, else `STORAGE_EMULATOR_HOST` (`http://host:port` or `host:port`, as
 *   for `BIGQUERY_EMULATOR_HOST`; JSON calls then go to `/b/...` as the client sends them to an
 *   emulator), points it at a local server; either one also turns authentication off (no
 *   credentials, no metadata server).
 */
import type { Bucket } from "@google-cloud/storage"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Readable } from "node:stream"
import { fromGoogleError, type RemoteCallContext } from "../GoogleErrors.ts"
import { cancelledOnAbort } from "../RequestCancellation.ts"
import { RemoteRejected, RemoteTimeout, RemoteUnavailable } from "../RemoteErrors.ts"
import { BODY_FAILED, type ObjectInfo, type Storage, type StorageError, StorageService } from "./StorageService.ts"

export interface GcsStorageOptions {
  readonly bucket: string
  /** E.g. `http://127.0.0.1:4443`. Without it, `STORAGE_EMULATOR_HOST` or Google's endpoint is used. */
  readonly apiEndpoint?: string | undefined
  /** The deadline of each request. */
  readonly timeout: Duration.DurationInput
}

/** The fields of a GCS object resource that MetaSync reads. */
const ObjectResource = Schema.Struct({
  name: Schema.String,
  generation: Schema.String,
  size: Schema.NumberFromString,
  contentType: Schema.optionalWith(Schema.String, { default: () => "application/octet-stream" }),
  updated: Schema.DateTimeUtc,
  md5Hash: Schema.optional(Schema.String)
})

const infoOf = ({ md5Hash, ...info }: typeof ObjectResource.Type): ObjectInfo =>
  md5Hash === undefined ? info : { ...info, md5: md5Hash }

const ObjectList = Schema.Struct({
  items: Schema.optionalWith(Schema.Array(ObjectResource), { default: () => [] }),
  nextPageToken: Schema.optional(Schema.String)
})

/**
 * Puts what the client threw into the shape `fromGoogleError` reads. Media downloads carry the
 * raw JSON error body as their message; a reply that is not JSON surfaces as a `SyntaxError`.
 */
const normalizeError = (error: unknown): unknown => {
  if (error instanceof SyntaxError) {
    return { message: `malformed response: ${error.message}`, errors: [{ reason: "malformedResponse" }] }
  }
  if (!(error instanceof Error) || !("code" in error) || typeof error.code !== "number") return error
  try {
    const body = JSON.parse(error.message) as { error?: { message?: unknown; errors?: unknown } }
    if (typeof body.error?.message !== "string") return error
    return { code: error.code, message: body.error.message, errors: body.error.errors }
  } catch {
    return error
  }
}

interface LocalEndpoint {
  /** Where uploads go (`/upload/storage/v1/...`) and what the client treats as its endpoint. */
  readonly apiEndpoint: string
  /** What the client prefixes to `/b/...` in JSON calls. */
  readonly baseUrl: string
}

const trimSlashes = (url: string) => url.replace(/\/+$/, "")
const hasScheme = (url: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(url)

/**
 * The client itself would use `STORAGE_EMULATOR_HOST` verbatim as its base URL, so a bare
 * `host:port` fails every call with `Invalid URL`; it is settled here, as for BigQuery.
 */
export const localEndpoint = (
  apiEndpoint: string | undefined,
  emulatorHost: string | undefined
): LocalEndpoint | undefined => {
  if (apiEndpoint !== undefined) {
    const url = trimSlashes(hasScheme(apiEndpoint) ? apiEndpoint : `https://${apiEndpoint}`)
    return { apiEndpoint: url, baseUrl: `${url}/storage/v1` }
  }
  if (emulatorHost !== undefined) {
    const url = trimSlashes(hasScheme(emulatorHost) ? emulatorHost : `http://${emulatorHost}`)
    return { apiEndpoint: url, baseUrl: url }
  }
  return undefined
}

const make = (options: GcsStorageOptions): Effect.Effect<Storage> =>
  Effect.gen(function*() {
    const emulatorHost = yield* Config.option(Config.string("STORAGE_EMULATOR_HOST")).pipe(
      Effect.map(Option.filter((host) => host.trim() !== "")),
      Effect.orDie
    )
    const endpoint = localEndpoint(options.apiEndpoint, Option.getOrUndefined(Option.map(emulatorHost, (h) => h.trim())))
    const { Storage: Client } = yield* Effect.promise(() => import("@google-cloud/storage"))
    const client = new Client({
      retryOptions: { autoRetry: false },
      ...(endpoint === undefined ? {} : { apiEndpoint: endpoint.apiEndpoint })
    })
    // The constructor takes the base URL from the raw environment variable when there is one.
    if (endpoint !== undefined) client.baseUrl = endpoint.baseUrl
    const bucket: Bucket = client.bucket(options.bucket)
    const timeout = Duration.decode(options.timeout)

    const locate = (name: string) => `gs://${options.bucket}/${name}`

    const contextOf = (operation: string, name: string): RemoteCallContext => ({
      service: "storage",
      operation,
      resource: locate(name)
    })

    /** One request, its failure mapped by `toError`, bounded by the deadline and cancelled when cut. */
    const call = <A, E>(
      operation: string,
      name: string,
      run: () => Promise<A>,
      toError: (context: RemoteCallContext, error: unknown) => E
    ) => {
      const context = contextOf(operation, name)
      return Effect.tryPromise({
        // A call that fails also ends the requests it made: an upload whose body failed would
        // otherwise stay open, half sent.
        try: (signal) => {
          const requests = new AbortController()
          const abort = () => requests.abort()
          signal.addEventListener("abort", abort, { once: true })
          return cancelledOnAbort(requests.signal, run).then(
            (value) => {
              signal.removeEventListener("abort", abort)
              return value
            },
            (error: unknown) => {
              signal.removeEventListener("abort", abort)
              abort()
              throw error
            }
          )
        },
        catch: (error) => toError(context, normalizeError(error))
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new RemoteTimeout({ ...context, timeout_ms: Duration.toMillis(timeout), attempts: 1 })
        }),
        Effect.withSpan(`GcsStorage.${operation}`, { attributes: { resource: context.resource } })
      )
    }

    /** A request without a generation precondition: it cannot fail with `PreconditionFailed`. */
    const request = <A>(operation: string, name: string, run: () => Promise<A>) =>
      call(operation, name, run, (context, error): StorageError => {
        const mapped = fromGoogleError(context, error)
        return mapped._tag === "PreconditionFailed"
          ? new RemoteRejected({ ...context, status: 412, reason: "conditionNotMet", message: mapped.message })
          : mapped
      })

    /** A write under `ifGenerationMatch`: a 412 is `PreconditionFailed`. */
    const conditionalRequest = <A>(operation: string, name: string, ifGenerationMatch: string, run: () => Promise<A>) =>
      call(operation, name, run, (context, error) => fromGoogleError(context, error, ifGenerationMatch))

    const decode = <A, I>(schema: Schema.Schema<A, I>, operation: string, name: string) => (reply: unknown) =>
      Schema.decodeUnknown(schema)(reply).pipe(
        Effect.mapError((error) =>
          new RemoteRejected({
            ...contextOf(operation, name),
            status: null,
            reason: "malformedResponse",
            message: `unexpected response: ${error.message}`
          })
        )
      )

    const decodeInfo = (operation: string, name: string) => (reply: unknown) =>
      Effect.map(decode(ObjectResource, operation, name)(reply), infoOf)

    const stat: Storage["stat"] = (name) =>
      request("objects.get", name, () => bucket.file(name).getMetadata().then(([metadata]) => metadata)).pipe(
        Effect.flatMap(decodeInfo("objects.get", name)),
        Effect.asSome,
        Effect.catchTag("ResourceNotFound", () => Effect.succeedNone)
      )

    const list = (
      prefix: string,
      pageToken: string | undefined
    ): Effect.Effect<ReadonlyArray<ObjectInfo>, StorageError> =>
      request(
        "objects.list",
        prefix,
        () =>
          bucket.getFiles({ prefix, autoPaginate: false, ...(pageToken === undefined ? {} : { pageToken }) })
            .then(([, , response]) => response)
      ).pipe(
        Effect.flatMap(decode(ObjectList, "objects.list", prefix)),
        Effect.flatMap(({ items, nextPageToken }) =>
          nextPageToken === undefined
            ? Effect.succeed(items.map(infoOf))
            : Effect.map(list(prefix, nextPageToken), (rest) => [...items.map(infoOf), ...rest])
        )
      )

    return StorageService.of({
      locate,
      stat,
      // The bytes are downloaded pinned to the generation just read, so bytes and generation match.
      // If that generation is gone by then (replaced or deleted in between), the read is transient:
      // the retry policy reads again and sees the new state.
      read: (name) =>
        Effect.flatMap(stat(name), (found) => {
          if (Option.isNone(found)) return Effect.succeedNone
          const info = found.value
          return request(
            "objects.get",
            name,
            () => bucket.file(name, { generation: info.generation }).download({ validation: "crc32c" })
          ).pipe(
            Effect.catchTag("ResourceNotFound", (error) =>
              Effect.fail(
                new RemoteUnavailable({
                  ...contextOf("objects.get", name),
                  status: 404,
                  reason: "generationChanged",
                  message: `generation ${info.generation} changed while it was read: ${error.message}`,
                  attempts: 1
                })
              )),
            // A view of the downloaded Buffer, not a copy of it: a document is held once.
            Effect.map(([contents]) =>
              Option.some({ info, bytes: new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength) })
            )
          )
        }),
      // One multipart upload per attempt. A body in chunks is streamed into the request as it is
      // produced (each attempt produces it again); the client computes the CRC32C on the way and
      // checks it against the stored object's. If the body throws, the request is cut before its
      // end: Cloud Storage creates no object from an incomplete upload.
      write: (name, body, { contentType, ifGenerationMatch }) =>
        Effect.suspend(() => {
          const file = bucket.file(name)
          let bodyError: unknown = undefined
          const data = () => {
            if (body instanceof Uint8Array) return body
            const chunks = body()[Symbol.iterator]()
            return Readable.from(
              (function*() {
                for (;;) {
                  // Only a failure to produce the next chunk is the body's: an error of the request
                  // (a reset connection) reaches this generator too, thrown in at the `yield` by the
                  // stream's teardown, and stays the transport's, to be classified and retried as such.
                  let next: IteratorResult<Uint8Array>
                  try {
                    next = chunks.next()
                  } catch (error) {
                    bodyError = error
                    throw error
                  }
                  if (next.done === true) return
                  yield next.value
                }
              })()
            )
          }
          return conditionalRequest(
            "objects.insert",
            name,
            ifGenerationMatch,
            () =>
              file.save(data(), {
                resumable: false,
                contentType,
                validation: "crc32c",
                preconditionOpts: { ifGenerationMatch }
              }).then(() => file.metadata)
          ).pipe(
            Effect.mapError((error) =>
              bodyError === undefined ? error : new RemoteRejected({
                ...contextOf("objects.insert", name),
                status: null,
                reason: BODY_FAILED,
                message: `the object's bytes could not be produced: ${bodyError instanceof Error ? bodyError.message : String(bodyError)}`
              })
            ),
            Effect.flatMap(decodeInfo("objects.insert", name))
          )
        }),
      copy: (source, destination, { ifGenerationMatch }) =>
        conditionalRequest(
          "objects.rewrite",
          destination,
          ifGenerationMatch,
          () =>
            bucket.file(source).copy(bucket.file(destination), { preconditionOpts: { ifGenerationMatch } })
              // The copy's resource comes in the rewrite response; the returned File's metadata stays empty.
              .then(([, response]) => (response as { readonly resource?: unknown } | undefined)?.resource)
        ).pipe(Effect.flatMap(decodeInfo("objects.rewrite", destination))),
      list: (prefix) => list(prefix, undefined),
      remove: (name, { ifGenerationMatch }) =>
        conditionalRequest(
          "objects.delete",
          name,
          ifGenerationMatch,
          () => bucket.file(name).delete({ ifGenerationMatch })
        ).pipe(
          Effect.asVoid,
          Effect.catchTag("ResourceNotFound", () => Effect.void)
        )
    })
  })

export const GcsStorage = {
  /** The `Storage` over one bucket; the client is imported on first use. */
  make,
  /** `StorageService` over one bucket. */
  layer: (options: GcsStorageOptions): Layer.Layer<StorageService> => Layer.effect(StorageService, make(options))
} as const
