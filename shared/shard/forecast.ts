/**
 * Arrival-rate forecasts for a function (calls per interval): additive Holt–Winters (level,
 * trend and, optionally, a season of `season` intervals), and the last-value forecast it is
 * measured against. Pure and online: `hwUpdate` folds one observation into the state, so the
 * master can keep one state per function and range and forecast before each cycle.
 *
 * `fitHoltWinters` picks the smoothing constants on a history by a fixed grid search minimising
 * the one-step squared error (deterministic: same series, same constants).
 */
import { AppError } from '../errors.js';

export interface HoltWintersParams {
  /** Level smoothing, (0, 1]. */
  alpha: number;
  /** Trend smoothing, [0, 1]. */
  beta: number;
  /** Season smoothing, [0, 1] (ignored without a season). */
  gamma: number;
  /** Intervals per season (≥ 2), or 0 for none. */
  season: number;
  /** Trend damping φ in (0, 1]: forecasts h ahead add Σφ^i · trend. Default 0.98. */
  damping?: number;
}

export interface HoltWintersState {
  level: number;
  trend: number;
  /** Season offsets, indexed by interval number mod season (empty without a season). */
  seasonal: number[];
  /** Observations folded in so far. */
  n: number;
}

export function hwInit(history: readonly number[], p: HoltWintersParams): HoltWintersState {
  checkParams(p);
  const m = p.season;
  if (history.length === 0)
    return { level: 0, trend: 0, seasonal: new Array<number>(m).fill(0), n: 0 };
  if (m === 0 || history.length < 2 * m) {
    // No full season pair yet: start flat at the first value and learn the rest online.
    let s: HoltWintersState = {
      level: history[0]!,
      trend: 0,
      seasonal: new Array<number>(m).fill(0),
      n: 1,
    };
    for (const x of history.slice(1)) s = hwUpdate(s, x, p);
    return s;
  }
  const first = mean(history.slice(0, m));
  const second = mean(history.slice(m, 2 * m));
  const seasonal = history.slice(0, m).map((x) => x - first);
  let s: HoltWintersState = { level: first, trend: (second - first) / m, seasonal, n: m };
  for (const x of history.slice(m)) s = hwUpdate(s, x, p);
  return s;
}

export function hwUpdate(s: HoltWintersState, x: number, p: HoltWintersParams): HoltWintersState {
  const m = p.season;
  const phi = p.damping ?? 0.98;
  const idx = m === 0 ? 0 : s.n % m;
  const seas = m === 0 ? 0 : s.seasonal[idx]!;
  const level = p.alpha * (x - seas) + (1 - p.alpha) * (s.level + phi * s.trend);
  const trend = p.beta * (level - s.level) + (1 - p.beta) * phi * s.trend;
  const seasonal = [...s.seasonal];
  if (m > 0) seasonal[idx] = p.gamma * (x - level) + (1 - p.gamma) * seas;
  return { level, trend, seasonal, n: s.n + 1 };
}

/** Forecast `h` ≥ 1 intervals after the last observation; never below 0 (a rate). */
export function hwForecast(s: HoltWintersState, p: HoltWintersParams, h = 1): number {
  const phi = p.damping ?? 0.98;
  let damp = 0;
  for (let i = 1; i <= h; i++) damp += phi ** i;
  const seas = p.season === 0 ? 0 : s.seasonal[(s.n + h - 1) % p.season]!;
  return Math.max(0, s.level + damp * s.trend + seas);
}

export interface ForecastError {
  /** Mean absolute error of the forecasts made `horizon` ahead over the scored part. */
  mae: number;
  count: number;
}

/**
 * Scores forecasting `horizon` ahead over `series[warmup..]`: the state is built from the
 * first `warmup` values, then every later value is first forecast and then folded in.
 */
export function hwError(
  series: readonly number[],
  p: HoltWintersParams,
  warmup: number,
  horizon = 1,
): ForecastError {
  let s = hwInit(series.slice(0, warmup), p);
  let sum = 0;
  let count = 0;
  // Before folding in series[t], the state has seen up to t-1: its forecast h ahead is for
  // t+h-1, so the one pushed h-1 steps ago is for t.
  const pending: number[] = [];
  for (let t = warmup; t < series.length; t++) {
    pending.push(hwForecast(s, p, horizon));
    if (pending.length === horizon) {
      sum += Math.abs(series[t]! - pending.shift()!);
      count++;
    }
    s = hwUpdate(s, series[t]!, p);
  }
  return { mae: count === 0 ? 0 : sum / count, count };
}

/** The baseline: the value `horizon` intervals ago is the forecast. */
export function lastValueError(
  series: readonly number[],
  warmup: number,
  horizon = 1,
): ForecastError {
  let sum = 0;
  let count = 0;
  for (let t = Math.max(warmup, horizon); t < series.length; t++) {
    sum += Math.abs(series[t]! - series[t - horizon]!);
    count++;
  }
  return { mae: count === 0 ? 0 : sum / count, count };
}

const GRID_ALPHA = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];
const GRID_BETA = [0, 0.01, 0.05, 0.1, 0.2];
const GRID_GAMMA = [0.05, 0.1, 0.2, 0.4];

/** Smoothing constants minimising the one-step absolute error on `history` (grid search). */
export function fitHoltWinters(history: readonly number[], season = 0): HoltWintersParams {
  const warmup = Math.min(history.length, season > 0 ? 2 * season : 2);
  let best: { p: HoltWintersParams; e: number } | undefined;
  for (const alpha of GRID_ALPHA)
    for (const beta of GRID_BETA)
      for (const gamma of season > 0 ? GRID_GAMMA : [0]) {
        const p = { alpha, beta, gamma, season };
        const e = hwError(history, p, warmup, 1).mae;
        if (!best || e < best.e) best = { p, e };
      }
  return best!.p;
}

function checkParams(p: HoltWintersParams): void {
  const bad =
    !(p.alpha > 0 && p.alpha <= 1) ||
    !(p.beta >= 0 && p.beta <= 1) ||
    !(p.gamma >= 0 && p.gamma <= 1) ||
    !(Number.isInteger(p.season) && (p.season === 0 || p.season >= 2)) ||
    (p.damping !== undefined && !(p.damping > 0 && p.damping <= 1));
  if (bad)
    throw new AppError(
      'BAD_REQUEST',
      `Holt–Winters parameters out of range: alpha in (0, 1], beta and gamma in [0, 1], season 0 or ≥ 2, damping in (0, 1]; got ${JSON.stringify(p)}`,
    );
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
