/**
 * The broker the backend preset returns for a `postgres://` URL: it loads the PostgreSQL backend
 * (and its driver) with a dynamic import on first use, so that importing `@qtasks/qtasks`
 * never loads them. Every call waits for the real broker, then forwards to it
 * (`_deferred_methods.ts`); the lists below name every async method of each port (the type check
 * enforces it).
 *
 * @module
 */
import { redactUrl } from "../model/_redact_url.ts";
import type { Broker } from "../ports/broker.ts";
import type { GlobalConfig } from "../ports/global_config.ts";
import type { QueueOperations } from "../ports/queue_operations.ts";
import type { Storage } from "../ports/storage.ts";
import { type AsyncMethodNames, deferMethods, deferSubscription } from "./_deferred_methods.ts";

/** Whether a URL names a PostgreSQL server. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

const BROKER_METHODS: Record<AsyncMethodNames<Broker>, true> = {
  start: true,
  stop: true,
  add: true,
  addBulk: true,
  addFlow: true,
  exchange: true,
  extendLeases: true,
  cancel: true,
  watchCancellations: true,
  reportProgress: true,
  waitForTasks: true,
  get: true,
  flushAll: true,
  queueStats: true,
  appendLog: true,
};

const STORAGE_METHODS: Record<AsyncMethodNames<Storage>, true> = {
  start: true,
  stop: true,
  get: true,
  getAll: true,
  waitForStatus: true,
  watchRecord: true,
  deleteFinished: true,
  flushAll: true,
};

const CONFIG_METHODS: Record<AsyncMethodNames<GlobalConfig>, true> = {
  start: true,
  stop: true,
  set: true,
  get: true,
  getAll: true,
  getMatch: true,
  isRunning: true,
  claimOnce: true,
  reportWorker: true,
  readWorkerStats: true,
  readThroughput: true,
};

const OPERATIONS_METHODS: Record<AsyncMethodNames<QueueOperations>, true> = {
  list: true,
  find: true,
  counts: true,
  retry: true,
  retryAll: true,
  delete: true,
  clean: true,
  drain: true,
  pause: true,
  resume: true,
  paused: true,
  subscribe: true,
  logs: true,
};

/** A load done once, and a promise of it that does not start it. */
interface Once<T> {
  /** Loads (once; a failed load is tried again by the next call). */
  get(): Promise<T>;
  /** Resolves when a call of `get` has loaded it; never starts the load itself. */
  readonly loaded: Promise<T>;
}

function once<T>(load: () => Promise<T>): Once<T> {
  let loading: Promise<T> | undefined;
  let resolveLoaded!: (value: T) => void;
  const loaded = new Promise<T>((resolve) => resolveLoaded = resolve);
  return {
    get: () => {
      loading ??= load().then((value) => {
        resolveLoaded(value);
        return value;
      }, (error) => {
        loading = undefined;
        throw error;
      });
      return loading;
    },
    loaded,
  };
}

/**
 * A {@linkcode Broker} on PostgreSQL whose backend module is loaded on first use (see the
 * module's description), with its storage, global config and operations.
 *
 * @param name The app name.
 * @param url The `postgres://` URL.
 * @param timeoutMs The app's `backendTimeoutMs` (connection attempts, enqueues without a server).
 * @returns The broker (nothing is loaded yet).
 */
export function lazyPostgresBroker(name: string, url: string, timeoutMs?: number): Broker {
  const backend = once(async (): Promise<Broker> => {
    const { PostgresBroker } = await import("../backends/postgres/postgres_broker.ts");
    return new PostgresBroker({
      name,
      url,
      ...(timeoutMs === undefined ? {} : { postgres: { timeoutMs } }),
    });
  });
  const load = backend.get;
  const what = "the PostgreSQL backend";
  const storage = async (): Promise<Storage> => (await load()).storage;
  const config = async (): Promise<GlobalConfig> => {
    const found = (await load()).storage.globalConfig;
    if (!found) throw new TypeError(`${what} has no GlobalConfig`);
    return found;
  };
  const operations = async (): Promise<QueueOperations> => {
    const found = (await load()).operations;
    if (!found) throw new TypeError(`${what} has no operations`);
    return found;
  };
  const globalConfig: GlobalConfig = {
    name,
    ...deferMethods(what, config, CONFIG_METHODS),
    // Subscribed once the backend is loaded by a call that needs it (the app's start): an app
    // that is only created loads nothing.
    watchHeartbeats: (listener: () => void): () => void =>
      deferSubscription(async () => {
        const target = (await backend.loaded).storage.globalConfig;
        return target?.watchHeartbeats?.bind(target);
      }, listener),
  };
  const broker: Broker & { readonly connection: { readonly redactedUrl: string } } = {
    name,
    storage: { name, globalConfig, ...deferMethods(what, storage, STORAGE_METHODS) },
    operations: deferMethods(what, operations, OPERATIONS_METHODS),
    // What the app's backend label reads: the URL with its password hidden.
    connection: { redactedUrl: redactUrl(url) },
    // It stores a task given with `tx` in the caller's transaction.
    transactional: true,
    ...deferMethods(what, load, BROKER_METHODS),
  };
  return broker;
}
