/**
 * The budget controller (issue 15, item 5): keeps the memory-seconds spent on prewarms that were
 * never used at `budget` (a fraction of all sandbox memory-seconds of the workflow) by turning the
 * planner's price. Pure: feedback in, new state out; the caller feeds it once per period (e.g.
 * each finished invocation, or each second) with what the pools reported.
 *
 * A PI controller on log(price): the error is the windowed waste fraction (decayed sums, so a
 * burst long ago no longer counts) minus the budget; above budget the price rises (fewer, surer
 * prepares), below it falls (more removal for the memory allowed). Hysteresis: inside the dead
 * band ±`deadband` around the budget the price holds and the integral does not move, so noise
 * around the set point does not make prepares flicker on and off. Anti-windup: the integral
 * stops growing while the price sits at a bound.
 */
import { decayFactor } from './digest.js';

/** The `prewarm:` settings of a workflow (parsed by master/workflow). */
export type { PrewarmSpec as PrewarmSettings } from '../dag/types.js';

export const PREWARM_DEFAULT_BUDGET = 0.1;

export interface BudgetOptions {
  /** Price at the start, ms saved per MB·s. Default 0.05. */
  initialPrice: number;
  minPrice: number;
  maxPrice: number;
  /** Proportional gain on log(price) per unit of waste fraction. Default 12. */
  kp: number;
  /** Integral gain per period. Default 4. */
  ki: number;
  /** Half-width of the hold band around the budget (fraction). Default 0.005. */
  deadband: number;
  /** Periods after which past feedback counts half in the waste fraction. Default 30. */
  windowHalfLife: number;
}

export const BUDGET_DEFAULTS: BudgetOptions = {
  initialPrice: 0.05,
  minPrice: 1e-5,
  maxPrice: 1e3,
  kp: 12,
  ki: 4,
  deadband: 0.005,
  windowHalfLife: 30,
};

export interface BudgetState {
  price: number;
  /** Σ error over the periods outside the dead band. */
  integral: number;
  /** Windowed (decayed) memory-seconds of unused prewarms and of all sandboxes. */
  wasteMbS: number;
  totalMbS: number;
  /** The windowed waste fraction at the last update; null before any feedback. */
  fraction: number | null;
  updates: number;
}

export function newBudgetState(o: Partial<BudgetOptions> = {}): BudgetState {
  const opts = { ...BUDGET_DEFAULTS, ...o };
  return {
    price: opts.initialPrice,
    integral: 0,
    wasteMbS: 0,
    totalMbS: 0,
    fraction: null,
    updates: 0,
  };
}

export interface BudgetFeedback {
  /** Memory-seconds of prewarmed sandboxes that were evicted unused in the period, MB·s. */
  wastedMbS: number;
  /** Memory-seconds of every sandbox of the workflow in the period (prewarms included), MB·s. */
  totalMbS: number;
}

export function updateBudget(
  state: BudgetState,
  feedback: BudgetFeedback,
  budget: number,
  o: Partial<BudgetOptions> = {},
): BudgetState {
  const opts = { ...BUDGET_DEFAULTS, ...o };
  const d = decayFactor(opts.windowHalfLife);
  const wasteMbS = state.wasteMbS * d + Math.max(0, feedback.wastedMbS);
  const totalMbS = state.totalMbS * d + Math.max(0, feedback.totalMbS);
  if (totalMbS <= 0) return { ...state, wasteMbS, totalMbS };
  const fraction = wasteMbS / totalMbS;
  const error = fraction - budget;
  let integral = state.integral;
  const base = Math.log(opts.initialPrice);
  const atMax = state.price >= opts.maxPrice && error > 0;
  const atMin = state.price <= opts.minPrice && error < 0;
  let price = state.price;
  if (Math.abs(error) > opts.deadband) {
    if (!atMax && !atMin) integral += error;
    const logPrice = base + opts.kp * error + opts.ki * integral;
    price = Math.min(opts.maxPrice, Math.max(opts.minPrice, Math.exp(logPrice)));
  }
  return { price, integral, wasteMbS, totalMbS, fraction, updates: state.updates + 1 };
}
