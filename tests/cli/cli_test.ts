/**
 * The `qtasks` command line, run as a process with the runtime under test (Deno, Bun or Node):
 * every command's output and exit code, errors included, against Redis. Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { readAppStats } from "../../mod.ts";
import { producerApp, REDIS_URL, repoPath, uniqueAppName } from "../support/e2e_env.ts";
import { runtimeName, type SpawnedProcess, spawnRuntime } from "../support/spawn_runtime.ts";

const CLI = repoPath("cli.ts");
const FIXTURE = repoPath("tests/cli/fixtures/app.ts");
const NO_APP = repoPath("tests/cli/fixtures/no_app.ts");
const POOL_FIXTURE = repoPath("tests/cli/fixtures/pool_app.ts");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The stdout lines that are not the fixture app's log lines. */
  out: string[];
}

/** Runs `qtasks ...args` to its end. */
async function qtasks(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawnRuntime(CLI, { args, env: { NO_COLOR: "1", ...env } });
  try {
    const code = await child.exitCode(30_000);
    return {
      code,
      stdout: child.stdout,
      stderr: child.stderr,
      out: child.lines.filter((line) => !line.startsWith("LOG ")),
    };
  } finally {
    await child.kill();
  }
}

/** Parses the one JSON line a `--json` run printed. */
function jsonOf(run: Run): unknown {
  const lines = run.out.filter((line) => line.trim() !== "");
  assert.equal(lines.length, 1, `one JSON line expected:\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(lines[0]);
}

/** Asserts a failed run printed exactly one `qtasks: ...` line on stderr. */
function assertOneErrorLine(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit code (stderr: ${run.stderr})`);
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `one error line expected, got:\n${run.stderr}`);
  assert.match(lines[0], /^qtasks: /);
  assert.match(lines[0], pattern);
}

