/**
 * The data dir lock: one master per data dir. LMDB itself lets several processes share an
 * environment, so two masters on one dir would both accept uploads and hand out the same
 * version numbers; the lock makes the second one refuse to start instead.
 *
 * The lock is a file holding the owner's pid, created exclusively (`wx`). A lock whose pid is not
 * alive is stale (the master was killed) and is taken over. A lock naming this very process is
 * ours only if this process holds it now; otherwise it was left by an earlier process that had
 * the same pid (pid 1 in a restarted container) and is stale too.
 *
 * Limit: two masters taking over the same stale lock at the same instant can both succeed;
 * starting masters one at a time avoids it (docs/store.md).
 */
import { openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { AppError } from '../../shared/errors.js';

export const LOCK_FILE = 'master.lock';

/** Lock paths this process holds, so a lock with our own pid can be told from a stale one. */
const held = new Set<string>();

export interface DirLock {
  readonly path: string;
  /** Whether a stale lock (its pid dead) was taken over. */
  readonly tookOver: { pid: number } | null;
  release(): void;
}

export function acquireDirLock(path: string): DirLock {
  let tookOver: { pid: number } | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(
          fd,
          JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() }),
        );
      } finally {
        closeSync(fd);
      }
      held.add(path);
      let released = false;
      return {
        path,
        tookOver,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          try {
            unlinkSync(path);
          } catch {
            // already gone: nothing to release
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(path);
    if (owner !== null && isLive(owner.pid, path))
      throw new AppError(
        'CONFLICT',
        `the data dir is in use by another master (pid ${owner.pid}${owner.host ? ` on ${owner.host}` : ''}; lock file ${path}): stop that master, or give this one another --data-dir; if no master runs there, delete the lock file`,
        { details: { lock: path, pid: owner.pid } },
      );
    tookOver = owner === null ? tookOver : { pid: owner.pid };
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new AppError(
    'CONFLICT',
    `could not take the data dir lock ${path}: another master keeps taking it`,
  );
}

function readOwner(path: string): { pid: number; host?: string } | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; host?: unknown };
    if (typeof parsed.pid !== 'number' || !Number.isInteger(parsed.pid)) return null;
    return typeof parsed.host === 'string'
      ? { pid: parsed.pid, host: parsed.host }
      : { pid: parsed.pid };
  } catch {
    // unreadable or half-written (its writer died mid-write): stale
    return null;
  }
}

function isLive(pid: number, path: string): boolean {
  if (pid === process.pid) return held.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
