/**
 * Runs an effect that makes real HTTP calls and waits between retries on the TestClock: whenever
 * the effect is asleep, the clock moves to the next wake-up that is near (a retry's backoff), never
 * to a far one (a call's deadline), so answered calls are never cut and no test waits for real.
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"

/** Wake-ups further away than this are deadlines, not backoffs: the driver leaves them alone. */
const NEAR_MS = 20_000

const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

export const onTestClock = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    while (true) {
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      yield* ioTurn
      const now = yield* Clock.currentTimeMillis
      const near = Chunk.filter(yield* TestClock.sleeps(), (t) => t > now && t - now <= NEAR_MS)
      if (Chunk.isNonEmpty(near)) yield* TestClock.setTime(Math.min(...near))
    }
  })
