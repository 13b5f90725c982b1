import { describe, expect, it } from 'vitest';
import { overheadOptionsFromFlags, SMOKE } from '../../bench/overhead-flags.js';
import {
  buildRows,
  formatRows,
  GOALS_MS,
  missedGoals,
  type RowInputs,
  type WorkflowRun,
} from '../../bench/overhead-rows.js';
import {
  addTimeline,
  analyzeTimeline,
  emptySamples,
  readSteps,
  summarizeTimeline,
  type TimelineStep,
} from '../../bench/overhead-timeline.js';

// Epoch ms as the workers send them: at this magnitude a double resolves ~0.25 µs, hence 3 digits.
const T0 = 1_700_000_000_000;

function step(
  node: string,
  worker: string,
  readyAt: number,
  startedAt: number,
  finishedAt: number,
  status = 'succeeded',
): TimelineStep {
  return {
    node,
    worker,
    status,
    readyAt: T0 + readyAt,
    startedAt: T0 + startedAt,
    finishedAt: T0 + finishedAt,
  };
}

describe('analyzeTimeline', () => {
  it('measures trigger delivery and engine time of each edge, local or remote by worker', () => {
    const t = analyzeTimeline(
      ['a', 'b', 'c'],
      [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
      [
        step('a', 'w1', 0, 0.01, 0.3),
        step('b', 'w1', 0.33, 0.35, 0.6),
        step('c', 'w2', 1.0, 1.1, 1.4),
      ],
    );
    expect(t).not.toBeNull();
    const [ab, bc] = t!.edges;
    expect(ab).toMatchObject({ from: 'a', to: 'b', kind: 'local' });
    expect(ab!.triggerMs).toBeCloseTo(0.03, 3);
    expect(ab!.edgeEngineMs).toBeCloseTo(0.05, 3);
    expect(bc).toMatchObject({ from: 'b', to: 'c', kind: 'remote' });
    expect(bc!.triggerMs).toBeCloseTo(0.4, 3);
    expect(bc!.edgeEngineMs).toBeCloseTo(0.5, 3);
    expect(t!.spanMs).toBeCloseTo(1.4, 3);
    expect(t!.workers).toBe(2);
    expect(t!.nodes.find((n) => n.node === 'b')).toMatchObject({ node: 'b' });
    expect(t!.nodes.find((n) => n.node === 'b')!.execMs).toBeCloseTo(0.25, 3);
    expect(t!.nodes.find((n) => n.node === 'b')!.preRunMs).toBeCloseTo(0.02, 3);
  });

  it('counts only the last-finishing parent of a join, whose trigger made it ready', () => {
    const t = analyzeTimeline(
      ['p1', 'p2', 'join'],
      [
        { from: 'p1', to: 'join' },
        { from: 'p2', to: 'join' },
      ],
      [
        step('p1', 'w1', 0, 0, 0.2),
        step('p2', 'w1', 0, 0, 0.9),
        step('join', 'w1', 0.95, 0.97, 1.2),
      ],
    );
    expect(t!.edges).toHaveLength(1);
    expect(t!.edges[0]).toMatchObject({ from: 'p2', to: 'join', kind: 'local' });
    expect(t!.edges[0]!.triggerMs).toBeCloseTo(0.05, 3);
  });

  it('gives null when a node has no step or did not succeed', () => {
    const edges = [{ from: 'a', to: 'b' }];
    expect(analyzeTimeline(['a', 'b'], edges, [step('a', 'w1', 0, 0, 1)])).toBeNull();
    expect(
      analyzeTimeline(['a', 'b'], edges, [
        step('a', 'w1', 0, 0, 1),
        step('b', 'w1', 1, 1, 2, 'failed'),
      ]),
    ).toBeNull();
  });
});

describe('samples over many invocations', () => {
  it('files edges by kind, counts unusable timelines and keeps the widest worker spread', () => {
    const samples = emptySamples();
    const edges = [{ from: 'a', to: 'b' }];
    addTimeline(
      samples,
      analyzeTimeline(['a', 'b'], edges, [step('a', 'w1', 0, 0, 1), step('b', 'w1', 1.1, 1.2, 2)]),
    );
    addTimeline(
      samples,
      analyzeTimeline(['a', 'b'], edges, [step('a', 'w1', 0, 0, 1), step('b', 'w2', 1.5, 1.6, 2)]),
    );
    addTimeline(samples, null);
    expect(samples.invocations).toBe(3);
    expect(samples.unusable).toBe(1);
    expect(samples.localTriggerMs).toHaveLength(1);
    expect(samples.remoteTriggerMs).toHaveLength(1);
    expect(samples.preRunMs).toHaveLength(4);
    expect(samples.maxWorkers).toBe(2);
    const summary = summarizeTimeline(samples);
    expect(summary.remoteTriggerMs!.p50Ms).toBeCloseTo(0.5, 3);
    expect(summary.spanMs!.count).toBe(2);
  });
});

describe('readSteps', () => {
  it('accepts the master timeline shape and ignores extra fields', () => {
    const view = {
      steps: [{ ...step('a', 'w1', 0, 0, 1), queueMs: 0, cold: false, tier: 'inline' }],
    };
    const read = readSteps(view);
    expect('steps' in read && read.steps).toHaveLength(1);
  });

  it('names the step and field that is not a timeline step', () => {
    const read = readSteps({
      steps: [step('a', 'w1', 0, 0, 1), { ...step('b', 'w1', 1, 1, 2), readyAt: 'soon' }],
    });
    expect(read).toEqual({
      problem: 'steps[1] is not a timeline step (/readyAt: Expected number)',
    });
    expect(readSteps({})).toEqual({ problem: 'the invocation answer has no steps[] array' });
  });
});

function run(name: string, clientMs: number[], timeline = emptySamples()): WorkflowRun {
  return { name, groups: 1, clientMs, masterMs: clientMs.map(Math.round), timeline };
}

function inputs(chain5ClientMs: number[]): RowInputs {
  const local = emptySamples();
  local.localEdgeEngineMs.push(0.04, 0.045, 0.2);
  local.localTriggerMs.push(0.02, 0.03, 0.1);
  return {
    floorCallMs: [0.1, 0.12, 0.3],
    workflows: {
      localChain: run('bench-chain-2-local', [1, 1.1], local),
      remoteChain: run('bench-chain-2-remote', [1.5]),
      chain5: run('bench-chain-5', chain5ClientMs),
      fanout: run('bench-fanout-8-join', [1.4, 1.45, 1.6]),
    },
    throughput: {
      concurrency: 32,
      elapsedMs: 5_000,
      completed: 6_000,
      invocationsPerSec: 1_200,
      clientMs: [20, 25],
      failed: 0,
    },
  };
}

describe('overhead rows and goals', () => {
  it('judges goals on p50 and reports an unmeasured goal as missed, not met', () => {
    const rows = buildRows(inputs([1.0, 1.3, 1.35]));
    const byMetric = new Map(rows.map((r) => [r.metric, r]));
    expect(byMetric.get('local edge: engine time')).toMatchObject({
      kind: 'latency',
      p50Ms: 0.045,
      goalP50Ms: GOALS_MS.localEdge,
      met: true,
    });
    expect(byMetric.get('chain of 5: client')).toMatchObject({ p50Ms: 1.3, met: false });
    expect(byMetric.get('fan-out 8 + join: client')).toMatchObject({ p50Ms: 1.45, met: true });
    expect(byMetric.get('remote edge: engine time')).toMatchObject({
      p50Ms: null,
      samples: 0,
      met: false,
    });
    expect(missedGoals(rows)).toEqual([
      'remote edge: engine time (not measured)',
      'chain of 5: client (p50 1.30 ms > 1.20 ms)',
    ]);
  });

  it('subtracts the sandbox floor p50 from node exec times', () => {
    const i = inputs([1]);
    i.workflows.chain5.timeline.execMs.push(0.3, 0.32, 0.5);
    const row = buildRows(i).find((r) => r.metric === 'node: exec − sandbox floor');
    expect(row).toMatchObject({ kind: 'latency' });
    expect(row!.kind === 'latency' && row!.p50Ms).toBeCloseTo(0.2, 3);
  });

  it('prints one table line per row under a header, throughput as a rate', () => {
    const rows = buildRows(inputs([1]));
    const lines = formatRows(rows);
    expect(lines).toHaveLength(rows.length + 2);
    expect(lines[0]).toMatch(/^metric\s+p50\s+p99\s+n\s+goal\s+met\?\s+notes$/);
    expect(lines.find((l) => l.startsWith('no-op invocations/s'))).toMatch(/1200\/s/);
    expect(lines.find((l) => l.startsWith('chain of 5: client'))).toMatch(/≤ 1\.20 ms\s+yes/);
  });
});

describe('bench overhead flags', () => {
  it('reads counts, seconds, master and output folder', () => {
    expect(
      overheadOptionsFromFlags({
        iterations: '100',
        warmup: '0',
        concurrency: '4',
        seconds: '2',
        master: 'http://127.0.0.1:8080/',
        out: '/tmp/x',
      }),
    ).toEqual({
      options: {
        iterations: 100,
        warmup: 0,
        concurrency: 4,
        throughputMs: 2_000,
        masterUrl: 'http://127.0.0.1:8080',
        reportDir: '/tmp/x',
      },
    });
  });

  it('starts from the smoke sizes with --smoke and lets explicit flags override them', () => {
    expect(overheadOptionsFromFlags({ smoke: true })).toEqual({ options: SMOKE });
    expect(overheadOptionsFromFlags({ smoke: true, iterations: '5' })).toEqual({
      options: { ...SMOKE, iterations: 5 },
    });
  });

  it('reports every bad flag at once, saying what would be valid', () => {
    const r = overheadOptionsFromFlags({
      iterations: '0',
      concurrency: 'many',
      master: 'localhost:8080',
      bogus: true,
    });
    expect(r).toEqual({
      error: expect.stringMatching(/^unknown option\(s\) --bogus; .*; --iterations must be/),
    });
    const bad = overheadOptionsFromFlags({
      iterations: '0',
      concurrency: 'many',
      master: 'localhost:8080',
    });
    expect('error' in bad && bad.error).toBe(
      '--iterations must be an integer ≥ 1, got 0; --concurrency must be an integer ≥ 1, got many; --master must be an http(s) URL, got localhost:8080',
    );
    expect(overheadOptionsFromFlags({ iterations: true })).toEqual({
      error: '--iterations must be an integer ≥ 1, got true',
    });
  });
});
