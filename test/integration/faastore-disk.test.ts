/**
 * The spill tier's own files (beyond the tier contract), in a temporary directory.
 *
 * Scenarios:
 * - close removes the instance's spill directory and every file in it;
 * - create removes spill directories left by processes that no longer run, and keeps those of
 *   live processes;
 * - byte accounting follows puts, replacements, deletes and group releases exactly;
 * - an unwritable spill directory is STORE_UNAVAILABLE naming the directory.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskTier } from '../../faastore/index.js';
import { expectAppError } from '../contract/tier.contract.js';

/** Linux pids never exceed 2^22, so this one is never alive. */
const DEAD_PID = 2 ** 22 + 1;

let parent = '';
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'ff-disk-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

describe('disk tier files', () => {
  it('removes its spill directory and files on close', async () => {
    const tier = await DiskTier.create({ dir: parent });
    await tier.put('a', Buffer.alloc(1000, 1), 60_000);
    expect(await readdir(tier.dir)).toHaveLength(1);
    await tier.close();
    await expect(stat(tier.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes spill directories of dead processes and keeps those of live ones', async () => {
    const dir = join(parent, 'abandoned');
    const dead = join(dir, `spill-${DEAD_PID}-abc`);
    const live = join(dir, `spill-${process.ppid}-def`);
    const unrelated = join(dir, 'not-a-spill-dir');
    for (const d of [dead, live, unrelated]) await mkdir(d, { recursive: true });
    await writeFile(join(dead, '1.obj'), 'old');
    const tier = await DiskTier.create({ dir });
    try {
      const names = await readdir(dir);
      expect(names).not.toContain(`spill-${DEAD_PID}-abc`);
      expect(names).toContain(`spill-${process.ppid}-def`);
      expect(names).toContain('not-a-spill-dir');
    } finally {
      await tier.close();
    }
  });

  it('accounts bytes exactly through replace, delete and release', async () => {
    const tier = await DiskTier.create({ dir: parent });
    try {
      await tier.put('a', Buffer.alloc(100), 60_000, 'g');
      await tier.put('b', Buffer.alloc(50), 60_000, 'g');
      await tier.put('c', Buffer.alloc(7), 60_000);
      expect(tier.usedBytes).toBe(157);
      await tier.put('a', Buffer.alloc(10), 60_000, 'g');
      expect(tier.usedBytes).toBe(67);
      await tier.delete(['c']);
      expect(tier.usedBytes).toBe(60);
      await tier.releaseGroup('g');
      expect({ bytes: tier.usedBytes, objects: tier.objectCount }).toEqual({
        bytes: 0,
        objects: 0,
      });
      expect(await readdir(tier.dir)).toEqual([]);
    } finally {
      await tier.close();
    }
  });

  it('reports an unusable spill directory as STORE_UNAVAILABLE naming it', async () => {
    const file = join(parent, 'a-file');
    await writeFile(file, 'x');
    const err = await expectAppError(
      DiskTier.create({ dir: join(file, 'sub') }),
      'STORE_UNAVAILABLE',
    );
    expect(err.message).toContain(join(file, 'sub'));
    expect(err.message).toContain('spillDir');
  });
});
