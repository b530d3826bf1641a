/**
 * The last line of defence of the fault suite: every child process and redis-server it starts is
 * registered here with a synchronous killer, and {@linkcode installExitSafeguard} kills whatever
 * is still registered when the runner exits, however it exits (normal end, uncaught error,
 * Ctrl-C, SIGTERM). The normal path cleans up in `finally` blocks; this catches the rest.
 *
 * @module
 */
import process from "node:process";

const killers = new Set<() => void>();

/**
 * Registers a synchronous killer (send SIGKILL, remove a directory).
 *
 * @param kill Must not throw and must not wait.
 * @returns The remover, to call once the resource is gone.
 */
export function track(kill: () => void): () => void {
  killers.add(kill);
  return () => void killers.delete(kill);
}

/** Runs every registered killer now, synchronously. */
export function killTracked(): void {
  for (const kill of [...killers]) {
    killers.delete(kill);
    try {
      kill();
    } catch {
      // Already gone.
    }
  }
}

let installed = false;

/**
 * Kills every tracked resource when the process exits, and turns SIGINT/SIGTERM of the runner
 * into an exit (code 130/143) so that the kill runs.
 */
export function installExitSafeguard(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killTracked);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nfaults: ${signal} received, killing every child process\n`);
      killTracked();
      process.exit(code);
    });
  }
}
