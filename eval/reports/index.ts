/** Every report `npm run eval` writes, in order; a new measure is a new module added here. */
import type { Report } from "./Report.ts"
import { joinContextReport } from "./joinContext.ts"
import { promptContextReport } from "./promptContext.ts"
import { relationshipsReport } from "./relationships.ts"

export const REPORTS: ReadonlyArray<Report> = [relationshipsReport, joinContextReport, promptContextReport]
