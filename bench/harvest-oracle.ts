/**
 * `faasflow bench harvest`'s `oracle` configuration, the pure part: the upper bound of
 * harvesting, allocations decided from each request's *actual* demand instead of a model's
 * prediction. Each request of the run is first profiled alone — the same input (same generator
 * seed and size), at the maximum allocation, a stage's siblings one at a time, so what is
 * measured is the function's demand and not its siblings' contention — and its timed run then
 * states that measured demand (`demand` of the invocation request). The master decides from it
 * exactly as from a prediction (normaliser, work-proportional stage validator, Σ applied ≤
 * Σ user), so the gap between `predict-rebalance` and `oracle` is what the models' errors cost.
 */
import type { GivenDemand } from '../shared/harvest/invocation.js';

/** What the oracle reads of a profiling run's step. */
export interface OracleStep {
  node: string;
  kind?: string;
  status?: string;
  cpuTimeMs?: number | null;
  peakCpuCores?: number | null;
  peakMemoryMb?: number | null;
}

/**
 * Each task node's measured demand in one profiling run: its CPU time (the work the `work`
 * policy shares by), its peak cores (the most it can use: its share's cap) and its peak memory.
 * A node the run did not measure (no cgroup figures, failed, skipped) or inside a foreach body
 * (named `f[i]/node`, not a node the request can name) is left out: it keeps its user's
 * allocation. A zero CPU time counts as none (the work share needs a positive weight).
 */
export function oracleDemand(steps: readonly OracleStep[]): Record<string, GivenDemand> {
  const out: Record<string, GivenDemand> = {};
  for (const s of steps) {
    if (s.kind !== undefined && s.kind !== 'task') continue;
    if (s.status !== undefined && s.status !== 'succeeded') continue;
    if (s.node.includes('/')) continue;
    const cpu = s.peakCpuCores;
    const mem = s.peakMemoryMb;
    if (typeof cpu !== 'number' || typeof mem !== 'number') continue;
    if (!Number.isFinite(cpu) || !Number.isFinite(mem) || cpu < 0 || mem < 0) continue;
    const work = s.cpuTimeMs;
    out[s.node] = {
      cpuCores: cpu,
      memoryMb: mem,
      ...(typeof work === 'number' && Number.isFinite(work) && work > 0 ? { cpuTimeMs: work } : {}),
    };
  }
  return out;
}

/** The key under which a request's measured demand is kept: its generator seed and size. */
export function oracleKey(workload: string, a: { seed: number; sizeLevel: number }): string {
  return `${workload}:${a.seed}:${a.sizeLevel}`;
}
