import { ValidationError, type ValidationIssue } from "./errors/validation_error.ts";

/**
 * One problem reported by a schema, as the Standard Schema spec (v1) defines it.
 *
 * @example
 * ```ts
 * import type { StandardSchemaIssue } from "@qtasks/qtasks/ports";
 *
 * const issue: StandardSchemaIssue = { message: "Required", path: [0, { key: "email" }] };
 * ```
 */
export interface StandardSchemaIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where: keys, or segments holding a key. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * What a schema's `validate` returns, per the Standard Schema spec (v1): the value on success,
 * or the issues.
 *
 * @typeParam Output The validated (maybe transformed) value.
 *
 * @example
 * ```ts
 * import type { StandardSchemaResult } from "@qtasks/qtasks/ports";
 *
 * const ok: StandardSchemaResult<[number]> = { value: [1] };
 * const failed: StandardSchemaResult<[number]> = { issues: [{ message: "Expected number" }] };
 * ```
 */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/**
 * A schema of a task's argument list: any [Standard Schema](https://standardschema.dev) (v1)
 * whose input and output are arrays, such as zod's `z.tuple([...])` or `z.array(...)`. QTasks
 * uses only the `~standard` property, so zod (or valibot, arktype, …) stays out of the core.
 * Validation must be synchronous (no async refinements).
 *
 * @typeParam Input What producers pass to `addTask` (zod: `z.input<typeof schema>`).
 * @typeParam Output What the task function receives (zod: `z.output<typeof schema>`).
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import type { ArgsSchema } from "@qtasks/qtasks/ports";
 *
 * const schema: ArgsSchema<[string, number]> = z.tuple([z.email(), z.number().int()]);
 * ```
 */
export interface ArgsSchema<
  Input extends readonly unknown[] = readonly unknown[],
  Output extends readonly unknown[] = Input,
> {
  /** The Standard Schema interface. */
  readonly "~standard": {
    /** Version of the spec: 1. */
    readonly version: 1;
    /** Who made the schema (`"zod"`). */
    readonly vendor: string;
    /** Validates a value. */
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    /** Types only: the input and output types. */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/**
 * The argument list producers pass to a task with schema `S` (mutable, for rest parameters).
 *
 * @typeParam S The schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import type { SchemaInput } from "@qtasks/qtasks/ports";
 *
 * const schema = z.tuple([z.string(), z.coerce.number()]);
 * const args: SchemaInput<typeof schema> = ["ada", "42"];
 * ```
 */
export type SchemaInput<S extends ArgsSchema> = NonNullable<S["~standard"]["types"]> extends {
  readonly input: infer I extends readonly unknown[];
} ? [...I]
  : unknown[];

/**
 * The argument list a task with schema `S` receives once validated (mutable, for rest
 * parameters).
 *
 * @typeParam S The schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import type { SchemaOutput } from "@qtasks/qtasks/ports";
 *
 * const schema = z.tuple([z.string(), z.coerce.number()]);
 * const args: SchemaOutput<typeof schema> = ["ada", 42];
 * ```
 */
export type SchemaOutput<S extends ArgsSchema> = NonNullable<S["~standard"]["types"]> extends {
  readonly output: infer O extends readonly unknown[];
} ? [...O]
  : unknown[];

/**
 * Whether `value` looks like an {@linkcode ArgsSchema} (has a `~standard.validate` function).
 *
 * @param value Anything.
 * @returns `true` for a Standard Schema.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { isArgsSchema } from "./task_schema.ts";
 *
 * console.log(isArgsSchema(z.tuple([z.string()]))); // true
 * console.log(isArgsSchema({})); // false
 * ```
 */
export function isArgsSchema(value: unknown): value is ArgsSchema {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  const standard = (value as { "~standard"?: { validate?: unknown } })["~standard"];
  return standard !== null && typeof standard === "object" &&
    typeof standard.validate === "function";
}

/**
 * Validates a task's arguments with its schema and returns what the schema made of them.
 *
 * @param schema The task's schema.
 * @param args The arguments.
 * @param context The start of an error message: `Cannot add task "x"`.
 * @returns The validated (maybe transformed) arguments.
 * @throws {ValidationError} When the schema rejects them (the message lists every path).
 * @throws {TypeError} When the schema validates asynchronously or does not produce an array.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { ValidationError } from "@qtasks/qtasks";
 * import { parseArgs } from "./task_schema.ts";
 *
 * const schema = z.tuple([z.email(), z.number().int()]);
 * console.log(parseArgs(schema, ["ada@example.com", 36], 'Cannot add task "signup"'));
 * try {
 *   parseArgs(schema, ["ada", 1.5], 'Cannot add task "signup"');
 * } catch (error) {
 *   console.log(error instanceof ValidationError); // true
 *   console.log((error as ValidationError).issues.map((issue) => issue.path)); // [[0], [1]]
 * }
 * ```
 */
export function parseArgs(schema: ArgsSchema, args: unknown[], context: string): unknown[] {
  const result = schema["~standard"].validate(args);
  if (isPromise(result)) {
    result.then(() => {}, () => {});
    throw new TypeError(
      `${context}: its schema validates asynchronously; only synchronous schemas are supported`,
    );
  }
  if (result.issues !== undefined) {
    throw new ValidationError(context, result.issues.map(toIssue));
  }
  if (!Array.isArray(result.value)) {
    throw new TypeError(
      `${context}: its schema must describe the argument list (an array), such as z.tuple([...])`,
    );
  }
  return result.value;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

function toIssue(issue: StandardSchemaIssue): ValidationIssue {
  const path: Array<string | number> = [];
  for (const segment of issue.path ?? []) {
    const key = segment !== null && typeof segment === "object" ? segment.key : segment;
    path.push(typeof key === "number" ? key : String(key));
  }
  return { path, message: String(issue.message) };
}
