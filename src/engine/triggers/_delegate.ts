/**
 * The object a port decorator hands out in place of the implementation it wraps. Internal.
 *
 * @module
 */

/**
 * Makes the stand-in for `inner` that a decorator hands out: `members` (the decorated port
 * methods and components) as its own properties, and everything else read through to `inner`,
 * which is its prototype. So the stand-in still answers `instanceof MemoryBroker`, shows the
 * inner's fields (`name`, a Redis broker's `connection` and `keys`) and its other methods, each
 * bound to `inner` (they may use private fields), while the port methods go through the
 * decorator. Built once per implementation: nothing of it runs per call.
 *
 * @param inner The implementation.
 * @param members The decorated members (functions are called as given, not rebound).
 * @returns The stand-in, typed as the implementation.
 */
export function delegate<T extends object>(inner: T, members: Record<string, unknown>): T {
  const facade = Object.create(inner) as T;
  const own = new Set<PropertyKey>(Object.keys(members));
  // The inner's own function properties first (a plain-object implementation), then its class's
  // methods and accessors, nearest class first.
  const sources: object[] = [inner];
  for (
    let proto = Object.getPrototypeOf(inner);
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    sources.push(proto);
  }
  for (const source of sources) {
    for (const key of Reflect.ownKeys(source)) {
      if (key === "constructor" || own.has(key)) continue;
      own.add(key);
      const descriptor = Object.getOwnPropertyDescriptor(source, key)!;
      if (typeof descriptor.value === "function") {
        Object.defineProperty(facade, key, {
          value: (descriptor.value as (...args: unknown[]) => unknown).bind(inner),
          configurable: true,
          writable: true,
        });
      } else if (descriptor.get || descriptor.set) {
        const { get, set } = descriptor;
        Object.defineProperty(facade, key, {
          get: get && (() => get.call(inner)),
          set: set && ((value: unknown) => set.call(inner, value)),
          configurable: true,
        });
      }
      // Data fields stay on `inner` and are read through the prototype, live.
    }
  }
  for (const [key, value] of Object.entries(members)) {
    Object.defineProperty(facade, key, { value, configurable: true, enumerable: true });
  }
  return facade;
}
