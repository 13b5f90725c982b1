/**
 * Prepares ahead for invocations an ingress worker takes: the master's kit of its chain model
 * (one workflow and its successors) plans exactly what the whole model plans; the ingress holds
 * kits without ever waiting for the master (one fetch at a time, refreshed in the background,
 * failed fetches not repeated at once, too-old kits unused, malformed ones refused); and the
 * coordinator sends the planned prepares to the owner workers after the triggers and records
 * them on the invocation.
 */
import { describe, expect, it } from 'vitest';
import {
  chainKit,
  newChainModel,
  observe,
  planStart,
  type ChainModel,
  type PlacedRun,
  type PrepareMessage,
} from '../../shared/chains/index.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { Expressions } from '../../shared/expressions.js';
import { silentLogger } from '../../shared/logger.js';
import type { PlacementView, ViewWorker } from '../../shared/schema/wire.js';
import { indexDeployment } from '../../worker/engine/deployments.js';
import { IngressChains, readKit } from '../../worker/ingress/chains.js';
import { IngressCoordinator } from '../../worker/ingress/coordinator.js';
import { ViewHolder } from '../../worker/ingress/view.js';
import { shopDag, shopRun } from '../helpers/chains.js';

const UP: WorkflowDag = { ...shopDag('upload'), prewarm: { mode: 'eager', budget: 0.1 } };
const AN: WorkflowDag = { ...shopDag('analysis'), prewarm: { mode: 'predictive', budget: 0.1 } };
const OTHER = shopDag('unrelated');

/** 40 sessions of upload followed 3 s later by analysis, and some unrelated invocations. */
function learned(): ChainModel {
  let m = newChainModel({ successorWindowMs: 10_000 });
  for (let i = 0; i < 40; i++) {
    m = observe(m, UP, shopRun(UP, { startedAt: i * 1e5, branchFn: 'b', session: `s${i}` }));
    m = observe(m, AN, shopRun(AN, { startedAt: i * 1e5 + 3000, branchFn: 'b', session: `s${i}` }));
    m = observe(m, OTHER, shopRun(OTHER, { startedAt: i * 1e5 + 50_000, branchFn: 'c' }));
  }
  return m;
}

/** Every node of `dag` in its own group, the groups on `workers` in turn. */
function placed(dag: WorkflowDag, workers: string[], version = 1): PlacedRun {
  const ids = dag.nodes.map((n) => n.id as string);
  const groupOf = Object.fromEntries(ids.map((id, i) => [id, i]));
  const groups = ids.map((_, i) => workers[i % workers.length]!);
  return {
    dag,
    version,
    groupOf,
    placement: {
      groups,
      workers: Object.fromEntries(workers.map((w) => [w, `http://${w}`])),
    },
  };
}

describe('chain kit', () => {
  it('holds one workflow and its successors, and plans what the whole model plans', () => {
    const model = learned();
    const price = (w: string): number => (w === 'analysis' ? 0.02 : 0.01);
    const kit = readKit(JSON.parse(JSON.stringify(chainKit(model, 'upload', price, 7))), 'upload');
    expect(Object.keys(kit.model.workflows).sort()).toEqual(['analysis', 'upload']);
    expect(Object.keys(kit.model.successors)).toEqual(['upload']);
    expect(kit.prices).toEqual({ upload: 0.01, analysis: 0.02 });
    expect(kit.model.recent).toEqual([]);
    const input = {
      run: placed(UP, ['w1', 'w2']),
      successors: [placed(AN, ['w3'])],
      inputBytes: 10,
      startedAt: 40 * 1e5,
      nowMs: 40 * 1e5,
    };
    const whole = planStart({ ...input, model, price });
    const fromKit = planStart({ ...input, model: kit.model, price: (w) => kit.prices[w]! });
    expect(fromKit.actions).toEqual(whole.actions);
    expect([...fromKit.messages]).toEqual([...whole.messages]);
    expect(fromKit.prewarm).toEqual(whole.prewarm);
    // Eager: every node but the source; the successor's first nodes on its own worker.
    expect(whole.actions.some((a) => a.reason === 'eager')).toBe(true);
    expect(whole.actions.some((a) => a.reason === 'successor' && a.worker === 'w3')).toBe(true);
    const toW3 = whole.messages.get('http://w3')!;
    expect(toW3.every((m) => m.workflow === 'analysis' && m.startedAt === 40 * 1e5)).toBe(true);
    expect(toW3.every((m) => (m.needMs ?? 0) >= m.atMs)).toBe(true);
  });

  it('refuses a kit for another workflow, with bad prices or an unreadable model', () => {
    const kit = chainKit(learned(), 'upload', () => 0.01, 7);
    expect(() => readKit(kit, 'analysis')).toThrow(/chain kit of analysis is malformed/);
    expect(() => readKit({ ...kit, prices: { upload: -1 } }, 'upload')).toThrow(/malformed/);
    expect(() => readKit({ ...kit, model: { format: 'x' } }, 'upload')).toThrow();
    expect(() => readKit(null, 'upload')).toThrow(/malformed/);
  });
});

