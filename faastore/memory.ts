/**
 * The in-process tier: Buffers held by reference (never copied), with exact byte accounting so
 * FaaStore can keep a memory quota. `tryPut` checks the quota and inserts in one synchronous
 * step, so concurrent puts can never overshoot it.
 *
 * Callers hand over their Buffers: mutating one after `put` changes the stored object.
 */
import { AppError } from '../shared/errors.js';
import { EntryTable } from './entries.js';
import type { ObjectTier } from './store.js';

export interface MemoryTierOptions {
  /** How often expired objects are dropped. Default 1000 ms. */
  sweepIntervalMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  nowMs?: () => number;
}

export class MemoryTier implements ObjectTier {
  readonly kind = 'memory' as const;
  private readonly table: EntryTable<Buffer>;
  private readonly sweepIntervalMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: MemoryTierOptions = {}) {
    this.table = new EntryTable<Buffer>(options.nowMs);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
  }

  /** Bytes held now, including expired objects not yet swept. */
  get usedBytes(): number {
    return this.table.usedBytes;
  }

  get objectCount(): number {
    return this.table.count;
  }

  /** Bytes that storing `sizeBytes` under `key` would leave free of `quotaBytes`. */
  freeBytesFor(key: string, quotaBytes: number): number {
    return quotaBytes - this.table.usedBytes + this.table.heldBytes(key);
  }

  put(key: string, value: Buffer, ttlMs: number, group?: string): Promise<void> {
    try {
      this.putSync(key, value, ttlMs, group);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(AppError.from(err));
    }
  }

  putSync(key: string, value: Buffer, ttlMs: number, group?: string): void {
    this.assertOpen();
    this.table.set(key, value, value.length, ttlMs, group);
    this.startSweeper();
  }

  /** Stores only if the result stays within `quotaBytes`; returns whether it stored. */
  tryPut(key: string, value: Buffer, ttlMs: number, quotaBytes: number, group?: string): boolean {
    if (value.length > this.freeBytesFor(key, quotaBytes)) return false;
    this.putSync(key, value, ttlMs, group);
    return true;
  }

  /** The live value, or undefined; never throws. */
  peek(key: string): Buffer | undefined {
    if (this.closed) return undefined;
    return this.table.get(key)?.value;
  }

  getBuffer(key: string): Promise<Buffer> {
    if (this.closed) return Promise.reject(closedError());
    const value = this.table.get(key)?.value;
    if (value === undefined) {
      return Promise.reject(
        new AppError('OBJECT_NOT_FOUND', `object ${key} is not in this worker's memory`, {
          details: { key, tier: 'memory' },
        }),
      );
    }
    return Promise.resolve(value);
  }

  /** Synchronous delete; returns the bytes freed. */
  deleteSync(keys: readonly string[]): number {
    let freed = 0;
    for (const key of keys) freed += this.table.remove(key)?.sizeBytes ?? 0;
    return freed;
  }

  delete(keys: readonly string[]): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    this.deleteSync(keys);
    return Promise.resolve();
  }

  releaseGroup(group: string): Promise<number> {
    if (this.closed) return Promise.reject(closedError());
    return Promise.resolve(this.table.removeGroup(group).length);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.table.clear();
    return Promise.resolve();
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => this.table.sweep(), this.sweepIntervalMs);
    this.sweeper.unref();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): AppError {
  return new AppError('STORE_UNAVAILABLE', 'the memory tier is closed', { retryable: false });
}
