import { isPoolThread } from "../engine/executor/pool_thread_flag.ts";
import type { EchoInjectTaskFn, EchoTaskFn, InjectTaskFn, TaskFn } from "../ports/task_fn.ts";
import { AppEvents } from "../plugins/app_events.ts";
import { PluginHub } from "../plugins/plugin_hub.ts";
import type { AddPluginOptions, Plugin } from "../plugins/plugin.ts";
import type {
  Broker,
  CancelOutcome,
  ComponentContext,
  NewFlowRecord,
  NewTask,
} from "../ports/broker.ts";
import { MemoryBroker } from "../backends/memory/memory_broker.ts";
import { RedisBroker } from "../backends/redis/redis_broker.ts";
import { triggeredBroker } from "../engine/triggers/triggered_broker.ts";
import {
  parseQueueConfig,
  type QueueConfig,
  type QueueConfigInput,
} from "../model/queue_config.ts";
import { createLogger, type Logger } from "../model/logger.ts";
import { getRuntime } from "../ports/runtime.ts";
import { type RunForeverOptions, Starter } from "../engine/starter/starter.ts";
import { encodeJson, isReservedField } from "../model/task_codec.ts";
import { createTaskContext } from "../ports/task_context.ts";
import type { TaskDefinition, TaskOptions } from "../ports/task_executor.ts";
import type { TaskResult } from "../model/task_result.ts";
import {
  type ArgsSchema,
  isArgsSchema,
  parseArgs,
  type SchemaInput,
  type SchemaOutput,
} from "../model/task_schema.ts";
import { drain, generatorKind, generatorResult } from "../engine/executor/_task_generator.ts";
import { checkBackoff } from "../model/retry_policy.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { RedisConnectionOptions } from "../backends/redis/redis_connection.ts";
import { InvalidPayloadError } from "../model/errors/invalid_payload_error.ts";
import { DuplicateTaskError } from "../model/errors/duplicate_task_error.ts";
import type { TaskExecutor } from "../ports/task_executor.ts";
import type { TaskMiddleware } from "../plugins/task_middleware.ts";
import { AsyncWorker } from "../engine/worker/async_worker.ts";
import type { Worker } from "../ports/worker.ts";
import { AsyncResult } from "./async_result.ts";
import type { TypedOptions } from "./task_registrar.ts";
import { Chain } from "./chain.ts";
import { checkSignature, Group, type GroupResults } from "./group.ts";
import type { FlowOptions, FlowSpec, FlowSpecStep } from "./flow_spec.ts";
import type { TaskSignature } from "./task_signature.ts";
import {
  type FlowLink,
  type FlowStep,
  type FlowTaskStep,
  isGroupStep,
} from "../model/flow_link.ts";
import { FLOW_TASK_NAMES } from "../model/flow_record.ts";
import type { AddTaskOptions, TaskHandle } from "./task_handle.ts";
import type { TaskDependencies } from "../model/depends.ts";
import { attachDependencies, callInjected } from "../engine/executor/dependency_resolver.ts";
import { checkTaskOptions } from "./task_options.ts";
import { includeRouter, type Router } from "./router.ts";
import { pickUpSharedTasks } from "./shared_task.ts";
import { attachStatsRecorder } from "../engine/stats_recorder.ts";

/**
 * Options of {@linkcode QueueTasks}.
 *
 * @example
 * ```ts
 * import type { QueueTasksOptions } from "@qtasks/qtasks";
 *
 * const options: QueueTasksOptions = {
 *   name: "shop",
 *   brokerUrl: "redis://127.0.0.1:6379/0",
 *   config: { maxTasksProcess: 50 },
 * };
 * ```
 */
