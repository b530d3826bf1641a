/**
 * A private redis-server for one fault scenario: its own free port on 127.0.0.1 and its own
 * temporary directory, never the shared Redis on 6379. It can be stopped and restarted on the
 * same port and directory (with persistence the data survives), paused (SIGSTOP: the port still
 * accepts TCP connections but nothing answers) and resumed (SIGCONT).
 *
 * Readiness is awaited on the server's own "Ready to accept connections" log line, exits on the
 * process `exit` event: nothing polls.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { track } from "./cleanup.ts";
import { freePort } from "../support/redis_server.ts";

/** Options of {@linkcode RedisServer.start}. */
export interface RedisServerOptions {
  /**
   * `appendonly yes` with `appendfsync always`: every acknowledged write is on disk and survives
   * a restart. Default `false` (`appendonly no`, nothing written).
   */
  persistent?: boolean;
  /** Sets `requirepass`; the {@linkcode RedisServer.url} then carries it. */
  password?: string;
  /** How long to wait for the server to be ready (default 15 000 ms). */
  readyTimeoutMs?: number;
  /** More redis-server arguments (`--maxmemory 5mb`, …). */
  args?: string[];
}

/** The redis-server executable (env `REDIS_SERVER`, default `redis-server` on the PATH). */
export const REDIS_SERVER: string = process.env.REDIS_SERVER ?? "redis-server";

/** The version line of the redis-server executable, or why it cannot run. */
export function redisServerVersion(): string {
  const result = spawnSync(REDIS_SERVER, ["--version"], { encoding: "utf8" });
  if (result.error) return `unavailable (${result.error.message})`;
  return String(result.stdout).trim();
}

/** A redis-server process this suite started, on a private port and directory. */
export class RedisServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its working directory (AOF files when persistent); removed by {@linkcode dispose}. */
  readonly dir: string;
  /** The URL clients use (with the password when there is one). */
  readonly url: string;
  readonly #options: RedisServerOptions;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = "";
  #starts = 0;
  #untrackDir: () => void;
  #untrackChild: () => void = () => {};

  private constructor(port: number, options: RedisServerOptions) {
    this.port = port;
    this.#options = options;
    this.dir = mkdtempSync(join(tmpdir(), "qtasks-faults-redis-"));
    const dir = this.dir;
    this.#untrackDir = track(() => rmSync(dir, { recursive: true, force: true }));
    const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
    this.url = `redis://${auth}127.0.0.1:${port}/0`;
  }

  /**
   * Starts a server on a free port and waits until it accepts connections.
   *
   * @throws {Error} When it does not start (after three ports), with its log.
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    for (let attempt = 1;; attempt++) {
      const server = new RedisServer(await freePort(), options);
      try {
        await server.#launch();
        return server;
      } catch (error) {
        await server.dispose();
        if (attempt >= 3) throw error;
      }
    }
  }

  /** The process id of the running server, or `undefined` while stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether the server process runs (also when paused). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** How many times the process was started (1 + restarts). */
  get starts(): number {
    return this.#starts;
  }

  /** Everything the server logged, for failure messages. */
  get log(): string {
    return this.#log;
  }

  /**
   * Stops the server gracefully (SIGTERM: with persistence it flushes the AOF) and waits until
   * the process has exited.
   */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill("SIGTERM");
    await this.#exited;
  }

  /** Starts the server again on the same port and directory (stopping it first if it runs). */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  /** SIGSTOP: Redis is frozen; connections open at TCP level but get no reply. */
  pause(): void {
    if (this.#child?.pid) process.kill(this.#child.pid, "SIGSTOP");
  }

  /** SIGCONT: Redis carries on where it stopped. */
  resume(): void {
    if (this.#child?.pid) process.kill(this.#child.pid, "SIGCONT");
  }

  /** Kills the server (SIGKILL, also when paused) and removes its directory. For `finally`. */
  async dispose(): Promise<void> {
    const child = this.#child;
    if (child) {
      child.kill("SIGKILL");
      await this.#exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.#untrackDir();
  }

  #args(): string[] {
    const persistent = this.#options.persistent ?? false;
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      persistent ? "yes" : "no",
      "--dir",
      this.dir,
    ];
    if (persistent) args.push("--appendfsync", "always");
    if (this.#options.password) args.push("--requirepass", this.#options.password);
    args.push(...(this.#options.args ?? []));
    return args;
  }

  /** Spawns the process and resolves once it logs that it accepts connections. */
  #launch(): Promise<void> {
    this.#starts++;
    const child = spawn(REDIS_SERVER, this.#args(), { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    const pid = child.pid;
    this.#untrackChild = track(() => {
      if (pid) process.kill(pid, "SIGKILL");
    });
    const timeoutMs = this.#options.readyTimeoutMs ?? 15_000;
    const logFrom = this.#log.length; // the log of an earlier start does not count
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        fail(new Error(`redis-server on port ${this.port} not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (this.#child === child) child.kill("SIGKILL");
        reject(new Error(`${error.message}\n--- redis-server log ---\n${this.#log.slice(-3000)}`));
      };
      const onOutput = (chunk: Buffer | string) => {
        this.#log += String(chunk);
        if (!ready && this.#log.includes("Ready to accept connections", logFrom)) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", onOutput);
      child.stderr!.on("data", onOutput);
      this.#exited = new Promise<void>((done) => {
        const ended = (error: Error | undefined) => {
          if (this.#child === child) this.#child = undefined;
          this.#untrackChild();
          if (!ready) fail(error ?? new Error(`redis-server on port ${this.port} exited at start`));
          done();
        };
        child.on("error", (error) => ended(error)); // could not spawn: no exit event follows
        child.on("exit", () => ended(undefined));
      });
    });
  }
}
