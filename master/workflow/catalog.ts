/**
 * The deployed workflows: every version of every workflow with its DAG, partition and handler
 * files, persisted through the master store and restored from it at startup.
 *
 * Invariants:
 * - a version becomes visible (and is pushed to workers) only after the store holds it: a failed
 *   write leaves nothing behind and the upload fails with STORE_UNAVAILABLE;
 * - version numbers are never reused, across deletes and restarts (the store keeps the counter);
 * - writes are serialised, so versions are stored and shown in the order they were numbered and
 *   a delete never races an add of the same name;
 * - reads (`latest`, `versions`, `current`) are synchronous over memory: the invocation path
 *   never waits for the store.
 */
import { AppError } from '../../shared/errors.js';
import type { MasterStore } from '../store/types.js';
import type { WorkflowVersion } from './version.js';

export type { WorkflowVersion } from './version.js';

/** What the catalogue writes through; without one, nothing persists (tests). */
export type CatalogStore = Pick<MasterStore, 'putVersion' | 'deleteWorkflow'>;

const NO_STORE: CatalogStore = {
  putVersion: () => Promise.resolve(),
  deleteWorkflow: () => Promise.resolve(),
};

export class WorkflowCatalog {
  private readonly workflows = new Map<string, WorkflowVersion[]>();
  /** Highest version ever given per name, kept across `remove` so `name@version` is never reused. */
  private readonly lastVersion = new Map<string, number>();
  /** The tail of the serialised writes. */
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: CatalogStore = NO_STORE) {}

  /** The catalogue as the store holds it: every version and every counter. */
  static async load(
    store: Pick<MasterStore, 'loadCatalog'> & CatalogStore,
  ): Promise<WorkflowCatalog> {
    const snapshot = await store.loadCatalog();
    const catalog = new WorkflowCatalog(store);
    for (const v of [...snapshot.versions].sort(byNameThenVersion)) {
      const list = catalog.workflows.get(v.name) ?? [];
      list.push(v);
      catalog.workflows.set(v.name, list);
      catalog.lastVersion.set(v.name, Math.max(catalog.lastVersion.get(v.name) ?? 0, v.version));
    }
    for (const [name, n] of Object.entries(snapshot.lastVersion))
      catalog.lastVersion.set(name, Math.max(catalog.lastVersion.get(name) ?? 0, n));
    return catalog;
  }

  /** Numbers, stores and then shows a new version; rejects with STORE_UNAVAILABLE if not stored. */
  add(
    entry: Omit<WorkflowVersion, 'version' | 'createdAt'>,
    now: Date = new Date(),
  ): Promise<WorkflowVersion> {
    return this.serially(async () => {
      const version = (this.lastVersion.get(entry.name) ?? 0) + 1;
      const v: WorkflowVersion = { ...entry, version, createdAt: now.toISOString() };
      await this.store.putVersion(v).catch((err: unknown) => {
        throw storeFailed(`storing ${entry.name}@${version}`, err);
      });
      this.lastVersion.set(entry.name, version);
      const versions = this.workflows.get(entry.name) ?? [];
      versions.push(v);
      this.workflows.set(entry.name, versions);
      return v;
    });
  }

  has(name: string): boolean {
    return this.workflows.has(name);
  }

  latest(name: string): WorkflowVersion {
    const v = this.workflows.get(name)?.at(-1);
    if (!v) throw notFound(name);
    return v;
  }

  versions(name: string): WorkflowVersion[] {
    const list = this.workflows.get(name);
    if (!list) throw notFound(name);
    return list;
  }

  /** The newest version of every workflow. */
  current(): WorkflowVersion[] {
    return [...this.workflows.values()]
      .map((l) => l.at(-1)!)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Deletes every version from the store, then from memory; WORKFLOW_NOT_FOUND if none. */
  remove(name: string): Promise<void> {
    return this.serially(async () => {
      if (!this.workflows.has(name)) throw notFound(name);
      await this.store.deleteWorkflow(name).catch((err: unknown) => {
        throw storeFailed(`deleting ${name}`, err);
      });
      this.workflows.delete(name);
    });
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }
}

function byNameThenVersion(a: WorkflowVersion, b: WorkflowVersion): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.version - b.version;
}

function storeFailed(what: string, err: unknown): AppError {
  if (err instanceof AppError && err.code === 'STORE_UNAVAILABLE') return err;
  return new AppError(
    'STORE_UNAVAILABLE',
    `${what} failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

function notFound(name: string): AppError {
  return new AppError(
    'WORKFLOW_NOT_FOUND',
    `workflow ${JSON.stringify(name)} is not deployed (GET /v1/workflows lists the deployed ones)`,
  );
}
