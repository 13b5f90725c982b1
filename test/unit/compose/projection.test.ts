/**
 * The personal projection (seeded): a sub-tenant's prior is the tenant's posterior widened only
 * along the graph-identity directions, and decide() scores candidates as wᵀφ without building φ.
 */
import { describe, expect, it } from 'vitest';
import { decide, gaussian } from '../../../shared/compose/decide.js';
import {
  crossFeatures,
  embedGraph,
  encodeContext,
  featureSpace,
  personalIndices,
} from '../../../shared/compose/features.js';
import {
  DEFAULT_MODEL_OPTIONS,
  emptyState,
  observe,
  train,
} from '../../../shared/compose/model.js';
import { mulberry32 } from '../../../shared/random.js';

const graphs = [
  { nodes: ['ocr-fast', 'audit'], edges: [[0, 1]] as [number, number][] },
  { nodes: ['ocr-accurate', 'audit'], edges: [[0, 1]] as [number, number][] },
];
const space = featureSpace(['ocr-fast', 'ocr-accurate', 'audit'], ['lang']);
const emb = graphs.map((g) => embedGraph(space, g, {}));
const phi = (v: number, lang: string): Float64Array =>
  crossFeatures(space, emb[v]!, encodeContext(space, { lang }), new Float64Array(space.dim));

describe('personal projection', () => {
  it('a small sub-tenant keeps the tenant’s context effects and learns its own offset', () => {
    const rng = mulberry32(3);
    const state = emptyState(space.dim);
    // The tenant: fast wins for en, accurate for de. The small sub-tenant prefers accurate a bit.
    for (let i = 0; i < 600; i++) {
      const v = i % 2;
      const lang = i % 3 === 0 ? 'en' : 'de';
      const r = ((v === 0) === (lang === 'en') ? 1 : 0) + gaussian(rng) * 0.05;
      observe(state, DEFAULT_MODEL_OPTIONS, 'big', phi(v, lang), r);
      if (i % 20 === 0)
        observe(state, DEFAULT_MODEL_OPTIONS, 'small', phi(v, lang), r + (v === 1 ? 0.3 : 0));
    }
    const snap = train(state, DEFAULT_MODEL_OPTIONS, personalIndices(space));
    const small = snap.subs.get('small')!;
    const score = (w: Float64Array, v: number, lang: string) =>
      phi(v, lang).reduce((s, x, k) => s + x * w[k]!, 0);
    // The tenant's context effect survives in the small sub-tenant's model.
    expect(score(small.mean, 0, 'en')).toBeGreaterThan(score(small.mean, 1, 'en'));
    expect(score(small.mean, 1, 'de')).toBeGreaterThan(score(small.mean, 0, 'de'));
    // Its own preference for accurate moves it relative to the tenant.
    const tilt = (w: Float64Array) => score(w, 1, 'de') - score(w, 0, 'de');
    expect(tilt(small.mean)).toBeGreaterThan(tilt(snap.global.mean));
    expect(personalIndices(space)).toHaveLength(1 + space.identityDims);
  });

  it('decide() means equal wᵀφ over the crossed features', () => {
    const rng = mulberry32(5);
    const state = emptyState(space.dim);
    for (let i = 0; i < 50; i++)
      observe(state, DEFAULT_MODEL_OPTIONS, 't', phi(i % 2, 'en'), rng());
    const snap = train(state, DEFAULT_MODEL_OPTIONS, personalIndices(space));
    const context = encodeContext(space, { lang: 'de' });
    const d = decide({
      space,
      posterior: snap.global,
      graphs: emb,
      candidates: [0, 1],
      context,
      algorithm: 'thompson',
      rate: 0.1,
      rng,
    });
    for (const v of [0, 1]) {
      const f = phi(v, 'de');
      const want = f.reduce((s, x, k) => s + x * snap.global.mean[k]!, 0);
      expect(d.means[v]).toBeCloseTo(want, 10);
    }
  });
});
