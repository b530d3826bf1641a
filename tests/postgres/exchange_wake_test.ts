/**
 * The wake-up (`!wake`) that `qt_exchange` sends for the other workers when it leaves claimable
 * tasks behind (migration 5): sent when its claims filled what the worker asked for and tasks
 * remain; not sent when its claims left room, even with tasks queued that no worker may take (a
 * paused task name). Listens on the broker's channel with a client of its own. Needs PostgreSQL
 * at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import {
  appName,
  componentContext,
  exchangeRequest,
  newTask,
} from "../contract/broker_contract.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const url = testPostgresUrl();
const schema = uniqueSchema("wake");
const connection = new PostgresConnection({ url, schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await connection.release();
});

/**
 * Runs `setup` then `body` with a started broker of app `app`, and returns the event lines sent
 * on the channel while `body` ran: each part ends with a marker notification, and notifications
 * arrive in commit order.
 */
async function linesSentBy(
  app: string,
  setup: (broker: PostgresBroker) => Promise<void>,
  body: (broker: PostgresBroker) => Promise<void>,
): Promise<string[]> {
  const broker = new PostgresBroker({ name: app, connection });
  await broker.start(componentContext());
  let lines: string[] = [];
  const waiting = new Map<string, () => void>();
  const listener = await connection.sql.listen(connection.channel, (payload) => {
    const marked = waiting.get(payload);
    if (marked !== undefined) marked();
    else lines.push(...payload.split("\n"));
  });
  const mark = async () => {
    const marker = `marker-${crypto.randomUUID()}`;
    const seen = new Promise<void>((resolve) => waiting.set(marker, resolve));
    await connection.sql`select pg_notify(${connection.channel}, ${marker})`;
    await seen;
  };
  try {
    await setup(broker);
    await mark();
    lines = [];
    await body(broker);
    await mark();
    return lines;
  } finally {
    await listener.unlisten();
    await broker.flushAll();
    await broker.stop();
  }
}

const wakes = (lines: string[]): number => lines.filter((line) => line.includes('"!wake"')).length;

test("an exchange whose claims filled what it asked for wakes the other workers", async () => {
  const lines = await linesSentBy(appName(), async (broker) => {
    for (let i = 0; i < 3; i++) await broker.add(newTask());
  }, async (broker) => {
    const { claimed } = await broker.exchange(exchangeRequest({ want: 2 }));
    assert.equal(claimed.length, 2);
  });
  assert.equal(wakes(lines), 1);
});

test("an exchange whose claims left room sends no wake-up, even with a paused task queued", async () => {
  const app = appName();
  const paused = newTask({ taskName: "contract.paused" });
  const lines = await linesSentBy(app, async (broker) => {
    await broker.add(paused);
    await broker.add(newTask());
    await connection.sql.unsafe(
      `insert into "${schema}".paused (app, name) values ($1, $2)`,
      [app, paused.taskName],
    );
  }, async (broker) => {
    const { claimed } = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.equal(claimed.length, 1);
  });
  assert.equal(wakes(lines), 0);
});
