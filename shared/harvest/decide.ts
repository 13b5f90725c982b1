/**
 * The harvest decision for an invocation: the thesis's Allocation Normaliser and Harvesting
 * Validator (Fotouhi 2024, §3.5.2), pure and deterministic, with a second, work-proportional
 * CPU policy. All arithmetic is in integer milli-units (`grid.ts`): millicores for CPU.
 *
 * Normaliser: a predicted peak is rounded *up* to the next allocation of the grid (2.78 cores
 * → 2.8 on the default 0.05-core grid, → 3 on the thesis's), at least one step, at most the
 * function's max.
 *
 * Validator, per parallel stage and per resource (CPU and memory independently):
 * - the stage's budget is the sum of its users' allocations — of the siblings that have a valid
 *   prediction; a sibling without one keeps its user allocation and its resources stay its own;
 * - CPU, policy `work` (default): the budget is divided in proportion to each sibling's
 *   predicted *work* (CPU time), each capped at the cores it can use (its normalised peak) and
 *   given at least one step. Siblings that run in parallel finish together when each gets cores
 *   in proportion to its work, so the straggler is no longer held back by a share sized for the
 *   fast ones: 4 siblings at 0.5 core with work 4:1:1:1 take 8 units of time at the users'
 *   allocations and 3.5 with work shares (−56 %) when they scale with cores. Without a predicted
 *   CPU time for every sibling (an older model set) the stage falls back to `peak`;
 * - CPU policy `peak`, and memory always (the thesis's rule): when the normalised predictions
 *   fit the budget, every sibling runs with its prediction; when they exceed it, `overTotal`
 *   `scale` (default) shares the budget in proportion to the predictions, each between one step
 *   and its prediction; `fallback` keeps every user allocation;
 * - a stage of width 1 keeps the user allocation (`not-parallel`): harvesting happens only
 *   among parallel siblings.
 * Hence, per stage and resource, Σ applied ≤ Σ user: nothing is ever taken from another stage or
 * another invocation. Every node whose applied allocation is not its prediction carries a reason.
 */
import type { FunctionSpec } from '../dag/types.js';
import { AppError } from '../errors.js';
import {
  ALLOCATION_GRID,
  type AllocationGrid,
  type HarvestReason,
  type HarvestReasonCode,
  type NodeHarvest,
  type Resource,
} from './types.js';
import type { Allocation } from '../schema/wire.js';
import { fromMilli, milliAtLeast, milliAxis, toMilli } from './grid.js';
import type { StagePlan } from './stages.js';

export type OverTotalPolicy = 'scale' | 'fallback';

/**
 * How a stage's CPU budget is divided: by predicted work (default), by predicted peak cores (the
 * thesis), or not at all (`user`: every sibling keeps its user's CPU, and only the worker's live
 * rebalancing moves it — the "rebalancing only" configuration of the benchmark).
 */
export type CpuPolicy = 'work' | 'peak' | 'user';

export interface DecideOptions {
  /** Allocation grid. Default `ALLOCATION_GRID` (0.05-core and 64 MB steps). */
  grid?: AllocationGrid;
  /** What to do when a stage's peak predictions exceed its users' total. Default `scale`. */
  overTotal?: OverTotalPolicy;
  /** CPU policy. Default `work`. */
  cpuPolicy?: CpuPolicy;
}

/** A raw prediction (ML2's output, not yet normalised) or why there is none. */
export type DemandInput =
  | {
      kind: 'ok';
      cpuCores: number;
      memoryMb: number;
      /** Predicted CPU time of the run (the work); the `work` policy needs it. */
      cpuTimeMs?: number;
    }
  | { kind: 'no-model'; message: string };

export interface StageMemberInput {
  node: string;
  fn: string;
  user: Allocation;
  /** Upper bound of the normaliser. Default the grid's maximum. */
  max?: Allocation;
  /** Undefined when no prediction was made for the node. */
  demand?: DemandInput;
}

const RESOURCES: readonly Resource[] = ['cpu', 'memoryMb'];

type ReasonMap = Map<HarvestReasonCode, { message: string; resources: Resource[] }>;

