/**
 * What a harvested task's run is given besides its applied allocation — Libra-style safeguards
 * that make a too-low prediction cost time instead of a failure or a slower request. Pure.
 *
 * - Memory: the applied (harvested) size becomes the soft limit (`memory.high`) and the user's
 *   allocation the hard one (`memory.max`, and the V8 heap): a run that needs more than predicted
 *   is slowed by reclaim, not OOM-killed.
 * - CPU: a run below its user's CPU carries a safeguard: once it saturates its reduced quota for
 *   a full CFS period, the sandbox raises it at once to the user's CPU (`worker/sandbox/
 *   safeguard.ts`). For a share sized by predicted work (`workCpuMs`), saturation is expected —
 *   the share is a cap below the cores it can use — so the trigger is also having used more CPU
 *   time than predicted, by `WORK_MARGIN`: the work was under-predicted.
 * A run with the user's allocation (or more) carries neither.
 */
import type { NodeAllocation } from '../../shared/schema/wire.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { CpuSafeguard } from '../sandbox/types.js';

/** How far past its predicted CPU time a work-shared run may go before the safeguard arms. */
export const WORK_MARGIN = 1.1;

export function harvestedRun(
  decision: NodeAllocation | undefined,
  allocation: Allocation,
): { allocation: Allocation; safeguard?: CpuSafeguard } {
  if (decision === undefined) return { allocation };
  const user = decision.user;
  const out: Allocation = { cpu: allocation.cpu, memoryMb: allocation.memoryMb };
  if (user.memoryMb > allocation.memoryMb) out.memoryMaxMb = user.memoryMb;
  if (!(allocation.cpu < user.cpu)) return { allocation: out };
  const work = decision.workCpuMs;
  return {
    allocation: out,
    safeguard: { cpu: user.cpu, afterCpuMs: work === undefined ? null : work * WORK_MARGIN },
  };
}
