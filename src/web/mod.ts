/**
 * The WebView dashboard: a Web-standard request handler that shows an app's tasks, workers,
 * throughput and schedules live, and lets an operator retry, cancel, delete, clean, drain, pause,
 * resume and enqueue. Mount it in any server that speaks `Request`/`Response`, or run
 * `qtasks web`. Importing `@qtasks/qtasks` does not load it. See docs/web.md.
 *
 * @example
 * ```ts
 * import { createDashboard } from "@qtasks/qtasks/web";
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const dashboard = createDashboard({ app: new QueueTasks({ name: "docs-web-mod" }) });
 * const page = await (await dashboard(new Request("http://localhost/workers"))).text();
 * console.log(page.includes("Workers")); // true
 * dashboard.close();
 * ```
 *
 * @module
 */
export { createDashboard } from "./dashboard.ts";
export type { Dashboard, DashboardAuth, DashboardOptions } from "./dashboard.ts";
