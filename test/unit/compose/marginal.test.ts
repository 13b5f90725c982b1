/**
 * The tenant model with sub-tenants' personal effects integrated out (seeded): its mean is the
 * joint MAP estimate of the random-effects model w_s = w + Eu_s, u_s ~ N(0, I/shrink), solved
 * here directly over (w, u_1 … u_S); pooling the raw outcomes gives another, biased answer when
 * a policy keeps an option from the sub-tenants with a taste of their own.
 */
import { describe, expect, it } from 'vitest';
import { gaussian } from '../../../shared/compose/decide.js';
import {
  crossFeatures,
  embedGraph,
  encodeContext,
  featureSpace,
  personalIndices,
} from '../../../shared/compose/features.js';
import {
  cholesky,
  DEFAULT_MODEL_OPTIONS,
  emptyState,
  observe,
  solveLower,
  solveUpper,
  train,
  type ModelOptions,
  type ModelState,
} from '../../../shared/compose/model.js';
import { mulberry32 } from '../../../shared/random.js';

const fns = ['ocr-a', 'ocr-c', 'sum-x', 'sum-z'];
const graphs = [
  ['ocr-a', 'sum-x'],
  ['ocr-a', 'sum-z'],
  ['ocr-c', 'sum-x'],
  ['ocr-c', 'sum-z'],
].map((nodes) => ({ nodes, edges: [[0, 1]] as [number, number][] }));
const space = featureSpace(fns, ['lang']);
const emb = graphs.map((g) => embedGraph(space, g, {}));
const phi = (v: number, lang: string): Float64Array =>
  crossFeatures(space, emb[v]!, encodeContext(space, { lang }), new Float64Array(space.dim));
const personal = personalIndices(space);
const o: ModelOptions = { ...DEFAULT_MODEL_OPTIONS, forget: 1, subForget: 1, detect: null };

/**
 * "big" may not run ocr-c and likes sum-z; the small ones run everything, mostly with sum-x
 * (an unbalanced design, as greedy decisions make). For the tenant, ocr-c is worth 0.2 more.
 */
function world(): ModelState {
  const rng = mulberry32(11);
  const state = emptyState(space.dim);
  for (let i = 0; i < 3_000; i++) {
    const sub = i % 3 === 0 ? `small-${i % 2}` : 'big';
    const v = sub === 'big' ? (rng() < 0.5 ? 0 : 1) : rng() < 0.8 ? (rng() < 0.5 ? 0 : 2) : 3;
    const lang = rng() < 0.5 ? 'en' : 'de';
    const taste = sub === 'big' && v % 2 === 1 ? 0.5 : 0;
    const r = 1 + (v >= 2 ? 0.2 : 0) + taste + gaussian(rng) * 0.1;
    observe(state, o, sub, phi(v, lang), r);
  }
  return state;
}

/** The joint MAP of (w, u_s) from the sufficient statistics, by one dense solve. */
function jointMap(state: ModelState): Float64Array {
  const d = state.dim;
  const subs = Object.values(state.subs);
  const m = personal.length;
  const n = d + m * subs.length;
  const p = new Float64Array(n * n);
  const rhs = new Float64Array(n);
  for (let i = 0; i < d; i++) p[i * n + i] = o.priorPrecision;
  subs.forEach((s, k) => {
    const at = d + k * m;
    for (let i = 0; i < d; i++) {
      rhs[i]! += s.b[i]!;
      for (let j = 0; j < d; j++) p[i * n + j]! += s.a[i * d + j]!;
    }
    for (let a = 0; a < m; a++) {
      const ia = personal[a]!;
      rhs[at + a] = s.b[ia]!;
      for (let j = 0; j < d; j++) {
        p[(at + a) * n + j] = s.a[ia * d + j]!;
        p[j * n + at + a] = s.a[j * d + ia]!;
      }
      for (let c = 0; c < m; c++)
        p[(at + a) * n + at + c] = s.a[ia * d + personal[c]!]! + (a === c ? o.shrink : 0);
    }
  });
  const l = cholesky(p, n);
  return solveUpper(l, solveLower(l, rhs, n), n).slice(0, d);
}

describe('tenant model over sub-tenants with personal effects', () => {
  it('is the joint MAP of the random-effects model, which pooling is not', () => {
    const state = world();
    const want = jointMap(state);
    const got = train(state, o, personal).global.mean;
    const pooled = train(state, { ...o, marginal: false }, personal).global.mean;
    let err = 0;
    let off = 0;
    let size = 0;
    for (let i = 0; i < state.dim; i++) {
      err = Math.max(err, Math.abs(got[i]! - want[i]!));
      off = Math.max(off, Math.abs(pooled[i]! - want[i]!));
      size = Math.max(size, Math.abs(want[i]!));
    }
    expect(err).toBeLessThan(1e-6 * Math.max(1, size));
    expect(off).toBeGreaterThan(0.05);
  });
});
