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

/** What a function runs with: whole or fractional cores and MB. */
export interface Allocation {
  /** Cores. */
  cpu: number;
  memoryMb: number;
}

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
 * The system's grid: 1..8 cores in steps of 1 core, 128..8192 MB in steps of 128 MB — the
 * limits workflows are validated against, and Table 3.2 of the harvesting thesis (Fotouhi 2024).
 */
export const ALLOCATION_GRID: AllocationGrid = Object.freeze({
  cpu: Object.freeze({ min: 1, max: 8, step: 1 }),
  memoryMb: Object.freeze({ min: 128, max: 8192, step: 128 }),
});

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
 */
export type HarvestReasonCode =
  | 'not-parallel'
  | 'no-prediction'
  | 'no-model'
  | 'invalid-prediction'
  | 'over-total'
  | 'scaled'
  | 'infeasible';

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
}
