/**
 * The bookkeeping shared by the process-local tiers (memory, disk): entries with a size, an
 * expiry and an optional tracking group, and an exact running total of their bytes.
 *
 * Invariants: `usedBytes` is the sum of `sizeBytes` over the entries held; a group names only
 * keys whose current entry was put with that group. Expired entries stay counted (their bytes
 * are still held) until `sweep` removes them, but `get` no longer returns them.
 */

export interface Entry<T> {
  value: T;
  sizeBytes: number;
  expiresAtMs: number;
  group: string | undefined;
}

export class EntryTable<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly groups = new Map<string, Set<string>>();
  private bytes = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  get usedBytes(): number {
    return this.bytes;
  }

  get count(): number {
    return this.entries.size;
  }

  /** The live entry for `key`, or undefined when absent or expired. */
  get(key: string): Entry<T> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAtMs <= this.nowMs()) return undefined;
    return entry;
  }

  /** Bytes `key` holds now, expired or not (what replacing it would free). */
  heldBytes(key: string): number {
    return this.entries.get(key)?.sizeBytes ?? 0;
  }

  /** Inserts or replaces; returns the replaced entry so its owner can free what it held. */
  set(
    key: string,
    value: T,
    sizeBytes: number,
    ttlMs: number,
    group?: string,
  ): Entry<T> | undefined {
    const previous = this.remove(key);
    this.entries.set(key, { value, sizeBytes, expiresAtMs: this.nowMs() + ttlMs, group });
    this.bytes += sizeBytes;
    if (group !== undefined) {
      let keys = this.groups.get(group);
      if (keys === undefined) {
        keys = new Set();
        this.groups.set(group, keys);
      }
      keys.add(key);
    }
    return previous;
  }

  remove(key: string): Entry<T> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.bytes -= entry.sizeBytes;
    if (entry.group !== undefined) {
      const keys = this.groups.get(entry.group);
      keys?.delete(key);
      if (keys?.size === 0) this.groups.delete(entry.group);
    }
    return entry;
  }

  /** Removes every entry tracked in `group`. */
  removeGroup(group: string): Entry<T>[] {
    const keys = this.groups.get(group);
    if (keys === undefined) return [];
    const removed: Entry<T>[] = [];
    for (const key of [...keys]) {
      const entry = this.remove(key);
      if (entry !== undefined) removed.push(entry);
    }
    this.groups.delete(group);
    return removed;
  }

  /** Removes and returns the entries whose TTL has passed. */
  sweep(): Entry<T>[] {
    const now = this.nowMs();
    const expired: Entry<T>[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.expiresAtMs <= now) {
        this.remove(key);
        expired.push(entry);
      }
    }
    return expired;
  }

  clear(): Entry<T>[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    this.groups.clear();
    this.bytes = 0;
    return all;
  }
}
