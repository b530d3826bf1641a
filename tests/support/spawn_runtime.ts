/**
 * Spawns a TypeScript program with the runtime the tests run on (Deno, Bun or Node), captures
 * its output, and lets a test wait for output lines, send signals and await the exit code.
 *
 * Every wait is event-driven (stream `data` and process `close` events) and bounded by a
 * deadline; nothing polls.
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";

/** Options of {@linkcode spawnRuntime}. */
export interface SpawnRuntimeOptions {
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string | undefined>;
  /** Arguments after the file name. */
  args?: string[];
  /** Working directory (default: this process's). */
  cwd?: string;
  /** Echo the child's output to this process's stderr, prefixed (default: env `E2E_VERBOSE`). */
  verbose?: boolean;
}

/** Signals a test sends. */
export type ProcessSignal = "SIGTERM" | "SIGINT" | "SIGKILL" | "SIGHUP";

/** How a spawned program ended. */
export interface ExitStatus {
  /** The exit code, or `null` when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or `null`. */
  signal: string | null;
}

interface LineWaiter {
  pattern: RegExp;
  count: number;
  matches: RegExpMatchArray[];
  resolve: (matches: RegExpMatchArray[]) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The command line that runs `file` on the current runtime.
 *
 * @param file Path of a TypeScript file.
 * @returns The executable and its arguments.
 */
export function runtimeCommand(file: string): [string, ...string[]] {
  const deno = denoNamespace();
  if (deno) return [deno.execPath(), "run", "-A", file];
  // Bun runs TypeScript as is; Node 24 strips the types itself.
  return [process.execPath, file];
}

/** The name of the current runtime. */
export function runtimeName(): "deno" | "bun" | "node" {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Deno ? "deno" : g.Bun ? "bun" : "node";
}

/** A program started by {@linkcode spawnRuntime}. */
export class SpawnedProcess {
  /** The file that was started. */
  readonly file: string;
  /** Every complete stdout line so far. */
  readonly lines: string[] = [];
  #child: Child;
  #stdout = "";
  #stderr = "";
  #partial = "";
  #waiters = new Set<LineWaiter>();
  #exit: ExitStatus | undefined;
  #exited: Promise<ExitStatus>;

