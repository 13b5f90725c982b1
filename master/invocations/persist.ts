/**
 * Invocation records as the master's store keeps them (docs/durability.md): the port the
 * invocation manager writes through, an in-memory implementation (a master without a store, and
 * tests), and the conversion between a live record and its stored document.
 *
 * A record is written when it is accepted (before any start trigger leaves, so an accepted
 * invocation survives the master) and when it ends (before its callers hear the result, so the
 * result they hear is the one a restarted master answers).
 */
import type { StoredRef } from '../../shared/schema/wire.js';
import type { InvocationDoc, MasterStore } from '../store/types.js';
import type { InvocationId } from '../../shared/ids.js';

export type { InvocationDoc };
export { fromDoc, toDoc, type RestoredFields } from '../../shared/invocation/doc.js';

/** What the manager needs of the master's store (master/store implements all of it). */
export type RecordStore = Pick<
  MasterStore,
  'putInvocation' | 'getInvocation' | 'loadInvocations' | 'trimInvocations' | 'claimIdempotencyKey'
>;

/** Records in this process only: they live as long as the master. */
export class MemoryRecordStore implements RecordStore {
  private readonly docs = new Map<string, InvocationDoc>();
  private readonly keys = new Map<string, { id: InvocationId; until: number }>();

  putInvocation(doc: InvocationDoc): Promise<void> {
    this.docs.set(doc.id, structuredClone(doc));
    return Promise.resolve();
  }

  getInvocation(id: InvocationId): Promise<InvocationDoc | undefined> {
    const d = this.docs.get(id);
    return Promise.resolve(d ? structuredClone(d) : undefined);
  }

  loadInvocations(limit: number): Promise<InvocationDoc[]> {
    const all = [...this.docs.values()];
    const running = all.filter((d) => d.status === 'running');
    const finished = all
      .filter((d) => d.status !== 'running')
      .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
      .slice(0, Math.max(0, limit - running.length));
    return Promise.resolve([...running, ...finished].map((d) => structuredClone(d)));
  }

  trimInvocations(retain: number): Promise<number> {
    const finished = [...this.docs.values()]
      .filter((d) => d.status !== 'running')
      .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
    const drop = finished.slice(retain);
    for (const d of drop) this.docs.delete(d.id);
    return Promise.resolve(drop.length);
  }

  claimIdempotencyKey(
    scopedKey: string,
    invocationId: InvocationId,
    ttlMs: number,
  ): Promise<InvocationId> {
    const now = Date.now();
    const held = this.keys.get(scopedKey);
    if (held && held.until > now) return Promise.resolve(held.id);
    this.keys.set(scopedKey, { id: invocationId, until: now + ttlMs });
    return Promise.resolve(invocationId);
  }
}

/** The sink outputs a restored record starts from (none reported yet). */
export function emptySinks(sinks: readonly string[]): {
  pendingSinks: Set<string>;
  sinkOutputs: Map<string, StoredRef | null>;
} {
  return { pendingSinks: new Set(sinks), sinkOutputs: new Map() };
}
