/**
 * The other ways to run a cluster, each with real processes and a real Redis:
 * - WorkerSP with Redis: cross-worker objects go through Redis (tier `redis`), and every object
 *   is released when the invocation ends (no key left under the cluster's prefix).
 * - MasterSP (the comparison baseline): every trigger goes through the master and all data
 *   through Redis; results are the same as WorkerSP's.
 * - A worker that dies mid-invocation makes the invocation fail cleanly, naming the worker,
 *   instead of hanging.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { redisUrl, requireRedis, scanKeys, uniquePrefix } from '../helpers/redis.js';

const fixtures = join(repoRoot(), 'test/fixtures/workflows');
const haveRedis = await requireRedis();

describe.skipIf(!haveRedis)('WorkerSP with Redis', () => {
  let cluster: LocalCluster;
  let api: Api;
  const prefix = uniquePrefix('e2e-redis');

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 2,
      redisUrl: redisUrl(),
      workerFlags: () => ['--memory-mb=3072', `--redis-prefix=${prefix}`],
    }));
    await api.deploy(join(fixtures, 'big-payload.yaml'));
    await api.deploy(join(fixtures, 'fanout.yaml'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('moves cross-worker data through Redis and releases it when the invocation ends', async () => {
    const r = await api.invoke('e2e-big', { bytes: 20 * 1024 * 1024 });
    expect(r.status).toBe('succeeded');
    expect(r.output.bytes).toBe(20 * 1024 * 1024);
    const inv = await api.invocation(r.invocationId);
    expect(inv.steps.find((s: { node: string }) => s.node === 'produce').tier).toBe('redis');
    await eventually(async () => (await scanKeys(prefix)).length === 0);
  });

  it('runs a fan-out and join with the same result as without Redis', async () => {
    const r = await api.invoke('e2e-fanout', { base: 1 });
    expect(r.output).toEqual({ total: 8 + 36, count: 8 });
  });
});

describe.skipIf(!haveRedis)('MasterSP baseline', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 2,
      mode: 'master',
      redisUrl: redisUrl(),
      workerFlags: () => [`--redis-prefix=${uniquePrefix('e2e-msp')}`],
    }));
    for (const f of ['sequence', 'fanout', 'switch-join', 'foreach'])
      await api.deploy(join(fixtures, `${f}.yaml`));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('gives the same results as WorkerSP', async () => {
    expect((await api.invoke('e2e-sequence', { n: 1 })).output).toBe(10);
    expect((await api.invoke('e2e-fanout', { base: 100 })).output).toEqual({
      total: 836,
      count: 8,
    });
    expect((await api.invoke('e2e-switch-join', { text: 'bad' })).output).toEqual({
      published: '***',
      via: 'mosaic',
    });
    expect((await api.invoke('e2e-foreach', { count: 10 })).output).toMatchObject({
      n: 10,
      sum: 285,
    });
  });

  it('keeps no data in worker memory: non-inline outputs go to Redis', async () => {
    const r = await api.invoke('e2e-foreach', { count: 2000 });
    const inv = await api.invocation(r.invocationId);
    const make = inv.steps.find((s: { node: string }) => s.node === 'make');
    expect(make.outputBytes).toBeGreaterThan(4096);
    expect(make.tier).toBe('redis');
  });
});

describe('worker failure', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 1,
      env: { FAASFLOW_WORKER_TIMEOUT_MS: '1000', FAASFLOW_HEARTBEAT_MS: '200' },
    }));
    await api.deploy(join(fixtures, 'timeout.yaml'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('fails an invocation whose worker dies mid-run instead of hanging', async () => {
    const pending = api.invoke('e2e-timeout', null, { timeoutMs: 30_000 });
    await eventually(async () => {
      const w = (await api.request('GET', '/v1/workers')).body.workers[0];
      return w.load.running > 0 || w.load.inflight > 0;
    });
    await cluster.kill('worker-1', 'SIGKILL');
    const started = Date.now();
    const r = await pending;
    expect(r.status).toBe('failed');
    expect(r.error.code).toBe('WORKER_UNREACHABLE');
    expect(r.error.message).toContain('w1');
    expect(Date.now() - started).toBeLessThan(25_000);
  });
});
