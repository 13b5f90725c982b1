/**
 * The composition learner's Bayesian linear head (pure; docs/guides/composition.md). The reward
 * of running a graph in a context is modelled as wᵀφ(graph, context) plus noise, on rewards
 * standardised by a running mean and spread. Each model keeps sufficient statistics (A = Σφφᵀ,
 * b = Σφy) with slow exponential forgetting, so the posterior follows a drifting world, and a
 * change detector (`detect`): when outcomes stop matching what the deciding posterior predicted,
 * every model's statistics are discounted at once, so the posteriors widen, Thompson explores
 * again and new data outweighs the old — quick recovery after a change without paying for fast
 * forgetting (a posterior that never concentrates) the rest of the time.
 *
 * Hierarchy: the tenant's global model has the prior N(0, I/λ); each sub-tenant's model has the
 * prior N(μ_global, I/shrink), so a sub-tenant with little data decides like the tenant and one
 * with much data becomes personal. With the personal projection and `marginal`, the tenant
 * model itself is estimated from the sub-tenants' statistics with their personal effects
 * integrated out (`marginalPool`), so it describes the tenant, not whoever ran an option most.
 * Posteriors are kept as the mean and the Cholesky factor L of
 * the precision (P = LLᵀ): a Thompson sample is μ + L⁻ᵀz and costs one triangular solve.
 *
 * State is plain JSON (it is stored in the cluster store); `train` turns it into a snapshot,
 * the only thing decisions read. `train` runs off the request path.
 */
import type { FunctionStats } from './features.js';

export interface LinearStats {
  /** Decayed count of updates. */
  n: number;
  /** `updates` of the whole model when these were last decayed (the tenant clock). */
  at?: number;
  /** D×D row-major. */
  a: number[];
  b: number[];
}

export interface ModelState {
  version: number;
  dim: number;
  global: LinearStats;
  subs: Record<string, LinearStats>;
  /** Exponentially weighted mean and variance of raw rewards. */
  reward: { mean: number; variance: number; n: number };
  /** Per-function measurements, exponentially averaged (features of the graphs). */
  functions: Record<string, FunctionStats>;
  updates: number;
  /** The change detector over prediction residuals (absent in states stored before it). */
  change?: ChangeState;
}

export interface ChangeState {
  /** Exponentially weighted mean of squared residuals over (1 + φᵀP⁻¹φ): the noise level. */
  baseline: number;
  /** One-sided CUSUM of residual² / baseline − slack. */
  cusum: number;
  /** Residuals seen. */
  n: number;
  /** Changes detected (each one discounted the statistics). */
  detections: number;
}

