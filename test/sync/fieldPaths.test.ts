import { describe, expect, it } from "@effect/vitest"
import type { Field } from "../../src/contract/Field.ts"
import { elementAlias, fieldPathEntries } from "../../src/sync/fieldPaths.ts"
import { ga4Table } from "../support/TestLayers.ts"

const byPath = (columns: ReadonlyArray<Field>) => new Map(fieldPathEntries(columns).map((e) => [e.path, e]))

describe("field paths", () => {
  it("reaches GA4's repeated records through UNNEST", () => {
    const paths = byPath(ga4Table().columns)
    expect(paths.get("event_params.value.string_value")).toMatchObject({
      unnest: ["event_params"],
      joins: ["CROSS JOIN UNNEST(event_params) AS event_param"],
      expression: "event_param.value.string_value"
    })
    expect(paths.get("items.item_name")).toMatchObject({
      unnest: ["items"],
      joins: ["CROSS JOIN UNNEST(items) AS item"],
      expression: "item.item_name"
    })
    expect(paths.get("user_properties.value.int_value")?.joins).toEqual([
      "CROSS JOIN UNNEST(user_properties) AS user_property"
    ])
    expect(paths.get("device.category")).toMatchObject({ unnest: [], joins: [], expression: "device.category" })
    expect(paths.get("event_name")).toMatchObject({ unnest: [], joins: [], expression: "event_name" })
  })

  it("chains nested repeated fields and quotes what needs quoting", () => {
    const columns: ReadonlyArray<Field> = [
      { name: "item", type: "STRING", mode: "NULLABLE", description: null },
      {
        name: "items",
        type: "RECORD",
        mode: "REPEATED",
        description: null,
        fields: [{
          name: "order",
          type: "RECORD",
          mode: "REPEATED",
          description: null,
          fields: [{ name: "매출 금액", type: "NUMERIC", mode: "NULLABLE", description: "amount" }]
        }]
      },
      { name: "tags", type: "STRING", mode: "REPEATED", description: null }
    ]
    const paths = byPath(columns)
    expect(paths.get("items.order.매출 금액")).toEqual({
      path: "items.order.매출 금액",
      unnest: ["items", "items.order"],
      // `item` is a column already, so the alias for `items` steps aside.
      joins: ["CROSS JOIN UNNEST(items) AS item_2", "CROSS JOIN UNNEST(item_2.`order`) AS order_item"],
      expression: "order_item.`매출 금액`"
    })
    expect(paths.get("tags")).toMatchObject({ joins: ["CROSS JOIN UNNEST(tags) AS tag"], expression: "tag" })
  })

  it("names element aliases readably", () => {
    expect(["event_params", "items", "user_properties", "class", "data"].map(elementAlias)).toEqual([
      "event_param",
      "item",
      "user_property",
      "class_item",
      "data_item"
    ])
  })
})
