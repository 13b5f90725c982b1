/**
 * The spill tier: objects over the memory quota, when no Redis is configured, go to files in a
 * directory of their own (`<dir>/spill-<pid>-<random>`), removed whole on `close`. Spill
 * directories left by processes that no longer run are removed on `create`.
 *
 * Every put writes a new file and swaps the index entry only once the write is complete, so a
 * reader sees either the old object or the new one, never a partial file; the replaced file is
 * unlinked after the swap.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../shared/errors.js';
import { EntryTable, type Entry } from './entries.js';
import type { ObjectTier } from './store.js';

export interface DiskTierOptions {
  /** Parent directory; created if missing. */
  dir: string;
  /** How often expired files are removed. Default 1000 ms. */
  sweepIntervalMs?: number;
}

const SPILL_DIR_RE = /^spill-(\d+)-/;

export class DiskTier implements ObjectTier {
  readonly kind = 'disk' as const;
  private readonly table = new EntryTable<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private fileSeq = 0;
  private closed = false;

  private constructor(
    /** This instance's own directory. */
    readonly dir: string,
    private readonly sweepIntervalMs: number,
  ) {}

  static async create(options: DiskTierOptions): Promise<DiskTier> {
    try {
      await mkdir(options.dir, { recursive: true });
      await removeAbandonedSpillDirs(options.dir);
      const dir = await mkdtemp(join(options.dir, `spill-${process.pid}-`));
      return new DiskTier(dir, options.sweepIntervalMs ?? 1000);
    } catch (err) {
      throw new AppError(
        'STORE_UNAVAILABLE',
        `cannot create the spill directory under ${options.dir}: ${messageOf(err)}; ` +
          'set spillDir to a writable directory',
        { cause: err, retryable: false, details: { dir: options.dir } },
      );
    }
  }

  get usedBytes(): number {
    return this.table.usedBytes;
  }

  get objectCount(): number {
    return this.table.count;
  }

  has(key: string): boolean {
    return this.table.get(key) !== undefined;
  }

  async put(key: string, value: Buffer, ttlMs: number, group?: string): Promise<void> {
    this.assertOpen();
    this.fileSeq += 1;
    const file = join(this.dir, `${this.fileSeq}.obj`);
    try {
      await writeFile(file, value);
    } catch (err) {
      await unlinkQuietly(file);
      throw new AppError(
        'STORE_UNAVAILABLE',
        `cannot write spill file ${file}: ${messageOf(err)}`,
        {
          cause: err,
          details: { key, file, sizeBytes: value.length },
        },
      );
    }
    if (this.closed) {
      await unlinkQuietly(file);
      throw closedError();
    }
    const previous = this.table.set(key, file, value.length, ttlMs, group);
    this.startSweeper();
    if (previous !== undefined) await unlinkQuietly(previous.value);
  }

  async getBuffer(key: string): Promise<Buffer> {
    this.assertOpen();
    const entry = this.table.get(key);
    if (entry !== undefined) {
      try {
        return await readFile(entry.value);
      } catch (err) {
        // Deleted or replaced while reading: the object is gone (or has a newer file).
        if (!isNotFound(err)) {
          throw new AppError(
            'STORE_UNAVAILABLE',
            `cannot read spill file ${entry.value}: ${messageOf(err)}`,
            {
              cause: err,
              details: { key, file: entry.value },
            },
          );
        }
        const newer = this.table.get(key);
        if (newer !== undefined && newer !== entry) return this.getBuffer(key);
      }
    }
    throw new AppError('OBJECT_NOT_FOUND', `object ${key} is not in this worker's spill files`, {
      details: { key, tier: 'disk' },
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.assertOpen();
    const removed: Entry<string>[] = [];
    for (const key of keys) {
      const entry = this.table.remove(key);
      if (entry !== undefined) removed.push(entry);
    }
    await unlinkAll(removed);
  }

  async releaseGroup(group: string): Promise<number> {
    this.assertOpen();
    const removed = this.table.removeGroup(group);
    await unlinkAll(removed);
    return removed.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.table.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => {
      void unlinkAll(this.table.sweep());
    }, this.sweepIntervalMs);
    this.sweeper.unref();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError();
  }
}

async function removeAbandonedSpillDirs(parent: string): Promise<void> {
  for (const name of await readdir(parent)) {
    const pid = Number(SPILL_DIR_RE.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) {
      await rm(join(parent, name), { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Never rejects: a file that cannot be removed now goes with the directory on close. */
async function unlinkAll(entries: readonly Entry<string>[]): Promise<void> {
  await Promise.all(entries.map((entry) => unlinkQuietly(entry.value)));
}

async function unlinkQuietly(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch {
    // Already gone, or the directory was removed by close.
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function closedError(): AppError {
  return new AppError('STORE_UNAVAILABLE', 'the spill tier is closed', { retryable: false });
}
