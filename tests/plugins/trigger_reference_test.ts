import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TRIGGERS } from "../../src/ports/mod.ts";

/** Every trigger of QTasks' reference (seed 004), by component. */
const SEED_004 = [
  "qtasks_add_task_before_broker",
  "qtasks_add_task_after_broker",
  "qtasks_get",
  "qtasks_stop",
  "qtasks_ping",
  "qtasks_flush_all",
  "broker_listen_start",
  "broker_add_worker",
  "broker_add_before",
  "broker_add_after",
  "broker_get",
  "broker_update",
  "broker_start",
  "broker_stop",
  "broker_remove_finished_task",
  "broker_running_older_tasks",
  "broker_flush_all",
  "global_config_set",
  "global_config_get",
  "global_config_get_all",
  "global_config_get_match",
  "global_config_start",
  "global_config_stop",
  "global_config_set_status",
  "task_executor_args_replace",
  "task_executor_middlewares_execute",
  "task_executor_run_task",
  "task_executor_run_task_gen",
  "task_executor_run_task_trigger_error",
  "task_executor_decode",
  "starter_start",
  "starter_stop",
  "storage_add",
  "storage_get",
  "storage_get_all",
  "storage_update",
  "storage_remove_finished_task",
  "storage_start",
  "storage_stop",
  "storage_add_process",
  "storage_running_older_tasks",
  "storage_delete_finished_tasks",
  "storage_flush_all",
  "worker_execute_before",
  "worker_execute_after",
  "worker_add",
  "worker_start",
  "worker_stop",
  "worker_run_task_before",
  "worker_task_error_retry",
  "worker_remove_finished_task",
];

/** Triggers of the reference not fired yet (none left). */
const PENDING = new Set<string>();

function documented(): Set<string> {
  const text = readFileSync(new URL("../../docs/plugins.md", import.meta.url), "utf8");
  return new Set([...text.matchAll(/^\| `([a-z_]+)` +\|/gm)].map((match) => match[1]));
}

test("every trigger of QTasks' reference is in the trigger table", () => {
  const missing = SEED_004.filter((name) => !PENDING.has(name) && !Object.hasOwn(TRIGGERS, name));
  assert.deepEqual(missing, []);
});

test("docs/plugins.md documents exactly the triggers there are", () => {
  const docs = documented();
  assert.deepEqual(
    Object.keys(TRIGGERS).filter((name) => !docs.has(name)),
    [],
    "triggers missing from docs/plugins.md",
  );
  assert.deepEqual(
    [...docs].filter((name) => !Object.hasOwn(TRIGGERS, name)),
    [],
    "docs/plugins.md names triggers that do not exist",
  );
});
