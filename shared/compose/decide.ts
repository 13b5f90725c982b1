/**
 * One composition decision (pure; the model and the randomness are passed in). Given the
 * admissible candidates (policies have filtered them already), the context and a posterior:
 *
 * - greedy: the candidate with the highest posterior mean;
 * - thompson: `samples` posterior draws each vote for their best candidate; the candidates other
 *   than the greedy one get the votes' share, capped in total at `rate`;
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
}

export function decide(input: DecideInput): Decision {
  const { space, posterior, candidates, rate } = input;
  const n = candidates.length;
  if (n === 0) throw new Error('no admissible candidate');
  const d = space.dim;
  const phi = new Float64Array(n * d);
  const row = new Float64Array(d);
  const means = new Float64Array(n);
  const mu = posterior.mean;
  let best = 0;
  for (let i = 0; i < n; i++) {
    crossFeatures(space, input.graphs[candidates[i]!]!, input.context, row);
    phi.set(row, i * d);
    let m = 0;
    for (let k = 0; k < d; k++) m += row[k]! * mu[k]!;
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
      const votes = thompsonVotes(
        posterior,
        phi,
        n,
        d,
        input.samples ?? THOMPSON_SAMPLES,
        input.rng,
      );
      const total = votes.reduce((s, v) => s + v, 0);
      const others = total - votes[best]!;
      const mass = others === 0 ? 0 : Math.min(rate - floor, others / total);
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
  };
}

function thompsonVotes(
  p: Posterior,
  phi: Float64Array,
  n: number,
  d: number,
  samples: number,
  rng: () => number,
): number[] {
  const votes = new Array<number>(n).fill(0);
  const z = new Float64Array(d);
  const w = new Float64Array(d);
  const u = p.cholT;
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < d; k++) z[k] = gaussian(rng);
    // w = μ + L⁻ᵀz: back substitution over the rows of U = Lᵀ.
    for (let i = d - 1; i >= 0; i--) {
      let acc = z[i]!;
      const row = i * d;
      for (let k = i + 1; k < d; k++) acc -= u[row + k]! * w[k]!;
      w[i] = acc / u[row + i]!;
    }
    for (let k = 0; k < d; k++) w[k]! += p.mean[k]!;
    let top = 0;
    let topScore = -Infinity;
    for (let i = 0; i < n; i++) {
      let sc = 0;
      const at = i * d;
      for (let k = 0; k < d; k++) sc += phi[at + k]! * w[k]!;
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
