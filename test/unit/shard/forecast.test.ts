/** Arrival-rate forecasts: Holt–Winters tracks trend and season; its error against last-value. */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../shared/random.js';
import {
  fitHoltWinters,
  hwError,
  hwForecast,
  hwInit,
  lastValueError,
} from '../../../shared/shard/forecast.js';

const seasonal = (n: number, noise: number, seed = 1): number[] => {
  const rnd = mulberry32(seed);
  return Array.from(
    { length: n },
    (_, t) => 50 + 20 * Math.sin((2 * Math.PI * t) / 24) + 0.1 * t + noise * (rnd() - 0.5),
  );
};

describe('Holt–Winters forecast', () => {
  it('follows a linear trend exactly once it has seen it', () => {
    const xs = Array.from({ length: 50 }, (_, t) => 10 + 2 * t);
    const p = { alpha: 0.5, beta: 0.5, gamma: 0, season: 0, damping: 1 };
    const s = hwInit(xs, p);
    expect(hwForecast(s, p, 1)).toBeCloseTo(110, 3);
    expect(hwForecast(s, p, 5)).toBeCloseTo(118, 3);
  });

  it('learns a season: forecasts a noiseless seasonal series a season ahead closely', () => {
    const xs = seasonal(24 * 10, 0);
    const p = fitHoltWinters(xs.slice(0, 24 * 6), 24);
    expect(hwError(xs, p, 24 * 6, 1).mae).toBeLessThan(0.5);
    expect(hwError(xs, p, 24 * 6, 12).mae).toBeLessThan(1.5);
  });

  it('beats the last value clearly several steps ahead on a noisy seasonal series', () => {
    const xs = seasonal(24 * 20, 10, 7);
    const p = fitHoltWinters(xs.slice(0, 24 * 8), 24);
    const hw = hwError(xs, p, 24 * 8, 5).mae;
    const lv = lastValueError(xs, 24 * 8, 5).mae;
    expect(hw / lv).toBeLessThan(0.5);
  });

  it('never forecasts a negative rate', () => {
    const p = { alpha: 0.9, beta: 0.9, gamma: 0, season: 0 };
    const s = hwInit([100, 50, 10, 0], p);
    expect(hwForecast(s, p, 10)).toBe(0);
  });

  it('fits the same constants for the same history', () => {
    const xs = seasonal(24 * 6, 5, 3);
    expect(fitHoltWinters(xs, 24)).toEqual(fitHoltWinters([...xs], 24));
  });

  it('rejects constants out of range, naming the valid ones', () => {
    expect(() => hwInit([1], { alpha: 0, beta: 0, gamma: 0, season: 0 })).toThrow(
      /alpha in \(0, 1\]/,
    );
    expect(() => hwInit([1], { alpha: 0.5, beta: 0, gamma: 0, season: 1 })).toThrow(
      /season 0 or ≥ 2/,
    );
  });
});
