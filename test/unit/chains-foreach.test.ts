/**
 * How wide a foreach runs (issue 15): the chain model learns a foreach node's width and start
 * from its steps; the planner prepares its body's first function on the foreach's worker, as many
 * as it runs at once (the learned width, at most its concurrency); the worker fires that many at
 * once and the pool starts only what is missing.
 */
import { describe, expect, it } from 'vitest';
import {
  foreachWidth,
  mergeChainModels,
  newChainModel,
  observe,
  planPrepares,
  startOffsetMs,
} from '../../shared/chains/index.js';
import type { ObservedStep } from '../../shared/chains/index.js';
import { silentLogger } from '../../shared/logger.js';
import { PrepareScheduler } from '../../worker/sandbox/ahead.js';
import { dagOf } from '../helpers/engine-harness.js';

const dag = dagOf(`name: fan
functions:
  split: { code: "export default async (x) => x" }
  work: { code: "export default async (x) => x" }
  sum: { code: "export default async (x) => x" }
flow:
  sequence:
    - task: split
    - foreach: { items: '$.items', concurrency: 6, do: { task: work } }
    - task: sum
`);
const ids = Object.fromEntries(dag.nodes.map((n) => [n.kind === 'task' ? n.fn : n.kind, n.id]));

function run(
  startedAt: number,
  width: number,
): { workflow: string; startedAt: number; steps: ObservedStep[] } {
  const step = (node: string, at: number, ms: number, extra: Partial<ObservedStep> = {}) => ({
    node,
    status: 'succeeded' as const,
    startedAt: startedAt + at,
    finishedAt: startedAt + at + ms,
    queueMs: 0,
    cold: false,
    ...extra,
  });
  return {
    workflow: 'fan',
    startedAt,
    steps: [
      step(ids['split']!, 0, 200),
      step(ids['foreach']!, 200, 50, { items: width }),
      step(ids['sum']!, 250, 10),
    ],
  };
}

describe('foreach width', () => {
  it('is learned with the foreach start, and merges', () => {
    let m = newChainModel();
    for (let i = 0; i < 30; i++) m = observe(m, dag, run(i * 1e5, 4));
    expect(foreachWidth(m, 'fan', ids['foreach']!)).toBeCloseTo(4, 5);
    expect(startOffsetMs(m, 'fan', ids['foreach']!, 0.5)).toBeCloseTo(200, 0);
    let other = newChainModel();
    for (let i = 0; i < 30; i++) other = observe(other, dag, run(i * 1e5, 8));
    expect(foreachWidth(mergeChainModels(m, other), 'fan', ids['foreach']!)).toBeCloseTo(6, 1);
    expect(foreachWidth(newChainModel(), 'fan', ids['foreach']!)).toBeNull();
  });

  it("prepares the body's function on the foreach's worker, as many as it runs at once", () => {
    let m = newChainModel();
    for (let i = 0; i < 30; i++) m = observe(m, dag, run(i * 1e5, 4));
    const owners = Object.fromEntries(dag.nodes.map((n) => [n.id, 'w1']));
    const plan = (width: number) => {
      let mm = newChainModel();
      for (let i = 0; i < 30; i++) mm = observe(mm, dag, run(i * 1e5, width));
      return planPrepares({
        model: mm,
        dag,
        owners,
        mode: 'predictive',
        warm: () => 0,
        price: 0,
        nowMs: 0,
      }).find((a) => a.function === 'work');
    };
    const four = plan(4)!;
    const fe = dag.nodes.find((n) => n.kind === 'foreach');
    const bodyId = fe?.kind === 'foreach' ? fe.body.nodes[0]!.id : '';
    expect(four).toMatchObject({ worker: 'w1', count: 4, node: `${fe!.id}/${bodyId}` });
    // Ready just before the foreach starts (200 ms in), a cold start ahead.
    expect(four.atMs).toBeGreaterThan(100);
    expect(four.atMs).toBeLessThan(200);
    // Wider than its concurrency: capped at 6.
    expect(plan(20)!.count).toBe(6);
  });
});

describe('a prepare for several sandboxes', () => {
  it('fires that many at once, each told how many are wanted', async () => {
    const calls: [string, number, number | undefined][] = [];
    const s = new PrepareScheduler({
      sandbox: {
        prepareAhead: (key, ttl, want) => {
          calls.push([key, ttl, want]);
          return Promise.resolve(calls.length <= 3);
        },
      },
      logger: silentLogger,
    });
    s.schedule([
      { workflow: 'fan', version: 2, function: 'work', node: 'x', atMs: 0, ttlMs: 500, count: 4 },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(Array.from({ length: 4 }, () => ['fan@2/work', 500, 4]));
    expect(s.counts).toMatchObject({ scheduled: 1, started: 3, skipped: 1 });
    s.close();
  });
});
