/**
 * The master store in a data dir (the one file importing `lmdb`): the single-machine default.
 *
 * One LMDB environment in `dataDir` (created mode 0700) with named databases:
 * `versions` ([name, version] → WorkflowVersion), `version-counters` (name → highest version),
 * `invocations` (id → doc), `invocations-running` (id → startedAt), `invocations-finished`
 * ([finishedAt, id] → true, the order trim drops by), `idempotency` (key → {id, expiresAt}) and
 * `values`. Values are JSON, like the other stores'.
 *
 * Every logical write is one LMDB transaction, so a crash leaves all of it or none. When a write's
 * promise resolves it is committed: the pages are in the OS, so it survives `kill -9` of the
 * master. With `sync: 'flush'` the promise waits for the fsync as well and the write also
 * survives an OS crash or power loss; with `commit` the fsync follows in the background and an
 * OS crash may lose the last writes but never corrupts the environment (docs/store.md).
 *
 * One master per data dir: `lock.ts` holds `master.lock` while the store is open.
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { WorkflowVersion } from '../workflow/version.js';
import { acquireDirLock, LOCK_FILE, type DirLock } from './lock.js';
import {
  finishedAtOf,
  isRunning,
  storeClosed,
  storeUnavailable,
  type CatalogSnapshot,
  type InvocationDoc,
  type MasterStore,
} from './types.js';
import type { InvocationId } from '../../shared/ids.js';

export type LmdbSync = 'flush' | 'commit';

export interface LmdbMasterStoreOptions {
  dataDir: string;
  /** `flush`: a write resolves once fsynced; `commit`: once committed to the OS. */
  sync: LmdbSync;
  logger: Logger;
  now?: () => number;
}

interface Binding {
  id: InvocationId;
  expiresAt: number;
}

export class LmdbMasterStore implements MasterStore {
  readonly kind = 'lmdb' as const;
  readonly description: string;
  private closing: Promise<void> | undefined;
  private readonly versions: Database<WorkflowVersion, [string, number]>;
  private readonly counters: Database<number, string>;
  private readonly invocations: Database<InvocationDoc, string>;
  private readonly running: Database<number, string>;
  private readonly finished: Database<boolean, [number, string]>;
  private readonly idempotency: Database<Binding, string>;
  private readonly values: Database<unknown, string>;
  private readonly now: () => number;

  private constructor(
    private readonly root: RootDatabase,
    private readonly lock: DirLock,
    readonly dataDir: string,
    private readonly sync: LmdbSync,
    now: (() => number) | undefined,
  ) {
    this.description = `lmdb at ${dataDir} (sync ${sync})`;
    const db = <V, K extends string | [string, number] | [number, string]>(
      name: string,
    ): Database<V, K> => root.openDB<V, K>(name, { encoding: 'json' });
    this.versions = db('versions');
    this.counters = db('version-counters');
    this.invocations = db('invocations');
    this.running = db('invocations-running');
    this.finished = db('invocations-finished');
    this.idempotency = db('idempotency');
    this.values = db('values');
    this.now = now ?? Date.now;
  }

