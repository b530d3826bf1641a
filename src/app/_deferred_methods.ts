/**
 * Forwarding to an object that is not there yet: each method waits for the object, then calls
 * its own method of the same name. Used by the lazily loaded PostgreSQL backend
 * (`_lazy_postgres_broker.ts`), so that one generic piece forwards every port method instead of a
 * hand-written forwarder per method that a new port method could be forgotten in.
 *
 * @module
 */

/**
 * The names of `T`'s members that are methods returning a promise, optional ones included. A
 * `Record<AsyncMethodNames<Port>, true>` must list every such method of the port: a method added
 * to the port and not to the list fails the type check.
 */
export type AsyncMethodNames<T> = {
  [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => Promise<unknown> ? K
    : never;
}[keyof T];

/**
 * Methods named in `names` that wait for `target()` and call the same method on what it resolves
 * to, with the same arguments and `this`.
 *
 * @param what What the target is, for the error when it lacks a forwarded method.
 * @param target Resolves to the object to call (called once per call; cache it yourself).
 * @param names The methods to forward: every async method of the port.
 * @returns An object with those methods.
 * @throws {TypeError} (from a forwarded call) When the target has no such method.
 */
export function deferMethods<T extends object, K extends AsyncMethodNames<T>>(
  what: string,
  target: () => Promise<T>,
  names: Record<K, true>,
): Pick<T, K> {
  const out: Partial<Record<K, unknown>> = {};
  for (const name of Object.keys(names) as K[]) {
    out[name] = async (...args: unknown[]): Promise<unknown> => {
      const resolved = await target();
      const method: unknown = resolved[name];
      if (typeof method !== "function") {
        throw new TypeError(`Cannot call ${String(name)}: ${what} has no such method`);
      }
      return await (method as (...a: unknown[]) => Promise<unknown>).apply(resolved, args);
    };
  }
  return out as Pick<T, K>;
}

/**
 * A synchronous subscription (`listen(listener)` returning its unsubscribe function) on an object
 * that is not there yet: subscribes once `target()` resolves, unless unsubscribed before.
 *
 * @param target Resolves to the object's subscribe function, or `undefined` when it has none
 *   (the listener is then never called).
 * @param listener The listener.
 * @returns Its unsubscribe function, which may be called before the target is there.
 */
export function deferSubscription<L>(
  target: () => Promise<((listener: L) => () => void) | undefined>,
  listener: L,
): () => void {
  let unsubscribe: (() => void) | undefined;
  let ended = false;
  target().then(
    (subscribe) => {
      if (!ended && subscribe) unsubscribe = subscribe(listener);
    },
    // The backend failed to load: the call that needs it reports that; nothing to listen to.
    () => {},
  );
  return () => {
    ended = true;
    unsubscribe?.();
  };
}