/** Normaliser: each resource rounded up to the grid, at least its minimum, at most `max`. */
export function normalise(
  demand: { cpuCores: number; memoryMb: number },
  max: Allocation = { cpu: ALLOCATION_GRID.cpu.max, memoryMb: ALLOCATION_GRID.memoryMb.max },
  grid: AllocationGrid = ALLOCATION_GRID,
): Allocation {
  const up = (p: number, r: Resource): number => {
    const a = milliAxis(grid[r]);
    const cap = Math.max(a.min, Math.min(a.max, toMilli(max[r])));
    return fromMilli(Math.min(cap, milliAtLeast(p * 1000, a) ?? a.max));
  };
  return { cpu: up(demand.cpuCores, 'cpu'), memoryMb: up(demand.memoryMb, 'memoryMb') };
}

/** Decisions for one parallel stage of one invocation, in member order. */
export function decideStage(
  stage: { id: string; members: readonly StageMemberInput[] },
  options: DecideOptions = {},
): NodeHarvest[] {
  const grid = options.grid ?? ALLOCATION_GRID;
  const policy = options.overTotal ?? 'scale';
  const cpuPolicy = options.cpuPolicy ?? 'work';
  const maxOf = (m: StageMemberInput): Allocation =>
    m.max ?? { cpu: grid.cpu.max, memoryMb: grid.memoryMb.max };

  const out: NodeHarvest[] = [];
  const reasons: (ReasonMap | null)[] = [];
  const work: (number | null)[] = [];
  const note = (i: number, code: HarvestReasonCode, message: string, resource?: Resource): void => {
    const m = (reasons[i] ??= new Map() as ReasonMap);
    const r = m.get(code);
    const resources = resource ? [resource] : [...RESOURCES];
    if (r) r.resources.push(...resources.filter((x) => !r.resources.includes(x)));
    else m.set(code, { message, resources });
  };

  const predicted: number[] = [];
  stage.members.forEach((m, i) => {
    const user = { cpu: m.user.cpu, memoryMb: m.user.memoryMb };
    reasons.push(null);
    work.push(null);
    /** No usable prediction: the user's allocation, and why. */
    const keepUser = (code: HarvestReasonCode, message: string): void => {
      out.push({
        node: m.node,
        fn: m.fn,
        stage: stage.id,
        user,
        predicted: null,
        applied: { ...user },
      });
      note(i, code, message);
    };
    const d = m.demand;
    if (d === undefined) {
      keepUser('no-prediction', `no prediction for ${m.node}; running with the user's allocation`);
      return;
    }
    if (d.kind === 'no-model') {
      keepUser('no-model', d.message);
      return;
    }
    if (![d.cpuCores, d.memoryMb].every((v) => Number.isFinite(v) && v >= 0)) {
      keepUser(
        'invalid-prediction',
        `prediction for ${m.node} (cpu ${d.cpuCores}, memory ${d.memoryMb} MB) is not finite and ≥ 0`,
      );
      return;
    }
    const p = normalise(d, maxOf(m), grid);
    out.push({ node: m.node, fn: m.fn, stage: stage.id, user, predicted: p, applied: { ...p } });
    const t = d.cpuTimeMs;
    work[i] = t !== undefined && Number.isFinite(t) && t > 0 ? t : null;
    predicted.push(i);
  });

  if (stage.members.length < 2) {
    // Whatever the prediction (or its absence), a lone node is not harvested.
    out.forEach((d, i) => {
      d.applied = { ...d.user };
      reasons[i] = null;
      note(
        i,
        'not-parallel',
        `${d.node} is alone in its stage; harvesting needs parallel siblings`,
      );
    });
  } else {
    for (const r of RESOURCES) {
      const axis = milliAxis(grid[r]);
      const budget = predicted.reduce((s, i) => s + toMilli(out[i]!.user[r]), 0);
      if (r === 'cpu' && cpuPolicy === 'user') {
        for (const i of predicted) {
          out[i]!.applied.cpu = out[i]!.user.cpu;
          note(i, 'user-policy', `the CPU policy is user: ${out[i]!.node} keeps its user's CPU`, r);
        }
        continue;
      }
      const byWork =
        r === 'cpu' && cpuPolicy === 'work' && predicted.every((i) => work[i] !== null);
      const what = r === 'cpu' ? 'cores' : 'MB';
      const units = Math.floor(budget / axis.step);
      const minUnits = Math.ceil(axis.min / axis.step);
      const want = predicted.map((i) => Math.round(toMilli(out[i]!.predicted![r]) / axis.step));
      const wanted = want.reduce((s, w) => s + w, 0);
      const shown = (milli: number): string => `${fromMilli(milli)} ${what}`;
      if (wanted <= units && !byWork) continue;
      if (units < predicted.length * minUnits) {
        const why = `${shown(budget)} cannot give ${predicted.length} siblings ${fromMilli(axis.min)} each`;
        for (const i of predicted) {
          out[i]!.applied[r] = out[i]!.user[r];
          note(i, 'infeasible', why, r);
        }
        continue;
      }
      if (byWork) {
        const weights = predicted.map((i) => work[i]!);
        const shares = apportionWork(weights, want, units, minUnits);
        const why = `the stage's ${shown(budget)} shared in proportion to predicted work (${weights.map((w) => `${Math.round(w)} ms`).join(', ')}), each capped at the cores it can use`;
        predicted.forEach((i, k) => {
          out[i]!.applied[r] = fromMilli(shares[k]! * axis.step);
          out[i]!.workCpuMs = weights[k]!;
          if (out[i]!.applied[r] !== out[i]!.predicted![r]) note(i, 'work-shared', why, r);
        });
        continue;
      }
      const total = `predictions sum to ${shown(wanted * axis.step)}, the stage's users allocated ${shown(budget)}`;
      if (policy === 'fallback') {
        for (const i of predicted) {
          out[i]!.applied[r] = out[i]!.user[r];
          note(i, 'over-total', `${total}; keeping the users' allocations`, r);
        }
        continue;
      }
      const shares = apportion(want, units, minUnits);
      predicted.forEach((i, k) => {
        out[i]!.applied[r] = fromMilli(shares[k]! * axis.step);
        if (out[i]!.applied[r] !== out[i]!.predicted![r])
          note(i, 'scaled', `${total}; shared in proportion to the predictions`, r);
      });
    }
  }

  out.forEach((d, i) => {
    const reason = mergeReasons(reasons[i] ?? null);
    if (reason) d.reason = reason;
  });
  return out;
}

