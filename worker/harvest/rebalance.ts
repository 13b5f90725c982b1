/**
 * Live CPU rebalancing inside one parallel stage on one worker — beyond the harvesting thesis,
 * whose allocations are fixed when a container starts. When a sibling finishes, the CPU it held
 * goes to the siblings still running instead of idling until the stage ends. Pure: plain data in,
 * new quotas out; applying them (cgroup `cpu.max`, Docker update) is the sandbox's job.
 *
 * Units are millicores (1000 = one core), integers, so sums are exact.
 *
 * The rule. A stage owns `totalMillicores` on this worker (normally Σ applied of its siblings
 * placed here; never more than Σ user — CPU never moves across workers, stages or invocations).
 * Each running sibling has a *base* = max(current quota, applied allocation). The pool is
 * total − Σ base: everything not held by a running sibling, so a finished sibling's quota is in
 * it automatically and repeated calls are idempotent. The pool is shared by water-filling:
 *   - each sibling can take up to its *headroom* = min(predicted demand, max per sandbox) − base:
 *     CPU beyond what it is predicted to use at peak would only idle;
 *   - in proportion to its *weight* = headroom × remaining fraction of its work (default 1),
 *     so the sibling with the most predicted work left gets the most;
 *   - a sibling whose share would exceed its headroom is capped and the rest re-shared;
 *     millicores left by rounding go to the largest remainders (ties: input order).
 * With `beyondDemand`, what remains after every headroom is filled is shared again, in proportion
 * to the remaining fraction, up to the per-sandbox max (a prediction that was too low then still
 * gets the stage's idle CPU); otherwise it is reported as `idleMillicores`, free for the worker
 * to lend until the stage ends.
 * Invariants: Σ quotas ≤ total; every quota ≥ its applied allocation; a quota grows only up to
 * the per-sandbox max (one already above it is never cut). When the stage ends, every sandbox
 * returns to its user allocation and the stage's total returns to the worker.
 */
import { AppError } from '../../shared/errors.js';

export interface RunningSibling {
  node: string;
  /** CPU quota it runs with now. */
  quotaMillicores: number;
  /** What the harvest decision applied: its quota never goes below. */
  appliedMillicores: number;
  /** Predicted peak CPU (ML2's prediction, raw or normalised). */
  demandMillicores: number;
  /** Share of its work left, 0..1 (e.g. 1 − elapsed / predicted duration). Default 1. */
  remainingFraction?: number;
}

export interface StageCpu {
  stage: string;
  /** What the stage holds on this worker: Σ applied (or Σ user) of its siblings placed here. */
  totalMillicores: number;
  /** Cap per sandbox, e.g. the worker's cores × 1000. */
  maxMillicores: number;
  /** Siblings still running, in a stable order (ties in rounding go to the earlier one). */
  running: readonly RunningSibling[];
}

export interface RebalanceOptions {
  /** Share CPU left after every predicted demand is met, up to the per-sandbox max. Default false. */
  beyondDemand?: boolean;
}

export interface QuotaChange {
  node: string;
  quotaMillicores: number;
  /** Whether it differs from the sibling's current quota (only those need a write). */
  changed: boolean;
}

export interface Rebalance {
  /** One per running sibling, in input order. */
  quotas: QuotaChange[];
  /** Held by the stage but given to no sibling. */
  idleMillicores: number;
}

/** Shares the stage's CPU not held by a running sibling among them (the rule in the header). */
export function rebalance(stage: StageCpu, options: RebalanceOptions = {}): Rebalance {
  check(stage);
  const { running } = stage;
  let base = running.map((s) => Math.max(s.quotaMillicores, s.appliedMillicores));
  if (sum(base) > stage.totalMillicores) {
    // Quotas from an earlier round no longer fit (the total shrank): restart from the applied
    // allocations, which the decision guarantees fit.
    base = running.map((s) => s.appliedMillicores);
    if (sum(base) > stage.totalMillicores)
      throw new AppError(
        'BAD_REQUEST',
        `stage ${stage.stage}: running siblings' applied allocations (${sum(base)} millicores) exceed the stage's total ${stage.totalMillicores}`,
      );
  }
  const remaining = running.map((s) => clamp01(s.remainingFraction ?? 1));
  const quota = [...base];
  let pool = stage.totalMillicores - sum(base);

  const headroom = running.map((s, i) =>
    Math.max(0, Math.min(s.demandMillicores, stage.maxMillicores) - quota[i]!),
  );
  pool -= waterFill(
    quota,
    headroom,
    headroom.map((h, i) => h * remaining[i]!),
    pool,
  );
  if (options.beyondDemand && pool > 0) {
    const room = quota.map((q) => Math.max(0, stage.maxMillicores - q));
    pool -= waterFill(quota, room, remaining, pool);
  }
  return {
    quotas: running.map((s, i) => ({
      node: s.node,
      quotaMillicores: quota[i]!,
      changed: quota[i] !== s.quotaMillicores,
    })),
    idleMillicores: pool,
  };
}

