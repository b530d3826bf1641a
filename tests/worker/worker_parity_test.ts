/**
 * The same tests against AsyncWorker and WorkerPool, on the memory backend and on Redis: the
 * app's middlewares and `task_executor_*` triggers (run where the executor runs: on the event
 * loop, or in the pool's threads on the task module's app), the `worker_*` triggers and app
 * events (on the main thread), the task context, generators, schemas, dependencies, retries and
 * cancel behave alike. Needs Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, QueueTasks, type TaskRecord, WorkerPool } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { AsyncWorker, type Broker, type Worker } from "../../src/ports/mod.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";
import { hear, say } from "./fixtures/pool_tasks.ts";
import { setupParityApp } from "./fixtures/parity_tasks.ts";

const SILENT = createLogger("silent");
const PARITY_APP = new URL("./fixtures/parity_app.ts", import.meta.url);

type MakeBroker = (name: string) => Broker;
type MakeWorker = (broker: Broker) => Worker;

const backends: Array<[string, MakeBroker]> = [
  ["memory", (name) => new MemoryBroker({ name })],
  ["redis", (name) => new RedisBroker({ name, url: testRedisUrl() })],
];

const workers: Array<[string, MakeWorker]> = [
  ["AsyncWorker", (broker) => new AsyncWorker({ broker })],
  ["WorkerPool", (broker) => new WorkerPool({ broker, module: PARITY_APP, size: 2 })],
];

/** Every message on a channel from now until `stop()`; `until` waits for one that fits. */
function collect<T>(tag: string): {
  messages: T[];
  until(ready: (messages: T[]) => boolean): Promise<void>;
  stop(): void;
} {
  const messages: T[] = [];
  const waiters = new Set<() => void>();
  const channel = new BroadcastChannel(`pool-test:${tag}`);
  channel.onmessage = (event) => {
    messages.push(event.data as T);
    for (const check of [...waiters]) check();
  };
  return {
    messages,
    until: (ready) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!ready(messages)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    stop: () => channel.close(),
  };
}

async function withApp(
  makeBroker: MakeBroker,
  makeWorker: MakeWorker,
  body: (app: QueueTasks) => Promise<void>,
): Promise<void> {
  const name = uniqueName("parity");
  const broker = makeBroker(name);
  const app = new QueueTasks({
    name,
    broker,
    worker: makeWorker(broker),
    logger: SILENT,
    env: false,
  });
  await setupParityApp(app);
  await app.start();
  try {
    await body(app);
  } finally {
    try {
      await app.flushAll();
    } finally {
      await app.stop({ graceMs: 1_000 });
    }
  }
}

function parityTests(label: string, makeBroker: MakeBroker, makeWorker: MakeWorker): void {
  test(`${label}: the app's before and after middlewares wrap the task`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      assert.deepEqual(await (await app.addTask("mw", [7])).value(), {
        value: 7,
        by: "before",
        after: true,
      });
    });
  });

  test(`${label}: task_executor_* triggers replace the arguments and result, and task_close hears the status`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      const closes = collect<{ uuid: string; status: string }>("parity-close");
      try {
        const job = await app.addTask("hooked", [1]);
        assert.deepEqual(await job.value(), { decoded: 20 });
        await closes.until((messages) => messages.some((m) => m.uuid === job.uuid));
        assert.deepEqual(closes.messages.filter((m) => m.uuid === job.uuid), [
          { uuid: job.uuid, status: "success" },
        ]);
      } finally {
        closes.stop();
      }
    });
  });

  test(`${label}: worker_* triggers and task events fire on the app's side`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      const heard: string[] = [];
      await app.addPlugin({
        name: "main-side",
        handlers: {
          worker_run_task_before: (args) => {
            heard.push(`run_task_before:${args.taskName}`);
            return { args: [(args.args[0] as number) + 100] };
          },
          worker_execute_after: (args) => void heard.push(`execute_after:${args.outcome.status}`),
        },
      }, { component: "worker" });
      const events: string[] = [];
      app.events.on("taskRunning", (event) => void events.push(`running:${event.taskName}`));
      app.events.on("taskSuccess", (event) => void events.push(`success:${event.returning}`));
      const job = await app.addTask("mw", [1]);
      assert.deepEqual(await job.value(), { value: 101, by: "before", after: true });
      assert.deepEqual(heard, ["run_task_before:mw", "execute_after:success"]);
      assert.deepEqual(events, ["running:mw", 'success:{"value":101,"by":"before","after":true}']);
    });
  });

  test(`${label}: an echo task's context reports progress and reads records through the broker`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      const job = await app.addTask("ctx", ["half"]);
      assert.deepEqual(await job.value(), {
        name: "ctx",
        status: "process",
        progress: { label: "half" },
        other: null,
        attempt: 1,
        deliveries: 1,
      });
      assert.deepEqual(await job.progress(), { label: "half" });
    });
  });

  test(`${label}: a generator task's values go through its generateHandler`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      assert.deepEqual(await (await app.addTask("gen", [3])).value(), {
        values: [2, 4, 6],
        returned: "done",
      });
    });
  });

  test(`${label}: the function receives the schema's output, and refused arguments end as ValidationError`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      assert.deepEqual(await (await app.addTask("schema", ["four"])).value(), {
        length: 4,
        type: "number",
      });
      // Stored by a producer that did not validate: refused before the run.
      const uuid = crypto.randomUUID();
      await app.broker.add({
        uuid,
        taskName: "schema",
        priority: 0,
        args: "[42]",
        kwargs: "{}",
        extra: {},
      });
      const record = await app.result(uuid).result();
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "ValidationError");
    });
  });

  test(`${label}: a task-scoped dependency is opened for the run and closed after it`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      const deps = collect<string>("deps");
      try {
        const value = await (await app.addTask("inject", [5])).value() as string;
        const id = value.split(":")[0];
        assert.equal(value, `${id}:5`);
        await deps.until((messages) => messages.includes(`close:${id}`));
        assert.deepEqual(deps.messages.filter((m) => m.endsWith(id)), [
          `open:${id}`,
          `close:${id}`,
        ]);
      } finally {
        deps.stop();
      }
    });
  });

  test(`${label}: a failure matching retryOn is retried, then ends as error`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      const job = await app.addTask("retried", [1]);
      const final: TaskRecord = await job.result();
      assert.equal(final.status, "error");
      assert.equal(final.error?.type, "FlakyError");
      assert.equal(final.attempt, 2);
      const first = await app.get(job.uuid);
      assert.equal(first?.status, "retry");
      assert.equal(first?.retryChildUuid, final.uuid);
    });
  });

  test(`${label}: a running task is cancelled`, async () => {
    await withApp(makeBroker, makeWorker, async (app) => {
      const tag = crypto.randomUUID();
      const started = hear(tag, (message) => message === "started");
      const job = await app.addTask("wait", [tag]);
      await started;
      await app.cancel(job.uuid, "no longer needed");
      const record = await job.result();
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "no longer needed");
      say(tag, "go");
    });
  });
}

for (const [backend, makeBroker] of backends) {
  for (const [kind, makeWorker] of workers) {
    parityTests(`${kind}, ${backend}`, makeBroker, makeWorker);
  }
}
