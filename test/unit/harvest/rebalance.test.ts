import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.js';
import {
  onSiblingFinished,
  onStageEnded,
  rebalance,
  type RunningSibling,
  type StageCpu,
} from '../../../worker/harvest/rebalance.js';

function sib(
  node: string,
  quota: number,
  demand: number,
  applied = quota,
  remainingFraction?: number,
): RunningSibling {
  return {
    node,
    quotaMillicores: quota,
    appliedMillicores: applied,
    demandMillicores: demand,
    ...(remainingFraction === undefined ? {} : { remainingFraction }),
  };
}

const quotas = (r: {
  quotas: { node: string; quotaMillicores: number }[];
}): Record<string, number> => Object.fromEntries(r.quotas.map((q) => [q.node, q.quotaMillicores]));

describe('rebalance', () => {
  it("gives a finished sibling's CPU to the running ones up to their predicted demand", () => {
    const stage: StageCpu = {
      stage: 's',
      totalMillicores: 6000,
      maxMillicores: 8000,
      running: [sib('a', 1000, 3000), sib('b', 2000, 2500), sib('c', 3000, 3000)],
    };
    const r = onSiblingFinished(stage, { node: 'c', userMillicores: 2000 });
    // Pool 3000; headrooms 2000 and 500: both filled, 500 left idle.
    expect(quotas(r)).toEqual({ a: 3000, b: 2500 });
    expect(r.idleMillicores).toBe(500);
    expect(r.restore).toEqual({ node: 'c', quotaMillicores: 2000 });
    expect(r.quotas.map((q) => q.changed)).toEqual([true, true]);
  });

  it('shares in proportion to headroom × remaining work', () => {
    const r = rebalance({
      stage: 's',
      totalMillicores: 3000,
      maxMillicores: 8000,
      running: [sib('a', 1000, 3000, 1000, 0.25), sib('b', 1000, 3000, 1000, 1)],
    });
    expect(quotas(r)).toEqual({ a: 1200, b: 1800 });
    expect(r.idleMillicores).toBe(0);
  });

  it('caps each sandbox at the per-sandbox max and keeps the rest idle', () => {
    const r = rebalance({
      stage: 's',
      totalMillicores: 6000,
      maxMillicores: 2500,
      running: [sib('a', 1000, 6000)],
    });
    expect(quotas(r)).toEqual({ a: 2500 });
    expect(r.idleMillicores).toBe(3500);
  });

  it('shares what is left beyond the predicted demand when asked, up to the max', () => {
    const r = rebalance(
      {
        stage: 's',
        totalMillicores: 6000,
        maxMillicores: 3000,
        running: [sib('a', 1000, 1000, 1000, 1), sib('b', 1000, 1500, 1000, 0.5)],
      },
      { beyondDemand: true },
    );
    // Demand first: b +500. Then 3500 by remaining work 1 : 0.5, a capped at 3000.
    expect(quotas(r)).toEqual({ a: 3000, b: 3000 });
    expect(r.idleMillicores).toBe(0);
  });

  it('never lowers a quota below the applied allocation and restarts from it when quotas no longer fit', () => {
    const low = rebalance({
      stage: 's',
      totalMillicores: 4000,
      maxMillicores: 8000,
      running: [sib('a', 500, 1000, 2000)],
    });
    expect(quotas(low)).toEqual({ a: 2000 });
    const shrunk = rebalance({
      stage: 's',
      totalMillicores: 3000,
      maxMillicores: 8000,
      running: [sib('a', 2500, 3000, 1000), sib('b', 1500, 1000, 1000)],
    });
    expect(quotas(shrunk)).toEqual({ a: 2000, b: 1000 });
  });

  it('rejects applied allocations above the stage total and malformed input', () => {
    const run = (s: StageCpu) => () => rebalance(s);
    expect(
      run({ stage: 's', totalMillicores: 1000, maxMillicores: 8000, running: [sib('a', 2000, 0)] }),
    ).toThrow(AppError);
    expect(
      run({ stage: 's', totalMillicores: 1000, maxMillicores: 8000, running: [sib('a', 0.5, 0)] }),
    ).toThrow('a.quotaMillicores is 0.5; must be an integer ≥ 0 (millicores)');
    expect(
      run({
        stage: 's',
        totalMillicores: 9000,
        maxMillicores: 8000,
        running: [sib('a', 1, 0), sib('a', 1, 0)],
      }),
    ).toThrow('sibling a is listed twice');
  });

  it('returns every sandbox to its user allocation and the total to the worker when the stage ends', () => {
    expect(
      onStageEnded({ stage: 's', totalMillicores: 5000 }, [
        { node: 'a', userMillicores: 2000 },
        { node: 'b', userMillicores: 3000 },
      ]),
    ).toEqual({
      restore: [
        { node: 'a', quotaMillicores: 2000 },
        { node: 'b', quotaMillicores: 3000 },
      ],
      releasedMillicores: 5000,
    });
  });

  it('never exceeds the stage total, never goes below applied, and is idempotent', () => {
    const scenario = fc
      .record({
        running: fc.uniqueArray(
          fc.record({
            node: fc.string({ minLength: 1, maxLength: 3 }),
            applied: fc.integer({ min: 0, max: 8000 }),
            extra: fc.integer({ min: 0, max: 4000 }),
            demand: fc.integer({ min: 0, max: 16_000 }),
            remaining: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
          }),
          { maxLength: 10, selector: (s) => s.node },
        ),
        slack: fc.integer({ min: 0, max: 20_000 }),
        maxMillicores: fc.integer({ min: 0, max: 16_000 }),
        beyondDemand: fc.boolean(),
      })
      .map(({ running, slack, maxMillicores, beyondDemand }) => {
        const applied = running.reduce((s, r) => s + r.applied, 0);
        const stage: StageCpu = {
          stage: 's',
          totalMillicores: applied + slack,
          maxMillicores,
          running: running.map((r) =>
            sib(r.node, r.applied + r.extra, r.demand, r.applied, r.remaining),
          ),
        };
        return { stage, beyondDemand };
      });
    fc.assert(
      fc.property(scenario, ({ stage, beyondDemand }) => {
        const r = rebalance(stage, { beyondDemand });
        const sum = r.quotas.reduce((s, q) => s + q.quotaMillicores, 0);
        expect(sum).toBeLessThanOrEqual(stage.totalMillicores);
        expect(r.idleMillicores).toBe(stage.totalMillicores - sum);
        stage.running.forEach((s, i) => {
          const q = r.quotas[i]!;
          expect(q.node).toBe(s.node);
          expect(Number.isInteger(q.quotaMillicores)).toBe(true);
          expect(q.quotaMillicores).toBeGreaterThanOrEqual(s.appliedMillicores);
          // Growth only up to the per-sandbox max (and, without beyondDemand, the demand).
          const base = Math.max(
            s.appliedMillicores,
            Math.min(s.quotaMillicores, q.quotaMillicores),
          );
          const cap = beyondDemand
            ? stage.maxMillicores
            : Math.min(stage.maxMillicores, s.demandMillicores);
          expect(q.quotaMillicores).toBeLessThanOrEqual(Math.max(base, cap));
        });
        const again = rebalance(
          {
            ...stage,
            running: stage.running.map((s, i) => ({
              ...s,
              quotaMillicores: r.quotas[i]!.quotaMillicores,
            })),
          },
          { beyondDemand },
        );
        expect(quotas(again)).toEqual(quotas(r));
        expect(again.quotas.every((q) => !q.changed)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
