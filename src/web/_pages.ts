import type { TaskRecord } from "../model/task_record.ts";
import type { QueryStatus, TaskLogLine } from "../model/task_query.ts";
import { QUERY_STATUSES } from "../model/task_query.ts";
import type { PublishedSchedule } from "../model/published_schedule.ts";
import type { WorkerInfo } from "../model/worker_report.ts";
import { Html, html, type HtmlValue } from "./_html.ts";
import type { OverviewData } from "./_overview.ts";

/** What every page needs to know about the dashboard. */
export interface PageContext {
  /** The mount prefix ("" or "/queue", no trailing slash). */
  base: string;
  /** The app's name. */
  app: string;
  /** The backend, with no secret ("redis://***@host:6379/0" or "memory"). */
  backend: string;
  /** Actions hidden and refused. */
  readOnly: boolean;
  /** The CSRF token of the forms. */
  csrf: string;
}

const NAV: [string, string][] = [
  ["/", "Overview"],
  ["/workers", "Workers"],
  ["/tasks", "Tasks"],
  ["/schedules", "Schedules"],
];

/** The whole page around `main` (or `main` alone for a live fragment). */
export function layout(
  ctx: PageContext,
  current: string,
  title: string,
  main: Html,
  live: string,
): Html {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="qtasks-csrf" content="${ctx.csrf}">
        <meta name="qtasks-base" content="${ctx.base}">
        <title>${title} · ${ctx.app} · QTasks</title>
        <link rel="stylesheet" href="${ctx.base}/assets/app.css">
        <script src="${ctx.base}/assets/app.js" defer></script>
      </head>
      <body>
        <header><a class="brand" href="${ctx.base}/">QTasks</a>
    <nav>${NAV.map(([path, label]) =>
      html`
        <a href="${ctx.base}${path}" ${new Html(
          current === path ? ' aria-current="page"' : "",
        )}>${label}</a>
      `
    )}</nav>
    <span class="app">app <b>${ctx.app}</b> on ${ctx.backend}${ctx.readOnly
      ? html`
        <span class="badge">read-only</span>
      `
      : ""}</span>
    <span id="live" class="dot" title="live updates">●</span>
        </header>
        <div id="flash" role="status"></div>
        <main data-live="${live}">${main}</main>
      </body>
    </html>
  `;
}

/** A form that posts an action (hidden in read-only mode). */
export function actionForm(
  ctx: PageContext,
  action: string,
  label: string,
  fields: Record<string, string>,
  confirm?: string,
  kind = "",
): Html | string {
  if (ctx.readOnly) return "";
  return html`
    <form class="inline" method="post" action="${ctx.base}/actions/${action}"
      data-action${new Html(
        confirm ? ` data-confirm="${escapeAttr(confirm)}"` : "",
      )}><input type="hidden" name="_csrf" value="${ctx.csrf}">${Object.entries(fields).map((
        [name, value],
      ) =>
        html`<input type="hidden" name="${name}" value="${value}">`
      )}<button class="${kind}" data-test="${action}">${label}</button></form>
  `;
}

function escapeAttr(text: string): string {
  return html`${text}`.value;
}

/** A date as ISO text, or a dash. */
function when(date: Date | number | undefined): HtmlValue {
  if (date === undefined) return "–";
  const d = typeof date === "number" ? new Date(date) : date;
  return html`<time datetime="${d.toISOString()}">${
    d.toISOString().replace("T", " ").slice(0, 23)
  }</time>`;
}

/** JSON text of a value, cut at `max` characters. */
export function preview(value: unknown, max: number): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

function pretty(value: unknown, max = 65_536): string {
  let text: string;
  try {
    text = JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max
    ? `${text.slice(0, max)}\n… cut at ${max} of ${text.length} chars`
    : text;
}

const LABEL: Record<QueryStatus, string> = {
  queued: "queued",
  scheduled: "scheduled",
  running: "running",
  success: "success",
  error: "error",
  cancel: "cancelled",
  retry: "retried",
};

/** The query status of a record. */
export function queryStatus(record: TaskRecord, now: number): QueryStatus {
  switch (record.status) {
    case "new":
      return record.runAt !== undefined && record.runAt.getTime() > now ? "scheduled" : "queued";
    case "process":
      return "running";
    default:
      return record.status;
  }
}

function statusBadge(status: QueryStatus): Html {
  return html`<span class="status s-${status}">${LABEL[status]}</span>`;
}

/** The overview page's main part. */
export function overviewPage(ctx: PageContext, data: OverviewData): Html {
  const names = Object.keys(data.byTaskName).sort();
  const paused = new Set(data.paused.taskNames);
  return html`
    <h1>Overview ${data.paused.app
      ? html`<span class="badge warn" data-k="app-paused">app paused</span>`
      : ""}</h1>
    <section class="cards">${QUERY_STATUSES.map((s) =>
      html`
        <a class="card s-${s}"
          href="${ctx.base}/tasks?status=${s}"><span class="n" data-k="count-${s}">${data
            .byStatus[s]}</span><span class="l">${LABEL[s]}</span></a>
      `
    )}</section>
    <section class="row">
      <div class="panel grow">
        <h2>Throughput <small>processed and failed per minute, last hour</small></h2>
        <div id="chart" class="chart" data-points="${JSON.stringify(data.throughput)}"></div>
        <p
          class="muted">last minute: <b data-k="last-processed">${data.lastMinute
            .processed}</b> processed, <b data-k="last-failed">${data.lastMinute
            .failed}</b> failed · total <b data-k="total-processed">${data.totals
            .processed}</b> processed, <b data-k="total-failed">${data.totals
            .failed}</b> failed · <b data-k="workers">${data.workers.length}</b> workers</p>
      </div>
      <div class="panel">
        <h2>Queue depth</h2>
        <table>
          <tbody data-k="priorities">${data.byPriority.length === 0
            ? html`
              <tr>
                <td colspan="2" class="muted">empty</td>
              </tr>
            `
            : data.byPriority.map((p) =>
              html`
                <tr>
                  <td>priority ${p.priority}</td>
                  <td class="num">${p.count}</td>
                </tr>
              `
            )}</tbody>
        </table>
        <p
          class="muted">scheduled <b data-k="queue-scheduled">${data.queue
            .scheduled}</b> · in flight <b data-k="queue-inflight">${data.queue
            .inFlight}</b> · held by a pause <b data-k="queue-held">${Math.max(
              0,
              data.byStatus.queued - data.queue.queued,
            )}</b></p>
        <div class="actions">${data.paused.app
          ? actionForm(ctx, "resume", "Resume app", {})
          : actionForm(
            ctx,
            "pause",
            "Pause app",
            {},
            "Pause the whole app? Workers will take no task.",
            "warn",
          )}</div>
      </div>
    </section>
    <section class="panel">
      <h2>Tasks by name</h2>
      <table class="grid">
        <thead>
          <tr><th>task</th>${QUERY_STATUSES.map((s) =>
            html`<th class="num">${LABEL[s]}</th>`
          )}<th></th></tr>
        </thead>
        <tbody>${names.length === 0
          ? html`
            <tr>
              <td colspan="9" class="muted">no task yet</td>
            </tr>
          `
          : names.map((name) =>
            html`
              <tr
                data-name="${name}"><td><a href="${ctx.base}/tasks?task=${encodeURIComponent(
                  name,
                )}">${name}</a>${paused.has(name)
                  ? html`
                    <span class="badge warn">paused</span>
                  `
                  : ""}</td>${QUERY_STATUSES.map((s) =>
                    html`<td class="num" data-k="${`n:${name}:${s}`}">${
                      data.byTaskName[name][s] || ""
                    }</td>`
                  )}<td class="actions">${paused.has(name)
                  ? actionForm(ctx, "resume", "Resume", { taskName: name })
                  : actionForm(
                    ctx,
                    "pause",
                    "Pause",
                    { taskName: name },
                    `Pause task "${name}"?`,
                  )}${actionForm(
                    ctx,
                    "drain",
                    "Drain",
                    { taskName: name },
                    `Delete every queued and scheduled "${name}" task?`,
                    "danger",
                  )}${actionForm(
                    ctx,
                    "retry-all",
                    "Retry failed",
                    { taskName: name },
                    `Retry every failed "${name}" task?`,
                  )}${actionForm(
                    ctx,
                    "clean",
                    "Clean successes",
                    { taskName: name, status: "success" },
                    `Delete every finished successful "${name}" record?`,
                    "danger",
                  )}</td></tr>
            `
          )}</tbody>
      </table>
    </section>
    ${ctx.readOnly ? "" : enqueueForm(ctx, names)}
  `;
}

function enqueueForm(ctx: PageContext, names: string[]): Html {
  return html`
    <section class="panel">
      <h2>Enqueue a task</h2>
      <form method="post" action="${ctx.base}/actions/enqueue" data-action class="enqueue">
        <input type="hidden" name="_csrf" value="${ctx.csrf}">
        <label>task name <input name="taskName" list="task-names" required data-test="enqueue-name"></label>
        <datalist id="task-names">${names.map((n) => html`<option value="${n}">`)}</datalist>
        <label>arguments (a JSON array) <input name="args" value="[]" data-test="enqueue-args"></label>
        <label>priority <input name="priority" type="number" placeholder="default"></label>
        <button data-test="enqueue">Enqueue</button>
      </form>
    </section>
  `;
}

/** The workers page's main part. */
export function workersPage(workers: WorkerInfo[], now: number): Html {
  return html`
    <h1>Workers <small><span data-k="workers">${workers.length}</span> alive</small></h1>
    <table class="grid">
      <thead>
        <tr>
          <th>host</th>
          <th>pid</th>
          <th>runtime</th>
          <th class="num">concurrency</th>
          <th class="num">running</th>
          <th class="num">processed</th>
          <th class="num">failed</th>
          <th>uptime</th>
          <th>last seen</th>
        </tr>
      </thead>
      <tbody data-k="workers-table">${workers.length === 0
        ? html`
          <tr>
            <td colspan="9" class="muted">no live worker (start one with qtasks worker)</td>
          </tr>
        `
        : workers.map((w) =>
          html`
            <tr>
              <td>${w.host}</td>
              <td>${w.pid}</td>
              <td>${w.runtime}</td>
              <td class="num">${w.concurrency}</td>
              <td class="num">${w.active}</td>
              <td class="num">${w.processed}</td>
              <td class="num">${w.failed}</td>
              <td>${duration(now - w.startedAt)}</td>
              <td>${duration(now - w.seenAt)} ago</td>
            </tr>
          `
        )}</tbody>
    </table>
  `;
}

/** A duration in ms as "3d 4h", "5m 12s" or "800 ms". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  const parts: [number, string][] = [
    [Math.floor(s / 86400), "d"],
    [Math.floor(s / 3600) % 24, "h"],
    [
      Math.floor(s / 60) % 60,
      "m",
    ],
    [s % 60, "s"],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return parts.slice(first, first + 2).map(([n, u]) => `${n}${u}`).join(" ");
}

/** The filters of the tasks page. */
export interface TaskFilters {
  status?: QueryStatus;
  taskName?: string;
  uuid?: string;
  cursor?: string;
}

/** The tasks page's main part. */
export function tasksPage(
  ctx: PageContext,
  filters: TaskFilters,
  names: string[],
  records: TaskRecord[],
  next: string | undefined,
  now: number,
  error?: string,
): Html {
  const query = (extra: Record<string, string | undefined>) => {
    const params = new URLSearchParams();
    for (
      const [k, v] of Object.entries({ status: filters.status, task: filters.taskName, ...extra })
    ) {
      if (v) params.set(k, v);
    }
    const text = params.toString();
    return `${ctx.base}/tasks${text ? `?${text}` : ""}`;
  };
  return html`
    <h1>Tasks</h1>
    <form class="filters" method="get" action="${ctx.base}/tasks">
    <label>status <select name="status" data-test="filter-status"><option value="">any</option>${QUERY_STATUSES
      .map((s) =>
        html`
          <option value="${s}" ${new Html(
            filters.status === s ? " selected" : "",
          )}>${LABEL[s]}</option>
        `
      )}</select></label>
    <label>task <select name="task" data-test="filter-task"><option value="">any</option>${names
      .map((n) =>
        html`
          <option value="${n}" ${new Html(filters.taskName === n ? " selected" : "")}>${n}</option>
        `
      )}</select></label>
    <label>uuid <input name="uuid" value="${filters.uuid ??
      ""}" placeholder="at least 4 characters" data-test="filter-uuid"></label>
    <button>Show</button>${filters.cursor
      ? html`
        <a href="${query({})}">newest</a>
      `
      : ""}
    </form>
    ${error ? html`<p class="error" data-test="query-error">${error}</p>` : ""}
    <table class="grid tasks">
      <thead>
        <tr>
          <th>uuid</th>
          <th>task</th>
          <th>status</th>
          <th>args</th>
          <th>created</th>
          <th>finished</th>
        </tr>
      </thead>
      <tbody>${records.length === 0
        ? html`
          <tr>
            <td colspan="6" class="muted">no task</td>
          </tr>
        `
        : records.map((r) => {
          const status = queryStatus(r, now);
          return html`
            <tr>
              <td><a class="mono" href="${ctx.base}/tasks/${r.uuid}">${r.uuid}</a></td>
              <td>${r.taskName}</td>
              <td>${statusBadge(status)}</td>
              <td class="mono cut">${preview(r.args, 120)}</td>
              <td>${when(r.createdAt)}</td>
              <td>${when(r.finishedAt)}</td>
            </tr>
          `;
        })}</tbody>
    </table>
    ${next
      ? html`<p><a class="button" href="${
        query({ cursor: next })
      }" data-test="next-page">Older →</a></p>`
      : ""}
  `;
}

/** The task detail page's main part. */
export function taskPage(
  ctx: PageContext,
  record: TaskRecord,
  logs: TaskLogLine[],
  now: number,
  attempts: TaskRecord[] = [record],
): Html {
  const status = queryStatus(record, now);
  const link = (uuid: string | undefined, label?: string) =>
    uuid ? html`<a class="mono" href="${ctx.base}/tasks/${uuid}">${label ?? uuid}</a>` : "–";
  const timeline: [string, Date | undefined][] = [
    ["created", record.createdAt],
    ["due", record.runAt],
    ["started", record.startedAt],
    ["finished", record.finishedAt],
    ["updated", record.updatedAt],
  ];
  const finished = ["success", "error", "cancel", "retry"].includes(status);
  return html`
    <h1><span>${record.taskName}</span> ${statusBadge(status)}</h1>
    <p class="mono" data-test="uuid">${record.uuid}</p>
    <div class="actions">${status === "error" || status === "cancel"
      ? actionForm(ctx, "retry", "Retry", { uuid: record.uuid }, undefined, "primary")
      : ""}${status === "queued" || status === "scheduled" || status === "running"
      ? actionForm(ctx, "cancel", "Cancel", { uuid: record.uuid }, "Cancel this task?", "warn")
      : ""}${status !== "running"
      ? actionForm(
        ctx,
        "delete",
        "Delete",
        { uuid: record.uuid },
        "Delete this task's record?",
        "danger",
      )
      : ""}</div>
    <section class="row">
      <div class="panel grow"><h2>Arguments</h2><pre data-test="args">${pretty(
        record.args,
      )}</pre>${Object.keys(record.kwargs).length > 0
        ? html`
          <h3>kwargs</h3>
          <pre>${pretty(record.kwargs)}</pre>
        `
        : ""}
    ${record.error
      ? html`
        <h2>Error</h2><pre class="error"
          data-test="error">${record.error.type}: ${record.error.message}${record.error.code
            ? ` (${record.error.code})`
            : ""}</pre>${record.error.stack
            ? html`
              <details open>
                <summary>stack</summary>
                <pre class="stack">${record.error.stack}</pre>
              </details>
            `
            : ""}
      `
      : ""}${record.cancelReason
      ? html`
        <h2>Cancel reason</h2>
        <pre>${record.cancelReason}</pre>
      `
      : ""}${finished && record.returning !== undefined
      ? html`
        <h2>Result</h2>
        <pre data-test="result">${pretty(record.returning)}</pre>
      `
      : ""}${record.progress !== undefined
      ? html`
        <h2>Progress</h2>
        <pre data-test="progress">${pretty(record.progress, 4096)}</pre>
      `
      : ""}
    <h2>Logs <small>${logs.length} lines</small></h2>${logs.length === 0
      ? html`<p class="muted">no line (a task logs with ctx.log when registered with echo: true)</p>`
      : html`<pre class="logs" data-test="logs">${
        logs.map((l) =>
          html`<span class="lv-${l.level}">${l.at.toISOString()} ${
            l.level.padEnd(5)
          } ${l.message}</span>\n`
        )
      }</pre>`}
      </div>
      <div
        class="panel"><h2>Timeline</h2><table><tbody>${timeline.filter(([, d]) => d !== undefined)
          .map(([label, d]) =>
            html`
              <tr>
                <td>${label}</td>
                <td>${when(d)}</td>
              </tr>
            `
          )}<tr><td>deliveries</td><td>${record.deliveries}</td></tr>${(record.pastDeliveries ?? [])
          .map((d) =>
            html`
              <tr data-test="past-delivery">
                <td>delivery ${d.delivery}</td>
                <td>${d.startedAt ? when(d.startedAt) : "?"} → ${when(d.endedAt)}<br><small
                  >${d.end === "expired"
                    ? "lease expired (worker died or stalled)"
                    : "released by its worker"}${d.workerId
                    ? html`
                      · <span class="mono">${d.workerId}</span>
                    `
                    : ""}</small></td>
              </tr>
            `
          )}
    <tr><td>attempt</td><td>${record.attempt}${record.retry !== undefined
      ? ` (retries left ${record.retry})`
      : ""}</td></tr>
    <tr><td>previous attempt</td><td>${link(record.retryParentUuid)}</td></tr>
    <tr><td>next attempt</td><td>${link(record.retryChildUuid)}</td></tr>
    <tr><td>priority</td><td>${record.priority}</td></tr>
    <tr><td>worker</td><td class="mono">${record.workerId ?? "–"}</td></tr>
    ${record.dedupId === undefined ? "" : html`
      <tr>
        <td>dedup id</td>
        <td class="mono">${record.dedupId}</td>
      </tr>
    `}
    </tbody></table>
    ${attempts.length > 1
      ? html`
        <h2>Attempts</h2>
        <table class="attempts">
          <tbody>${attempts.map((a) =>
            html`
              <tr${new Html(a.uuid === record.uuid ? ' class="current"' : "")}>
                <td>#${a.attempt}</td>
                <td>${link(a.uuid, a.uuid)}</td>
                <td>${statusBadge(queryStatus(a, now))}</td>
                <td>${when(a.finishedAt ?? a.startedAt)}</td>
                <td class="cut">${a.error?.message ?? ""}</td>
                </tr>
            `
          )}</tbody>
        </table>
      `
      : ""}
    ${record.chainUuid || record.groupUuid || record.flowSteps
      ? html`
        <h2>Flow</h2><table>
          <tbody>
            <tr>
              <td>chain</td>
              <td>${link(record.chainUuid)}</td>
            </tr>
            <tr>
              <td>group</td>
              <td>${link(record.groupUuid)}${record.groupIndex !== undefined
                ? ` (member ${record.groupIndex})`
                : ""}</td>
            </tr>
            <tr>
              <td>kind</td>
              <td>${record.flowKind ?? "–"}</td>
            </tr>
            <tr>
              <td>current step</td>
              <td>${link(record.flowCurrent)}</td>
            </tr>
            <tr>
              <td>failed step</td>
              <td>${link(record.flowFailedUuid)}</td>
            </tr>
          </tbody>
        </table>${record.flowSteps?.length
          ? html`
            <h3>steps</h3>
            <ol class="mono">${record.flowSteps.map((s) => html`<li>${link(s)}</li>`)}</ol>
          `
          : ""}
      `
      : ""}
    ${Object.keys(record.extra).length > 0
      ? html`
        <h2>Extra</h2>
        <table>
          <tbody>${Object.entries(record.extra).map(([k, v]) =>
            html`
              <tr>
                <td>${k}</td>
                <td>${v}</td>
              </tr>
            `
          )}</tbody>
        </table>
      `
      : ""}
      </div>
    </section>
  `;
}

/** The schedules page's main part. */
export function schedulesPage(schedules: PublishedSchedule[], now: number): Html {
  return html`
    <h1>Schedules <small>published by the running timers</small></h1>
    <table class="grid">
      <thead>
        <tr>
          <th>schedule</th>
          <th>task</th>
          <th>cron</th>
          <th>args</th>
          <th>next fire</th>
          <th>in</th>
          <th>published</th>
        </tr>
      </thead>
      <tbody>${schedules.length === 0
        ? html`
          <tr>
            <td colspan="7"
              class="muted">no schedule published (a Timer publishes its schedules when it starts: qtasks timer ./app.ts)</td>
          </tr>
        `
        : schedules.map((s) =>
          html`
            <tr>
              <td class="mono">${s.id}</td>
              <td>${s.taskName}</td>
              <td class="mono">${s.cron}${s.timezone ? ` (${s.timezone})` : ""}</td>
              <td class="mono cut">${preview(s.args, 120)}</td>
              <td>${when(s.nextAt)}</td>
              <td>${s.nextAt === undefined
                ? "–"
                : s.nextAt < now - 120_000
                ? html`<span class="badge warn">overdue: is a timer running?</span>`
                : duration(s.nextAt - now)}</td>
              <td>${duration(now - s.publishedAt)} ago</td>
            </tr>
          `
        )}</tbody>
    </table>
  `;
}

/** A page with a message (not found, refused). */
export function messagePage(title: string, text: string): Html {
  return html`
    <h1>${title}</h1>
    <p>${text}</p>
  `;
}