export interface QueueTasksOptions {
  /** The app name: the namespace of every Redis key (default `QueueTasks`). No `{` or `}`. */
  name?: string;
  /** `redis://` or `rediss://` URL: use the Redis backend. Without it (and without `broker`), the in-memory backend. */
  brokerUrl?: string;
  /** With `brokerUrl`: TLS settings (`rediss://` with your own CA) or another client factory. */
  redis?: Omit<RedisConnectionOptions, "url" | "timeoutMs">;
  /** A broker you assembled (Redis or memory, or your own). */
  broker?: Broker;
  /** The worker (default an {@linkcode AsyncWorker} on the broker). */
  worker?: Worker;
  /** The starter (default one over the broker and worker). */
  starter?: Starter;
  /** Settings; anything unset comes from `QTASKS_*` variables, then the defaults. */
  config?: QueueConfigInput;
  /** Where to log (default: the console, at `logsDefaultLevel`). */
  logger?: Logger;
  /** Read `QTASKS_*` environment variables (default `true`). */
  env?: boolean;
  /**
   * Runs every task that has no executor of its own, unless the worker was given one (default
   * {@linkcode AsyncTaskExecutor}).
   */
  executor?: TaskExecutor;
}

/**
 * Options of {@linkcode QueueTasks.ping}.
 *
 * @example
 * ```ts
 * import type { PingOptions } from "@qtasks/qtasks";
 *
 * const options: PingOptions = { server: false };
 * ```
 */
export interface PingOptions {
  /**
   * `true` (default): is a worker of this app running (its heartbeat is live)? `false`: does the
   * backend answer?
   */
  server?: boolean;
}

