/**
 * A producer process: enqueues tasks of examples/tasks.ts, awaits their results from a worker,
 * prints them and exits. Start examples/worker.ts first. Needs Redis (QTASKS_REDIS_URL, default
 * redis://127.0.0.1:6379).
 *
 *   deno run -A examples/producer.ts
 *   bun examples/producer.ts
 *   node examples/producer.ts
 */
import { getRuntime, ResultTimeoutError } from "../mod.ts";
import { add, app, resizeImage, sendEmail } from "./tasks.ts";

/** How many `add` tasks to enqueue. */
const N = 5;
const options = { timeoutMs: 10_000 };

let failed = false;
try {
  // By handle: arguments and results are typed from the task functions.
  const sums = await Promise.all(Array.from({ length: N }, (_, i) => add.addTask(i, i * 10)));
  const email = await sendEmail.addTask("ada@example.com", "Welcome");
  const image = await resizeImage.addTask("https://example.com/cat.png", 320);
  // By name, with a priority for this call (the producer need not import the task at all).
  const urgent = await app.addTask<number>("add", [1_000, 1], { priority: -10 });

  for (const [i, job] of sums.entries()) {
    console.log(`add(${i}, ${i * 10}) = ${await job.value(options)}   [task ${job.uuid}]`);
  }
  console.log(`send_email -> ${JSON.stringify(await email.value(options))}`);
  console.log(`resize_image -> ${JSON.stringify(await image.value(options))}`);
  const record = await urgent.result(options);
  console.log(`add(1000, 1) by name, priority ${record.priority}: ${record.returning}`);
} catch (error) {
  if (!(error instanceof ResultTimeoutError)) throw error;
  console.error(`${error.message}\nIs a worker running? Start one with examples/worker.ts.`);
  failed = true;
} finally {
  await app.stop(); // closes the Redis connections, so the process exits by itself
}
if (failed) getRuntime().exit(1);
