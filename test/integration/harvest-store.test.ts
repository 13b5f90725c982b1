/**
 * Harvesting's store contract, run against the Redis backend (real Redis, a unique key prefix,
 * cleaned up afterwards) and the in-memory twin the layers above are tested with.
 *
 * Scenarios:
 * - profile appends keep order, trim to the newest `profileLimit`, count what was appended and
 *   why runs gave no record; pages and the newest N read back exactly what went in;
 * - model-set versions only grow; the current set and its summary round-trip byte for byte; the
 *   history is newest first and capped;
 * - (Redis) every key lives under `<prefix>h:`, a second store on the same prefix — a restarted
 *   master — sees everything, and an unreachable Redis fails fast with STORE_UNAVAILABLE naming
 *   the URL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.js';
import type { ProfileRecord } from '../../master/harvest/profile.js';
import { createRedisHarvestStore } from '../../master/harvest/redis-store.js';
import {
  MemoryHarvestStore,
  MODEL_HISTORY,
  type HarvestStore,
  type ModelSummary,
} from '../../master/harvest/store.js';
import { deletePrefix, redisUrl, requireRedis, scanKeys, uniquePrefix } from '../helpers/redis.js';

const redisUp = await requireRedis();
const prefix = uniquePrefix('harvest-store');
const LIMIT = 25;
const stores: HarvestStore[] = [];

afterAll(async () => {
  for (const s of stores) await s.close();
  if (redisUp) await deletePrefix(prefix);
});

function record(workflow: string, i: number): ProfileRecord {
  return {
    workflow,
    version: 1,
    function: i % 2 === 0 ? 'a' : 'b',
    node: i % 2 === 0 ? 'a' : 'b',
    invocationId: `inv_${i}`,
    dagInputBytes: 1000 + i,
    inputBytes: 500 + i,
    stage: 'a+b',
    index: i % 2,
    width: 2,
    peakCpuCores: 0.25 * i,
    peakMemoryMb: 100 + i,
    durationMs: 12.5,
    allocation: { cpu: 2, memoryMb: 512 },
    at: 1_700_000_000_000 + i,
  };
}

function summary(version: number): ModelSummary {
  return {
    version,
    trainedAt: 1_700_000_000_000 + version,
    records: 40,
    excluded: 1,
    trainRecords: 31,
    testRecords: 8,
    ml1: 1,
    ml2: 2,
    skipped: [],
    evaluation: null,
    trainMs: 12,
    sizeBytes: 3,
  };
}

const backends: [string, () => Promise<HarvestStore>][] = [
  ['memory', () => Promise.resolve(new MemoryHarvestStore(LIMIT))],
];
if (redisUp)
  backends.push([
    'redis',
    () => createRedisHarvestStore(redisUrl(), { prefix, profileLimit: LIMIT }),
  ]);

describe.each(backends)('%s harvest store', (kind, create) => {
  const wf = `wf-${kind}`;

  it('appends in order, trims to the newest profileLimit and counts every append', async () => {
    const s = await create();
    stores.push(s);
    const all = Array.from({ length: 40 }, (_, i) => record(wf, i));
    await s.appendProfiles(wf, all.slice(0, 10), { 'no-peaks': 3 });
    await s.appendProfiles(wf, all.slice(10), { 'no-peaks': 1, invalid: 2 });
    await s.appendProfiles(wf, [], {});
    expect(await s.profileStats(wf)).toEqual({
      stored: LIMIT,
      appended: 40,
      skipped: { 'no-peaks': 4, invalid: 2 },
    });
    expect(await s.readProfiles(wf, 0, 100)).toEqual(all.slice(15));
    expect(await s.readProfiles(wf, 5, 3)).toEqual(all.slice(20, 23));
    expect(await s.recentProfiles(wf, 4)).toEqual(all.slice(36));
    expect(await s.readProfiles('other', 0, 10)).toEqual([]);
    expect(await s.profileStats('other')).toEqual({ stored: 0, appended: 0, skipped: {} });
  });

  it('hands out growing versions and keeps the current model set and a capped history', async () => {
    const s = await create();
    stores.push(s);
    expect(await s.loadModelSet(wf)).toBeNull();
    const versions = [
      await s.nextModelVersion(wf),
      await s.nextModelVersion(wf),
      await s.nextModelVersion(wf),
    ];
    expect(versions).toEqual([1, 2, 3]);
    expect(await s.nextModelVersion('another')).toBe(1);
    const blob = Buffer.from([0x1f, 0x8b, 0, 255, 7]);
    for (let v = 1; v <= MODEL_HISTORY + 2; v++)
      await s.saveModelSet(wf, v === MODEL_HISTORY + 2 ? blob : Buffer.from([v]), summary(v));
    const loaded = await s.loadModelSet(wf);
    expect(loaded?.gzipped.equals(blob)).toBe(true);
    expect(loaded?.summary).toEqual(summary(MODEL_HISTORY + 2));
    const history = await s.modelHistory(wf, 100);
    expect(history).toHaveLength(MODEL_HISTORY);
    expect(history.slice(0, 2).map((h) => h.version)).toEqual([
      MODEL_HISTORY + 2,
      MODEL_HISTORY + 1,
    ]);
    expect(await s.modelHistory(wf, 1)).toEqual([summary(MODEL_HISTORY + 2)]);
  });
});

describe.skipIf(!redisUp)('redis harvest store', () => {
  it('keeps every key under <prefix>h: and shows a restarted master everything', async () => {
    const a = await createRedisHarvestStore(redisUrl(), { prefix, profileLimit: LIMIT });
    stores.push(a);
    await a.appendProfiles('restart', [record('restart', 1)]);
    await a.saveModelSet('restart', Buffer.from('x'), summary(await a.nextModelVersion('restart')));
    await a.close();
    const b = await createRedisHarvestStore(redisUrl(), { prefix, profileLimit: LIMIT });
    stores.push(b);
    expect(await b.recentProfiles('restart', 10)).toEqual([record('restart', 1)]);
    expect((await b.loadModelSet('restart'))?.summary.version).toBe(1);
    expect(await b.nextModelVersion('restart')).toBe(2);
    const keys = await scanKeys(prefix);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.startsWith(`${prefix}h:`)).toBe(true);
  });

  it('fails fast with STORE_UNAVAILABLE naming the URL when Redis is unreachable', async () => {
    let err: unknown;
    try {
      await createRedisHarvestStore('redis://:secret@127.0.0.1:1', {
        profileLimit: 10,
        connectTimeoutMs: 500,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((err as AppError).message).toContain('127.0.0.1:1');
    expect((err as AppError).message).not.toContain('secret');
  });

  it('fails a command on a closed store with STORE_UNAVAILABLE', async () => {
    const s = await createRedisHarvestStore(redisUrl(), { prefix, profileLimit: LIMIT });
    await s.close();
    await s.close();
    await expect(s.profileStats('x')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});
