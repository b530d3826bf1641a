/**
 * A worker process: runs the tasks of examples/tasks.ts until SIGINT (Ctrl+C) or SIGTERM, then
 * finishes its running tasks and exits with code 0. Needs Redis (QTASKS_REDIS_URL, default
 * redis://127.0.0.1:6379).
 *
 *   deno run -A examples/worker.ts
 *   bun examples/worker.ts
 *   node examples/worker.ts
 *
 * Then enqueue tasks from another terminal with examples/producer.ts.
 */
import { app } from "./tasks.ts";

console.log(`Worker of app "${app.name}" with tasks: ${[...app.tasks.keys()].join(", ")}`);
await app.runForever();
