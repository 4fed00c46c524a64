/** Writes schema/cache-document.schema.json from the codecs (`npm run schema`). */
import { writeFileSync } from "node:fs"
import { renderJsonSchema } from "../src/contract/jsonSchema.ts"

writeFileSync(new URL("../schema/cache-document.schema.json", import.meta.url), renderJsonSchema())
console.log("wrote schema/cache-document.schema.json")