test("qtasks --help lists the commands; no command or an unknown one is a usage error", async () => {
  const help = await qtasks(["--help"]);
  assert.equal(help.code, 0);
  for (const name of ["worker", "timer", "add", "get", "cancel", "inspect", "stats", "web"]) {
    assert.match(help.stdout, new RegExp(`^  ${name} `, "m"));
  }
  const none = await qtasks([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^Usage: qtasks <command>/);
  assertOneErrorLine(await qtasks(["frobnicate"]), 2, /unknown command "frobnicate"/);
});

test("every command has --help, which exits 0", async () => {
  for (const name of ["worker", "timer", "add", "get", "cancel", "inspect", "stats", "web"]) {
    const run = await qtasks([name, "--help"]);
    assert.equal(run.code, 0, name);
    assert.match(run.stdout, new RegExp(`^Usage: qtasks ${name}`), name);
  }
});

test("inspect describes the app, its tasks and one task, as text and as JSON", async () => {
  const env = { CLI_APP: uniqueAppName("cli-inspect"), CLI_REDIS_URL: REDIS_URL };
  const app = await qtasks(["inspect", "app", "--app", FIXTURE], env);
  assert.equal(app.code, 0, app.stderr);
  assert.match(app.stdout, new RegExp(`^app: +${env.CLI_APP}$`, "m"));
  assert.match(app.stdout, /^tasks: +add, fail, hang$/m);
  assert.match(app.stdout, /^ {2}statsIntervalMs = 200$/m);

  const info = jsonOf(await qtasks(["inspect", "app", "--json", "--app", FIXTURE], env)) as {
    name: string;
    backend: string;
    components: Record<string, string>;
    tasks: Array<{ name: string }>;
  };
  assert.equal(info.name, env.CLI_APP);
  assert.equal(info.backend, REDIS_URL.replace(/\/?$/, ""));
  assert.equal(info.components.broker, "RedisBroker");
  assert.deepEqual(info.tasks.map((t) => t.name), ["add", "fail", "hang"]);

  const tasks = await qtasks(["inspect", "tasks", "--app", FIXTURE], env);
  assert.match(tasks.stdout, /^add +0 +- +0 +no +adds two numbers$/m);
  const task = jsonOf(
    await qtasks(["inspect", "task", "hang", "--json", "-A", `${FIXTURE}:app`], env),
  );
  assert.deepEqual((task as { maxTime: number }).maxTime, 60_000);
  assertOneErrorLine(
    await qtasks(["inspect", "task", "nope", "--app", FIXTURE], env),
    1,
    /has no task "nope"/,
  );
  assertOneErrorLine(
    await qtasks(["inspect", "everything", "--app", FIXTURE], env),
    2,
    /app, tasks/,
  );
});

test("a worker started by the CLI runs tasks that add, get, cancel and stats see, and stops on SIGTERM", async () => {
  const name = uniqueAppName("cli-worker");
  const env = { CLI_APP: name, CLI_REDIS_URL: REDIS_URL };
  const backend = ["--redis", REDIS_URL, "--name", name];
  const worker = spawnRuntime(CLI, {
    args: ["worker", FIXTURE, "--concurrency", "3"],
    env,
  });
  const producer = producerApp(name);
  try {
    await worker.waitForLine(
      /^qtasks: worker of app "[^"]+" on .* running \(concurrency 3\)/,
      20_000,
    );

    const added = await qtasks(["add", "add", "--args", "[2, 3]", "--wait", "--json", ...backend]);
    assert.equal(added.code, 0, added.stderr);
    const record = jsonOf(added) as { uuid: string; status: string; returning: number };
    assert.equal(record.status, "success");
    assert.equal(record.returning, 5);

    const failed = await qtasks(
      ["add", "fail", "--args", '["boom"]', "--wait", "--app", FIXTURE],
      env,
    );
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^status: +error$/m);
    assert.match(
      failed.stderr,
      /^qtasks: task fail [0-9a-f-]{36} ended as error: TypeError: boom\n$/,
    );

    const queued = await qtasks(["add", "hang", ...backend]);
    assert.equal(queued.code, 0, queued.stderr);
    const [hangUuid] = queued.out;
    assert.match(hangUuid, /^[0-9a-f-]{36}$/);
    const cancelled = jsonOf(await qtasks(["cancel", hangUuid, "--json", ...backend])) as {
      outcome: string;
    };
    assert.ok(["cancelled", "cancelling"].includes(cancelled.outcome), cancelled.outcome);
    await producer.result(hangUuid).result({ timeoutMs: 10_000 });

    const got = await qtasks(["get", record.uuid, ...backend]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, new RegExp(`^uuid: +${record.uuid}$`, "m"));
    assert.match(got.stdout, /^result: +5$/m);
    const gotJson = jsonOf(await qtasks(["get", record.uuid, "--json", ...backend])) as {
      status: string;
      args: number[];
    };
    assert.deepEqual([gotJson.status, gotJson.args], ["success", [2, 3]]);
    assertOneErrorLine(
      await qtasks(["get", "00000000-0000-4000-8000-000000000000", ...backend]),
      1,
      /no task 00000000-0000-4000-8000-000000000000/,
    );

    // The worker reports every 200 ms (statsIntervalMs in the fixture): wait for the report of
    // all three tasks, then read the stats.
    await worker.waitForLine(/Worker stats reported \(3 processed, 1 failed in total\)/, 10_000);
    const stats = jsonOf(await qtasks(["stats", "--json", ...backend])) as Awaited<
      ReturnType<typeof readAppStats>
    >;
    assert.equal(stats.app, name);
    assert.equal(stats.processed, 3);
    assert.equal(stats.failed, 1);
    assert.deepEqual(stats.lastMinute, { processed: 3, failed: 1 });
    assert.equal(stats.queue.queued, 0);
    assert.equal(stats.workers.length, 1);
    const [alive] = stats.workers;
    assert.equal(alive.pid, worker.pid);
    assert.equal(alive.concurrency, 3);
    assert.equal(alive.processed, 3);
    assert.ok(alive.host.length > 0);
    assert.ok(alive.runtime.startsWith(`${runtimeName()} `), alive.runtime);

    const text = await qtasks(["stats", ...backend]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^workers: +1 alive$/m);
    assert.match(text.stdout, /^total: +3 processed, 1 failed$/m);
    assert.match(text.stdout, new RegExp(`^ {2}\\S+ +${worker.pid} +${runtimeName()} `, "m"));

    worker.signal("SIGTERM");
    assert.equal(await worker.exitCode(15_000), 0);
    assert.match(worker.stdout, /qtasks: worker of app "[^"]+" stopped/);
    assert.deepEqual((await readAppStats(producer)).workers, [], "a stopped worker leaves");
  } finally {
    await worker.kill();
    await producer.flushAll();
    await producer.stop();
  }
});

