import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../shared/retry.js';

const LOW = (): number => 0;
const HIGH = (): number => 0.999999;
const MID = (): number => 0.5;

describe('backoffMs', () => {
  it('starts at the base delay: between base/2 and base', () => {
    expect(backoffMs(1, { baseMs: 100 }, LOW)).toBe(50);
    expect(backoffMs(1, { baseMs: 100 }, HIGH)).toBe(100);
    expect(backoffMs(1, { baseMs: 100 }, MID)).toBe(75);
  });

  it('uses base 100 ms and cap 5000 ms by default', () => {
    expect(backoffMs(1, {}, HIGH)).toBe(100);
    expect(backoffMs(30, {}, HIGH)).toBe(5000);
    expect(backoffMs(30, {}, LOW)).toBe(2500);
  });

  it('doubles the ceiling with every attempt', () => {
    const ceilings = [1, 2, 3, 4, 5].map((a) =>
      backoffMs(a, { baseMs: 10, maxMs: 1_000_000 }, HIGH),
    );
    expect(ceilings).toEqual([10, 20, 40, 80, 160]);
  });

  it('stops growing at maxMs', () => {
    const delays = [6, 7, 20, 1000].map((a) => backoffMs(a, { baseMs: 100, maxMs: 3000 }, HIGH));
    expect(delays).toEqual([3000, 3000, 3000, 3000]);
  });

  it('stays within [ceiling/2, ceiling] for any random value', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
        const d = backoffMs(attempt, {}, () => r);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('grows with the random draw (jitter, not a fixed delay)', () => {
    const draws = [0, 0.2, 0.4, 0.6, 0.8].map((r) => backoffMs(3, { baseMs: 100 }, () => r));
    expect(new Set(draws).size).toBe(draws.length);
    expect([...draws].sort((a, b) => a - b)).toEqual(draws);
  });

  it('never waits zero ms with a positive base', () => {
    expect(backoffMs(1, { baseMs: 1 }, LOW)).toBeGreaterThan(0);
  });

  it('treats attempt 0 or below like the first retry', () => {
    expect(backoffMs(0, { baseMs: 100 }, HIGH)).toBe(100);
    expect(backoffMs(-3, { baseMs: 100 }, HIGH)).toBe(100);
  });
});
