import type { QueueTasks } from "../app/queue_tasks.ts";
import { inspectApp } from "../app/inspect_app.ts";
import { QTasksError } from "../model/errors/qtasks_error.ts";
import { isQueryStatus, type QueryStatus } from "../model/task_query.ts";
import type { TaskRecord } from "../model/task_record.ts";
import { type PublishedSchedule, SCHEDULES_GROUP } from "../model/published_schedule.ts";
import { CSS, JS } from "./_assets.ts";
import { type Html, redactUrls } from "./_html.ts";
import { LiveHub, message } from "./_live_hub.ts";
import { readOverview } from "./_overview.ts";
import {
  layout,
  messagePage,
  overviewPage,
  type PageContext,
  schedulesPage,
  type TaskFilters,
  taskPage,
  tasksPage,
  workersPage,
} from "./_pages.ts";

/**
 * Who may open the dashboard: a bearer token (`Authorization: Bearer TOKEN`, or basic auth with
 * any user name and the token as password, which a browser asks for), a user name and password
 * (basic auth), or both.
 *
 * @example
 * ```ts
 * import type { DashboardAuth } from "@qtasks/qtasks/web";
 *
 * const auth: DashboardAuth = { username: "ops", password: "s3cret" };
 * ```
 */
export interface DashboardAuth {
  /** A token accepted as `Authorization: Bearer TOKEN` or as a basic-auth password. */
  token?: string;
  /** With `password`: the basic-auth user name. */
  username?: string;
  /** With `username`: the basic-auth password. */
  password?: string;
}

/**
 * Options of {@linkcode createDashboard}.
 *
 * @example
 * ```ts
 * import type { DashboardOptions } from "@qtasks/qtasks/web";
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const options: DashboardOptions = {
 *   app: new QueueTasks({ name: "docs-dashboard-options" }),
 *   basePath: "/queue",
 *   readOnly: true,
 * };
 * ```
 */
export interface DashboardOptions {
  /** The app to watch and operate (its backend is enough: no task needs to be registered). */
  app: QueueTasks;
  /** The path prefix it is mounted under, such as `/queue` (default: the root). */
  basePath?: string;
  /** Who may open it (default: anyone who reaches it; bind 127.0.0.1 then). */
  auth?: DashboardAuth;
  /** Hides every action and refuses every POST with 403 (default `false`). */
  readOnly?: boolean;
}

/**
 * The dashboard: a Web-standard request handler, plus `close()` to stop its live subscription.
 *
 * @example
 * ```ts
 * import { createDashboard, type Dashboard } from "@qtasks/qtasks/web";
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const dashboard: Dashboard = createDashboard({ app: new QueueTasks({ name: "docs-dash" }) });
 * console.log((await dashboard(new Request("http://localhost/"))).status); // 200
 * dashboard.close();
 * ```
 */
export interface Dashboard {
  /** Answers one request (any path outside `basePath` is a 404). */
  (request: Request): Promise<Response>;
  /** Stops the live subscription (open event streams end). */
  close(): void;
}

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/** Task names and statuses shown and accepted: what the operations API accepts. */
const ACTIONS = [
  "retry",
  "cancel",
  "delete",
  "pause",
  "resume",
  "drain",
  "clean",
  "retry-all",
  "enqueue",
] as const;
type Action = typeof ACTIONS[number];

