/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core from
 * scripts/tools), served on 127.0.0.1 by the `web` command's server, over an app on Redis with a
 * worker running: the overview's counts change while tasks run, a failed task shows its error,
 * Retry makes it succeed, pausing a task name stops the worker taking it, and an XSS payload
 * enqueued from the page renders as text. Writes a screenshot of each page into
 * QTASKS_WEB_SCREENSHOTS (default: a temporary folder; `docs/web` refreshes the docs' ones).
 *
 * Run once, under Node, by `bash scripts/test.sh web` (part of the full run): it drives a
 * browser, so it is not one of the `*_test.ts` files every runtime runs.
 * `node --test tests/web/browser_e2e.ts` runs it alone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TaskContext, Timer } from "../../mod.ts";
import { createDashboard } from "../../src/web/mod.ts";
import { serveHttp } from "../../src/runtime/serve_http.ts";
import { backendApp } from "../support/with_app.ts";

interface Page {
  goto(url: string): Promise<unknown>;
  click(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  waitForSelector(selector: string, options?: { timeout?: number }): Promise<unknown>;
  waitForFunction<A>(
    fn: (arg: A) => boolean,
    arg: A,
    options?: { timeout?: number },
  ): Promise<unknown>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  evaluate<T, A = undefined>(fn: (arg: A) => T, arg?: A): Promise<T>;
  on(event: "dialog", listener: (dialog: { accept(): Promise<void> }) => void): void;
  on(event: "pageerror", listener: (error: Error) => void): void;
  url(): string;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  setDefaultTimeout(ms: number): void;
}

const CHROMIUM = "/usr/bin/chromium";

/** The page's globals these checks use (the functions run in the page: CSP allows no eval). */
type InPage = {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    querySelectorAll(selector: string): { length: number };
  };
  __loaded?: number;
  __xss?: unknown;
};

/** Waits until the element's text is `want` (the function runs in the page). */
function textIs(page: Page, selector: string, want: string): Promise<unknown> {
  return page.waitForFunction(
    ([sel, text]) =>
      (globalThis as unknown as InPage).document.querySelector(sel)?.textContent === text,
    [selector, want] as const,
    { timeout: 10_000 },
  );
}
const XSS = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"'`;

