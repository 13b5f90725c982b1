import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../../shared/compose/decide.js';
import { embedGraph, encodeContext, featureSpace } from '../../../shared/compose/features.js';
import { emptyState, train, DEFAULT_MODEL_OPTIONS } from '../../../shared/compose/model.js';
import {
  admissible,
  allows,
  emptyPatterns,
  exploreRate,
  globMatch,
  policiesFor,
} from '../../../shared/compose/policy.js';
import type { CompositionPolicy, Variant } from '../../../shared/compose/types.js';
import { mulberry32 } from '../../../shared/random.js';

const variants: Variant[] = ['fast', 'accurate', 'cheap'].flatMap((o, i) =>
  ['short', 'long'].map((s, j) => ({
    index: i * 2 + j,
    label: `ocr=${o},sum=${s}`,
    choices: { ocr: o, sum: s },
    graph: { nodes: [`ocr-${o}`, `sum-${s}`], edges: [[0, 1]] as [number, number][] },
  })),
);

describe('policies', () => {
  it('globs: * any run, ? one character, the rest literal', () => {
    expect(globMatch('acme-*', 'acme-eu')).toBe(true);
    expect(globMatch('acme-*', 'acme')).toBe(false);
    expect(globMatch('t?', 't1')).toBe(true);
    expect(globMatch('t?', 't12')).toBe(false);
    expect(globMatch('a.b', 'axb')).toBe(false);
    expect(globMatch('*', 'anything')).toBe(true);
  });

  it('denies by function name and by choice.option', () => {
    const p: CompositionPolicy[] = [
      { subTenants: ['acme-*'], deny: ['ocr-accurate'] },
      { subTenants: ['acme-eu'], deny: ['sum.long'] },
    ];
    expect(admissible(variants, p, 'acme-us')).toEqual([0, 1, 4, 5]);
    expect(admissible(variants, p, 'acme-eu')).toEqual([0, 4]);
    expect(admissible(variants, p, 'beta')).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('caps the exploration rate with the lowest matching maxExplore', () => {
    const p: CompositionPolicy[] = [
      { subTenants: ['*'], deny: [], maxExplore: 0.2 },
      { subTenants: ['bank-*'], deny: [], maxExplore: 0.01 },
    ];
    expect(exploreRate(0.1, p, 'shop')).toBe(0.1);
    expect(exploreRate(0.5, p, 'shop')).toBe(0.2);
    expect(exploreRate(0.5, p, 'bank-1')).toBe(0.01);
  });

  it('finds the glob that leaves no variant', () => {
    const p: CompositionPolicy[] = [
      { subTenants: ['x-*'], deny: ['ocr-fast', 'ocr-cheap'] },
      { subTenants: ['x-1'], deny: ['ocr.accurate'] },
    ];
    expect(emptyPatterns(variants, p)).toEqual([{ policy: 1, glob: 0 }]);
  });

  it('exploration never breaks a policy (property, 100,000 decisions at full exploration)', () => {
    const space = featureSpace(
      variants.flatMap((v) => v.graph.nodes),
      ['lang'],
    );
    const snap = train(emptyState(space.dim), DEFAULT_MODEL_OPTIONS);
    const graphs = variants.map((v) => embedGraph(space, v.graph, {}));
    const items = [...new Set(variants.flatMap((v) => v.graph.nodes)), 'ocr.fast', 'sum.short'];
    const policy = fc.record({
      subTenants: fc.array(fc.constantFrom('a-*', 'b?', '*', 'a-1', 'c.d'), {
        minLength: 1,
        maxLength: 2,
      }),
      deny: fc.array(fc.constantFrom(...items), { minLength: 1, maxLength: 3 }),
    });
    let decisions = 0;
    fc.assert(
      fc.property(
        fc.array(policy, { minLength: 1, maxLength: 3 }),
        fc.constantFrom('a-1', 'a-2', 'b1', 'c.d', 'zz'),
        fc.constantFrom('thompson', 'epsilon-greedy'),
        fc.integer(),
        (policies, sub, algorithm, seed) => {
          const candidates = admissible(variants, policies, sub);
          if (candidates.length === 0) return true;
          const rng = mulberry32(seed);
          const apply = policiesFor(policies, sub);
          for (let i = 0; i < 100; i++) {
            const d = decide({
              space,
              posterior: snap.global,
              graphs,
              candidates,
              context: encodeContext(space, { lang: i % 2 ? 'en' : 'de' }),
              algorithm,
              rate: 1,
              rng,
            });
            decisions++;
            if (!allows(apply, variants[d.index]!)) return false;
          }
          return true;
        },
      ),
      { numRuns: 1_000, seed: 17 },
    );
    expect(decisions).toBeGreaterThan(50_000);
  });
});
