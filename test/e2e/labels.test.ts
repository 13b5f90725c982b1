/**
 * Placement near what a chain uses, on a master and 2 workers as processes: one worker carries
 * `--labels near=db,zone=eu-1`, and a function declaring `uses: [near=db]` runs there on every
 * invocation; `GET /v1/workers` shows each worker's labels.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

describe('worker labels and uses:', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 2,
      // 512 MB each: the two 384 MB functions cannot share a worker, so the groups are apart.
      workerFlags: (i) => ['--memory-mb=512', ...(i === 1 ? ['--labels=near=db,zone=eu-1'] : [])],
    }));
    await api.deploy(join(repoRoot(), 'test/fixtures/workflows/near-db.yaml'));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs the function that uses near=db on the worker labelled so, every time', async () => {
    const workers = (await api.request('GET', '/v1/workers')).body.workers as {
      id: string;
      labels: Record<string, string>;
    }[];
    const near = workers.find((w) => w.labels['near'] === 'db');
    expect(near?.labels).toEqual({ near: 'db', zone: 'eu-1' });
    expect(workers.filter((w) => Object.keys(w.labels).length === 0)).toHaveLength(1);
    for (let i = 0; i < 6; i++) {
      const r = await api.invoke('e2e-near-db', { n: i });
      expect(r).toMatchObject({ status: 'succeeded', output: { total: 2 * i } });
      const inv = await eventually(async () => {
        const x = await api.invocation(r.invocationId);
        return x.steps?.length === 2 && x;
      });
      const query = inv.steps.find((s: { node: string }) => s.node.includes('query'));
      expect(query.worker).toBe(near!.id);
    }
  }, 60_000);
});
