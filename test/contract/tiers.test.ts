/**
 * Runs the tier contract (tier.contract.ts) against every tier: memory, disk (spill files in a
 * temporary directory) and Redis (a unique key prefix per tier, this file's prefix removed
 * afterwards).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { DiskTier, MemoryTier, createRedisTier } from '../../faastore/index.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import { describeTierContract } from './tier.contract.js';

describeTierContract('memory', () => Promise.resolve(new MemoryTier({ sweepIntervalMs: 50 })));

describe('disk', () => {
  let parent = '';
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'ff-disk-contract-'));
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });
  describeTierContract('disk', () => DiskTier.create({ dir: parent, sweepIntervalMs: 50 }));
});

const redisUp = await requireRedis();

describe.skipIf(!redisUp)('redis', () => {
  const prefix = uniquePrefix('tiers');
  let n = 0;
  afterAll(async () => {
    await deletePrefix(prefix);
  });
  describeTierContract('redis', () => createRedisTier(redisUrl(), { prefix: `${prefix}${n++}:` }));
});