/**
 * A sibling finished: its sandbox returns to its user allocation (`restore`) and its CPU is
 * shared among the siblings still running.
 */
export function onSiblingFinished(
  stage: StageCpu,
  finished: { node: string; userMillicores: number },
  options: RebalanceOptions = {},
): Rebalance & { restore: { node: string; quotaMillicores: number } } {
  const running = stage.running.filter((s) => s.node !== finished.node);
  return {
    ...rebalance({ ...stage, running }, options),
    restore: { node: finished.node, quotaMillicores: finished.userMillicores },
  };
}

/** The stage ended: every sandbox returns to its user allocation, the total to the worker. */
export function onStageEnded(
  stage: Pick<StageCpu, 'stage' | 'totalMillicores'>,
  siblings: readonly { node: string; userMillicores: number }[],
): { restore: { node: string; quotaMillicores: number }[]; releasedMillicores: number } {
  return {
    restore: siblings.map((s) => ({ node: s.node, quotaMillicores: s.userMillicores })),
    releasedMillicores: stage.totalMillicores,
  };
}

/**
 * Gives up to `pool` millicores to `quota` (in place), each i at most `cap[i]`, in proportion to
 * `weight[i]`; entries with no weight or cap get nothing. Returns what was given.
 */
function waterFill(
  quota: number[],
  cap: readonly number[],
  weight: readonly number[],
  pool: number,
): number {
  const given = quota.map(() => 0);
  let left = pool;
  let active = quota.map((_, i) => i).filter((i) => cap[i]! > 0 && weight[i]! > 0);
  while (left > 0 && active.length > 0) {
    const w = active.reduce((s, i) => s + weight[i]!, 0);
    const share = (i: number): number => (left * weight[i]!) / w;
    const full = active.filter((i) => share(i) >= cap[i]! - given[i]!);
    if (full.length > 0) {
      for (const i of full) {
        left -= cap[i]! - given[i]!;
        given[i] = cap[i]!;
      }
      active = active.filter((i) => !full.includes(i));
      continue;
    }
    // Nobody saturates: floor the shares, then the largest remainders (ties: lower index).
    const raw = active.map(share);
    const floors = raw.map(Math.floor);
    let rest = left - sum(floors);
    active.forEach((i, k) => (given[i]! += floors[k]!));
    const order = active
      .map((i, k) => ({ i, frac: raw[k]! - floors[k]! }))
      .sort((a, b) => b.frac - a.frac || a.i - b.i);
    for (const { i } of order) {
      if (rest <= 0) break;
      given[i]!++;
      rest--;
    }
    left = rest;
    break;
  }
  quota.forEach((_, i) => (quota[i]! += given[i]!));
  return pool - left;
}

function check(stage: StageCpu): void {
  const problems: string[] = [];
  const nonNegInt = (v: number, what: string): void => {
    if (!Number.isSafeInteger(v) || v < 0)
      problems.push(`${what} is ${v}; must be an integer ≥ 0 (millicores)`);
  };
  nonNegInt(stage.totalMillicores, 'totalMillicores');
  nonNegInt(stage.maxMillicores, 'maxMillicores');
  const seen = new Set<string>();
  for (const s of stage.running) {
    if (seen.has(s.node)) problems.push(`sibling ${s.node} is listed twice`);
    seen.add(s.node);
    nonNegInt(s.quotaMillicores, `${s.node}.quotaMillicores`);
    nonNegInt(s.appliedMillicores, `${s.node}.appliedMillicores`);
    nonNegInt(s.demandMillicores, `${s.node}.demandMillicores`);
    const r = s.remainingFraction;
    if (r !== undefined && !Number.isFinite(r))
      problems.push(`${s.node}.remainingFraction is ${r}; must be a number from 0 to 1`);
  }
  if (problems.length > 0)
    throw new AppError('BAD_REQUEST', `stage ${stage.stage}: ${problems.join('; ')}`, {
      details: { problems },
    });
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function sum(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0);
}
