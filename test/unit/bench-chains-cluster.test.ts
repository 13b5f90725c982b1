/**
 * `bench chains`: exactly one of --sim and --cluster, the cluster flags checked with what
 * would be valid, and the cluster part's count of cold starts on an invocation's realised
 * critical path (the chain of last-finishing parents), where waiting more than half a cold start
 * for a sandbox counts as cold and a source's cold start is told apart.
 */
import { describe, expect, it } from 'vitest';
import { chainsOptionsFromFlags } from '../../bench/chains.js';
import { criticalColds } from '../../bench/chains-cluster.js';
import { criticalGetMs } from '../../bench/chains-data.js';
import type { StepRecord } from '../../shared/schema/wire.js';

const step = (
  node: string,
  startedAt: number,
  finishedAt: number,
  extra: Partial<StepRecord> = {},
) =>
  ({
    node,
    kind: 'task',
    status: 'succeeded',
    worker: 'w1',
    attempts: 1,
    readyAt: startedAt,
    startedAt,
    finishedAt,
    queueMs: 0,
    cold: false,
    ...extra,
  }) as StepRecord;

describe('bench chains flags', () => {
  it('takes one of --sim and --cluster', () => {
    expect(chainsOptionsFromFlags({})).toMatchObject({
      error: expect.stringMatching(/--sim.*--cluster/),
    });
    expect(chainsOptionsFromFlags({ sim: true, cluster: true })).toHaveProperty('error');
    const c = chainsOptionsFromFlags({
      cluster: true,
      rounds: '12',
      runtime: 'docker',
      idleMs: '900',
    });
    expect(c).toMatchObject({
      options: { cluster: true, rounds: 12, runtime: 'docker', clusterIdleMs: 900 },
    });
  });

  it('takes --data with its hosts, rate and repetitions', () => {
    expect(
      chainsOptionsFromFlags({ data: true, hosts: '3', bandwidth: '50mbit', repetitions: '4' }),
    ).toMatchObject({ options: { data: true, hosts: 3, bandwidth: '50mbit', repetitions: 4 } });
    expect(chainsOptionsFromFlags({ data: true, bandwidth: 'fast' })).toMatchObject({
      error: expect.stringContaining('--bandwidth must be a rate like 25mbit'),
    });
    expect(chainsOptionsFromFlags({ data: true, cluster: true })).toHaveProperty('error');
  });

  it('names what would be valid', () => {
    expect(chainsOptionsFromFlags({ cluster: true, runtime: 'vm' })).toMatchObject({
      error: expect.stringContaining('--runtime must be process or docker, got vm'),
    });
    expect(chainsOptionsFromFlags({ cluster: true, rounds: '1' })).toHaveProperty('error');
  });
});

describe('criticalColds', () => {
  // a → b → d and a → c → d; c finishes last, so the critical path is a, c, d.
  const shape = {
    edges: [
      { from: 'a', to: 'b' },
      { from: 'a', to: 'c' },
      { from: 'b', to: 'd' },
      { from: 'c', to: 'd' },
    ],
  } as never;

  it('counts the cold steps along the chain of last-finishing parents', () => {
    const steps = [
      step('a', 0, 10, { cold: true }),
      step('b', 10, 20, { cold: true }), // off the critical path
      step('c', 10, 50, { cold: true }),
      step('d', 50, 60),
    ];
    expect(criticalColds(shape, steps, 70)).toEqual({ all: 2, afterSource: 1 });
  });

  it('counts a long wait for a sandbox as cold, a short one not', () => {
    const steps = [
      step('a', 0, 10),
      step('b', 10, 20),
      step('c', 10, 50, { queueMs: 60, prepared: true }),
      step('d', 50, 60, { queueMs: 20 }),
    ];
    expect(criticalColds(shape, steps, 70)).toEqual({ all: 1, afterSource: 1 });
  });
});

describe('criticalGetMs', () => {
  it('sums the input reads along the chain of last-finishing parents', () => {
    const shape = {
      edges: [
        { from: 'a', to: 'c' },
        { from: 'b', to: 'c' },
      ],
    } as never;
    const steps = [
      step('a', 0, 10, { getMs: 1 }),
      step('b', 0, 30, { getMs: 2 }), // finishes last of c's parents
      step('c', 30, 40, { getMs: 5 }),
    ];
    expect(criticalGetMs(shape, steps)).toBe(7);
  });
});
