/**
 * The operator's commands (list, retry, delete, clean, drain, pause, resume, events, logs), run
 * as processes with the runtime under test against an app whose worker runs in this process:
 * their output, exit codes and `--all` guards. Needs Redis at redis://127.0.0.1:6379, or at
 * QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TaskContext } from "../../mod.ts";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { producerApp, REDIS_URL, repoPath, uniqueAppName } from "../support/e2e_env.ts";
import { spawnRuntime } from "../support/spawn_runtime.ts";

const CLI = repoPath("cli.ts");
const COMMANDS = ["list", "retry", "delete", "clean", "drain", "pause", "resume", "events", "logs"];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function qtasks(args: string[]): Promise<Run> {
  const child = spawnRuntime(CLI, { args, env: { NO_COLOR: "1" } });
  try {
    const code = await child.exitCode(30_000);
    return { code, stdout: child.stdout, stderr: child.stderr };
  } finally {
    await child.kill();
  }
}

function assertFails(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit code (stderr: ${run.stderr})`);
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `one error line expected, got:\n${run.stderr}`);
  assert.match(lines[0], /^qtasks: /);
  assert.match(lines[0], pattern);
}

/** An app with a worker in this process: `ok` succeeds, `bad` logs and fails, `later` too. */
function opsApp(name: string) {
  const app = producerApp(name);
  app.task("ok", (n: number) => n);
  app.task({ name: "bad", echo: true, retry: 0 }, async (ctx: TaskContext, why: string) => {
    await ctx.log(`about to fail: ${why}`, "warn");
    throw new RangeError(why);
  });
  app.task("later", (n: number) => n);
  return app;
}

test("the operator's commands are listed by qtasks --help and each has --help, which exits 0", async () => {
  const help = await qtasks(["--help"]);
  for (const name of COMMANDS) {
    assert.match(help.stdout, new RegExp(`^  ${name} `, "m"), name);
    const run = await qtasks([name, "--help"]);
    assert.equal(run.code, 0, name);
    assert.match(run.stdout, new RegExp(`^Usage: qtasks ${name}`), name);
  }
});

test("list, logs, retry, delete, clean and drain work from another process, with their exit codes", async () => {
  const name = uniqueAppName("cli-ops");
  const backend = ["--redis", REDIS_URL, "--name", name];
  const app = opsApp(name);
  await app.start();
  try {
    const good = await app.addTask("ok", [1]);
    await good.result();
    const bad = await app.addTask("bad", ["negative"]);
    assert.equal((await bad.result()).status, "error");

    const errors = await qtasks(["list", "--status", "error", "--json", ...backend]);
    assert.equal(errors.code, 0, errors.stderr);
    const page = JSON.parse(errors.stdout) as { records: Array<{ uuid: string }> };
    assert.deepEqual(page.records.map((r) => r.uuid), [bad.uuid]);
    const text = await qtasks(["list", ...backend]);
    assert.match(text.stdout, /^UUID\s+TASK\s+STATUS/);
    assert.match(text.stdout, new RegExp(`${bad.uuid}\\s+bad\\s+error`));
    const counts = await qtasks(["list", "--counts", "--json", ...backend]);
    assert.equal(JSON.parse(counts.stdout).byStatus.error, 1);
    // QTasks' uuids begin with their time (version 7): a prefix that tells two tasks apart runs
    // into the random part, after the third dash.
    const found = await qtasks(["list", "--uuid", bad.uuid.slice(0, 21), "--json", ...backend]);
    assert.deepEqual(JSON.parse(found.stdout).records.map((r: { uuid: string }) => r.uuid), [
      bad.uuid,
    ]);

    const logs = await qtasks(["logs", bad.uuid, ...backend]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /warn\s+about to fail: negative/);

    const retried = await qtasks(["retry", bad.uuid, "--json", ...backend]);
    assert.equal(retried.code, 0, retried.stderr);
    const child = (JSON.parse(retried.stdout) as { retry: string }).retry;
    assert.equal((await app.result(bad.uuid).result()).uuid, child, "the retry ran");
    assertFails(await qtasks(["retry", bad.uuid, ...backend]), 1, /TASK_STATE|its status is retry/);
    assertFails(await qtasks(["retry", crypto.randomUUID(), ...backend]), 1, /no task/);
    assertFails(await qtasks(["retry", ...backend]), 2, /--all/);

    assertFails(await qtasks(["clean", "--status", "success", ...backend]), 2, /--all/);
    const cleaned = await qtasks(["clean", "--status", "success", "--all", "--json", ...backend]);
    assert.deepEqual(JSON.parse(cleaned.stdout), { deleted: 1 });
    assert.equal(await app.get(good.uuid), undefined);

    await app.ops.pause();
    const waiting = await app.addTask("later", [1]);
    const gone = await app.addTask("later", [2]);
    const deleted = await qtasks(["delete", gone.uuid, crypto.randomUUID(), ...backend]);
    assert.equal(deleted.code, 1, "one uuid was unknown");
    assert.match(deleted.stdout, new RegExp(`deleted ${gone.uuid}`));
    assertFails(await qtasks(["drain", ...backend]), 2, /--all/);
    const drained = await qtasks(["drain", "--all", ...backend]);
    assert.equal(drained.stdout, "deleted 1\n");
    assert.equal(await app.get(waiting.uuid), undefined);
    assertFails(await qtasks(["list", "--cursor", "nope", ...backend]), 2, /cursor/);
  } finally {
    await app.flushAll();
    await app.stop();
  }
});

