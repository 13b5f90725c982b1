import { describe, expect, it } from 'vitest';
import { decide } from '../../../shared/compose/decide.js';
import { snips } from '../../../shared/compose/estimate.js';
import {
  crossFeatures,
  embedGraph,
  encodeContext,
  featureSpace,
} from '../../../shared/compose/features.js';
import {
  cholesky,
  DEFAULT_MODEL_OPTIONS,
  emptyState,
  observe,
  posteriorFor,
  solveLower,
  solveUpper,
  train,
} from '../../../shared/compose/model.js';
import { gaussian } from '../../../shared/compose/decide.js';
import { mulberry32 } from '../../../shared/random.js';

const graphs = {
  fast: { nodes: ['ocr-fast', 'audit'], edges: [[0, 1]] as [number, number][] },
  accurate: { nodes: ['ocr-accurate', 'audit'], edges: [[0, 1]] as [number, number][] },
};
const space = featureSpace(['ocr-fast', 'ocr-accurate', 'audit'], ['lang']);
const emb = [embedGraph(space, graphs.fast, {}), embedGraph(space, graphs.accurate, {})];

/** Reward: fast wins for en, accurate for de. */
const truth = (v: number, lang: string): number => ((v === 0) === (lang === 'en') ? 1 : 0);

function phi(v: number, lang: string): Float64Array {
  return crossFeatures(space, emb[v]!, encodeContext(space, { lang }), new Float64Array(space.dim));
}

describe('features', () => {
  it('message passing gives structure: the same functions in another order embed differently', () => {
    const s = featureSpace(['a', 'b'], []);
    const ab = embedGraph(s, { nodes: ['a', 'b'], edges: [[0, 1]] }, {});
    const ba = embedGraph(s, { nodes: ['b', 'a'], edges: [[0, 1]] }, {});
    expect(Array.from(ab)).not.toEqual(Array.from(ba));
    expect(ab[0]).toBe(1);
  });

  it('encodes numbers, booleans and strings; distinct strings apart, missing as zero', () => {
    const s = featureSpace(['a'], ['n', 'b', 's']);
    const x = encodeContext(s, { n: 100, b: true, s: 'en' });
    const y = encodeContext(s, { n: 100, b: true, s: 'de' });
    expect(x[0]).toBe(1);
    expect(x[1]).toBeCloseTo(Math.log1p(100) / 4);
    expect(x[6]).toBe(1);
    expect(Array.from(x.slice(7))).not.toEqual(Array.from(y.slice(7)));
    expect(Array.from(encodeContext(s, {}).slice(1)).every((v) => v === 0)).toBe(true);
  });
});