describe('IngressChains', () => {
  function setup(o: { refreshMs?: number; maxAgeMs?: number } = {}) {
    const clock = { now: 0 };
    const calls: string[] = [];
    const pending: { resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
    const chains = new IngressChains(
      (master, workflow) => {
        calls.push(`${master} ${workflow}`);
        return new Promise((resolve, reject) => pending.push({ resolve, reject }));
      },
      silentLogger,
      { refreshMs: 2_000, maxAgeMs: 10_000, ...o, now: () => clock.now },
    );
    const answer = async (body: unknown): Promise<void> => {
      pending.shift()!.resolve(body);
      await new Promise((r) => setImmediate(r));
    };
    const fail = async (): Promise<void> => {
      pending.shift()!.reject(new Error('master down'));
      await new Promise((r) => setImmediate(r));
    };
    return { chains, clock, calls, answer, fail };
  }
  const kit = chainKit(learned(), 'upload', () => 0.01, 1);

  it('never waits: nothing the first time, one fetch at a time, the kit once it came', async () => {
    const { chains, calls, answer } = setup();
    expect(chains.get('upload', 'http://m')).toBeUndefined();
    expect(chains.get('upload', 'http://m')).toBeUndefined();
    expect(calls).toEqual(['http://m upload']);
    await answer(kit);
    expect(chains.get('upload', 'http://m')?.prices).toEqual({ upload: 0.01, analysis: 0.01 });
    expect(calls).toHaveLength(1);
  });

  it('refreshes in the background after refreshMs and stops using a kit past maxAgeMs', async () => {
    const { chains, clock, calls, answer, fail } = setup();
    chains.get('upload', 'http://m');
    await answer(kit);
    clock.now = 2_500;
    expect(chains.get('upload', 'http://m')).toBeDefined(); // the held one, while it refreshes
    expect(calls).toHaveLength(2);
    await fail();
    clock.now = 3_000;
    chains.get('upload', 'http://m');
    expect(calls).toHaveLength(2); // a failed fetch is not repeated within refreshMs
    clock.now = 10_001;
    expect(chains.get('upload', 'http://m')).toBeUndefined(); // too old to plan with
    expect(calls).toHaveLength(3);
    await answer({ ...kit, at: 2 });
    expect(chains.get('upload', 'http://m')?.at).toBe(2);
    expect(chains.held()).toEqual({ upload: 0 });
  });

  it('does not keep a malformed kit', async () => {
    const { chains, answer } = setup();
    chains.get('upload', 'http://m');
    await answer({ workflow: 'upload', prices: 'cheap' });
    expect(chains.held()).toEqual({});
  });
});

describe('IngressCoordinator prepares ahead', () => {
  function worker(id: string): ViewWorker {
    return {
      id,
      url: `http://${id}`,
      capacity: { cpu: 2, memoryMb: 4096 },
      status: 'ready',
      load: 0,
      journal: false,
      holds: ['upload@1', 'analysis@1'],
    };
  }
  const view: PlacementView = {
    seq: 1,
    master: 'http://master',
    mode: 'worker',
    strategy: 'round-robin',
    durability: 'auto',
    journal: false,
    harvest: false,
    defaultTimeoutMs: 60_000,
    maxTimeoutMs: 600_000,
    tenant: 'default',
    intervalMs: 1_000,
    workers: [worker('w1'), worker('w2')],
  };
  const deployment = (dag: WorkflowDag) =>
    indexDeployment(
      {
        workflow: dag.name,
        version: 1,
        dag,
        groupOf: Object.fromEntries(dag.nodes.map((n, i) => [n.id, i])),
        files: {},
      },
      '/tmp',
    );
  const deps = new Map([
    ['upload', deployment(UP)],
    ['analysis', deployment(AN)],
  ]);

  function coordinator(kits: IngressChains | undefined) {
    const holder = new ViewHolder(() => 40 * 1e5);
    holder.set(view);
    const order: string[] = [];
    const prepares: { url: string; list: PrepareMessage[] }[] = [];
    const c = new IngressCoordinator({
      workerId: 'w1',
      url: () => 'http://w1',
      view: holder,
      deployments: { latest: (name) => deps.get(name) },
      peers: {} as PeerClient,
      exprs: new Expressions(),
      logger: silentLogger,
      inlineMaxBytes: 4096,
      now: () => 40 * 1e5,
      ...(kits ? { chains: kits } : {}),
      ports: {
        local: () => order.push('trigger'),
        send: () => {
          order.push('trigger');
          return Promise.resolve();
        },
        put: () => Promise.reject(new Error('not used')),
        read: () => undefined,
        release: () => undefined,
        claimKey: (_k, id) => Promise.resolve(id),
        lookup: () => Promise.resolve(undefined),
        ship: () => undefined,
        prepare: (url, list) => {
          order.push('prepare');
          prepares.push({ url, list });
        },
      },
    });
    return { c, order, prepares };
  }

  it('sends the kit’s plan to the owner workers after the triggers, and records it', async () => {
    const kits = new IngressChains(
      () => Promise.resolve(chainKit(learned(), 'upload', () => 0.01, 1)),
      silentLogger,
      { now: () => 40 * 1e5 },
    );
    kits.get('upload', 'http://master');
    await new Promise((r) => setImmediate(r));
    const { c, order, prepares } = coordinator(kits);
    const r = await c.start('upload', { input: { x: 1 }, timeoutMs: 10_000, wait: true });
    if (!('prewarm' in r)) throw new Error('not started here');
    expect(order[0]).toBe('trigger');
    expect(order).toContain('prepare');
    const all = prepares.flatMap((p) => p.list.map((m) => ({ url: p.url, ...m })));
    // Eager: upload's nodes but its source, each to the worker its group was placed on.
    const own = all.filter((m) => m.workflow === 'upload');
    expect(own.length).toBe(UP.nodes.filter((n) => n.kind === 'task').length - 1);
    for (const m of own) {
      const group = deps.get('upload')!.groupOf[m.node]!;
      expect(m.url).toBe(`http://${r.placement.groups[group]}`);
    }
    // The successor deployed here, predictive: its first nodes, planned where it would go now.
    expect(all.some((m) => m.workflow === 'analysis')).toBe(true);
    expect(r.prewarm?.mode).toBe('eager');
    expect(r.prewarm?.prepares.length).toBe(all.length);
  });

  it('plans nothing without a kit, and starts the invocation all the same', async () => {
    const { c, order, prepares } = coordinator(
      new IngressChains(() => new Promise(() => undefined), silentLogger),
    );
    const r = await c.start('upload', { input: { x: 1 }, timeoutMs: 10_000, wait: true });
    expect('status' in r && r.status).toBe('running');
    expect(prepares).toEqual([]);
    expect(order.every((o) => o === 'trigger')).toBe(true);
  });
});
