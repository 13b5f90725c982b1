/**
 * `faasflow bench harvest`, the pure parts: the seeded Poisson schedule (deterministic, mean gap
 * 1/rate, levels within range), the thesis's per-request speedup (paired by request, failures
 * left out), utilisation (used / allocated, weighted by run time) and the command-line options.
 */
import { describe, expect, it } from 'vitest';
import {
  bootstrapMeanCi,
  capacityUtilisation,
  meanByRequest,
  busyShare,
  mixCpuMs,
  parseCpuTicks,
  stageCeiling,
  pairedSpeedups,
  poissonArrivals,
  speedups,
  stageSpanMs,
  utilisation,
} from '../../bench/harvest-analysis.js';
import { harvestOptionsFromFlags } from '../../bench/harvest-flags.js';
import { DEFAULTS, setupOf, withCpu } from '../../bench/harvest.js';

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

describe('mixCpuMs', () => {
  const profile = [
    { sizeLevel: 1, cpuMs: 100 },
    { sizeLevel: 3, cpuMs: 400 },
    { sizeLevel: 2, cpuMs: 200 },
  ];
  it('interpolates each request geometrically between the profiled levels around it', () => {
    expect(mixCpuMs(profile, [2])).toBeCloseTo(200);
    expect(mixCpuMs(profile, [1.5])).toBeCloseTo(Math.sqrt(100 * 200));
    expect(mixCpuMs(profile, [1, 3])).toBeCloseTo(250);
  });
  it('clamps requests outside the profiled range to its ends', () => {
    expect(mixCpuMs(profile, [0.5, 4])).toBeCloseTo(250);
  });
  it('is null without a run that measured CPU, or without requests', () => {
    expect(mixCpuMs([{ sizeLevel: 1, cpuMs: 0 }], [1])).toBeNull();
    expect(mixCpuMs(profile, [])).toBeNull();
  });
});

describe('stageCeiling', () => {
  it("is the issue's first-principles cut: 4:1:1:1 at 0.5 core takes 3.5 units, not 8", () => {
    const w = (cpuMs: number) => ({ cpuMs, userCores: 0.5 });
    expect(stageCeiling([w(4000), w(1000), w(1000), w(1000)])).toBeCloseTo(1 - 3.5 / 8);
  });
  it('is 0 when the work already follows the allocations, and null without two siblings', () => {
    expect(
      stageCeiling([
        { cpuMs: 200, userCores: 1 },
        { cpuMs: 100, userCores: 0.5 },
      ]),
    ).toBeCloseTo(0);
    expect(stageCeiling([{ cpuMs: 200, userCores: 1 }])).toBeNull();
    expect(
      stageCeiling([
        { cpuMs: 200, userCores: 1 },
        { cpuMs: 0, userCores: 1 },
      ]),
    ).toBeNull();
  });
});

describe('busyShare', () => {
  it("reads /proc/stat's cpu line and counts idle and iowait as not busy", () => {
    const before = parseCpuTicks('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4');
    const after = parseCpuTicks('cpu  200 0 100 1500 100 0 0 0 0 0\n');
    expect(before).toEqual({ busy: 150, total: 1000 });
    expect(busyShare(before, after)).toBeCloseTo(150 / 900);
  });
  it('is null for anything else, or without both readings', () => {
    expect(parseCpuTicks('intr 1 2 3')).toBeNull();
    expect(busyShare(null, { busy: 1, total: 2 })).toBeNull();
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
        from: '.bench/harvest-1.json',
      }),
    ).toMatchObject({
      options: {
        from: '.bench/harvest-1.json',
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

describe('the harvest experiment', () => {
  it('bootstraps a seeded, paired confidence interval around the mean speedup', () => {
    const sp = pairedSpeedups([1000, 2000, null, 1000], [500, 1000, 700, 1100]);
    expect(sp).toEqual([0.5, 0.5, -0.1]);
    const ci = bootstrapMeanCi(sp, { seed: 3 })!;
    expect(ci.mean).toBeCloseTo(0.3);
    expect(ci.low).toBeLessThanOrEqual(ci.mean);
    expect(ci.high).toBeGreaterThanOrEqual(ci.mean);
    expect(ci.low).toBeGreaterThanOrEqual(-0.1 - 1e-12);
    expect(ci.high).toBeLessThanOrEqual(0.5);
    expect(bootstrapMeanCi(sp, { seed: 3 })).toEqual(ci);
    expect(bootstrapMeanCi([], { seed: 1 })).toBeNull();
    // Identical values: no spread.
    const flat = bootstrapMeanCi([0.25, 0.25, 0.25], { seed: 1 })!;
    expect([flat.low, flat.mean, flat.high]).toEqual([0.25, 0.25, 0.25]);
  });

  it('averages each request over repetitions and measures capacity and stage spans', () => {
    expect(
      meanByRequest([
        [100, null, 300],
        [200, 50],
      ]),
    ).toEqual([150, 50, 300]);
    const steps = [
      { node: 'split', status: 'succeeded', cpuTimeMs: 100, startedAt: 0, finishedAt: 100 },
      { node: 'encrypt-1', status: 'succeeded', cpuTimeMs: 500, startedAt: 100, finishedAt: 900 },
      { node: 'encrypt-2', status: 'succeeded', cpuTimeMs: 400, startedAt: 120, finishedAt: 400 },
      { node: 'join', status: 'failed', cpuTimeMs: 50, startedAt: 900, finishedAt: 950 },
    ];
    expect(capacityUtilisation(steps, 2, 1000)).toBeCloseTo(1000 / 2000);
    expect(capacityUtilisation(steps, 2, 0)).toBeNull();
    expect(stageSpanMs(steps, (n) => n.startsWith('encrypt-'))).toBe(800);
    expect(stageSpanMs(steps, () => false)).toBeNull();
  });

  it('deploys every function with the skew-blind user allocation', () => {
    const yaml =
      'functions:\n  a:\n    cpu: 2\n    memory: 512\n  b: { handler: x.js }\n  c:\n    cpu: 250m\n';
    expect(withCpu(yaml, 0.5)).toBe(
      'functions:\n  a:\n    cpu: 0.5\n    memory: 512\n  b: { handler: x.js }\n  c:\n    cpu: 0.5\n',
    );
  });

  it('sets each configuration up as the issue lists them', () => {
    expect(setupOf('off', 2)).toMatchObject({ harvest: false, rebalance: false });
    expect(setupOf('predict', 2)).toMatchObject({
      harvest: true,
      rebalance: false,
      policy: 'work',
      freeze: true,
    });
    expect(setupOf('predict-rebalance', 2)).toMatchObject({ harvest: true, rebalance: true });
    expect(setupOf('rebalance-only', 2)).toMatchObject({ rebalance: true, policy: 'user' });
    expect(setupOf('peak', 2)).toMatchObject({ policy: 'peak' });
    expect(setupOf('uncapped', 2)).toMatchObject({ harvest: false, cpu: 2 });
  });

  it('reads repetitions and the user allocation', () => {
    expect(harvestOptionsFromFlags({ repetitions: '5', userCpu: '0.25' })).toMatchObject({
      options: { repetitions: 5, userCpu: 0.25 },
    });
    expect((harvestOptionsFromFlags({ userCpu: '0.01' }) as { error: string }).error).toContain(
      '--user-cpu must be cores',
    );
  });
});
