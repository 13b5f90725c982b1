/** Demand before an invocation: declared until runs are measured, then the timelines' figures. */
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../../master/workflow/index.js';
import type { StepRecord } from '../../../shared/schema/wire.js';
import {
  MIN_MEASURED,
  declaredBodyDemand,
  declaredFunctionDemand,
  foreachSamples,
  predictDemand,
  taskSamples,
} from '../../../shared/shard/demand.js';
import { estimateSharding } from '../../../shared/shard/estimate.js';

const YAML = `name: d
functions:
  a: { code: "export default async (x) => x", runtime: 30ms, outputBytes: 500, cpu: 2 }
  b: { code: "export default async (x) => x", runtime: 50ms, outputBytes: 200 }
  k: { code: "export default async (x) => x", runtime: 10ms, shard: { key: '$.id', replicas: auto } }
flow:
  sequence:
    - foreach:
        items: '$'
        width: 100
        concurrency: 4
        shard: { size: auto }
        do: { sequence: [a, b] }
    - task: k`;

const step = (o: Partial<StepRecord>): StepRecord => ({
  node: 'n',
  worker: 'w0',
  status: 'succeeded',
  kind: 'task',
  attempts: 1,
  readyAt: 0,
  startedAt: 0,
  finishedAt: 10,
  queueMs: 0,
  cold: false,
  inputBytes: 100,
  outputBytes: 100,
  tier: 'memory',
  ...o,
});

describe('demand prediction', () => {
  it("takes a foreach body's critical path and largest allocation from the declarations", () => {
    const dag = loadWorkflow(YAML).dag!;
    const fe = dag.nodes.find((n) => n.kind === 'foreach')!;
    if (fe.kind !== 'foreach') throw new Error('no foreach');
    const d = declaredBodyDemand(fe.body, dag.functions);
    expect(d).toMatchObject({
      source: 'declared',
      durationPerItemMs: 80,
      cpuCores: 2,
      outputBytesPerItem: 200,
    });
  });

  it('keeps the declared figures until enough runs are measured', () => {
    const declared = declaredFunctionDemand(loadWorkflow(YAML).dag!.functions['k']!);
    const few = taskSamples([step({ runMs: 99 }), step({ runMs: 99 })]);
    expect(few.length).toBeLessThan(MIN_MEASURED);
    expect(predictDemand(declared, few)).toBe(declared);
  });

  it('uses medians of the measured runs, and the p95 as the tail, once there are enough', () => {
    const declared = declaredFunctionDemand(loadWorkflow(YAML).dag!.functions['k']!);
    const runs = [10, 12, 11, 13, 200].map((ms) =>
      step({ runMs: ms, peakCpuCores: 0.5, peakMemoryMb: 90 }),
    );
    const failed = step({ status: 'failed', runMs: 5000 });
    const d = predictDemand(declared, taskSamples([...runs, failed]));
    expect(d).toMatchObject({
      source: 'measured',
      samples: 5,
      durationPerItemMs: 12,
      tailMs: 200,
      cpuCores: 0.5,
      memoryMb: 90,
    });
  });

  it("prefers harvesting's model for CPU and memory when it answers", () => {
    const declared = declaredFunctionDemand(loadWorkflow(YAML).dag!.functions['k']!);
    expect(predictDemand(declared, [], { cpuCores: 0.3, memoryMb: 140 })).toMatchObject({
      source: 'declared',
      cpuCores: 0.3,
      memoryMb: 140,
    });
  });

  it("reads a foreach's per-item duration and bytes from its steps", () => {
    const s = foreachSamples(
      [step({ kind: 'foreach', items: 40, finishedAt: 1000, inputBytes: 4000, outputBytes: 8000 })],
      4,
    );
    expect(s).toEqual([
      {
        durationPerItemMs: 100,
        cpuCores: null,
        memoryMb: null,
        inputBytesPerItem: 100,
        outputBytesPerItem: 200,
      },
    ]);
  });

  it('estimates a workflow that asks for sharding from its declarations alone', () => {
    const e = estimateSharding(loadWorkflow(YAML).dag!, {
      workers: 3,
      slotsPerWorker: 4,
      callsPerSecond: 300,
    });
    expect(e.foreach).toHaveLength(1);
    expect(e.foreach[0]).toMatchObject({ width: 100, size: 'auto' });
    expect(e.foreach[0]!.estimate).toMatchObject({
      shards: 3,
      pays: true,
      demandSource: 'declared',
    });
    // 300 calls/s × 10 ms = 3 busy slots; 4 slots a replica at 70 % → 2 replicas.
    expect(e.keyed).toEqual([expect.objectContaining({ fn: 'k', key: '$.id', startReplicas: 2 })]);
    const one = estimateSharding(loadWorkflow(YAML).dag!, { workers: 1, slotsPerWorker: 4 });
    expect(one.foreach[0]!.estimate.shards).toBe(1);
  });
});
