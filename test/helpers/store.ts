/**
 * An OutcomeStore for tests: a real SQLite store in memory for reads and inclusion marks, and
 * `write` in front of its writes, to make them slow, fail, or count them.
 */
import { SqliteOutcomeStore, type OutcomeStore, type StoreBatch, type StoreBatchResult } from "../../src/sequencer/store.ts";

export function storeWithWrite(write: (batch: StoreBatch, memory: SqliteOutcomeStore) => Promise<StoreBatchResult>): { store: OutcomeStore; memory: SqliteOutcomeStore } {
  const memory = new SqliteOutcomeStore({ path: ":memory:" });
  memory.open();
  const store: OutcomeStore = {
    write: (batch) => write(batch, memory),
    pending: () => memory.pending(),
    readyOutcomes: (max) => memory.readyOutcomes(max),
    get: (id) => memory.get(id),
    markIncluded: (ids, block) => memory.markIncluded(ids, block),
    close: () => memory.close(),
  };
  return { store, memory };
}
