/**
 * The PostgreSQL backend through the app: `brokerUrl: "postgres://…"`, transactional enqueue
 * (commit and rollback), migrations by two processes at once, and the typed errors of bad input.
 * Each test works in a schema of its own and drops it. Needs PostgreSQL at
 * QTASKS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * @module
 */
import { MIGRATIONS } from "../../src/backends/postgres/_migrations.ts";
import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueTasks } from "../../mod.ts";
import {
  PostgresBackendError,
  PostgresBroker,
  PostgresConnection,
  SCHEMA_VERSION,
} from "../../src/backends/postgres/mod.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";
import { componentContext } from "../contract/broker_contract.ts";

const url = testPostgresUrl();

/** Runs `body` with a fresh schema name; drops the schema afterwards. */
async function withSchema(body: (schema: string) => Promise<void>): Promise<void> {
  const schema = uniqueSchema("app");
  try {
    await body(schema);
  } finally {
    const admin = new PostgresConnection({ url, schema });
    admin.acquire();
    try {
      await admin.sql.unsafe(`drop schema if exists "${schema}" cascade`);
    } finally {
      await admin.release();
    }
  }
}

/** The URL with `?schema=` set. */
function urlWithSchema(schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("schema", schema);
  return parsed.href;
}

test("an app with a postgres:// brokerUrl runs a task and pushes its result", () =>
  withSchema(async (schema) => {
    const app = new QueueTasks({ name: "pg-app", brokerUrl: urlWithSchema(schema) });
    app.task("add", (a: number, b: number) => a + b);
    await app.start();
    try {
      const result = await app.addTask("add", [2, 3]);
      assert.equal(await result.value({ timeoutMs: 10_000 }), 5);
    } finally {
      await app.flushAll();
      await app.stop();
    }
  }));

test("the lazily loaded PostgreSQL backend passes its global config's heartbeats on", () =>
  withSchema(async (schema) => {
    const app = new QueueTasks({
      name: "pg-heartbeats",
      brokerUrl: urlWithSchema(schema),
      config: { globalConfigStatusSetPeriodicMs: 100, logsDefaultLevel: "silent" },
    });
    const globalConfig = app.broker.storage.globalConfig;
    assert.ok(globalConfig?.watchHeartbeats);
    const beat = new Promise<void>((resolve) => {
      const stop = globalConfig.watchHeartbeats!(() => {
        stop();
        resolve();
      });
    });
    await app.start();
    try {
      await beat;
    } finally {
      await app.flushAll();
      await app.stop();
    }
  }));

test("a task added in a transaction becomes visible when the transaction commits", () =>
  withSchema(async (schema) => {
    const broker = new PostgresBroker({ name: "pg-tx", url, schema });
    const app = new QueueTasks({ name: "pg-tx", broker });
    app.task("noop", () => 1);
    try {
      await broker.connection.ready();
      const sql = broker.connection.sql;
      let uuid = "";
      await sql.begin(async (tx) => {
        uuid = (await app.addTask("noop", [], { tx })).uuid;
        const other = await broker.get(uuid);
        assert.equal(other, undefined, "not visible outside the transaction before commit");
      });
      assert.equal((await broker.get(uuid))?.status, "new");
    } finally {
      await app.flushAll();
      await broker.stop();
    }
  }));

test("tasks and flows added in a transaction that rolls back are gone", () =>
  withSchema(async (schema) => {
    const broker = new PostgresBroker({ name: "pg-rollback", url, schema });
    const app = new QueueTasks({ name: "pg-rollback", broker });
    const noop = app.task("noop", () => 1);
    const inc = app.task("inc", (n: number) => n + 1);
    try {
      await broker.connection.ready();
      let uuids: string[] = [];
      await assert.rejects(
        broker.connection.sql.begin(async (tx) => {
          uuids.push((await app.addTask("noop", [], { tx })).uuid);
          uuids = uuids.concat(
            (await app.addTasks("noop", [[], []], { tx })).map((result) => result.uuid),
          );
          uuids.push((await app.chain(noop.s()).pipe(inc).addTask({ tx })).uuid);
          throw new Error("business write failed");
        }),
        /business write failed/,
      );
      assert.equal(uuids.length, 4);
      for (const uuid of uuids) assert.equal(await broker.get(uuid), undefined);
      assert.equal((await broker.queueStats()).queued, 0);
    } finally {
      await app.flushAll();
      await broker.stop();
    }
  }));

test("the memory backend refuses a transaction with a TypeError", async () => {
  const app = new QueueTasks({ name: "pg-no-tx" });
  app.task("noop", () => 1);
  await assert.rejects(app.addTask("noop", [], { tx: {} }), TypeError);
});

test("two processes that start at once migrate the schema once", () =>
  withSchema(async (schema) => {
    const one = new PostgresConnection({ url, schema });
    const two = new PostgresConnection({ url, schema });
    one.acquire();
    two.acquire();
    try {
      const [a, b] = await Promise.all([one.migrate(), two.migrate()]);
      assert.deepEqual(
        [...a, ...b].sort(),
        MIGRATIONS.map((migration) => migration.version),
      );
      assert.equal(await one.schemaVersion(), SCHEMA_VERSION);
      const rows = await one.sql.unsafe(`select count(*)::int as n from "${schema}".qtasks_meta`);
      assert.equal(rows[0].n, MIGRATIONS.length);
    } finally {
      await one.release();
      await two.release();
    }
  }));

