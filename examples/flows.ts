/**
 * Chains and groups: an order's prices are fetched in parallel (a group), summed, taxed and
 * labelled (a chain), all run by the workers once enqueued; then a chain that fails half-way.
 *
 *   deno run -A examples/flows.ts
 *   bun examples/flows.ts
 *   node examples/flows.ts
 *
 * or on Redis: QTASKS_REDIS_URL=redis://127.0.0.1:6379 deno run -A examples/flows.ts
 */
import { getRuntime, QueueTasks } from "../mod.ts";

const redisUrl = getRuntime().env("QTASKS_REDIS_URL");
const app = new QueueTasks({
  name: "flows-example",
  // A brokerUrl key that is present but undefined is refused: leave it out for memory.
  ...(redisUrl ? { brokerUrl: redisUrl } : {}),
  config: { logsDefaultLevel: "warn" },
});

const prices: Record<string, number> = { apple: 3, bread: 4, cheese: 11 };
const fetchPrice = app.task("fetch_price", (sku: string) => {
  if (!(sku in prices)) throw new Error(`no price for ${sku}`);
  return prices[sku];
});
const total = app.task("total", (values: number[]) => values.reduce((a, b) => a + b, 0));
const withTax = app.task("with_tax", (amount: number, rate: number) => amount * (1 + rate));
const label = app.task("label", (amount: number) => `total: ${amount.toFixed(2)} EUR`);

await app.start();

const order = await app
  .chain(app.group([fetchPrice.s("apple"), fetchPrice.s("bread"), fetchPrice.s("cheese")]))
  .pipe(total)
  .pipe(withTax, 0.2)
  .pipe(label)
  .addTask();
console.log(await order.value()); // total: 21.60 EUR

const broken = await app
  .chain(app.group([fetchPrice.s("apple"), fetchPrice.s("caviar")]))
  .pipe(total)
  .addTask();
const record = await broken.result();
const failed = await app.get(record.flowFailedUuid ?? "");
console.log(record.status, record.error?.message, failed?.args); // error no price for caviar ["caviar"]

await app.flushAll();
await app.stop();
