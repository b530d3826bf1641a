/**
 * Puts a port decorator's methods on the implementation itself. Internal.
 *
 * @module
 */

/**
 * Replaces methods of `target` by decorated ones, as own properties of the object itself: its
 * identity, class (`instanceof`), fields and other methods stay, and whoever holds it (the app,
 * a worker, the Broker that owns a Storage) calls the decorated methods. Runs once per object.
 *
 * @param target The implementation.
 * @param label How errors name it (`broker "shop"`).
 * @param methods The decorated methods, each given the original (bound to `target`; `undefined`
 *   for an optional method it lacks).
 * @throws {TypeError} When `target` is frozen or its methods cannot be replaced.
 */
export function decorate<T extends object>(
  target: T,
  label: string,
  methods: { [K in keyof T]?: (original: T[K]) => T[K] },
): void {
  if (!Object.isExtensible(target)) {
    throw new TypeError(`Cannot add the plugin triggers to ${label}: it is frozen or sealed`);
  }
  const originals = new Map<PropertyKey, unknown>();
  for (const key of Object.keys(methods) as Array<keyof T>) {
    const original = target[key];
    originals.set(
      key,
      typeof original === "function"
        ? (original as (...a: unknown[]) => unknown).bind(target)
        : original,
    );
  }
  for (const key of Object.keys(methods) as Array<keyof T>) {
    const own = Object.getOwnPropertyDescriptor(target, key);
    if (own && !own.configurable) {
      throw new TypeError(
        `Cannot add the plugin triggers to ${label}: its ${String(key)} cannot be replaced`,
      );
    }
    Object.defineProperty(target, key, {
      value: methods[key]!(originals.get(key) as T[keyof T]),
      writable: true,
      configurable: true,
      enumerable: own?.enumerable ?? false,
    });
  }
}
