/**
 * `redis+cluster://` and `redis+sentinel://` URLs and the `redis.cluster` option: parsing,
 * redaction, routing, and (when QTASKS_TEST_REDIS_URL is such a URL, as in the `cluster` part of
 * scripts/test.sh) a durable enqueue on the deployment's replicas.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { RedisBroker, RedisConnection } from "../../src/backends/redis/mod.ts";
import { parseTopologyUrl } from "../../src/backends/redis/_topology_url.ts";
import { routingKey } from "../../src/backends/redis/node_redis_client.ts";
import { clusterSlot } from "../../src/backends/redis/_cluster_slot.ts";
import { componentContext, newTask } from "../contract/broker_contract.ts";
import { uniqueName } from "../support/deferred.ts";

test("a redis+cluster:// URL names its seed nodes, credentials and TLS", () => {
  const parsed = parseTopologyUrl("rediss+cluster://app:p%40ss@10.0.0.1:7000,[::1]:7001,node3");
  assert.equal(parsed.kind, "cluster");
  assert.equal(parsed.tls, true);
  assert.equal(parsed.username, "app");
  assert.equal(parsed.password, "p@ss");
  assert.deepEqual(parsed.nodes, [
    { host: "10.0.0.1", port: 7000 },
    { host: "::1", port: 7001 },
    { host: "node3", port: 6379 },
  ]);
});

test("a redis+sentinel:// URL names the primary and the database", () => {
  const parsed = parseTopologyUrl(
    "redis+sentinel://:secret@s1:26379,s2/mymaster/3?sentinelPassword=other",
  );
  assert.equal(parsed.kind, "sentinel");
  assert.equal(parsed.masterName, "mymaster");
  assert.equal(parsed.database, 3);
  assert.equal(parsed.password, "secret");
  assert.equal(parsed.sentinelPassword, "other");
  assert.deepEqual(parsed.nodes, [{ host: "s1", port: 26379 }, { host: "s2", port: 26379 }]);
});

test("a malformed topology URL is refused at once with its password hidden", () => {
  for (
    const url of [
      "redis+sentinel://:hunter22@s1:26379",
      "redis+cluster://:hunter22@h1:7000/2",
      "redis+cluster://:hunter22@h1:99999",
    ]
  ) {
    assert.throws(() => new RedisConnection({ url }), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.ok(!error.message.includes("hunter22"), error.message);
      return true;
    });
  }
});

test("the cluster option becomes a redis+cluster:// URL with the first node's credentials", () => {
  const connection = new RedisConnection({
    cluster: { rootNodes: ["redis://u:hunter22@h1:7000", "h2:7001"] },
  });
  assert.equal(connection.redactedUrl, "redis+cluster://u:***@h1:7000,h2:7001");
  assert.throws(
    () => new RedisConnection({ url: "redis://h:1", cluster: { rootNodes: ["h:2"] } }),
    TypeError,
  );
});

test("a script is routed by its first key, or by the app prefix when it declares none", () => {
  assert.equal(
    routingKey(["EVALSHA", "abc", "2", "{shop}:queue", "{shop}:seq", "x"]),
    "{shop}:queue",
  );
  assert.equal(routingKey(["EVALSHA", "abc", "0", "{shop}:task:", "x"]), "{shop}:task:");
  assert.equal(routingKey(["HGETALL", "{shop}:task:1"]), "{shop}:task:1");
  assert.equal(routingKey(["SCAN", "0", "MATCH", "{shop}:*"]), undefined);
  assert.equal(clusterSlot("{shop}:task:"), clusterSlot("{shop}:queue"));
  assert.equal(clusterSlot("123456789"), 12739);
});

const url = process.env.QTASKS_TEST_REDIS_URL ?? "";
const topology = /^rediss?\+(cluster|sentinel):/.test(url);

test(
  "durable enqueue resolves on a cluster or Sentinel deployment, whose primaries have a replica",
  {
    skip: !topology,
  },
  async () => {
    const broker = new RedisBroker({
      name: uniqueName("durable-topology"),
      url,
      redis: { durableEnqueue: { replicas: 1, timeoutMs: 2_000 } },
    });
    try {
      await broker.start(componentContext());
      const task = newTask();
      await broker.add(task);
      assert.equal((await broker.get(task.uuid))?.status, "new");
    } finally {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
      }
    }
  },
);
