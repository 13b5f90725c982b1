/**
 * The pure side of `faasflow bench harvest`: the open-loop arrival schedule, and the thesis's
 * figures from what the runs measured.
 *
 * - Arrivals: a Poisson process (exponential gaps at `rate` per second) with a size level per
 *   request, both from a seeded PRNG, so every configuration replays the same requests at the
 *   same offsets and requests can be paired across configurations.
 * - Per-request speedup (the thesis, §4.2): (L_baseline − L) / L_baseline for the same request;
 *   reported as mean, median, min and max, like its table.
 * - Utilisation (the thesis's R_utilized / R_total): CPU = Σ CPU time / Σ (allocated cores × run
 *   time); memory = Σ (peak MB × run time) / Σ (allocated MB × run time), over task steps.
 */
import { mulberry32 } from '../shared/random.js';

export interface Arrival {
  /** Offset from the start of the run, ms. */
  atMs: number;
  /** Input size level (the workload generators' 1..7). */
  sizeLevel: number;
  /** Seed of the request's content. */
  seed: number;
}

/** `count` Poisson arrivals at `rate` per second, size levels uniform in [minLevel, maxLevel]. */
export function poissonArrivals(
  count: number,
  rate: number,
  seed: number,
  minLevel: number,
  maxLevel: number,
): Arrival[] {
  if (!(rate > 0)) throw new Error(`rate must be > 0, got ${rate}`);
  const next = mulberry32(seed);
  const out: Arrival[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    // Inverse transform; 1 − u avoids log(0).
    at += (-Math.log(1 - next()) / rate) * 1000;
    const sizeLevel = minLevel + next() * (maxLevel - minLevel);
    out.push({
      atMs: at,
      sizeLevel: Math.round(sizeLevel * 100) / 100,
      seed: (next() * 2 ** 32) >>> 0,
    });
  }
  return out;
}

export interface SpeedupStats {
  count: number;
  mean: number;
  median: number;
  min: number;
  max: number;
}

/** Per-request speedups of `latencies` against `baseline` (same index = same request). */
export function speedups(
  baseline: readonly (number | null)[],
  latencies: readonly (number | null)[],
): SpeedupStats | null {
  const s: number[] = [];
  for (let i = 0; i < Math.min(baseline.length, latencies.length); i++) {
    const b = baseline[i];
    const l = latencies[i];
    if (b == null || l == null || b <= 0) continue;
    s.push((b - l) / b);
  }
  if (s.length === 0) return null;
  s.sort((a, b) => a - b);
  const mid = s.length >> 1;
  return {
    count: s.length,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    median: s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2,
    min: s[0]!,
    max: s[s.length - 1]!,
  };
}

/** The part of a timeline step utilisation reads. */
export interface UsageStep {
  status: string;
  kind?: string;
  runMs?: number;
  cpuTimeMs?: number | null;
  peakMemoryMb?: number | null;
  allocation?: { cpu: number; memoryMb: number };
}

export interface Utilisation {
  /** Σ CPU time / Σ allocated core-ms; null when no step had both. */
  cpu: number | null;
  memory: number | null;
}

export function utilisation(steps: readonly UsageStep[]): Utilisation {
  let cpuUsed = 0;
  let cpuAllocated = 0;
  let memUsed = 0;
  let memAllocated = 0;
  for (const s of steps) {
    if (s.status !== 'succeeded' || s.allocation === undefined || s.runMs === undefined) continue;
    if (s.cpuTimeMs != null) {
      cpuUsed += s.cpuTimeMs;
      cpuAllocated += s.allocation.cpu * s.runMs;
    }
    if (s.peakMemoryMb != null) {
      memUsed += s.peakMemoryMb * s.runMs;
      memAllocated += s.allocation.memoryMb * s.runMs;
    }
  }
  return {
    cpu: cpuAllocated > 0 ? cpuUsed / cpuAllocated : null,
    memory: memAllocated > 0 ? memUsed / memAllocated : null,
  };
}
