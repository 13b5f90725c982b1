/**
 * Execution tiers end to end, with a master and 2 workers as real processes. Scenarios: one
 * workflow whose steps run in a thread (the workflow default), the trusted tier, a process child
 * and a thread that crashes on its first attempt — each handler sees the same ctx, the crash is
 * retried on a fresh thread, the worker survives, and the timeline names each step's tier; a
 * thread stuck in a synchronous loop and a trusted handler that never settles both end as
 * FUNCTION_TIMEOUT, and the worker keeps serving afterwards.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { startCluster, type Api } from '../helpers/cluster.js';

const fixtures = join(repoRoot(), 'test/fixtures/workflows');
let cluster: LocalCluster;
let api: Api;

beforeAll(async () => {
  ({ cluster, api } = await startCluster({ workers: 2 }));
  await api.deploy(join(fixtures, 'tiers-mixed.yaml'));
  await api.deploy(join(fixtures, 'tiers-timeouts.yaml'));
});

afterAll(async () => {
  await cluster?.stop();
});

interface Trail {
  node: string;
  attempt: number;
  mainThread: boolean;
  runtimeServer: boolean;
  workflowInput: unknown;
  invocationId: string;
  deadlineInFuture: boolean;
}

describe('execution tiers', () => {
  it('runs one workflow across thread, trusted and process, with the same ctx in each', async () => {
    const r = await api.invoke('e2e-tiers', { seed: 7 });
    expect(r.status).toBe('succeeded');
    const { trail, survivedOnAttempt } = r.output as { trail: Trail[]; survivedOnAttempt: number };
    expect(survivedOnAttempt).toBe(2);
    expect(trail.map((t) => [t.node, t.mainThread, t.runtimeServer])).toEqual([
      ['where', false, false], // a worker thread
      ['inproc', true, false], // the worker's own loop
      ['child', true, true], // a runtime server child process
    ]);
    for (const t of trail) {
      expect(t).toMatchObject({
        attempt: 1,
        workflowInput: { seed: 7 },
        invocationId: r.invocationId,
        deadlineInFuture: true,
      });
    }
    const inv = await api.invocation(r.invocationId);
    const byNode = Object.fromEntries(
      inv.steps.map((s: { node: string }) => [s.node, s]),
    ) as Record<string, { isolation: string; attempts: number; cold: boolean; cpuTimeMs: unknown }>;
    expect(byNode['where']?.isolation).toBe('thread');
    expect(byNode['inproc']?.isolation).toBe('trusted');
    expect(byNode['child']?.isolation).toBe('process');
    expect(byNode['phoenix']).toMatchObject({ isolation: 'thread', attempts: 2 });
    // Unmeasurable is null, not 0: no cgroup and no CPU clock of its own in the trusted tier.
    expect(byNode['inproc']).toMatchObject({ cpuTimeMs: null, peakMemoryMb: null });
    expect(typeof byNode['where']?.cpuTimeMs).toBe('number');
    // Warm the second time, in every tier.
    const again = await api.invoke('e2e-tiers', { seed: 8 });
    expect(again.status).toBe('succeeded');
    const steps = (await api.invocation(again.invocationId)).steps as {
      node: string;
      cold: boolean;
    }[];
    for (const node of ['where', 'inproc', 'child']) {
      expect(steps.find((s) => s.node === node)?.cold).toBe(false);
    }
  });

  it('times out a thread stuck in a synchronous loop and a trusted handler that never settles', async () => {
    for (const tier of ['thread', 'trusted']) {
      const r = await api.invoke('e2e-tiers-timeouts', { tier });
      expect(r.status).toBe('failed');
      expect(r.error.code).toBe('FUNCTION_TIMEOUT');
      expect(r.error.message).toContain(tier === 'thread' ? 'stuck' : 'hangs');
    }
    const after = await api.invoke('e2e-tiers', { seed: 9 });
    expect(after.status).toBe('succeeded');
  });
});
