/**
 * The chain model (shared/chains): streaming quantiles stay bounded and close; branch
 * probabilities per context with decay that follows a shift; start offsets; cold-start time and
 * memory per function; successors by session and by time adjacency; merge; versioned JSON.
 */
import { describe, expect, it } from 'vitest';
import {
  branchProbabilities,
  chainModelToJson,
  digestAdd,
  digestDecay,
  digestMerge,
  digestQuantile,
  functionEstimate,
  mergeChainModels,
  newChainModel,
  newDigest,
  observe,
  parseChainModel,
  runProbabilities,
  startOffsetMs,
  successorChains,
  type ChainModel,
} from '../../shared/chains/index.js';
import { mulberry32 } from '../../shared/random.js';
import { nodeOf, shopDag, shopRun, switchOf } from '../helpers/chains.js';

describe('quantile digest', () => {
  it('stays bounded and within 2 % of the true quantiles of 20,000 samples', () => {
    const rnd = mulberry32(7);
    const d = newDigest(24);
    const xs: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const x = rnd() * 1000;
      xs.push(x);
      digestAdd(d, x);
    }
    expect(d.c.length).toBeLessThanOrEqual(48);
    expect(digestMerge(d, newDigest()).c.length).toBeLessThanOrEqual(24);
    xs.sort((a, b) => a - b);
    for (const q of [0.05, 0.1, 0.5, 0.9, 0.98]) {
      const truth = xs[Math.floor(q * xs.length)]!;
      expect(Math.abs(digestQuantile(d, q)! - truth)).toBeLessThan(20);
    }
  });

  it('merges two halves into the quantiles of the whole', () => {
    const a = newDigest();
    const b = newDigest();
    for (let i = 0; i < 500; i++) digestAdd(a, i);
    for (let i = 500; i < 1000; i++) digestAdd(b, i);
    expect(Math.abs(digestQuantile(digestMerge(a, b), 0.5)! - 500)).toBeLessThan(15);
  });

  it('forgets: after decay, new samples move the median', () => {
    const d = newDigest();
    for (let i = 0; i < 200; i++) digestAdd(d, 100);
    for (let i = 0; i < 200; i++) {
      digestDecay(d, 0.95);
      digestAdd(d, 300);
    }
    expect(digestQuantile(d, 0.5)).toBeCloseTo(300, 0);
  });

  it('answers null when empty', () => {
    expect(digestQuantile(newDigest(), 0.5)).toBeNull();
  });
});

function learn(model: ChainModel, runs: number, pB: number, seed: number, t0 = 0): ChainModel {
  const dag = shopDag();
  const rnd = mulberry32(seed);
  let m = model;
  for (let i = 0; i < runs; i++)
    m = observe(
      m,
      dag,
      shopRun(dag, { startedAt: t0 + i * 100_000, branchFn: rnd() < pB ? 'b' : 'c' }),
    );
  return m;
}

