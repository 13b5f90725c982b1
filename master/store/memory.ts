/**
 * The in-process master store: nothing survives the process. For tests and `--store memory`
 * (a throwaway master). Documents are kept as JSON text so that reads are copies and the
 * semantics (what a JSON round trip drops) are the same as the persistent stores'.
 */
import type { WorkflowVersion } from '../workflow/version.js';
import {
  finishedAtOf,
  isRunning,
  storeClosed,
  type CatalogSnapshot,
  type InvocationDoc,
  type MasterStore,
} from './types.js';
import type { InvocationId } from '../../shared/ids.js';

export class MemoryMasterStore implements MasterStore {
  readonly kind = 'memory' as const;
  readonly description = 'memory (nothing persists)';
  private readonly versions = new Map<string, Map<number, string>>();
  private readonly lastVersion = new Map<string, number>();
  private readonly invocations = new Map<string, string>();
  private readonly idempotency = new Map<string, { id: InvocationId; expiresAt: number }>();
  private readonly values = new Map<string, string>();
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {}

  putVersion(v: WorkflowVersion): Promise<void> {
    return this.run('putVersion', () => {
      const list = this.versions.get(v.name) ?? new Map<number, string>();
      list.set(v.version, JSON.stringify(v));
      this.versions.set(v.name, list);
      this.lastVersion.set(v.name, Math.max(this.lastVersion.get(v.name) ?? 0, v.version));
    });
  }

  deleteWorkflow(name: string): Promise<void> {
    return this.run('deleteWorkflow', () => void this.versions.delete(name));
  }

  loadCatalog(): Promise<CatalogSnapshot> {
    return this.run('loadCatalog', () => {
      const versions: WorkflowVersion[] = [];
      for (const name of [...this.versions.keys()].sort()) {
        const list = this.versions.get(name)!;
        for (const n of [...list.keys()].sort((a, b) => a - b))
          versions.push(JSON.parse(list.get(n)!) as WorkflowVersion);
      }
      return { versions, lastVersion: Object.fromEntries(this.lastVersion) };
    });
  }

  putInvocation(doc: InvocationDoc): Promise<void> {
    return this.run('putInvocation', () => void this.invocations.set(doc.id, JSON.stringify(doc)));
  }

  getInvocation(id: InvocationId): Promise<InvocationDoc | undefined> {
    return this.run('getInvocation', () => {
      const text = this.invocations.get(id);
      return text === undefined ? undefined : (JSON.parse(text) as InvocationDoc);
    });
  }

  loadInvocations(limit: number): Promise<InvocationDoc[]> {
    return this.run('loadInvocations', () => {
      const docs = [...this.invocations.values()].map((t) => JSON.parse(t) as InvocationDoc);
      const running = docs
        .filter(isRunning)
        .sort((a, b) => a.startedAt - b.startedAt || byId(a, b));
      const finished = docs.filter((d) => !isRunning(d)).sort(byFinished);
      const room = Math.max(0, limit - running.length);
      return [...running, ...(room === 0 ? [] : finished.slice(-room))];
    });
  }

  trimInvocations(retain: number): Promise<number> {
    return this.run('trimInvocations', () => {
      const finished = [...this.invocations.values()]
        .map((t) => JSON.parse(t) as InvocationDoc)
        .filter((d) => !isRunning(d))
        .sort(byFinished);
      const drop = finished.slice(0, Math.max(0, finished.length - retain));
      for (const d of drop) this.invocations.delete(d.id);
      const now = this.now();
      for (const [k, b] of this.idempotency) if (b.expiresAt <= now) this.idempotency.delete(k);
      return drop.length;
    });
  }

  claimIdempotencyKey(
    scopedKey: string,
    invocationId: InvocationId,
    ttlMs: number,
  ): Promise<InvocationId> {
    return this.run('claimIdempotencyKey', () => {
      const now = this.now();
      const bound = this.idempotency.get(scopedKey);
      if (bound && bound.expiresAt > now) return bound.id;
      this.idempotency.set(scopedKey, { id: invocationId, expiresAt: now + ttlMs });
      return invocationId;
    });
  }

  getValue(key: string): Promise<unknown> {
    return this.run('getValue', () => {
      const text = this.values.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as unknown);
    });
  }

  setValue(key: string, value: unknown): Promise<void> {
    return this.run('setValue', () => void this.values.set(key, JSON.stringify(value)));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private run<T>(op: string, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(storeClosed(this.description, op));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function byFinished(a: InvocationDoc, b: InvocationDoc): number {
  return finishedAtOf(a) - finishedAtOf(b) || byId(a, b);
}

/** Ties break by id, as Redis's sorted sets and LMDB's [time, id] keys do. */
function byId(a: InvocationDoc, b: InvocationDoc): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
