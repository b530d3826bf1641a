import { test } from "node:test";
import assert from "node:assert/strict";
import {
  QueueTasks,
  ResultTimeoutError,
  type TaskContext,
  TaskFailedError,
  TaskTimeoutError,
  UnknownTaskError,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { repoPath, uniqueAppName } from "../support/e2e_env.ts";
import { spawnRuntime } from "../support/spawn_runtime.ts";

test(
  "the quickstart flow runs in one process on the in-memory backend, without Redis",
  { timeout: 30_000 },
  async () => {
    const app = new QueueTasks({
      name: uniqueAppName("memory"),
      env: false,
      config: { maxTasksProcess: 1, logsDefaultLevel: "warn" },
    });
    const ran: string[] = [];
    const add = app.task("add", (a: number, b: number) => {
      ran.push("add");
      return a + b;
    });
    const greet = app.task({ name: "greet", priority: 5 }, async (name: string) => {
      ran.push(`greet ${name}`);
      await Promise.resolve();
      return `Hello, ${name}!`;
    });
    const fail = app.task("fail", (input: string) => {
      throw new TypeError(`bad input ${input}`);
    });
    const slow = app.task(
      { name: "slow", maxTime: 50, echo: true },
      (ctx: TaskContext) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })
        ),
    );
    try {
      assert.ok(app.broker instanceof MemoryBroker, "no broker URL: the in-memory backend");
      // Queued before the worker starts: they run by priority.
      const ada = await greet.addTask("Ada");
      const sum = await add.addTask(2, 3);
      const grace = await greet.withOptions({ priority: -1 }).addTask("Grace");
      await app.start();

      const record = await sum.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "success");
      assert.equal(record.returning, 5);
      assert.deepEqual(record.args, [2, 3]);
      assert.equal(await ada.value({ timeoutMs: 5_000 }), "Hello, Ada!");
      assert.equal(await grace.value({ timeoutMs: 5_000 }), "Hello, Grace!");
      assert.deepEqual(ran, ["greet Grace", "add", "greet Ada"]);

      const failed = await fail.addTask("x");
      const failure = await failed.result({ timeoutMs: 5_000 });
      assert.equal(failure.status, "error");
      assert.equal(failure.error?.type, "TypeError");
      assert.equal(failure.error?.message, "bad input x");
      assert.match(failure.error?.stack ?? "", /bad input x/);
      await assert.rejects(failed.value({ timeoutMs: 5_000 }), TaskFailedError);

      const timedOut = await (await slow.addTask()).result({ timeoutMs: 5_000 });
      assert.equal(timedOut.status, "error");
      assert.equal(timedOut.error?.type, "TaskTimeoutError");
      assert.equal(timedOut.error?.code, new TaskTimeoutError("slow", 50).code);

      // An app with tasks refuses a name it does not know, before anything is stored.
      await assert.rejects(
        app.addTask("ad"),
        (error: unknown) =>
          error instanceof UnknownTaskError && /did you mean "add"\?/.test(error.message),
      );
      assert.equal(await (await add.addTask(1, 1)).value({ timeoutMs: 5_000 }), 2);

      await app.stop();
      const notRun = await add.addTask(0, 0);
      await assert.rejects(notRun.result({ timeoutMs: 50 }), ResultTimeoutError);
    } finally {
      await app.flushAll();
      await app.stop();
    }
  },
);

test(
  "the quickstart example runs on the in-memory backend and exits by itself with code 0",
  { timeout: 30_000 },
  async () => {
    const quickstart = spawnRuntime(repoPath("examples/quickstart.ts"), {
      env: { QTASKS_REDIS_URL: undefined },
    });
    try {
      assert.equal(await quickstart.exitCode(15_000), 0, quickstart.describe());
      const out = quickstart.lines;
      assert.ok(out.includes("QTasks quickstart on the in-memory backend"), quickstart.describe());
      assert.ok(out.includes("add(2, 3) -> success, returned 5"), quickstart.describe());
      assert.ok(
        out.includes(
          "run order (lower priority number first): greet(Grace), add(2, 3), greet(Ada)",
        ),
        quickstart.describe(),
      );
      assert.ok(
        out.includes("divide(1, 0) -> error, RangeError: cannot divide by zero"),
        quickstart.describe(),
      );
      assert.ok(out.some((line) => /^slow_report\(5\) -> error, TaskTimeoutError/.test(line)));
      assert.equal(out.at(-1), "done");
      // On stderr, only the worker's line for each failed run (logTaskErrors), never arguments.
      const errors = quickstart.stderr.split("\n").filter((line) => line !== "");
      assert.deepEqual(
        errors.map((line) =>
          line.replace(/^.*? ERROR Task "(\w+)" \S+ failed \(attempt 1\): (\w+): .*$/, "$1 $2")
        ),
        ["divide RangeError", "slow_report TaskTimeoutError"],
        quickstart.stderr,
      );
    } finally {
      await quickstart.kill();
    }
  },
);
