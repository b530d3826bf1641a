import type { QueueTasks } from "../app/queue_tasks.ts";
import type { TaskEvent } from "../model/task_query.ts";
import { type OverviewData, readOverview } from "./_overview.ts";

/** A connected tab: it receives Server-Sent Events text. */
export interface LiveClient {
  /** Sends one SSE message (already formatted). */
  send(text: string): void;
}

/** How often the hub sends what changed (ms). */
const FLUSH_MS = 500;
/** How often the overview is re-read while nothing changes (workers' counters move anyway). */
const IDLE_REFRESH_MS = 5_000;
/** A comment line that keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/**
 * The one server-side subscription behind every open tab: while at least one tab listens, it
 * follows the app's event stream (`app.ops.subscribe`) and re-reads the overview at most every
 * `FLUSH_MS` when something changed (else every `IDLE_REFRESH_MS`), and sends the same snapshot
 * and the uuids that changed to every tab. Ten tabs cost Redis what one costs; no tab, nothing.
 */
export class LiveHub {
  readonly #app: QueueTasks;
  readonly #clients = new Set<LiveClient>();
  #unsubscribe: (() => void) | undefined;
  #starting: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #changed = new Set<string>();
  #names = new Set<string>();
  #dirty = true;
  #lastRead = 0;
  #lastSent = 0;
  #reading = false;
  #last: OverviewData | undefined;

  /**
   * @param app The app whose events and stats it follows.
   */
  constructor(app: QueueTasks) {
    this.#app = app;
  }

  /** How many tabs listen. */
  get clients(): number {
    return this.#clients.size;
  }

  /**
   * Adds a tab; the first one starts the subscription. The tab gets the latest snapshot at once.
   *
   * @param client The tab.
   * @returns Removes it (the last one stops the subscription).
   */
  async add(client: LiveClient): Promise<() => void> {
    this.#clients.add(client);
    if (this.#last) client.send(message("overview", this.#last));
    else this.#dirty = true;
    if (!this.#unsubscribe && !this.#starting) this.#starting = this.#start();
    await this.#starting;
    return () => {
      this.#clients.delete(client);
      if (this.#clients.size === 0) this.close();
    };
  }

  async #start(): Promise<void> {
    try {
      this.#unsubscribe = await this.#app.ops.subscribe((event) => this.#onEvent(event), {
        onGap: () => {
          this.#dirty = true;
          this.#broadcast(message("gap", {}));
        },
      });
      this.#timer = setInterval(() => void this.#tick(), FLUSH_MS);
      void this.#tick();
    } finally {
      this.#starting = undefined;
    }
  }

  #onEvent(event: TaskEvent): void {
    this.#dirty = true;
    if (this.#changed.size < 500) this.#changed.add(event.uuid);
    this.#names.add(event.taskName);
  }

  async #tick(): Promise<void> {
    if (this.#reading || this.#clients.size === 0) return;
    const now = performance.now();
    if (this.#changed.size > 0) {
      const uuids = [...this.#changed];
      const names = [...this.#names];
      this.#changed.clear();
      this.#names.clear();
      this.#broadcast(message("changed", { uuids, taskNames: names }));
    }
    if (this.#dirty || now - this.#lastRead >= IDLE_REFRESH_MS) {
      this.#dirty = false;
      this.#lastRead = now;
      this.#reading = true;
      try {
        this.#last = await readOverview(this.#app);
        this.#broadcast(message("overview", this.#last));
      } catch {
        this.#dirty = true; // the backend failed: try again at the next tick
      } finally {
        this.#reading = false;
      }
    } else if (now - this.#lastSent >= KEEPALIVE_MS) {
      this.#broadcast(": keepalive\n\n");
    }
  }

  #broadcast(text: string): void {
    this.#lastSent = performance.now();
    for (const client of this.#clients) {
      try {
        client.send(text);
      } catch {
        this.#clients.delete(client);
      }
    }
  }

  /** Stops the subscription and the timer (tabs that listen get nothing more). */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#last = undefined;
  }
}

/** One SSE message with a JSON payload. */
export function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