const NO_MIDDLEWARES: readonly TaskMiddleware[] = Object.freeze([]);
const APP_NAME = /^[^{}\s]{1,200}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
export class QueueTasks {
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
    if (options.broker && options.brokerUrl) {
      throw new TypeError(`Cannot create app "${name}": give either broker or brokerUrl, not both`);
    }
    // Every trigger of the broker, its storage and global config fires in this decorator.
    this.broker = triggeredBroker(
      options.broker ??
        (options.brokerUrl
          ? new RedisBroker({
            name,
            url: options.brokerUrl,
            redis: { ...options.redis, timeoutMs: this.config.backendTimeoutMs },
          })
          : new MemoryBroker({ name })),
    );
    this.worker = options.worker ?? new AsyncWorker({ broker: this.broker });
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
    const fn = typeof first === "function" ? first : second;
    const options: TaskOptions = typeof first === "string"
      ? { name: first }
      : typeof first === "object" && first !== null
      ? first
      : {};
    if (typeof fn !== "function") {
      throw new TypeError("Cannot register task: a function is required");
    }
    const name = options.name ?? fn.name;
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        "Cannot register task: it needs a name (options.name or a named function)",
      );
    }
    if (this.#tasks.has(name)) {
      throw new TypeError(
        `Cannot register task "${name}": a task is already registered under that name`,
      );
    }
    const checked = checkTaskOptions(options, `Cannot register task "${name}"`);
    const priority = options.priority ?? this.config.taskDefaultPriority;
    checkPriority(priority, `Cannot register task "${name}"`);
    if (
      options.maxTime !== undefined && !(Number.isFinite(options.maxTime) && options.maxTime > 0)
    ) {
      throw new RangeError(
        `Cannot register task "${name}": maxTime must be a positive number of milliseconds`,
      );
    }
    const context = `Cannot register task "${name}"`;
    if (options.executor !== undefined) checkExecutor(options.executor, context);
    const middlewaresBefore = checkMiddlewares(
      options.middlewaresBefore,
      `${context}: middlewaresBefore`,
    );
    const middlewaresAfter = checkMiddlewares(
      options.middlewaresAfter,
      `${context}: middlewaresAfter`,
    );
    if (options.generateHandler !== undefined && typeof options.generateHandler !== "function") {
      throw new TypeError(
        `${context}: generateHandler must be a function (value) => value, got ${
          typeName(options.generateHandler)
        }`,
      );
    }
    if (options.schema !== undefined && !isArgsSchema(options.schema)) {
      throw new TypeError(
        `${context}: schema must be a Standard Schema of the argument list, such as z.tuple([...])`,
      );
    }
    const retry = checkRetry(options, context);
    const definition: TaskDefinition = Object.freeze({
      name,
      priority,
      maxTime: options.maxTime,
      echo: options.echo ?? false,
      description: options.description,
      fn,
      executor: options.executor,
      middlewaresBefore,
      middlewaresAfter,
      ...checked,
      generateHandler: options.generateHandler,
      schema: options.schema,
      ...retry,
    });
    if (definition.inject !== undefined) attachDependencies(definition, this.plugins, this.logger);
    this.#tasks.set(name, definition);
    return this.#handle(definition, {});
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
   * Enqueues a task by name. The name is not checked here (a producer need not register the
   * tasks it sends); a worker without it ends the task as `error` with `UnknownTaskError`.
   *
   * @param taskName The registered name.
   * @param args Positional arguments (JSON values).
   * @param options Priority, extra fields, uuid, and a delay (`delayMs` or `runAt`).
   * @throws {InvalidPayloadError} When the arguments cannot be encoded as JSON (nothing is stored).
   * @throws {RangeError} On a negative or non-finite `delayMs`, or an invalid `runAt`.
   * @throws {TypeError} When both `delayMs` and `runAt` are given.
   */
  async addTask<R = unknown>(
    taskName: string,
    args: unknown[] = [],
    options: AddTaskOptions = {},
  ): Promise<AsyncResult<R>> {
    const task = this.plugins.listens("qtasks_add_task_before_broker")
      ? await this.#prepareWithPlugins(taskName, args, options)
      : this.#prepare(taskName, args, options);
    try {
      await this.broker.add(task);
    } catch (error) {
      // A caller-chosen uuid is an idempotency key: the task exists, which is what was asked.
      if (!(options.uuid !== undefined && error instanceof DuplicateTaskError)) throw error;
    }
    if (this.plugins.listens("qtasks_add_task_after_broker")) await this.#afterBroker(task);
    return this.result<R>(task.uuid, taskName);
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
    const tasks = this.plugins.listens("qtasks_add_task_before_broker")
      ? await Promise.all(argsList.map((args) => this.#prepareWithPlugins(taskName, args, options)))
      : argsList.map((args) => this.#prepare(taskName, args, options));
    if (tasks.length > 0) await this.broker.addBulk(tasks);
    if (this.plugins.listens("qtasks_add_task_after_broker")) {
      for (const task of tasks) await this.#afterBroker(task);
    }
    return tasks.map((task) => this.result<R>(task.uuid, taskName));
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
    const uuid = options.uuid ?? crypto.randomUUID();
    if (typeof uuid !== "string" || !UUID.test(uuid)) {
      throw new TypeError(`Cannot add a chain or group: uuid must be a UUID, got ${String(uuid)}`);
    }
    const [first, ...later] = spec.steps;
    if (first === undefined) throw new RangeError("Cannot add a chain: it has no steps");
    const isChain = !(spec.steps.length === 1 && "group" in first);
    const id = uuid.toLowerCase();
    const next: FlowStep[] = later.map((step) => this.#flowStep(step));
    // The steps' uuids (a group: its record's); the first one's is known below.
    const steps = ["", ...next.map((step) => isGroupStep(step) ? step.group : step.uuid)];
    const records: NewFlowRecord[] = [];
    const tasks: NewTask[] = [];
    if ("group" in first) {
      const group = isChain ? crypto.randomUUID() : id;
      steps[0] = group;
      const size = first.group.length;
      const members = first.group.map((signature, index) => {
        const link: FlowLink = { group: { uuid: group, index, size }, next };
        if (isChain) link.chain = id;
        return this.#flowTask(signature, link);
      });
      records.push({ uuid: group, kind: "group", steps: members.map((task) => task.uuid) });
      tasks.push(...members);
    } else {
      const link: FlowLink = { chain: id, next };
      const task = this.#flowTask(first.signature, link);
      steps[0] = task.uuid;
      tasks.push(task);
    }
    if (isChain) records.unshift({ uuid: id, kind: "chain", steps, current: steps[0] });
    await this.broker.addFlow({ records, tasks });
    return this.result(id, isChain ? FLOW_TASK_NAMES.chain : FLOW_TASK_NAMES.group);
  };

  /** The first task of a flow (or a member of its first group), validated as `addTask` does. */
  #flowTask(signature: TaskSignature<unknown>, link: FlowLink): NewTask {
    checkFlowOptions(signature);
    const task = this.#prepare(signature.taskName, [...signature.args], signature.options);
    task.flow = JSON.stringify(link);
    return task;
  }

  /** A later step of a flow: its own arguments are checked and encoded now, the rest at run time. */
  #flowStep(step: FlowSpecStep): FlowStep {
    if ("group" in step) {
      return {
        group: crypto.randomUUID(),
        members: step.group.map((signature) => this.#flowTaskStep(signature, true)),
      };
    }
    return this.#flowTaskStep(step.signature, step.piped);
  }

  #flowTaskStep(signature: TaskSignature<unknown>, piped: boolean): FlowTaskStep {
    checkFlowOptions(signature);
    const task = this.#prepare(signature.taskName, [...signature.args], signature.options, !piped);
    const step: FlowTaskStep = {
      uuid: task.uuid,
      name: task.taskName,
      priority: task.priority,
      args: task.args,
    };
    if (Object.keys(task.extra).length > 0) step.extra = task.extra;
    return step;
  }

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
    if (typeof middleware !== "function") {
      throw new TypeError(
        `Cannot add middleware: it must be a function (call, next), got ${typeName(middleware)}`,
      );
    }
    if (position === "before") {
      this.#middlewaresBefore = Object.freeze([...this.#middlewaresBefore, middleware]);
    } else {
      this.#middlewaresAfter = Object.freeze([...this.#middlewaresAfter, middleware]);
    }
  }

  /** Runs qtasks_add_task_before_broker, then validates and encodes what the plugins left. */
  async #prepareWithPlugins(
    taskName: string,
    args: unknown[],
    options: AddTaskOptions,
  ): Promise<NewTask> {
    checkArgs(taskName, args);
    const replaced = await this.plugins.run("qtasks_add_task_before_broker", {
      appName: this.name,
      taskName,
      args,
      priority: this.#priorityOf(taskName, options),
      extra: options.extra ?? {},
    });
    return this.#prepare(taskName, replaced.args, {
      ...options,
      priority: replaced.priority,
      extra: replaced.extra,
    });
  }

  async #afterBroker(task: NewTask): Promise<void> {
    await this.plugins.run("qtasks_add_task_after_broker", {
      appName: this.name,
      taskName: task.taskName,
      uuid: task.uuid,
      priority: task.priority,
    });
  }

  /** Validates and encodes one task for the broker. */
  /** A task to store, validated; `validate: false` skips the schema (a chain step's partial arguments). */
  #prepare(taskName: string, args: unknown[], options: AddTaskOptions, validate = true): NewTask {
    if (typeof taskName !== "string" || taskName === "") {
      throw new TypeError("Cannot add task: the task name must be a non-empty string");
    }
    checkArgs(taskName, args);
    const definition = this.#tasks.get(taskName);
    // Validated, not transformed: the worker validates again and passes the output on.
    if (validate && definition?.schema !== undefined) {
      parseArgs(definition.schema, args, `Cannot add task "${taskName}"`);
    }
    const priority = options.priority ?? definition?.priority ?? this.config.taskDefaultPriority;
    checkPriority(priority, `Cannot add task "${taskName}"`);
    const own = this.#tasks.get(taskName)?.extra;
    const extra = own === undefined ? options.extra ?? {} : { ...own, ...options.extra };
    for (const [field, value] of Object.entries(extra)) {
      if (isReservedField(field)) {
        throw new TypeError(
          `Cannot add task "${taskName}": extra field "${field}" is reserved for QTasks`,
        );
      }
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot add task "${taskName}": extra field "${field}" must be a string`,
        );
      }
    }
    const encoded = encodeJson(args, `arguments of task "${taskName}"`);
    const limit = this.config.maxPayloadBytes;
    // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only when it might matter.
    if (encoded.length * 3 > limit) {
      const bytes = new TextEncoder().encode(encoded).length;
      if (bytes > limit) {
        throw new InvalidPayloadError(
          `Cannot add task "${taskName}": its arguments take ${bytes} bytes, over maxPayloadBytes (${limit})`,
        );
      }
    }
    const uuid = options.uuid ?? crypto.randomUUID();
    if (typeof uuid !== "string" || !UUID.test(uuid)) {
      throw new TypeError(
        `Cannot add task "${taskName}": uuid must be a UUID, got ${String(uuid)}`,
      );
    }
    const task: NewTask = {
      uuid: uuid.toLowerCase(),
      taskName,
      priority,
      args: encoded,
      kwargs: "{}",
      extra,
    };
    if (options.delayMs !== undefined || options.runAt !== undefined) {
      const delayMs = delayOf(taskName, options);
      if (delayMs > 0) task.delayMs = delayMs;
    }
    return task;
  }

  /** The priority of a task: the call's, else the task's registered one, else the default. */
  #priorityOf(taskName: string, options: AddTaskOptions): number {
    return options.priority ?? this.#tasks.get(taskName)?.priority ??
      this.config.taskDefaultPriority;
  }

  /** Reads a task record by uuid (`undefined` if unknown or expired). */
  get(uuid: string): Promise<TaskRecord | undefined> {
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
    return this.broker.cancel(uuid, String(reason), this.config.resultTtlMs);
  }

  /** Returns an {@linkcode AsyncResult} for a uuid obtained elsewhere. */
  result<R = unknown>(uuid: string, taskName = ""): AsyncResult<R> {
    return new AsyncResult<R>(uuid, taskName, this.broker.storage, this.config.resultStatusesEnd, {
      cancel: (reason) => this.cancel(uuid, reason),
    });
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
    return this.starter.start(this.#context());
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

  #handle(definition: TaskDefinition, defaults: AddTaskOptions): TaskHandle<unknown[], unknown> {
    return {
      name: definition.name,
      definition,
      addTask: (...args: unknown[]) => this.addTask(definition.name, args, defaults),
      addTasks: (argsList: unknown[][]) => this.addTasks(definition.name, argsList, defaults),
      s: (...args: unknown[]) => ({ taskName: definition.name, args, options: defaults }),
      withOptions: (options: AddTaskOptions) =>
        this.#handle(definition, { ...defaults, ...options }),
      call: async (...args: unknown[]) => {
        if (definition.inject !== undefined) {
          return await callInjected(
            definition,
            (ready) => this.#handle(ready, defaults).call(...args),
          );
        }
        const fn = definition.fn as (...args: unknown[]) => unknown;
        if (definition.schema !== undefined) {
          args = parseArgs(definition.schema, args, `Cannot call task "${definition.name}"`);
        }
        const signal = new AbortController().signal;
        const value = await (definition.echo
          ? fn(
            createTaskContext({
              taskName: definition.name,
              uuid: crypto.randomUUID(),
              priority: defaults.priority ?? definition.priority,
              deliveries: 1,
              workerId: "",
              signal,
              services: { broker: this.broker, config: this.config, logger: this.logger },
            }),
            ...args,
          )
          : fn(...args));
        const kind = generatorKind(value);
        if (kind === undefined) return value;
        return generatorResult(
          await drain(
            value as Generator<unknown>,
            kind,
            signal,
            definition.name,
            undefined,
            definition.generateHandler,
          ),
        );
      },
    };
  }
}

/** The delay of `delayMs` or `runAt`, in whole milliseconds from now (0: due at once). */
function delayOf(taskName: string, options: AddTaskOptions): number {
  const { delayMs, runAt } = options;
  if (delayMs !== undefined && runAt !== undefined) {
    throw new TypeError(`Cannot add task "${taskName}": give either delayMs or runAt, not both`);
  }
  if (delayMs !== undefined) {
    if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(
        `Cannot add task "${taskName}": delayMs must be a number of milliseconds >= 0, got ${
          String(delayMs)
        }`,
      );
    }
    return Math.ceil(delayMs);
  }
  const at = runAt instanceof Date ? runAt.getTime() : runAt;
  if (typeof at !== "number" || !Number.isFinite(at) || at < 0) {
    throw new RangeError(
      `Cannot add task "${taskName}": runAt must be a valid Date or milliseconds since the epoch, got ${
        String(runAt)
      }`,
    );
  }
  return Math.max(0, Math.ceil(at - Date.now()));
}

/** Checks the retry options of a task; returns the ones to keep on its definition. */
function checkRetry(
  options: TaskOptions,
  context: string,
): Pick<TaskDefinition, "retry" | "retryOn" | "backoff"> {
  const kept: { -readonly [K in "retry" | "retryOn" | "backoff"]?: TaskDefinition[K] } = {};
  const { retry, retryOn, backoff } = options;
  if (retry !== undefined) {
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw new RangeError(`${context}: retry must be an integer >= 0, got ${String(retry)}`);
    }
    if (retry > 0) kept.retry = retry;
  }
  if (retryOn !== undefined) {
    if (!Array.isArray(retryOn)) {
      throw new TypeError(`${context}: retryOn must be an array of error classes`);
    }
    retryOn.forEach((type, index) => {
      if (typeof type !== "function") {
        throw new TypeError(
          `${context}: retryOn[${index}] must be an error class, got ${typeName(type)}`,
        );
      }
    });
    kept.retryOn = Object.freeze([...retryOn]);
  }
  if (backoff !== undefined) {
    checkBackoff(backoff, context);
    kept.backoff = Object.freeze({ ...backoff });
  }
  return kept;
}

function checkArgs(taskName: string, args: unknown): void {
  if (!Array.isArray(args)) {
    throw new TypeError(`Cannot add task "${taskName}": args must be an array`);
  }
}

function typeName(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function checkExecutor(executor: unknown, context: string): void {
  if (
    executor === null || typeof executor !== "object" ||
    typeof (executor as { execute?: unknown }).execute !== "function"
  ) {
    throw new TypeError(`${context}: executor must be an object with an execute(run) method`);
  }
}

/** Checks a list of middlewares and returns a frozen copy (the shared empty one for none). */
function checkMiddlewares(list: unknown, context: string): readonly TaskMiddleware[] {
  if (list === undefined) return NO_MIDDLEWARES;
  if (!Array.isArray(list)) {
    throw new TypeError(`${context} must be an array of functions`);
  }
  list.forEach((middleware, index) => {
    if (typeof middleware !== "function") {
      throw new TypeError(
        `${context}[${index}] must be a function (call, next), got ${typeName(middleware)}`,
      );
    }
  });
  return list.length === 0 ? NO_MIDDLEWARES : Object.freeze([...list] as TaskMiddleware[]);
}

function checkPriority(priority: unknown, context: string): void {
  if (!Number.isSafeInteger(priority) || Math.abs(priority as number) > 2 ** 48) {
    throw new RangeError(`${context}: priority must be an integer, got ${String(priority)}`);
  }
}

/** A task of a flow takes the handle's priority and extra fields; a delay or a uuid is refused. */
function checkFlowOptions(signature: TaskSignature<unknown>): void {
  const options = signature.options ?? {};
  for (const name of ["delayMs", "runAt", "uuid"] as const) {
    if (options[name] !== undefined) {
      throw new TypeError(
        `Cannot add task "${signature.taskName}" to a chain or group: option ${name} is not supported there`,
      );
    }
  }
}
