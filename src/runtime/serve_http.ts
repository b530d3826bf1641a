/**
 * A small HTTP server over a Web-standard handler, on Deno (`Deno.serve`), Bun (`Bun.serve`) or
 * Node (`@hono/node-server`, loaded only there): what `qtasks web` and `qtasks metrics` listen with.
 * Internal to the CLI's commands.
 *
 * @module
 */

/** A running server. */
export interface HttpServer {
  /** The port it listens on (the one chosen when 0 was asked). */
  readonly port: number;
  /** The host name or address it listens on. */
  readonly hostname: string;
  /** Stops listening; resolves once closed. */
  close(): Promise<void>;
}

/** What {@linkcode serveHttp} takes. */
export interface ServeHttpOptions {
  /** The address to listen on (default `127.0.0.1`). */
  hostname?: string;
  /** The port (0: any free one). */
  port: number;
}

type Handler = (request: Request) => Promise<Response>;

interface DenoLike {
  serve(
    options: { hostname: string; port: number; onListen(addr: { port: number }): void },
    handler: Handler,
  ): { shutdown(): Promise<void>; addr: { port: number } };
}

interface BunLike {
  serve(options: { hostname: string; port: number; fetch: Handler; idleTimeout?: number }): {
    port: number;
    stop(force?: boolean): Promise<void> | void;
  };
}

/**
 * Serves `handler` over HTTP until `close()`.
 *
 * @param handler Answers each request.
 * @param options Where to listen.
 * @returns The running server, once it listens.
 * @throws {Error} When the address cannot be listened on (in use, not allowed).
 */
export async function serveHttp(handler: Handler, options: ServeHttpOptions): Promise<HttpServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const g = globalThis as { Deno?: DenoLike; Bun?: BunLike };
  if (g.Bun !== undefined) {
    // idleTimeout 0: an event stream is quiet between events (the dashboard sends keepalives).
    const server = g.Bun.serve({ hostname, port: options.port, fetch: handler, idleTimeout: 0 });
    return { port: server.port, hostname, close: async () => void await server.stop(true) };
  }
  if (g.Deno !== undefined) {
    const deno = g.Deno;
    let server: ReturnType<DenoLike["serve"]> | undefined;
    await new Promise<void>((resolve, reject) => {
      try {
        server = deno.serve({ hostname, port: options.port, onListen: () => resolve() }, handler);
      } catch (error) {
        reject(error);
      }
    });
    return { port: server!.addr.port, hostname, close: () => server!.shutdown() };
  }
  return await serveNode(handler, hostname, options.port);
}

async function serveNode(handler: Handler, hostname: string, port: number): Promise<HttpServer> {
  // @hono/node-server: a well-kept adapter from Node's http module to Request/Response (streamed
  // bodies included, which the dashboard's event stream needs), loaded only on Node.
  const { serve } = await import("@hono/node-server");
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: handler, hostname, port }, () => {
      started.off("error", reject);
      resolve(started);
    });
    started.once("error", reject);
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : port,
    hostname,
    close: () =>
      new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
