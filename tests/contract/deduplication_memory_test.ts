/**
 * The deduplication contract, run against the memory backend (its clock injected).
 *
 * @module
 */
import { MemoryBroker, MemoryGlobalConfig, MemoryStorage } from "../../src/backends/memory/mod.ts";
import type { Broker } from "../../src/ports/mod.ts";
import { deduplicationContract } from "./deduplication_contract.ts";

const clocks = new WeakMap<Broker, { offset: number }>();

deduplicationContract("MemoryBroker", (name) => {
  const clock = { offset: 0 };
  const storage = new MemoryStorage({
    name,
    globalConfig: new MemoryGlobalConfig({ name }),
    now: () => Date.now() + clock.offset,
  });
  const broker = new MemoryBroker({ name, storage });
  clocks.set(broker, clock);
  return broker;
}, {
  advanceClock: (broker, ms) => {
    const clock = clocks.get(broker);
    if (!clock) throw new Error(`broker ${broker.name} has no injected clock`);
    clock.offset += ms;
  },
});