test("in Chromium: live counts, a failed task's error, Retry, pause, and XSS shown as text", async () => {
  const require = createRequire(new URL("../../scripts/tools/package.json", import.meta.url));
  const { chromium } = require("playwright-core") as {
    chromium: {
      launchPersistentContext(userDataDir: string, options: Record<string, unknown>): Promise<{
        newPage(): Promise<Page>;
        close(): Promise<void>;
      }>;
    };
  };
  const shots = process.env.QTASKS_WEB_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "qtasks-web-"));
  mkdirSync(shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "qtasks-chromium-"));

  const app = backendApp("redis", "web-e2e", { logsDefaultLevel: "silent" }, "shop");
  let failing = true;
  app.task({ name: "resize_image", echo: true }, async (ctx: TaskContext, size: number) => {
    await ctx.progress({ done: 1, of: 2 });
    await ctx.log(`resizing to ${size}px`);
    await new Promise((resolve) => setTimeout(resolve, 40));
    return { size };
  });
  app.task({ name: "charge_card", retry: 0 }, (cents: number) => {
    if (failing) throw new RangeError(`card declined for ${cents} cents`);
    return { charged: cents };
  });
  app.task("send_email", (to: string) => `sent to ${to}`);
  const timer = new Timer({ app });
  timer.addTask("send_email", { cron: "0 9 * * 1", args: ["weekly@example.com"], id: "weekly" });
  await app.flushAll();
  await app.start();
  await timer.start();
  const dashboard = createDashboard({ app });
  const server = await serveHttp(dashboard, { hostname: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${server.port}`;
  // A fresh profile (--user-data-dir, which playwright passes for a persistent context).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
    ],
  }).catch(async (error) => {
    await stopAll();
    throw error;
  });
  try {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 860 });
    page.setDefaultTimeout(10_000);
    const errors: Error[] = [];
    page.on("pageerror", (error) => errors.push(error));
    page.on("dialog", (dialog) => void dialog.accept());

    // Overview: the success count changes while tasks run, without a reload.
    for (let i = 0; i < 6; i++) await (await app.addTask("resize_image", [100 + i])).result();
    await (await app.addTask("send_email", ["ann@example.com"])).result();
    await page.goto(`${base}/`);
    await page.waitForSelector("#live.on");
    const before = Number(await page.textContent('[data-k="count-success"]'));
    assert.equal(before, 7);
    const loaded = await page.evaluate(() =>
      (globalThis as unknown as InPage).__loaded = performance.timeOrigin
    );
    const jobs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => app.addTask("resize_image", [200 + i])),
    );
    await Promise.all(jobs.map((job) => job.result()));
    await textIs(page, '[data-k="count-success"]', "37");
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as InPage).__loaded),
      loaded,
      "no reload",
    );

    // A failed task: its error is shown; Retry runs it again and it succeeds.
    const bad = await app.addTask("charge_card", [1250]);
    await bad.result();
    await page.goto(`${base}/tasks?status=error`);
    await page.click(`a[href="/tasks/${bad.uuid}"]`);
    await page.waitForSelector('[data-test="error"]');
    assert.match(
      (await page.textContent('[data-test="error"]'))!,
      /RangeError: card declined for 1250 cents/,
    );
    await page.screenshot({ path: join(shots, "task-error.png"), fullPage: true });
    failing = false;
    await page.click('button[data-test="retry"]');
    await page.waitForSelector("main .status.s-retry", { timeout: 10_000 });
    const child = (await app.get(bad.uuid))?.retryChildUuid;
    assert.ok(child, "the retry made a new attempt");
    await page.click(`a[href="/tasks/${child}"]`);
    await page.waitForSelector("main h1 .status.s-success", { timeout: 10_000 });
    assert.match((await page.textContent('[data-test="result"]'))!, /"charged": 1250/);
    await page.screenshot({ path: join(shots, "task-retried.png"), fullPage: true });

    // Pause a task name from the overview: the worker stops taking it; Resume lets it run.
    await page.goto(`${base}/`);
    await page.click('tr[data-name="send_email"] button[data-test="pause"]');
    await page.waitForSelector('tr[data-name="send_email"] .badge.warn', { timeout: 10_000 });
    assert.deepEqual((await app.ops.paused()).taskNames, ["send_email"]);
    const held = await Promise.all([1, 2, 3].map((i) => app.addTask("send_email", [`u${i}@x.io`])));
    await (await app.addTask("resize_image", [999])).result(); // the worker runs other tasks
    for (const job of held) assert.equal((await app.get(job.uuid))?.status, "new", "not taken");
    await textIs(page, '[data-k="n:send_email:queued"]', "3");
    await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });
    await page.click('tr[data-name="send_email"] button[data-test="resume"]');
    await Promise.all(held.map((job) => job.result()));

    // XSS enqueued from the page renders as text and runs nothing.
    await page.fill('[data-test="enqueue-name"]', "send_email");
    await page.fill('[data-test="enqueue-args"]', JSON.stringify([XSS]));
    await page.click('button[data-test="enqueue"]');
    await page.waitForSelector('[data-test="args"]', { timeout: 10_000 });
    assert.ok((await page.textContent('[data-test="args"]'))!.includes(XSS.replaceAll('"', '\\"')));
    await page.waitForSelector("main h1 .status.s-success", { timeout: 10_000 });
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as InPage).__xss),
      undefined,
      "no payload ran",
    );
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as InPage).document.querySelectorAll("main img").length
      ),
      0,
    );
    await page.screenshot({ path: join(shots, "task-xss.png"), fullPage: true });
    await page.goto(`${base}/tasks/${jobs[0].uuid}`);
    assert.match((await page.textContent('[data-test="logs"]'))!, /resizing to 200px/);
    assert.match((await page.textContent('[data-test="progress"]'))!, /"of": 2/);
    await page.screenshot({ path: join(shots, "task-detail.png"), fullPage: true });
    await page.goto(`${base}/`);
    await page.fill('[data-test="enqueue-name"]', "send_email");
    await page.fill('[data-test="enqueue-args"]', "[1,");
    await page.click('button[data-test="enqueue"]');
    await page.waitForSelector("#flash .bad");
    assert.match((await page.textContent("#flash .bad"))!, /not valid JSON/);

    await page.goto(`${base}/tasks`);
    await page.screenshot({ path: join(shots, "tasks.png") });
    await page.goto(`${base}/workers`);
    await page.waitForSelector("main td");
    assert.match((await page.textContent("main tbody"))!, /node/);
    await page.screenshot({ path: join(shots, "workers.png"), fullPage: true });
    await page.goto(`${base}/schedules`);
    assert.match((await page.textContent("main tbody"))!, /weekly.*send_email.*0 9 \* \* 1/s);
    await page.screenshot({ path: join(shots, "schedules.png"), fullPage: true });
    assert.deepEqual(errors.map((e) => e.message), [], "no script error");
  } finally {
    await browser.close();
    await stopAll();
  }

  async function stopAll(): Promise<void> {
    dashboard.close();
    await server.close();
    await timer.stop();
    await app.flushAll();
    await app.stop();
    rmSync(profile, { recursive: true, force: true });
  }
});
