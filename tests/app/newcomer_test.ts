/**
 * What a newcomer meets in the first hour (issue 24): the backend is never picked silently, waits
 * say why they cannot end, typos in task names are refused at enqueue, a broker and its storage
 * cannot split across servers, failed runs are logged, a worker started while Redis is down keeps
 * trying and still stops at once, records carry their attempt. Memory and Redis where both apply.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import {
  ConfigError,
  type Logger,
  QueueTasks,
  ResultTimeoutError,
  type TaskContext,
  TaskNotFoundError,
  UnknownTaskError,
} from "../../mod.ts";
import { RedisBroker, RedisStorage } from "../../src/backends/redis/mod.ts";
import { runCli } from "../../src/cli/main.ts";
import type { CliContext } from "../../src/cli/cli_context.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";
import { backendApp, backendLabel, BACKENDS } from "../support/with_app.ts";

/** A logger that keeps every line, as `LEVEL message`. */
function recordingLogger(): Logger & { lines: string[]; waitFor(pattern: RegExp): Promise<void> } {
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const write = (level: string) => (message: string) => {
    lines.push(`${level} ${message}`);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  return {
    lines,
    debug: () => {},
    info: write("INFO"),
    warn: write("WARN"),
    error: write("ERROR"),
    waitFor(pattern) {
      if (lines.some((line) => pattern.test(line))) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}

/** A Redis URL where nothing listens (a port closed a moment ago). */
function deadRedisUrl(password = ""): string {
  return `redis://${password ? `:${password}@` : ""}127.0.0.1:1/0`;
}

/** Runs `body` with the environment variable `name` set to `value` (or unset). */
async function withEnv(name: string, value: string | undefined, body: () => unknown) {
  const before = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    await body();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

test("a brokerUrl key that is present but undefined or empty is a ConfigError, never memory", () => {
  for (const brokerUrl of [undefined, ""]) {
    assert.throws(
      () => new QueueTasks({ name: "newcomer-empty-url", brokerUrl, env: false }),
      (error: unknown) =>
        error instanceof ConfigError && error.field === "brokerUrl" &&
        /Cannot create app "newcomer-empty-url": brokerUrl is empty/.test(error.message),
    );
  }
  // Without the key, the in-memory backend, as documented.
  const app = new QueueTasks({ name: "newcomer-no-url", env: false });
  assert.equal(app.broker.constructor.name, "MemoryBroker");
});

test("QTASKS_BROKER_URL picks the Redis backend like the other QTASKS_* settings; empty is refused", async () => {
  await withEnv("QTASKS_BROKER_URL", testRedisUrl(), async () => {
    const app = new QueueTasks({ name: uniqueName("newcomer-env-url") });
    try {
      assert.equal(app.broker.constructor.name, "RedisBroker");
      assert.equal(await app.ping({ server: false }), true);
    } finally {
      await app.stop();
    }
    // env: false ignores it; an explicit brokerUrl or broker wins over it.
    const memory = new QueueTasks({ name: "newcomer-env-off", env: false });
    assert.equal(memory.broker.constructor.name, "MemoryBroker");
  });
  await withEnv("QTASKS_BROKER_URL", "", () => {
    assert.throws(
      () => new QueueTasks({ name: "newcomer-env-empty" }),
      (error: unknown) =>
        error instanceof ConfigError && /QTASKS_BROKER_URL is set but empty/.test(error.message),
    );
  });
});

test("an app logs its backend at start, and runForever on memory warns that no other process reaches it", async () => {
  const logger = recordingLogger();
  const app = new QueueTasks({ name: "newcomer-memory-log", env: false, logger });
  const stop = new AbortController();
  const running = app.runForever({ exit: false, signal: stop.signal });
  await logger.waitFor(/Worker .* started/);
  stop.abort();
  await running;
  assert.ok(
    logger.lines.includes(
      'INFO App "newcomer-memory-log" starting on memory (this process only)',
    ),
    logger.lines.join("\n"),
  );
  assert.ok(
    logger.lines.some((line) =>
      /^WARN App "newcomer-memory-log" runs on the in-memory backend: no other process can reach its tasks/
        .test(line)
    ),
    logger.lines.join("\n"),
  );

  const redisLogger = recordingLogger();
  const redis = new QueueTasks({
    name: uniqueName("newcomer-redis-log"),
    brokerUrl: testRedisUrl(),
    env: false,
    logger: redisLogger,
  });
  await redis.start();
  await redis.stop();
  assert.ok(
    redisLogger.lines.some((line) =>
      line.startsWith(`INFO App "${redis.name}" starting on redis://`)
    ),
  );
  assert.ok(!redisLogger.lines.some((line) => /in-memory/.test(line)));
});

test("a worker started while Redis is down keeps trying with one line per attempt, and a signal ends it during the wait between attempts", async () => {
  const logger = recordingLogger();
  const app = new QueueTasks({
    name: uniqueName("newcomer-redis-down"),
    brokerUrl: deadRedisUrl("hunter2"),
    env: false,
    logger,
    config: { backendTimeoutMs: 200 },
  });
  const stop = new AbortController();
  const running = app.runForever({ exit: false, signal: stop.signal });
  await logger.waitFor(/^Cannot start \(attempt 2\)/);
  stop.abort();
  await running;
  const attempts = logger.lines.filter((line) => / Cannot start \(attempt \d+\)/.test(line));
  assert.ok(attempts.length >= 2, logger.lines.join("\n"));
  assert.match(
    attempts[0],
    /^WARN Cannot start \(attempt 1\): .*redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0.* trying again in 1000 ms/,
  );
  assert.match(attempts[1], /attempt 2\).* trying again in 2000 ms/);
  // The node-redis reconnect errors are not repeated line after line.
  const connection = logger.lines.filter((line) => /\(connection\)/.test(line));
  assert.equal(new Set(connection).size, connection.length, logger.lines.join("\n"));
  assert.ok(!logger.lines.join("\n").includes("hunter2"), "the password is never logged");
  await app.stop();
});

test("a signal while the first connection attempt is still in flight stops the worker before that attempt ends", async () => {
  const logger = recordingLogger();
  const app = new QueueTasks({
    name: uniqueName("newcomer-redis-down-signal"),
    brokerUrl: deadRedisUrl(),
    env: false,
    logger,
    config: { backendTimeoutMs: 1_000 },
  });
  const stop = new AbortController();
  const running = app.runForever({ exit: false, signal: stop.signal });
  await logger.waitFor(/starting on redis:/);
  stop.abort();
  await running;
  // It returned before the attempt in flight gave up (which logs "Cannot start (attempt 1)").
  assert.ok(!logger.lines.some((line) => /Cannot start/.test(line)), logger.lines.join("\n"));
  await app.stop(); // returns at once too: the abandoned attempt is cleaned up when it settles
});

test("retryStart: false fails at once with the BackendError", async () => {
  const app = new QueueTasks({
    name: uniqueName("newcomer-no-retry"),
    brokerUrl: deadRedisUrl(),
    env: false,
    logger: recordingLogger(),
    config: { backendTimeoutMs: 200 },
  });
  await assert.rejects(app.runForever({ exit: false, retryStart: false }), /Cannot reach Redis/);
  await app.stop();
});

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, awaiting an unknown uuid fails at once with TaskNotFoundError`, async () => {
    const app = backendApp(backend, "newcomer-not-found");
    try {
      // Long timeout: waiting it out would be a ResultTimeoutError, 30 s later.
      await assert.rejects(
        app.result(crypto.randomUUID()).result({ timeoutMs: 30_000 }),
        (error: unknown) =>
          error instanceof TaskNotFoundError && error.code === "TASK_NOT_FOUND" &&
          new RegExp(`in app "${app.name}"`).test(error.message),
      );
    } finally {
      await app.stop();
    }
  });

  test(`${label}, a wait with no worker running says so in its timeout error, and warns once early`, async () => {
    const logger = recordingLogger();
    const app = new QueueTasks({
      name: uniqueName("newcomer-no-worker"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
    });
    app.task("noop", () => null);
    try {
      const job = await app.addTask("noop");
      const jobs = [job, await app.addTask("noop")];
      const errors = await Promise.all(
        jobs.map((j) => j.result({ timeoutMs: 400 }).then(() => undefined, (error) => error)),
      );
      for (const error of errors) {
        assert.ok(error instanceof ResultTimeoutError);
        assert.equal(error.workerRunning, false);
        assert.match(error.message, /\(status: new\); no worker of app ".*" is running/);
      }
      const warnings = logger.lines.filter((line) => /no worker of app/.test(line));
      assert.equal(warnings.length, 1, logger.lines.join("\n"));
      assert.match(warnings[0], /^WARN Waiting for task .*, but no worker of app/);
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, a wait that times out while a worker runs does not blame the worker`, async () => {
    const logger = recordingLogger();
    const app = new QueueTasks({
      name: uniqueName("newcomer-worker-busy"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
    });
    const release = deferred();
    const hold = app.task("hold", () => release.promise);
    await app.start();
    try {
      const job = await hold.addTask();
      const error = await job.result({ timeoutMs: 400 }).then(() => undefined, (e) => e);
      assert.ok(error instanceof ResultTimeoutError);
      assert.equal(error.workerRunning, true);
      assert.doesNotMatch(error.message, /no worker/);
      assert.ok(!logger.lines.some((line) => /no worker/.test(line)));
      release.resolve();
      await job.result({ timeoutMs: 5_000 });
    } finally {
      release.resolve();
      await app.worker.stop({ graceMs: 1_000 });
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, an app with tasks refuses an unknown name at enqueue, with a did-you-mean hint`, async () => {
    const app = backendApp(backend, "newcomer-typo");
    app.task("send_email", (to: string) => to);
    app.task("resize", () => null);
    try {
      for (
        const call of [
          () => app.addTask("send_emial", ["a"]),
          () => app.addTasks("send_emial", [["a"]]),
        ]
      ) {
        await assert.rejects(
          call(),
          (error: unknown) =>
            error instanceof UnknownTaskError && error.code === "UNKNOWN_TASK" &&
            /^Cannot add task "send_emial": no task is registered under that name \(did you mean "send_email"\?\)/
              .test(error.message),
        );
      }
      await assert.rejects(app.addTask("zzzzzzzzzzzz"), /registered: "send_email", "resize"/);
      assert.deepEqual(await app.broker.storage.getAll(), []);

      // A producer that registers nothing may still send any name.
      const producer = backendApp(backend, "newcomer-typo-producer");
      try {
        const job = await producer.addTask("defined_elsewhere");
        assert.equal((await job.get())?.taskName, "defined_elsewhere");
      } finally {
        await producer.flushAll();
        await producer.stop();
      }
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, a failed run is logged once per attempt, without its arguments and on one line`, async () => {
    const logger = recordingLogger();
    const app = new QueueTasks({
      name: uniqueName("newcomer-failed-log"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
    });
    const flaky = app.task(
      { name: "flaky", retry: 1, backoff: { type: "fixed", delayMs: 0 } },
      (_secret: string) => {
        throw new RangeError("bad\ninput\u001b[31m");
      },
    );
    await app.start();
    try {
      const job = await flaky.addTask("s3cret-argument");
      const record = await job.result({ timeoutMs: 10_000 });
      assert.equal(record.status, "error");
      const lines = logger.lines.filter((line) => /Task "flaky"/.test(line));
      assert.deepEqual(lines, [
        `WARN Task "flaky" ${job.uuid} failed (attempt 1, retried in 0 ms): RangeError: bad\\ninput\\u001b[31m`,
        `ERROR Task "flaky" ${record.uuid} failed (attempt 2): RangeError: bad\\ninput\\u001b[31m`,
      ]);
      assert.ok(!logger.lines.join("\n").includes("s3cret-argument"));
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, logTaskErrors: false silences the failed-run lines`, async () => {
    const logger = recordingLogger();
    const app = new QueueTasks({
      name: uniqueName("newcomer-failed-quiet"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
      config: { logTaskErrors: false },
    });
    const fail = app.task("fail", () => {
      throw new Error("quiet");
    });
    await app.start();
    try {
      assert.equal((await (await fail.addTask()).result({ timeoutMs: 10_000 })).status, "error");
      assert.ok(!logger.lines.some((line) => /Task "fail"/.test(line)), logger.lines.join("\n"));
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, a record's attempt is 1 on the first run, as the context's`, async () => {
    const app = backendApp(backend, "newcomer-attempt");
    const seen = app.task({ name: "seen", echo: true }, (ctx: TaskContext) => ctx.attempt);
    await app.start();
    try {
      const job = await seen.addTask();
      const record = await job.result({ timeoutMs: 10_000 });
      assert.equal(record.returning, 1);
      assert.equal(record.attempt, 1);
      assert.equal((await job.get())?.attempt, 1);
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });
}

test("a RedisBroker refuses a storage on another Redis database or server, and takes one on the same", () => {
  const base = new URL(testRedisUrl());
  const onDb = (db: number) => {
    const url = new URL(base);
    url.pathname = `/${db}`;
    return url.toString();
  };
  const name = uniqueName("newcomer-split");
  for (const storageUrl of [onDb(3), onDb(4).replace(/:\d+\//, ":6390/")]) {
    assert.throws(
      () =>
        new RedisBroker({
          name,
          url: onDb(2),
          storage: new RedisStorage({ name, url: storageUrl }),
        }),
      (error: unknown) =>
        error instanceof ConfigError && error.field === "storage" &&
        /the broker is on .* and its storage on .*; the broker's scripts write the records/.test(
          error.message,
        ),
    );
  }
  // The same server and database, spelled differently, or the storage's own connection: fine.
  new RedisBroker({
    name,
    url: onDb(0).replace("127.0.0.1", "localhost"),
    storage: new RedisStorage({ name, url: onDb(0) }),
  });
  new RedisBroker({ name, storage: new RedisStorage({ name, url: onDb(2) }) });
});

/** A CLI context that captures the output and imports `module` for every app module. */
function cliContext(importModule: (url: string) => Promise<Record<string, unknown>>) {
  const output = { out: "", err: "" };
  const context: CliContext = {
    out: (text) => Promise.resolve(void (output.out += text)),
    err: (text) => Promise.resolve(void (output.err += text)),
    isTerminal: () => false,
    env: () => undefined,
    importModule,
  };
  return { context, output };
}

test("qtasks add --app refuses a task name the app does not register, with the closest one", async () => {
  const app = new QueueTasks({
    name: uniqueName("newcomer-cli-typo"),
    brokerUrl: testRedisUrl(),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  app.task("send_email", (to: string) => to);
  const { context, output } = cliContext(() => Promise.resolve({ app }));
  const code = await runCli(["add", "send_emal", "--args", '["a"]', "--app", "./app.ts"], context);
  assert.equal(code, 2, output.err);
  assert.match(output.err, /^qtasks: Cannot add task "send_emal": .*did you mean "send_email"\?/);
});

test("qtasks says what to do when this Node cannot import a .ts app module", async () => {
  const { context, output } = cliContext(() => {
    const error = new TypeError('Unknown file extension ".ts" for /srv/app.ts') as TypeError & {
      code: string;
    };
    error.code = "ERR_UNKNOWN_FILE_EXTENSION";
    return Promise.reject(error);
  });
  const code = await runCli(["worker", "./app.ts"], context);
  assert.equal(code, 1);
  const lines = output.err.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, output.err);
  assert.match(
    lines[0],
    /^qtasks: cannot load \.\/app\.ts: Unknown file extension "\.ts".*Node 22\.18 or later.*compile the module to JavaScript.*tsx/,
  );
});