/**
 * Creates the dashboard of an app: overview, workers, tasks, task detail and schedules, live over
 * Server-Sent Events from one subscription shared by every open tab, and the operator's actions
 * (retry, cancel, delete, clean, drain, pause and resume, enqueue) as POSTs that need the page's
 * CSRF token and a same-origin request. Every value from task data is escaped. Mount it under
 * `basePath` in any server that speaks `Request`/`Response` (Deno.serve, Bun.serve, Hono, or Node
 * through an adapter); `qtasks web` serves it alone.
 *
 * @param options The app, the mount prefix, authentication, read-only mode.
 * @returns The handler.
 * @throws {TypeError} When `basePath` does not start with "/" or an auth option is empty.
 *
 * @example Mount it with Deno.serve (or Bun.serve) under /queue
 * ```ts ignore
 * import { createDashboard } from "@qtasks/qtasks/web";
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "shop", brokerUrl: "redis://127.0.0.1:6379/0" });
 * const dashboard = createDashboard({ app, basePath: "/queue", readOnly: true });
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, dashboard);
 * ```
 *
 * @example Answer a request in memory
 * ```ts
 * import { createDashboard } from "@qtasks/qtasks/web";
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-web" });
 * const dashboard = createDashboard({ app, basePath: "/queue" });
 * const response = await dashboard(new Request("http://localhost/queue/tasks"));
 * console.log(response.status, response.headers.get("content-type")); // 200 "text/html; charset=utf-8"
 * dashboard.close();
 * ```
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  const { app, readOnly = false } = options;
  const base = (options.basePath ?? "").replace(/\/+$/, "");
  if (base !== "" && !base.startsWith("/")) {
    throw new TypeError(`Cannot create the dashboard: basePath "${base}" does not start with "/"`);
  }
  const checkAuth = authChecker(options.auth);
  const hub = new LiveHub(app);
  const csrf = randomToken();
  const ctx: PageContext = {
    base,
    app: app.name,
    backend: redactUrls(inspectApp(app).backend),
    readOnly,
    csrf,
  };
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();

  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (base !== "" && url.pathname !== base && !url.pathname.startsWith(`${base}/`)) {
      return text(404, "Not found");
    }
    const path = url.pathname.slice(base.length) || "/";
    if (!checkAuth(request)) {
      return new Response("Authentication required", {
        status: 401,
        headers: {
          ...SECURITY_HEADERS,
          "www-authenticate": 'Basic realm="QTasks", charset="UTF-8"',
          "content-type": "text/plain; charset=utf-8",
        },
      });
    }
    try {
      if (request.method === "POST") {
        const match = /^\/actions\/([a-z-]+)$/.exec(path);
        if (!match || !(ACTIONS as readonly string[]).includes(match[1])) {
          return json(404, { message: "No such action" });
        }
        if (readOnly) return json(403, { message: "The dashboard is read-only" });
        const form = await request.formData().catch(() => undefined);
        const refused = checkCsrf(request, csrf, form?.get("_csrf"));
        if (refused) return json(403, { message: refused });
        return await act(app, match[1] as Action, form);
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        return text(405, "Method not allowed", { allow: "GET, HEAD, POST" });
      }
      const fragment = url.searchParams.has("fragment");
      const page = (current: string, title: string, main: Html, live: string) =>
        htmlResponse(200, fragment ? main.value : layout(ctx, current, title, main, live).value);
      switch (path) {
        case "/assets/app.css":
          return asset(CSS, "text/css; charset=utf-8");
        case "/assets/app.js":
          return asset(JS, "text/javascript; charset=utf-8");
        case "/events":
          return events(hub, streams);
        case "/api/overview":
          return json(200, await readOverview(app));
        case "/": {
          const data = await readOverview(app);
          return page("/", "Overview", overviewPage(ctx, data), "overview");
        }
        case "/workers": {
          const data = await readOverview(app);
          return page("/workers", "Workers", workersPage(data.workers, data.now), "workers");
        }
        case "/schedules": {
          const now = Date.now();
          return page(
            "/schedules",
            "Schedules",
            schedulesPage(await readSchedules(app), now),
            "none",
          );
        }
        case "/tasks":
          return page("/tasks", "Tasks", await tasks(app, ctx, url), "tasks");
      }
      const detail = /^\/tasks\/([^/]+)$/.exec(path);
      if (detail) {
        const uuid = decodeURIComponent(detail[1]);
        const record = await app.get(uuid).catch(() => undefined);
        if (!record) {
          return htmlResponse(
            404,
            layout(
              ctx,
              "/tasks",
              "Not found",
              messagePage("No such task", `No task ${uuid} (unknown, or its record expired).`),
              "none",
            ).value,
          );
        }
        const [logs, attempts] = await Promise.all([
          app.ops.logs(record.uuid).then((lines) => lines ?? []),
          attemptsOf(app, record),
        ]);
        return page(
          "/tasks",
          record.taskName,
          taskPage(ctx, record, logs, Date.now(), attempts),
          `task:${record.uuid}`,
        );
      }
      return htmlResponse(
        404,
        layout(ctx, "", "Not found", messagePage("Not found", `No page ${path}.`), "none").value,
      );
    } catch (error) {
      return json(500, { message: redactUrls(firstLine(error)) });
    }
  };
  const dashboard = handle as Dashboard;
  dashboard.close = () => {
    hub.close();
    for (const stream of streams) {
      try {
        stream.close();
      } catch { /* closed already */ }
    }
    streams.clear();
  };
  return dashboard;
}

