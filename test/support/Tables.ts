/** Table metadata as the BigQuery layers give it, for tests that arrange a warehouse. */
import * as DateTime from "effect/DateTime"
import { TableId } from "../../src/contract/TableId.ts"
import type { TableMetadata } from "../../src/services/BigQuery/TableResource.ts"

/** A plain table: `[name, type, description?]` per column (NULLABLE), last modified 2026-11-01; `extra` overrides. */
export const tableMetadata = (
  id: string,
  columns: ReadonlyArray<readonly [string, string, string?]>,
  extra: Partial<TableMetadata> = {}
): TableMetadata => ({
  table_id: TableId.make(id),
  kind: "TABLE",
  description: null,
  last_updated: DateTime.unsafeMake("2026-11-01T00:00:00Z"),
  created: null,
  row_count: null,
  size_bytes: null,
  labels: {},
  partitioning: null,
  clustering: [],
  view_query: null,
  columns: columns.map(([name, type, description]) => ({ name, type, mode: "NULLABLE", description: description ?? null })),
  ...extra
})
