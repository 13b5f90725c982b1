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

/** One profiling run: its input's size level and the CPU time of all its tasks. */
export interface LevelCpu {
  sizeLevel: number;
  cpuMs: number;
}

/**
 * The mean CPU time of a request mix, from profiling runs at known size levels: each request's
 * CPU time interpolated between the two profiled levels around its own, geometrically (the
 * workloads' sizes grow geometrically with the level), clamped to the profiled range. This is what
 * scales a load to the machine: a sample of a few requests misjudges a mix whose sizes span
 * several doublings. Null without a usable profile (no run with CPU time above 0).
 */
export function mixCpuMs(profile: readonly LevelCpu[], mix: readonly number[]): number | null {
  const points = profile
    .filter((p) => p.cpuMs > 0 && Number.isFinite(p.sizeLevel))
    .map((p) => ({ level: p.sizeLevel, log: Math.log(p.cpuMs) }))
    .sort((a, b) => a.level - b.level);
  if (points.length === 0 || mix.length === 0) return null;
  const at = (level: number): number => {
    const first = points[0]!;
    const last = points[points.length - 1]!;
    if (level <= first.level) return Math.exp(first.log);
    if (level >= last.level) return Math.exp(last.log);
    let i = 1;
    while (points[i]!.level < level) i++;
    const a = points[i - 1]!;
    const b = points[i]!;
    const t = b.level === a.level ? 0 : (level - a.level) / (b.level - a.level);
    return Math.exp(a.log + t * (b.log - a.log));
  };
  return mix.reduce((sum, level) => sum + at(level), 0) / mix.length;
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

/**
 * The mean of `values` and a percentile bootstrap confidence interval for it: `resamples`
 * resamples with replacement from a seeded PRNG, the `alpha/2` and `1 − alpha/2` quantiles of
 * their means. Fed per-request speedups (each request paired with itself under the baseline),
 * it is the paired bootstrap of the mean speedup. Null for no values.
 */
export function bootstrapMeanCi(
  values: readonly number[],
  o: { seed: number; resamples?: number; alpha?: number } = { seed: 1 },
): { mean: number; low: number; high: number } | null {
  const n = values.length;
  if (n === 0) return null;
  const resamples = o.resamples ?? 2000;
  const alpha = o.alpha ?? 0.05;
  const next = mulberry32(o.seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(next() * n)]!;
    means[b] = s / n;
  }
  means.sort();
  const at = (q: number): number => means[Math.min(resamples - 1, Math.floor(q * resamples))]!;
  return {
    mean: values.reduce((a, b) => a + b, 0) / n,
    low: at(alpha / 2),
    high: at(1 - alpha / 2),
  };
}

/**
 * Per request, the mean latency over the repetitions that measured it (null when none did):
 * `reps[r][i]` is request i in repetition r.
 */
export function meanByRequest(reps: readonly (readonly (number | null)[])[]): (number | null)[] {
  const n = Math.max(0, ...reps.map((r) => r.length));
  const out: (number | null)[] = [];
  for (let i = 0; i < n; i++) {
    const xs = reps.map((r) => r[i]).filter((x): x is number => x != null);
    out.push(xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);
  }
  return out;
}

/** Per-request speedups (b − l) / b, paired by index; failures on either side are skipped. */
export function pairedSpeedups(
  baseline: readonly (number | null)[],
  latencies: readonly (number | null)[],
): number[] {
  const s: number[] = [];
  for (let i = 0; i < Math.min(baseline.length, latencies.length); i++) {
    const b = baseline[i];
    const l = latencies[i];
    if (b != null && l != null && b > 0) s.push((b - l) / b);
  }
  return s;
}

/**
 * CPU utilisation of the machine's capacity: Σ CPU time of the steps over cores × the wall
 * time of the run (the thesis's "used ÷ capacity", next to `utilisation`'s used ÷ allocated).
 */
export function capacityUtilisation(
  steps: readonly UsageStep[],
  cores: number,
  wallMs: number,
): number | null {
  if (!(cores > 0 && wallMs > 0)) return null;
  let used = 0;
  for (const s of steps) if (s.status === 'succeeded' && s.cpuTimeMs != null) used += s.cpuTimeMs;
  return used / (cores * wallMs);
}

/** The span of one invocation's parallel stage: first sibling start → last sibling finish. */
export function stageSpanMs(
  steps: readonly { node: string; startedAt: number; finishedAt: number }[],
  isSibling: (node: string) => boolean,
): number | null {
  let start = Infinity;
  let end = -Infinity;
  for (const s of steps) {
    if (!isSibling(s.node)) continue;
    start = Math.min(start, s.startedAt);
    end = Math.max(end, s.finishedAt);
  }
  return end >= start ? end - start : null;
}

/** A stage sibling's measured CPU time and the cores its user gave it. */
export interface SiblingWork {
  cpuMs: number;
  userCores: number;
}

/**
 * The first-principles ceiling of harvesting on one stage: with each sibling running at its
 * user's cores the stage takes max(cpu_i ⁄ user_i); with the users' total shared in proportion to
 * work it takes Σ cpu ⁄ Σ user (every sibling finishes together). The ceiling is the cut,
 * 1 − (Σ cpu ⁄ Σ user) ⁄ max(cpu_i ⁄ user_i): what the `work` policy can give when predictions are
 * perfect and the functions scale with the cores they get, before queueing, start-up and the
 * stage's serial parts. 4 siblings of work 4:1:1:1 at 0.5 core: 1 − 3.5 ⁄ 8 = 56 %. Null for a
 * stage without two siblings that used CPU.
 */
export function stageCeiling(siblings: readonly SiblingWork[]): number | null {
  const used = siblings.filter((s) => s.cpuMs > 0 && s.userCores > 0);
  if (used.length < 2) return null;
  const slowest = Math.max(...used.map((s) => s.cpuMs / s.userCores));
  const shared =
    used.reduce((sum, s) => sum + s.cpuMs, 0) / used.reduce((sum, s) => sum + s.userCores, 0);
  return 1 - shared / slowest;
}

/** The machine's CPU counters (Linux `/proc/stat`, first line), in clock ticks. */
export interface CpuTicks {
  busy: number;
  total: number;
}

/** Parses the aggregate `cpu` line of `/proc/stat`; null when it is not one. */
export function parseCpuTicks(procStat: string): CpuTicks | null {
  const line = procStat.split('\n', 1)[0] ?? '';
  const fields = line.trim().split(/\s+/);
  if (fields[0] !== 'cpu' || fields.length < 5) return null;
  const n = fields.slice(1).map(Number);
  if (n.some((x) => !Number.isFinite(x))) return null;
  // user nice system idle iowait irq softirq steal (guest time is already in user and nice).
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Share of the machine's CPU that was busy between two readings, whoever used it: next to the
 * sandboxes' own share (used ÷ capacity) it shows what the cluster's processes and anything else
 * on the machine took — a run on a machine busy with other work is not a measurement.
 */
export function busyShare(before: CpuTicks | null, after: CpuTicks | null): number | null {
  if (!before || !after) return null;
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : null;
}
