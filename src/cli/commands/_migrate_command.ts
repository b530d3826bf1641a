import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";

/** `qtasks migrate`. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "create or migrate the PostgreSQL backend's schema",
  help:
    `Usage: qtasks migrate --url postgres://USER:PASSWORD@HOST:5432/DB [--schema NAME] [--status] [--json]

Applies the pending migrations of the PostgreSQL backend's schema (creating it on first use),
each in its own transaction, under an advisory lock: safe while workers start. Workers migrate
on their own unless they were created with { postgres: { migrate: false } }; run this when you
apply migrations yourself (a deploy step, a role that may create tables).

Options:
  --url URL      the database (env QTASKS_BROKER_URL); a ?schema=NAME in it picks the schema
  --schema NAME  the schema (default: the URL's, else qtasks)
  --status       only print the schema's version and the version this QTasks needs
  --json         print JSON
  --help, -h     this help
`,
  async run(argv, context): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      url: { type: "string" },
      schema: { type: "string" },
      status: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new CliUsageError("migrate takes no arguments");
    const url = (flags.url as string | undefined) ?? context.env("QTASKS_BROKER_URL");
    if (!url || !/^postgres(ql)?:\/\//i.test(url)) {
      throw new CliUsageError("migrate needs --url postgres://… (or QTASKS_BROKER_URL)");
    }
    // Loaded here only: no other command loads the PostgreSQL driver.
    const { PostgresConnection } = await import("../../backends/postgres/postgres_connection.ts");
    const { SCHEMA_VERSION } = await import("../../backends/postgres/_migrations.ts");
    const connection = new PostgresConnection({
      url,
      schema: flags.schema as string | undefined,
      max: 1,
    });
    connection.acquire();
    try {
      const before = await connection.schemaVersion();
      const applied = flags.status ? [] : await connection.migrate();
      const version = flags.status ? before : await connection.schemaVersion();
      const report = { schema: connection.schema, version, needed: SCHEMA_VERSION, applied };
      await context.out(
        flags.json
          ? JSON.stringify(report) + "\n"
          : `schema ${report.schema}: version ${version} (this QTasks needs ${SCHEMA_VERSION})${
            flags.status
              ? ""
              : applied.length === 0
              ? ", nothing to apply"
              : `, applied ${applied.join(", ")}`
          }\n`,
      );
      return flags.status && version !== SCHEMA_VERSION ? 1 : 0;
    } finally {
      await connection.release();
    }
  },
};
