/**
 * Arithmetic on the allocation grid (`min + k·step` up to `max`), shared by the accuracy metric
 * (models.ts) and the normaliser (decide.ts).
 */
import type { AllocationAxis } from '../../shared/harvest/types.js';

/**
 * Slack for floating-point noise: a prediction of 2.0000000001 cores is 2 cores, not 3. Relative
 * to the step, so it means the same for cores and MB.
 */
const EPSILON = 1e-9;

/**
 * A(P) of the thesis: the smallest allocation on the grid that is ≥ `p` (the minimum when `p` is
 * below it); null when `p` is above the grid's maximum, as no allocation then covers it.
 */
export function allocationAtLeast(p: number, axis: AllocationAxis): number | null {
  if (!(p > axis.min)) return axis.min;
  const steps = Math.ceil((p - axis.min) / axis.step - EPSILON);
  const a = axis.min + Math.max(0, steps) * axis.step;
  return a > axis.max + axis.step * EPSILON ? null : a;
}

/** Grid steps in `value` (floor), counted from zero: 4.0 cores at step 1 → 4; 300 MB at 128 → 2. */
export function stepsIn(value: number, axis: AllocationAxis): number {
  return Math.floor(value / axis.step + EPSILON);
}