export interface ModelOptions {
  /** Prior precision of the global model. */
  priorPrecision: number;
  /** Prior precision of a sub-tenant model around the global mean (higher: more sharing). */
  shrink: number;
  /** Forgetting factor per update of the global model (0..1]. */
  forget: number;
  /** Forgetting factor per update of a sub-tenant's model. */
  subForget: number;
  /** false: sub-tenant models start from zero (no sharing) — the benchmark's baseline. */
  hierarchical: boolean;
  /**
   * With the personal projection: the tenant model is built from the sub-tenants' statistics
   * with each one's personal effect integrated out (a random-effects model), rather than from
   * all outcomes pooled as if sub-tenants did not differ.
   */
  marginal: boolean;
  /**
   * Whose clock a sub-tenant's forgetting runs on: `'own'` (per update of that sub-tenant) or
   * `'tenant'` (per update of the whole tenant, so a quiet sub-tenant's old data fades as fast
   * as the world changes).
   */
  subClock: 'own' | 'tenant';
  /**
   * Change detection (null: none). Each outcome's squared residual against what the deciding
   * snapshot predicted, over its running level, feeds a one-sided CUSUM with `slack`; past
   * `threshold` every model's statistics are multiplied by `keep`, widening the posteriors.
   */
  detect: { slack: number; threshold: number; keep: number } | null;
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = {
  priorPrecision: 1,
  shrink: 30,
  forget: 0.9998,
  subForget: 0.999,
  hierarchical: true,
  marginal: true,
  subClock: 'own',
  detect: { slack: 1.5, threshold: 25, keep: 0.2 },
};

export interface Posterior {
  mean: Float64Array;
  /** Lower Cholesky factor of the precision, row-major D×D. */
  chol: Float64Array;
  /** Its transpose (upper), row-major: Thompson's back substitution reads rows. */
  cholT: Float64Array;
  n: number;
}

export interface ModelSnapshot {
  version: number;
  dim: number;
  global: Posterior;
  subs: ReadonlyMap<string, Posterior>;
  rewardMean: number;
  rewardStd: number;
  functions: Readonly<Record<string, FunctionStats>>;
}

export function emptyState(dim: number): ModelState {
  return {
    version: 0,
    dim,
    global: emptyStats(dim),
    subs: {},
    reward: { mean: 0, variance: 0, n: 0 },
    functions: {},
    updates: 0,
  };
}

function emptyStats(dim: number): LinearStats {
  return { n: 0, a: new Array<number>(dim * dim).fill(0), b: new Array<number>(dim).fill(0) };
}

const REWARD_FORGET = 0.999;
/** Standardised rewards are clipped to ±CLIP. */
const CLIP = 2.5;

/** Adds one observed reward for features φ (mutates `state`). */
export function observe(
  state: ModelState,
  o: ModelOptions,
  subTenant: string,
  phi: ArrayLike<number>,
  reward: number,
  prediction?: { mean: number; variance: number },
): void {
  if (phi.length !== state.dim)
    throw new Error(`features have ${phi.length} dimensions, the model ${state.dim}`);
  if (!Number.isFinite(reward)) return;
  const r = state.reward;
  // Running mean and variance: exact averages at first, exponentially weighted later.
  const w = Math.max(1 / (r.n + 1), 1 - REWARD_FORGET);
  const delta = reward - r.mean;
  r.mean += w * delta;
  r.variance = r.n === 0 ? 0 : (1 - w) * (r.variance + w * delta * delta);
  r.n++;
  const std = Math.sqrt(Math.max(r.variance, 1e-12));
  // Clipped: one outlier (a cold start) must not condemn a graph for long.
  const y =
    r.n < 2 || r.variance <= 0 ? 0 : Math.max(-CLIP, Math.min(CLIP, (reward - r.mean) / std));
  if (o.detect && prediction && Number.isFinite(prediction.mean))
    if (detectChange(state, o.detect, y - prediction.mean, Math.max(0, prediction.variance) || 0))
      discount(state, o.detect.keep);
  accumulate(state.global, phi, y, o.forget);
  const sub = (state.subs[subTenant] ??= emptyStats(state.dim));
  if (o.subClock === 'tenant') {
    const elapsed = state.updates - (sub.at ?? state.updates);
    accumulate(sub, phi, y, o.subForget ** Math.max(1, elapsed));
    sub.at = state.updates + 1;
  } else accumulate(sub, phi, y, o.subForget);
  state.updates++;
}

const BASELINE_FORGET = 0.998;
/** Residuals before the detector may fire (the model is still learning its level). */
const DETECT_AFTER = 1000;
/** One residual counts at most this many times the baseline (a cold start is not a change). */
const RATIO_CAP = 8;

function detectChange(
  state: ModelState,
  d: { slack: number; threshold: number },
  residual: number,
  variance: number,
): boolean {
  const c = (state.change ??= { baseline: 0, cusum: 0, n: 0, detections: 0 });
  // The residual over its predictive spread: the noise (the baseline) plus the uncertainty of
  // the mean, so trying an option the model knows little about is no evidence of a change.
  const z2 = (residual * residual) / (1 + variance);
  if (c.n >= DETECT_AFTER && c.baseline > 0) {
    c.cusum = Math.max(0, c.cusum + Math.min(RATIO_CAP, z2 / c.baseline) - d.slack);
  }
  c.baseline += Math.max(1 / (c.n + 1), 1 - BASELINE_FORGET) * (z2 - c.baseline);
  c.n++;
  if (c.cusum <= d.threshold) return false;
  c.cusum = 0;
  c.detections++;
  return true;
}

/** Multiplies every model's statistics by `keep` (a detected change: old data counts less). */
function discount(state: ModelState, keep: number): void {
  for (const s of [state.global, ...Object.values(state.subs)]) {
    s.n *= keep;
    for (let i = 0; i < s.b.length; i++) s.b[i]! *= keep;
    for (let i = 0; i < s.a.length; i++) s.a[i]! *= keep;
  }
}

function accumulate(s: LinearStats, phi: ArrayLike<number>, y: number, forget: number): void {
  const d = s.b.length;
  for (let i = 0; i < d; i++) {
    const pi = phi[i]!;
    s.b[i] = forget * s.b[i]! + pi * y;
    const row = i * d;
    for (let j = 0; j < d; j++) s.a[row + j] = forget * s.a[row + j]! + pi * phi[j]!;
  }
  s.n = forget * s.n + 1;
}

/** Exponentially averaged per-function measurements (mutates `state`). */
export function observeFunction(
  state: ModelState,
  fn: string,
  m: FunctionStats,
  weight = 0.1,
): void {
  const prev = state.functions[fn];
  if (!prev) {
    state.functions[fn] = { ...m };
    return;
  }
  prev.latencyMs += weight * (m.latencyMs - prev.latencyMs);
  prev.cpuMs += weight * (m.cpuMs - prev.cpuMs);
  prev.outputBytes += weight * (m.outputBytes - prev.outputBytes);
  prev.failureRate += weight * (m.failureRate - prev.failureRate);
}

/**
 * Posteriors of the global model and every sub-tenant; bumps nothing (the caller versions).
 *
 * With `personal` (indices of the graph-identity features, `personalIndices`), a sub-tenant's
 * prior is the tenant's posterior widened only along those directions: w_sub = w_global + δ,
 * δ ~ N(0, I/shrink) on the personal coordinates. So a small sub-tenant decides, and explores,
 * as confidently as the whole tenant, and its data moves it only where sub-tenants may differ
 * (which functions serve it best), a low-dimensional projection that little data can pin down.
 * Without `personal`, the prior is N(μ_global, I/shrink) over every coordinate.
 */
export function train(
  state: ModelState,
  o: ModelOptions,
  personal?: readonly number[],
): ModelSnapshot {
  const d = state.dim;
  const projected = o.hierarchical && personal !== undefined && personal.length > 0;
  const pooled = projected && o.marginal ? marginalPool(state, o, personal, d) : null;
  const globalPrecision = pooled
    ? pooled.precision
    : precisionOf(state.global, o.priorPrecision, 1, d);
  const global = posteriorFrom(
    globalPrecision,
    pooled ? pooled.rhs : state.global.b,
    null,
    1,
    d,
    state.global.n,
  );
  const prior =
    o.hierarchical && personal && personal.length > 0
      ? widened(globalPrecision, personal, o.shrink, d)
      : null;
  const priorRhs = prior ? multiply(prior, global.mean, d) : null;
  const subs = new Map<string, Posterior>();
  for (const [name, s] of Object.entries(state.subs)) {
    const scale = subScale(state, o, s);
    if (prior && priorRhs) {
      const p = new Float64Array(d * d);
      for (let i = 0; i < d * d; i++) p[i] = prior[i]! + scale * s.a[i]!;
      const rhs = new Float64Array(d);
      for (let i = 0; i < d; i++) rhs[i] = priorRhs[i]! + scale * s.b[i]!;
      subs.set(name, posteriorFrom(p, rhs, null, 1, d, s.n * scale));
      continue;
    }
    const lambda = o.hierarchical ? o.shrink : o.priorPrecision;
    subs.set(
      name,
      posteriorFrom(
        precisionOf(s, lambda, scale, d),
        s.b,
        o.hierarchical ? global.mean.map((m) => lambda * m) : null,
        scale,
        d,
        s.n * scale,
      ),
    );
  }
  return {
    version: state.version,
    dim: d,
    global,
    subs,
    rewardMean: state.reward.mean,
    rewardStd: state.reward.variance > 0 ? Math.sqrt(state.reward.variance) : 1,
    functions: structuredClone(state.functions),
  };
}

/** A sub-tenant's statistics scale on the tenant clock (1 on its own clock). */
function subScale(state: ModelState, o: ModelOptions, s: LinearStats): number {
  return o.subClock === 'tenant'
    ? o.subForget ** Math.max(0, state.updates - (s.at ?? state.updates))
    : 1;
}

/**
 * The tenant model's precision and right-hand side with every sub-tenant's personal effect
 * integrated out: Σ_s (A_s − A_sE M_s⁻¹ EᵀA_s), Σ_s (b_s − A_sE M_s⁻¹ Eᵀb_s), M_s = shrink·I +
 * EᵀA_sE, plus the prior λI. Pooling the raw data instead lets an option only some sub-tenants
 * may run (a policy) absorb those sub-tenants' personal taste, and the tenant model is then
 * confidently wrong about it for everyone.
 */
function marginalPool(
  state: ModelState,
  o: ModelOptions,
  idx: readonly number[],
  d: number,
): { precision: Float64Array; rhs: Float64Array } {
  const m = idx.length;
  const precision = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  for (let i = 0; i < d; i++) precision[i * d + i] = o.priorPrecision;
  const inner = new Float64Array(m * m);
  const x = new Float64Array(m * d);
  const col = new Float64Array(m);
  for (const s of Object.values(state.subs)) {
    const scale = subScale(state, o, s);
    for (let a = 0; a < m; a++)
      for (let c = 0; c < m; c++)
        inner[a * m + c] = scale * s.a[idx[a]! * d + idx[c]!]! + (a === c ? o.shrink : 0);
    const l = cholesky(inner, m);
    // X = L⁻¹ EᵀA_s (m×d), y = L⁻¹ Eᵀb_s.
    for (let j = 0; j < d; j++) {
      for (let a = 0; a < m; a++) col[a] = scale * s.a[idx[a]! * d + j]!;
      const y = solveLower(l, col, m);
      for (let a = 0; a < m; a++) x[a * d + j] = y[a]!;
    }
    for (let a = 0; a < m; a++) col[a] = scale * s.b[idx[a]!]!;
    const y = solveLower(l, col, m);
    for (let i = 0; i < d; i++) {
      let t = 0;
      for (let a = 0; a < m; a++) t += x[a * d + i]! * y[a]!;
      rhs[i]! += scale * s.b[i]! - t;
      for (let j = 0; j < d; j++) {
        let u = 0;
        for (let a = 0; a < m; a++) u += x[a * d + i]! * x[a * d + j]!;
        precision[i * d + j]! += scale * s.a[i * d + j]! - u;
      }
    }
  }
  return { precision, rhs };
}

/** λI + scale·A */
function precisionOf(s: LinearStats, lambda: number, scale: number, d: number): Float64Array {
  const p = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) p[i] = scale * s.a[i]!;
  for (let i = 0; i < d; i++) p[i * d + i]! += lambda;
  return p;
}

