/**
 * The check that the test suite leaves no keys behind in its Redis database.
 *
 *   deno run -A scripts/redis_keys_left.ts snapshot FILE [URL...]
 *   deno run -A scripts/redis_keys_left.ts compare FILE [URL...]
 *
 * `snapshot` writes every key of each database (URL, default `QTASKS_TEST_REDIS_URL`, else
 * redis://127.0.0.1:6379) to FILE; `compare` lists the keys that exist now and were not in FILE,
 * grouped by pattern (`{app}:stats:totals` and the like), prints one summary line
 * (`keys: N new keys left in URL`) and exits 1 when there is any. scripts/test.sh takes a snapshot
 * before the tests and compares after them. Another client writing to the same database meanwhile
 * counts too: run it on a database the suite has to itself.
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { RedisConnection } from "../src/backends/redis/mod.ts";

const [mode, file, ...given] = process.argv.slice(2);
if ((mode !== "snapshot" && mode !== "compare") || !file) {
  console.error("usage: redis_keys_left.ts snapshot|compare FILE [URL...]");
  process.exit(2);
}
const urls = given.length > 0
  ? given
  : [process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"];

async function keysOf(url: string): Promise<string[]> {
  const connection = new RedisConnection({ url });
  connection.acquire();
  try {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const reply = await connection.command(["SCAN", cursor, "COUNT", "1000"]) as [
        string,
        string[],
      ];
      cursor = String(reply[0]);
      keys.push(...reply[1].map(String));
    } while (cursor !== "0");
    return keys;
  } finally {
    await connection.release();
  }
}

/** `{app-1234}:stats:totals` → `{*}:stats:totals`; a uuid → `<uuid>`. */
function patternOf(key: string): string {
  return key.replace(/^\{[^}]*\}/, "{*}").replace(
    /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi,
    "<uuid>",
  ).replace(/\d{6,}/g, "<n>");
}

if (mode === "snapshot") {
  const snapshot: Record<string, string[]> = {};
  for (const url of urls) snapshot[url] = await keysOf(url);
  writeFileSync(file, JSON.stringify(snapshot));
} else {
  const snapshot = JSON.parse(readFileSync(file, "utf8")) as Record<string, string[]>;
  let left = 0;
  for (const url of urls) {
    const before = new Set(snapshot[url] ?? []);
    const added = (await keysOf(url)).filter((key) => !before.has(key));
    left += added.length;
    const byPattern = new Map<string, number>();
    for (const key of added) {
      byPattern.set(patternOf(key), (byPattern.get(patternOf(key)) ?? 0) + 1);
    }
    for (const [pattern, count] of [...byPattern].sort((a, b) => b[1] - a[1])) {
      console.log(`  ${count} × ${pattern}`);
    }
    const shown = url.replace(/\/\/[^/]*@/, "//***@");
    console.log(`keys: ${added.length} new keys left in ${shown}`);
  }
  process.exit(left === 0 ? 0 : 1);
}
