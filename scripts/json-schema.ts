/** Writes schema/cache-document.schema.json and schema/cache-part.schema.json from the codecs (`npm run schema`). */
import { writeFileSync } from "node:fs"
import { renderJsonSchema, renderPartJsonSchema } from "../src/contract/jsonSchema.ts"

writeFileSync(new URL("../schema/cache-document.schema.json", import.meta.url), renderJsonSchema())
writeFileSync(new URL("../schema/cache-part.schema.json", import.meta.url), renderPartJsonSchema())
console.log("wrote schema/cache-document.schema.json and schema/cache-part.schema.json")
