import { describe, expect, it } from "@effect/vitest"
import { countFields, type Field, flattenFields } from "../../src/contract/Field.ts"
import { elementAlias, fieldPathEntries } from "../../src/sync/fieldPaths.ts"

const byPath = (columns: ReadonlyArray<Field>) => new Map(fieldPathEntries(columns).map((e) => [e.path, e]))

const scalar = (name: string, type = "STRING", mode: Field["mode"] = "NULLABLE", description: string | null = null): Field => ({
  name,
  type,
  mode,
  description
})
const record = (name: string, mode: Field["mode"], fields: ReadonlyArray<Field>): Field => ({
  name,
  type: "RECORD",
  mode,
  description: null,
  fields
})

/** GA4's export shape, written out by hand (a subset): repeated key/value records and plain records. */
const GA4_COLUMNS: ReadonlyArray<Field> = [
  scalar("event_name"),
  record("event_params", "REPEATED", [
    scalar("key"),
    record("value", "NULLABLE", [scalar("string_value"), scalar("int_value", "INTEGER")])
  ]),
  record("user_properties", "REPEATED", [
    scalar("key"),
    record("value", "NULLABLE", [scalar("int_value", "INTEGER")])
  ]),
  record("device", "NULLABLE", [scalar("category", "STRING", "NULLABLE", "desktop, mobile or tablet")]),
  record("items", "REPEATED", [scalar("item_name")])
]

describe("flattenFields", () => {
  it("lists every field depth first in BigQuery's order, with its path, depth and repeated ancestors", () => {
    const columns: ReadonlyArray<Field> = [
      scalar("id", "INTEGER", "REQUIRED"),
      record("orders", "REPEATED", [
        scalar("sku", "STRING", "NULLABLE", "item code"),
        record("lines", "REPEATED", [scalar("qty", "INTEGER")])
      ]),
      scalar("tags", "STRING", "REPEATED")
    ]
    expect(flattenFields(columns)).toEqual([
      { path: "id", segments: ["id"], type: "INTEGER", mode: "REQUIRED", description: null, repeated: [], depth: 0 },
      { path: "orders", segments: ["orders"], type: "RECORD", mode: "REPEATED", description: null, repeated: ["orders"], depth: 0 },
      {
        path: "orders.sku",
        segments: ["orders", "sku"],
        type: "STRING",
        mode: "NULLABLE",
        description: "item code",
        repeated: ["orders"],
        depth: 1
      },
      {
        path: "orders.lines",
        segments: ["orders", "lines"],
        type: "RECORD",
        mode: "REPEATED",
        description: null,
        repeated: ["orders", "orders.lines"],
        depth: 1
      },
      {
        path: "orders.lines.qty",
        segments: ["orders", "lines", "qty"],
        type: "INTEGER",
        mode: "NULLABLE",
        description: null,
        repeated: ["orders", "orders.lines"],
        depth: 2
      },
      { path: "tags", segments: ["tags"], type: "STRING", mode: "REPEATED", description: null, repeated: ["tags"], depth: 0 }
    ])
    expect(countFields(columns)).toBe(6)
  })

  it("keeps names with dots and spaces as single segments", () => {
    const paths = flattenFields([record("a.b", "NULLABLE", [scalar("매출 금액")])])
    expect(paths.map((p) => p.segments)).toEqual([["a.b"], ["a.b", "매출 금액"]])
  })
})

describe("field paths", () => {
  it("reaches GA4's repeated records through UNNEST", () => {
    expect(fieldPathEntries(GA4_COLUMNS).map((e) => e.path)).toEqual([
      "event_name",
      "event_params",
      "event_params.key",
      "event_params.value",
      "event_params.value.string_value",
      "event_params.value.int_value",
      "user_properties",
      "user_properties.key",
      "user_properties.value",
      "user_properties.value.int_value",
      "device",
      "device.category",
      "items",
      "items.item_name"
    ])
    const paths = byPath(GA4_COLUMNS)
    expect(paths.get("event_params.value.string_value")).toEqual({
      path: "event_params.value.string_value",
      unnest: ["event_params"],
      joins: ["CROSS JOIN UNNEST(event_params) AS event_param"],
      expression: "event_param.value.string_value"
    })
    expect(paths.get("items.item_name")).toEqual({
      path: "items.item_name",
      unnest: ["items"],
      joins: ["CROSS JOIN UNNEST(items) AS item"],
      expression: "item.item_name"
    })
    expect(paths.get("user_properties.value.int_value")).toEqual({
      path: "user_properties.value.int_value",
      unnest: ["user_properties"],
      joins: ["CROSS JOIN UNNEST(user_properties) AS user_property"],
      expression: "user_property.value.int_value"
    })
    expect(paths.get("event_params")).toEqual({
      path: "event_params",
      unnest: ["event_params"],
      joins: ["CROSS JOIN UNNEST(event_params) AS event_param"],
      expression: "event_param"
    })
    expect(paths.get("device.category")).toEqual({ path: "device.category", unnest: [], joins: [], expression: "device.category" })
    expect(paths.get("event_name")).toEqual({ path: "event_name", unnest: [], joins: [], expression: "event_name" })
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
