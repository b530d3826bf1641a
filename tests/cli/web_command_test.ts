/**
 * `qtasks web` in a real process of the runtime under test: it serves the dashboard on 127.0.0.1
 * (port 0: a free one), with no application code (`--redis URL --app NAME`), requires the token
 * from QTASKS_WEB_TOKEN, refuses actions in read-only mode, never shows the token, and stops on
 * SIGTERM with exit code 0. Needs Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { producerApp, REDIS_URL, repoPath, uniqueAppName } from "../support/e2e_env.ts";
import { spawnRuntime } from "../support/spawn_runtime.ts";

const CLI = repoPath("cli.ts");

test("qtasks web serves the dashboard of an app named on the command line, with a token, read-only, and stops on SIGTERM", async () => {
  const name = uniqueAppName("cli-web");
  const producer = producerApp(name);
  const server = spawnRuntime(CLI, {
    args: ["web", "--redis", REDIS_URL, "--app", name, "--port", "0", "--read-only"],
    env: { QTASKS_WEB_TOKEN: "s3cret-token" },
  });
  try {
    const job = await producer.addTask("send_email", ["<b>ann</b>@example.com"]);
    const [, port] = await server.waitForLine(
      /^qtasks: dashboard of app "[^"]+" \(.*\) on http:\/\/127\.0\.0\.1:(\d+)\/ \(read-only\) \(authentication required\)/,
      20_000,
    );
    const base = `http://127.0.0.1:${port}`;
    const denied = await fetch(`${base}/`);
    await denied.body?.cancel();
    assert.equal(denied.status, 401);
    const auth = { authorization: "Bearer s3cret-token" };
    const page = await fetch(`${base}/tasks/${job.uuid}`, { headers: auth });
    const body = await page.text();
    assert.equal(page.status, 200);
    assert.ok(body.includes("&lt;b&gt;ann&lt;/b&gt;@example.com"), "the args, escaped");
    assert.ok(!body.includes("s3cret-token"), "the token is not in the page");
    const refused = await fetch(`${base}/actions/delete`, {
      method: "POST",
      headers: auth,
      body: new URLSearchParams({ uuid: job.uuid }),
    });
    await refused.body?.cancel();
    assert.equal(refused.status, 403);
    assert.equal((await producer.get(job.uuid))?.status, "new", "not deleted");
    server.signal("SIGTERM");
    assert.equal(await server.exitCode(15_000), 0);
    assert.match(server.stdout, /dashboard of app "[^"]+" stopped/);
  } finally {
    await server.kill();
    await producer.flushAll();
    await producer.stop();
  }
});
