/**
 * Test-only preload (`node --import`) for CLI runs in a child process: lets this process post
 * alerts to the tests' local receiver (http on 127.0.0.1), which no configuration can allow.
 * Tests add it with `LOCAL_RECEIVER_CHILD_ENV` from `FakeWebhookReceiver.ts`.
 */
import { allowLoopbackWebhooksInThisProcess } from "../../src/services/Alerting/WebhookDestination.ts"

allowLoopbackWebhooksInThisProcess()
