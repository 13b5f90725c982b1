import { describe, expect, it } from 'vitest';
import type { StepRecord } from '../../../shared/schema/wire.js';
import { profileRecords, type RecordInput } from '../../../master/harvest/recorder.js';
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
const plan = findStages(dag);

function step(node: string, extra: Partial<StepRecord> = {}): StepRecord {
  return {
    node,
    worker: 'w1',
    status: 'succeeded',
    kind: 'task',
    attempts: 1,
    readyAt: 1000,
    startedAt: 1000.4,
    finishedAt: 1100,
    queueMs: 0,
    cold: false,
    inputBytes: 500,
    outputBytes: 10,
    tier: 'inline',
    allocation: { cpu: 2, memoryMb: 512 },
    peakCpuCores: 1.5,
    peakMemoryMb: 200,
    runMs: 90,
    ...extra,
  };
}

const base = (steps: StepRecord[], extra: Partial<RecordInput> = {}): RecordInput => ({
  workflow: 'w',
  version: 3,
  invocationId: 'inv_1',
  dagInputBytes: 4096,
  dag,
  plan,
  steps,
  ...extra,
});

describe('profileRecords', () => {
  it('makes one record per succeeded task run with its stage, index, width and peaks', () => {
    const { records, skipped } = profileRecords(
      base([step('split'), step('big'), step('small', { inputBytes: 100 })]),
    );
    expect(skipped).toEqual({});
    expect(records.map((r) => [r.node, r.stage, r.index, r.width])).toEqual([
      ['split', 'split', 0, 1],
      ['big', 'big+small', 0, 2],
      ['small', 'big+small', 1, 2],
    ]);
    expect(records[2]).toEqual({
      workflow: 'w',
      version: 3,
      function: 'small',
      node: 'small',
      invocationId: 'inv_1',
      dagInputBytes: 4096,
      inputBytes: 100,
      stage: 'big+small',
      index: 1,
      width: 2,
      peakCpuCores: 1.5,
      peakMemoryMb: 200,
      durationMs: 90,
      allocation: { cpu: 2, memoryMb: 512 },
      at: 1000,
    });
  });

  it('counts runs without peaks instead of recording zeros, and ignores repeats and non-tasks', () => {
    const { records, skipped } = profileRecords(
      base([
        step('split', { peakCpuCores: null }),
        step('big', { peakMemoryMb: undefined }),
        step('small'),
        step('small', { inputBytes: 1 }),
        step('foreach', { kind: 'foreach', items: 0 }),
        step('big', { status: 'failed' }),
      ]),
    );
    expect(records.map((r) => r.node)).toEqual(['small']);
    expect(records[0]!.inputBytes).toBe(500);
    expect(skipped).toEqual({ 'no-peaks': 2 });
  });

  it('numbers foreach body instances item-major across the run-time width', () => {
    const { records, skipped } = profileRecords(
      base([
        step('foreach', { kind: 'foreach', items: 3 }),
        step('foreach[0]/each'),
        step('foreach[2]/each'),
        step('foreach[7]/each'),
        step('foreach[1]/inner[0]/each'),
        step('ghost'),
      ]),
    );
    expect(records.map((r) => [r.node, r.stage, r.index, r.width])).toEqual([
      ['foreach/each', 'foreach/each', 0, 3],
      ['foreach/each', 'foreach/each', 2, 3],
    ]);
    expect(skipped).toEqual({ 'not-profiled': 3 });
  });

  it('takes the decision or the user allocation when the step has none', () => {
    const { records } = profileRecords(
      base([step('big', { allocation: undefined }), step('small', { allocation: undefined })], {
        applied: { big: { cpu: 3, memoryMb: 640 } },
      }),
    );
    expect(records.map((r) => r.allocation)).toEqual([
      { cpu: 3, memoryMb: 640 },
      { cpu: 2, memoryMb: 512 },
    ]);
  });

  it('counts a run whose record would be invalid', () => {
    const { records, skipped } = profileRecords(base([step('big', { peakCpuCores: -1 })]));
    expect(records).toEqual([]);
    expect(skipped).toEqual({ invalid: 1 });
  });
});