test("a worker started with --pool-size runs the app's tasks on threads and stops on SIGTERM", async () => {
  const name = uniqueAppName("cli-pool");
  const worker = spawnRuntime(CLI, {
    args: ["worker", `${POOL_FIXTURE}:app`, "--pool-size", "2", "--concurrency", "2"],
    env: { CLI_APP: name, CLI_REDIS_URL: REDIS_URL },
  });
  const producer = producerApp(name);
  try {
    await worker.waitForLine(
      /^qtasks: worker of app "[^"]+" on .* running \(concurrency 4\)/,
      30_000,
    );
    const added = await qtasks([
      "add",
      "where",
      "--args",
      "[21]",
      "--wait",
      "--json",
      "--redis",
      REDIS_URL,
      "--name",
      name,
    ]);
    assert.equal(added.code, 0, added.stderr);
    const record = jsonOf(added) as { status: string; returning: { thread: boolean; n: number } };
    assert.equal(record.status, "success");
    assert.deepEqual(record.returning, { thread: true, n: 42 });

    // While a task runs on the pool, the worker's stats count it as active (reported every
    // 50 ms by the fixture's statsIntervalMs).
    const held = await producer.addTask("hold", [60_000]);
    await held.result({ statuses: ["process"], timeoutMs: 10_000 });
    let active = 0;
    for (const deadline = Date.now() + 10_000; active !== 1 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // the next report
      active = (await readAppStats(producer)).workers[0]?.active ?? 0;
    }
    assert.equal(active, 1, "the pool's running task is reported as active");
    await held.cancel("done");
    assert.equal((await held.result({ timeoutMs: 10_000 })).status, "cancel");

    worker.signal("SIGTERM");
    assert.equal(await worker.exitCode(20_000), 0);
    assert.match(worker.stdout, /qtasks: worker of app "[^"]+" stopped/);
  } finally {
    await worker.kill();
    await producer.flushAll();
    await producer.stop();
  }
});

