/**
 * Runs the master store contract (master-store.contract.ts) against memory, lmdb (a fresh data
 * dir per store under one temporary folder, removed afterwards) and Redis (a fresh prefix per
 * store under this file's prefix, removed afterwards); then the lmdb data dir lock: a second
 * open of a dir in use is refused naming the owner, a stale lock is taken over, and the dir is
 * created private (0700).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { LmdbMasterStore } from '../../master/store/lmdb.js';
import { MemoryMasterStore } from '../../master/store/memory.js';
import { RedisMasterStore } from '../../master/store/redis.js';
import type { MasterStore } from '../../master/store/types.js';
import { deletePrefix, redisUrl, requireRedis, scanKeys, uniquePrefix } from '../helpers/redis.js';
import { describeMasterStoreContract, version } from './master-store.contract.js';

describeMasterStoreContract('memory', { fresh: () => Promise.resolve(new MemoryMasterStore()) });

let parent = '';
let dirs = 0;
const nextDir = (): string => join(parent, `d${dirs++}`);
const openLmdb = (dataDir: string): LmdbMasterStore =>
  LmdbMasterStore.open({ dataDir, sync: 'commit', logger: silentLogger });

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'ff-master-store-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('lmdb', () => {
  describeMasterStoreContract('lmdb', {
    fresh: () => Promise.resolve(openLmdb(nextDir())),
    reopen: (s) => Promise.resolve(openLmdb((s as LmdbMasterStore).dataDir)),
  });
  describeMasterStoreContract('lmdb (sync flush)', {
    fresh: () =>
      Promise.resolve(
        LmdbMasterStore.open({ dataDir: nextDir(), sync: 'flush', logger: silentLogger }),
      ),
  });
});

describe('lmdb data dir lock', () => {
  it('refuses a second open of a data dir in use, naming the owner and the way out', async () => {
    const dir = nextDir();
    const first = openLmdb(dir);
    try {
      expect(() => openLmdb(dir)).toThrow(
        expect.objectContaining({
          code: 'CONFLICT',
          message: expect.stringMatching(
            new RegExp(`in use by another master \\(pid ${process.pid}.*master\\.lock.*--data-dir`),
          ),
        }),
      );
      // The refused open did not disturb the owner.
      await first.putVersion(version('wf', 1));
    } finally {
      await first.close();
    }
    const again = openLmdb(dir);
    expect((await again.loadCatalog()).versions).toHaveLength(1);
    await again.close();
  });

  it('refuses a data dir another live process holds', async () => {
    const dir = nextDir();
    await openLmdb(dir).close();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
      stdio: 'ignore',
    });
    try {
      await writeFile(join(dir, 'master.lock'), JSON.stringify({ pid: child.pid }));
      expect(() => openLmdb(dir)).toThrow(new RegExp(`pid ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes over a lock whose process is gone, and one left by an earlier holder of our pid', async () => {
    const dir = nextDir();
    await openLmdb(dir).close();
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const dead = child.pid!;
    await new Promise((r) => child.once('exit', r));
    await writeFile(join(dir, 'master.lock'), JSON.stringify({ pid: dead }));
    const s = openLmdb(dir);
    await s.putVersion(version('wf', 1));
    await s.close();
    // A restarted container runs the master as pid 1 again: its own pid in a lock it does not
    // hold is a lock left by the previous run.
    await writeFile(join(dir, 'master.lock'), JSON.stringify({ pid: process.pid }));
    const t = openLmdb(dir);
    expect((await t.loadCatalog()).versions).toHaveLength(1);
    await t.close();
  });

  it('refuses a data dir that is not a folder, saying which option to change', async () => {
    const file = join(parent, 'not-a-dir');
    await writeFile(file, 'x');
    expect(() => openLmdb(join(file, 'sub'))).toThrow(
      expect.objectContaining({
        code: 'STORE_UNAVAILABLE',
        message: expect.stringMatching(/cannot use the data dir .*not-a-dir.*--data-dir DIR/),
      }),
    );
  });

  it('creates the data dir readable by its owner only', async () => {
    const dir = join(nextDir(), 'nested');
    const s = openLmdb(dir);
    await s.close();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });
});

const redisUp = await requireRedis();

describe.skipIf(!redisUp)('redis', () => {
  const prefix = uniquePrefix('master-store');
  const prefixes = new Map<MasterStore, string>();
  let n = 0;
  const openRedis = async (p: string): Promise<MasterStore> => {
    const s = await RedisMasterStore.open({ url: redisUrl(), prefix: p, logger: silentLogger });
    prefixes.set(s, p);
    return s;
  };
  afterAll(async () => {
    await deletePrefix(prefix);
  });
  describeMasterStoreContract('redis', {
    fresh: () => openRedis(`${prefix}${n++}:`),
    reopen: (s) => openRedis(prefixes.get(s)!),
  });

  it('keeps its keys under <prefix>m: and names the prefix in its description', async () => {
    const p = `${prefix}desc:`;
    const s = await openRedis(p);
    try {
      expect(s.description).toContain(`prefix ${p}m:`);
      await s.putVersion(version('wf', 1));
      const keys = await scanKeys(p);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.every((k) => k.startsWith(`${p}m:`))).toBe(true);
    } finally {
      await s.close();
    }
  });
});