  /** @internal Use {@linkcode spawnRuntime}. */
  constructor(file: string, options: SpawnRuntimeOptions = {}) {
    this.file = file;
    const [command, ...args] = runtimeCommand(file);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...process.env, ...options.env })) {
      if (value !== undefined) env[key] = value;
    }
    const verbose = options.verbose ?? Boolean(process.env.E2E_VERBOSE);
    const label = file.split("/").pop();
    const start = denoNamespace() ? startWithDeno : startWithNode;
    this.#child = start({
      command,
      args: [...args, ...(options.args ?? [])],
      env,
      cwd: options.cwd,
    }, {
      stdout: (chunk) => {
        if (verbose) process.stderr.write(prefixLines(`[${label} out] `, chunk));
        this.#stdout += chunk;
        this.#onText(chunk);
      },
      stderr: (chunk) => {
        if (verbose) process.stderr.write(prefixLines(`[${label} err] `, chunk));
        this.#stderr += chunk;
      },
    });
    this.#exited = this.#child.closed.then((status) => {
      this.#finish(status);
      return status;
    });
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** How it ended, or `undefined` while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.#exit;
  }

  /**
   * Waits for a stdout line matching `pattern` (lines already written count too).
   *
   * @throws {Error} When the deadline passes or the program ends first, with its output.
   */
  async waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const [match] = await this.waitForLines(pattern, 1, timeoutMs);
    return match;
  }

  /**
   * Waits until `count` stdout lines match `pattern` (lines already written count too).
   *
   * @returns The first `count` matches, in output order.
   * @throws {Error} When the deadline passes or the program ends first, with its output.
   */
  waitForLines(pattern: RegExp, count: number, timeoutMs = 10_000): Promise<RegExpMatchArray[]> {
    const matches: RegExpMatchArray[] = [];
    for (const line of this.lines) {
      const match = line.match(pattern);
      if (match) matches.push(match);
      if (matches.length >= count) return Promise.resolve(matches.slice(0, count));
    }
    if (this.#exit) {
      return Promise.reject(this.#failure(`ended (${describeExit(this.#exit)})`, pattern));
    }
    return new Promise((resolve, reject) => {
      const waiter: LineWaiter = {
        pattern,
        count,
        matches,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(this.#failure(`did not print it within ${timeoutMs} ms`, pattern));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Sends a signal (default SIGTERM); does nothing once the program has ended. */
  signal(signal: ProcessSignal = "SIGTERM"): void {
    if (this.#exit === undefined) this.#child.kill(signal);
  }

  /**
   * Waits for the program to end.
   *
   * @throws {Error} When it still runs after `timeoutMs`, with its output.
   */
  async exited(timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.#exit) return this.#exit;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(this.#failure(`did not exit within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#exited, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the exit code (`null` when a signal ended it). */
  async exitCode(timeoutMs = 10_000): Promise<number | null> {
    return (await this.exited(timeoutMs)).code;
  }

  /** Ends the program with SIGKILL if it still runs, and waits until it has. For `finally`. */
  async kill(): Promise<void> {
    if (this.#exit) return;
    this.#child.kill("SIGKILL");
    await this.#exited;
  }

  /** The captured output, for assertion messages. */
  describe(): string {
    return `--- ${this.file} stdout ---\n${tail(this.#stdout)}\n--- stderr ---\n${
      tail(this.#stderr)
    }`;
  }

  #onText(chunk: string): void {
    const parts = (this.#partial + chunk).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const part of parts) this.#onLine(part.replace(/\r$/, ""));
  }

  #onLine(line: string): void {
    this.lines.push(line);
    for (const waiter of [...this.#waiters]) {
      const match = line.match(waiter.pattern);
      if (!match) continue;
      waiter.matches.push(match);
      if (waiter.matches.length >= waiter.count) {
        this.#waiters.delete(waiter);
        clearTimeout(waiter.timer);
        waiter.resolve(waiter.matches);
      }
    }
  }

  #finish(status: ExitStatus): void {
    if (this.#exit) return;
    if (this.#partial !== "") {
      const last = this.#partial;
      this.#partial = "";
      this.#onLine(last);
    }
    this.#exit = status;
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(this.#failure(`ended (${describeExit(status)})`, waiter.pattern));
    }
    this.#waiters.clear();
  }

  #failure(what: string, pattern?: RegExp): Error {
    const wanted = pattern ? ` before printing a line matching ${pattern}` : "";
    return new Error(`${this.file} ${what}${wanted}\n${this.describe()}`);
  }
}

/**
 * Starts `file` with the current runtime.
 *
 * @param file Path of a TypeScript file (absolute, or relative to the working directory).
 * @param options Environment, arguments, working directory.
 * @returns The running program.
 *
 * @example
 * ```ts ignore
 * const worker = spawnRuntime("tests/e2e/fixtures/worker.ts", { env: { E2E_APP: "x" } });
 * try {
 *   await worker.waitForLine(/^READY$/);
 *   worker.signal("SIGTERM");
 *   console.log(await worker.exitCode());
 * } finally {
 *   await worker.kill();
 * }
 * ```
 */
export function spawnRuntime(file: string, options: SpawnRuntimeOptions = {}): SpawnedProcess {
  return new SpawnedProcess(file, options);
}

function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

function tail(text: string, max = 4000): string {
  return text.length <= max ? text : "…" + text.slice(-max);
}

function prefixLines(prefix: string, chunk: string): string {
  return chunk.split("\n").map((line, i, all) =>
    i === all.length - 1 && line === "" ? "" : prefix + line + "\n"
  ).join("");
}

/** What {@linkcode SpawnedProcess} needs from a started program. */
interface Child {
  readonly pid: number;
  /** Resolves once the program has ended and its output is read to the end. */
  readonly closed: Promise<ExitStatus>;
  kill(signal: ProcessSignal): void;
}

interface StartRequest {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string | undefined;
}

interface OutputSinks {
  stdout(chunk: string): void;
  stderr(chunk: string): void;
}

/** The parts of the Deno namespace used here (typed locally: the file also runs on Bun and Node). */
interface DenoSubset {
  execPath(): string;
  Command: new (command: string, options: {
    args: string[];
    env: Record<string, string>;
    clearEnv: boolean;
    cwd?: string;
    stdin: "null";
    stdout: "piped";
    stderr: "piped";
  }) => {
    spawn(): {
      pid: number;
      stdout: ReadableStream<Uint8Array>;
      stderr: ReadableStream<Uint8Array>;
      status: Promise<{ code: number; signal: string | null }>;
      kill(signal: string): void;
    };
  };
}

function denoNamespace(): DenoSubset | undefined {
  return (globalThis as { Deno?: DenoSubset }).Deno;
}

/** Bun and Node: node:child_process. */
function startWithNode(request: StartRequest, sinks: OutputSinks): Child {
  const child = spawn(request.command, request.args, {
    cwd: request.cwd,
    env: request.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => sinks.stdout(chunk));
  child.stderr!.on("data", (chunk: string) => sinks.stderr(chunk));
  const closed = new Promise<ExitStatus>((resolve) => {
    child.on("error", (error) => {
      sinks.stderr(`\nspawn failed: ${error.message}\n`);
      resolve({ code: null, signal: null });
    });
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: child.pid ?? -1,
    closed,
    kill: (signal) => void child.kill(signal),
  };
}

/**
 * Deno: Deno.Command. (Deno's node:child_process reports a child that was sent SIGTERM as killed
 * by SIGTERM even when it handled the signal and exited with code 0, so it cannot check a
 * graceful shutdown.)
 */
function startWithDeno(request: StartRequest, sinks: OutputSinks): Child {
  const deno = denoNamespace()!;
  const child = new deno.Command(request.command, {
    args: request.args,
    env: request.env,
    clearEnv: true,
    cwd: request.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (chunk: string) => void) => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      sink(value);
    }
  };
  let ended = false;
  const closed = Promise.all([
    pump(child.stdout, sinks.stdout),
    pump(child.stderr, sinks.stderr),
    child.status,
  ]).then(([, , status]): ExitStatus => {
    ended = true;
    return status.signal
      ? { code: null, signal: status.signal }
      : { code: status.code, signal: null };
  });
  return {
    pid: child.pid,
    closed,
    kill: (signal) => {
      if (ended) return;
      try {
        child.kill(signal);
      } catch {
        // It has just ended.
      }
    },
  };
}
