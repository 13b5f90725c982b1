/**
 * The composition learner's Bayesian linear head (pure; docs/guides/composition.md). The reward
 * of running a graph in a context is modelled as wᵀφ(graph, context) plus noise, on rewards
 * standardised by a running mean and spread. Each model keeps sufficient statistics (A = Σφφᵀ,
 * b = Σφy) with exponential forgetting, so the posterior follows a drifting world.
 *
 * Hierarchy: the tenant's global model has the prior N(0, I/λ); each sub-tenant's model has the
 * prior N(μ_global, I/shrink), so a sub-tenant with little data decides like the tenant and one
 * with much data becomes personal. Posteriors are kept as the mean and the Cholesky factor L of
 * the precision (P = LLᵀ): a Thompson sample is μ + L⁻ᵀz and costs one triangular solve.
 *
 * State is plain JSON (it is stored in the cluster store); `train` turns it into a snapshot,
 * the only thing decisions read. `train` runs off the request path.
 */
import type { FunctionStats } from './features.js';

export interface LinearStats {
  /** Decayed count of updates. */
  n: number;
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
}

export const DEFAULT_MODEL_OPTIONS: ModelOptions = {
  priorPrecision: 1,
  shrink: 2,
  forget: 0.998,
  subForget: 0.995,
  hierarchical: true,
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
  accumulate(state.global, phi, y, o.forget);
  const sub = (state.subs[subTenant] ??= emptyStats(state.dim));
  accumulate(sub, phi, y, o.subForget);
  state.updates++;
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

/** Posteriors of the global model and every sub-tenant; bumps nothing (the caller versions). */
export function train(state: ModelState, o: ModelOptions): ModelSnapshot {
  const d = state.dim;
  const global = posterior(state.global, o.priorPrecision, null, d);
  const subs = new Map<string, Posterior>();
  for (const [name, s] of Object.entries(state.subs))
    subs.set(
      name,
      o.hierarchical
        ? posterior(s, o.shrink, global.mean, d)
        : posterior(s, o.priorPrecision, null, d),
    );
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

/** P = λI + A, μ = P⁻¹(λ·prior + b). */
function posterior(
  s: LinearStats,
  lambda: number,
  prior: Float64Array | null,
  d: number,
): Posterior {
  const p = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) p[i] = s.a[i]!;
  for (let i = 0; i < d; i++) p[i * d + i]! += lambda;
  const chol = cholesky(p, d);
  const rhs = new Float64Array(d);
  for (let i = 0; i < d; i++) rhs[i] = s.b[i]! + (prior ? lambda * prior[i]! : 0);
  const mean = solveUpper(chol, solveLower(chol, rhs, d), d);
  const cholT = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) cholT[j * d + i] = chol[i * d + j]!;
  return { mean, chol, cholT, n: s.n };
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