describe('branch probabilities', () => {
  const dag = shopDag();
  const sw = switchOf(dag);

  it('learn the branch frequencies of the timelines', () => {
    const m = learn(newChainModel({ halfLife: 1000 }), 400, 0.8, 1);
    const p = branchProbabilities(m, dag, sw);
    expect(p.probabilities['0']).toBeGreaterThan(0.75);
    expect(p.probabilities['0']).toBeLessThan(0.85);
    expect(p.probabilities['0']! + p.probabilities['1']!).toBeCloseTo(1, 9);
    const run = runProbabilities(m, dag);
    expect(run.get(nodeOf(dag, 'b') as never)).toBeCloseTo(p.probabilities['0']!, 9);
    expect(run.get(nodeOf(dag, 'a') as never)).toBe(1);
  });

  it('adapt to a branch shift within a few half-lives (decay)', () => {
    let m = learn(newChainModel({ halfLife: 20 }), 300, 0.9, 2);
    expect(branchProbabilities(m, dag, sw).probabilities['0']).toBeGreaterThan(0.8);
    m = learn(m, 80, 0.1, 3, 1e9);
    expect(branchProbabilities(m, dag, sw).probabilities['1']).toBeGreaterThan(0.8);
    // Without decay the old branch would still weigh 300 : 80.
    let flat = learn(newChainModel({ halfLife: Infinity }), 300, 0.9, 2);
    flat = learn(flat, 80, 0.1, 3, 1e9);
    expect(branchProbabilities(flat, dag, sw).probabilities['1']).toBeLessThan(0.35);
  });

  it('are kept per context bucket, with the all-contexts bucket as fallback', () => {
    let m = newChainModel();
    for (let i = 0; i < 30; i++) {
      m = observe(m, dag, shopRun(dag, { startedAt: i * 1000, branchFn: 'b', context: 'small' }));
      m = observe(
        m,
        dag,
        shopRun(dag, { startedAt: i * 1000 + 1, branchFn: 'c', context: 'large' }),
      );
    }
    expect(branchProbabilities(m, dag, sw, 'small').probabilities['0']).toBeGreaterThan(0.95);
    expect(branchProbabilities(m, dag, sw, 'large').probabilities['1']).toBeGreaterThan(0.95);
    const unseen = branchProbabilities(m, dag, sw, 'huge');
    expect(unseen.bucket).toBe('*');
    expect(unseen.probabilities['0']).toBeCloseTo(0.5, 1);
  });

  it('keep at most maxBuckets context buckets', () => {
    let m = newChainModel({ maxBuckets: 4 });
    for (let i = 0; i < 20; i++)
      m = observe(m, dag, shopRun(dag, { startedAt: i, branchFn: 'b', context: `s${i}` }));
    expect(Object.keys(m.workflows['shop']!.switches[sw]!).length).toBe(5);
  });
});

describe('timing, cold starts and memory', () => {
  const dag = shopDag();

  it('learns start offsets, and cold start as cold run − warm run when no init time is given', () => {
    let m = newChainModel();
    for (let i = 0; i < 100; i++)
      m = observe(
        m,
        dag,
        shopRun(dag, { startedAt: i * 1e5, branchFn: 'b', cold: i % 4 === 0 ? ['b'] : [] }),
      );
    const bStart = startOffsetMs(m, 'shop', nodeOf(dag, 'b'), 0.5)!;
    expect(bStart).toBeCloseTo(25, 0);
    const d50 = startOffsetMs(m, 'shop', nodeOf(dag, 'd'), 0.5)!;
    expect(d50).toBeGreaterThanOrEqual(70);
    const f = functionEstimate(m, dag, 'b', 999);
    expect(f.measured).toBe(true);
    expect(f.coldMs).toBeCloseTo(70, 5);
    expect(f.warmMs).toBeCloseTo(40, 5);
    expect(f.memoryMb).toBe(512);
    // Never ran: the default cold time and the catalogue's memory and runtime.
    const c = functionEstimate(m, dag, 'c', 999);
    expect(c).toEqual({ coldMs: 999, warmMs: 40, memoryMb: 512, measured: false, coldHighMs: 999 });
  });

  it('prefers the measured init time', () => {
    const run = shopRun(dag, { startedAt: 0, branchFn: 'b', cold: ['a'] });
    const steps = run.steps.map((s) => (s.cold ? { ...s, initMs: 55 } : s));
    const m = observe(newChainModel(), dag, { ...run, steps });
    expect(functionEstimate(m, dag, 'a', 70).coldMs).toBe(55);
  });

  it('leaves the model it was given unchanged', () => {
    const m = newChainModel();
    const before = JSON.stringify(m);
    observe(m, dag, shopRun(dag, { startedAt: 0, branchFn: 'b' }));
    expect(JSON.stringify(m)).toBe(before);
  });
});

