/**
 * The master's persistent state, as a port: the catalogue (every version with its handler
 * files, and the never-reuse version counters), invocation records, idempotency keys and a few
 * named values (harvesting's retrain counters). No I/O here; `memory.ts`, `redis.ts` and
 * `lmdb.ts` implement it and all pass test/contract/master-store.contract.ts.
 *
 * Invariants every implementation keeps:
 * - a write's promise resolves only once the write is as durable as the backend promises
 *   (docs/store.md says what survives a process crash and what an OS crash);
 * - documents are stored as JSON: what is read back is a copy, equal to what was written after
 *   a JSON round trip, never the caller's object;
 * - `deleteWorkflow` removes the versions but never lowers the version counter;
 * - invocation docs whose status is `running` are never trimmed.
 */
import { AppError } from '../../shared/errors.js';
import type { WorkflowVersion } from '../workflow/version.js';
import type { InvocationId } from '../../shared/ids.js';

export type MasterStoreKind = 'redis' | 'lmdb' | 'memory';

/** The store a configuration asks for: `auto` is redis with a redisUrl, lmdb without. */
export function storeKind(config: {
  store: MasterStoreKind | 'auto';
  redisUrl?: string | undefined;
}): MasterStoreKind {
  if (config.store !== 'auto') return config.store;
  return config.redisUrl === undefined ? 'lmdb' : 'redis';
}

/** An invocation record: an opaque JSON document with a few indexed fields. */
export interface InvocationDoc {
  id: InvocationId;
  workflow: string;
  /** `running` docs are the ones a restarted master must recover; any other status is finished. */
  status: string;
  startedAt: number;
  /** Orders finished docs for trimming and loading; a finished doc without it uses `startedAt`. */
  finishedAt?: number;
  [field: string]: unknown;
}

export interface CatalogSnapshot {
  /** Every stored version, by name then version ascending. */
  versions: WorkflowVersion[];
  /** The highest version ever stored per name, deleted workflows included. */
  lastVersion: Record<string, number>;
}

export interface MasterStore {
  readonly kind: MasterStoreKind;
  /** For logs: `lmdb at /x/.faasflow`, `redis://host:6379/ (prefix ff:m:)`; never a password. */
  readonly description: string;

  /** Stores one version and raises its name's counter to at least `v.version`. */
  putVersion(v: WorkflowVersion): Promise<void>;
  /** Removes every version of `name`; its counter stays, so version numbers are never reused. */
  deleteWorkflow(name: string): Promise<void>;
  loadCatalog(): Promise<CatalogSnapshot>;

  /** Upserts by id; durable when it resolves. */
  putInvocation(doc: InvocationDoc): Promise<void>;
  getInvocation(id: InvocationId): Promise<InvocationDoc | undefined>;
  /**
   * Every `running` doc (by startedAt), then the newest finished ones, oldest first, so that
   * `limit` docs are returned in all. Running docs are never dropped: when more than `limit` are
   * running, all of them come back and no finished one.
   */
  loadInvocations(limit: number): Promise<InvocationDoc[]>;
  /**
   * Deletes the finished docs beyond the newest `retain` (by finishedAt); running ones are kept.
   * Returns how many were deleted. Also drops expired idempotency bindings where the backend
   * does not expire them itself.
   */
  trimInvocations(retain: number): Promise<number>;

  /**
   * Atomically binds `scopedKey` (e.g. `<workflow>:<key>`) to `invocationId` unless it is bound
   * already; returns the id it is bound to (the given one when it was free). Bindings expire
   * `ttlMs` after they were made.
   */
  claimIdempotencyKey(
    scopedKey: string,
    invocationId: InvocationId,
    ttlMs: number,
  ): Promise<InvocationId>;

  /** A small named JSON value; undefined when never set. */
  getValue(key: string): Promise<unknown>;
  setValue(key: string, value: unknown): Promise<void>;

  /** Idempotent; operations after it reject with STORE_UNAVAILABLE. */
  close(): Promise<void>;
}

/** The order `loadInvocations` returns finished docs in and `trimInvocations` drops them by. */
export function finishedAtOf(doc: InvocationDoc): number {
  return doc.finishedAt ?? doc.startedAt;
}

export function isRunning(doc: Pick<InvocationDoc, 'status'>): boolean {
  return doc.status === 'running';
}

/** The error every store rejects with when its backend fails: retryable, names the store. */
export function storeUnavailable(description: string, op: string, cause: unknown): AppError {
  if (cause instanceof AppError && cause.code === 'STORE_UNAVAILABLE') return cause;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new AppError('STORE_UNAVAILABLE', `master store (${description}): ${op} failed: ${why}`, {
    cause,
    details: { store: description, op },
  });
}

export function storeClosed(description: string, op: string): AppError {
  return new AppError('STORE_UNAVAILABLE', `master store (${description}) is closed: ${op}`, {
    details: { store: description, op },
  });
}

/** A JSON copy: what a store hands back never aliases what it was given. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
