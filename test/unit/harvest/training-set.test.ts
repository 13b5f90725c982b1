import { describe, expect, it } from 'vitest';
import type { ProfileRecord } from '../../../master/harvest/profile.js';
import { CENSOR_SHARE, trainingRecords } from '../../../master/harvest/training-set.js';

function rec(fn: string, cpu: number, peak: number): ProfileRecord {
  return {
    workflow: 'w',
    version: 1,
    function: fn,
    node: fn,
    invocationId: `inv_${fn}_${cpu}_${peak}`,
    dagInputBytes: 1,
    inputBytes: 1,
    stage: fn,
    index: 0,
    width: 1,
    peakCpuCores: peak,
    peakMemoryMb: 100,
    durationMs: 1,
    allocation: { cpu, memoryMb: 512 },
    at: 1,
  };
}

describe('trainingRecords', () => {
  it('leaves out runs whose CPU peak hit an allocation below the function’s largest', () => {
    const all = [
      rec('a', 8, 3.9), // profiling run: counts
      rec('a', 2, 2 * CENSOR_SHARE), // capped at a harvested allocation: censored
      rec('a', 2, 1.2), // headroom left: counts
      rec('b', 2, 2), // b never ran bigger: its largest allocation, counts
    ];
    const { records, censored } = trainingRecords(all);
    expect(censored).toBe(1);
    expect(records.map((r) => [r.function, r.allocation.cpu, r.peakCpuCores])).toEqual([
      ['a', 8, 3.9],
      ['a', 2, 1.2],
      ['b', 2, 2],
    ]);
  });

  it('keeps everything when every run had the same allocation', () => {
    const all = [rec('a', 2, 2), rec('a', 2, 1.99), rec('a', 2, 0.1)];
    expect(trainingRecords(all)).toEqual({ records: all, censored: 0, contended: 0 });
  });
});
