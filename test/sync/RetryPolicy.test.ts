/**
 * The one retry policy, on the TestClock: which failures are retried, how many attempts, when each
 * one starts, and that no retry starts after the time budget (counted from the first attempt).
 * Expected values are worked out by hand from the documented policy (exponential from 500 ms, ×2, jitter within ±20 %).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import {
  PermissionDenied,
  RemoteTimeout,
  RemoteUnavailable,
  ResourceNotFound
} from "../../src/services/RemoteErrors.ts"
import { countingRun } from "../../src/services/RunCounters.ts"
import { retryRemote, type RetrySettings } from "../../src/sync/RetryPolicy.ts"

const call = { service: "storage", operation: "objects.insert", resource: "gs://b/doc.json" } as const

const unavailable = new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 1 })
const timeout = new RemoteTimeout({ ...call, timeout_ms: 30000, attempts: 1 })
const notFound = new ResourceNotFound({ ...call, message: "No such object" })

const settings = (retryAttempts: number, budget: Duration.DurationInput = "2 minutes"): RetrySettings => ({
  retryAttempts,
  retryBudget: Duration.decode(budget)
})

/**
 * A remote call that fails with the scripted errors in turn, then succeeds with "ok"; it records
 * the TestClock time at which each attempt started.
 */
const scripted = <E>(failures: ReadonlyArray<E>) => {
  const startedAt: Array<number> = []
  const effect = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    startedAt.push(now)
    const failure = failures[startedAt.length - 1]
    return failure === undefined ? Effect.succeed("ok" as const) : Effect.fail(failure)
  })
  return { effect, startedAt }
}

/** A call that always fails with `error`. */
const failing = <E>(error: E) => {
  const startedAt: Array<number> = []
  const effect = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    startedAt.push(now)
    return Effect.fail(error)
  })
  return { effect, startedAt }
}

/**
 * Runs `effect` in the background and moves the TestClock on by 100 ms steps until it is done;
 * a call still retrying after 2 minutes of test time fails the test at once.
 */
const withTimePassing = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let step = 0; step < 1_200; step++) {
      if (Option.isSome(yield* Fiber.poll(fiber))) return yield* Fiber.await(fiber)
      yield* TestClock.adjust("100 millis")
    }
    yield* Fiber.interrupt(fiber)
    return yield* Effect.dieMessage("still retrying after 2 minutes of test time")
  })

