/**
 * `faasflow bench harvest`, the pure parts: the seeded Poisson schedule (deterministic, mean gap
 * 1/rate, levels within range), the thesis's per-request speedup (paired by request, failures
 * left out), utilisation (used / allocated, weighted by run time) and the command-line options.
 */
import { describe, expect, it } from 'vitest';
import { poissonArrivals, speedups, utilisation } from '../../bench/harvest-analysis.js';
import { harvestOptionsFromFlags } from '../../bench/harvest-flags.js';
import { DEFAULTS } from '../../bench/harvest.js';

describe('poissonArrivals', () => {
  it('replays the same schedule for the same seed, another for another', () => {
    expect(poissonArrivals(20, 2, 5, 1, 5)).toEqual(poissonArrivals(20, 2, 5, 1, 5));
    expect(poissonArrivals(20, 2, 6, 1, 5)).not.toEqual(poissonArrivals(20, 2, 5, 1, 5));
  });

  it('has gaps of mean 1/rate and levels within the range', () => {
    const a = poissonArrivals(5000, 4, 1, 2, 3);
    expect(a[a.length - 1]!.atMs / a.length).toBeGreaterThan(240);
    expect(a[a.length - 1]!.atMs / a.length).toBeLessThan(260);
    for (let i = 1; i < a.length; i++) expect(a[i]!.atMs).toBeGreaterThanOrEqual(a[i - 1]!.atMs);
    expect(a.every((x) => x.sizeLevel >= 2 && x.sizeLevel <= 3)).toBe(true);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => poissonArrivals(1, 0, 1, 1, 2)).toThrow(/rate must be > 0/);
  });
});

describe('speedups', () => {
  it('pairs requests by index, skipping failures on either side', () => {
    expect(speedups([100, 200, null, 50], [50, 200, 10, null])).toEqual({
      count: 2,
      mean: 0.25,
      median: 0.25,
      min: 0,
      max: 0.5,
    });
    expect(speedups([null], [1])).toBeNull();
  });

  it('is negative when harvesting made a request slower', () => {
    expect(speedups([100], [150])?.mean).toBe(-0.5);
  });
});

describe('utilisation', () => {
  it('weights use against allocation by run time, over succeeded steps with figures', () => {
    const u = utilisation([
      {
        status: 'succeeded',
        runMs: 100,
        cpuTimeMs: 100,
        peakMemoryMb: 128,
        allocation: { cpu: 2, memoryMb: 512 },
      },
      {
        status: 'succeeded',
        runMs: 300,
        cpuTimeMs: 150,
        peakMemoryMb: 256,
        allocation: { cpu: 1, memoryMb: 256 },
      },
      {
        status: 'failed',
        runMs: 300,
        cpuTimeMs: 300,
        peakMemoryMb: 1,
        allocation: { cpu: 1, memoryMb: 1 },
      },
      {
        status: 'succeeded',
        runMs: 10,
        cpuTimeMs: null,
        peakMemoryMb: null,
        allocation: { cpu: 1, memoryMb: 1 },
      },
    ]);
    expect(u.cpu).toBeCloseTo(250 / 500);
    expect(u.memory).toBeCloseTo((128 * 100 + 256 * 300) / (512 * 100 + 256 * 300));
    expect(utilisation([])).toEqual({ cpu: null, memory: null });
  });
});

describe('harvestOptionsFromFlags', () => {
  it('defaults to every workload, load, mode and placement', () => {
    expect(harvestOptionsFromFlags({})).toEqual({ options: DEFAULTS });
  });

  it('reads lists, counts and a level range', () => {
    expect(
      harvestOptionsFromFlags({
        workloads: 'ml-pipeline',
        loads: 'low,high',
        profileRuns: '30',
        levels: '2-4',
      }),
    ).toMatchObject({
      options: {
        workloads: ['ml-pipeline'],
        loads: ['low', 'high'],
        profileRuns: 30,
        minLevel: 2,
        maxLevel: 4,
      },
    });
  });

  it('reports every problem at once', () => {
    const r = harvestOptionsFromFlags({
      workloads: 'aes',
      levels: '0-9',
      requests: 'x',
      bogus: '1',
    });
    const error = (r as { error: string }).error;
    for (const part of [
      'unknown option(s) --bogus',
      '--workloads: aes not known',
      '--levels must be a range',
      '--requests must be an integer',
    ])
      expect(error).toContain(part);
  });
});
