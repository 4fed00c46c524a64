/**
 * The per-request fault script the local servers share: faults queued with a predicate on the
 * recorded request, each used for its next `times` matching requests.
 */

export interface FaultScript<Fault, When> {
  /** Queues `fault` for the next `times` requests matching `when` (every request by default). */
  readonly inject: (fault: Fault, when?: When, times?: number) => void
  /** Faults queued and not yet used. */
  readonly pending: () => number
  readonly clear: () => void
}

export interface FaultQueue<Fault, When, Request> {
  readonly script: FaultScript<Fault, When>
  /** The fault for this request, if one is queued for it (using one of its `times`). */
  readonly next: (request: Request) => Fault | undefined
}

export const makeFaultQueue = <Fault, When, Request>(
  matches: (when: When, request: Request) => boolean,
  everything: When
): FaultQueue<Fault, When, Request> => {
  const queued: Array<{ readonly fault: Fault; readonly when: When; times: number }> = []
  return {
    script: {
      inject: (fault, when = everything, times = 1) => void queued.push({ fault, when, times }),
      pending: () => queued.reduce((sum, entry) => sum + entry.times, 0),
      clear: () => void queued.splice(0)
    },
    next: (request) => {
      const index = queued.findIndex((entry) => matches(entry.when, request))
      if (index === -1) return undefined
      const entry = queued[index]
      if (--entry.times <= 0) queued.splice(index, 1)
      return entry.fault
    }
  }
}
