import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { InvalidPayloadError, QueueTasks, type TaskContext, ValidationError } from "../../mod.ts";
import type { ArgsSchema } from "../../src/ports/mod.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";

const signupSchema = z.tuple([z.email(), z.number().int().min(18)]);

for (const backend of ["memory", "redis"] as const) {
  const label = backend === "memory" ? "In memory" : "On Redis";
  const makeApp = () =>
    new QueueTasks({
      name: uniqueName("schema"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      config: { logsDefaultLevel: "silent" },
    });

  test(`${label}, addTask rejects arguments the schema refuses with a ValidationError naming each path, and stores nothing`, async () => {
    const app = makeApp();
    const signup = app.task(
      { name: "signup", schema: signupSchema },
      (email, age) => `${email} (${age})`,
    );
    try {
      const uuid = crypto.randomUUID();
      const error = await signup.withOptions({ uuid }).addTask("not-an-email", 12.5).then(
        () => assert.fail("addTask should reject"),
        (error: unknown) => error,
      );
      assert.ok(error instanceof ValidationError);
      assert.ok(error instanceof InvalidPayloadError, "an InvalidPayloadError too");
      assert.equal(error.code, "INVALID_ARGUMENTS");
      assert.match(error.message, /^Cannot add task "signup": invalid arguments: /);
      assert.match(error.message, /args\[0\]: Invalid email address/);
      assert.match(error.message, /args\[1\]: /);
      assert.deepEqual(error.issues.map((issue) => issue.path), [[0], [1]]);
      // By name, and in bulk (one bad task refuses the batch).
      await assert.rejects(app.addTask("signup", ["ada@example.com"]), ValidationError);
      await assert.rejects(
        signup.addTasks([["ada@example.com", 36], ["bob@example.com", "36" as never]]),
        (rejected: unknown) =>
          rejected instanceof ValidationError && /args\[1\]: /.test(rejected.message),
      );
      assert.equal(await app.get(uuid), undefined);
      assert.deepEqual(await app.broker.storage.getAll(), [], "nothing was stored");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, a worker refuses stored arguments the schema rejects: the task ends as error, the worker goes on`, async () => {
    const app = makeApp();
    const signup = app.task(
      { name: "signup", schema: signupSchema },
      (email, age) => `${email} (${age})`,
    );
    await app.start();
    try {
      // As another producer would send it: straight to the broker, never validated.
      const uuid = crypto.randomUUID();
      await app.broker.add({
        uuid,
        taskName: "signup",
        priority: 0,
        args: JSON.stringify(["ada", 40]),
        kwargs: "{}",
        extra: {},
      });
      const record = await app.result(uuid).result({ timeoutMs: 5_000 });
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "ValidationError");
      assert.equal(record.error?.code, "INVALID_ARGUMENTS");
      assert.match(
        record.error?.message ?? "",
        /^Cannot run task "signup": invalid arguments: args\[0\]: Invalid email address$/,
      );
      const good = await signup.addTask("ada@example.com", 40);
      assert.equal(await good.value({ timeoutMs: 5_000 }), "ada@example.com (40)");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });
}

test("the function receives the schema's output, and addTask takes its input", async () => {
  const app = new QueueTasks({
    name: uniqueName("schema-output"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const resize = app.task(
    {
      name: "resize",
      echo: true,
      schema: z.tuple([
        z.object({
          url: z.url(),
          width: z.coerce.number().int(),
          fit: z.string().default("cover"),
        }),
      ]),
    },
    (ctx: TaskContext, image) => ({ ...image, task: ctx.taskName, double: image.width * 2 }),
  );
  await app.start();
  try {
    const job = await resize.addTask({ url: "https://example.com/a.png", width: "640" });
    assert.deepEqual(await job.value({ timeoutMs: 5_000 }), {
      url: "https://example.com/a.png",
      width: 640,
      fit: "cover",
      task: "resize",
      double: 1280,
    });
    assert.deepEqual((await job.get())?.args, [{ url: "https://example.com/a.png", width: "640" }]);
    await assert.rejects(
      resize.addTask({ url: "nope", width: "wide" }),
      (error: unknown) =>
        error instanceof ValidationError &&
        /args\[0\]\.url: /.test(error.message) && /args\[0\]\.width: /.test(error.message),
    );
    assert.equal((await resize.call({ url: "https://example.com/b.png", width: 2 })).fit, "cover");
  } finally {
    await app.stop();
  }
});

test("argument types flow from the schema into addTask and the function", async () => {
  const app = new QueueTasks({
    name: uniqueName("schema-types"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const signup = app.task({ name: "signup", schema: signupSchema }, (email, age) => {
    const lower: string = email.toLowerCase();
    const next: number = age + 1;
    return { lower, next };
  });
  const variadic = app.task(
    { name: "sum", schema: z.array(z.number()) },
    (...values) => values.reduce((a, b) => a + b, 0),
  );
  await app.start();
  try {
    const job = await signup.addTask("Ada@Example.com", 36);
    const value: { lower: string; next: number } = await job.value({ timeoutMs: 5_000 });
    assert.deepEqual(value, { lower: "ada@example.com", next: 37 });
    assert.equal(await (await variadic.addTask(1, 2, 3)).value({ timeoutMs: 5_000 }), 6);
    // Wrong arguments are compile errors (deno check runs on this file); at run time they are
    // refused all the same.
    // @ts-expect-error: the age must be a number
    await assert.rejects(signup.addTask("ada@example.com", "36"), ValidationError);
    // @ts-expect-error: both arguments are required
    await assert.rejects(signup.addTask("ada@example.com"), ValidationError);
    // @ts-expect-error: only numbers
    await assert.rejects(variadic.addTask(1, "2"), ValidationError);
    if (false as boolean) {
      // @ts-expect-error: the function must agree with the schema
      app.task({ name: "disagrees", schema: signupSchema }, (email: number) => email);
    }
  } finally {
    await app.stop();
  }
});

test("schema and generateHandler of the wrong kind, and asynchronous schemas, are refused", async () => {
  const app = new QueueTasks({ name: uniqueName("schema-misuse"), env: false });
  assert.throws(
    () => app.task({ name: "a", schema: {} as never }, () => 1),
    /Cannot register task "a": schema must be a Standard Schema/,
  );
  assert.throws(
    () => app.task({ name: "b", generateHandler: 5 as never }, () => 1),
    /Cannot register task "b": generateHandler must be a function/,
  );
  const lazy = app.task(
    { name: "lazy", schema: z.tuple([z.string().refine(() => Promise.resolve(true))]) },
    (text) => text,
  );
  await assert.rejects(lazy.addTask("x"), /its schema validates asynchronously/);
  // Typed as a list, but its output is an object: refused when it runs.
  const notList = z.tuple([z.string()]).transform(([text]) => ({ text })) as unknown as ArgsSchema<
    [string]
  >;
  const wrapped = app.task({ name: "not_list", schema: notList }, (text) => text);
  await assert.rejects(wrapped.call("ok"), /its schema must describe the argument list/);
  await app.stop();
});

test("ValidationError lists at most ten issues and counts the rest", () => {
  const issues = Array.from({ length: 12 }, (_, index) => ({ path: [index], message: "bad" }));
  const error = new ValidationError('Cannot add task "x"', issues);
  assert.match(error.message, /args\[9\]: bad; and 2 more$/);
  assert.equal(error.issues.length, 12);
  assert.equal(
    new ValidationError("c", [{ path: [0, "a b", 2], message: "m" }]).message,
    'c: invalid arguments: args[0]["a b"][2]: m',
  );
});
