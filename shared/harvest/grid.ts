/**
 * Arithmetic on the allocation grid (`min + k·step` up to `max`), shared by the accuracy metric
 * (models.ts) and the normaliser and validator (decide.ts).
 *
 * Everything is done in integer milli-units — millicores for CPU (Kubernetes' unit), thousandths
 * of a MB for memory — so sums and budgets are exact: 3 × 0.5 cores is 1500 millicores, and a
 * 1.5-core budget no longer rounds down to 1 core.
 */
import type { AllocationAxis } from './types.js';

/** Milli-units per unit: cores → millicores, MB → thousandths of a MB. */
const MILLI = 1000;

/** A grid axis in integer milli-units. */
export interface MilliAxis {
  min: number;
  max: number;
  step: number;
}

/** `value` (cores or MB) in integer milli-units. */
export function toMilli(value: number): number {
  return Math.round(value * MILLI);
}

export function fromMilli(milli: number): number {
  return milli / MILLI;
}

export function milliAxis(axis: AllocationAxis): MilliAxis {
  const step = Math.max(1, toMilli(axis.step));
  return { min: toMilli(axis.min), max: toMilli(axis.max), step };
}

/**
 * A(P) of the thesis in milli-units: the smallest grid point ≥ `pMilli` (the minimum when it is
 * below it); null when `pMilli` is above the grid's maximum, as no allocation then covers it.
 * `pMilli` may be fractional (a raw prediction); a hair above a grid point (float noise below
 * one thousandth of a milli-unit) counts as that point.
 */
export function milliAtLeast(pMilli: number, a: MilliAxis): number | null {
  if (!(pMilli > a.min)) return a.min;
  const steps = Math.ceil((pMilli - a.min - 1e-3) / a.step);
  const v = a.min + Math.max(0, steps) * a.step;
  return v > a.max ? null : v;
}

/** The largest grid point ≤ `milli` (the minimum when it is below it). */
export function milliAtMost(milli: number, a: MilliAxis): number {
  if (milli <= a.min) return a.min;
  const steps = Math.floor((Math.min(milli, a.max) - a.min) / a.step);
  return a.min + steps * a.step;
}

/**
 * A(P) of the thesis: the smallest allocation on the grid that is ≥ `p` (the minimum when `p` is
 * below it); null when `p` is above the grid's maximum, as no allocation then covers it.
 */
export function allocationAtLeast(p: number, axis: AllocationAxis): number | null {
  const v = milliAtLeast(p * MILLI, milliAxis(axis));
  return v === null ? null : fromMilli(v);
}

/** Grid steps in `value` (floor), counted from zero: 4.0 cores at step 1 → 4; 300 MB at 128 → 2. */
export function stepsIn(value: number, axis: AllocationAxis): number {
  return Math.floor(toMilli(value) / milliAxis(axis).step);
}
