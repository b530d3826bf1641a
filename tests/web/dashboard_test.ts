/**
 * The dashboard's handler (`@qtasks/qtasks/web`) on both backends, answered in process (no
 * server): pages and status codes, escaping of every value from task data, authentication, CSRF
 * (same-origin check and token), read-only mode, actions, and the live stream. Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { QueueTasks, TaskContext } from "../../mod.ts";
import { createDashboard, type Dashboard, type DashboardOptions } from "../../src/web/mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

const ORIGIN = "http://dash.test";
const XSS = `<script>alert("x'1")</script>`;

async function get(dashboard: Dashboard, path: string, headers: HeadersInit = {}) {
  const response = await dashboard(new Request(ORIGIN + path, { headers }));
  return { status: response.status, headers: response.headers, body: await response.text() };
}

function csrfOf(page: string): string {
  const match = /<meta name="qtasks-csrf" content="([0-9a-f]+)">/.exec(page);
  assert.ok(match, "the page carries its CSRF token");
  return match[1];
}

async function post(
  dashboard: Dashboard,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string>,
) {
  const response = await dashboard(
    new Request(ORIGIN + path, {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    }),
  );
  return {
    status: response.status,
    body: await response.json() as { message: string; uuid?: string },
  };
}

async function withDashboard(
  app: QueueTasks,
  options: Omit<DashboardOptions, "app">,
  body: (dashboard: Dashboard) => Promise<void>,
): Promise<void> {
  await withApp(app, async () => {
    const dashboard = createDashboard({ app, ...options });
    try {
      await body(dashboard);
    } finally {
      dashboard.close();
    }
  });
}

/** Reads SSE messages from a stream until `done` says stop. */
async function readEvents(
  stream: ReadableStream<Uint8Array>,
  done: (event: string, data: unknown) => boolean,
): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    while (true) {
      const { value, done: ended } = await reader.read();
      if (ended) throw new Error("the stream ended");
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const chunk = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(chunk)?.[1];
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (event && data && done(event, JSON.parse(data))) return;
      }
    }
  } finally {
    await reader.cancel();
  }
}

test("importing @qtasks/qtasks loads no module of the dashboard", async () => {
  const { readFileSync } = await import("node:fs");
  const seen = new Set<string>();
  const visit = (url: URL) => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const text = readFileSync(url, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      visit(new URL(m[1], url));
    }
    assert.ok(!/"@hono\//.test(text), `${url.pathname} imports no server adapter`);
  };
  visit(new URL("../../mod.ts", import.meta.url));
  assert.ok(seen.size > 50, "the walk followed the imports");
  const web = [...seen].filter((href) => href.includes("/src/web/"));
  assert.deepEqual(web, []);
});

