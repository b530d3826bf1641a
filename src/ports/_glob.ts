/**
 * The glob matcher of `GlobalConfig.getMatch`, shared by the implementations that match keys
 * themselves (memory, PostgreSQL).
 *
 * @module
 */

/** A character as a RegExp atom that matches only itself (no `u` flag). */
function literal(char: string): string {
  return "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0");
}

/**
 * Translates a Redis glob (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`) into an anchored RegExp, as
 * Redis' stringmatchlen reads it: every other character is literal, an unclosed `[` takes the
 * rest of the pattern as its set, and a range's ends may come in either order.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (char === "\\" && i + 1 < pattern.length) source += literal(pattern[++i]);
    else if (char === "[") {
      i++;
      const negate = pattern[i] === "^";
      if (negate) i++;
      let set = "";
      for (; i < pattern.length && pattern[i] !== "]"; i++) {
        if (pattern[i] === "\\" && i + 1 < pattern.length) set += literal(pattern[++i]);
        else if (i + 2 < pattern.length && pattern[i + 1] === "-") {
          const [low, high] = [pattern[i], pattern[i + 2]].sort();
          set += `${literal(low)}-${literal(high)}`;
          i += 2;
        } else set += literal(pattern[i]);
      }
      source += `[${negate ? "^" : ""}${set}]`;
    } else source += literal(char);
  }
  return new RegExp(source + "$");
}
