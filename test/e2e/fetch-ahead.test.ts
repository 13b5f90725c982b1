/**
 * Data present before its consumer runs (docs/guides/chains.md), on a master and 2 workers as
 * processes with Redis: a join whose fast parent runs on the other worker reads that parent's
 * output as soon as its edge arrives, while its slow parent still runs — its step counts the
 * input as `prefetched`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

const fixture = join(repoRoot(), 'test/fixtures/workflows/fetch-ahead.yaml');

describe('a join reads its remote inputs while it waits', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 2,
      workerFlags: () => ['--memory-mb=512'],
    }));
    await api.deploy(fixture);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('has the fast parent output on its worker before the slow parent is done', async () => {
    const r = await api.invoke('e2e-fetch-ahead', null);
    expect(r.status, JSON.stringify(r)).toBe('succeeded');
    expect(r.output).toEqual({ fast: 200_000, slow: 400_000 });
    const inv = await eventually(async () => {
      const i = await api.invocation(r.invocationId);
      return i.steps?.length === 3 && i;
    });
    const by = Object.fromEntries(inv.steps.map((s: any) => [s.node, s]));
    // The parents ran apart; the join sits with the slow one.
    expect(by.fast.worker).not.toBe(by.slow.worker);
    expect(by.join.worker).toBe(by.slow.worker);
    expect(by.join.prefetched).toBe(1);
    // Ready when the slow parent finished, ~0.7 s after the fast one: its read was done by then.
    expect(by.join.readyAt).toBeGreaterThanOrEqual(by.slow.finishedAt);
  }, 60_000);
});
