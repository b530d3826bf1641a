/**
 * The worker of the npm smoke test: runs the tasks of tasks.mjs until SIGTERM, then exits 0.
 *
 * @module
 */
import { app } from "./tasks.mjs";

console.log(`READY ${app.name}`);
await app.runForever();