test("a basePath that does not start with a slash is refused", () => {
  assert.throws(
    () => createDashboard({ app: backendApp("memory", "web-base"), basePath: "queue" }),
    /basePath "queue" does not start with "\/"/,
  );
});

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, every page answers 200 with a CSP, under the base path only`, async () => {
    const app = backendApp(backend, "web-pages");
    app.task("noop", () => 1);
    await withDashboard(app, { basePath: "/queue" }, async (dashboard) => {
      const job = await app.addTask("noop", []);
      await job.result();
      for (const path of ["/", "/workers", "/tasks", "/tasks?status=success", "/schedules"]) {
        const page = await get(dashboard, `/queue${path}`);
        assert.equal(page.status, 200, path);
        assert.match(page.headers.get("content-type")!, /^text\/html/);
        assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/);
        assert.ok(!page.body.includes("<script>") || !/<script>[^<]/.test(page.body), path);
      }
      const detail = await get(dashboard, `/queue/tasks/${job.uuid}`);
      assert.equal(detail.status, 200);
      assert.ok(detail.body.includes(job.uuid));
      assert.equal((await get(dashboard, `/queue/tasks/${crypto.randomUUID()}`)).status, 404);
      assert.equal((await get(dashboard, "/queue/nothing")).status, 404);
      assert.equal((await get(dashboard, "/elsewhere")).status, 404);
      assert.equal((await get(dashboard, "/queue/assets/app.js")).status, 200);
      const bad = await get(dashboard, "/queue/tasks?status=nope");
      assert.equal(bad.status, 200);
      assert.match(bad.body, /Unknown status &quot;nope&quot;/);
    });
  });

  test(`${label}, the task page lists each delivery that ended without a settlement`, async () => {
    const app = backendApp(backend, "web-deliveries");
    app.task("noop", () => 1);
    await withDashboard(app, {}, async (dashboard) => {
      // In a queue the app's worker does not consume: only this test's exchanges touch it.
      const uuid = crypto.randomUUID();
      const request = {
        settlements: [],
        want: 1,
        leaseMs: 30_000,
        resultTtlMs: 60_000,
        maxDeliveries: 5,
        recoverLimit: 0,
        queues: ["parked"],
      };
      await app.broker.add({
        uuid,
        taskName: "noop",
        priority: 0,
        args: "[]",
        kwargs: "{}",
        extra: {},
        queue: "parked",
      });
      await app.broker.exchange({ ...request, workerId: "worker-gone" });
      await app.broker.exchange({
        ...request,
        workerId: "worker-gone",
        want: 0,
        settlements: [{ uuid, deliveries: 1, status: "release" }],
      });
      await app.broker.exchange({ ...request, workerId: "worker-next" });
      const page = await get(dashboard, `/tasks/${uuid}`);
      assert.equal(page.status, 200);
      const rows = page.body.split('data-test="past-delivery"').slice(1);
      assert.equal(rows.length, 1, "one past delivery");
      assert.match(rows[0], /delivery 1/);
      assert.match(rows[0], /released by its worker/);
      assert.match(rows[0], /worker-gone/);
      await app.broker.exchange({
        ...request,
        workerId: "worker-next",
        want: 0,
        settlements: [{ uuid, deliveries: 2, status: "success", returning: "1" }],
      });
    });
  });

  test(`${label}, script tags and quotes from task names, args, results, errors and logs render as text`, async () => {
    const app = backendApp(backend, "web-xss");
    const name = `x${XSS}`;
    app.task({ name, retry: 0, echo: true }, async (ctx: TaskContext, arg: string) => {
      await ctx.log(`log ${arg}`);
      if (arg.startsWith("fail")) throw new Error(`error ${XSS}`);
      return { result: XSS };
    });
    await withDashboard(app, {}, async (dashboard) => {
      const ok = await app.addTask(name, [XSS]);
      await ok.result();
      const bad = await app.addTask(name, [`fail ${XSS}`]);
      await bad.result();
      const pages = await Promise.all(
        [
          "/",
          "/tasks",
          `/tasks?task=${encodeURIComponent(name)}`,
          `/tasks/${ok.uuid}`,
          `/tasks/${bad.uuid}`,
        ]
          .map((path) => get(dashboard, path)),
      );
      for (const page of pages) {
        assert.equal(page.status, 200);
        assert.ok(!page.body.includes(XSS), "no raw payload");
        assert.ok(!page.body.includes(`"x'1"`), "no raw quotes");
      }
      const [, , , success, failure] = pages;
      const escaped = "&lt;script&gt;alert(&quot;x&#39;1&quot;)&lt;/script&gt;";
      assert.ok(success.body.includes(escaped), "the result and args are shown, escaped");
      assert.ok(failure.body.includes(`error ${escaped}`), "the error is shown, escaped");
      assert.ok(failure.body.includes(`log fail ${escaped}`), "the log line is shown, escaped");
      assert.ok(pages[0].body.includes(`x${escaped}`), "the task name is shown, escaped");
    });
  });

  test(`${label}, a POST needs the page's token and a same-origin request`, async () => {
    const app = backendApp(backend, "web-csrf");
    await withDashboard(app, {}, async (dashboard) => {
      const token = csrfOf((await get(dashboard, "/")).body);
      const fields = { taskName: "report" };
      assert.equal((await post(dashboard, "/actions/pause", fields, {})).status, 403);
      assert.equal(
        (await post(dashboard, "/actions/pause", fields, { "x-csrf-token": "0".repeat(48) }))
          .status,
        403,
      );
      const crossSite = await post(dashboard, "/actions/pause", fields, {
        "x-csrf-token": token,
        "sec-fetch-site": "cross-site",
      });
      assert.equal(crossSite.status, 403);
      assert.match(crossSite.body.message, /Cross-site/);
      assert.equal(
        (await post(dashboard, "/actions/pause", fields, {
          "x-csrf-token": token,
          origin: "http://evil.test",
        })).status,
        403,
      );
      assert.deepEqual((await app.ops.paused()).taskNames, [], "nothing changed");
      const ok = await post(dashboard, "/actions/pause", fields, {
        "x-csrf-token": token,
        origin: ORIGIN,
        "sec-fetch-site": "same-origin",
      });
      assert.equal(ok.status, 200);
      assert.deepEqual((await app.ops.paused()).taskNames, ["report"]);
      const byField = await post(dashboard, "/actions/resume", { ...fields, _csrf: token }, {});
      assert.equal(byField.status, 200, "the form's _csrf field stands for the header");
      assert.deepEqual((await app.ops.paused()).taskNames, []);
      assert.equal((await dashboard(new Request(ORIGIN + "/actions/pause"))).status, 404);
      assert.equal((await dashboard(new Request(ORIGIN + "/", { method: "PUT" }))).status, 405);
    });
  });

  test(`${label}, read-only mode shows no action and refuses every POST`, async () => {
    const app = backendApp(backend, "web-ro");
    app.task({ name: "boom", retry: 0 }, () => {
      throw new Error("down");
    });
    await withDashboard(app, { readOnly: true }, async (dashboard) => {
      const job = await app.addTask("boom", []);
      await job.result();
      const overview = await get(dashboard, "/");
      const detail = await get(dashboard, `/tasks/${job.uuid}`);
      for (const page of [overview, detail]) {
        assert.ok(!page.body.includes('<form method="post"'), "no action form");
        assert.ok(!page.body.includes('data-test="retry"'), "no retry button");
      }
      assert.match(overview.body, /read-only/);
      const refused = await post(dashboard, "/actions/retry", { uuid: job.uuid }, {
        "x-csrf-token": csrfOf(overview.body),
      });
      assert.equal(refused.status, 403);
      assert.equal((await app.get(job.uuid))?.status, "error", "not retried");
    });
  });

  test(`${label}, retry, enqueue and their errors answer as JSON`, async () => {
    const app = backendApp(backend, "web-actions");
    let fail = true;
    app.task({ name: "flaky", retry: 0 }, (n: number) => {
      if (fail) throw new Error("down");
      return n;
    });
    await withDashboard(app, {}, async (dashboard) => {
      const headers = { "x-csrf-token": csrfOf((await get(dashboard, "/")).body) };
      const job = await app.addTask("flaky", [7]);
      await job.result();
      fail = false;
      const retried = await post(dashboard, "/actions/retry", { uuid: job.uuid }, headers);
      assert.equal(retried.status, 200);
      assert.equal((await app.result(job.uuid).result()).returning, 7);
      const attempts = (await get(dashboard, `/tasks/${job.uuid}`)).body;
      assert.match(attempts, /<h2>Attempts<\/h2>/);
      assert.ok(attempts.includes(`href="/tasks/${retried.body.uuid}"`), "links the new attempt");
      const again = await post(dashboard, "/actions/retry", { uuid: job.uuid }, headers);
      assert.equal(again.status, 409, "a retried task is not retried twice");
      assert.equal(
        (await post(dashboard, "/actions/retry", { uuid: crypto.randomUUID() }, headers)).status,
        404,
      );
      const badJson = await post(dashboard, "/actions/enqueue", {
        taskName: "flaky",
        args: "[1,",
      }, headers);
      assert.equal(badJson.status, 400);
      assert.match(badJson.body.message, /not valid JSON/);
      const notArray = await post(dashboard, "/actions/enqueue", {
        taskName: "flaky",
        args: '{"a":1}',
      }, headers);
      assert.equal(notArray.status, 400);
      assert.match(notArray.body.message, /must be a JSON array/);
      const added = await post(dashboard, "/actions/enqueue", {
        taskName: "flaky",
        args: "[41]",
      }, headers);
      assert.equal(added.status, 200);
      assert.equal((await app.result(added.body.uuid!).result()).returning, 41);
    });
  });

  test(`${label}, authentication: bearer token, basic auth, and 401 otherwise`, async () => {
    const app = backendApp(backend, "web-auth");
    await withDashboard(
      app,
      { auth: { token: "t0ken", username: "ops", password: "pa:ss" } },
      async (dashboard) => {
        const denied = await get(dashboard, "/");
        assert.equal(denied.status, 401);
        assert.match(denied.headers.get("www-authenticate")!, /^Basic realm="QTasks"/);
        assert.equal((await get(dashboard, "/assets/app.js")).status, 401);
        assert.equal((await get(dashboard, "/events")).status, 401);
        const basic = (user: string, pass: string) => `Basic ${btoa(`${user}:${pass}`)}`;
        assert.equal((await get(dashboard, "/", { authorization: "Bearer t0ken" })).status, 200);
        assert.equal((await get(dashboard, "/", { authorization: "Bearer nope" })).status, 401);
        assert.equal(
          (await get(dashboard, "/", { authorization: basic("ops", "pa:ss") })).status,
          200,
        );
        assert.equal(
          (await get(dashboard, "/", { authorization: basic("x", "t0ken") })).status,
          200,
        );
        assert.equal(
          (await get(dashboard, "/", { authorization: basic("ops", "pa") })).status,
          401,
        );
        const page = await get(dashboard, "/", { authorization: "Bearer t0ken" });
        assert.ok(
          !page.body.includes("t0ken") && !page.body.includes("pa:ss"),
          "no secret in a page",
        );
      },
    );
  });

  test(`${label}, the event stream sends the overview, and the counts again when tasks change`, async () => {
    const app = backendApp(backend, "web-live");
    app.task("tick", () => 1);
    await withDashboard(app, {}, async (dashboard) => {
      const response = await dashboard(new Request(ORIGIN + "/events"));
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type")!, /^text\/event-stream/);
      let first = true;
      let enqueued = false;
      await readEvents(response.body!, (event, data) => {
        if (event !== "overview") return false;
        const success = (data as { byStatus: { success: number } }).byStatus.success;
        if (first) {
          first = false;
          assert.equal(success, 0);
          void app.addTask("tick", []).then(() => enqueued = true);
          return false;
        }
        return enqueued && success === 1;
      });
    });
  });

  test(`${label}, every open tab shares one subscription to the event stream, stopped when the last closes`, async () => {
    const app = backendApp(backend, "web-shared");
    await withDashboard(app, {}, async (dashboard) => {
      const ops = app.ops;
      const subscribe = ops.subscribe.bind(ops);
      let subscribed = 0;
      let unsubscribed = 0;
      ops.subscribe = async (listener, options) => {
        subscribed++;
        const stop = await subscribe(listener, options);
        return () => {
          unsubscribed++;
          stop();
        };
      };
      const tabs = await Promise.all(
        [1, 2, 3].map(() => dashboard(new Request(ORIGIN + "/events"))),
      );
      const readers = tabs.map((tab) => tab.body!.getReader());
      await Promise.all(readers.map((reader) => reader.read()));
      await Promise.all(readers.map((reader) => reader.read()));
      assert.equal(subscribed, 1, "one subscription for three tabs");
      await readers[0].cancel();
      await readers[1].cancel();
      assert.equal(unsubscribed, 0, "one tab still listens");
      await readers[2].cancel();
      assert.equal(unsubscribed, 1, "stopped with the last tab");
      ops.subscribe = subscribe;
    });
  });
}
