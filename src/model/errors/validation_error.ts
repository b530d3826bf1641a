import { InvalidPayloadError } from "./invalid_payload_error.ts";

/**
 * One problem a task's `schema` found in its arguments: where (`path`, from the argument list:
 * `[0, "email"]` is the `email` field of the first argument) and what.
 *
 * @example
 * ```ts
 * import type { ValidationIssue } from "@qtasks/qtasks";
 *
 * const issue: ValidationIssue = { path: [0, "email"], message: "Invalid email address" };
 * ```
 */
export interface ValidationIssue {
  /** Where, from the argument list: argument index first, then keys and indexes inside it. */
  readonly path: ReadonlyArray<string | number>;
  /** What is wrong, as the schema says it. */
  readonly message: string;
}

/**
 * Task arguments rejected by the task's `schema` (code `INVALID_ARGUMENTS`). At enqueue,
 * `addTask` rejects with it and nothing is stored; at execution (arguments sent by a producer
 * that did not validate them), the task ends as `error` with it. A subclass of
 * {@linkcode InvalidPayloadError}, so catching that catches both.
 *
 * @example
 * ```ts
 * import { ValidationError } from "@qtasks/qtasks";
 *
 * const error = new ValidationError('Cannot add task "signup"', [
 *   { path: [0], message: "Invalid email address" },
 * ]);
 * console.log(error.code); // "INVALID_ARGUMENTS"
 * console.log(error.message); // 'Cannot add task "signup": invalid arguments: args[0]: Invalid email address'
 * ```
 */
export class ValidationError extends InvalidPayloadError {
  /** `INVALID_ARGUMENTS`. */
  override readonly code: string = "INVALID_ARGUMENTS";
  /** What the schema found, in its order. */
  readonly issues: readonly ValidationIssue[];

  /**
   * Creates the error.
   *
   * @param context What was being done, the start of the message (`Cannot add task "x"`).
   * @param issues What the schema found (at least one).
   */
  constructor(context: string, issues: readonly ValidationIssue[]) {
    super(`${context}: invalid arguments: ${describeIssues(issues)}`);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** At most this many issues are spelled out in the message (all are kept in `issues`). */
const LISTED = 10;

function describeIssues(issues: readonly ValidationIssue[]): string {
  const listed = issues.slice(0, LISTED).map((issue) =>
    `${formatPath(issue.path)}: ${issue.message}`
  );
  if (issues.length > LISTED) listed.push(`and ${issues.length - LISTED} more`);
  return listed.join("; ");
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `args[0].email`, `args[1]["a key"]`, or `args` for the list itself. */
function formatPath(path: ReadonlyArray<string | number>): string {
  let text = "args";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else if (IDENTIFIER.test(key)) text += `.${key}`;
    else text += `[${JSON.stringify(key)}]`;
  }
  return text;
}
