/**
 * `faasflow bench faasflow`, the pure parts: FaaSFlow's figures from a timeline (critical path
 * by function time, scheduling and data overhead, remote bytes, cross-worker edges; foreach
 * items; incomplete timelines) and the command-line options (defaults, every rejection at once).
 */
import { describe, expect, it } from 'vitest';
import {
  invocationFigures,
  readBenchSteps,
  type BenchStep,
} from '../../bench/faasflow-analysis.js';
import {
  DEFAULTS,
  HOSTS_SIZE_SCALE,
  faasflowOptionsFromFlags,
} from '../../bench/faasflow-flags.js';

const step = (node: string, worker: string, more: Partial<BenchStep> = {}): BenchStep => ({
  node,
  worker,
  status: 'succeeded',
  tier: 'memory',
  outputBytes: 10,
  runMs: 0,
  getMs: 0,
  putMs: 0,
  ...more,
});

describe('invocationFigures', () => {
  // a → {b, c} → d: the critical path is a, c, d (10 + 30 + 5), not a, b, d (10 + 20 + 5).
  const nodes = ['a', 'b', 'c', 'd'];
  const edges = [
    { from: 'a', to: 'b' },
    { from: 'a', to: 'c' },
    { from: 'b', to: 'd' },
    { from: 'c', to: 'd' },
  ];

  it('takes the path with the largest Σ function time, and the rest of e2e as scheduling', () => {
    const f = invocationFigures(60, nodes, edges, [
      step('a', 'w1', { runMs: 10, putMs: 0.5, tier: 'redis', outputBytes: 1000 }),
      step('b', 'w1', { runMs: 20, getMs: 0.25 }),
      step('c', 'w2', { runMs: 30, getMs: 1 }),
      step('d', 'w1', { runMs: 5, getMs: 0.25, putMs: 0.5 }),
    ]);
    expect(f).toEqual({
      e2eMs: 60,
      criticalPathMs: 45,
      schedulingMs: 15,
      dataMs: 2.5,
      remoteBytes: 1000,
      crossWorkerEdges: 2,
      workers: 2,
    });
  });

  it('gives skipped nodes no function time and a foreach its slowest item', () => {
    const f = invocationFigures(100, nodes, edges, [
      step('a', 'w1', { runMs: 10 }),
      step('b', 'w1', { status: 'skipped', runMs: undefined }),
      step('c', 'w1', { runMs: undefined }),
      step('c[0]/x', 'w1', { runMs: 7 }),
      step('c[0]/y', 'w1', { runMs: 8 }),
      step('c[1]/x', 'w1', { runMs: 40 }),
      step('d', 'w1', { runMs: 5 }),
    ]);
    expect(f?.criticalPathMs).toBe(55);
    expect(f?.crossWorkerEdges).toBe(0);
  });

  it('is null while a top-level node has no step yet', () => {
    expect(invocationFigures(1, nodes, edges, [step('a', 'w1'), step('b', 'w1')])).toBeNull();
  });

  it('reads steps from the master view and says what is wrong with a bad one', () => {
    expect(readBenchSteps({ steps: [step('a', 'w1')] })).toEqual({ steps: [step('a', 'w1')] });
    expect(readBenchSteps({})).toEqual({ problem: 'the invocation view has no steps[]' });
    expect(readBenchSteps({ steps: [{ node: 'a' }] })).toMatchObject({
      problem: expect.stringMatching(/^steps\[0\]/),
    });
  });
});

describe('faasflowOptionsFromFlags', () => {
  it('defaults to all eight benchmarks, both modes, co-run, locally', () => {
    expect(faasflowOptionsFromFlags({})).toEqual({ options: DEFAULTS });
    expect(DEFAULTS.benchmarks).toHaveLength(8);
  });

  it('reads camel-cased CLI flags and shrinks sizes across hosts', () => {
    const r = faasflowOptionsFromFlags({
      hosts: '3',
      bandwidth: '25mbit|50mbit,100mbit',
      benchmarks: 'genome,cycles',
      modes: 'worker',
      noCorun: true,
      scale: '0.1',
    });
    expect(r).toMatchObject({
      options: {
        hosts: 3,
        bandwidths: ['25mbit', '50mbit', '100mbit'],
        benchmarks: ['genome', 'cycles'],
        modes: ['worker'],
        corun: false,
        runtimeScale: 0.1,
        sizeScale: HOSTS_SIZE_SCALE,
      },
    });
    expect(faasflowOptionsFromFlags({ hosts: '2', sizeScale: '1' })).toMatchObject({
      options: { sizeScale: 1 },
    });
  });

  it('reports every problem at once, naming the flag and what is valid', () => {
    const r = faasflowOptionsFromFlags({
      bandwidth: 'fast',
      scale: '2',
      runtime: 'vm',
      benchmarks: 'genome,montage',
      repetitions: '0',
      bogus: true,
    });
    expect('error' in r).toBe(true);
    const error = (r as { error: string }).error;
    for (const part of [
      'unknown option(s) --bogus',
      '--bandwidth: fast is not a rate',
      '--bandwidth needs --hosts N',
      '--runtime must be process or docker, got vm',
      '--scale must be a number in (0, 1], got 2',
      '--benchmarks: montage not known; valid: cycles',
      '--repetitions must be an integer ≥ 1, got 0',
    ])
      expect(error).toContain(part);
  });
});
