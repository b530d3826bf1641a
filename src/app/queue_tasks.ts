import type { QueueOperations } from "../ports/queue_operations.ts";
import { attachDependencies } from "../engine/executor/_dependency_resolver.ts";
import { isPoolThread } from "../engine/executor/pool_thread_flag.ts";
import { type RunForeverOptions, Starter } from "../engine/starter/starter.ts";
import { attachStatsRecorder } from "../engine/_stats_recorder.ts";
import { triggeredBroker } from "../engine/triggers/triggered_broker.ts";
import { AsyncWorker } from "../engine/worker/async_worker.ts";
import type { TaskDependencies } from "../model/depends.ts";
import { DuplicateTaskError } from "../model/errors/duplicate_task_error.ts";
import { createLogger, type Logger } from "../model/logger.ts";
import { parseQueueConfig, type QueueConfig } from "../model/queue_config.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { TaskResult } from "../model/task_result.ts";
import type { ArgsSchema, SchemaInput, SchemaOutput } from "../model/task_schema.ts";
import { AppEvents } from "../plugins/app_events.ts";
import type { AddPluginOptions, Plugin } from "../plugins/plugin.ts";
import { PluginHub } from "../plugins/plugin_hub.ts";
import type { TaskMiddleware } from "../plugins/task_middleware.ts";
import type { Broker, CancelOutcome, ComponentContext } from "../ports/broker.ts";
import { getRuntime } from "../ports/runtime.ts";
import type { TaskDefinition, TaskOptions } from "../ports/task_executor.ts";
import type { EchoInjectTaskFn, EchoTaskFn, InjectTaskFn, TaskFn } from "../ports/task_fn.ts";
import type { Worker } from "../ports/worker.ts";
import type { AddTaskOptions } from "./add_task_options.ts";
import type { AppLike } from "./app_like.ts";
import { AsyncResult, type AsyncResultControl } from "./async_result.ts";
import { Chain } from "./chain.ts";
import { defaultBackend } from "./default_backend.ts";
import { backendLabel, isMemoryBackend } from "./_backend_label.ts";
import { type WorkerPresence, workerPresence } from "./_worker_presence.ts";
import type { FlowOptions, FlowSpec } from "./flow_spec.ts";
import { checkSignature, Group, type GroupResults } from "./group.ts";
import type { PingOptions, QueueTasksOptions } from "./queue_tasks_options.ts";
import { includeRouter, type Router } from "./router.ts";
import { pickUpSharedTasks } from "./shared_task.ts";
import type { TaskHandle } from "./task_handle.ts";
import {
  checkExecutor,
  checkMiddleware,
  defineTask,
  readTaskRegistration,
} from "./task_options.ts";
import type { TypedOptions } from "./task_registrar.ts";
import type { TaskSignature } from "./task_signature.ts";
import { compileFlow } from "./_flow_compiler.ts";
import {
  afterBroker,
  normalizeUuid,
  prepareTask,
  prepareTasks,
  prepareWithPlugins,
} from "./_prepare_task.ts";
import { createTaskHandle } from "./_task_handle_factory.ts";

// Declared in their own module; re-exported here, where they were first declared.
export type { PingOptions, QueueTasksOptions } from "./queue_tasks_options.ts";

const NO_MIDDLEWARES: readonly TaskMiddleware[] = Object.freeze([]);
const APP_NAME = /^[^{}\s]{1,200}$/;

/**
 * The app: registers tasks, enqueues them, reads and awaits their results, and runs the worker.
 *
 * @example One process with the in-memory backend
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "quickstart" });
 * const add = app.task({ name: "add", priority: 1 }, (a: number, b: number) => a + b);
 *
 * await app.start(); // starts the worker in this process
 * const job = await add.addTask(1, 2);
 * console.log(await job.value()); // 3
 * await app.stop();
 * ```
 *
 * @example Redis, with producer and worker anywhere
 * ```ts ignore
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * export const app = new QueueTasks({ name: "shop", brokerUrl: "redis://127.0.0.1:6379" });
 * export const sendEmail = app.task("send_email", async (to: string) => ({ sent: to }));
 * // worker.ts:   await app.runForever();
 * // producer.ts: const job = await sendEmail.addTask("ada@example.com");
 * //              console.log(await job.result({ timeoutMs: 10_000 }));
 * ```
 */
