/**
 * Which profile records the models learn from: the runs that measured *demand*, not contention.
 * Every run is profiled, but three kinds only show what they were given:
 * - *censored*: a run whose CPU allocation is below the largest that function's records were
 *   run with and whose peak reached `CENSOR_SHARE` of it — once harvesting runs a function with
 *   less than its profiling allocation, training on such runs would teach the models their own
 *   predictions, and a function predicted low would stay low;
 * - *throttled*: the kernel held the run back by its quota for more than `CONTENDED_SHARE` of
 *   its duration (cgroup `cpu.stat`; a run the safeguard raised counts as throttled);
 * - *under pressure*: its tasks waited for a CPU for more than `CONTENDED_SHARE` of its duration
 *   (PSI, cgroup v2): siblings or other tenants took the cores it would have used.
 * Profiling runs (at the maximum, one at a time) normally pass all three. Memory is not
 * filtered: a run at its memory limit fails (OOM) or is slowed, and a slowed run shows pressure
 * in its duration, not in its peak. Pure.
 */
import type { ProfileRecord } from './profile.js';

/** Share of its CPU allocation at which a run's peak counts as capped. */
export const CENSOR_SHARE = 0.95;
/** Share of a run's duration throttled or under CPU pressure at which it counts as contended. */
export const CONTENDED_SHARE = 0.1;

export function trainingRecords(records: readonly ProfileRecord[]): {
  records: ProfileRecord[];
  /** Left out as capped. */
  censored: number;
  /** Left out as throttled or under CPU pressure. */
  contended: number;
} {
  const maxCpu = new Map<string, number>();
  for (const r of records) {
    const k = `${r.workflow}\u0000${r.function}`;
    maxCpu.set(k, Math.max(maxCpu.get(k) ?? 0, r.allocation.cpu));
  }
  const kept: ProfileRecord[] = [];
  let censored = 0;
  let contended = 0;
  for (const r of records) {
    const top = maxCpu.get(`${r.workflow}\u0000${r.function}`) ?? r.allocation.cpu;
    const limit = CONTENDED_SHARE * r.durationMs;
    if (r.allocation.cpu < top && r.peakCpuCores >= CENSOR_SHARE * r.allocation.cpu) censored++;
    else if ((r.throttledMs ?? 0) > limit || (r.pressureMs ?? 0) > limit) contended++;
    else kept.push(r);
  }
  return { records: kept, censored, contended };
}
