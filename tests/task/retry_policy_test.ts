/**
 * The retry policy's pure parts: the backoff delays (with an injected random source) and which
 * errors are retried.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DeliveryLimitError,
  InvalidPayloadError,
  LeaseLostError,
  TaskTimeoutError,
  UnknownTaskError,
  UnrecoverableError,
  ValidationError,
  WorkerShutdownError,
} from "../../mod.ts";
import { backoffDelay, DEFAULT_BACKOFF, isRetryable } from "../../src/model/retry_policy.ts";

const never = () => {
  throw new Error("random() must not be called without jitter");
};

test("a fixed backoff waits delayMs before every retry", () => {
  const fixed = { type: "fixed", delayMs: 250 } as const;
  assert.deepEqual([1, 2, 3, 10].map((attempt) => backoffDelay(fixed, attempt, never)), [
    250,
    250,
    250,
    250,
  ]);
});

test("an exponential backoff doubles after each attempt, up to maxDelayMs", () => {
  const exponential = { type: "exponential", delayMs: 100, maxDelayMs: 1_000 } as const;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 60].map((attempt) => backoffDelay(exponential, attempt, never)),
    [100, 200, 400, 800, 1_000, 1_000, 1_000],
  );
  // Without maxDelayMs the cap is one hour, even for a huge attempt number.
  assert.equal(backoffDelay({ type: "exponential", delayMs: 1_000 }, 5_000, never), 3_600_000);
});

test("jitter spreads the delay between 1 - jitter and 1 + jitter times it, never above the cap", () => {
  const jittered = { type: "fixed", delayMs: 1_000, jitter: 0.2 } as const;
  assert.equal(backoffDelay(jittered, 1, () => 0), 800);
  assert.equal(backoffDelay(jittered, 1, () => 0.5), 1_000);
  assert.equal(backoffDelay(jittered, 1, () => 0.75), 1_100);
  assert.equal(backoffDelay(jittered, 1, () => 0.999_999), 1_200);
  const capped = { type: "fixed", delayMs: 1_000, maxDelayMs: 1_000, jitter: 0.5 } as const;
  assert.equal(backoffDelay(capped, 1, () => 0.999_999), 1_000);
  assert.equal(backoffDelay(capped, 1, () => 0), 500);
  assert.equal(backoffDelay({ type: "fixed", delayMs: 0, jitter: 1 }, 1, () => 0.9), 0);
});

test("the default backoff is exponential from 1 s, at most 1 h, with 20 % jitter", () => {
  assert.deepEqual({ ...DEFAULT_BACKOFF }, {
    type: "exponential",
    delayMs: 1_000,
    maxDelayMs: 3_600_000,
    jitter: 0.2,
  });
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 1, () => 0.5), 1_000);
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 3, () => 0), 3_200);
  assert.equal(backoffDelay(DEFAULT_BACKOFF, 30, () => 0.999_999), 3_600_000);
});

function info(error: Error): { type: string; message: string; code?: string } {
  const code = (error as { code?: string }).code;
  return code === undefined
    ? { type: error.name, message: error.message }
    : { type: error.name, message: error.message, code };
}

test("every error is retryable by default, a TaskTimeoutError too", () => {
  for (const error of [new Error("x"), new TypeError("y"), new TaskTimeoutError("t", 5)]) {
    assert.equal(isRetryable(undefined, info(error), error), true, error.name);
  }
  assert.equal(isRetryable(undefined, { type: "string", message: "thrown text" }, "text"), true);
});

test("an UnrecoverableError, its subclasses and errors a retry cannot fix are never retried", () => {
  class CardDeclined extends UnrecoverableError {}
  const declined = new CardDeclined("declined");
  assert.equal(isRetryable(undefined, info(declined), declined), false);
  assert.equal(isRetryable([Error], info(declined), declined), false, "not even when listed");
  const fatal = new UnrecoverableError("no");
  assert.equal(isRetryable(undefined, info(fatal)), false, "known by its code alone");
  for (
    const error of [
      new InvalidPayloadError("bad"),
      new ValidationError('Cannot run task "x"', []),
      new UnknownTaskError("x"),
    ]
  ) {
    assert.equal(isRetryable(undefined, info(error), error), false, error.name);
  }
  assert.equal(
    isRetryable(undefined, { type: "DeliveryLimitError", message: "", code: "DELIVERY_LIMIT" }),
    false,
  );
});

test("retryOn can name the worker's errors; a DeliveryLimitError is never retried", () => {
  const lost = new LeaseLostError("u-1");
  const shutdown = new WorkerShutdownError();
  assert.equal(isRetryable([LeaseLostError], info(lost), lost), true);
  assert.equal(isRetryable([LeaseLostError], info(lost)), true, "by its recorded type too");
  assert.equal(isRetryable([LeaseLostError], info(shutdown), shutdown), false);
  assert.equal(isRetryable([WorkerShutdownError], info(shutdown)), true);
  const limit = new DeliveryLimitError(3);
  assert.equal(isRetryable([DeliveryLimitError], info(limit), limit), false, "even when listed");
  assert.equal(isRetryable([DeliveryLimitError], info(limit)), false, "known by its code alone");
});

test("the worker's error classes carry a stable code and a clear message", () => {
  const lost = new LeaseLostError("u-1");
  assert.deepEqual([lost.name, lost.code, lost.uuid], ["LeaseLostError", "LEASE_LOST", "u-1"]);
  assert.match(lost.message, /lost its lease on task u-1/);
  const shutdown = new WorkerShutdownError();
  assert.deepEqual([shutdown.name, shutdown.code], ["WorkerShutdownError", "WORKER_SHUTDOWN"]);
  assert.equal(shutdown.message, "The worker is shutting down");
  const limit = new DeliveryLimitError(3);
  assert.deepEqual([limit.name, limit.code, limit.deliveries], [
    "DeliveryLimitError",
    "DELIVERY_LIMIT",
    3,
  ]);
  assert.match(limit.message, /^Task was delivered 3 times and its worker never settled it/);
});

test("retryOn retries instances of its classes and their subclasses only", () => {
  class HttpError extends Error {}
  class ServiceUnavailable extends HttpError {}
  const unavailable = new ServiceUnavailable("503");
  assert.equal(isRetryable([HttpError], info(unavailable), unavailable), true);
  assert.equal(isRetryable([ServiceUnavailable], info(unavailable), unavailable), true);
  const type = new TypeError("bad");
  assert.equal(isRetryable([HttpError], info(type), type), false);
  assert.equal(isRetryable([], info(type), type), false, "an empty list retries nothing");
  // Without the thrown value (another executor), the stored type is matched by class name.
  assert.equal(isRetryable([TypeError], { type: "TypeError", message: "bad" }), true);
  assert.equal(isRetryable([HttpError], { type: "TypeError", message: "bad" }), false);
});