  /**
   * Creates the data dir (0700) if needed, takes its lock (CONFLICT when another live master
   * holds it) and opens the environment.
   */
  static open(o: LmdbMasterStoreOptions): LmdbMasterStore {
    const dataDir = resolve(o.dataDir);
    let lock: DirLock;
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      // The catalogue holds handler code and invocation inputs: not for other users.
      if ((statSync(dataDir).mode & 0o077) !== 0) chmodSync(dataDir, 0o700);
      lock = acquireDirLock(join(dataDir, LOCK_FILE));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(
        'STORE_UNAVAILABLE',
        `master store: cannot use the data dir ${dataDir}: ${err instanceof Error ? err.message : String(err)}; pass --data-dir DIR (a folder this user may write) or --redis-url`,
        { cause: err, details: { dataDir } },
      );
    }
    if (lock.tookOver)
      o.logger.warn(
        { dataDir, stalePid: lock.tookOver.pid },
        'master store: took over a stale data dir lock',
      );
    let root: RootDatabase;
    try {
      root = open({ path: dataDir, maxDbs: 16, encoding: 'json' });
    } catch (err) {
      lock.release();
      throw storeUnavailable(`lmdb at ${dataDir}`, 'opening', err);
    }
    return new LmdbMasterStore(root, lock, dataDir, o.sync, o.now);
  }

  putVersion(v: WorkflowVersion): Promise<void> {
    return this.write('putVersion', () => {
      void this.versions.put([v.name, v.version], v);
      const last = this.counters.get(v.name) ?? 0;
      if (v.version > last) void this.counters.put(v.name, v.version);
    });
  }

  deleteWorkflow(name: string): Promise<void> {
    return this.write('deleteWorkflow', () => {
      // Keys sort by name first, so this workflow's versions are one contiguous run.
      for (const key of this.versions.getKeys({ start: [name] })) {
        if (key[0] !== name) break;
        void this.versions.remove(key);
      }
    });
  }

  loadCatalog(): Promise<CatalogSnapshot> {
    return this.read('loadCatalog', () => {
      const versions = [...this.versions.getRange()].map((e) => e.value);
      const lastVersion: Record<string, number> = {};
      for (const { key, value } of this.counters.getRange()) lastVersion[key] = value;
      return { versions, lastVersion };
    });
  }

  putInvocation(doc: InvocationDoc): Promise<void> {
    return this.write('putInvocation', () => {
      const old = this.invocations.get(doc.id);
      if (old && !isRunning(old)) void this.finished.remove([finishedAtOf(old), old.id]);
      void this.invocations.put(doc.id, doc);
      if (isRunning(doc)) void this.running.put(doc.id, doc.startedAt);
      else {
        void this.running.remove(doc.id);
        void this.finished.put([finishedAtOf(doc), doc.id], true);
      }
    });
  }

  getInvocation(id: InvocationId): Promise<InvocationDoc | undefined> {
    return this.read('getInvocation', () => this.invocations.get(id));
  }

  loadInvocations(limit: number): Promise<InvocationDoc[]> {
    return this.read('loadInvocations', () => {
      const running = [...this.running.getRange()]
        .sort((a, b) => a.value - b.value || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map((e) => e.key);
      const room = Math.max(0, limit - running.length);
      const finished =
        room === 0
          ? []
          : [...this.finished.getKeys({ reverse: true, limit: room })].reverse().map((k) => k[1]);
      const docs: InvocationDoc[] = [];
      for (const id of [...running, ...finished]) {
        const doc = this.invocations.get(id);
        if (doc) docs.push(doc);
      }
      return docs;
    });
  }

  trimInvocations(retain: number): Promise<number> {
    return this.write('trimInvocations', () => {
      let dropped = 0;
      const excess = this.finished.getCount() - retain;
      if (excess > 0) {
        for (const key of [...this.finished.getKeys({ limit: excess })]) {
          void this.finished.remove(key);
          const doc = this.invocations.get(key[1]);
          // Only the doc this index entry stands for; a newer upsert has its own entry.
          if (doc && !isRunning(doc) && finishedAtOf(doc) === key[0]) {
            void this.invocations.remove(key[1]);
            dropped++;
          }
        }
      }
      // LMDB has no expiry: bindings past their TTL go here.
      const now = this.now();
      for (const { key, value } of this.idempotency.getRange())
        if (value.expiresAt <= now) void this.idempotency.remove(key);
      return dropped;
    });
  }

  claimIdempotencyKey(
    scopedKey: string,
    invocationId: InvocationId,
    ttlMs: number,
  ): Promise<InvocationId> {
    return this.write('claimIdempotencyKey', () => {
      const now = this.now();
      const bound = this.idempotency.get(scopedKey);
      if (bound && bound.expiresAt > now) return bound.id;
      void this.idempotency.put(scopedKey, { id: invocationId, expiresAt: now + ttlMs });
      return invocationId;
    });
  }

  getValue(key: string): Promise<unknown> {
    return this.read('getValue', () => this.values.get(key));
  }

  setValue(key: string, value: unknown): Promise<void> {
    return this.write('setValue', () => {
      if (value === undefined) void this.values.remove(key);
      else void this.values.put(key, value);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.root.close();
      } finally {
        this.lock.release();
      }
    })();
    return this.closing;
  }

  /**
   * Runs `fn` as one transaction (its puts and removes apply together, in call order) and
   * resolves with its result once the transaction is as durable as `sync` asks.
   */
  private async write<T>(op: string, fn: () => T): Promise<T> {
    if (this.closing) throw storeClosed(this.description, op);
    try {
      const result = await this.root.transaction(fn);
      if (this.sync === 'flush') await this.root.flushed;
      return result;
    } catch (err) {
      throw storeUnavailable(this.description, op, err);
    }
  }

  private read<T>(op: string, fn: () => T): Promise<T> {
    if (this.closing) return Promise.reject(storeClosed(this.description, op));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(storeUnavailable(this.description, op, err));
    }
  }
}
