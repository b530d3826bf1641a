/**
 * Retries end to end, on the memory backend and on Redis: the chain of records, retryOn,
 * UnrecoverableError, timeouts, the worker_task_error_retry trigger, events, and result()
 * following the chain. Backoffs are a few milliseconds (or replaced by a plugin), so nothing
 * sleeps for long.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  QueueTasks,
  ResultTimeoutError,
  type TaskContext,
  TaskFailedError,
  type TaskRecord,
  type TriggerArgs,
  UnrecoverableError,
} from "../../mod.ts";
import type { AsyncWorker } from "../../src/ports/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

const QUICK = { type: "fixed", delayMs: 2 } as const;

type Backend = "memory" | "redis";

/** Runs `body` with a started app of a fresh name on `backend`; always flushes and stops it. */
async function withApp(
  backend: Backend,
  setup: (app: QueueTasks) => void | Promise<void>,
  body: (app: QueueTasks) => Promise<void>,
): Promise<void> {
  const app = new QueueTasks({
    name: uniqueName("retries"),
    ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  await setup(app);
  await app.start();
  try {
    await body(app);
  } finally {
    await app.flushAll();
    await app.stop({ graceMs: 1_000 });
  }
}

/** The records of a retry chain, from its first uuid, following retryChildUuid. */
async function chainOf(app: QueueTasks, uuid: string): Promise<TaskRecord[]> {
  const chain: TaskRecord[] = [];
  for (let next: string | undefined = uuid; next !== undefined;) {
    const record = await app.get(next);
    assert.ok(record, `record ${next} of the chain should exist`);
    chain.push(record);
    next = record.retryChildUuid;
  }
  return chain;
}

for (const backend of ["memory", "redis"] as const) {
  const label = backend === "memory" ? "In memory" : "On Redis";
  test(`${label}, the task context counts attempts across retries, and deliveries within one`, async () => {
    const seen: Array<[number, number]> = [];
    await withApp(backend, (app) => {
      app.task(
        { name: "counted", echo: true, retry: 2, backoff: QUICK },
        (ctx: TaskContext) => {
          seen.push([ctx.attempt, ctx.deliveries]);
          if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
          return ctx.attempt;
        },
      );
    }, async (app) => {
      const job = await app.addTask("counted", []);
      assert.equal(await job.value({ timeoutMs: 10_000 }), 3);
      assert.deepEqual(seen, [[1, 1], [2, 1], [3, 1]]);
    });
  });

  test(`${label}, a task that fails twice then succeeds ends as success on its third attempt`, async () => {
    let runs = 0;
    await withApp(backend, (app) => {
      app.task({ name: "flaky", retry: 3, backoff: QUICK }, (order: string) => {
        runs++;
        if (runs < 3) throw new Error(`attempt ${runs} failed`);
        return `${order} done on attempt ${runs}`;
      });
    }, async (app) => {
      const job = await app.addTask("flaky", ["o-1"], { extra: { tenant: "acme" } });
      assert.equal(await job.value({ timeoutMs: 10_000 }), "o-1 done on attempt 3");
      const final = await job.result({ timeoutMs: 1_000 });
      assert.notEqual(final.uuid, job.uuid, "result() is the last attempt's record");
      assert.equal((await job.get())?.uuid, job.uuid, "get() reads the first record");
      assert.equal((await job.get())?.status, "retry");

      const chain = await chainOf(app, job.uuid);
      assert.deepEqual(
        chain.map((r) => [r.status, r.retry, r.attempt, r.error?.message, r.deliveries]),
        [
          ["retry", 3, 1, "attempt 1 failed", 1],
          ["retry", 2, 2, "attempt 2 failed", 1],
          ["success", 1, 3, undefined, 1],
        ],
      );
      assert.equal(chain[2].uuid, final.uuid);
      assert.equal(chain[1].retryParentUuid, chain[0].uuid);
      assert.equal(chain[2].retryParentUuid, chain[1].uuid);
      for (const record of chain) {
        assert.equal(record.taskName, "flaky");
        assert.deepEqual(record.args, ["o-1"]);
        assert.deepEqual(record.extra, { tenant: "acme" });
      }
      assert.equal(runs, 3);
    });
  });

  test(`${label}, a task that keeps failing ends as error after retry + 1 runs`, async () => {
    let runs = 0;
    await withApp(backend, (app) => {
      app.task({ name: "broken", retry: 2, backoff: QUICK }, () => {
        runs++;
        throw new RangeError(`run ${runs}`);
      });
    }, async (app) => {
      const job = await app.addTask("broken");
      const failure = await job.value({ timeoutMs: 10_000 }).then(
        () => assert.fail("the task should fail"),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof TaskFailedError);
      assert.equal(failure.record.status, "error");
      assert.equal(failure.record.error?.type, "RangeError");
      assert.equal(failure.record.error?.message, "run 3");
      const chain = await chainOf(app, job.uuid);
      assert.deepEqual(chain.map((r) => [r.status, r.retry, r.attempt]), [
        ["retry", 2, 1],
        ["retry", 1, 2],
        ["error", 0, 3],
      ]);
      assert.equal(runs, 3);
    });
  });

  test(`${label}, retryOn retries subclasses of its classes and no other error`, async () => {
    class HttpError extends Error {}
    class ServiceUnavailable extends HttpError {}
    const runs = new Map<string, number>();
    await withApp(backend, (app) => {
      app.task(
        { name: "fetch", retry: 2, retryOn: [HttpError], backoff: QUICK },
        (kind: string) => {
          const run = (runs.get(kind) ?? 0) + 1;
          runs.set(kind, run);
          if (run > 1) return `${kind} ok`;
          throw kind === "http" ? new ServiceUnavailable("503") : new TypeError("bad input");
        },
      );
    }, async (app) => {
      const http = await app.addTask("fetch", ["http"]);
      const type = await app.addTask("fetch", ["type"]);
      assert.equal(await http.value({ timeoutMs: 10_000 }), "http ok");
      const record = await type.result({ timeoutMs: 10_000 });
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "TypeError");
      assert.equal(record.retryChildUuid, undefined);
      assert.equal(record.uuid, type.uuid, "not retried: the first record is the last");
      assert.deepEqual(Object.fromEntries(runs), { http: 2, type: 1 });
    });
  });

  test(`${label}, an UnrecoverableError (or a subclass) is never retried`, async () => {
    class CardDeclined extends UnrecoverableError {}
    let runs = 0;
    await withApp(backend, (app) => {
      app.task({ name: "charge", retry: 5, backoff: QUICK }, (cents: number) => {
        runs++;
        if (cents < 0) throw new UnrecoverableError("negative amount");
        throw new CardDeclined("declined");
      });
    }, async (app) => {
      for (const cents of [-1, 100]) {
        const record = await (await app.addTask("charge", [cents])).result({ timeoutMs: 5_000 });
        assert.equal(record.status, "error");
        assert.equal(record.error?.code, "UNRECOVERABLE");
        assert.equal(record.retryChildUuid, undefined);
        assert.equal(record.retry, undefined);
      }
      assert.equal(runs, 2, "one run each");
    });
  });

  test(`${label}, a task past its maxTime is retried, a cancelled one is not`, async () => {
    let runs = 0;
    const started = deferred();
    await withApp(backend, (app) => {
      app.task({ name: "slow", retry: 1, maxTime: 30, backoff: QUICK }, async () => {
        runs++;
        if (runs === 1) await new Promise(() => {});
        return "second time lucky";
      });
      app.task(
        { name: "stoppable", echo: true, retry: 3, backoff: QUICK },
        async (ctx: TaskContext) => {
          started.resolve();
          await new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
          );
        },
      );
    }, async (app) => {
      const slow = await app.addTask("slow");
      assert.equal(await slow.value({ timeoutMs: 10_000 }), "second time lucky");
      assert.equal((await slow.get())?.error?.type, "TaskTimeoutError");

      const stoppable = await app.addTask("stoppable");
      await started.promise;
      assert.equal(await stoppable.cancel("stop it"), "cancelling");
      const record = await stoppable.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "cancel");
      assert.equal(record.uuid, stoppable.uuid);
      assert.equal(record.retryChildUuid, undefined);
    });
  });

  test(`${label}, worker_task_error_retry hears each retry and may change its delay or refuse it`, async () => {
    const heard: Array<TriggerArgs<"worker_task_error_retry">> = [];
    let runs = 0;
    await withApp(backend, async (app) => {
      // A ten-minute backoff: only the plugin's delay lets the retries run now.
      app.task(
        { name: "patient", retry: 2, backoff: { type: "fixed", delayMs: 600_000 } },
        () => {
          runs++;
          if (runs < 3) throw new Error(`failure ${runs}`);
          return runs;
        },
      );
      app.task({ name: "refused", retry: 5 }, () => {
        throw new Error("no point");
      });
      await app.addPlugin({
        name: "retry-policy",
        handlers: {
          worker_task_error_retry: (args) => {
            heard.push(structuredClone(args));
            return args.taskName === "refused" ? { retry: false } : { delayMs: 1 };
          },
        },
      }, { component: "worker" });
    }, async (app) => {
      const patient = await app.addTask("patient");
      assert.equal(await patient.value({ timeoutMs: 10_000 }), 3);
      const chain = await chainOf(app, patient.uuid);
      assert.deepEqual(
        heard.map((args) => ({ ...args, error: args.error.message })),
        [
          {
            appName: app.name,
            workerId: (app.worker as AsyncWorker).id,
            taskName: "patient",
            uuid: chain[0].uuid,
            error: "failure 1",
            attempt: 1,
            retriesLeft: 2,
            delayMs: 600_000,
            retry: true,
          },
          {
            appName: app.name,
            workerId: (app.worker as AsyncWorker).id,
            taskName: "patient",
            uuid: chain[1].uuid,
            error: "failure 2",
            attempt: 2,
            retriesLeft: 1,
            delayMs: 600_000,
            retry: true,
          },
        ],
      );

      heard.length = 0;
      const refused = await app.addTask("refused");
      const record = await refused.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "error");
      assert.equal(record.error?.message, "no point");
      assert.equal(record.retryChildUuid, undefined, "the plugin refused the retry");
      assert.equal(heard.length, 1);
      assert.equal(heard[0].retriesLeft, 5);
    });
  });

  test(`${label}, result() waits across the retry chain within one timeout`, async () => {
    await withApp(backend, (app) => {
      app.task({ name: "later", retry: 1, backoff: { type: "fixed", delayMs: 600_000 } }, () => {
        throw new Error("try again in ten minutes");
      });
    }, async (app) => {
      const job = await app.addTask("later");
      const started = Date.now();
      const timeout = await job.result({ timeoutMs: 300 }).then(
        () => assert.fail("the retry is ten minutes away"),
        (error: unknown) => error,
      );
      const elapsed = Date.now() - started;
      assert.ok(timeout instanceof ResultTimeoutError);
      assert.equal(timeout.uuid, job.uuid);
      assert.equal(timeout.lastStatus, "new", "the last status seen is the retry's");
      assert.ok(elapsed < 3_000, `one timeout for the whole chain, took ${elapsed} ms`);

      // Awaiting the status "retry" itself stops at the first record.
      const retried = await job.result({ statuses: ["retry"], timeoutMs: 1_000 });
      assert.equal(retried.uuid, job.uuid);

      // Cancelling the first uuid cancels the waiting retry; result() follows to it.
      const waiting = job.result({ timeoutMs: 5_000 });
      assert.equal(await job.cancel("not needed"), "cancelled");
      const record = await waiting;
      assert.equal(record.status, "cancel");
      assert.equal(record.uuid, retried.retryChildUuid);
    });
  });

  test(`${label}, a retried attempt emits taskStopping with status retry and no taskError`, async () => {
    let runs = 0;
    await withApp(backend, (app) => {
      app.task({ name: "twice", retry: 1, backoff: QUICK }, () => {
        runs++;
        if (runs === 1) throw new Error("first");
        return "ok";
      });
    }, async (app) => {
      const stopping: string[] = [];
      const errors: string[] = [];
      app.events.on("taskStopping", ({ status }) => void stopping.push(status));
      app.events.on("taskError", ({ error }) => void errors.push(error.message));
      assert.equal(await (await app.addTask("twice")).value({ timeoutMs: 10_000 }), "ok");
      assert.deepEqual(stopping, ["retry", "success"]);
      assert.deepEqual(errors, []);
    });
  });
}

