/**
 * A private PostgreSQL server for one fault scenario: `initdb` into its own temporary directory,
 * started with `pg_ctl` on a free port of 127.0.0.1 (in the range env `QTASKS_FAULTS_PG_PORTS`,
 * `first-last`, when set; socket in the same directory), never the shared server on 5432. It
 * can be stopped (`fast`: a clean shutdown, or `immediate`: a crash,
 * recovered from the WAL at the next start) and started again on the same port and directory.
 * Run as root, every PostgreSQL command runs as the `postgres` OS user (`runuser`), which owns
 * the directory. The binaries: env `PG_BIN`, else the newest /usr/lib/postgresql/<n>/bin.
 *
 * @module
 */
import { execFile, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { track } from "./cleanup.ts";
import { freePort } from "../support/redis_server.ts";

/**
 * A free port of 127.0.0.1 for a server: in the range env `QTASKS_FAULTS_PG_PORTS` names
 * (`first-last`, for a machine shared with others, each in a range of its own), else any free
 * port the system gives.
 *
 * @throws {Error} When the range is malformed or has no free port.
 */
export async function serverPort(): Promise<number> {
  const range = process.env.QTASKS_FAULTS_PG_PORTS;
  if (!range) return await freePort();
  const match = /^(\d+)-(\d+)$/.exec(range.trim());
  const [first, last] = match ? [Number(match[1]), Number(match[2])] : [0, -1];
  if (!match || first < 1 || last > 65_535 || first > last) {
    throw new Error(`QTASKS_FAULTS_PG_PORTS must be first-last, got ${JSON.stringify(range)}`);
  }
  const count = last - first + 1;
  const start = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const port = first + (start + i) % count;
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port in QTASKS_FAULTS_PG_PORTS ${range}`);
}

/** Whether 127.0.0.1:`port` can be listened on now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The directory of the PostgreSQL binaries. */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries under ${root} (set PG_BIN)`);
  return join(root, versions[0], "bin");
}

/** The version line of the server binary, or why it cannot run. */
export function postgresServerVersion(): string {
  try {
    const result = spawnSync(join(postgresBin(), "postgres"), ["--version"], { encoding: "utf8" });
    if (result.error) return `unavailable (${result.error.message})`;
    return String(result.stdout).trim();
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Runs a PostgreSQL binary (as the `postgres` user when we are root); throws on failure. */
function pg(binary: string, args: string[], timeoutMs = 60_000): string {
  const path = join(postgresBin(), binary);
  const [command, argv] = isRoot
    ? ["runuser", ["-u", "postgres", "--", path, ...args]]
    : [path, args];
  const result = spawnSync(command, argv, { encoding: "utf8", timeout: timeoutMs });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.error || result.status !== 0) {
    throw new Error(
      `${binary} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}): ${
        output.slice(-2000)
      }`,
    );
  }
  return output;
}

/**
 * Runs a PostgreSQL binary like {@linkcode pg}, without blocking the event loop (the producer
 * keeps running in this process while the server stops or starts).
 */
function pgAsync(binary: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const path = join(postgresBin(), binary);
  const [command, argv] = isRoot
    ? ["runuser", ["-u", "postgres", "--", path, ...args]]
    : [path, args];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { encoding: "utf8", timeout: timeoutMs }, (error, stdout, stderr) => {
      const output = `${stdout ?? ""}${stderr ?? ""}`;
      if (error) {
        reject(
          new Error(
            `${binary} ${args.join(" ")} failed (${error.message}): ${output.slice(-2000)}`,
          ),
        );
      } else resolve(output);
    });
  });
}

/** A PostgreSQL server this suite started, on a private port and directory. */
export class PostgresServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its directory: the data directory `data`, the socket and the log. */
  readonly dir: string;
  /** The URL clients use (trust authentication, role and database `postgres`). */
  readonly url: string;
  #starts = 0;
  #running = false;
  #untrack: () => void;

  private constructor(port: number) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), "qtasks-faults-pg-"));
    // The postgres user must reach and own it.
    chmodSync(this.dir, 0o777);
    const dir = this.dir;
    this.#untrack = track(() => {
      try {
        pg("pg_ctl", ["-D", join(dir, "data"), "-m", "immediate", "-w", "stop"], 20_000);
      } catch { /* not running */ }
      rmSync(dir, { recursive: true, force: true });
    });
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /**
   * Creates a cluster (`initdb`) on a free port and starts it.
   *
   * @throws {Error} When it does not start (after three ports), with its log.
   */
  static async start(): Promise<PostgresServer> {
    for (let attempt = 1;; attempt++) {
      const server = new PostgresServer(await serverPort());
      try {
        pg("initdb", [
          "-D",
          join(server.dir, "data"),
          "-U",
          "postgres",
          "--auth=trust",
          "--no-sync",
          "-E",
          "UTF8",
        ]);
        await server.launch();
        return server;
      } catch (error) {
        server.dispose();
        if (attempt >= 3) throw error;
      }
    }
  }

  /** How many times the server was started (1 + restarts). */
  get starts(): number {
    return this.#starts;
  }

  /** Whether it runs. */
  get running(): boolean {
    return this.#running;
  }

  /** The server's log. */
  get log(): string {
    try {
      return readFileSync(join(this.dir, "log"), "utf8");
    } catch {
      return "";
    }
  }

  /** Starts the server (waits until it accepts connections). */
  async launch(): Promise<void> {
    await pgAsync("pg_ctl", [
      "-D",
      join(this.dir, "data"),
      "-l",
      join(this.dir, "log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
      "start",
    ]);
    this.#running = true;
    this.#starts++;
  }

  /**
   * Stops the server: `fast` (clients disconnected, a clean shutdown) or `immediate` (a crash:
   * every process ends at once; the next start recovers from the WAL).
   */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (!this.#running) return;
    await pgAsync("pg_ctl", ["-D", join(this.dir, "data"), "-m", mode, "-w", "stop"]);
    this.#running = false;
  }

  /** Stops the server (immediate) and removes its directory. */
  dispose(): void {
    try {
      if (this.#running) {
        pg("pg_ctl", ["-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
      }
    } catch { /* gone */ }
    this.#running = false;
    rmSync(this.dir, { recursive: true, force: true });
    this.#untrack();
  }
}
