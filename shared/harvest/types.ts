/**
 * Resource harvesting: the plain data the master's harvest policy produces and a worker applies.
 * No logic beyond the allocation grid; the policies live in `master/harvest/` (prediction,
 * normaliser, validator) and `worker/harvest/` (live rebalancing).
 *
 * Invariant of every decision: within one parallel stage of one invocation, the applied
 * allocations never sum to more than the users' allocations of that stage's functions, per
 * resource. Harvesting moves resources between siblings; it never takes another stage's or
 * another invocation's.
 */
import type { Allocation } from '../schema/wire.js';

export interface AllocationAxis {
  /** Smallest allocation; a multiple of `step`. */
  min: number;
  max: number;
  /** Allocations are `min + k·step`. */
  step: number;
}

/** The allocations a function may be given, per resource. */
export interface AllocationGrid {
  cpu: AllocationAxis;
  memoryMb: AllocationAxis;
}

/**
 * The default grid: 0.05..8 cores in steps of 0.05 core (50 millicores), 64..8192 MB in steps of
 * 64 MB. Fine steps are what lets harvesting pay with the small, skew-blind allocations users
 * give (0.5 core per function): with whole cores a 4 × 0.5-core stage has nothing to move.
 */
export const ALLOCATION_GRID: AllocationGrid = Object.freeze({
  cpu: Object.freeze({ min: 0.05, max: 8, step: 0.05 }),
  memoryMb: Object.freeze({ min: 64, max: 8192, step: 64 }),
});

/**
 * The thesis's grid (Fotouhi 2024, Table 3.2): 1..8 cores in steps of 1 core, 128..8192 MB in
 * steps of 128 MB; the master's `harvestGrid: thesis`.
 */
export const THESIS_GRID: AllocationGrid = Object.freeze({
  cpu: Object.freeze({ min: 1, max: 8, step: 1 }),
  memoryMb: Object.freeze({ min: 128, max: 8192, step: 128 }),
});

/** Smallest CPU allocation a function may declare or be given: 0.05 core. */
export const MIN_CPU_MILLICORES = 50;

/**
 * Cores → integer millicores (Kubernetes' unit). Every sum, budget and share of CPU in the
 * harvest path is done in these, so 3 × 0.5 cores is 1500, never 1.4999999 or a floor of 1.
 */
export function millicores(cores: number): number {
  return Math.round(cores * 1000);
}

/** Integer millicores → cores (250 → 0.25). */
export function coresOf(mc: number): number {
  return mc / 1000;
}

/**
 * A grid with some axes changed (the master's step and minimum options); the minimum is rounded
 * up to a multiple of the step, so the grid stays `k·step`.
 */
export function gridWith(
  base: AllocationGrid,
  change: {
    cpuStep?: number;
    cpuMin?: number;
    memoryStepMb?: number;
    memoryMinMb?: number;
  },
): AllocationGrid {
  const axis = (a: AllocationAxis, step?: number, min?: number, scale = 1): AllocationAxis => {
    const s = step ?? a.step;
    const m = min ?? (step === undefined ? a.min : Math.max(a.min, s));
    const units = Math.round(s * scale);
    const minUnits = Math.ceil(Math.round(m * scale) / units) * units;
    return { min: minUnits / scale, max: a.max, step: units / scale };
  };
  return {
    cpu: axis(base.cpu, change.cpuStep, change.cpuMin, 1000),
    memoryMb: axis(base.memoryMb, change.memoryStepMb, change.memoryMinMb),
  };
}

export type Resource = 'cpu' | 'memoryMb';

/**
 * Why a node does not simply run with its (normalised) prediction.
 * - `not-parallel`: the node is alone in its stage; the thesis harvests only within parallel
 *   stages, so it keeps the user's allocation.
 * - `no-prediction`: no prediction was supplied for the node.
 * - `no-model`: the model set has no model for it (too few profile records).
 * - `invalid-prediction`: the prediction is not a finite number ≥ 0.
 * - `over-total`: the stage's predictions exceed its users' total and the policy is `fallback`.
 * - `scaled`: the stage's predictions exceed its users' total and were scaled down to fit it.
 * - `infeasible`: the stage's total cannot give every predicted sibling one allocation step.
 * - `work-shared`: the stage's CPU was divided in proportion to predicted work (CPU time), each
 *   sibling capped at the cores it can use (the `work` policy).
 * - `user-policy`: the CPU policy is `user`: the sibling keeps its user's CPU (only live
 *   rebalancing on the worker moves it).
 */
export type HarvestReasonCode =
  | 'not-parallel'
  | 'no-prediction'
  | 'no-model'
  | 'invalid-prediction'
  | 'over-total'
  | 'scaled'
  | 'infeasible'
  | 'work-shared'
  | 'user-policy';

export interface HarvestReason {
  code: HarvestReasonCode;
  message: string;
  /** The resources the reason applies to. */
  resources: Resource[];
}

/** The harvest decision for one task node of one invocation. */
export interface NodeHarvest {
  node: string;
  fn: string;
  stage: string;
  /** What the workflow asked for. */
  user: Allocation;
  /** The prediction after the normaliser (rounded up to the grid, clamped); null when none. */
  predicted: Allocation | null;
  /** What the node runs with. Equals `user` on every fallback. */
  applied: Allocation;
  /**
   * Set whenever `applied` is not exactly `predicted`, and on every sibling of a stage whose
   * resource fell back (even where the user's allocation equals the prediction).
   */
  reason?: HarvestReason;
  /**
   * The predicted CPU time its CPU share was sized by (`work` policy only). The worker's
   * safeguard raises a run that used more than this and still saturates its quota.
   */
  workCpuMs?: number;
}

/** One invocation's harvesting decision (master/harvest/invocation.ts makes it). */
export type HarvestMode = 'harvest' | 'profiling' | 'given';

export interface NodeDecision {
  node: string;
  fn: string;
  stage: string;
  user: Allocation;
  /**
   * The models' raw output: ML1's input size, ML2's peaks (in `given` mode the caller's peaks,
   * no input size); null without a prediction.
   */
  demand: { inputBytes?: number; cpuCores: number; memoryMb: number } | null;
  /** `demand` rounded up to the grid (the normaliser); null without a prediction. */
  predicted: Allocation | null;
  applied: Allocation;
  reason?: { code: HarvestReasonCode | 'profiling'; message: string; resources: Resource[] };
  /** The predicted CPU time the CPU share was sized by (`work` policy). */
  workCpuMs?: number;
  /** Profiling one sibling at a time (see `profilingDecision`). */
  serial?: boolean;
}

export interface InvocationHarvest {
  mode: HarvestMode;
  /** Version of the model set that predicted; null when none did. */
  modelVersion: number | null;
  /** The size the models were fed (the input's encoded size, or the caller's `dataBytes`). */
  dagInputBytes: number;
  /** Largest allocation a node could get (the grid's maximum within the smallest worker). */
  max: Allocation;
  /** Task nodes outside foreach bodies, in stage order. */
  nodes: NodeDecision[];
  /** The tenant's end user the invocation was for, when its caller named one. */
  subTenant?: string;
}
