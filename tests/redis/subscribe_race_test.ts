/**
 * `RedisConnection.subscribe`: a message the server sends right behind its confirmation of the
 * SUBSCRIBE (both in one read of the socket, as under load: node-redis then resolves the
 * subscription and hands the message over in the same turn) reaches the listener. Uses a fake
 * client (`createClient`), so the order is exact.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RedisConnection } from "../../src/backends/redis/mod.ts";
import type { RedisClient } from "../../src/backends/redis/redis_client.ts";

/** A client whose subscription is confirmed with `early` delivered in the same turn. */
function confirmingWith(early: string[]): RedisClient {
  const client: RedisClient = {
    connect: () => Promise.resolve(),
    isReady: () => true,
    onReady: () => () => {},
    send: () => Promise.resolve(null),
    duplicate: () => client,
    subscribe: (_channel, listener) =>
      new Promise<void>((resolve) => {
        setTimeout(() => {
          resolve();
          for (const message of early) listener(message);
        }, 0);
      }),
    unsubscribe: () => Promise.resolve(),
    close: () => Promise.resolve(),
    destroy: () => {},
    onError: () => {},
  };
  return client;
}

test("a message that arrives with the subscription's confirmation reaches the listener", async () => {
  const connection = new RedisConnection({
    url: "redis://127.0.0.1:6379",
    createClient: () => confirmingWith(["first", "second"]),
    allowEviction: true,
  });
  try {
    const heard: string[] = [];
    await connection.subscribe("{app}:stream", (message) => heard.push(message));
    assert.deepEqual(heard, ["first", "second"]);
  } finally {
    await connection.close();
  }
});

test("a second listener added while the channel's subscription is pending hears it too", async () => {
  const connection = new RedisConnection({
    url: "redis://127.0.0.1:6379",
    createClient: () => confirmingWith(["first"]),
    allowEviction: true,
  });
  try {
    const one: string[] = [];
    const two: string[] = [];
    await Promise.all([
      connection.subscribe("{app}:stream", (message) => one.push(message)),
      connection.subscribe("{app}:stream", (message) => two.push(message)),
    ]);
    assert.deepEqual([one, two], [["first"], ["first"]]);
    assert.equal(connection.listening("{app}:stream"), true);
  } finally {
    await connection.close();
  }
});
