import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { NodeAllocation } from '../../../shared/schema/wire.js';
import { harvestedRun, WORK_MARGIN } from '../../../worker/harvest/limits.js';
import type { UsageSource } from '../../../worker/sandbox/cgroup.js';
import { cpuSharesOf, cpuWeightOf } from '../../../worker/sandbox/cpu-weight.js';
import { limitsFor } from '../../../worker/sandbox/docker-spec.js';
import { RunProfiler, SATURATED_SHARE } from '../../../worker/sandbox/profiler.js';
import { safeguardFor } from '../../../worker/sandbox/safeguard.js';
import type { Allocation } from '../../../shared/schema/wire.js';

const decision = (applied: Allocation, extra: Partial<NodeAllocation> = {}): NodeAllocation => ({
  stage: 's',
  user: { cpu: 1, memoryMb: 512 },
  predicted: applied,
  applied,
  ...extra,
});

describe('what a harvested run is given', () => {
  it('puts the harvested memory under a hard limit at the user’s', () => {
    const r = harvestedRun(decision({ cpu: 1, memoryMb: 192 }), { cpu: 1, memoryMb: 192 });
    expect(r).toEqual({ allocation: { cpu: 1, memoryMb: 192, memoryMaxMb: 512 } });
  });

  it('arms the CPU safeguard below the user’s CPU: at saturation for a peak share', () => {
    const r = harvestedRun(decision({ cpu: 0.25, memoryMb: 512 }), { cpu: 0.25, memoryMb: 512 });
    expect(r).toEqual({
      allocation: { cpu: 0.25, memoryMb: 512 },
      safeguard: { cpu: 1, afterCpuMs: null },
    });
  });

  it('for a work share, only once the run used more CPU time than predicted', () => {
    const d = decision({ cpu: 0.3, memoryMb: 512 }, { workCpuMs: 1000 });
    expect(harvestedRun(d, { cpu: 0.3, memoryMb: 512 }).safeguard).toEqual({
      cpu: 1,
      afterCpuMs: 1000 * WORK_MARGIN,
    });
  });

  it('gives nothing extra at or above the user’s allocation, or without a decision', () => {
    const a = { cpu: 1.2, memoryMb: 512 };
    expect(harvestedRun(decision(a), a)).toEqual({ allocation: a });
    expect(harvestedRun(undefined, { cpu: 0.5, memoryMb: 128 })).toEqual({
      allocation: { cpu: 0.5, memoryMb: 128 },
    });
  });
});

describe('CPU weight with the quota', () => {
  it('follows Kubernetes: shares = millicores × 1024 / 1000, weight from the shares', () => {
    expect(cpuSharesOf(1)).toBe(1024);
    expect(cpuSharesOf(0.5)).toBe(512);
    expect(cpuSharesOf(0.001)).toBe(2);
    expect(cpuWeightOf(1)).toBe(39); // 1 + (1022 × 9999) / 262142
    expect(cpuWeightOf(0.05)).toBe(2);
    expect(cpuWeightOf(0.5)).toBeLessThan(cpuWeightOf(1));
    expect(cpuWeightOf(256)).toBe(10_000);
  });

  it('reaches Docker as CpuShares, and a harvested allocation as a reservation under the limit', () => {
    expect(limitsFor({ cpu: 0.25, memoryMb: 128, memoryMaxMb: 256 })).toEqual({
      memoryBytes: 256 * 1024 * 1024,
      memoryReservationBytes: 128 * 1024 * 1024,
      cpuQuotaUs: 25_000,
      cpuPeriodUs: 100_000,
      cpuShares: 256,
    });
    expect(limitsFor({ cpu: 1, memoryMb: 256 }).memoryReservationBytes).toBe(0);
  });
});

/** A cgroup whose CPU usage grows at `cores` × wall time from when it is made. */
function spinning(cores: () => number, periodUs = 2000): UsageSource & { usedUs(): number } {
  let used = 0;
  let last = performance.now();
  const advance = (): number => {
    const now = performance.now();
    used += (now - last) * 1000 * cores();
    last = now;
    return used;
  };
  return {
    cpuPeriodUs: periodUs,
    cpuUsageUs: advance,
    memoryUsageBytes: () => 1024,
    pageCacheBytes: () => 0,
    throttledUs: () => 0,
    pressureUs: () => null,
    usedUs: () => used,
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('the CPU safeguard', () => {
  it('raises a run that uses its whole quota over a full period, once', async () => {
    let current: Allocation = { cpu: 0.25, memoryMb: 256 };
    const resizes: Allocation[] = [];
    const guard = safeguardFor(
      { safeguard: { cpu: 1, afterCpuMs: null } },
      () => current,
      (a) => {
        resizes.push(a);
        current = a;
      },
      (err) => {
        throw err;
      },
    );
    // Uses exactly its quota until raised, then a full core.
    const source = spinning(() => current.cpu);
    const p = new RunProfiler(source, 1);
    p.start(guard.watch);
    await until('the raise', () => resizes.length > 0);
    await until('a few more windows', () => source.usedUs() > 20_000);
    p.finish();
    expect(resizes).toEqual([{ cpu: 1, memoryMb: 256 }]);
    expect(guard.raisedAtMs()).not.toBeNull();
  });

  it('does not fire below the saturation share, nor before the work it was sized for', async () => {
    let fired = 0;
    const below = spinning(() => 0.25 * SATURATED_SHARE * 0.8);
    const p = new RunProfiler(below, 1);
    p.start({ quotaCores: () => 0.25, afterCpuMs: null, onSaturated: () => fired++ });
    await until('many windows', () => below.usedUs() > 2_000);
    p.finish();
    const sized = spinning(() => 0.25);
    const q = new RunProfiler(sized, 1);
    q.start({ quotaCores: () => 0.25, afterCpuMs: 1e6, onSaturated: () => fired++ });
    await until('many windows', () => sized.usedUs() > 2_000);
    q.finish();
    expect(fired).toBe(0);
  });

  it('never lowers a quota already at the user allocation', () => {
    const resizes: Allocation[] = [];
    const g = safeguardFor(
      { safeguard: { cpu: 1, afterCpuMs: null } },
      () => ({ cpu: 1.5, memoryMb: 128 }),
      (a) => void resizes.push(a),
      () => undefined,
    );
    g.watch!.onSaturated(10);
    expect(resizes).toEqual([]);
    expect(g.raisedAtMs()).toBeNull();
    expect(
      safeguardFor(
        {},
        () => ({ cpu: 1, memoryMb: 1 }),
        () => undefined,
        () => undefined,
      ).watch,
    ).toBeNull();
  });
});