/**
 * The precision of N(μ, P⁻¹ + EEᵀ/shrink) for E the selection of `idx` (Woodbury):
 * P − P_E (shrink·I + P_EE)⁻¹ P_Eᵀ. Costs one m×m factorisation (m = idx.length).
 */
function widened(p: Float64Array, idx: readonly number[], shrink: number, d: number): Float64Array {
  const m = idx.length;
  const inner = new Float64Array(m * m);
  for (let a = 0; a < m; a++)
    for (let b = 0; b < m; b++)
      inner[a * m + b] = p[idx[a]! * d + idx[b]!]! + (a === b ? shrink : 0);
  const l = cholesky(inner, m);
  // X = L⁻¹ P_Eᵀ, column by column of P_Eᵀ (row j of P restricted to idx).
  const x = new Float64Array(m * d);
  const col = new Float64Array(m);
  for (let j = 0; j < d; j++) {
    for (let a = 0; a < m; a++) col[a] = p[idx[a]! * d + j]!;
    const y = solveLower(l, col, m);
    for (let a = 0; a < m; a++) x[a * d + j] = y[a]!;
  }
  const q = new Float64Array(p);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let a = 0; a < m; a++) s += x[a * d + i]! * x[a * d + j]!;
      q[i * d + j]! -= s;
    }
  // Symmetric positive definite in exact arithmetic; a tiny ridge keeps it so in floats.
  for (let i = 0; i < d; i++) q[i * d + i]! += 1e-9;
  return q;
}

