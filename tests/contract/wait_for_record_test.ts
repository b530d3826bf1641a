import { test } from "node:test";
import assert from "node:assert/strict";
import { type RecordSource, waitForRecord } from "../../src/ports/wait_for_record.ts";
import type { TaskRecord } from "../../src/model/task_record.ts";
import { deferred } from "../support/deferred.ts";

/** A source over one mutable status, counting reads, whose changes are announced by `change`. */
function source(firstReadAfterMs?: number) {
  let status: string | undefined;
  let listener: ((status?: string) => void) | undefined;
  const reads: Array<string | undefined> = [];
  const read = deferred();
  const src: RecordSource = {
    read: () => {
      reads.push(status);
      read.resolve();
      return Promise.resolve(
        status === undefined ? undefined : { uuid: "u", status } as unknown as TaskRecord,
      );
    },
    watch: (onChange) => {
      listener = onChange;
      return () => listener = undefined;
    },
    firstReadAfterMs,
  };
  return {
    src,
    reads,
    firstRead: read.promise,
    set: (next: string) => status = next,
    change: (next?: string) => listener?.(next),
  };
}

test("with firstReadAfterMs, the first read waits for a change, and the record is read once", async () => {
  const s = source(60_000);
  s.set("new");
  const waiting = waitForRecord({ statuses: ["success"], timeoutMs: 120_000 }, s.src);
  await Promise.resolve();
  s.change("process"); // not awaited: no read
  s.set("success");
  s.change("success");
  assert.equal((await waiting)?.status, "success");
  assert.deepEqual(s.reads, ["success"]);
});

test("with firstReadAfterMs, the record is read after that time when no change is heard", async () => {
  const s = source(10);
  s.set("success"); // finished, but its notice never comes
  const record = await waitForRecord({ statuses: ["success"], timeoutMs: 120_000 }, s.src);
  assert.equal(record?.status, "success");
  assert.deepEqual(s.reads, ["success"]);
});

test("after a deferred first read, the time limit still ends the wait with one last read", async () => {
  const s = source(5);
  s.set("process");
  const record = await waitForRecord({ statuses: ["success"], timeoutMs: 30 }, s.src);
  await s.firstRead;
  assert.equal(record?.status, "process");
  assert.deepEqual(s.reads, ["process", "process"]); // the deferred read, then the last one
});

test("without firstReadAfterMs, the record is read at once", async () => {
  const s = source();
  s.set("success");
  const record = await waitForRecord({ statuses: ["success"], timeoutMs: 120_000 }, s.src);
  assert.equal(record?.status, "success");
  assert.deepEqual(s.reads, ["success"]);
});
