/**
 * The master's ChainService (master/chains/service.ts) over a fake store: finished invocations
 * are observed on flush (not on the caller's path), the model and the budgets persist under
 * `chains:model` / `chains:budget` and a new service reads them back, prepare feedback over the
 * budget raises the planner's price, and a failed write is retried on the next flush.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHAINS_BUDGET_KEY,
  CHAINS_MODEL_KEY,
  ChainService,
} from '../../../master/chains/service.js';
import { parseChainModel } from '../../../shared/chains/index.js';
import type { WorkflowDag } from '../../../shared/dag/types.js';
import { prewarmView, type InvocationRecord } from '../../../shared/invocation/record.js';
import { fromDoc, toDoc } from '../../../shared/invocation/doc.js';
import { createLogger } from '../../../shared/logger.js';
import { nodeOf, shopDag, shopRun, switchOf } from '../../helpers/chains.js';

/** The two calls the service makes of the master store, in memory; `fail` makes writes reject. */
class FakeStore {
  values = new Map<string, unknown>();
  fail = false;
  writes = 0;
  getValue(key: string): Promise<unknown> {
    return Promise.resolve(this.values.get(key));
  }
  setValue(key: string, value: unknown): Promise<void> {
    if (this.fail) return Promise.reject(new Error('backend down'));
    this.writes++;
    this.values.set(key, JSON.parse(JSON.stringify(value)));
    return Promise.resolve();
  }
}

const logger = createLogger({}, 'silent');
const services: ChainService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.close();
});

function service(store: FakeStore): ChainService {
  const s = new ChainService({ store, logger, flushIntervalMs: 3_600_000, now: () => 1e9 });
  services.push(s);
  return s;
}

function dagWith(mode: 'off' | 'eager' | 'predictive', budget = 0.1): WorkflowDag {
  return { ...shopDag(), prewarm: { mode, budget } };
}

function record(dag: WorkflowDag, i: number, branchFn: 'b' | 'c'): InvocationRecord {
  const run = shopRun(dag, { startedAt: 1e6 + i * 1e5, branchFn, cold: i === 0 ? ['a'] : [] });
  const kinds = new Map(dag.nodes.map((n) => [n.id as string, n.kind]));
  return {
    workflow: dag.name,
    startedAt: run.startedAt,
    steps: run.steps.map((s) => ({ ...s, kind: kinds.get(s.node), inputBytes: 10 })),
  } as unknown as InvocationRecord;
}

