/**
 * The producer of the npm smoke test: enqueues tasks for worker.mjs (another process), checks
 * their results, prints one line and exits 0 when they are right, 1 when not.
 *
 * Environment (besides tasks.mjs's): SMOKE_WORKER_RUNTIME, the runtime the worker runs on
 * (deno, bun or node).
 *
 * @module
 */
import { getRuntime, TaskFailedError } from "@qtasks/qtasks";
import { add, app, fail, whoRuns } from "./tasks.mjs";

const expected = getRuntime().env("SMOKE_WORKER_RUNTIME");
const options = { timeoutMs: 20_000 };
const problems = [];
const check = (what, actual, wanted) => {
  if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
    problems.push(`${what}: got ${JSON.stringify(actual)}, wanted ${JSON.stringify(wanted)}`);
  }
};

try {
  const [sum, byName, who, failing] = await Promise.all([
    add.addTask(2, 3),
    app.addTask("add", [40, 2], { priority: -1 }),
    whoRuns.addTask("smoke"),
    fail.addTask("on purpose"),
  ]);
  check("add(2, 3)", await sum.value(options), 5);
  check("add(40, 2) by name", await byName.value(options), 42);
  check("who_runs", await who.value(options), { label: "smoke", runtime: expected, attempt: 1 });
  const failed = await failing.value(options).then(
    () => "resolved",
    (error) => error instanceof TaskFailedError ? error.code : String(error),
  );
  check("fail rejects with TaskFailedError", failed, "TASK_FAILED");
} catch (error) {
  problems.push(`threw ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  await app.flushAll(); // this app's keys only
  await app.stop();
}
const producer = `${getRuntime().name} ${getRuntime().version}`;
if (problems.length > 0) {
  console.log(`MISMATCH (producer ${producer}): ${problems.join("; ")}`);
  getRuntime().exit(1);
} else {
  console.log(`OK (producer ${producer}, worker ${expected}): add 5, by name 42, who_runs, fail`);
}
