/**
 * The import check of `deno task ok` and CI: fails on any import cycle among the project's own
 * modules, and on any import that breaks the layer rule of docs/architecture.md. The module graph
 * comes from Deno itself (`deno info --json`, type-only imports included), so what is checked is
 * what the compiler resolves, not what a hand-written parser guesses.
 *
 *   deno run -A scripts/check_imports.ts [--json]
 *
 * The layers, lowest first (a module may import its own layer group and any lower layer):
 *
 *   0 model         src/model/       records, statuses, messages, errors, config, codec
 *   1 plugins       src/plugins/     extension points: plugins, triggers, middlewares, events
 *   2 ports         src/ports/       Broker, Storage, GlobalConfig, TaskExecutor, Worker, Runtime…
 *   3 engine        src/engine/      worker, executors, starter, port decorators, stats recorder
 *   3 backends      src/backends/*   one folder per backend; never imports another backend
 *   3 runtime       src/runtime/     the Deno and Node/Bun adapters of the Runtime port
 *   4 app           src/app/         the QueueTasks facade and the preset that picks a backend
 *   5 timer         src/timer/       the cron timer, on top of an app
 *   5 otel          src/otel/        OpenTelemetry spans and metrics (the ./otel subpath)
 *   5 metrics       src/metrics/     the Prometheus endpoint (the ./metrics subpath)
 *   5 web           src/web/         the dashboard (WebView), on top of an app
 *   6 cli           src/cli/         the qtasks command
 *   7 entry points  *.ts at the top  mod.ts, cli.ts, and every other module deno.json exports
 *                                    (the mod.ts of a src folder: re-exports from any layer)
 *
 * Groups of the same rank (engine, each backend, runtime) may not import one another. The few
 * exceptions are listed in EXCEPTIONS below, each with its reason.
 *
 * @module
 */

interface Layer {
  /** The layer group (a backend folder is its own group). */
  group: string;
  /** Lower ranks may be imported from higher ones, never the other way. */
  rank: number;
}

/** Where each layer lives: the first prefix that matches a path (relative to the root) wins. */
const LAYERS: Array<[prefix: string, layer: (path: string) => Layer]> = [
  ["src/model/", () => ({ group: "model", rank: 0 })],
  ["src/plugins/", () => ({ group: "plugins", rank: 1 })],
  ["src/ports/", () => ({ group: "ports", rank: 2 })],
  ["src/engine/", () => ({ group: "engine", rank: 3 })],
  ["src/backends/", (path) => ({ group: path.split("/").slice(0, 3).join("/"), rank: 3 })],
  ["src/runtime/", () => ({ group: "runtime", rank: 3 })],
  ["src/app/", () => ({ group: "app", rank: 4 })],
  ["src/timer/", () => ({ group: "timer", rank: 5 })],
  ["src/otel/", () => ({ group: "otel", rank: 5 })],
  ["src/metrics/", () => ({ group: "metrics", rank: 5 })],
  // The dashboard: on top of an app (its operations and stats), a sibling of the timer; the
  // CLI's web command serves it.
  ["src/web/", () => ({ group: "web", rank: 5 })],
  ["src/cli/", () => ({ group: "cli", rank: 6 })],
];

/** Imports allowed against the rule, `from -> to`, with the reason. */
// (None: the pool thread's entry module, which registers the runtime adapters in its thread as
// mod.ts does, is an entry point of deno.json.)
const EXCEPTIONS: Record<string, string> = {};

const ROOT = new URL("..", import.meta.url);
const rootPath = decodeURIComponent(ROOT.pathname);

/** The modules deno.json exports (relative to the root): the entry points, whatever their folder. */
const ENTRY_POINTS: Set<string> = new Set(
  Object.values(
    (JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url))) as {
      exports: Record<string, string>;
    }).exports,
  ).map((path) => path.replace(/^\.\//, "")),
);

function layerOf(path: string): Layer {
  if (ENTRY_POINTS.has(path) || !path.includes("/")) return { group: "entry", rank: 7 };
  for (const [prefix, layer] of LAYERS) if (path.startsWith(prefix)) return layer(path);
  throw new Error(`check_imports: ${path} is in no layer: add its folder to LAYERS`);
}

async function sourceFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${rootPath}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

interface InfoModule {
  specifier: string;
  dependencies?: Array<{ code?: { specifier?: string }; type?: { specifier?: string } }>;
}

/** The project's module graph: every own module and the own modules it imports. */
async function moduleGraph(entries: string[]): Promise<Map<string, string[]>> {
  const dir = await Deno.makeTempDir({ prefix: "qtasks-imports-" });
  try {
    const root = `${dir}/all.ts`;
    await Deno.writeTextFile(
      root,
      entries.map((path) => `import ${JSON.stringify(new URL(path, ROOT).href)};`).join("\n"),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", `${rootPath}deno.json`, root],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info failed:\n${new TextDecoder().decode(output.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    const own = (specifier: string | undefined): string | undefined =>
      specifier?.startsWith(ROOT.href)
        ? decodeURIComponent(specifier.slice(ROOT.href.length))
        : undefined;
    const graph = new Map<string, string[]>();
    for (const module of info.modules) {
      const from = own(module.specifier);
      if (from === undefined) continue;
      const to = new Set<string>();
      for (const dependency of module.dependencies ?? []) {
        for (const target of [own(dependency.code?.specifier), own(dependency.type?.specifier)]) {
          if (target !== undefined && target !== from) to.add(target);
        }
      }
      graph.set(from, [...to].sort());
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The strongly connected components with more than one module (Tarjan's algorithm). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

/** The imports that break the layer rule, as `from -> to (why)`. */
function layerViolations(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    const source = layerOf(from);
    for (const to of targets) {
      const target = layerOf(to);
      if (EXCEPTIONS[`${from} -> ${to}`] !== undefined) continue;
      if (source.group === target.group) continue;
      if (target.rank < source.rank) continue;
      found.push(
        `${from} -> ${to} (${source.group} may not import ${target.group}${
          target.rank === source.rank ? ": same rank" : ": a higher layer"
        })`,
      );
    }
  }
  return found.sort();
}

const entries = [
  ...(await sourceFiles("src")),
  ...[...Deno.readDirSync(rootPath)].filter((entry) => entry.isFile && entry.name.endsWith(".ts"))
    .map((entry) => entry.name),
].sort();
const graph = await moduleGraph(entries);
const circles = cycles(graph);
const violations = layerViolations(graph);
if (Deno.args.includes("--json")) {
  console.log(JSON.stringify({ modules: graph.size, cycles: circles, violations }, null, 2));
} else {
  for (const circle of circles) {
    console.log(`cycle (${circle.length} modules):\n  ${circle.join("\n  ")}`);
  }
  for (const violation of violations) console.log(`layer: ${violation}`);
  console.log(
    `imports: ${graph.size} modules, ${circles.length} cycles, ${violations.length} layer violations`,
  );
}
if (circles.length > 0 || violations.length > 0) Deno.exit(1);
