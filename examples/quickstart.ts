/**
 * Quickstart: register tasks, start a worker in this process, enqueue tasks, await results.
 *
 * Run it with the in-memory backend (nothing else needed):
 *
 *   deno run -A examples/quickstart.ts
 *   bun examples/quickstart.ts
 *   node examples/quickstart.ts
 *
 * or on Redis:
 *
 *   QTASKS_REDIS_URL=redis://127.0.0.1:6379 deno run -A examples/quickstart.ts
 *
 * It prints what each task returned (or threw) and exits by itself.
 */
import { getRuntime, QueueTasks, type TaskContext, TaskFailedError } from "../mod.ts";

// Without a broker URL the app uses the in-memory backend. A brokerUrl key that is present but
// undefined (an unset variable) is refused, so it is given only when there is one.
const brokerUrl = getRuntime().env("QTASKS_REDIS_URL");
const app = new QueueTasks({
  name: "quickstart",
  ...(brokerUrl ? { brokerUrl } : {}),
  // One task at a time, so the run order below shows the priorities; only warnings are logged.
  config: { maxTasksProcess: 1, logsDefaultLevel: "warn" },
});

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

const runOrder: string[] = [];

// A plain synchronous task, named "add".
const add = app.task("add", (a: number, b: number) => {
  runOrder.push(`add(${a}, ${b})`);
  return a + b;
});

// An async task with a default priority of 5 (lower numbers run first; the default is 0).
const greet = app.task({ name: "greet", priority: 5 }, async (name: string) => {
  runOrder.push(`greet(${name})`);
  await sleep(10);
  return `Hello, ${name}!`;
});

// A task that throws: its record ends with status "error" and stores the error.
const divide = app.task("divide", (a: number, b: number) => {
  if (b === 0) throw new RangeError("cannot divide by zero");
  return a / b;
});

// A task with a time limit. With `echo: true` it gets a TaskContext first; its signal aborts
// when maxTime (in ms) is exceeded, and the task ends as "error" with TaskTimeoutError.
const report = app.task(
  { name: "slow_report", maxTime: 100, echo: true },
  async (ctx: TaskContext, pages: number) => {
    await sleep(pages * 100, ctx.signal);
    return `${pages} pages`;
  },
);

console.log(`QTasks quickstart on the ${brokerUrl ? "Redis" : "in-memory"} backend`);

// Queued before the worker starts, so the worker picks them by priority.
const ada = await greet.addTask("Ada"); // priority 5 (the task's default)
const sum = await add.addTask(2, 3); // priority 0
const grace = await greet.withOptions({ priority: -1 }).addTask("Grace"); // this call only

await app.start(); // starts the worker in this process

const record = await sum.result({ timeoutMs: 5_000 }); // the whole record
console.log(`add(2, 3) -> ${record.status}, returned ${record.returning}`);
console.log(`greet("Ada") -> ${await ada.value({ timeoutMs: 5_000 })}`); // just the value
console.log(`greet("Grace") -> ${await grace.value({ timeoutMs: 5_000 })}`);
console.log(`run order (lower priority number first): ${runOrder.join(", ")}`);

const failed = await divide.addTask(1, 0);
const failure = await failed.result({ timeoutMs: 5_000 });
console.log(
  `divide(1, 0) -> ${failure.status}, ${failure.error?.type}: ${failure.error?.message}`,
);
try {
  await failed.value({ timeoutMs: 5_000 });
} catch (error) {
  if (!(error instanceof TaskFailedError)) throw error;
  console.log(`  job.value() rejects with ${error.name}; the stack is stored too:`);
  const stack = error.record.error?.stack?.split("\n") ?? [];
  console.log(stack.slice(0, 2).map((line) => `    ${line.trim()}`).join("\n"));
}

const slow = await (await report.addTask(5)).result({ timeoutMs: 5_000 });
console.log(`slow_report(5) -> ${slow.status}, ${slow.error?.type}: ${slow.error?.message}`);

// Stops the worker gracefully and closes the backend; the process then exits by itself.
await app.stop();
console.log("done");
