/**
 * HTML building with escaping by default: every interpolated value is escaped unless it is
 * {@linkcode Html} made by this module. Task data (names, arguments, results, errors, logs) is
 * untrusted: it only ever reaches a page through here.
 *
 * @module
 */

/** Markup that is already safe (built by {@linkcode html}). */
export class Html {
  /** The markup. */
  readonly value: string;
  /**
   * @param value Markup built by this module only.
   */
  constructor(value: string) {
    this.value = value;
  }
  /** The markup. */
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "`": "&#96;",
};

/**
 * Escapes text for an HTML element or a quoted attribute.
 *
 * @param text Any value: turned into text with `String`.
 * @returns The escaped text.
 */
export function escapeHtml(text: unknown): string {
  const value = String(text);
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c]) : value;
}

const SPECIAL = /[&<>"'`]/;
const SPECIALS = /[&<>"'`]/g;

/** A value of an {@linkcode html} template. */
export type HtmlValue = Html | string | number | boolean | undefined | null | HtmlValue[];

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false) return "";
  if (typeof value === "number") return String(value);
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) {
    let out = "";
    for (const item of value) out += render(item);
    return out;
  }
  return escapeHtml(value);
}

/**
 * A tagged template that escapes every interpolated value (arrays are joined; `undefined`,
 * `null` and `false` render nothing; {@linkcode Html} is kept as is).
 *
 * @param strings The template's markup.
 * @param values The values, escaped.
 * @returns Safe markup.
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Removes the credentials of every URL in a text (`redis://user:pass@host` → `redis://***@host`). */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, "$1***@");
}
