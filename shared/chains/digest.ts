/**
 * Small streaming statistics the chain model keeps: a bounded merging quantile digest (a t-digest
 * with the k1 scale function, Dunning 2019) and a decayed mean. Both are plain JSON-able data, both
 * merge (two models learned apart combine into one), and both forget: `decay` scales every weight,
 * so what was seen `halfLife` observations ago counts half.
 *
 * Invariants: a digest holds at most `2 × size` centroids between compressions and about `size`
 * after one; centroids are sorted by mean after `compress`; weights are positive.
 */

/** A quantile digest: centroids as `[mean, weight]`, sorted by mean once compressed. */
export interface Digest {
  /** Compression: centroids kept after a compression (about). */
  size: number;
  c: [number, number][];
}

export const DIGEST_SIZE = 24;

/** Weights below this are dropped: after ~20 half-lives an observation no longer counts. */
const MIN_WEIGHT = 1e-6;

export function newDigest(size: number = DIGEST_SIZE): Digest {
  return { size, c: [] };
}

export function digestWeight(d: Digest): number {
  let w = 0;
  for (const [, cw] of d.c) w += cw;
  return w;
}

/** Adds one sample (weight `w`); compresses when the buffer has grown past twice the size. */
export function digestAdd(d: Digest, x: number, w = 1): void {
  if (!Number.isFinite(x) || !(w > 0)) return;
  d.c.push([x, w]);
  if (d.c.length > 2 * d.size) compress(d);
}

/** Scales every weight by `factor` (0..1), dropping centroids that no longer count. */
export function digestDecay(d: Digest, factor: number): void {
  d.c = d.c.map(([m, w]): [number, number] => [m, w * factor]).filter(([, w]) => w >= MIN_WEIGHT);
}

export function digestMerge(a: Digest, b: Digest): Digest {
  const out: Digest = { size: Math.max(a.size, b.size), c: [...a.c, ...b.c] };
  compress(out);
  return out;
}

/**
 * Merges neighbouring centroids while a merged one spans at most one unit of the k1 scale
 * `k(q) = size/(2π)·asin(2q − 1)`: small at the tails (where quantiles need precision), large
 * in the middle, and at most `size` of them whatever the number of samples.
 */
export function compress(d: Digest): void {
  if (d.c.length <= 1) return;
  const sorted = [...d.c].sort((x, y) => x[0] - y[0]);
  const total = sorted.reduce((s, [, w]) => s + w, 0);
  const k = (q: number): number => (d.size / (2 * Math.PI)) * Math.asin(2 * Math.min(1, q) - 1);
  const out: [number, number][] = [];
  let [curM, curW] = sorted[0]!;
  let before = 0;
  for (let i = 1; i < sorted.length; i++) {
    const [m, w] = sorted[i]!;
    if (k((before + curW + w) / total) - k(before / total) <= 1) {
      curM = (curM * curW + m * w) / (curW + w);
      curW += w;
    } else {
      out.push([curM, curW]);
      before += curW;
      curM = m;
      curW = w;
    }
  }
  out.push([curM, curW]);
  d.c = out;
}

/**
 * The `q`-quantile (0..1), interpolating between centroid centres; null when empty. Does not
 * change `d` (compresses a copy when it holds an uncompressed buffer).
 */
export function digestQuantile(d: Digest, q: number): number | null {
  if (d.c.length === 0) return null;
  const work: Digest = { size: d.size, c: d.c.map(([m, w]): [number, number] => [m, w]) };
  compress(work);
  const c = work.c;
  if (c.length === 1) return c[0]![0];
  const total = c.reduce((s, [, w]) => s + w, 0);
  const target = Math.min(1, Math.max(0, q)) * total;
  // Centroid i's centre sits at cumulative weight before_i + w_i / 2.
  let before = 0;
  let prevCentre = 0;
  let prevMean = c[0]![0];
  for (let i = 0; i < c.length; i++) {
    const [m, w] = c[i]!;
    const centre = before + w / 2;
    if (target <= centre) {
      if (i === 0) return m;
      const t = (target - prevCentre) / (centre - prevCentre);
      return prevMean + t * (m - prevMean);
    }
    prevCentre = centre;
    prevMean = m;
    before += w;
  }
  return c[c.length - 1]![0];
}

/** A decayed mean: `mean` over samples weighted by their recency; `weight` their total weight. */
export interface Mean {
  mean: number;
  weight: number;
}

export function newMean(): Mean {
  return { mean: 0, weight: 0 };
}

/** Decays the weight so far by `factor`, then adds `x` with weight 1. */
export function meanAdd(m: Mean, x: number, factor: number): void {
  if (!Number.isFinite(x)) return;
  const w = m.weight * factor;
  m.mean = (m.mean * w + x) / (w + 1);
  m.weight = w + 1;
}

export function meanMerge(a: Mean, b: Mean): Mean {
  const w = a.weight + b.weight;
  return w > 0 ? { mean: (a.mean * a.weight + b.mean * b.weight) / w, weight: w } : newMean();
}

/** The decay factor per observation for a half-life counted in observations. */
export function decayFactor(halfLife: number): number {
  return halfLife > 0 && Number.isFinite(halfLife) ? Math.pow(0.5, 1 / halfLife) : 1;
}
