/**
 * The prepare-ahead planner (shared/chains/planner.ts): off prepares nothing, eager every task
 * node at start, predictive only where the expected critical-path time saved pays for the
 * memory-seconds at the price; timing = predicted start − cold (its p90) − margin; warm sandboxes and
 * slack are respected; a likely successor's first nodes are prepared from the predecessor's start.
 */
import { describe, expect, it } from 'vitest';
import {
  newChainModel,
  observe,
  functionEstimate,
  planPrepares,
  type ChainModel,
  type PlanInput,
} from '../../shared/chains/index.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { nodeOf, shopDag, shopRun } from '../helpers/chains.js';

const dag = shopDag();
const owners = Object.fromEntries(dag.nodes.map((n) => [n.id, 'w1']));

function trained(pB: number, runs = 200): ChainModel {
  let m = newChainModel({ halfLife: 1000 });
  for (let i = 0; i < runs; i++)
    m = observe(
      m,
      dag,
      shopRun(dag, {
        startedAt: i * 1e5,
        branchFn: i < pB * runs ? 'b' : 'c',
        cold: i % 5 === 0 ? ['a', 'b', 'c', 'd'] : [],
      }),
    );
  return m;
}

function plan(over: Partial<PlanInput>): ReturnType<typeof planPrepares> {
  return planPrepares({
    model: newChainModel(),
    dag,
    owners,
    mode: 'predictive',
    warm: () => 0,
    price: 0.01,
    nowMs: 0,
    options: { idleMs: 10_000 },
    ...over,
  });
}

