/**
 * The broker_*, storage_* and global_config_* triggers on the memory backend. Its clock is
 * injected (MemoryStorage `now`), so lease expiry is tested without waiting.
 *
 * @module
 */
import { MemoryBroker, MemoryGlobalConfig, MemoryStorage } from "../../src/backends/memory/mod.ts";
import type { Broker } from "../../src/ports/mod.ts";
import { triggeredBroker } from "../../src/engine/triggers/triggered_broker.ts";
import { componentTriggers } from "./component_triggers.ts";

const clocks = new WeakMap<Broker, { offset: number }>();

componentTriggers("memory", (name) => {
  const clock = { offset: 0 };
  const storage = new MemoryStorage({
    name,
    globalConfig: new MemoryGlobalConfig({ name }),
    now: () => Date.now() + clock.offset,
  });
  // The trigger decorator the app puts on every broker (the tests also start it directly).
  const broker = triggeredBroker(new MemoryBroker({ name, storage }));
  clocks.set(broker, clock);
  return broker;
}, {
  advanceClock: (broker, ms) => {
    const clock = clocks.get(broker);
    if (!clock) throw new Error(`broker ${broker.name} has no injected clock`);
    clock.offset += ms;
  },
});
