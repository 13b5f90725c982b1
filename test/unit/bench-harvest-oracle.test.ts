/**
 * The harvest benchmark's oracle: how its allocations are derived — a profiling run's measured
 * steps become each node's stated demand (oracleDemand), and the master's `given` decision shares
 * each stage's users' CPU by that measured work, capped at the measured peak, as it would a
 * prediction.
 */
import { describe, expect, it } from 'vitest';
import { oracleDemand, oracleKey, type OracleStep } from '../../bench/harvest-oracle.js';
import { setupOf } from '../../bench/harvest.js';
import { givenDecision, type DecisionInput } from '../../shared/harvest/invocation.js';
import { findStages } from '../../shared/harvest/stages.js';
import { loadWorkflow } from '../../master/workflow/index.js';

// The first-principles case: four siblings at 0.5 core, work 4 : 1 : 1 : 1.
const dag = loadWorkflow(`
name: skew
functions:
  split: { code: "export default async (x) => x", cpu: 0.5, memory: 256 }
  big: { code: "export default async (x) => x", cpu: 0.5, memory: 256 }
  s1: { code: "export default async (x) => x", cpu: 0.5, memory: 256 }
  s2: { code: "export default async (x) => x", cpu: 0.5, memory: 256 }
  s3: { code: "export default async (x) => x", cpu: 0.5, memory: 256 }
flow:
  sequence:
    - task: split
    - parallel: [big, s1, s2, s3]
`).dag!;

const input: DecisionInput = {
  workflow: 'skew',
  dag,
  plan: findStages(dag),
  dagInputBytes: 1000,
  max: { cpu: 2, memoryMb: 4096 },
};

const measured = (node: string, cpuTimeMs: number, peakCpuCores = 2): OracleStep => ({
  node,
  kind: 'task',
  status: 'succeeded',
  cpuTimeMs,
  peakCpuCores,
  peakMemoryMb: 100,
});

const cpuOf = (d: ReturnType<typeof givenDecision>): Record<string, number> =>
  Object.fromEntries(d.nodes.map((n) => [n.node, n.applied.cpu]));

describe('oracleDemand', () => {
  it('takes each measured task node’s CPU time, peak cores and peak memory', () => {
    expect(oracleDemand([measured('big', 4000, 1.9), measured('s1', 1000)])).toEqual({
      big: { cpuCores: 1.9, memoryMb: 100, cpuTimeMs: 4000 },
      s1: { cpuCores: 2, memoryMb: 100, cpuTimeMs: 1000 },
    });
  });

  it('leaves out what was not measured, not a task, not succeeded, or inside a foreach body', () => {
    expect(
      oracleDemand([
        { ...measured('a', 10), peakCpuCores: null },
        { ...measured('b', 10), peakMemoryMb: undefined },
        { ...measured('c', 10), kind: 'pass' },
        { ...measured('d', 10), status: 'failed' },
        measured('each[0]/work', 10),
        { ...measured('e', 10), peakCpuCores: Number.NaN },
      ]),
    ).toEqual({});
    // No CPU time measured (or none spent): the demand has peaks but no work to share by.
    expect(oracleDemand([{ ...measured('f', 0) }])).toEqual({
      f: { cpuCores: 2, memoryMb: 100 },
    });
  });

  it('keys a request by its workload, seed and size (the same input, the same work)', () => {
    expect(oracleKey('parallel-aes', { seed: 3, sizeLevel: 2 })).toBe('parallel-aes:3:2');
    expect(oracleKey('parallel-aes', { seed: 3, sizeLevel: 2 })).not.toBe(
      oracleKey('parallel-aes', { seed: 3, sizeLevel: 3 }),
    );
  });
});

describe('the oracle’s allocations (given demand through the master’s decision)', () => {
  it('shares the stage’s 2 cores in proportion to the measured work 4 : 1 : 1 : 1', () => {
    const demand = oracleDemand([
      measured('split', 50),
      measured('big', 4000),
      measured('s1', 1000),
      measured('s2', 1000),
      measured('s3', 1000),
    ]);
    const d = givenDecision(input, demand);
    expect(d.mode).toBe('given');
    expect(d.modelVersion).toBeNull();
    // 40 steps of 0.05 core by work: 22.9 : 5.7 : 5.7 : 5.7, rounded to whole steps.
    expect(cpuOf(d)).toEqual({ split: 0.5, big: 1.1, s1: 0.3, s2: 0.3, s3: 0.3 });
    const stage = d.nodes.filter((n) => n.node !== 'split');
    expect(stage.reduce((s, n) => s + n.applied.cpu, 0)).toBeCloseTo(2, 9);
    for (const n of stage) {
      expect(n.reason?.code).toBe('work-shared');
      expect(n.workCpuMs).toBe(demand[n.node]!.cpuTimeMs);
      // Memory follows the measured peak, rounded up to the 64 MB grid, within the users' total.
      expect(n.applied.memoryMb).toBe(128);
    }
    // The lone split is not harvested whatever its demand.
    expect(d.nodes.find((n) => n.node === 'split')!.reason?.code).toBe('not-parallel');
    // Every sibling finishes near the same time: work ÷ cores, 3.6 s for big, 3.3 s for the rest
    // (8 s for big at the users' 0.5 core).
    for (const n of stage) expect(demand[n.node]!.cpuTimeMs! / n.applied.cpu).toBeLessThan(3700);
  });

  it('caps a sibling at the peak it was measured using, and gives the rest to the others', () => {
    const d = givenDecision(
      input,
      oracleDemand([
        measured('big', 4000, 0.8),
        measured('s1', 1000),
        measured('s2', 1000),
        measured('s3', 1000),
      ]),
    );
    expect(cpuOf(d)).toMatchObject({ big: 0.8, s1: 0.4, s2: 0.4, s3: 0.4 });
  });

  it('keeps the user’s allocation for a node whose demand is unknown', () => {
    const d = givenDecision(
      input,
      oracleDemand([measured('big', 4000), measured('s1', 1000), measured('s2', 1000)]),
    );
    const s3 = d.nodes.find((n) => n.node === 's3')!;
    expect(s3.applied).toEqual({ cpu: 0.5, memoryMb: 256 });
    expect(s3.reason?.code).toBe('no-prediction');
    // The others share only their own users' 1.5 cores.
    expect(cpuOf(d)['big']! + cpuOf(d)['s1']! + cpuOf(d)['s2']!).toBeCloseTo(1.5, 9);
  });

  it('runs as predict-rebalance does, on a cluster of its own', () => {
    expect(setupOf('oracle', 2)).toMatchObject({
      harvest: true,
      rebalance: true,
      policy: 'work',
      freeze: true,
      oracle: true,
    });
  });
});
