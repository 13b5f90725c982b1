import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { THESIS_GRID } from '../../../shared/harvest/types.js';
import { NodeAllocation } from '../../../shared/schema/wire.js';
import {
  harvestDecision,
  maxAllocation,
  profilingDecision,
  wireHarvest,
  type DecisionInput,
} from '../../../shared/harvest/invocation.js';
import { trainModels } from '../../../master/harvest/models.js';
import type { ProfileRecord } from '../../../master/harvest/profile.js';
import { findStages } from '../../../shared/harvest/stages.js';
import { loadWorkflow } from '../../../master/workflow/index.js';

const dag = loadWorkflow(`
name: w
functions:
  split: { code: "export default async (x) => x", cpu: 1, memory: 256 }
  big: { code: "export default async (x) => x", cpu: 2, memory: 512 }
  small: { code: "export default async (x) => x", cpu: 2, memory: 512 }
  each: { code: "export default async (x) => x", cpu: 1, memory: 128 }
flow:
  sequence:
    - task: split
    - parallel: [big, small]
    - foreach: { items: '$', do: { task: each } }
`).dag!;

const input = (max = { cpu: 8, memoryMb: 8192 }): DecisionInput => ({
  workflow: 'w',
  dag,
  plan: findStages(dag),
  dagInputBytes: 50_000,
  max,
});

/** Models trained so that big needs `bigCores` and small 0.5 cores, whatever the input. */
function modelSet(bigCores: number) {
  const records: ProfileRecord[] = [];
  for (let i = 0; i < 20; i++) {
    const dagInputBytes = 10_000 * (i + 1);
    for (const [index, fn, cpu, mem] of [
      [0, 'big', bigCores, 300],
      [1, 'small', 0.5, 100],
    ] as const)
      records.push({
        workflow: 'w',
        version: 1,
        function: fn,
        node: fn,
        invocationId: `inv_${i}`,
        dagInputBytes,
        inputBytes: dagInputBytes / (index + 1),
        stage: 'big+small',
        index,
        width: 2,
        peakCpuCores: cpu,
        peakMemoryMb: mem,
        durationMs: 10,
        allocation: { cpu: 8, memoryMb: 8192 },
        at: i,
      });
  }
  return trainModels(records, { version: 7, trainedAt: 0, seed: 1, trees: 5, holdoutFraction: 0 });
}

const byNode = <T extends { node: string }>(nodes: T[]): Record<string, T> =>
  Object.fromEntries(nodes.map((n) => [n.node, n]));

describe('maxAllocation', () => {
  it('is the largest grid allocation the smallest worker can give', () => {
    expect(maxAllocation([], THESIS_GRID)).toEqual({ cpu: 8, memoryMb: 8192 });
    const workers = [
      { cpu: 16, memoryMb: 64_000 },
      { cpu: 2.5, memoryMb: 1000 },
    ];
    expect(maxAllocation(workers, THESIS_GRID)).toEqual({ cpu: 2, memoryMb: 896 });
    expect(maxAllocation([{ cpu: 0.5, memoryMb: 64 }], THESIS_GRID)).toEqual({
      cpu: 1,
      memoryMb: 128,
    });
    // The default grid keeps the half core and rounds memory to 64 MB steps.
    expect(maxAllocation(workers)).toEqual({ cpu: 2.5, memoryMb: 960 });
    expect(maxAllocation([{ cpu: 0.33, memoryMb: 100 }])).toEqual({ cpu: 0.3, memoryMb: 64 });
  });
});

describe('profilingDecision', () => {
  it('runs every task node outside foreach bodies at the maximum, saying so', () => {
    const d = profilingDecision(input({ cpu: 4, memoryMb: 2048 }));
    expect(d.mode).toBe('profiling');
    expect(d.nodes.map((n) => n.node)).toEqual(['split', 'big', 'small']);
    for (const n of d.nodes) {
      expect(n.applied).toEqual({ cpu: 4, memoryMb: 2048 });
      expect(n.predicted).toBeNull();
      expect(n.reason).toMatchObject({ code: 'profiling' });
    }
    expect(byNode(d.nodes)['split']).toMatchObject({ user: { cpu: 1, memoryMb: 256 } });
    // Siblings of a parallel stage are profiled one at a time unless asked otherwise.
    expect(d.nodes.map((n) => n.serial ?? false)).toEqual([false, true, true]);
    expect(wireHarvest(d)['big']).toMatchObject({ serial: true });
    const together = profilingDecision(input({ cpu: 4, memoryMb: 2048 }), false);
    expect(together.nodes.some((n) => n.serial)).toBe(false);
  });
});

describe('harvestDecision', () => {
  it('without models keeps every user allocation: no-model in parallel stages, not-parallel alone', () => {
    const d = harvestDecision(input(), { set: null, why: 'nothing trained yet' });
    expect(d.modelVersion).toBeNull();
    const n = byNode(d.nodes);
    expect(n['big']).toMatchObject({
      applied: { cpu: 2, memoryMb: 512 },
      predicted: null,
      demand: null,
      reason: { code: 'no-model', message: 'nothing trained yet' },
    });
    expect(n['small']).toMatchObject({ reason: { code: 'no-model' } });
    expect(n['split']).toMatchObject({
      applied: { cpu: 1, memoryMb: 256 },
      reason: { code: 'not-parallel' },
    });
  });

  it('applies the predictions rounded up to the grid when the stage’s users can cover them', () => {
    const d = harvestDecision(input(), { set: modelSet(2.6) }, THESIS_GRID, 'peak');
    expect(d.modelVersion).toBe(7);
    const n = byNode(d.nodes);
    expect(n['big']).toMatchObject({ predicted: { cpu: 3, memoryMb: 384 }, applied: { cpu: 3 } });
    expect(n['big']!.demand!.cpuCores).toBeCloseTo(2.6);
    expect(n['small']).toMatchObject({ predicted: { cpu: 1, memoryMb: 128 }, applied: { cpu: 1 } });
    expect(n['big']).not.toHaveProperty('reason');
  });

  it('scales predictions that exceed the stage’s total down to it, with the reason', () => {
    const d = harvestDecision(input(), { set: modelSet(3.4) }, THESIS_GRID, 'peak');
    const n = byNode(d.nodes);
    expect(n['big']).toMatchObject({
      predicted: { cpu: 4 },
      applied: { cpu: 3 },
      reason: { code: 'scaled', resources: ['cpu'] },
    });
    const sum = d.nodes
      .filter((x) => x.stage === 'big+small')
      .reduce((s, x) => s + x.applied.cpu, 0);
    expect(sum).toBeLessThanOrEqual(4);
  });

  it('never predicts above the smallest worker', () => {
    const d = harvestDecision(
      input({ cpu: 2, memoryMb: 256 }),
      { set: modelSet(2.6) },
      THESIS_GRID,
      'peak',
    );
    expect(byNode(d.nodes)['big']).toMatchObject({ predicted: { cpu: 2, memoryMb: 256 } });
  });
});

describe('wireHarvest', () => {
  it('sends the contract’s fields per node, with the reason as its code', () => {
    const wire = wireHarvest(harvestDecision(input(), { set: null, why: 'x' }));
    expect(Object.keys(wire)).toEqual(['split', 'big', 'small']);
    for (const a of Object.values(wire)) expect(Value.Check(NodeAllocation, a)).toBe(true);
    expect(wire['big']).toEqual({
      stage: 'big+small',
      user: { cpu: 2, memoryMb: 512 },
      predicted: null,
      applied: { cpu: 2, memoryMb: 512 },
      reason: 'no-model',
    });
  });
});