describe('successors', () => {
  const up = shopDag('upload');
  const an = shopDag('analysis');

  it('links B to A by session and scores the chain', () => {
    let m = newChainModel({ successorWindowMs: 10_000 });
    for (let i = 0; i < 40; i++) {
      const t = i * 100_000;
      m = observe(m, up, shopRun(up, { startedAt: t, branchFn: 'b', session: `u${i}` }));
      if (i % 4 !== 0)
        m = observe(m, an, shopRun(an, { startedAt: t + 2000, branchFn: 'b', session: `u${i}` }));
    }
    const [best] = successorChains(m, 'upload', 40 * 100_000);
    expect(best!.workflow).toBe('analysis');
    expect(best!.probability).toBeGreaterThan(0.65);
    expect(best!.probability).toBeLessThan(0.85);
    expect(best!.sessionShare).toBeCloseTo(1, 5);
    expect(best!.gapMs!.median).toBeCloseTo(2000, 0);
    expect(best!.score).toBeCloseTo(best!.probability * best!.confidence * best!.recency, 9);
    // A chain that stopped long ago loses its score, not its probability.
    const [old] = successorChains(m, 'upload', 40 * 100_000 + 10 * 3_600_000);
    expect(old!.recency).toBeLessThan(0.001);
    expect(successorChains(m, 'analysis', 0)).toEqual([]);
  });

  it('links by time adjacency without sessions, whichever finishes first, never to itself', () => {
    let m = newChainModel({ successorWindowMs: 5000 });
    // B is observed before A (it finished first): the link is still made, once.
    m = observe(m, an, shopRun(an, { startedAt: 3000, branchFn: 'b' }));
    m = observe(m, up, shopRun(up, { startedAt: 1000, branchFn: 'b' }));
    m = observe(m, up, shopRun(up, { startedAt: 1500, branchFn: 'b' }));
    const chains = successorChains(m, 'upload', 3000);
    expect(chains.map((c) => c.workflow)).toEqual(['analysis']);
    expect(m.successors['upload']!.to['analysis']!.weight).toBeCloseTo(1, 1);
    expect(m.successors['upload']!.to['upload']).toBeUndefined();
  });

  it('does not link invocations of different sessions, or beyond Δ', () => {
    let m = newChainModel({ successorWindowMs: 5000 });
    m = observe(m, up, shopRun(up, { startedAt: 0, branchFn: 'b', session: 'x' }));
    m = observe(m, an, shopRun(an, { startedAt: 100, branchFn: 'b', session: 'y' }));
    m = observe(m, an, shopRun(an, { startedAt: 9000, branchFn: 'b', session: 'x' }));
    expect(successorChains(m, 'upload', 0)).toEqual([]);
  });
});

describe('merge and JSON', () => {
  const dag = shopDag();

  it('merging two models learned apart counts both', () => {
    const a = learn(newChainModel({ halfLife: 1e6 }), 50, 1, 1);
    const b = learn(newChainModel({ halfLife: 1e6 }), 50, 0, 2, 1e8);
    const m = mergeChainModels(a, b);
    expect(m.workflows['shop']!.observed).toBe(100);
    expect(branchProbabilities(m, dag, switchOf(dag)).probabilities['0']).toBeCloseTo(0.5, 1);
  });

  it('round-trips through its versioned JSON and stays small', () => {
    const m = learn(newChainModel(), 500, 0.7, 4);
    const text = chainModelToJson(m);
    expect(text.length).toBeLessThan(20_000);
    const back = parseChainModel(text);
    expect(branchProbabilities(back, dag, switchOf(dag)).probabilities['0']).toBeCloseTo(
      branchProbabilities(m, dag, switchOf(dag)).probabilities['0']!,
      4,
    );
  });

  it('rejects a document of another format or version, saying which it reads', () => {
    expect(() => parseChainModel('{')).toThrow(/not JSON/);
    expect(() => parseChainModel('{"format":"x"}')).toThrow(/format must be "faasflow-chains"/);
    expect(() => parseChainModel('{"format":"faasflow-chains","formatVersion":9}')).toThrow(
      /formatVersion 9 is not supported; this build reads 1/,
    );
  });
});
