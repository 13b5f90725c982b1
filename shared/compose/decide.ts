/**
 * One composition decision (pure; the model and the randomness are passed in). Given the
 * admissible candidates (policies have filtered them already), the context and a posterior:
 *
 * - greedy: the candidate with the highest posterior mean;
 * - thompson: `samples` posterior draws each vote for their best candidate; the candidates other
 *   than the greedy one get `rate` times their share of the votes, so `rate` is a ceiling reached
 *   only when no draw agrees with the greedy pick, and exploration fades as the posterior
 *   concentrates (it is not forced up to the cap whenever one draw disagrees);
 * - epsilon-greedy: `rate` spread evenly over the candidates;
 * - in both, a floor of `rate / 10` spread evenly keeps every candidate's propensity above zero,
 *   so any policy can be evaluated offline from the log.
 *
 * The decision draws from that distribution and reports the drawn candidate's probability (its
 * propensity, exact given the posterior draws) — the log's inverse-propensity estimates rely on it.
 */
import { crossFeatures, type FeatureSpace } from './features.js';
import type { Posterior } from './model.js';
import type { ExploreAlgorithm } from './types.js';

export const THOMPSON_SAMPLES = 4;
const FLOOR_SHARE = 0.1;

export interface DecideInput {
  space: FeatureSpace;
  posterior: Posterior;
  /** Graph embeddings by variant index (embedGraph). */
  graphs: readonly Float64Array[];
  /** Admissible variant indices, non-empty. */
  candidates: readonly number[];
  context: Float64Array;
  algorithm: ExploreAlgorithm;
  /** Exploration cap 0..1 (0: always greedy). */
  rate: number;
  rng: () => number;
  samples?: number;
}

export interface Decision {
  /** The drawn variant. */
  index: number;
  /** The model's greedy pick. */
  greedy: number;
  propensity: number;
  explored: boolean;
  /** Probability of each candidate (aligned with `candidates`). */
  distribution: Float64Array;
  /** Posterior mean (standardised reward) of each candidate. */
  means: Float64Array;
  /**
   * What the change detector compares the outcome with: the drawn candidate's posterior mean
   * and the variance of that mean (φᵀP⁻¹φ, in units of the noise).
   */
  prediction: { mean: number; variance: number };
}

export function decide(input: DecideInput): Decision {
  const { space, posterior, candidates, rate } = input;
  const n = candidates.length;
  if (n === 0) throw new Error('no admissible candidate');
  const scratch = scratchFor(space);
  const means = new Float64Array(n);
  // φ = graph ⊗ context is never built: wᵀφ = Σ_j g_j (Σ_k x_k w[j·dc + k]) + measures, so the
  // weights are folded with the context once and each candidate costs a short dot product.
  fold(space, posterior.mean, input.context, scratch.folded);
  let best = 0;
  for (let i = 0; i < n; i++) {
    const m = dotGraph(scratch.folded, input.graphs[candidates[i]!]!);
    means[i] = m;
    if (m > means[best]!) best = i;
  }
  const dist = new Float64Array(n);
  if (rate <= 0 || n === 1) {
    dist[best] = 1;
  } else {
    const floor = rate * FLOOR_SHARE;
    const spread = new Float64Array(n);
    if (input.algorithm === 'epsilon-greedy') {
      for (let i = 0; i < n; i++) spread[i] = (rate - floor) / n;
    } else {
      const votes = thompsonVotes(input, scratch, input.samples ?? THOMPSON_SAMPLES);
      const total = votes.reduce((s, v) => s + v, 0);
      const others = total - votes[best]!;
      const mass = (rate - floor) * (others / total);
      for (let i = 0; i < n; i++) if (i !== best) spread[i] = (mass * votes[i]!) / others || 0;
    }
    let used = 0;
    for (let i = 0; i < n; i++) {
      dist[i] = spread[i]! + floor / n;
      if (i !== best) used += dist[i]!;
    }
    dist[best] = 1 - used;
  }
  const drawn = draw(dist, input.rng);
  return {
    index: candidates[drawn]!,
    greedy: candidates[best]!,
    propensity: dist[drawn]!,
    explored: drawn !== best,
    distribution: dist,
    means,
    prediction: { mean: means[drawn]!, variance: meanVariance(input, scratch, drawn) },
  };
}

