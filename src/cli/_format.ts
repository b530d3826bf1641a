/** Pads the columns of `rows` (the first row is the header) to a text table, two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ")
      .trimEnd()
  ).join("\n") + "\n";
}

/** `label: value` lines with the values aligned. */
export function fields(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${(label + ":").padEnd(width)} ${value}`).join("\n") +
    "\n";
}

/** A duration as `1d 2h`, `3h 04m`, `5m 06s` or `7s`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** JSON on one line, for values in text output. */
export function json(value: unknown): string {
  return JSON.stringify(value) ?? "undefined";
}