async function tasks(app: QueueTasks, ctx: PageContext, url: URL): Promise<Html> {
  const params = url.searchParams;
  const filters: TaskFilters = {};
  const status = params.get("status") || undefined;
  const taskName = params.get("task") || undefined;
  const uuid = params.get("uuid")?.trim() || undefined;
  const cursor = params.get("cursor") || undefined;
  let error: string | undefined;
  if (status !== undefined) {
    if (isQueryStatus(status)) filters.status = status as QueryStatus;
    else error = `Unknown status "${status}"`;
  }
  if (taskName) filters.taskName = taskName;
  if (cursor) filters.cursor = cursor;
  if (uuid) filters.uuid = uuid;
  const counts = await app.ops.counts();
  const names = Object.keys(counts.byTaskName).sort();
  let records: TaskRecord[] = [];
  let next: string | undefined;
  if (!error) {
    try {
      if (uuid) {
        records = await app.ops.find(uuid, 50);
      } else {
        const page = await app.ops.list({ ...filters, limit: 50 });
        records = page.records;
        next = page.cursor;
      }
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      error = e.message;
    }
  }
  return tasksPage(ctx, filters, names, records, next, Date.now(), error);
}

/** How many earlier and later attempts a task page follows (each one record read). */
const MAX_ATTEMPTS = 10;

/** The task's attempts, first to last: its retry parents and children, read one by one. */
async function attemptsOf(app: QueueTasks, record: TaskRecord): Promise<TaskRecord[]> {
  const before: TaskRecord[] = [];
  let parent = record.retryParentUuid;
  while (parent && before.length < MAX_ATTEMPTS) {
    const found = await app.get(parent).catch(() => undefined);
    if (!found) break;
    before.unshift(found);
    parent = found.retryParentUuid;
  }
  const after: TaskRecord[] = [];
  let child = record.retryChildUuid;
  while (child && after.length < MAX_ATTEMPTS) {
    const found = await app.get(child).catch(() => undefined);
    if (!found) break;
    after.push(found);
    child = found.retryChildUuid;
  }
  return [...before, record, ...after];
}

async function readSchedules(app: QueueTasks): Promise<PublishedSchedule[]> {
  const globalConfig = app.broker.storage.globalConfig;
  if (!globalConfig) return [];
  const all = await globalConfig.getAll(SCHEDULES_GROUP);
  const schedules: PublishedSchedule[] = [];
  for (const value of Object.values(all)) {
    try {
      const parsed = JSON.parse(value) as PublishedSchedule;
      if (typeof parsed?.id === "string" && typeof parsed.cron === "string") schedules.push(parsed);
    } catch { /* not one of ours */ }
  }
  return schedules.sort((a, b) => (a.nextAt ?? Infinity) - (b.nextAt ?? Infinity));
}