export class QueueTasks implements AppLike {
  /** The app name. */
  readonly name: string;
  /** The validated config. */
  readonly config: QueueConfig;
  /** Where to log. */
  readonly logger: Logger;
  /** The broker (its `storage` holds the records, and `storage.globalConfig` the settings). */
  readonly broker: Broker;
  /** The worker. */
  readonly worker: Worker;
  /** The starter. */
  readonly starter: Starter;
  /** The app's events: `app.events.on("taskError", handler)`. */
  readonly events: AppEvents;
  /** The app's plugins (add them with {@linkcode QueueTasks.addPlugin}). */
  readonly plugins: PluginHub;
  #tasks = new Map<string, TaskDefinition>();
  /** App-wide middlewares: replaced (never changed in place) by addMiddleware. */
  #middlewaresBefore: readonly TaskMiddleware[] = NO_MIDDLEWARES;
  #middlewaresAfter: readonly TaskMiddleware[] = NO_MIDDLEWARES;
  #presence: WorkerPresence | undefined;
  /** What the results of this app's new tasks ask of it (see `#result`). */
  #control: AsyncResultControl | undefined;

  /**
   * Creates a QueueTasks.
   *
   * @param options Name, backend and components, config, logger, executor.
   */
  constructor(options: QueueTasksOptions = {}) {
    const name = options.name ?? options.broker?.name ?? "QueueTasks";
    if (typeof name !== "string" || !APP_NAME.test(name)) {
      throw new TypeError(
        `Cannot create app "${name}": a name is 1 to 200 characters without spaces or braces`,
      );
    }
    this.name = name;
    const runtime = getRuntime();
    this.config = parseQueueConfig(
      options.config ?? {},
      options.env === false ? undefined : (key) => runtime.env(key),
    );
    this.logger = options.logger ?? createLogger(this.config.logsDefaultLevel);
    if (options.executor !== undefined) {
      checkExecutor(options.executor, `Cannot create app "${name}"`);
    }
    // The backend the preset picks (or the user's own), with its ports' plugin triggers.
    const brokerUrlVariable = `${this.config.environPrefix}BROKER_URL`;
    this.broker = triggeredBroker(
      defaultBackend(name, options, this.config.backendTimeoutMs, {
        name: brokerUrlVariable,
        value: options.env === false ? undefined : runtime.env(brokerUrlVariable),
      }),
    );
    if (options.worker !== undefined && options.queues !== undefined) {
      throw new TypeError(
        `Cannot create app "${name}": give queues to the worker you pass (new AsyncWorker({ broker, queues })), not to the app`,
      );
    }
    this.worker = options.worker ??
      new AsyncWorker({
        broker: this.broker,
        ...(options.queues === undefined ? {} : { queues: options.queues }),
      });
    if (this.worker.broker !== this.broker) {
      throw new TypeError(`Cannot create app "${name}": the worker uses a different broker`);
    }
    this.starter = options.starter ?? new Starter({ broker: this.broker, worker: this.worker });
    this.events = new AppEvents(this.logger);
    this.plugins = new PluginHub(this.logger);
    if (this.config.statsEnabled) attachStatsRecorder(this);
    // Components hear their triggers from now on, also in a producer that never starts.
    this.broker.attach?.(this.#context());
    // The worker reads the app-wide middlewares at each run, so later addMiddleware calls count.
    const before = () => this.#middlewaresBefore;
    const after = () => this.#middlewaresAfter;
    this.worker.bind({
      name,
      tasks: this.#tasks,
      config: this.config,
      logger: this.logger,
      events: this.events,
      plugins: this.plugins,
      executor: options.executor,
      get middlewaresBefore() {
        return before();
      },
      get middlewaresAfter() {
        return after();
      },
    });
    pickUpSharedTasks(this);
  }

  /** The registered tasks by name. */
  get tasks(): ReadonlyMap<string, TaskDefinition> {
    return this.#tasks;
  }

  /** The app-wide "before" middlewares, outermost first (see {@linkcode QueueTasks.addMiddleware}). */
  get middlewaresBefore(): readonly TaskMiddleware[] {
    return this.#middlewaresBefore;
  }

  /** The app-wide "after" middlewares, in the order they run. */
  get middlewaresAfter(): readonly TaskMiddleware[] {
    return this.#middlewaresAfter;
  }

  /**
   * Registers a task function and returns its typed handle.
   *
   * Forms: `task(fn)` (named after the function), `task(name, fn)`, `task(options, fn)`; with
   * `echo: true` the function receives a {@linkcode TaskContext} first; with `inject`, it
   * receives the values of its dependencies (see `depends`) as one object, first (after the
   * context). With a `schema`, the handle's `addTask` takes the schema's input types and the
   * function receives its output. A generator function's result is the list of values it yields
   * (see {@linkcode TaskResult}).
   *
   * @throws {TypeError} On a missing function or name, a name already registered, an unknown
   *   option (`Cannot register task "x": unknown option "maxtime" (valid options: …)`), a
   *   `schema` or `generateHandler` of the wrong kind, a `retryOn` that is not a list of classes,
   *   or a `backoff` of an unknown type.
   * @throws {RangeError} On a priority or maxTime that is not an integer (maxTime > 0), a `retry`
   *   that is not an integer >= 0, or `backoff` numbers out of range.
   */
  task<A extends unknown[], R>(fn: TaskFn<A, R>): TaskHandle<A, TaskResult<R>>;
  /** A function under a name. */
  task<A extends unknown[], R>(name: string, fn: TaskFn<A, R>): TaskHandle<A, TaskResult<R>>;
  /** With a context and dependencies (`echo: true`, `inject`): the function gets the context, then the dependencies' values. */
  task<A extends unknown[], R, I extends TaskDependencies, H = never>(
    options: TypedOptions<true, undefined, R, H> & { echo: true; inject: I },
    fn: EchoInjectTaskFn<A, R, I>,
  ): TaskHandle<A, TaskResult<R, H>>;
  /** With dependencies (`inject`): the function gets their values first. */
  task<A extends unknown[], R, I extends TaskDependencies, H = never>(
    options: TypedOptions<false, undefined, R, H> & { echo?: false; inject: I },
    fn: InjectTaskFn<A, R, I>,
  ): TaskHandle<A, TaskResult<R, H>>;
  /** With a context and a schema: `addTask` takes the schema's input, the function gets its output after the context. */
  task<S extends ArgsSchema, R, H = never>(
    options: TypedOptions<true, S, R, H> & { echo: true; schema: S },
    fn: EchoTaskFn<SchemaOutput<S>, R>,
  ): TaskHandle<SchemaInput<S>, TaskResult<R, H>>;
  /** With a schema: `addTask` takes the schema's input, the function gets its output. */
  task<S extends ArgsSchema, R, H = never>(
    options: TypedOptions<false, S, R, H> & { schema: S },
    fn: TaskFn<SchemaOutput<S>, R>,
  ): TaskHandle<SchemaInput<S>, TaskResult<R, H>>;
  /** With a context (`echo: true`): the function gets a `TaskContext` first. */
  task<A extends unknown[], R, H = never>(
    options: TypedOptions<true, undefined, R, H> & { echo: true },
    fn: EchoTaskFn<A, R>,
  ): TaskHandle<A, TaskResult<R, H>>;
  /** With options. */
  task<A extends unknown[], R, H = never>(
    options: TypedOptions<false, undefined, R, H>,
    fn: TaskFn<A, R>,
  ): TaskHandle<A, TaskResult<R, H>>;
  task(
    first: string | TaskOptions | ((...args: never[]) => unknown),
    second?: (...args: never[]) => unknown,
  ): TaskHandle<unknown[], unknown> {
    const registration = readTaskRegistration(first, second);
    if (this.#tasks.has(registration.name)) {
      throw new TypeError(
        `Cannot register task "${registration.name}": a task is already registered under that name`,
      );
    }
    const definition = defineTask(registration, this.config.taskDefaultPriority);
    if (definition.inject !== undefined) attachDependencies(definition, this.plugins, this.logger);
    this.#tasks.set(definition.name, definition);
    return createTaskHandle(this, definition, {});
  }

  /**
   * Registers the tasks of a {@linkcode Router} (all or none). A router may be included in several
   * apps; tasks added to it later are registered here too.
   *
   * @throws {TypeError} When it is included already, or a task of the same name is registered.
   */
  includeRouter(router: Router): void {
    includeRouter(this, router);
  }

  /**
   * Enqueues a task by name. An app that registers tasks sends only their names: another name is
   * refused with an `UnknownTaskError` that suggests the closest one (a typo never reaches a
   * worker). An app that registers none (a producer that does not import the tasks) may send any
   * name; a worker without it ends the task as `error` with `UnknownTaskError` (on the default
   * queue; on a named queue it leaves the task for a worker that knows it).
   *
   * @param taskName The registered name.
   * @param args Positional arguments (JSON values).
   * @param options Priority, extra fields, uuid, and a delay (`delayMs` or `runAt`).
   * @throws {InvalidPayloadError} When the arguments cannot be encoded as JSON (nothing is stored).
   * @throws {UnknownTaskError} When the app registers tasks, none of them under `taskName`.
   * @throws {RangeError} On a negative or non-finite `delayMs`, or an invalid `runAt`.
   * @throws {TypeError} When both `delayMs` and `runAt` are given.
   */
  async addTask<R = unknown>(
    taskName: string,
    args: unknown[] = [],
    options: AddTaskOptions = {},
  ): Promise<AsyncResult<R>> {
    const task = this.plugins.listens("qtasks_add_task_before_broker")
      ? await prepareWithPlugins(this, taskName, args, options)
      : prepareTask(this, taskName, args, options);
    let duplicate = false;
    let joined: string | undefined;
    // A deduplicated call may store nothing under its uuid: only a plain one is expected.
    if (options.uuid === undefined && task.deduplication === undefined) {
      this.broker.storage.expectRecord?.(task.uuid);
    }
    try {
      const outcome = await this.broker.add(task);
      // Deduplicated: the handle follows the task this call joined.
      if (outcome) joined = outcome.joined;
    } catch (error) {
      // A caller-chosen uuid is an idempotency key: the task exists, which is what was asked
      // (the handle says so: `duplicate`, its arguments were dropped).
      if (!(options.uuid !== undefined && error instanceof DuplicateTaskError)) throw error;
      duplicate = true;
    }
    if (this.plugins.listens("qtasks_add_task_after_broker")) {
      // A deduplicated call reports the task it joined.
      await afterBroker(this, joined === undefined ? task : { ...task, uuid: joined });
    }
    if (joined !== undefined) return this.#result<R>(joined, taskName, false, true);
    return this.#result<R>(task.uuid, taskName, duplicate);
  }

  /**
   * Enqueues many tasks of one name at once: all are validated first, then stored and queued in
   * as few round trips as the broker can (Redis: one script call per 500 tasks, each atomic).
   *
   * @param taskName The registered name.
   * @param argsList One array of positional arguments per task.
   * @param options Priority and extra fields, for every task.
   * @returns One {@linkcode AsyncResult} per task, in order.
   * @throws {InvalidPayloadError} When any task's arguments cannot be stored (nothing is).
   */
  async addTasks<R = unknown>(
    taskName: string,
    argsList: unknown[][],
    options: AddTaskOptions = {},
  ): Promise<AsyncResult<R>[]> {
    if (!Array.isArray(argsList)) {
      throw new TypeError(`Cannot add tasks "${taskName}": argsList must be an array of arrays`);
    }
    if (options.uuid !== undefined) {
      throw new TypeError(`Cannot add tasks "${taskName}": one uuid cannot name several tasks`);
    }
    if (
      options.deduplication !== false &&
      (options.deduplication ?? this.tasks.get(taskName)?.deduplication) !== undefined
    ) {
      throw new TypeError(
        `Cannot add tasks "${taskName}": deduplication is not supported by addTasks (call addTask for each, or pass deduplication: false)`,
      );
    }
    const tasks = this.plugins.listens("qtasks_add_task_before_broker")
      ? await Promise.all(argsList.map((args) => prepareWithPlugins(this, taskName, args, options)))
      : prepareTasks(this, taskName, argsList, options);
    const storage = this.broker.storage;
    if (storage.expectRecord !== undefined) {
      for (const task of tasks) storage.expectRecord(task.uuid);
    }
    if (tasks.length > 0) await this.broker.addBulk(tasks);
    if (this.plugins.listens("qtasks_add_task_after_broker")) {
      for (const task of tasks) await afterBroker(this, task);
    }
    return tasks.map((task) => this.#result<R>(task.uuid, taskName, false));
  }

  /**
   * A chain: `first` (a task signature or a group), then each step added with
   * `.pipe(handle, ...args)`, which gets the previous result as its first argument. See
   * {@linkcode Chain}: the broker runs it, and a failing step stops it and is reported on the
   * chain's record.
   *
   * @example
   * ```ts
   * import { QueueTasks } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-app-chain" });
   * const fetchPage = app.task("fetchPage", (url: string) => `<h1>${url}</h1>`);
   * const measure = app.task("measure", (html: string) => html.length);
   * await app.start();
   * const job = await app.chain(fetchPage.s("example.com")).pipe(measure).addTask();
   * console.log(await job.value()); // 20
   * await app.stop();
   * ```
   */
  chain<R>(first: TaskSignature<R>): Chain<R>;
  /** A chain that starts with a group: its next step gets the group's results, in order. */
  chain<T extends unknown[]>(first: Group<T>): Chain<T>;
  chain(first: TaskSignature<unknown> | Group<unknown[]>): Chain<unknown> {
    if (first instanceof Group) {
      return new Chain([{ group: first.signatures }], this.#enqueueFlow);
    }
    checkSignature(first, "a chain");
    return new Chain([{ signature: first, piped: false }], this.#enqueueFlow);
  }

  /**
   * A group: tasks that run in parallel, whose results the broker gathers in order. See
   * {@linkcode Group}.
   *
   * @example
   * ```ts
   * import { QueueTasks } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-app-group" });
   * const add = app.task("add", (a: number, b: number) => a + b);
   * const shout = app.task("shout", (text: string) => text.toUpperCase());
   * await app.start();
   * const job = await app.group([add.s(1, 2), shout.s("hi")]).addTask();
   * const [sum, loud]: [number, string] = await job.value();
   * console.log(sum, loud); // 3 "HI"
   * await app.stop();
   * ```
   */
  group<const S extends readonly TaskSignature<unknown>[]>(signatures: S): Group<GroupResults<S>> {
    return new Group<GroupResults<S>>(signatures, this.#enqueueFlow);
  }

  /**
   * Turns a chain or group into records and starts it: its record (and a first group's), and its
   * first tasks, each carrying the rest of the flow in its `flow` field.
   */
  #enqueueFlow = async (spec: FlowSpec, options: FlowOptions): Promise<AsyncResult<unknown>> => {
    const { uuid, taskName, flow } = compileFlow(
      spec,
      options,
      // A flow's steps are not concurrency-limited (docs/flow-control.md): its later steps are
      // written by the backend without the option, and a chain step's arguments are partial.
      (name, args, addOptions, validate) =>
        prepareTask(this, name, args, addOptions, validate, false),
    );
    if (options.tx !== undefined) {
      if (this.broker.transactional !== true) {
        throw new TypeError(
          `Cannot add ${taskName}: tx (a database transaction) needs the PostgreSQL backend`,
        );
      }
      flow.tx = options.tx;
    }
    await this.broker.addFlow(flow);
    return this.#result(uuid, taskName, false);
  };

  /**
   * Adds a plugin (see {@linkcode Plugin}): attached to the app (default), it hears every trigger
   * and starts and stops with the app; attached to a component, it hears that component's
   * triggers and starts and stops with it. `triggers` narrows what it hears.
   *
   * @throws {TypeError} For a plugin without a name or handlers, an unknown component or trigger.
   */
  addPlugin(plugin: Plugin, options: AddPluginOptions = {}): Promise<void> {
    return this.plugins.add(plugin, options);
  }

  /**
   * Adds a middleware to every task (see {@linkcode TaskMiddleware}): `before` (default) ones wrap
   * each run, `after` ones run after each successful run. App-wide middlewares run outside (before)
   * a task's own, in the order they were added; each runs once per run. It counts from the next
   * run on, also for a worker that is running.
   *
   * @example Log every task's time
   * ```ts
   * import { QueueTasks } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-add-middleware" });
   * app.addMiddleware(async (call, next) => {
   *   const started = performance.now();
   *   try {
   *     await next();
   *   } finally {
   *     console.log(`${call.taskName} took ${performance.now() - started} ms`);
   *   }
   * });
   * app.addMiddleware((call) => {
   *   if (call.result === undefined) call.result = null;
   * }, "after");
   * ```
   *
   * @throws {TypeError} For a middleware that is not a function, or another position.
   */
  addMiddleware(middleware: TaskMiddleware, position: "before" | "after" = "before"): void {
    if (position !== "before" && position !== "after") {
      throw new TypeError(
        `Cannot add middleware: position must be "before" or "after", got ${String(position)}`,
      );
    }
    checkMiddleware(middleware, "Cannot add middleware: it");
    if (position === "before") {
      this.#middlewaresBefore = Object.freeze([...this.#middlewaresBefore, middleware]);
    } else {
      this.#middlewaresAfter = Object.freeze([...this.#middlewaresAfter, middleware]);
    }
  }

  /** Reads a task record by uuid (`undefined` if unknown or expired). */
  get(uuid: string): Promise<TaskRecord | undefined> {
    uuid = normalizeUuid(uuid);
    const read = this.broker.get(uuid);
    if (!this.plugins.listens("qtasks_get")) return read;
    return read.then(async (result) =>
      (await this.plugins.run("qtasks_get", { appName: this.name, uuid, result })).result
    );
  }

  /**
   * Cancels a task: a queued one at once (status `cancel`, it never runs); a running one by
   * aborting its `AbortSignal` on the worker that runs it, which then stores status `cancel`
   * (a task that finishes before it notices keeps its real outcome).
   *
   * @param uuid The task.
   * @param reason Stored as `cancelReason`.
   * @returns What happened: `cancelled`, `cancelling`, `finished` or `missing`.
   */
  cancel(uuid: string, reason = ""): Promise<CancelOutcome> {
    if (typeof uuid !== "string" || uuid === "") {
      return Promise.reject(new TypeError("Cannot cancel a task: uuid must be a non-empty string"));
    }
    return this.broker.cancel(normalizeUuid(uuid), String(reason), this.config.failedTtlMs);
  }

  /**
   * The operator's API of this app's backend (`broker.operations`): list and count tasks, find
   * them by uuid prefix, retry, delete, clean and drain, pause and resume, follow the event
   * stream, read task logs. See docs/operations.md.
   *
   * @throws {TypeError} When the app's broker offers no operations (a Broker of your own).
   *
   * @example
   * ```ts
   * import { QueueTasks } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-ops" });
   * await app.ops.pause("report");
   * console.log((await app.ops.counts()).paused); // { app: false, taskNames: ["report"] }
   * ```
   */
  get ops(): QueueOperations {
    const operations = this.broker.operations;
    if (!operations) {
      throw new TypeError(
        `Cannot operate app "${this.name}": its broker offers no operations (Broker.operations)`,
      );
    }
    return operations;
  }

  /** Returns an {@linkcode AsyncResult} for a uuid obtained elsewhere. */
  result<R = unknown>(uuid: string, taskName = ""): AsyncResult<R> {
    return this.#result<R>(normalizeUuid(uuid), taskName, false);
  }

  /** An AsyncResult that can cancel its task and tell, when a wait lasts, whether a worker runs. */
  #result<R>(
    uuid: string,
    taskName: string,
    duplicate: boolean,
    deduplicated = false,
  ): AsyncResult<R> {
    this.#presence ??= workerPresence(
      this.name,
      () => this.broker.storage.globalConfig,
      this.logger,
    );
    const presence = this.#presence;
    // One control for the results of new tasks (addTasks makes one result per task).
    this.#control ??= {
      cancel: (reason, uuid) => this.cancel(uuid, reason),
      appName: this.name,
      workerRunning: presence.workerRunning,
      warnNoWorker: presence.warnNoWorker,
    };
    const control = duplicate || deduplicated
      ? { ...this.#control, duplicate, deduplicated }
      : this.#control;
    return new AsyncResult<R>(
      uuid,
      taskName,
      this.broker.storage,
      this.config.resultStatusesEnd,
      control,
    );
  }

  /** With `server: true` (default), whether a worker of this app is running; else whether the backend answers. */
  async ping(options: PingOptions = {}): Promise<boolean> {
    const server = options.server ?? true;
    const alive = await this.#ping(server);
    await this.plugins.run("qtasks_ping", { appName: this.name, server, alive });
    return alive;
  }

  async #ping(server: boolean): Promise<boolean> {
    const globalConfig = this.broker.storage.globalConfig;
    if (server && globalConfig) return await globalConfig.isRunning();
    try {
      // Any read answers the question; a uuid no task has keeps it cheap.
      await this.broker.get("00000000-0000-4000-8000-000000000000");
      return true;
    } catch {
      return false;
    }
  }

  /** Deletes every queued task, lease and record of this app. */
  async flushAll(): Promise<void> {
    await this.broker.flushAll();
    await this.plugins.run("qtasks_flush_all", { appName: this.name });
  }

  /**
   * Picks up the shared tasks defined since the app was created, then starts the app's plugins,
   * the broker chain and the worker in this process. Does nothing inside a pool thread (see
   * {@linkcode isPoolThread}), where the module is imported only for its tasks.
   */
  start(): Promise<void> {
    if (isPoolThread()) return Promise.resolve();
    try {
      pickUpSharedTasks(this);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#announce();
    return this.starter.start(this.#context());
  }

  /** Says at start where the tasks live (the redacted URL, or memory: this process only). */
  #announce(): void {
    this.logger.info(`App "${this.name}" starting on ${backendLabel(this.broker)}`);
  }

  /**
   * Stops the worker gracefully, then closes the broker chain and stops the app's plugins (also
   * for producer-only use). Does nothing inside a pool thread.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    if (isPoolThread()) return Promise.resolve();
    return this.starter.stop(options, this.#context());
  }

  /**
   * Starts, runs until SIGINT/SIGTERM, shuts down gracefully and exits with code 0. Does nothing
   * inside a pool thread (see {@linkcode isPoolThread}): a module may call it at its end and
   * still be a pool's task module.
   */
  runForever(options: RunForeverOptions = {}): Promise<void> {
    if (isPoolThread()) return Promise.resolve();
    if (isMemoryBackend(this.broker)) {
      this.logger.warn(
        `App "${this.name}" runs on the in-memory backend: no other process can reach its tasks (give brokerUrl, or set ${this.config.environPrefix}BROKER_URL, to share them)`,
      );
    }
    this.#announce();
    return this.starter.runForever(this.#context(), options);
  }

  #context(): ComponentContext {
    return {
      config: this.config,
      logger: this.logger,
      appName: this.name,
      events: this.events,
      plugins: this.plugins,
    };
  }
}