interface Scratch {
  z: Float64Array;
  phi: Float64Array;
  w: Float64Array;
  /** Weights folded with the context: one per graph-embedding entry. */
  folded: Float64Array;
}

/** Per feature space, reused across decisions (decisions are synchronous). */
const scratches = new WeakMap<FeatureSpace, Scratch>();

function scratchFor(space: FeatureSpace): Scratch {
  let s = scratches.get(space);
  if (!s) {
    s = {
      z: new Float64Array(space.dim),
      phi: new Float64Array(space.dim),
      w: new Float64Array(space.dim),
      folded: new Float64Array(space.dim - (1 + space.identityDims) * (space.contextDims - 1)),
    };
    scratches.set(space, s);
  }
  return s;
}

/** folded[j] = Σ_k x_k w[j·dc + k] for the crossed part, then the measures' weights. */
function fold(space: FeatureSpace, w: ArrayLike<number>, x: Float64Array, out: Float64Array): void {
  const crossed = 1 + space.identityDims;
  const dc = space.contextDims;
  for (let j = 0; j < crossed; j++) {
    let s = 0;
    const at = j * dc;
    for (let k = 0; k < dc; k++) s += x[k]! * w[at + k]!;
    out[j] = s;
  }
  const base = crossed * dc;
  for (let m = crossed; m < out.length; m++) out[m] = w[base + m - crossed]!;
}

function dotGraph(folded: Float64Array, g: Float64Array): number {
  let s = 0;
  for (let j = 0; j < folded.length; j++) s += folded[j]! * g[j]!;
  return s;
}

/** φᵀP⁻¹φ = |L⁻¹φ|² for the candidate at `at` (one forward substitution, into scratch). */
function meanVariance(input: DecideInput, scratch: Scratch, at: number): number {
  const d = input.space.dim;
  const { phi, z } = scratch;
  crossFeatures(input.space, input.graphs[input.candidates[at]!]!, input.context, phi);
  const l = input.posterior.chol;
  let sum = 0;
  for (let i = 0; i < d; i++) {
    let acc = phi[i]!;
    const row = i * d;
    for (let k = 0; k < i; k++) acc -= l[row + k]! * z[k]!;
    z[i] = acc / l[row + i]!;
    sum += z[i]! * z[i]!;
  }
  return sum;
}

function thompsonVotes(input: DecideInput, scratch: Scratch, samples: number): number[] {
  const { posterior: p, candidates, space } = input;
  const n = candidates.length;
  const d = space.dim;
  const votes = new Array<number>(n).fill(0);
  const { z, w, folded } = scratch;
  const u = p.cholT;
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < d; k++) z[k] = gaussian(input.rng);
    // w = μ + L⁻ᵀz: back substitution over the rows of U = Lᵀ.
    for (let i = d - 1; i >= 0; i--) {
      let acc = z[i]!;
      const row = i * d;
      for (let k = i + 1; k < d; k++) acc -= u[row + k]! * w[k]!;
      w[i] = acc / u[row + i]!;
    }
    for (let k = 0; k < d; k++) w[k]! += p.mean[k]!;
    fold(space, w, input.context, folded);
    let top = 0;
    let topScore = -Infinity;
    for (let i = 0; i < n; i++) {
      const sc = dotGraph(folded, input.graphs[candidates[i]!]!);
      if (sc > topScore) {
        topScore = sc;
        top = i;
      }
    }
    votes[top]!++;
  }
  return votes;
}

function draw(dist: Float64Array, rng: () => number): number {
  let u = rng();
  for (let i = 0; i < dist.length; i++) {
    u -= dist[i]!;
    if (u < 0) return i;
  }
  let last = dist.length - 1;
  while (last > 0 && dist[last] === 0) last--;
  return last;
}

/** A standard normal draw (Box–Muller). */
export function gaussian(rng: () => number): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
