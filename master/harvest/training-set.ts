/**
 * Which profile records the models learn from. Every run is profiled, but a run whose CPU peak
 * reached its allocation only shows that it got what it was given: its demand may have been
 * higher. Once harvesting runs a function with less than its profiling allocation, training on
 * such runs would teach the models their own predictions, and a function predicted low would
 * stay low. So, per function, a record is *censored* — left out — when its CPU allocation is
 * below the largest that function's records were run with and its peak is at least
 * `CENSOR_SHARE` of that allocation. Profiling runs (at the maximum) always count, as do runs
 * that left headroom. Memory is not censored: a run at its memory limit fails (OOM) and gives no
 * record. Pure.
 */
import type { ProfileRecord } from './profile.js';

/** Share of its CPU allocation at which a run's peak counts as capped. */
export const CENSOR_SHARE = 0.95;

export function trainingRecords(records: readonly ProfileRecord[]): {
  records: ProfileRecord[];
  censored: number;
} {
  const maxCpu = new Map<string, number>();
  for (const r of records) {
    const k = `${r.workflow}\u0000${r.function}`;
    maxCpu.set(k, Math.max(maxCpu.get(k) ?? 0, r.allocation.cpu));
  }
  const kept: ProfileRecord[] = [];
  let censored = 0;
  for (const r of records) {
    const top = maxCpu.get(`${r.workflow}\u0000${r.function}`) ?? r.allocation.cpu;
    if (r.allocation.cpu < top && r.peakCpuCores >= CENSOR_SHARE * r.allocation.cpu) censored++;
    else kept.push(r);
  }
  return { records: kept, censored };
}
