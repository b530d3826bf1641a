/**
 * A binary min-heap ordered by a comparison function. Used by the in-memory broker for its queue.
 *
 * @typeParam T The item type.
 *
 * @example
 * ```ts
 * import { PriorityHeap } from "./_priority_heap.ts";
 *
 * const heap = new PriorityHeap<number>((a, b) => a - b);
 * heap.push(3);
 * heap.push(1);
 * console.log(heap.pop()); // 1
 * ```
 */
export class PriorityHeap<T> {
  #items: T[] = [];
  #less: (a: T, b: T) => number;

  /**
   * Creates a PriorityHeap.
   *
   * @param compare Negative when `a` comes first.
   */
  constructor(compare: (a: T, b: T) => number) {
    this.#less = compare;
  }

  /** How many items it holds. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#less(items[i], items[parent]) >= 0) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  /** Removes and returns the first item, or `undefined` when empty. */
  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop() as T;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.#less(items[left], items[smallest]) < 0) smallest = left;
        if (right < items.length && this.#less(items[right], items[smallest]) < 0) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }

  /** The first item, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Every item, in no particular order (for counting; do not change them). */
  values(): readonly T[] {
    return this.#items;
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
  }
}
