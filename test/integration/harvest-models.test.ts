/**
 * Harvesting's service against a real Redis (unique key prefix, cleaned up afterwards): from
 * finished invocations to profile records, background training, persisted model sets and the
 * decisions made with them.
 *
 * Scenarios:
 * - a finished invocation's task runs become profile records in Redis; runs the workers could
 *   not measure are counted, not recorded;
 * - `retrainEvery` new records train a model set in the background; later invocations are
 *   decided with it (predictions, applied allocations within the stage's total);
 * - a restarted master loads the set lazily (decisions fall back with `no-model` until it is
 *   in), and the next training continues the version sequence;
 * - a training requested while one over the same records runs gets that one's result;
 * - training on demand with too few records is a CONFLICT naming the count;
 * - the thread trainer trains in a worker thread (the event loop keeps turning meanwhile) and
 *   gives the same models as training inline;
 * - closing the service cancels queued trainings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import type { StepRecord } from '../../shared/schema/wire.js';
import { Harvester, MIN_PROFILES_TO_TRAIN } from '../../master/harvest/harvester.js';
import type { ProfileRecord } from '../../master/harvest/profile.js';
import { createRedisHarvestStore } from '../../master/harvest/redis-store.js';
import { MemoryHarvestStore } from '../../master/harvest/store.js';
import { MemoryMasterStore } from '../../master/store/memory.js';
import { inlineTrainer, threadTrainer } from '../../master/harvest/trainer.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import type { WorkflowVersion } from '../../master/workflow/catalog.js';
import { loadWorkflow } from '../../master/workflow/index.js';
import { repoRoot } from '../../bench/paths.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import { THESIS_GRID } from '../../shared/harvest/types.js';

const redisUp = await requireRedis();
const prefix = uniquePrefix('harvest-models');
const open: Harvester[] = [];

afterAll(async () => {
  for (const h of open) await h.close();
  if (redisUp) await deletePrefix(prefix);
});

const dag = loadWorkflow(`
name: skewed
functions:
  split: { code: "export default async (x) => x", cpu: 1, memory: 256 }
  big: { code: "export default async (x) => x", cpu: 2, memory: 512 }
  small: { code: "export default async (x) => x", cpu: 2, memory: 512 }
flow:
  sequence:
    - task: split
    - parallel: [big, small]
`).dag!;
const version = { name: 'skewed', version: 1, dag } as unknown as WorkflowVersion;
const CAPACITY = [{ cpu: 8, memoryMb: 16384 }];

async function harvester(retrainEvery = 1000, trainer = inlineTrainer()): Promise<Harvester> {
  const store = await createRedisHarvestStore(redisUrl(), { prefix, profileLimit: 10_000 });
  // The thesis's grid and peak rule: the expectations below are its whole cores.
  const h = new Harvester({
    store,
    trainer,
    logger: silentLogger,
    retrainEvery,
    trainLimit: 2000,
    grid: THESIS_GRID,
    cpuPolicy: 'peak',
  });
  open.push(h);
  return h;
}

function step(node: string, dagBytes: number, peaks = true): StepRecord {
  const cpu = node === 'big' ? 2.6 : 0.5;
  return {
    node,
    worker: 'w1',
    status: 'succeeded',
    kind: 'task',
    attempts: 1,
    readyAt: 1,
    startedAt: 1,
    finishedAt: 2,
    queueMs: 0,
    cold: false,
    inputBytes: node === 'big' ? dagBytes : Math.round(dagBytes / 4),
    outputBytes: 1,
    tier: 'inline',
    allocation: { cpu: 8, memoryMb: 8192 },
    peakCpuCores: peaks ? cpu : null,
    peakMemoryMb: peaks ? 200 : null,
    runMs: 1,
  };
}

let invocations = 0;
/** A profiling invocation of `skewed` that finished, as the manager hands it over. */
function finish(h: Harvester, dagBytes: number, peaks = true): void {
  const { decision } = h.decide(version, { dagInputBytes: dagBytes, profile: true }, CAPACITY);
  const r = {
    id: `inv_${++invocations}`,
    harvest: decision,
    steps: ['split', 'big', 'small'].map((n) => step(n, dagBytes, peaks)),
  } as unknown as InvocationRecord;
  h.finished(r, version);
}

