#!/usr/bin/env node
// The `bin` of the npm package ("bin": { "qtasks": "./bin/qtasks.js" } in its package.json),
// for Node and Bun. The npm build (issue 9) ships it next to the compiled sources, with the
// import below pointing at the compiled cli.ts. Node sets no import.meta.main on an imported
// module, so the flag tells cli.ts to run the command line.
globalThis.__QTASKS_CLI_MAIN__ = true;
await import("../cli.js");