describe('prepare-ahead planner', () => {
  it('off prepares nothing; eager every task node at start unless a warm one is idle', () => {
    expect(plan({ mode: 'off', model: trained(0.5) })).toEqual([]);
    const eager = plan({ mode: 'eager', model: trained(0.5) });
    // Not the source a: its trigger reaches the worker before any prepare could.
    expect(eager.map((a) => a.function).sort()).toEqual(['b', 'c', 'd']);
    expect(eager.every((a) => a.atMs === 0 && a.reason === 'eager')).toBe(true);
    const warmB = plan({ mode: 'eager', warm: (_w, _wf, fn) => (fn === 'b' ? 1 : 0) });
    expect(warmB.map((a) => a.function).sort()).toEqual(['c', 'd']);
  });

  it('never prepares a source of its own invocation: its trigger is there first', () => {
    const actions = plan({ model: trained(1), price: 0 });
    expect(actions.map((a) => a.function)).not.toContain('a');
    expect(actions.map((a) => a.function)).toContain('b');
  });

  it('times a prepare at the predicted start − cold time − margin', () => {
    const m = trained(1);
    const actions = plan({ model: m, price: 0 });
    const d = actions.find((a) => a.function === 'd')!;
    // d starts at 70 ms warm (a 20, b 40, 2 × 5), later in the cold runs; cold ≈ 70, margin 10.
    expect(d.atMs).toBeGreaterThanOrEqual(0);
    expect(d.atMs).toBeLessThan(70 - 70 - 10 + 40);
    const b = actions.find((a) => a.function === 'b')!;
    expect(b.atMs).toBe(0);
    expect(b.ttlMs).toBeGreaterThan(0);
  });

  it('skips an unlikely branch at a price its saving does not pay, and takes it at price 0', () => {
    const m = trained(0.95);
    const actions = plan({ model: m, price: 0 });
    expect(actions.map((a) => a.function)).toContain('c');
    const c = actions.find((a) => a.function === 'c')!;
    const b = actions.find((a) => a.function === 'b')!;
    expect(c.probability).toBeLessThan(0.1);
    const rb = b.savedMs / b.costMbS;
    const rc = c.savedMs / c.costMbS;
    expect(rb).toBeGreaterThan(rc);
    // At a price between the two, the likely branch pays for itself and the unlikely one not.
    const dear = plan({ model: m, price: Math.sqrt(rb * rc) }).map((a) => a.function);
    expect(dear).toContain('b');
    expect(dear).not.toContain('c');
  });

  it('does not prepare a node whose slack absorbs its cold start', () => {
    // a → (fast | slow) → join: fast has 500 ms of slack, more than a cold start.
    const par: WorkflowDag = {
      ...dag,
      name: 'par',
      functions: {
        ...dag.functions,
        b: { ...dag.functions['b']!, runtimeMs: 600 },
        c: { ...dag.functions['c']!, runtimeMs: 100 },
      },
      nodes: dag.nodes.filter((n) => n.kind === 'task'),
      edges: [
        { from: nodeOf(dag, 'a') as never, to: nodeOf(dag, 'b') as never, bytes: 0 },
        { from: nodeOf(dag, 'a') as never, to: nodeOf(dag, 'c') as never, bytes: 0 },
        { from: nodeOf(dag, 'b') as never, to: nodeOf(dag, 'd') as never, bytes: 0 },
        { from: nodeOf(dag, 'c') as never, to: nodeOf(dag, 'd') as never, bytes: 0 },
      ],
    };
    const fns = plan({ dag: par, price: 0 })
      .map((a) => a.function)
      .sort();
    expect(fns).toEqual(['b', 'd']);
  });

  it("prepares a likely successor's first nodes from the predecessor's start", () => {
    const up = shopDag('upload');
    const an = shopDag('analysis');
    let m = newChainModel({ successorWindowMs: 10_000 });
    for (let i = 0; i < 40; i++) {
      m = observe(m, up, shopRun(up, { startedAt: i * 1e5, branchFn: 'b', session: `s${i}` }));
      m = observe(
        m,
        an,
        shopRun(an, { startedAt: i * 1e5 + 3000, branchFn: 'b', session: `s${i}` }),
      );
    }
    const anOwners = Object.fromEntries(an.nodes.map((n) => [n.id, 'w2']));
    const predictive: WorkflowDag = { ...an, prewarm: { mode: 'predictive', budget: 0.1 } };
    const planWith = (mode: 'off' | 'predictive', next: WorkflowDag, price = 0.01) =>
      planPrepares({
        model: m,
        dag: up,
        owners,
        mode,
        warm: () => 0,
        price: 0.01,
        successorPrice: () => price,
        nowMs: 40 * 1e5,
        successors: { analysis: { dag: next, owners: anOwners } },
      });
    const actions = planWith('predictive', predictive);
    // The successor's own setting governs: not prepared when it is off, prepared when this
    // workflow's is off; its own controller's price applies.
    expect(planWith('predictive', an).filter((a) => a.reason === 'successor')).toEqual([]);
    expect(planWith('off', predictive).every((a) => a.reason === 'successor')).toBe(true);
    expect(planWith('off', predictive).length).toBeGreaterThan(0);
    expect(planWith('off', predictive, 1e9)).toEqual([]);
    const succ = actions.filter((a) => a.reason === 'successor');
    // Those starting within a cold start of the successor's start (a at 0, b at 25, d at 70);
    // c never ran there (its branch is unlikely).
    expect(succ.map((a) => a.function)).toEqual(['a', 'b', 'd']);
    expect(succ.every((a) => a.worker === 'w2' && a.workflow === 'analysis')).toBe(true);
    expect(succ[0]!.atMs).toBeGreaterThan(3000 - 70 - 10 - 100);
    expect(succ[0]!.atMs).toBeLessThan(3000);
  });

  it('times a prepare by a slow start (p90 of the measured ones), not the mean', () => {
    // The same mean start (30 ms) for d's function (which starts at 70 ms), steady or spread 10…50.
    const learn = (initOf: (i: number) => number): ChainModel => {
      let m = newChainModel({ halfLife: 1000 });
      for (let i = 0; i < 60; i++) {
        const run = shopRun(dag, { startedAt: i * 1e5, branchFn: 'b', cold: ['d'] });
        const d = nodeOf(dag, 'd');
        for (const s of run.steps) if (s.node === d) s.initMs = initOf(i);
        m = observe(m, dag, run);
      }
      return m;
    };
    const steady = learn(() => 30);
    const spread = learn((i) => [10, 20, 30, 40, 50][i % 5]!);
    const atOf = (model: ChainModel): number =>
      plan({ model, mode: 'predictive', price: 0 }).find((a) => a.function === 'd')!.atMs;
    expect(functionEstimate(steady, dag, 'd', 70).coldHighMs).toBeCloseTo(30, 0);
    const high = functionEstimate(spread, dag, 'd', 70).coldHighMs;
    expect(high).toBeGreaterThan(42);
    expect(high).toBeLessThanOrEqual(50);
    expect(functionEstimate(spread, dag, 'd', 70).coldMs).toBeCloseTo(30, 0);
    expect(atOf(steady)).toBeGreaterThan(0);
    expect(atOf(steady) - atOf(spread)).toBeCloseTo(high - 30, 0);
  });
});
