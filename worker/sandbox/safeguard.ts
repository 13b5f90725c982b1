/**
 * Harvesting's CPU safeguard for one run, shared by both kinds of child (process, container):
 * the profiler watches each period-long window (`SaturationWatch`); when a harvested run uses its
 * whole reduced quota for a full period — it was predicted too low — its quota is raised at once
 * to at least its user's allocation (Libra's safeguard: a too-low prediction costs one period,
 * not the run). The raise is a live resize of the child's cgroup; the memory limits stay.
 *
 * It never lowers a quota, and fires at most once per run. The stage's live rebalancing may
 * move the quota afterwards: raise it further when a sibling finishes, or — rarely, when a late
 * sibling starts and the stage's boosts no longer fit — cut it back to the applied allocation;
 * the safeguard does not fire again in that run (a known limit: the tracker does not know of
 * the raise).
 */
import type { SaturationWatch } from './profiler.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { RunRequest } from './types.js';

export interface SafeguardRun {
  watch: SaturationWatch | null;
  /** Ms into the run when the quota was raised; null while it was not. */
  raisedAtMs(): number | null;
}

export function safeguardFor(
  req: Pick<RunRequest, 'safeguard'>,
  current: () => Allocation,
  resize: (a: Allocation) => void | Promise<void>,
  onError: (err: unknown) => void,
): SafeguardRun {
  const guard = req.safeguard;
  let raisedAt: number | null = null;
  if (guard === undefined) return { watch: null, raisedAtMs: () => null };
  const watch: SaturationWatch = {
    quotaCores: () => current().cpu,
    afterCpuMs: guard.afterCpuMs,
    onSaturated: (atMs) => {
      const now = current();
      if (now.cpu >= guard.cpu) return;
      raisedAt = atMs;
      try {
        const done = resize({ ...now, cpu: guard.cpu });
        if (done instanceof Promise) done.catch(onError);
      } catch (err) {
        onError(err);
      }
    },
  };
  return { watch, raisedAtMs: () => raisedAt };
}
