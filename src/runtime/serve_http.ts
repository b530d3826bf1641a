/**
 * A small HTTP server over a Web-standard handler, on Deno (`Deno.serve`), Bun (`Bun.serve`) or
 * Node (`node:http`): what `qtasks metrics` listens with. Internal to the CLI's commands.
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
  serve(options: { hostname: string; port: number; fetch: Handler }): {
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
    const server = g.Bun.serve({ hostname, port: options.port, fetch: handler });
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
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const chunks: Uint8Array[] = [];
        for await (const chunk of req) chunks.push(chunk as Uint8Array);
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value === "string") headers.set(name, value);
          else if (Array.isArray(value)) { for (const v of value) headers.append(name, v); }
        }
        const method = req.method ?? "GET";
        const request = new Request(`http://${req.headers.host ?? hostname}${req.url ?? "/"}`, {
          method,
          headers,
          body: method === "GET" || method === "HEAD" || chunks.length === 0
            ? undefined
            : new Blob(chunks as BlobPart[]),
        });
        const response = await handler(request);
        res.writeHead(response.status, Object.fromEntries(response.headers));
        if (response.body !== null && method !== "HEAD") {
          res.end(new Uint8Array(await response.arrayBuffer()));
        } else res.end();
      } catch {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("Internal Server Error\n");
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : port,
    hostname,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
