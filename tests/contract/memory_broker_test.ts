/**
 * The Broker/Storage/GlobalConfig contract, run against the memory backend. Its clock is
 * injected (MemoryStorage `now`), so lease and record expiry are tested without waiting.
 *
 * @module
 */
import { MemoryBroker, MemoryGlobalConfig, MemoryStorage } from "../../src/backends/memory/mod.ts";
import type { Broker } from "../../src/ports/mod.ts";
import { brokerContract } from "./broker_contract.ts";
import { progressContract } from "./progress_contract.ts";
import { operationsContract } from "./operations_contract.ts";

/** Offset added to the wall clock, per broker. */
const clocks = new WeakMap<Broker, { offset: number }>();

function makeMemoryBroker(name: string): Broker {
  const clock = { offset: 0 };
  const storage = new MemoryStorage({
    name,
    globalConfig: new MemoryGlobalConfig({ name }),
    now: () => Date.now() + clock.offset,
  });
  const broker = new MemoryBroker({ name, storage });
  clocks.set(broker, clock);
  return broker;
}

brokerContract("MemoryBroker", makeMemoryBroker, {
  advanceClock: (broker, ms) => {
    const clock = clocks.get(broker);
    if (!clock) throw new Error(`broker ${broker.name} has no injected clock`);
    clock.offset += ms;
  },
  // Storage.flushAll deletes the records and leaves the broker's queue: called while the poison
  // task is the only record, it deletes exactly that record.
  corrupt: (broker) => broker.storage.flushAll(),
});

progressContract("MemoryBroker", makeMemoryBroker);

operationsContract("MemoryBroker", makeMemoryBroker, {
  advanceClock: (broker, ms) => {
    const clock = clocks.get(broker);
    if (!clock) throw new Error(`broker ${broker.name} has no injected clock`);
    clock.offset += ms;
  },
});
