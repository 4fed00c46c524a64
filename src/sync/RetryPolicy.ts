/**
 * The one retry policy for remote calls. The Google clients' own retries are switched off in the
 * live layers, so the attempts counted here are the requests a server sees.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { count } from "../services/RunCounters.ts"
import { isTransient, RemoteTimeout, RemoteUnavailable, type TransientError } from "../services/RemoteErrors.ts"

export interface RetrySettings {
  /** Attempts per call, the first included. */
  readonly retryAttempts: number
  /** No retry starts after this much time has passed since the first attempt. */
  readonly retryBudget: Duration.Duration
}

/** The first retry waits about this long; each further one twice as long (with jitter). */
export const RETRY_BASE_DELAY = Duration.millis(500)

/**
 * Exponential backoff with jitter, bounded by attempts and by total time: a retry is only started
 * if it starts (its backoff delay over) at most `retryBudget` after `firstAttemptAt`, the time in
 * milliseconds (Clock) at which the call's first attempt started.
 */
export const remoteCallSchedule = (settings: RetrySettings, firstAttemptAt: number) =>
  Schedule.exponential(RETRY_BASE_DELAY, 2).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(Math.max(0, settings.retryAttempts - 1))),
    // The delay the retry would wait (jitter included), checked against the budget before it waits.
    Schedule.delays,
    Schedule.checkEffect((_, delay) =>
      Effect.map(
        Clock.currentTimeMillis,
        (now) => now + Duration.toMillis(delay) <= firstAttemptAt + Duration.toMillis(settings.retryBudget)
      )
    )
  )

const withAttempts = (error: TransientError, attempts: number): TransientError =>
  error._tag === "RemoteUnavailable"
    ? new RemoteUnavailable({
      service: error.service,
      operation: error.operation,
      resource: error.resource,
      status: error.status,
      reason: error.reason,
      message: error.message,
      attempts
    })
    : new RemoteTimeout({
      service: error.service,
      operation: error.operation,
      resource: error.resource,
      timeout_ms: error.timeout_ms,
      attempts
    })

/**
 * Retries `call` on transient failures (`RemoteUnavailable`, `RemoteTimeout`) under the policy;
 * permanent failures pass through at once. A transient failure that outlasts the policy reports
 * how many attempts were made.
 */
export const retryRemote = (settings: RetrySettings) =>
<A, E extends { readonly _tag: string }, R>(call: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  // The first attempt starts now: the budget counts from here.
  Effect.flatMap(Clock.currentTimeMillis, (firstAttemptAt) => {
    let attempts = 0
    return Effect.suspend(() => {
      attempts += 1
      const retry = attempts > 1
      return count((c) => {
        c.calls += 1
        if (retry) c.retries += 1
      })
    }).pipe(
      Effect.zipRight(call),
      Effect.tapError((error) =>
        isTransient(error)
          ? Effect.logWarning(`${error.service} ${error.operation} failed (attempt ${attempts}): ${error.message}`).pipe(
            Effect.annotateLogs({ resource: error.resource, tag: error._tag })
          )
          : Effect.void
      ),
      Effect.retry({ schedule: remoteCallSchedule(settings, firstAttemptAt), while: isTransient }),
      Effect.mapError((error) => (isTransient(error) ? (withAttempts(error, attempts) as unknown as E) : error))
    )
  })