test("CLI errors are one line with exit code 1 or 2, and Redis URLs are redacted", async () => {
  const env = { CLI_APP: uniqueAppName("cli-errors"), CLI_REDIS_URL: REDIS_URL };
  assertOneErrorLine(
    await qtasks(["worker", NO_APP]),
    1,
    /^qtasks: \S*no_app\.ts has no QueueTasks export$/,
  );
  assertOneErrorLine(await qtasks(["timer", NO_APP]), 1, /no_app\.ts has no Timer export$/);
  assertOneErrorLine(
    await qtasks(["timer", repoPath("tests/cli/fixtures/memory_timer.ts")]),
    1,
    /uses the in-memory backend: a timer process would enqueue where no worker runs/,
  );
  assertOneErrorLine(
    await qtasks(["worker", `${FIXTURE}:missing`], env),
    1,
    /app\.ts has no export "missing"$/,
  );
  assertOneErrorLine(
    await qtasks(["worker", `${FIXTURE}:notAnApp`], env),
    1,
    /notAnApp is not a QueueTasks \(got Object\)$/,
  );
  assertOneErrorLine(await qtasks(["worker", "./does/not/exist.ts"]), 1, /cannot load/);
  assertOneErrorLine(await qtasks(["worker"]), 2, /worker needs one app module/);
  assertOneErrorLine(
    await qtasks(["worker", FIXTURE, "--pool-size", "0"], env),
    2,
    /--pool-size must be at least 1, got 0/,
  );
  assertOneErrorLine(
    await qtasks(["worker", FIXTURE, "--concurrency", "many"], env),
    2,
    /--concurrency needs an integer, got "many"/,
  );
  assertOneErrorLine(
    await qtasks(["add", "add", "--args", "{oops", "--app", FIXTURE], env),
    2,
    /--args is not valid JSON/,
  );
  assertOneErrorLine(
    await qtasks(["add", "add", "--args", '{"a": 1}', "--app", FIXTURE], env),
    2,
    /--args must be a JSON array/,
  );
  assertOneErrorLine(
    await qtasks(["add", "add", "--frob", "--app", FIXTURE], env),
    2,
    /unknown flag --frob/,
  );
  assertOneErrorLine(await qtasks(["add", "add"]), 2, /add needs the app: --app/);
  assertOneErrorLine(
    await qtasks(["inspect", "app", "--redis", REDIS_URL]),
    2,
    /needs the app module/,
  );

  const unreachable = await qtasks(
    ["get", "00000000-0000-4000-8000-000000000000", "--redis", "redis://qt:s3cret@127.0.0.1:1/0"],
    { QTASKS_BACKEND_TIMEOUT_MS: "300" },
  );
  assertOneErrorLine(
    unreachable,
    1,
    /^qtasks: Redis unreachable at redis:\/\/qt:\*\*\*@127\.0\.0\.1:1\/0$/,
  );
  assert.ok(!unreachable.stdout.includes("s3cret") && !unreachable.stderr.includes("s3cret"));

  // A malformed URL is a usage error, its password hidden.
  const malformed = await qtasks(["get", "1", "--redis", "redis://bob:hunter2@127.0.0.1:notaport"]);
  assertOneErrorLine(malformed, 2, /Cannot connect to redis:\/\/bob:\*\*\*@127\.0\.0\.1:notaport/);
  assert.ok(!malformed.stderr.includes("hunter2"), malformed.stderr);

  // Redis answered but refused the credentials: said so, not "unreachable".
  const refused = await qtasks(
    ["stats", "--redis", "redis://nobody:wrong-password@127.0.0.1:6379"],
    { QTASKS_BACKEND_TIMEOUT_MS: "1000" },
  );
  assertOneErrorLine(
    refused,
    1,
    /^qtasks: Redis at redis:\/\/nobody:\*\*\*@127\.0\.0\.1:6379 refused the connection: WRONGPASS/,
  );
  assert.ok(!refused.stderr.includes("wrong-password"));
});

test("two qtasks timer processes on one app enqueue each fire exactly once", async () => {
  const name = uniqueAppName("cli-timers");
  const env = { CLI_APP: name, CLI_REDIS_URL: REDIS_URL };
  const timers: SpawnedProcess[] = [0, 1].map(() =>
    spawnRuntime(CLI, { args: ["timer", `${FIXTURE}:timer`], env })
  );
  const producer = producerApp(name);
  const enqueued = /^LOG info Timer: enqueued add ([0-9a-f-]{36}) for (\S+)$/;
  try {
    for (const timer of timers) {
      await timer.waitForLine(/^qtasks: timer of app .* running 1 schedule;/, 20_000);
    }
    // Both run now: wait (on their output) until three more fires were enqueued, by either.
    const count = (timer: SpawnedProcess) => timer.lines.filter((l) => enqueued.test(l)).length;
    const fires = () =>
      timers.flatMap((t) => t.lines.map((line) => line.match(enqueued)).filter((m) => m !== null));
    const target = fires().length + 3;
    while (fires().length < target) {
      // Losing waiters end when their process ends; their errors are kept, not left unhandled.
      const outcome = await Promise.race(
        timers.map((t) => t.waitForLines(enqueued, count(t) + 1, 15_000).catch((e: Error) => e)),
      );
      if (outcome instanceof Error) throw outcome;
    }
    for (const timer of timers) {
      timer.signal("SIGTERM");
      assert.equal(await timer.exitCode(15_000), 0, timer.describe());
    }
    const all = fires();
    assert.ok(all.length >= 3, `at least 3 fires, got ${all.length}`);
    const times = all.map((m) => m[2]);
    assert.equal(new Set(times).size, times.length, `a fire enqueued twice: ${times.sort()}`);
    assert.equal(new Set(all.map((m) => m[1])).size, all.length);
    const stats = await readAppStats(producer);
    assert.equal(stats.queue.queued, all.length, "the queue holds one task per fire");
  } finally {
    for (const timer of timers) await timer.kill();
    await producer.flushAll();
    await producer.stop();
  }
});
