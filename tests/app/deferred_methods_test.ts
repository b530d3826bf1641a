/**
 * The forwarding behind the lazily loaded PostgreSQL backend (src/app/_deferred_methods.ts): calls
 * wait for the target, subscriptions made before the target exists.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { deferMethods, deferSubscription } from "../../src/app/_deferred_methods.ts";

interface Port {
  double(n: number): Promise<number>;
  name(): Promise<string>;
  optional?(): Promise<string>;
}

class Target implements Port {
  readonly label = "target";
  double(n: number): Promise<number> {
    return Promise.resolve(n * 2);
  }
  name(): Promise<string> {
    return Promise.resolve(this.label);
  }
}

test("a deferred method waits for the target and calls it with its arguments and this", async () => {
  let resolve!: (target: Port) => void;
  const loaded = new Promise<Port>((r) => resolve = r);
  const port = deferMethods<Port, "double" | "name">("the test port", () => loaded, {
    double: true,
    name: true,
  });
  const doubled = port.double(21);
  resolve(new Target());
  assert.equal(await doubled, 42);
  assert.equal(await port.name(), "target");
});

test("a forwarded method the target lacks rejects with a TypeError naming it", async () => {
  const port = deferMethods<Port, "optional">(
    "the test port",
    () => Promise.resolve(new Target()),
    { optional: true },
  );
  await assert.rejects(
    port.optional!(),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message === "Cannot call optional: the test port has no such method",
  );
});

test("a deferred subscription subscribes once the target is there and unsubscribes", async () => {
  const listeners = new Set<() => void>();
  const subscribe = (listener: () => void): () => void => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  let calls = 0;
  const loaded = Promise.resolve(subscribe);
  const unsubscribe = deferSubscription(() => loaded, () => calls++);
  await loaded;
  await Promise.resolve();
  for (const listener of listeners) listener();
  assert.equal(calls, 1);
  unsubscribe();
  assert.equal(listeners.size, 0);
});

test("a deferred subscription ended before the target is there never subscribes", async () => {
  const listeners = new Set<() => void>();
  let resolve!: (subscribe: (listener: () => void) => () => void) => void;
  const loaded = new Promise<(listener: () => void) => () => void>((r) => resolve = r);
  const unsubscribe = deferSubscription(() => loaded, () => {});
  unsubscribe();
  resolve((listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  });
  await loaded;
  await Promise.resolve();
  assert.equal(listeners.size, 0);
});
