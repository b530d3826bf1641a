import { getRuntime } from "../ports/runtime.ts";

/** A running HTTP server of the `web` command. */
export interface RunningServer {
  /** The port it listens on (the one the system chose for port 0). */
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

type FetchHandler = (request: Request) => Promise<Response>;

interface DenoServe {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void },
    handler: FetchHandler,
  ): { shutdown(): Promise<void>; finished: Promise<void> };
}

interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch: FetchHandler;
    idleTimeout?: number;
  }): { port: number; stop(closeActiveConnections?: boolean): void };
}

/**
 * Serves a Web-standard handler on `hostname:port` with the runtime's own server: `Deno.serve`,
 * `Bun.serve`, or on Node `@hono/node-server` (a well-kept adapter from Node's http module to
 * `Request`/`Response`, streaming included), loaded only there.
 *
 * @param handler The handler.
 * @param hostname The address to bind.
 * @param port The port (0: any free one).
 * @returns The server, once it listens.
 */
export async function serveHandler(
  handler: FetchHandler,
  hostname: string,
  port: number,
): Promise<RunningServer> {
  const runtime = getRuntime().name;
  const global = globalThis as unknown as { Deno?: DenoServe; Bun?: BunServe };
  if (runtime === "deno" && global.Deno) {
    const deno = global.Deno;
    let listening!: (port: number) => void;
    const ready = new Promise<number>((resolve) => listening = resolve);
    const server = deno.serve(
      { hostname, port, onListen: (addr) => listening(addr.port) },
      handler,
    );
    const actual = await ready;
    return { port: actual, close: () => server.shutdown() };
  }
  if (runtime === "bun" && global.Bun) {
    // idleTimeout 0: an event stream is quiet between events (keepalives every 15 s).
    const server = global.Bun.serve({ hostname, port, fetch: handler, idleTimeout: 0 });
    return {
      port: server.port,
      close: () => Promise.resolve(server.stop(true)),
    };
  }
  const { serve } = await import("@hono/node-server");
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => listening = resolve);
  const server = serve({ fetch: handler, hostname, port }, (info) => listening(info.port));
  const actual = await ready;
  return {
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
