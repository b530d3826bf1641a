/**
 * Private: the "did you mean" hint of an unknown task name.
 *
 * @module
 */

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * A hint for a name that is not among `names`: ` (did you mean "x"?)` for the closest one when it
 * is close enough (a third of the name's length, at least 2 edits), else the registered names (at
 * most 10).
 *
 * @param name The unknown name.
 * @param names The registered names.
 * @returns The hint, starting with a space.
 */
export function unknownNameHint(name: string, names: Iterable<string>): string {
  const all = [...names];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of all) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))) {
    return ` (did you mean "${best}"?)`;
  }
  const shown = all.slice(0, 10).map((n) => `"${n}"`).join(", ");
  return ` (registered: ${shown}${all.length > 10 ? ", …" : ""})`;
}
