/**
 * The harvest decision for an invocation: the thesis's Allocation Normaliser and Harvesting
 * Validator (Fotouhi 2024, §3.5.2), pure and deterministic.
 *
 * Normaliser: a predicted demand is rounded *up* to the next allocation of the grid (2.78 cores
 * → 3; 234.32 MB → 256 MB), at least one step (1 core, 128 MB), at most the function's max.
 *
 * Validator, per parallel stage and per resource (CPU and memory independently):
 * - the stage's budget is the sum of its users' allocations — of the siblings that have a valid
 *   prediction; a sibling without one keeps its user allocation and its resources stay its own;
 * - when the normalised predictions fit the budget, every sibling runs with its prediction:
 *   the ones predicted to need less than they asked give up the difference and the ones
 *   predicted to need more get it (the thesis's 3-1 split of 4 units is valid, as is 1-1: the
 *   remainder is simply not used);
 * - when they exceed it (the thesis's 6-2 split of 4 units), policy `scale` (default) shares the
 *   budget in proportion to the predictions (6-2 → 3-1), each sibling between one step and its
 *   prediction, so the ratio of the demands is kept; policy `fallback` keeps every user
 *   allocation, as the thesis does for a split it deems invalid (5-1 of 4);
 * - a stage of width 1 keeps the user allocation (`not-parallel`): harvesting happens only
 *   among parallel siblings.
 * Hence, per stage and resource, Σ applied ≤ Σ user: nothing is ever taken from another stage or
 * another invocation. Every node whose applied allocation is not its prediction carries a reason.
 */
import type { FunctionSpec } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import {
  ALLOCATION_GRID,
  type Allocation,
  type AllocationGrid,
  type HarvestReason,
  type HarvestReasonCode,
  type NodeHarvest,
  type Resource,
} from '../../shared/harvest/types.js';
import { allocationAtLeast, stepsIn } from './grid.js';
import type { StagePlan } from './stages.js';

export type OverTotalPolicy = 'scale' | 'fallback';

export interface DecideOptions {
  /** Allocation grid. Default `ALLOCATION_GRID` (1..8 cores step 1, 128..8192 MB step 128). */
  grid?: AllocationGrid;
  /** What to do when a stage's predictions exceed its users' total. Default `scale`. */
  overTotal?: OverTotalPolicy;
}

/** A raw prediction (ML2's output, not yet normalised) or why there is none. */
export type DemandInput =
  { kind: 'ok'; cpuCores: number; memoryMb: number } | { kind: 'no-model'; message: string };

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
    const axis = grid[r];
    const cap = Math.max(axis.min, Math.min(axis.max, max[r]));
    return Math.min(cap, allocationAtLeast(p, axis) ?? axis.max);
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
  const maxOf = (m: StageMemberInput): Allocation =>
    m.max ?? { cpu: grid.cpu.max, memoryMb: grid.memoryMb.max };

  const out: NodeHarvest[] = [];
  const reasons: (ReasonMap | null)[] = [];
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
      const axis = grid[r];
      const budget = predicted.reduce((s, i) => s + out[i]!.user[r], 0);
      const want = predicted.map((i) => stepsIn(out[i]!.predicted![r], axis));
      const units = stepsIn(budget, axis);
      const wanted = want.reduce((s, w) => s + w, 0);
      if (wanted <= units) continue;
      const what = r === 'cpu' ? 'cores' : 'MB';
      const total = `predictions sum to ${wanted * axis.step} ${what}, the stage's users allocated ${budget} ${what}`;
      const minUnits = stepsIn(axis.min, axis);
      if (policy === 'fallback' || units < predicted.length * minUnits) {
        const code = policy === 'fallback' ? 'over-total' : 'infeasible';
        const why =
          code === 'over-total'
            ? `${total}; keeping the users' allocations`
            : `${budget} ${what} cannot give ${predicted.length} siblings ${axis.min} each`;
        for (const i of predicted) {
          out[i]!.applied[r] = out[i]!.user[r];
          note(i, code, why, r);
        }
        continue;
      }
      const shares = apportion(want, units, minUnits);
      predicted.forEach((i, k) => {
        out[i]!.applied[r] = shares[k]! * axis.step;
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

/** Fallbacks first: the code that decided the applied allocation comes first. */
const SEVERITY: readonly HarvestReasonCode[] = [
  'no-prediction',
  'no-model',
  'invalid-prediction',
  'not-parallel',
  'infeasible',
  'over-total',
  'scaled',
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
