/**
 * The PostgreSQL half of the suite's leak check: `snapshot FILE URL` saves the names of the test
 * schemas (`qt_%`) of the database at URL; `compare FILE URL` prints `schemas: N new schemas`
 * and lists them (every test drops the schema it made). A server that does not answer is
 * reported, and counted as a failure by scripts/test.sh.
 *
 * @module
 */
import postgres from "postgres";

const [mode, file, url] = Deno.args;
if ((mode !== "snapshot" && mode !== "compare") || !file || !url) {
  console.error("usage: deno run -A scripts/postgres_schemas_left.ts snapshot|compare FILE URL");
  Deno.exit(2);
}
const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
try {
  const rows = await sql`select nspname from pg_namespace where nspname like 'qt\\_%' order by 1`;
  const names = rows.map((row) => String(row.nspname));
  if (mode === "snapshot") {
    Deno.writeTextFileSync(file, JSON.stringify(names));
  } else {
    const before = new Set(JSON.parse(Deno.readTextFileSync(file)) as string[]);
    const left = names.filter((name) => !before.has(name));
    console.log(`schemas: ${left.length} new schemas`);
    for (const name of left) console.log(`  ${name}`);
  }
} finally {
  await sql.end({ timeout: 5 });
}
