/**
 * A PostgreSQL broker whose statements are counted: the round-trip tests of the PostgreSQL
 * backend (tests/postgres/exchange_round_trips_test.ts, bulk_enqueue_test.ts) count what the
 * broker sends through its connection.
 *
 * @module
 */
import { PostgresBroker, type PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { appName, componentContext } from "../contract/broker_contract.ts";

/** A started broker and the count of what it sent since {@linkcode countedBroker} returned. */
export interface CountedBroker {
  broker: PostgresBroker;
  /** Statements sent, a transaction counting two (its BEGIN and COMMIT). */
  sent: () => number;
  /** Puts the connection's own `run` and `transaction` back. */
  restore: () => void;
}

/**
 * Starts a broker on `connection` and counts the statements and transactions it sends from now
 * on (a transaction inside the caller's own is not counted: it sends no BEGIN or COMMIT).
 *
 * @example
 * ```ts ignore
 * const { broker, sent, restore } = await countedBroker(connection);
 * await broker.add(newTask());
 * assert.equal(sent(), 1);
 * restore();
 * ```
 */
export async function countedBroker(connection: PostgresConnection): Promise<CountedBroker> {
  const broker = new PostgresBroker({ name: appName(), connection });
  await broker.start(componentContext());
  let sent = 0;
  const run = connection.run.bind(connection);
  const transaction = connection.transaction.bind(connection);
  connection.run = (...args) => {
    sent++;
    return run(...args);
  };
  connection.transaction = (body, tx) => {
    if (tx === undefined) sent += 2;
    return transaction(body, tx);
  };
  const restore = () => {
    connection.run = run;
    connection.transaction = transaction;
  };
  return { broker, sent: () => sent, restore };
}
