// The task of tinypool and piscina in scripts/bench_pool.ts: the same as our "tiny".
// deno-lint-ignore explicit-module-boundary-types
export default ({ a, b }) => a + b;