test("On Redis, a retry survives its worker: another worker process of the app runs it", async () => {
  const name = uniqueName("retries-handover");
  const config = { logsDefaultLevel: "silent" as const };
  const first = new QueueTasks({ name, brokerUrl: testRedisUrl(), env: false, config });
  first.task({ name: "handover", retry: 1, backoff: { type: "fixed", delayMs: 50 } }, () => {
    throw new Error("the first worker fails");
  });
  const second = new QueueTasks({ name, brokerUrl: testRedisUrl(), env: false, config });
  second.task("handover", () => "the second worker succeeds");
  await first.start();
  try {
    const job = await first.addTask("handover");
    // The failed attempt is settled together with its retry, then the first worker goes away.
    const failed = await job.result({ statuses: ["retry"], timeoutMs: 5_000 });
    assert.ok(failed.retryChildUuid);
    await first.stop();
    await second.start();
    const record = await second.result(job.uuid).result({ timeoutMs: 5_000 });
    assert.equal(record.status, "success");
    assert.equal(record.returning, "the second worker succeeds");
    assert.equal(record.uuid, failed.retryChildUuid);
  } finally {
    await second.flushAll();
    await second.stop();
    await first.stop();
  }
});

test("Registering a task refuses a negative retry, a bad retryOn and an out-of-range backoff", () => {
  const app = new QueueTasks({ name: uniqueName("retries-options"), env: false });
  const fn = () => 1;
  assert.throws(() => app.task({ name: "a", retry: -1 }, fn), RangeError);
  assert.throws(() => app.task({ name: "b", retry: 1.5 }, fn), RangeError);
  assert.throws(
    () => app.task({ name: "c", retryOn: ["Error"] as unknown as Array<typeof Error> }, fn),
    /retryOn\[0\] must be an error class/,
  );
  assert.throws(
    () => app.task({ name: "d", backoff: { type: "linear" as "fixed", delayMs: 1 } }, fn),
    TypeError,
  );
  assert.throws(
    () => app.task({ name: "e", backoff: { type: "fixed", delayMs: -1 } }, fn),
    RangeError,
  );
  assert.throws(
    () => app.task({ name: "f", backoff: { type: "fixed", delayMs: 1, jitter: 2 } }, fn),
    /jitter must be between 0 and 1/,
  );
  const ok = app.task({ name: "g", retry: 2, retryOn: [TypeError] }, fn);
  assert.equal(ok.definition.retry, 2);
  assert.deepEqual(ok.definition.retryOn, [TypeError]);
  assert.equal(app.task({ name: "h" }, fn).definition.retry, undefined);
});