/**
 * The work-proportional share, in grid steps: `units` divided in proportion to `weight`, each i
 * between `minUnits` and `cap[i]` (the cores it can use), by water-filling — a sibling whose
 * proportional share exceeds its cap is held at the cap and the rest re-shared among the others,
 * one whose share is below a step is raised to it and the others share what is left.
 * Floors first, then each remaining step to the sibling with the most work per step it holds
 * (ties to the lower index), so it is deterministic and integer; hands out `units` unless every
 * sibling reached its cap. Needs units ≥ n·minUnits (so every floor is at least one step).
 */
export function apportionWork(
  weight: readonly number[],
  cap: readonly number[],
  units: number,
  minUnits: number,
): number[] {
  const hi = cap.map((c) => Math.max(minUnits, c));
  if (hi.reduce((s, h) => s + h, 0) <= units) return hi;
  // Water level λ: sibling i gets clamp(λ·wᵢ, min, capᵢ), and Σ of that is monotone in λ, so
  // bisection finds the level at which the shares add up to `units`.
  const w = weight.map((x) => (Number.isFinite(x) && x > 0 ? x : 0));
  const share = (lambda: number, i: number): number =>
    Math.min(hi[i]!, Math.max(minUnits, lambda * w[i]!));
  const total = (lambda: number): number => w.reduce((s, _, i) => s + share(lambda, i), 0);
  let lo = 0;
  let up = 1;
  while (total(up) < units && up < 1e300) up *= 2;
  for (let k = 0; k < 200 && up - lo > up * 1e-15; k++) {
    const mid = (lo + up) / 2;
    if (total(mid) < units) lo = mid;
    else up = mid;
  }
  const a = w.map((_, i) => Math.floor(share(lo, i) + 1e-9));
  // The steps rounding left go one by one to the sibling that would finish last (largest
  // work per step held): that keeps the stage's makespan nearest the exact shares'.
  let rest = units - a.reduce((s, x) => s + x, 0);
  while (rest > 0) {
    let best = -1;
    for (let i = 0; i < a.length; i++)
      if (a[i]! < hi[i]! && (best < 0 || w[i]! / a[i]! > w[best]! / a[best]!)) best = i;
    if (best < 0) break;
    a[best]!++;
    rest--;
  }
  return a;
}

