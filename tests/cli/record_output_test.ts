/**
 * `qtasks get`'s text form of a record (src/cli/_record_output.ts): the fields it shows.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { recordText } from "../../src/cli/_record_output.ts";
import type { TaskRecord } from "../../src/model/task_record.ts";

const record: TaskRecord = {
  uuid: "0b6c5f0e-8e3f-4a6e-9a57-6f0f0d6b4b1a",
  taskName: "sync",
  status: "new",
  priority: 0,
  args: ["ada"],
  kwargs: {},
  createdAt: new Date(0),
  updatedAt: new Date(0),
  deliveries: 0,
  attempt: 1,
  extra: {},
} as TaskRecord;

test("qtasks get shows a record's deduplication id, and no such line for a record without one", () => {
  assert.match(recordText({ ...record, dedupId: "user-ada" }), /^dedup id: +user-ada$/m);
  assert.doesNotMatch(recordText(record), /dedup id/);
});