test("pause and resume from the command line hold a task name back from a running worker", async () => {
  const name = uniqueAppName("cli-pause");
  const backend = ["--redis", REDIS_URL, "--name", name];
  const app = opsApp(name);
  await app.start();
  try {
    const paused = await qtasks(["pause", "later", ...backend]);
    assert.equal(paused.stdout, "paused: later\n");
    assertFails(await qtasks(["pause", ...backend]), 2, /--all/);
    const held = await app.addTask("later", [1]);
    assert.equal(await (await app.addTask("ok", [2])).value(), 2);
    assert.equal((await app.get(held.uuid))?.status, "new");
    const resumed = await qtasks(["resume", "later", "--json", ...backend]);
    assert.deepEqual(JSON.parse(resumed.stdout), { app: false, taskNames: [] });
    assert.equal(await held.value(), 1);
  } finally {
    await app.flushAll();
    await app.stop();
  }
});

test("events follows the stream as JSON lines until SIGINT, then exits 0", async () => {
  const name = uniqueAppName("cli-events");
  const app = opsApp(name);
  const probe = new RedisBroker({ name: `${name}-probe`, url: REDIS_URL });
  const events = spawnRuntime(CLI, {
    args: ["events", "--json", "--task", "ok", "--redis", REDIS_URL, "--name", name],
    env: { NO_COLOR: "1" },
  });
  await app.start();
  try {
    // Subscribed once the stream channel counts a subscriber.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const reply = await probe.connection.command(["PUBSUB", "NUMSUB", `{${name}}:stream`]);
      if (Number((reply as unknown[])[1]) > 0) break;
      assert.ok(Date.now() < deadline, `events never subscribed: ${events.describe()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await (await app.addTask("bad", ["x"])).result();
    const job = await app.addTask("ok", [7]);
    await job.result();
    const lines = await events.waitForLines(/^\{.*\}$/, 3);
    assert.deepEqual(
      lines.map(([line]) => {
        const event = JSON.parse(line);
        return [event.uuid, event.taskName, event.status, typeof event.at];
      }),
      [
        [job.uuid, "ok", "queued", "string"],
        [job.uuid, "ok", "running", "string"],
        [job.uuid, "ok", "success", "string"],
      ],
    );
    events.signal("SIGINT");
    assert.equal(await events.exitCode(10_000), 0);
  } finally {
    await events.kill();
    await probe.stop();
    await app.flushAll();
    await app.stop();
  }
});