/** Fallbacks first: the code that decided the applied allocation comes first. */
const SEVERITY: readonly HarvestReasonCode[] = [
  'no-prediction',
  'no-model',
  'invalid-prediction',
  'not-parallel',
  'infeasible',
  'over-total',
  'user-policy',
  'scaled',
  'work-shared',
];

function mergeReasons(m: ReasonMap | null): HarvestReason | undefined {
  if (!m || m.size === 0) return undefined;
  const codes = [...m.keys()].sort((a, b) => SEVERITY.indexOf(a) - SEVERITY.indexOf(b));
  const first = m.get(codes[0]!)!;
  const resources = RESOURCES.filter((r) => [...m.values()].some((v) => v.resources.includes(r)));
  const message = codes.map((c) => m.get(c)!.message).join('; ');
  return { code: codes[0]!, message, resources: codes.length === 1 ? first.resources : resources };
}

/**
 * Shares `units` among siblings in proportion to `want` (units each wants), each getting from
 * `minUnits` to its want; requires Σ want > units ≥ n·minUnits. Largest remainders first, ties to
 * the lower index, so it is deterministic; all `units` are handed out.
 */
function apportion(want: readonly number[], units: number, minUnits: number): number[] {
  const total = want.reduce((s, w) => s + w, 0);
  const quota = want.map((w) => (units * w) / total);
  const a = want.map((w, i) => Math.max(minUnits, Math.min(w, Math.floor(quota[i]!))));
  let sum = a.reduce((s, x) => s + x, 0);
  const pick = (ok: (i: number) => boolean, score: (i: number) => number): number => {
    let best = -1;
    for (let i = 0; i < a.length; i++) if (ok(i) && (best < 0 || score(i) > score(best))) best = i;
    return best;
  };
  while (sum > units) {
    const i = pick(
      (k) => a[k]! > minUnits,
      (k) => a[k]! - quota[k]!,
    );
    if (i < 0) break;
    a[i]!--;
    sum--;
  }
  while (sum < units) {
    const i = pick(
      (k) => a[k]! < want[k]!,
      (k) => quota[k]! - a[k]!,
    );
    if (i < 0) break;
    a[i]!++;
    sum++;
  }
  return a;
}

export interface DecideInvocationInput {
  plan: StagePlan;
  functions: Readonly<Record<string, Pick<FunctionSpec, 'cpu' | 'memoryMb'>>>;
  /** Raw predictions by node (e.g. `predictInvocation`); a missing node is `no-prediction`. */
  predictions: Readonly<Record<string, DemandInput>>;
  /** Per-function cap of the normaliser (e.g. the largest worker). Default the grid's maximum. */
  maxByFunction?: Readonly<Record<string, Allocation>>;
}

/**
 * Decisions for every task node of an invocation outside foreach bodies, in stage order. Foreach
 * body instances exist only at run time; decide them with `decideStage` over the instances.
 */
export function decideInvocation(
  input: DecideInvocationInput,
  options: DecideOptions = {},
): NodeHarvest[] {
  const out: NodeHarvest[] = [];
  for (const stage of input.plan.stages) {
    if (stage.foreach) continue;
    const members = stage.members.map((m): StageMemberInput => {
      const spec = input.functions[m.fn];
      if (!spec)
        throw new AppError(
          'BAD_REQUEST',
          `node ${m.node} runs function ${m.fn}, which is not in the workflow's functions`,
        );
      const user = { cpu: spec.cpu, memoryMb: spec.memoryMb };
      const max = input.maxByFunction?.[m.fn];
      const demand = input.predictions[m.node];
      return {
        node: m.node,
        fn: m.fn,
        user,
        ...(max ? { max } : {}),
        ...(demand ? { demand } : {}),
      };
    });
    out.push(...decideStage({ id: stage.id, members }, options));
  }
  return out;
}
