import { describe, expect, it } from 'vitest';
import { decide, gaussian } from '../../../shared/compose/decide.js';
import {
  crossFeatures,
  embedGraph,
  encodeContext,
  featureSpace,
} from '../../../shared/compose/features.js';
import {
  DEFAULT_MODEL_OPTIONS,
  emptyState,
  observe,
  posteriorFor,
  train,
  type ModelOptions,
  type ModelSnapshot,
  type ModelState,
} from '../../../shared/compose/model.js';
import { mulberry32 } from '../../../shared/random.js';

const graphs = {
  fast: { nodes: ['ocr-fast', 'audit'], edges: [[0, 1]] as [number, number][] },
  accurate: { nodes: ['ocr-accurate', 'audit'], edges: [[0, 1]] as [number, number][] },
};
const space = featureSpace(['ocr-fast', 'ocr-accurate', 'audit'], ['lang']);
const emb = [embedGraph(space, graphs.fast, {}), embedGraph(space, graphs.accurate, {})];
const context = encodeContext(space, { lang: 'en' });
const phis = emb.map((g) => crossFeatures(space, g, context, new Float64Array(space.dim)));

/**
 * A learner choosing between two graphs for `steps` outcomes: graph 1 is worth 0.6; graph 0 is
 * worth 1 until `flipAt`, 0.2 after it. Returns the state and the share of the last `tail`
 * decisions whose greedy pick was graph 1.
 */
function run(
  o: ModelOptions,
  steps: number,
  flipAt: number,
  tail: number,
  seed = 4,
): { state: ModelState; snap: ModelSnapshot; onNewBest: number } {
  const rng = mulberry32(seed);
  const state = emptyState(space.dim);
  let snap = train(state, o);
  let onNewBest = 0;
  for (let i = 0; i < steps; i++) {
    const d = decide({
      space,
      posterior: posteriorFor(snap, 'beta'),
      graphs: emb,
      candidates: [0, 1],
      context,
      algorithm: 'thompson',
      rate: 0.05,
      rng,
    });
    if (i >= steps - tail && d.greedy === 1) onNewBest++;
    const worth = d.index === 1 ? 0.6 : i < flipAt ? 1 : 0.2;
    const reward = worth + gaussian(rng) * 0.3;
    observe(state, o, 'beta', phis[d.index]!, reward, d.prediction);
    if ((i + 1) % 50 === 0) snap = train(state, o);
  }
  return { state, snap, onNewBest: onNewBest / tail };
}

describe('change detection', () => {
  it('after the best graph degrades, the detector discounts the old data and the greedy pick moves within 300 outcomes; without it, it stays', () => {
    // Outcomes 5,300..5,499 are scored: 300 to 500 after the change.
    const withDetector = run(DEFAULT_MODEL_OPTIONS, 5_500, 5_000, 200);
    expect(withDetector.state.change?.detections).toBeGreaterThanOrEqual(1);
    expect(withDetector.onNewBest).toBeGreaterThan(0.9);
    const without = run({ ...DEFAULT_MODEL_OPTIONS, detect: null }, 5_500, 5_000, 200);
    expect(without.state.change).toBeUndefined();
    expect(without.onNewBest).toBeLessThan(0.5);
  });

  it('does not fire on a stationary world (seeded, 8,000 outcomes)', () => {
    for (const seed of [1, 2, 3]) {
      const r = run(DEFAULT_MODEL_OPTIONS, 8_000, Number.POSITIVE_INFINITY, 100, seed);
      expect(r.state.change?.detections).toBe(0);
    }
  });

  it('ignores outcomes without a prediction (states and callers from before the detector)', () => {
    const state = emptyState(space.dim);
    for (let i = 0; i < 500; i++) observe(state, DEFAULT_MODEL_OPTIONS, 'beta', phis[0]!, i % 7);
    expect(state.change).toBeUndefined();
  });
});

