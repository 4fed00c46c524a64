/**
 * All sources of relationships, folded into the document's one list: curated > declared > dbt >
 * query log > inferred. A relationship a more trusted source states is kept once, from that source.
 * An inferred candidate for a column some trusted source already links elsewhere is dropped: the
 * people or the keys said where that column points.
 */
import { mergeRelationships, type Relationship, SOURCE_RANK } from "../../contract/Relationship.ts"

export interface RelationshipSources {
  readonly curated?: ReadonlyArray<Relationship>
  readonly declared?: ReadonlyArray<Relationship>
  readonly dbt?: ReadonlyArray<Relationship>
  readonly queryLog?: ReadonlyArray<Relationship>
  readonly inferred?: ReadonlyArray<Relationship>
}

const columnsKey = (end: Relationship["from"]) => `${end.table_id}(${end.columns.join(",")})`

export const combineRelationships = (sources: RelationshipSources): Array<Relationship> => {
  const trusted = [...(sources.curated ?? []), ...(sources.declared ?? []), ...(sources.dbt ?? [])]
  const pointed = new Map(trusted.map((r) => [columnsKey(r.from), r]))
  const guessed = [...(sources.queryLog ?? []), ...(sources.inferred ?? [])].filter((r) => {
    const known = pointed.get(columnsKey(r.from))
    return known === undefined || (known.to.table_id === r.to.table_id && columnsKey(known.to) === columnsKey(r.to)) ||
      SOURCE_RANK[r.source] < SOURCE_RANK[known.source]
  })
  return mergeRelationships([...trusted, ...guessed])
}