function multiply(m: Float64Array, v: ArrayLike<number>, d: number): Float64Array {
  const out = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += m[i * d + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}

/** μ = P⁻¹(scale·b + priorRhs). */
function posteriorFrom(
  p: Float64Array,
  b: ArrayLike<number>,
  priorRhs: ArrayLike<number> | null,
  scale: number,
  d: number,
  n?: number,
): Posterior {
  const chol = cholesky(p, d);
  const rhs = new Float64Array(d);
  for (let i = 0; i < d; i++) rhs[i] = scale * b[i]! + (priorRhs ? priorRhs[i]! : 0);
  const mean = solveUpper(chol, solveLower(chol, rhs, d), d);
  const cholT = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) cholT[j * d + i] = chol[i * d + j]!;
  return { mean, chol, cholT, n: n ?? 0 };
}

/** The prior alone (a sub-tenant never seen: the global posterior stands in). */
export function posteriorFor(snap: ModelSnapshot, subTenant: string): Posterior {
  return snap.subs.get(subTenant) ?? snap.global;
}

/** Lower L with LLᵀ = m (m symmetric positive definite; a tiny jitter keeps it so). */
export function cholesky(m: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = m[i * d + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) l[i * d + i] = Math.sqrt(Math.max(sum, 1e-9));
      else l[i * d + j] = sum / l[j * d + j]!;
    }
  }
  return l;
}

/** Solves Ly = b. */
export function solveLower(l: Float64Array, b: ArrayLike<number>, d: number): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    const row = i * d;
    for (let k = 0; k < i; k++) s -= l[row + k]! * y[k]!;
    y[i] = s / l[row + i]!;
  }
  return y;
}

/** Solves Lᵀx = y. */
export function solveUpper(l: Float64Array, y: ArrayLike<number>, d: number): Float64Array {
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * x[k]!;
    x[i] = s / l[i * d + i]!;
  }
  return x;
}