describe('ChainService', () => {
  it('observes finished invocations on flush and persists the model', async () => {
    const store = new FakeStore();
    const s = service(store);
    const dag = dagWith('predictive');
    for (let i = 0; i < 20; i++) s.finished(record(dag, i, i < 16 ? 'b' : 'c'), dag);
    expect(s.view(dag).observed).toBe(0);
    await s.flush();
    const v = s.view(dag);
    expect(v.observed).toBe(20);
    const sw = v.switches.find((x) => x.node === switchOf(dag))!;
    const pB = Math.max(...Object.values(sw.branches));
    expect(pB).toBeGreaterThan(0.7);
    expect(pB).toBeLessThan(0.85);
    const b = v.nodes.find((n) => n.node === nodeOf(dag, 'b'))!;
    expect(b.startMs).not.toBeNull();
    expect(b.startMs!.p50).toBeGreaterThan(0);
    const stored = parseChainModel(store.values.get(CHAINS_MODEL_KEY) as string);
    expect(stored.workflows[dag.name]!.observed).toBe(20);
    expect(store.values.get(CHAINS_BUDGET_KEY)).toHaveProperty([dag.name]);
  });

  it('a new service reads the stored model back', async () => {
    const store = new FakeStore();
    const dag = dagWith('eager');
    const a = service(store);
    for (let i = 0; i < 5; i++) a.finished(record(dag, i, 'b'), dag);
    await a.flush();
    const b = service(store);
    expect(b.view(dag).observed).toBe(0);
    await b.load();
    expect(b.view(dag).observed).toBe(5);
  });

  it('feedback above the budget raises the price; below it lowers it', async () => {
    const store = new FakeStore();
    const s = service(store);
    const dag = dagWith('predictive', 0.05);
    const p0 = s.price(dag.name);
    s.finished(record(dag, 0, 'b'), dag);
    s.addFeedback(dag.name, { wastedMbS: 50, usedMbS: 10, totalMbS: 100 });
    await s.flush();
    const up = s.price(dag.name);
    expect(up).toBeGreaterThan(p0);
    for (let i = 0; i < 50; i++) {
      s.addFeedback(dag.name, { wastedMbS: 0, usedMbS: 10, totalMbS: 1000 });
      await s.flush();
    }
    expect(s.price(dag.name)).toBeLessThan(up);
    expect(s.view(dag).prepares.wastedMbS).toBe(50);
  });

  it('plans nothing with prewarm off, every node but the source with eager', () => {
    const s = service(new FakeStore());
    const off = dagWith('off');
    const owners = Object.fromEntries(off.nodes.map((n) => [n.id, 'w1']));
    expect(s.plan({ dag: off, owners }, () => 0, 10)).toEqual([]);
    const eager = dagWith('eager');
    const plan = s.plan({ dag: eager, owners }, () => 0, 10);
    // The source starts before any prepare could reach its worker.
    expect(plan.map((a) => a.function).sort()).toEqual(['b', 'c', 'd']);
  });

  it('a failed write is retried on the next flush', async () => {
    const store = new FakeStore();
    const s = service(store);
    const dag = dagWith('eager');
    s.finished(record(dag, 0, 'b'), dag);
    store.fail = true;
    await s.flush();
    expect(store.values.has(CHAINS_MODEL_KEY)).toBe(false);
    store.fail = false;
    await s.flush();
    expect(parseChainModel(store.values.get(CHAINS_MODEL_KEY) as string).workflows).toHaveProperty([
      dag.name,
    ]);
  });

  it('records what it predicts, and the timeline shows it beside what happened', async () => {
    const s = service(new FakeStore());
    const dag = dagWith('predictive');
    for (let i = 0; i < 20; i++) s.finished(record(dag, i, i % 4 === 0 ? 'c' : 'b'), dag);
    await s.flush();
    const p = s.predictions(dag, 10);
    const sw = p.switches.find((x) => x.node === switchOf(dag))!;
    // b three times in four; the heads say which node each branch leads to.
    expect(sw.branches['0']).toBeGreaterThan(0.6);
    expect(sw.heads['0']).toEqual([nodeOf(dag, 'b')]);
    expect(sw.heads['1']).toEqual([nodeOf(dag, 'c')]);
    const b = p.nodes.find((n) => n.node === nodeOf(dag, 'b'))!;
    expect(b.probability).toBeCloseTo(sw.branches['0']!, 2);
    expect(b.startMs).toBeGreaterThan(0);

    const run = record(dag, 99, 'c');
    const view = prewarmView(
      { mode: 'predictive', price: 0.01, ...p, prepares: [] },
      run.steps,
      run.startedAt,
    ) as any;
    expect(view.switches[0]).toMatchObject({ node: sw.node, taken: '1' });
    const byNode = Object.fromEntries(view.nodes.map((n: any) => [n.node, n]));
    expect(byNode[nodeOf(dag, 'c')]).toMatchObject({
      ran: true,
      actual: { cold: false, prepared: false },
    });
    expect(byNode[nodeOf(dag, 'b')]).toMatchObject({ ran: false, actual: null });
    expect(byNode[nodeOf(dag, 'b')].predicted.probability).toBe(b.probability);
  });

  it('keeps the session and the prewarm record in the stored document', () => {
    const dag = dagWith('predictive');
    const r = {
      ...record(dag, 1, 'b'),
      id: 'inv_x',
      version: 1,
      status: 'succeeded',
      deadline: 1,
      placement: { groups: ['w1'], workers: { w1: 'http://w1' } },
      ctx: { tenant: 'default', deadline: 1, input: { tier: 'inline', data: '', sizeBytes: 0 } },
      durability: 'none',
      recoveries: 0,
      stepsDropped: 0,
      session: 'cart-7',
      prewarm: { mode: 'off', price: 1, nodes: [], switches: [], prepares: [] },
    } as unknown as InvocationRecord;
    const back = fromDoc(JSON.parse(JSON.stringify(toDoc(r))))!;
    expect(back.session).toBe('cart-7');
    expect(back.prewarm).toEqual(r.prewarm);
  });
});
