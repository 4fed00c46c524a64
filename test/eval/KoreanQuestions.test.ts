import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { parseCsv } from "../../eval/csv.ts"
import { DEV_SET_DIR } from "../../eval/devSet.ts"

const HANGUL = /[\uAC00-\uD7A3]/u

const csvFiles = (dir: string) => readdirSync(`${DEV_SET_DIR}/${dir}`).filter((f) => f.endsWith(".csv")).sort()
const read = (dir: string, file: string) => parseCsv(readFileSync(`${DEV_SET_DIR}/${dir}/${file}`, "utf8"))

describe("the Korean dev questions", () => {
  it("come in the same files as the English ones", () => {
    expect(csvFiles("questions-ko")).toEqual(csvFiles("questions"))
  })

  it("translate every English question exactly once, and nothing else", () => {
    let total = 0
    for (const file of csvFiles("questions")) {
      const english = read("questions", file)
      const korean = read("questions-ko", file)
      const rows = korean.map((k) => Number(k.row))
      expect(rows, file).toEqual(english.map((_, i) => i))
      korean.forEach((k, i) => {
        const en = english[i]!
        expect(k.db_name, `${file} row ${i}`).toBe(en.db_name)
        expect(k.question, `${file} row ${i}`).toMatch(HANGUL)
        expect(k.question, `${file} row ${i} is not the English text`).not.toBe(en.question)
        const hasInstructions = (en.instructions ?? "") !== ""
        expect((k.instructions ?? "") !== "", `${file} row ${i} instructions`).toBe(hasInstructions)
        if (hasInstructions) expect(k.instructions, `${file} row ${i}`).toMatch(HANGUL)
      })
      total += korean.length
    }
    expect(total).toBe(147)
  })
})
