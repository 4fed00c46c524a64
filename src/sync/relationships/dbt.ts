/**
 * dbt relationships: the `relationships` tests of a dbt project's `manifest.json` (written by
 * `dbt compile`/`dbt build` into `target/`), each a foreign key the project tests on every run.
 * `unique` tests tell the cardinality: a tested-unique child column makes the relationship
 * one-to-one. Models and sources are named by the relation they build
 * (`database.schema.alias`, which on BigQuery is `project.dataset.table`).
 *
 * The manifest is read loosely (only the fields used here), so manifests of any dbt version from
 * 1.0 on are understood; what cannot be resolved (a ref to a disabled model, an expression as
 * the column) is skipped and counted.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as fs from "node:fs/promises"
import type { Relationship } from "../../contract/Relationship.ts"
import { parseTableRef } from "../../contract/TableId.ts"
import { StorageService } from "../../services/Storage/StorageService.ts"

type Json = Record<string, unknown>

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)
const str = (u: unknown): string | undefined => (typeof u === "string" && u !== "" ? u : undefined)

/** The `project.dataset.table` a model, seed, snapshot or source builds, when it names one. */
const relationOf = (node: Json): string | undefined => {
  const database = str(node.database)
  const schema = str(node.schema)
  const name = str(node.alias) ?? str(node.identifier) ?? str(node.name)
  if (database === undefined || schema === undefined || name === undefined) return undefined
  const id = `${database}.${schema}.${name}`
  return Either.isRight(parseTableRef(id)) ? id : undefined
}

/** `ref('customers')`, `ref('pkg', 'customers')`, `source('raw', 'orders')` → the node it names. */
const REF = /\bref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?(?:,\s*v(?:ersion)?\s*=\s*[^)]*)?\)/
const SOURCE = /\bsource\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/

export interface DbtRelationships {
  readonly relationships: ReadonlyArray<Relationship>
  /** Tests that could not be resolved to two tables and two columns. */
  readonly skipped: number
}

const unquote = (column: string) => column.replace(/^[`"]|[`"]$/g, "")

/** The relationships a parsed manifest tests. */
export const relationshipsFromManifest = (manifest: unknown, file = "manifest.json"): DbtRelationships => {
  if (!isObject(manifest)) return { relationships: [], skipped: 0 }
  const nodes = isObject(manifest.nodes) ? manifest.nodes : {}
  const sources = isObject(manifest.sources) ? manifest.sources : {}
  const byName = new Map<string, Json>()
  const bySource = new Map<string, Json>()
  for (const node of Object.values(nodes)) {
    if (!isObject(node) || node.resource_type === "test") continue
    const name = str(node.name)
    if (name !== undefined) {
      byName.set(name, node)
      const pkg = str(node.package_name)
      if (pkg !== undefined) byName.set(`${pkg}.${name}`, node)
    }
  }
  for (const source of Object.values(sources)) {
    if (isObject(source)) bySource.set(`${str(source.source_name)}.${str(source.name)}`, source)
  }
  const resolve = (expression: unknown): Json | undefined => {
    const text = str(expression)
    if (text === undefined) return undefined
    const ref = REF.exec(text)
    if (ref !== null) return ref[2] === undefined ? byName.get(ref[1]!) : byName.get(`${ref[1]}.${ref[2]}`) ?? byName.get(ref[2])
    const source = SOURCE.exec(text)
    return source === null ? undefined : bySource.get(`${source[1]}.${source[2]}`)
  }
  const attached = (test: Json): Json | undefined => {
    const id = str(test.attached_node)
    if (id !== undefined && isObject(nodes[id])) return nodes[id] as Json
    const meta = isObject(test.test_metadata) ? test.test_metadata : {}
    const kwargs = isObject(meta.kwargs) ? meta.kwargs : {}
    return resolve(kwargs.model)
  }

  const tests = Object.values(nodes).filter((n): n is Json => isObject(n) && n.resource_type === "test" && isObject(n.test_metadata))
  const unique = new Set<string>()
  for (const test of tests) {
    const meta = test.test_metadata as Json
    if (meta.name !== "unique") continue
    const node = attached(test)
    const kwargs = isObject(meta.kwargs) ? meta.kwargs : {}
    const column = str(kwargs.column_name) ?? str(test.column_name)
    const table = node === undefined ? undefined : relationOf(node)
    if (table !== undefined && column !== undefined) unique.add(`${table}.${unquote(column)}`.toLowerCase())
  }

  const relationships: Array<Relationship> = []
  let skipped = 0
  for (const test of tests) {
    const meta = test.test_metadata as Json
    if (meta.name !== "relationships") continue
    const kwargs = isObject(meta.kwargs) ? meta.kwargs : {}
    const child = attached(test)
    const parent = resolve(kwargs.to)
    const childTable = child === undefined ? undefined : relationOf(child)
    const parentTable = parent === undefined ? undefined : relationOf(parent)
    const column = str(kwargs.column_name) ?? str(test.column_name)
    const field = str(kwargs.field)
    if (childTable === undefined || parentTable === undefined || column === undefined || field === undefined) {
      skipped++
      continue
    }
    const [from, to] = [unquote(column), unquote(field)]
    relationships.push({
      from: { table_id: childTable as Relationship["from"]["table_id"], columns: [from] },
      to: { table_id: parentTable as Relationship["to"]["table_id"], columns: [to] },
      source: "dbt",
      confidence: 1,
      evidence: `dbt test ${str(test.name) ?? "relationships"} (${file})`,
      cardinality: unique.has(`${childTable}.${from}`.toLowerCase()) ? "one-to-one" : "many-to-one"
    })
  }
  return { relationships, skipped }
}

/** A manifest that could not be read or parsed: logged, never a failed sync. */
export interface DbtProblem {
  readonly file: string
  readonly message: string
}

/** Reads `location` (a path, or `gs://<bucket>/<object>` read through the storage service). */
export const loadDbtManifest = (
  location: string
): Effect.Effect<Either.Either<DbtRelationships, DbtProblem>, never, StorageService> =>
  Effect.gen(function*() {
    let text: string
    if (location.startsWith("gs://")) {
      const object = location.slice("gs://".length).split("/").slice(1).join("/")
      const storage = yield* StorageService
      const read = yield* Effect.either(storage.read(object))
      if (Either.isLeft(read)) return Either.left({ file: location, message: read.left.message })
      if (Option.isNone(read.right)) return Either.left({ file: location, message: "no such object" })
      text = new TextDecoder().decode(read.right.value.bytes)
    } else {
      const read = yield* Effect.either(Effect.tryPromise(() => fs.readFile(location, "utf8")))
      if (Either.isLeft(read)) return Either.left({ file: location, message: String(read.left.error) })
      text = read.right
    }
    try {
      return Either.right(relationshipsFromManifest(JSON.parse(text), location))
    } catch (cause) {
      return Either.left({ file: location, message: `not JSON: ${String(cause)}` })
    }
  })