test("a schema of a newer, incompatible version fails with PG_SCHEMA_VERSION", () =>
  withSchema(async (schema) => {
    const connection = new PostgresConnection({ url, schema });
    connection.acquire();
    try {
      await connection.migrate();
      await connection.sql.unsafe(
        `insert into "${schema}".qtasks_meta (version, description) values ($1, 'future')`,
        [SCHEMA_VERSION + 1],
      );
      const fresh = new PostgresConnection({ url, schema });
      fresh.acquire();
      try {
        await assert.rejects(fresh.ready(), (error: unknown) => {
          assert.ok(error instanceof PostgresBackendError);
          assert.equal(error.code, "PG_SCHEMA_VERSION");
          return true;
        });
      } finally {
        await fresh.release();
      }
    } finally {
      await connection.release();
    }
  }));

test("a URL that is not postgres:// fails with PG_BAD_URL and hides its password", () => {
  assert.throws(() => new PostgresConnection({ url: "mysql://u:hunter22@db/x" }), (error) => {
    assert.ok(error instanceof PostgresBackendError);
    assert.equal(error.code, "PG_BAD_URL");
    assert.doesNotMatch(error.message, /hunter22/);
    return true;
  });
});

/** Checks that `ready()` of a connection to `target` fails with `code`, without `secret`. */
async function failsWith(target: string, code: string, secret?: string): Promise<void> {
  const connection = new PostgresConnection({ url: target, schema: uniqueSchema("bad") });
  connection.acquire();
  try {
    await assert.rejects(connection.ready(), (error: unknown) => {
      assert.ok(error instanceof PostgresBackendError, String(error));
      assert.equal(error.code, code, error.message);
      if (secret) assert.doesNotMatch(error.message, new RegExp(secret));
      return true;
    });
  } finally {
    await connection.release();
  }
}

test("a missing database fails with PG_DATABASE_MISSING", async () => {
  const target = new URL(url);
  target.pathname = "/qtasks_no_such_database";
  target.password = "s3cretpw";
  await failsWith(target.href, "PG_DATABASE_MISSING", "s3cretpw");
});

test("a port where no server listens fails with PG_UNREACHABLE", async () => {
  const target = new URL(url);
  target.port = "1";
  target.password = "s3cretpw";
  await failsWith(target.href, "PG_UNREACHABLE", "s3cretpw");
});

test("a role without rights on the database fails with PG_PERMISSION_DENIED", async () => {
  const role = `qt_norights_${crypto.randomUUID().slice(0, 8)}`;
  const admin = new PostgresConnection({ url });
  admin.acquire();
  try {
    await admin.sql.unsafe(`create role "${role}" login`);
    const target = new URL(url);
    target.username = role;
    await failsWith(target.href, "PG_PERMISSION_DENIED");
  } finally {
    await admin.sql.unsafe(`drop role if exists "${role}"`);
    await admin.release();
  }
});

test("a concurrency limit holds when four brokers on their own connections claim at once", () =>
  withSchema(async (schema) => {
    const brokers = [0, 1, 2, 3].map(() => new PostgresBroker({ name: "pg-conc", url, schema }));
    try {
      for (const broker of brokers) await broker.start(componentContext());
      const uuids = Array.from({ length: 20 }, () => crypto.randomUUID());
      await brokers[0].addBulk(uuids.map((uuid) => ({
        uuid,
        taskName: "crawl",
        priority: 0,
        args: "[]",
        kwargs: "{}",
        extra: {},
        concurrency: { slot: "crawl:host", limit: 2 },
      })));
      const held: string[][] = brokers.map(() => []);
      const done = new Set<string>();
      for (let round = 0; done.size < uuids.length && round < 200; round++) {
        const results = await Promise.all(brokers.map((broker, i) =>
          broker.exchange({
            workerId: `w${i}`,
            settlements: held[i].map((uuid) => ({
              uuid,
              deliveries: 1,
              status: "success" as const,
              returning: "null",
            })),
            want: 10,
            leaseMs: 30_000,
            resultTtlMs: 60_000,
            maxDeliveries: 5,
            recoverLimit: 100,
          })
        ));
        for (const uuid of held.flat()) done.add(uuid);
        results.forEach((result, i) => held[i] = result.claimed.map((task) => task.uuid));
        const running = held.flat().length;
        assert.ok(running <= 2, `round ${round}: ${running} running at once, limit 2`);
      }
      assert.equal(done.size, uuids.length, "every task ran");
    } finally {
      await brokers[0].flushAll();
      for (const broker of brokers) await broker.stop();
    }
  }));

test("deduplication is refused on PostgreSQL with a TypeError, not dropped", () =>
  withSchema(async (schema) => {
    const broker = new PostgresBroker({ name: "pg-unsupported-dedup", url, schema });
    try {
      const task = {
        uuid: crypto.randomUUID(),
        taskName: "noop",
        priority: 0,
        args: "[]",
        kwargs: "{}",
        extra: {},
        deduplication: { id: "x", ttlMs: 1_000, mode: "throttle" as const },
      };
      await assert.rejects(
        broker.add(task),
        (error: unknown) => error instanceof TypeError && /deduplication/.test(error.message),
      );
      assert.equal(await broker.get(task.uuid), undefined);
    } finally {
      await broker.flushAll();
      await broker.stop();
    }
  }));
