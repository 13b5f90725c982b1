/**
 * The forecast part of `faasflow bench shard --sim`: Holt–Winters against the last-value
 * forecast on seeded arrival-count series (calls per second, Poisson around a rate):
 * - seasonal: a 60-s cycle (40 ± 25 calls/s) with a slow trend;
 * - flat: a constant 50 calls/s (the keyed simulation's kind of load);
 * - step: 30 calls/s, then 80 from halfway (a hot spot arriving).
 * The constants are fitted (`fitHoltWinters`) on the first 240 s; the errors are the mean
 * absolute error of forecasts 1 s and 5 s ahead over the remaining 360 s.
 */
import { mulberry32 } from '../shared/random.js';
import { fitHoltWinters, hwError, lastValueError } from '../shared/shard/forecast.js';

export interface ForecastRow {
  series: 'seasonal' | 'flat' | 'step';
  season: number;
  horizonS: number;
  holtWintersMae: number;
  lastValueMae: number;
  /** holtWintersMae / lastValueMae. */
  ratio: number;
}

const LENGTH = 600;
const FIT = 240;

function poisson(rnd: () => number, lambda: number): number {
  // Knuth's method: fine for the rates here (λ < 200).
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rnd();
  } while (p > limit);
  return k - 1;
}

export function forecastSeries(kind: ForecastRow['series'], seed: number): number[] {
  const rnd = mulberry32(seed * 31 + kind.length);
  return Array.from({ length: LENGTH }, (_, t) => {
    const rate =
      kind === 'seasonal'
        ? 40 + 25 * Math.sin((2 * Math.PI * t) / 60) + 0.02 * t
        : kind === 'flat'
          ? 50
          : t < LENGTH / 2
            ? 30
            : 80;
    return poisson(rnd, rate);
  });
}

export function simulateForecast(seed: number): ForecastRow[] {
  const rows: ForecastRow[] = [];
  for (const [series, season] of [
    ['seasonal', 60],
    ['flat', 0],
    ['step', 0],
  ] as const) {
    const xs = forecastSeries(series, seed);
    const p = fitHoltWinters(xs.slice(0, FIT), season);
    for (const h of [1, 5]) {
      const hw = hwError(xs, p, FIT, h).mae;
      const lv = lastValueError(xs, FIT, h).mae;
      rows.push({
        series,
        season,
        horizonS: h,
        holtWintersMae: hw,
        lastValueMae: lv,
        ratio: hw / lv,
      });
    }
  }
  return rows;
}
