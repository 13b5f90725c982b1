/**
 * The invocation journal in one process's memory: the same fields and the same atomicity as the
 * Redis journal (every operation is synchronous under the hood), for deterministic tests of the
 * engine and the invocation manager, and for a cluster that lives in one process. Survives
 * nothing; `fail` makes operations reject, to test a store outage.
 */
import { AppError } from './errors.js';
import {
  encodeCommit,
  stateFromFields,
  type CommitResult,
  type FailureCommit,
  type Journal,
  type JournalState,
  type NodeCommit,
} from './journal.js';
import type { Placement } from './schema/wire.js';
import type { InvocationId } from './ids.js';

export class MemoryJournal implements Journal {
  private readonly journals = new Map<string, Map<string, string>>();
  /** While set, every operation rejects with STORE_UNAVAILABLE (an outage). */
  fail = false;
  /** Every commit asked for, in order, with whether it won: the history tests check. */
  readonly history: { invocationId: InvocationId; node: string; won: boolean }[] = [];

  private fields(id: string): Map<string, string> {
    let f = this.journals.get(id);
    if (!f) {
      f = new Map();
      this.journals.set(id, f);
    }
    return f;
  }

  /** The outage error while `fail` is set. */
  private outage(): AppError | undefined {
    return this.fail
      ? new AppError('STORE_UNAVAILABLE', 'journal: store outage (test)')
      : undefined;
  }

  commit(
    invocationId: InvocationId,
    commits: readonly NodeCommit[],
    _ttlMs: number,
  ): Promise<CommitResult> {
    const down = this.outage();
    if (down) return Promise.reject(down);
    const f = this.fields(invocationId);
    const p = f.get('p');
    const winners = commits.map((c) => {
      const prev = f.get(`n:${c.node}`);
      this.history.push({ invocationId, node: c.node, won: prev === undefined });
      if (prev !== undefined) return JSON.parse(prev) as NodeCommit;
      f.set(`n:${c.node}`, encodeCommit(c));
      return c;
    });
    return Promise.resolve({ winners, ...(p ? { placement: JSON.parse(p) as Placement } : {}) });
  }

  commitFailure(invocationId: InvocationId, failure: FailureCommit, _ttlMs: number): Promise<void> {
    const down = this.outage();
    if (down) return Promise.reject(down);
    const f = this.fields(invocationId);
    if (!f.has('f')) f.set('f', JSON.stringify(failure));
    return Promise.resolve();
  }

  read(invocationId: InvocationId): Promise<JournalState> {
    const down = this.outage();
    if (down) return Promise.reject(down);
    return Promise.resolve(
      stateFromFields(Object.fromEntries(this.journals.get(invocationId) ?? [])),
    );
  }

  replace(invocationId: InvocationId, placement: Placement, _ttlMs: number): Promise<JournalState> {
    const down = this.outage();
    if (down) return Promise.reject(down);
    const f = this.fields(invocationId);
    const cur = f.get('p');
    const epoch = cur ? ((JSON.parse(cur) as Placement).epoch ?? 0) : -1;
    if ((placement.epoch ?? 0) > epoch) f.set('p', JSON.stringify(placement));
    return Promise.resolve(stateFromFields(Object.fromEntries(f)));
  }

  drop(invocationIds: readonly InvocationId[]): Promise<void> {
    for (const id of invocationIds) this.journals.delete(id);
    return Promise.resolve();
  }

  /** Invocations with a journal (ended ones are dropped). */
  get size(): number {
    return this.journals.size;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