describe("retryRemote", () => {
  it.effect("retries transient failures until the call succeeds", () =>
    Effect.gen(function*() {
      const remote = scripted([unavailable, timeout])
      const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(5))))
      expect(exit).toEqual(Exit.succeed("ok"))
      expect(remote.startedAt).toHaveLength(3)
    }))

  it.effect("spaces attempts exponentially from 500 ms, within the jitter", () =>
    Effect.gen(function*() {
      const remote = failing(unavailable)
      yield* withTimePassing(remote.effect.pipe(retryRemote(settings(4))))
      const [first, second, third, fourth] = remote.startedAt
      expect(remote.startedAt).toHaveLength(4)
      expect(first).toBe(0)
      // 500 ms, then 1 s, then 2 s, each ±20 %; the clock moves in 100 ms steps.
      expect(second - first).toBeGreaterThanOrEqual(400)
      expect(second - first).toBeLessThanOrEqual(700)
      expect(third - second).toBeGreaterThanOrEqual(800)
      expect(third - second).toBeLessThanOrEqual(1300)
      expect(fourth - third).toBeGreaterThanOrEqual(1600)
      expect(fourth - third).toBeLessThanOrEqual(2500)
    }))

  it.effect("gives up after RETRY_MAX_ATTEMPTS attempts, the first included, and says how many", () =>
    Effect.gen(function*() {
      const remote = failing(unavailable)
      const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(3))))
      expect(remote.startedAt).toHaveLength(3)
      expect(exit).toEqual(
        Exit.fail(new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 3 }))
      )
    }))

  it.effect("a timeout that outlasts the policy stays a timeout, with its deadline and the attempts", () =>
    Effect.gen(function*() {
      const remote = failing(timeout)
      const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(2))))
      expect(remote.startedAt).toHaveLength(2)
      expect(exit).toEqual(Exit.fail(new RemoteTimeout({ ...call, timeout_ms: 30000, attempts: 2 })))
      const error = Exit.isFailure(exit) ? Option.getOrThrow(Exit.causeOption(exit)) : undefined
      expect(String(error)).toContain("did not answer within 30000 ms (attempts: 2)")
    }))

  it.effect("one attempt, or none configured, means the call is made exactly once", () =>
    Effect.gen(function*() {
      for (const attempts of [1, 0]) {
        const remote = failing(unavailable)
        const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(attempts))))
        expect(remote.startedAt).toHaveLength(1)
        expect(exit).toEqual(
          Exit.fail(new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 1 }))
        )
      }
    }))

  it.effect("starts no retry that would start after the time budget, however many attempts are left", () =>
    Effect.gen(function*() {
      // Attempts start at 0, ~0.5 s (0.4–0.6) and ~1.5 s (1.2–1.8). The next retry would wait
      // ~2 s (1.6–2.4) and so start at 2.8–4.2 s, past the 2 s budget: it is not made. Three
      // attempts, not the hundred allowed, and none starts after the budget.
      const remote = failing(unavailable)
      const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(100, "2 seconds"))))
      expect(remote.startedAt).toHaveLength(3)
      expect(remote.startedAt.every((at) => at <= 2000)).toBe(true)
      expect(exit).toEqual(
        Exit.fail(new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 3 }))
      )
    }))

  it.effect("a retry whose delay ends inside the budget is made; the next, ending past it, is not", () =>
    Effect.gen(function*() {
      // 700 ms budget: the first retry waits 400–600 ms (inside), the second 800–1200 ms after
      // an attempt at 400 ms or later (past 700 ms).
      const remote = failing(unavailable)
      yield* withTimePassing(remote.effect.pipe(retryRemote(settings(100, "700 millis"))))
      expect(remote.startedAt).toHaveLength(2)
      expect(remote.startedAt[1]).toBeGreaterThanOrEqual(400)
      expect(remote.startedAt[1]).toBeLessThanOrEqual(700)
    }))

  it.effect("a retry that would start exactly when the budget ends is still made", () =>
    Effect.gen(function*() {
      // Jitter at its middle (random 0.5): the delays are exactly 500 ms, then 1 s. A 500 ms budget
      // lets the first retry start at 500 ms ("no retry starts *after*"), not the second (1.5 s).
      const remote = failing(unavailable)
      yield* withTimePassing(remote.effect.pipe(retryRemote(settings(100, "500 millis")), Effect.withRandom(Random.fixed([0.5]))))
      expect(remote.startedAt).toEqual([0, 500])
    }))

  it.effect("the budget counts from the first attempt's start, not from its failure", () =>
    Effect.gen(function*() {
      // The first attempt takes 1.8 s to fail; a retry would start at 2.2–2.4 s, past the 2 s
      // budget counted from 0. (Counted from the failure it would have been made.)
      const slow = failing(unavailable)
      const slowFirst = Effect.zipRight(Effect.sleep("1800 millis"), slow.effect)
      const exit = yield* withTimePassing(slowFirst.pipe(retryRemote(settings(100, "2 seconds"))))
      expect(slow.startedAt).toEqual([1800])
      expect(exit).toEqual(
        Exit.fail(new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 1 }))
      )
      // A first attempt that fails after 1 s leaves room for one retry (at 1.4–1.6 s); the next
      // would wait 0.8–1.2 s more and start past 2 s.
      const second = failing(unavailable)
      let first = true
      const oneSecondFirst = Effect.suspend(() => {
        const wait = first ? Effect.sleep("1 second") : Effect.void
        first = false
        return Effect.zipRight(wait, second.effect)
      })
      const start = yield* Clock.currentTimeMillis
      yield* withTimePassing(oneSecondFirst.pipe(retryRemote(settings(100, "2 seconds"))))
      const relative = second.startedAt.map((at) => at - start)
      expect(relative).toHaveLength(2)
      expect(relative[0]).toBe(1000)
      expect(relative[1]).toBeGreaterThanOrEqual(1400)
      expect(relative[1]).toBeLessThanOrEqual(1600)
    }))

  it.effect("a budget spent before the first failure allows no retry at all", () =>
    Effect.gen(function*() {
      const remote = failing(unavailable)
      yield* withTimePassing(remote.effect.pipe(retryRemote(settings(100, "0 millis"))))
      expect(remote.startedAt).toHaveLength(1)
    }))

  it.effect("a long budget lets the attempts limit decide", () =>
    Effect.gen(function*() {
      const remote = failing(unavailable)
      yield* withTimePassing(remote.effect.pipe(retryRemote(settings(6, "10 minutes"))))
      expect(remote.startedAt).toHaveLength(6)
    }))

  it.effect("permanent failures are not retried and keep their fields", () =>
    Effect.gen(function*() {
      for (const error of [notFound, new PermissionDenied({ ...call, status: 403, message: "denied" })]) {
        const remote = failing(error)
        const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(5))))
        expect(remote.startedAt).toHaveLength(1)
        expect(exit).toEqual(Exit.fail(error))
      }
    }))

  it.effect("a permanent failure after transient ones ends the retries at once", () =>
    Effect.gen(function*() {
      const remote = scripted([unavailable, notFound, unavailable])
      const exit = yield* withTimePassing(remote.effect.pipe(retryRemote(settings(5))))
      expect(remote.startedAt).toHaveLength(2)
      expect(exit).toEqual(Exit.fail(notFound))
    }))

  it.effect("counts every request and every retry in the run's counters", () =>
    Effect.gen(function*() {
      const remote = scripted([unavailable, unavailable])
      const exit = yield* withTimePassing(countingRun(remote.effect.pipe(retryRemote(settings(5)))))
      expect(exit).toEqual(Exit.succeed(["ok", { calls: 3, retries: 2, bytesProcessed: 0, bytesBilled: 0 }]))
    }))

  it.effect("a call that succeeds first time counts one call and no retry", () =>
    Effect.gen(function*() {
      const remote = scripted([])
      const exit = yield* withTimePassing(countingRun(remote.effect.pipe(retryRemote(settings(5)))))
      expect(exit).toEqual(Exit.succeed(["ok", { calls: 1, retries: 0, bytesProcessed: 0, bytesBilled: 0 }]))
    }))

  it.effect("each policy run counts its own attempts", () =>
    Effect.gen(function*() {
      const policy = retryRemote(settings(2))
      const first = failing(unavailable)
      const second = failing(unavailable)
      const exits = [
        yield* withTimePassing(first.effect.pipe(policy)),
        yield* withTimePassing(second.effect.pipe(policy))
      ]
      const afterTwo = new RemoteUnavailable({ ...call, status: 503, reason: "backendError", message: "Backend Error", attempts: 2 })
      expect(exits).toEqual([Exit.fail(afterTwo), Exit.fail(afterTwo)])
    }))

  it.effect("logs a warning for each transient failure, naming the call, attempt, resource and tag", () =>
    Effect.gen(function*() {
      const logged: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        logged.push({
          level: logLevel.label,
          message: Array.isArray(message) ? message.join(" ") : message,
          annotations: Object.fromEntries(HashMap.toEntries(annotations))
        })
      })
      const remote = scripted([unavailable, timeout, notFound])
      yield* withTimePassing(
        remote.effect.pipe(
          retryRemote(settings(5)),
          Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
      )
      expect(logged).toEqual([
        {
          level: "WARN",
          message: "storage objects.insert failed (attempt 1): Backend Error",
          annotations: { resource: "gs://b/doc.json", tag: "RemoteUnavailable" }
        },
        {
          level: "WARN",
          message:
            "storage objects.insert failed (attempt 2): storage objects.insert on gs://b/doc.json did not answer within 30000 ms (attempts: 1)",
          annotations: { resource: "gs://b/doc.json", tag: "RemoteTimeout" }
        }
      ])
    }))
})
