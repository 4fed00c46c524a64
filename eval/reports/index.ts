/** Every report `npm run eval` writes, in order; a new measure is a new module added here. */
import type { Report } from "./Report.ts"
import { examplesReport } from "./examples.ts"
import { joinContextReport } from "./joinContext.ts"
import { promptContextReport } from "./promptContext.ts"
import { relationshipsReport } from "./relationships.ts"
import { splitContextReport } from "./splitContext.ts"

export const REPORTS: ReadonlyArray<Report> = [relationshipsReport, joinContextReport, promptContextReport, splitContextReport, examplesReport]