describe('change detection and a new option', () => {
  it('outcomes of an option the model knows nothing about are weighed by its uncertainty, not taken for a change', () => {
    const s3 = featureSpace(['ocr-fast', 'ocr-accurate', 'ocr-new', 'audit'], ['lang']);
    const g3 = ['ocr-fast', 'ocr-accurate', 'ocr-new'].map((f) =>
      embedGraph(s3, { nodes: [f, 'audit'], edges: [[0, 1]] }, {}),
    );
    const x = encodeContext(s3, { lang: 'en' });
    const phi3 = g3.map((g) => crossFeatures(s3, g, x, new Float64Array(s3.dim)));
    const worth = [1, 0.6, 1.6];
    const feed = (withVariance: boolean): number => {
      const rng = mulberry32(8);
      const state = emptyState(s3.dim);
      let snap = train(state, DEFAULT_MODEL_OPTIONS);
      for (let i = 0; i < 3_060; i++) {
        const d = decide({
          space: s3,
          posterior: posteriorFor(snap, 'beta'),
          graphs: g3,
          // The new option appears after 3,000 outcomes and is tried every other time.
          candidates: i < 3_000 ? [0, 1] : i % 2 === 0 ? [2] : [0, 1],
          context: x,
          algorithm: 'thompson',
          rate: 0.05,
          rng,
        });
        const prediction = withVariance ? d.prediction : { ...d.prediction, variance: 0 };
        const reward = worth[d.index]! + gaussian(rng) * 0.3;
        observe(state, DEFAULT_MODEL_OPTIONS, 'beta', phi3[d.index]!, reward, prediction);
        if ((i + 1) % 50 === 0) snap = train(state, DEFAULT_MODEL_OPTIONS);
      }
      return state.change?.detections ?? 0;
    };
    expect(feed(true)).toBe(0);
    expect(feed(false)).toBeGreaterThan(0);
  });
});

describe('thompson under a cap', () => {
  it('explores less as the posterior concentrates: the cap is a ceiling, not a target', () => {
    // Two graphs 0.4 apart with noise 0.3: once the model is sure, the draws agree with the
    // greedy pick and almost nothing is explored, though the cap is 0.05.
    const { snap } = run(
      { ...DEFAULT_MODEL_OPTIONS, detect: null },
      3_000,
      Number.POSITIVE_INFINITY,
      1,
    );
    const rng = mulberry32(7);
    let away = 0;
    for (let i = 0; i < 1_000; i++) {
      const d = decide({
        space,
        posterior: posteriorFor(snap, 'beta'),
        graphs: emb,
        candidates: [0, 1],
        context,
        algorithm: 'thompson',
        rate: 0.05,
        rng,
      });
      away += 1 - d.distribution[d.greedy]!;
    }
    // The floor (a tenth of the rate) is all that is left.
    expect(away / 1_000).toBeLessThan(0.01);
    expect(away / 1_000).toBeGreaterThanOrEqual(0.005 / 2 - 1e-12);
  });

  it('gives the other graphs the rate times their share of the posterior draws', () => {
    // An untrained model: the draws often disagree, in any proportion of the four.
    const snap = train(emptyState(space.dim), DEFAULT_MODEL_OPTIONS);
    const rng = mulberry32(3);
    const rate = 0.2;
    const floor = rate / 10;
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const d = decide({
        space,
        posterior: posteriorFor(snap, 'beta'),
        graphs: emb,
        candidates: [0, 1],
        context,
        algorithm: 'thompson',
        rate,
        rng,
      });
      const away = 1 - d.distribution[d.greedy]!;
      const k = ((away - floor / 2) / (rate - floor)) * 4;
      expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-9);
      seen.add(Math.round(k));
    }
    // Not only "none" and "the whole cap": one, two or three draws of four away show as such.
    expect([...seen].filter((k) => k > 0 && k < 4).length).toBeGreaterThanOrEqual(2);
  });
});