async function act(app: QueueTasks, action: Action, form: FormData | undefined): Promise<Response> {
  const field = (name: string): string | undefined => {
    const value = form?.get(name);
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const uuid = field("uuid");
  const taskName = field("taskName");
  const needUuid = (): string => {
    if (!uuid) throw new TypeError(`${action} needs a task uuid`);
    return uuid;
  };
  try {
    switch (action) {
      case "retry": {
        const child = await app.ops.retry(needUuid());
        return child === undefined
          ? json(404, { message: `No task ${uuid}` })
          : json(200, { message: `Retried as ${child}`, uuid: child });
      }
      case "cancel": {
        const outcome = await app.cancel(needUuid(), "cancelled from the dashboard");
        return outcome === "missing"
          ? json(404, { message: `No task ${uuid}` })
          : json(200, { message: `Task ${outcome}` });
      }
      case "delete":
        return await app.ops.delete(needUuid())
          ? json(200, { message: "Deleted" })
          : json(404, { message: `No task ${uuid}` });
      case "pause":
        await app.ops.pause(taskName);
        return json(200, { message: taskName ? `Paused ${taskName}` : "Paused the app" });
      case "resume":
        await app.ops.resume(taskName);
        return json(200, { message: taskName ? `Resumed ${taskName}` : "Resumed the app" });
      case "drain": {
        const n = await app.ops.drain(taskName ? { taskName } : {});
        return json(200, { message: `Deleted ${n} queued and scheduled tasks` });
      }
      case "retry-all": {
        const n = await app.ops.retryAll(taskName ? { taskName } : {});
        return json(200, { message: `Retried ${n} tasks` });
      }
      case "clean": {
        const status = field("status") ?? "success";
        if (!["success", "error", "cancel", "retry"].includes(status)) {
          throw new TypeError(`Cannot clean status "${status}"`);
        }
        const n = await app.ops.clean({
          status: status as "success" | "error" | "cancel" | "retry",
          ...(taskName ? { taskName } : {}),
        });
        return json(200, { message: `Deleted ${n} records` });
      }
      case "enqueue":
        return await enqueue(app, taskName, field("args"), field("priority"));
    }
  } catch (error) {
    if (error instanceof TypeError || error instanceof QTasksError) {
      const state = (error as { code?: unknown }).code === "TASK_STATE";
      return json(state ? 409 : 400, { message: redactUrls(firstLine(error)) });
    }
    throw error;
  }
}

async function enqueue(
  app: QueueTasks,
  taskName: string | undefined,
  argsText: string | undefined,
  priorityText: string | undefined,
): Promise<Response> {
  if (!taskName) return json(400, { message: "Give the task name" });
  let args: unknown;
  try {
    args = JSON.parse(argsText ?? "[]");
  } catch (error) {
    return json(400, { message: `The arguments are not valid JSON: ${(error as Error).message}` });
  }
  if (!Array.isArray(args)) {
    return json(400, { message: 'The arguments must be a JSON array, such as [1, "two"]' });
  }
  let priority: number | undefined;
  if (priorityText !== undefined) {
    priority = Number(priorityText);
    if (!Number.isInteger(priority)) {
      return json(400, { message: `The priority must be an integer, got "${priorityText}"` });
    }
  }
  const handle = await app.addTask(taskName, args, priority === undefined ? {} : { priority });
  return json(200, { message: `Enqueued ${taskName} ${handle.uuid}`, uuid: handle.uuid });
}

function events(
  hub: LiveHub,
  streams: Set<ReadableStreamDefaultController<Uint8Array>>,
): Response {
  const encoder = new TextEncoder();
  let remove: (() => void) | undefined;
  let own: ReadableStreamDefaultController<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      own = controller;
      streams.add(controller);
      controller.enqueue(encoder.encode(`retry: 3000\n${message("hello", {})}`));
      remove = await hub.add({ send: (text) => controller.enqueue(encoder.encode(text)) });
    },
    cancel() {
      remove?.();
      if (own) streams.delete(own);
    },
  });
  return new Response(body, {
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * Accepts a POST only from the dashboard's own pages: same origin, and the page's token (the
 * `X-CSRF-Token` header the script sends, or the form's `_csrf` field).
 */
function checkCsrf(
  request: Request,
  token: string,
  field: FormDataEntryValue | null | undefined,
): string | undefined {
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") return `Cross-site request refused (${site})`;
  const origin = request.headers.get("origin");
  if (origin !== null) {
    const host = request.headers.get("host") ?? new URL(request.url).host;
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch { /* "null" or garbage */ }
    if (originHost !== host) return "Cross-origin request refused";
  }
  const given = request.headers.get("x-csrf-token") ?? (typeof field === "string" ? field : null);
  if (given === null || !constantTimeEqual(given, token)) {
    return "Missing or wrong CSRF token (reload the page)";
  }
  return undefined;
}

function authChecker(auth: DashboardAuth | undefined): (request: Request) => boolean {
  if (auth === undefined) return () => true;
  const { token, username, password } = auth;
  if (token !== undefined && token === "") {
    throw new TypeError("Cannot create the dashboard: auth.token is empty");
  }
  if ((username === undefined) !== (password === undefined) || username === "" || password === "") {
    throw new TypeError(
      "Cannot create the dashboard: auth.username and auth.password go together, neither empty",
    );
  }
  if (token === undefined && username === undefined) {
    throw new TypeError(
      "Cannot create the dashboard: auth needs a token or a username and password",
    );
  }
  return (request) => {
    const header = request.headers.get("authorization") ?? "";
    const [scheme, value = ""] = header.split(" ", 2);
    if (token !== undefined && /^bearer$/i.test(scheme) && constantTimeEqual(value, token)) {
      return true;
    }
    if (!/^basic$/i.test(scheme)) return false;
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const pass = decoded.slice(colon + 1);
    if (token !== undefined && constantTimeEqual(pass, token)) return true;
    return username !== undefined && constantTimeEqual(user, username) &&
      constantTimeEqual(pass, password as string);
  };
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split("\n")[0];
}

function htmlResponse(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" },
  });
}

function json(status: number, data: unknown): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8" },
  });
}

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", ...extra },
  });
}

function asset(body: string, type: string): Response {
  return new Response(body, {
    headers: { ...SECURITY_HEADERS, "content-type": type, "cache-control": "public, max-age=300" },
  });
}
