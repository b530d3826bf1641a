/**
 * The worker_* triggers of AsyncWorker, with their arguments and replacements, on the memory
 * backend and on Redis (the same tests, run twice). Needs Redis at redis://127.0.0.1:6379, or at
 * QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createLogger,
  type Plugin,
  QueueTasks,
  type TriggerArgs,
  type TriggerName,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import type { AsyncWorker, ClaimedTask, Settlement } from "../../src/ports/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

type MakeApp = (name: string) => QueueTasks;

const SILENT = createLogger("silent");

const backends: Array<[string, MakeApp]> = [
  [
    "memory",
    (name) =>
      new QueueTasks({ name, broker: new MemoryBroker({ name }), logger: SILENT, env: false }),
  ],
  [
    "redis",
    (name) => new QueueTasks({ name, brokerUrl: testRedisUrl(), logger: SILENT, env: false }),
  ],
];

/** Runs `body` with a started app of a fresh name; always flushes and stops it. */
async function withApp(
  makeApp: MakeApp,
  setup: (app: QueueTasks) => Promise<void> | void,
  body: (app: QueueTasks) => Promise<void>,
): Promise<void> {
  const app = makeApp(uniqueName("worker-triggers"));
  await setup(app);
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

function workerId(app: QueueTasks): string {
  return (app.worker as AsyncWorker).id;
}

/** Copies a trigger's arguments as they were when it fired. */
function snapshot<N extends TriggerName>(args: TriggerArgs<N>): TriggerArgs<N> {
  return structuredClone(args);
}

function workerTriggers(backend: string, makeApp: MakeApp): void {
  test(`${backend}: worker_add hears each claimed task taken in and may replace it (not its uuid)`, async () => {
    const heard: Array<TriggerArgs<"worker_add">> = [];
    await withApp(makeApp, async (app) => {
      app.task("greet", (who: string) => `hi ${who}`);
      await app.addPlugin({
        name: "rename",
        handlers: {
          worker_add: (args) => {
            heard.push(snapshot<"worker_add">(args));
            const task: ClaimedTask = {
              ...args.task,
              args: JSON.stringify(["plugin"]),
              uuid: "00000000-0000-4000-8000-000000000000",
            };
            return { task };
          },
        },
      }, { component: "worker" });
    }, async (app) => {
      const job = await app.addTask("greet", ["ada"]);
      assert.equal(await job.value(), "hi plugin");
      assert.equal(heard.length, 1);
      const [args] = heard;
      assert.equal(args.appName, app.name);
      assert.equal(args.workerId, workerId(app));
      assert.equal(args.task.uuid, job.uuid);
      assert.equal(args.task.taskName, "greet");
      assert.equal(args.task.args, '["ada"]');
      assert.equal(args.task.deliveries, 1);
    });
  });

  test(`${backend}: with an asynchronous worker_add plugin, tasks still start in queue order`, async () => {
    const started: number[] = [];
    await withApp(makeApp, async (app) => {
      app.task("ordered", (n: number) => void started.push(n));
      await app.addPlugin({
        name: "slow-add",
        handlers: {
          worker_add: async () => {
            await new Promise((resolve) => setTimeout(resolve, 0));
          },
        },
      });
    }, async (app) => {
      const jobs = await app.addTasks("ordered", Array.from({ length: 20 }, (_, i) => [i]));
      for (const job of jobs) await job.result();
      assert.deepEqual(started, Array.from({ length: 20 }, (_, i) => i));
    });
  });

  test(`${backend}: worker_execute_before hears the task about to start and may replace it`, async () => {
    const heard: Array<TriggerArgs<"worker_execute_before">> = [];
    await withApp(makeApp, async (app) => {
      app.task("quiet", (word: string) => word);
      app.task("loud", (word: string) => word.toUpperCase());
      await app.addPlugin({
        name: "louder",
        handlers: {
          worker_execute_before: (args) => {
            heard.push(snapshot<"worker_execute_before">(args));
            return { task: { ...args.task, taskName: "loud" } };
          },
        },
      }, { component: "worker" });
    }, async (app) => {
      const job = await app.addTask("quiet", ["psst"]);
      assert.equal(await job.value(), "PSST");
      assert.equal(heard.length, 1);
      assert.equal(heard[0].appName, app.name);
      assert.equal(heard[0].workerId, workerId(app));
      assert.equal(heard[0].task.uuid, job.uuid);
      assert.equal(heard[0].task.taskName, "quiet");
    });
  });

  test(`${backend}: worker_run_task_before hears the decoded arguments and may replace them`, async () => {
    const heard: Array<TriggerArgs<"worker_run_task_before">> = [];
    await withApp(makeApp, async (app) => {
      app.task("add", (a: number, b: number) => a + b);
      await app.addPlugin({
        name: "tenfold",
        handlers: {
          worker_run_task_before: (args) => {
            heard.push(snapshot<"worker_run_task_before">(args));
            return { args: args.args.map((n) => (n as number) * 10) };
          },
        },
      });
    }, async (app) => {
      const job = await app.addTask("add", [1, 2]);
      assert.equal(await job.value(), 30);
      assert.deepEqual(heard, [{
        appName: app.name,
        workerId: workerId(app),
        taskName: "add",
        uuid: job.uuid,
        args: [1, 2],
      }]);
    });
  });

  test(`${backend}: worker_execute_after hears each outcome before it is settled`, async () => {
    const heard: Array<TriggerArgs<"worker_execute_after">> = [];
    const stored: Array<string | undefined> = [];
    await withApp(makeApp, async (app) => {
      app.task("ok", () => 3);
      app.task("fails", () => {
        throw new RangeError("no");
      });
      await app.addPlugin({
        name: "outcomes",
        handlers: {
          worker_execute_after: async (args) => {
            heard.push(snapshot<"worker_execute_after">(args));
            // Not settled yet: the record still says it runs ("process").
            stored.push((await app.get(args.uuid))?.status);
          },
        },
      }, { component: "worker" });
    }, async (app) => {
      const ok = await app.addTask("ok");
      assert.equal(await ok.value(), 3);
      const fails = await app.addTask("fails");
      assert.equal((await fails.result()).status, "error");
      assert.equal(heard.length, 2);
      assert.deepEqual(heard[0], {
        appName: app.name,
        workerId: workerId(app),
        taskName: "ok",
        uuid: ok.uuid,
        outcome: { status: "success", returning: "3" },
      });
      assert.equal(heard[1].uuid, fails.uuid);
      assert.equal(heard[1].outcome.status, "error");
      if (heard[1].outcome.status === "error") {
        assert.equal(heard[1].outcome.error.type, "RangeError");
      }
      assert.deepEqual(stored, ["process", "process"]);
    });
  });

  test(`${backend}: worker_remove_finished_task may replace the settlement (not its uuid)`, async () => {
    const heard: Settlement[] = [];
    const successes: string[] = [];
    await withApp(makeApp, async (app) => {
      app.task("answer", () => 41);
      app.events.on("taskSuccess", ({ returning }) => void successes.push(returning));
      await app.addPlugin({
        name: "fix",
        handlers: {
          worker_remove_finished_task: ({ appName, workerId: id, settlement }) => {
            assert.equal(appName, app.name);
            assert.equal(id, workerId(app));
            heard.push(structuredClone(settlement));
            return {
              settlement: {
                ...settlement,
                uuid: "00000000-0000-4000-8000-000000000000",
                status: "success",
                returning: "42",
              },
            };
          },
        },
      }, { component: "worker" });
    }, async (app) => {
      const job = await app.addTask("answer");
      assert.equal(await job.value(), 42);
      assert.deepEqual(heard, [{
        uuid: job.uuid,
        deliveries: 1,
        status: "success",
        returning: "41",
      }]);
      assert.deepEqual(successes, ["42"], "events report what is stored");
    });
  });

  test(`${backend}: the worker_* triggers of one task fire in order, with the executor's inside`, async () => {
    const heard: TriggerName[] = [];
    await withApp(makeApp, async (app) => {
      app.task("one", () => 1);
      const plugin: Plugin = {
        name: "order",
        trigger: (name) => {
          if (name.startsWith("worker_") || name.startsWith("task_executor_")) {
            if (name !== "worker_start" && name !== "worker_stop") heard.push(name);
          }
        },
      };
      await app.addPlugin(plugin, { component: "worker" });
    }, async (app) => {
      assert.equal(await (await app.addTask("one")).value(), 1);
      assert.deepEqual(heard, [
        "worker_add",
        "worker_execute_before",
        "worker_run_task_before",
        "task_executor_args_replace",
        "task_executor_run_task",
        "task_executor_decode",
        "task_executor_task_close",
        "worker_execute_after",
        "worker_remove_finished_task",
      ]);
    });
  });

  test(`${backend}: stop gives back a task that a worker_add plugin still holds`, async () => {
    const held = deferred();
    const release = deferred();
    let runs = 0;
    const app = makeApp(uniqueName("worker-triggers"));
    app.task("held", () => ++runs);
    await app.addPlugin({
      name: "hold",
      handlers: {
        worker_add: async () => {
          held.resolve();
          await release.promise;
        },
      },
    });
    await app.start();
    try {
      const job = await app.addTask("held");
      await held.promise;
      assert.equal((app.worker as AsyncWorker).held, 1);
      await app.worker.stop({ graceMs: 1_000 });
      assert.equal((await job.get())?.status, "new", "back in the queue");
      release.resolve();
      assert.equal(runs, 0);
    } finally {
      release.resolve();
      try {
        await app.flushAll();
      } finally {
        await app.stop();
      }
    }
  });
}

for (const [backend, makeApp] of backends) workerTriggers(backend, makeApp);