describe('Bayesian linear head', () => {
  it('solves with its Cholesky factor', () => {
    const m = new Float64Array([4, 2, 2, 3]);
    const l = cholesky(m, 2);
    const x = solveUpper(l, solveLower(l, [2, 1], 2), 2);
    expect(4 * x[0]! + 2 * x[1]!).toBeCloseTo(2);
    expect(2 * x[0]! + 3 * x[1]!).toBeCloseTo(1);
  });

  it('learns a context-dependent best graph (seeded)', () => {
    const rng = mulberry32(3);
    const state = emptyState(space.dim);
    for (let i = 0; i < 300; i++) {
      const lang = rng() < 0.5 ? 'en' : 'de';
      const v = rng() < 0.5 ? 0 : 1;
      observe(
        state,
        DEFAULT_MODEL_OPTIONS,
        'beta',
        phi(v, lang),
        truth(v, lang) + gaussian(rng) * 0.2,
      );
    }
    const snap = train(state, DEFAULT_MODEL_OPTIONS);
    const p = posteriorFor(snap, 'beta');
    const score = (v: number, lang: string) =>
      phi(v, lang).reduce((s, x, k) => s + x * p.mean[k]!, 0);
    expect(score(0, 'en')).toBeGreaterThan(score(1, 'en'));
    expect(score(1, 'de')).toBeGreaterThan(score(0, 'de'));
  });

  it('a small sub-tenant follows the tenant prior; a large one becomes personal', () => {
    const rng = mulberry32(5);
    const state = emptyState(space.dim);
    // The tenant: fast is better everywhere. Sub-tenant "odd" (a quarter of the traffic):
    // accurate is better for it.
    for (let i = 0; i < 800; i++) {
      const v = i % 2;
      const sub = i % 4 === 0 ? 'odd' : `t${i % 10}`;
      const r = sub === 'odd' ? (v === 1 ? 1 : 0) : v === 0 ? 1 : 0;
      observe(state, DEFAULT_MODEL_OPTIONS, sub, phi(v, 'en'), r + gaussian(rng) * 0.01);
      if (i % 2 === 0 && i < 20) observe(state, DEFAULT_MODEL_OPTIONS, 'small', phi(1, 'en'), 0.5);
    }
    for (let i = 0; i < 800; i++) {
      const v = i % 2;
      observe(state, DEFAULT_MODEL_OPTIONS, 'odd', phi(v, 'en'), v === 1 ? 1 : 0);
      observe(state, DEFAULT_MODEL_OPTIONS, `t${i % 10}`, phi(v, 'en'), v === 0 ? 1 : 0);
      observe(state, DEFAULT_MODEL_OPTIONS, `t${(i + 1) % 10}`, phi(v, 'en'), v === 0 ? 1 : 0);
    }
    const snap = train(state, DEFAULT_MODEL_OPTIONS);
    const best = (sub: string) => {
      const p = posteriorFor(snap, sub);
      const s = [0, 1].map((v) => phi(v, 'en').reduce((a, x, k) => a + x * p.mean[k]!, 0));
      return s[0]! > s[1]! ? 'fast' : 'accurate';
    };
    expect(best('small')).toBe('fast');
    expect(best('never-seen')).toBe('fast');
    expect(best('odd')).toBe('accurate');
  });
});

describe('explorers', () => {
  const snap = train(emptyState(space.dim), DEFAULT_MODEL_OPTIONS);
  const base = {
    space,
    posterior: snap.global,
    graphs: emb,
    candidates: [0, 1],
    context: encodeContext(space, { lang: 'en' }),
  };

  it('epsilon-greedy: the rate is spread evenly, the greedy pick keeps the rest', () => {
    const d = decide({ ...base, algorithm: 'epsilon-greedy', rate: 0.2, rng: mulberry32(1) });
    const other = d.distribution[d.greedy === 0 ? 1 : 0]!;
    expect(other).toBeCloseTo(0.2 / 2);
    expect(d.distribution[0]! + d.distribution[1]!).toBeCloseTo(1);
  });

  it('thompson: exploration mass never exceeds the rate, the logged propensity is the drawn share', () => {
    const rng = mulberry32(2);
    let explored = 0;
    for (let i = 0; i < 2_000; i++) {
      const d = decide({ ...base, algorithm: 'thompson', rate: 0.1, rng });
      const away = 1 - d.distribution[base.candidates.indexOf(d.greedy)]!;
      expect(away).toBeLessThanOrEqual(0.1 + 1e-9);
      expect(d.propensity).toBe(d.distribution[base.candidates.indexOf(d.index)]);
      if (d.explored) explored++;
    }
    expect(explored / 2_000).toBeGreaterThan(0.02);
    expect(explored / 2_000).toBeLessThan(0.13);
  });

  it('rate 0 is greedy, and so is one candidate', () => {
    const d = decide({ ...base, algorithm: 'thompson', rate: 0, rng: mulberry32(1) });
    expect(d.propensity).toBe(1);
    expect(d.explored).toBe(false);
    const one = decide({
      ...base,
      candidates: [1],
      algorithm: 'thompson',
      rate: 1,
      rng: mulberry32(1),
    });
    expect(one.index).toBe(1);
  });
});

describe('SNIPS', () => {
  it('recovers a target policy value from a uniformly logged policy', () => {
    const rng = mulberry32(9);
    const log = Array.from({ length: 4_000 }, () => {
      const a = rng() < 0.5 ? 0 : 1;
      return {
        reward: a === 1 ? 2 + gaussian(rng) * 0.1 : 1,
        propensity: 0.5,
        target: a === 1 ? 1 : 0,
      };
    });
    const e = snips(log)!;
    expect(e.value).toBeCloseTo(2, 1);
    expect(e.lower).toBeLessThan(2);
    expect(e.upper).toBeGreaterThan(2);
    expect(snips([])).toBeNull();
  });
});