async function until<T>(f: () => Promise<T | null | undefined | false>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!redisUp)('harvester', () => {
  it('records finished invocations, trains after retrainEvery records and decides with it', async () => {
    const h = await harvester(45);
    await h.ready('skewed');
    finish(h, 50_000, false);
    for (let i = 0; i < 15; i++) finish(h, 10_000 * (i + 1));
    const view = await until(async () => {
      const v = await h.view('skewed');
      return v.current?.version === 1 && v;
    }, 'the background training');
    expect(view.profiles).toMatchObject({ stored: 45, appended: 45, skipped: { 'no-peaks': 3 } });
    expect(view.current).toMatchObject({ records: 45, excluded: 0, ml1: 2, ml2: 3 });
    expect(view.current!.evaluation!.testInvocations).toBe(3);

    const { decision, ctx } = h.decide(
      version,
      { dagInputBytes: 60_000, profile: false },
      CAPACITY,
    );
    expect(decision.modelVersion).toBe(1);
    const big = decision.nodes.find((n) => n.node === 'big')!;
    const small = decision.nodes.find((n) => n.node === 'small')!;
    expect(big.predicted).toEqual({ cpu: 3, memoryMb: 256 });
    expect(small.predicted).toEqual({ cpu: 1, memoryMb: 256 });
    expect(big.applied.cpu + small.applied.cpu).toBeLessThanOrEqual(4);
    expect(ctx['big']).toMatchObject({ stage: 'big+small', applied: big.applied });
    expect(ctx['split']).toMatchObject({ reason: 'not-parallel' });
  });

  it('loads the model set lazily after a restart and continues the version sequence', async () => {
    const h = await harvester();
    const before = h.decide(version, { dagInputBytes: 60_000, profile: false }, CAPACITY);
    expect(before.decision.modelVersion).toBeNull();
    expect(before.decision.nodes.find((n) => n.node === 'big')!.reason).toMatchObject({
      code: 'no-model',
      message: expect.stringContaining('loading'),
    });
    await h.ready('skewed');
    const after = h.decide(version, { dagInputBytes: 60_000, profile: false }, CAPACITY);
    expect(after.decision.modelVersion).toBe(1);
    const trained = await h.train('skewed');
    expect(trained.version).toBe(2);
    expect(
      h.decide(version, { dagInputBytes: 1, profile: false }, CAPACITY).decision.modelVersion,
    ).toBe(2);
    const view = await h.view('skewed');
    expect(view.history.map((x) => x.version)).toEqual([2, 1]);
  });

  it('answers a training request made while the same records train with that training', async () => {
    const h = await harvester();
    const [a, b] = await Promise.all([h.train('skewed'), h.train('skewed')]);
    expect(b.version).toBe(a.version);
    const history = await h.store.modelHistory('skewed', 10);
    expect(history[0]!.version).toBe(a.version);
    expect(history[1]!.version).toBe(a.version - 1);
  });

  it('answers a training request with too few records with CONFLICT and the count', async () => {
    const h = await harvester();
    const few: ProfileRecord[] = [];
    await expect(h.train('empty')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(
        `0 usable profile records; training needs at least ${MIN_PROFILES_TO_TRAIN}`,
      ),
    });
    await expect(h.importProfiles('empty', few)).resolves.toMatchObject({ stored: 0 });
  });

  it('trains in a worker thread while the event loop keeps turning, as inline would', async () => {
    const script = join(repoRoot(), 'dist', 'master', 'harvest', 'train-thread.js');
    expect(existsSync(script), `${script} is missing: run npm run build first`).toBe(true);
    const h = await harvester(1000, threadTrainer(pathToFileURL(script)));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const s = await h.train('skewed');
    clearInterval(timer);
    expect(s.version).toBe(4);
    expect(ticks).toBeGreaterThan(0);
    const viaThread = (await h.store.loadModelSet('skewed'))!;
    const records = await h.store.recentProfiles('skewed', 2000);
    const inline = await inlineTrainer()(
      { records, options: { version: 4, trainedAt: s.trainedAt, seed: 1, grid: THESIS_GRID } },
      new AbortController().signal,
    );
    expect(gunzipSync(viaThread.gzipped).toString()).toBe(gunzipSync(inline.gzipped).toString());
  });

  it('cancels queued trainings when closed', async () => {
    const h = await harvester();
    const first = h.train('skewed').catch((e: unknown) => e);
    const second = h.train('other').catch((e: unknown) => e);
    await h.close();
    expect(await second).toMatchObject({ code: 'CANCELLED' });
    // The running one is cancelled too, unless it finished first.
    const f = (await first) as { code?: string; version?: number };
    expect(f.code === 'CANCELLED' || typeof f.version === 'number').toBe(true);
    await expect(h.train('skewed')).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});

describe('harvester retrain counters', () => {
  it('keeps the records-since-training count across a restart, so retraining comes on time', async () => {
    // Profiles and models live in harvesting's store; the count lives in the master's store.
    const profiles = new MemoryHarvestStore(10_000);
    const master = new MemoryMasterStore();
    const start = async (): Promise<Harvester> => {
      const initial = ((await master.getValue('counts')) ?? {}) as Record<string, number>;
      const h = new Harvester({
        store: profiles,
        trainer: inlineTrainer(),
        logger: silentLogger,
        retrainEvery: 45,
        trainLimit: 2000,
        counters: { initial, save: (c) => master.setValue('counts', c) },
      });
      open.push(h);
      await h.ready('skewed');
      return h;
    };
    const first = await start();
    for (let i = 0; i < 8; i++) finish(first, 10_000 * (i + 1));
    await until(async () => {
      const saved = (await master.getValue('counts')) as Record<string, number> | undefined;
      return saved?.['skewed'] === 24;
    }, 'the saved count');
    expect((await first.view('skewed')).current).toBeNull();

    // The "restarted" master: 21 more records make 45 since the last (no) training.
    const second = await start();
    expect((await second.view('skewed')).training.newRecords).toBe(24);
    for (let i = 8; i < 15; i++) finish(second, 10_000 * (i + 1));
    const view = await until(async () => {
      const v = await second.view('skewed');
      return v.current?.version === 1 && v;
    }, 'the background training');
    expect(view.current).toMatchObject({ records: 45 });
    await until(async () => {
      const saved = (await master.getValue('counts')) as Record<string, number> | undefined;
      return saved?.['skewed'] === 0;
    }, 'the count reset by the training');
  });
});
