/**
 * The budget controller (shared/chains/budget.ts) on its own and in the seeded simulation of
 * `bench chains --sim`: the price rises above budget and falls below it, holds inside the dead
 * band, stops at its bounds; in simulation the waste fraction is held within ±2 points.
 */
import { describe, expect, it } from 'vitest';
import { chainsWorkload, CHAINS_DEFAULTS } from '../../bench/chains.js';
import { simulate } from '../../bench/chains-sim.js';
import { BUDGET_DEFAULTS, newBudgetState, updateBudget } from '../../shared/chains/budget.js';

describe('budget controller', () => {
  it('raises the price while waste is above budget and lowers it below', () => {
    let up = newBudgetState();
    for (let i = 0; i < 5; i++) up = updateBudget(up, { wastedMbS: 30, totalMbS: 100 }, 0.1);
    expect(up.price).toBeGreaterThan(BUDGET_DEFAULTS.initialPrice);
    let down = newBudgetState();
    for (let i = 0; i < 5; i++) down = updateBudget(down, { wastedMbS: 1, totalMbS: 100 }, 0.1);
    expect(down.price).toBeLessThan(BUDGET_DEFAULTS.initialPrice);
  });

  it('holds the price inside the dead band (hysteresis)', () => {
    let s = newBudgetState();
    s = updateBudget(s, { wastedMbS: 20, totalMbS: 100 }, 0.1);
    const p = s.price;
    const integral = s.integral;
    // Window fraction → 0.1 ± 0.004: no move.
    let t = { ...s, wasteMbS: 10.3, totalMbS: 100 };
    t = updateBudget(t, { wastedMbS: 0.1, totalMbS: 1 }, 0.1);
    expect(Math.abs(t.fraction! - 0.1)).toBeLessThan(BUDGET_DEFAULTS.deadband);
    expect(t.price).toBe(p);
    expect(t.integral).toBe(integral);
  });

  it('stays within its bounds and does not wind up there', () => {
    let s = newBudgetState();
    for (let i = 0; i < 500; i++) s = updateBudget(s, { wastedMbS: 100, totalMbS: 100 }, 0.05);
    expect(s.price).toBe(BUDGET_DEFAULTS.maxPrice);
    const wound = s.integral;
    for (let i = 0; i < 50; i++) s = updateBudget(s, { wastedMbS: 100, totalMbS: 100 }, 0.05);
    expect(s.integral).toBe(wound);
  });

  it('ignores periods with no memory-seconds at all', () => {
    const s = updateBudget(newBudgetState(), { wastedMbS: 0, totalMbS: 0 }, 0.1);
    expect(s.fraction).toBeNull();
    expect(s.price).toBe(BUDGET_DEFAULTS.initialPrice);
  });

  it.each([0.05, 0.1])(
    'holds the waste within ±2 points of a %s budget in the seeded simulation',
    async (budget) => {
      const workload = await chainsWorkload(3);
      const r = simulate(workload, 'predictive', {
        ...CHAINS_DEFAULTS,
        invocations: 400,
        warmup: 50,
        budget,
      });
      const fraction = r.wasteMbS / r.totalMbS;
      expect(Math.abs(fraction - budget)).toBeLessThanOrEqual(0.02);
    },
    60_000,
  );

  it('the simulation is deterministic in its seed', async () => {
    const workload = await chainsWorkload(3);
    const o = { ...CHAINS_DEFAULTS, invocations: 40, warmup: 10 };
    const a = simulate(workload, 'predictive', o);
    const b = simulate(workload, 'predictive', o);
    expect(b.outcomes).toEqual(a.outcomes);
    expect(b.wasteMbS).toBe(a.wasteMbS);
    const other = simulate(workload, 'predictive', { ...o, seed: 2 });
    expect(other.outcomes).not.toEqual(a.outcomes);
  });
});
