/**
 * The worker ingress's pure pieces and its coordinator, with fake ports and a fake clock: the
 * placement view's decisions (durability, eligible workers, placement with the coordinator and
 * the load placed since the view), the view holder (none, stale, older, a new master), and the
 * coordinator's state machine — start (journal before any trigger, own groups local, the rest
 * sent), the answer as soon as the sinks are in while the record waits for the steps, failures,
 * duplicates, the deadline, cancel, idempotency keys naming another invocation, and a worker
 * leaving the view (a `none` invocation fails, a `checkpoint` one is re-placed from its journal).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeValue } from '../../shared/codec.js';
import type { InvocationId } from '../../shared/ids.js';
import { invId } from '../helpers/ids.js';
import { Expressions } from '../../shared/expressions.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import type { InvocationDoc } from '../../shared/invocation/doc.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import { MemoryJournal } from '../../shared/journal-memory.js';
import { silentLogger } from '../../shared/logger.js';
import { eligibleWorkers, placeOnView, resolveDurability } from '../../shared/placement-view.js';
import type {
  PlacementView,
  Report,
  StoredRef,
  Trigger,
  ViewWorker,
} from '../../shared/schema/wire.js';
import { indexDeployment } from '../../worker/engine/deployments.js';
import { IngressCoordinator, type RemoteInvocation } from '../../worker/ingress/coordinator.js';
import { ViewHolder } from '../../worker/ingress/view.js';
import { dagOf } from '../helpers/engine-harness.js';

const DAG = dagOf(`name: chain
functions:
  f: { code: "export default async (x) => x" }
dag:
  a: { task: f }
  b: { task: f, after: [a] }
  c: { task: f, after: [b] }
`);
const DEP = indexDeployment(
  { workflow: 'chain', version: 1, dag: DAG, groupOf: { a: 0, b: 1, c: 2 }, files: {} },
  '/tmp',
);

function worker(id: string, extra: Partial<ViewWorker> = {}): ViewWorker {
  return {
    id,
    url: `http://${id}`,
    capacity: { cpu: 2, memoryMb: 4096 },
    status: 'ready',
    load: 0,
    journal: true,
    holds: ['chain@1'],
    ...extra,
  };
}

function view(seq: number, extra: Partial<PlacementView> = {}): PlacementView {
  return {
    seq,
    master: 'http://master',
    mode: 'worker',
    strategy: 'round-robin',
    durability: 'auto',
    journal: true,
    harvest: false,
    defaultTimeoutMs: 60_000,
    maxTimeoutMs: 600_000,
    tenant: 'default',
    intervalMs: 1_000,
    workers: [worker('w1'), worker('w2'), worker('w3')],
    ...extra,
  };
}

function inline(v: unknown): StoredRef {
  const b = encodeValue(v);
  return { tier: 'inline', data: b.toString('base64'), sizeBytes: b.length };
}

describe('placement view', () => {
  it('resolves durability like the master: auto needs a journal and a capable worker', () => {
    const base = { workflow: 'chain', journal: true, capable: true };
    expect(resolveDurability({ ...base, asked: 'auto' })).toBe('checkpoint');
    expect(resolveDurability({ ...base, asked: 'auto', capable: false })).toBe('none');
    expect(resolveDurability({ ...base, asked: 'strict' })).toBe('strict');
    expect(() => resolveDurability({ ...base, asked: 'checkpoint', journal: false })).toThrow(
      /needs the journal.*--redis-url/,
    );
  });

  it('places only on ready workers that hold the version (and journal when durable)', () => {
    const v = view(1, {
      workers: [
        worker('w1'),
        worker('w2', { status: 'draining' }),
        worker('w3', { holds: ['chain@2'] }),
        worker('w4', { journal: false }),
      ],
    });
    expect(eligibleWorkers(v, 'chain', 1, 'none').map((w) => w.id)).toEqual(['w1', 'w4']);
    expect(eligibleWorkers(v, 'chain', 1, 'checkpoint').map((w) => w.id)).toEqual(['w1']);
  });

  it('names the coordinator and counts what this coordinator placed since the view', () => {
    const workers = [worker('w1', { load: 1 }), worker('w2', { load: 1 })];
    const input = {
      strategy: 'jsq' as const,
      workers,
      dag: DAG,
      groupOf: DEP.groupOf,
      key: 'k',
      cursor: 0,
    };
    expect(placeOnView(input).groups).toEqual(['w1', 'w1', 'w1']);
    const p = placeOnView({ ...input, extraLoad: new Map([['w1', 3]]), coordinator: 'http://w9' });
    expect(p.groups).toEqual(['w2', 'w2', 'w2']);
    expect(p.coordinator).toBe('http://w9');
    expect(p.workers).toEqual({ w2: 'http://w2' });
  });
});

describe('view holder', () => {
  it('refuses without a view and with a stale one, keeps the newest, restarts on a new master', () => {
    let now = 0;
    const h = new ViewHolder(() => now);
    expect(() => h.current()).toThrow(/no placement view/);
    expect(h.set(view(5))).toBe(true);
    expect(h.set(view(4))).toBe(false);
    expect(h.current().seq).toBe(5);
    now += 5_001;
    expect(() => h.current()).toThrow(/5001 ms old/);
    expect(h.set(view(1, { master: 'http://other' }))).toBe(true);
    expect(h.current().master).toBe('http://other');
    expect(h.settledMs).toBe(0);
  });
});

interface Harness {
  coordinator: IngressCoordinator;
  holder: ViewHolder;
  journal: MemoryJournal;
  local: Trigger[];
  sent: { url: string; trigger: Trigger }[];
  shipped: InvocationDoc[];
  released: string[];
  claims: Map<string, InvocationId>;
  order: string[];
  lookups: Map<InvocationId, Record<string, unknown>>;
  clock: { now: number };
}

function setup(o: { journal?: boolean; view?: PlacementView } = {}): Harness {
  const clock = { now: 1_000_000 };
  const holder = new ViewHolder(() => clock.now);
  holder.set(o.view ?? view(1));
  const journal = new MemoryJournal();
  const order: string[] = [];
  const accept = journal.accept.bind(journal);
  journal.accept = (...a) => {
    order.push('journal');
    return accept(...a);
  };
  const h: Harness = {
    holder,
    journal,
    local: [],
    sent: [],
    shipped: [],
    released: [],
    claims: new Map(),
    order,
    lookups: new Map(),
    clock,
    coordinator: undefined as unknown as IngressCoordinator,
  };
  h.coordinator = new IngressCoordinator({
    workerId: 'w1',
    url: () => 'http://w1',
    view: holder,
    deployments: { latest: (name) => (name === 'chain' ? DEP : undefined) },
    peers: {} as PeerClient,
    exprs: new Expressions(),
    logger: silentLogger,
    inlineMaxBytes: 4096,
    now: () => clock.now,
    ...(o.journal === false ? {} : { journal }),
    ports: {
      local: (t) => {
        order.push('trigger');
        h.local.push(...t);
      },
      send: (url, triggers) => {
        order.push('trigger');
        for (const trigger of triggers) h.sent.push({ url, trigger });
        return Promise.resolve();
      },
      put: () => Promise.reject(new Error('not used')),
      read: () => undefined,
      release: (id) => h.released.push(id),
      claimKey: (key, id) => {
        const held = h.claims.get(key);
        if (held) return Promise.resolve(held);
        h.claims.set(key, id);
        return Promise.resolve(id);
      },
      lookup: (id) => Promise.resolve(h.lookups.get(id)),
      ship: (doc) => h.shipped.push(doc),
    },
  });
  return h;
}

function step(id: InvocationId, node: string, worker: string): Report {
  return {
    kind: 'step',
    invocationId: id,
    step: {
      node,
      worker,
      status: 'succeeded',
      kind: 'task',
      attempts: 1,
      readyAt: 1,
      startedAt: 1,
      finishedAt: 2,
      queueMs: 0,
      cold: false,
      inputBytes: 1,
      outputBytes: 1,
      tier: 'inline',
    },
  };
}

async function start(h: Harness, extra: Partial<Parameters<IngressCoordinator['start']>[1]> = {}) {
  const r = await h.coordinator.start('chain', {
    input: { n: 1 },
    timeoutMs: 10_000,
    wait: true,
    ...extra,
  });
  return r as InvocationRecord;
}

describe('ingress coordinator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('journals before any trigger, starts its own group locally and names itself coordinator', async () => {
    const h = setup();
    const r = await start(h);
    expect(h.order).toEqual(['journal', 'trigger']);
    expect(r.placement.groups).toEqual(['w1', 'w2', 'w3']);
    expect(r.placement.coordinator).toBe('http://w1');
    expect(r.durability).toBe('checkpoint');
    expect(h.local.map((t) => t.node)).toEqual(['a']);
    expect(h.sent).toEqual([]);
    const orphans = await h.journal.orphans('w1');
    expect(orphans.map((d) => (JSON.parse(d) as InvocationDoc).id)).toEqual([r.id]);
  });

  it('sends the start to the owner of a source placed elsewhere', async () => {
    const h = setup({
      journal: false,
      view: view(1, { durability: 'none', workers: [worker('w2')] }),
    });
    const r = await start(h);
    expect(r.durability).toBe('none');
    expect(h.order).toEqual(['trigger']);
    expect(h.sent.map((s) => [s.url, s.trigger.node])).toEqual([['http://w2', 'a']]);
  });

  it('answers once the sink is in, and ships the record when the steps are complete', async () => {
    const h = setup();
    const r = await start(h);
    h.coordinator.accept([
      step(r.id, 'a', 'w1'),
      { kind: 'sink', invocationId: r.id, node: 'c', skipped: false, output: inline({ n: 7 }) },
      { kind: 'sink', invocationId: r.id, node: 'c', skipped: false, output: inline({ n: 8 }) },
    ]);
    await r.done;
    expect(r.status).toBe('succeeded');
    expect(r.output).toEqual({ n: 7 });
    expect(h.released).toEqual([r.id]);
    expect(h.shipped).toEqual([]);
    h.coordinator.accept([step(r.id, 'b', 'w2'), step(r.id, 'b', 'w2'), step(r.id, 'c', 'w3')]);
    expect(h.shipped.map((d) => [d.id, d.status, (d['steps'] as unknown[]).length])).toEqual([
      [r.id, 'succeeded', 3],
    ]);
  });

  it('ships a record without its late steps after the grace', async () => {
    const h = setup();
    const r = await start(h);
    h.coordinator.accept([{ kind: 'sink', invocationId: r.id, node: 'c', skipped: true }]);
    await r.done;
    expect(r.output).toBeNull();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.shipped).toHaveLength(1);
  });

  it('fails on the first failure report and ignores what follows', async () => {
    const h = setup();
    const r = await start(h);
    h.coordinator.accept([
      {
        kind: 'failed',
        invocationId: r.id,
        node: 'b',
        error: { code: 'FUNCTION_FAILED', message: 'boom' },
      },
      { kind: 'sink', invocationId: r.id, node: 'c', skipped: false, output: inline(1) },
    ]);
    await r.done;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('FUNCTION_FAILED');
  });

  it('times out at the deadline, and cancels on request', async () => {
    const h = setup();
    const r = await start(h, { timeoutMs: 500 });
    await vi.advanceTimersByTimeAsync(500);
    expect(r.status).toBe('timed_out');
    const s = await start(h);
    expect(h.coordinator.cancel(s.id)?.status).toBe('cancelled');
    expect(h.coordinator.cancel(invId('inv_unknown'))).toBeUndefined();
  });

  it('returns the invocation an idempotency key already names, here or elsewhere', async () => {
    const h = setup();
    const r = await start(h, { idempotencyKey: 'k1' });
    expect((await start(h, { idempotencyKey: 'k1' })).id).toBe(r.id);
    h.claims.set('chain:k2', invId('inv_elsewhere'));
    const noWait = (await h.coordinator.start('chain', {
      input: {},
      timeoutMs: 1_000,
      wait: false,
      idempotencyKey: 'k2',
    })) as RemoteInvocation;
    expect(noWait).toEqual({ kind: 'remote', id: 'inv_elsewhere' });
    h.lookups.set(invId('inv_elsewhere'), { status: 'running' });
    const waiting = h.coordinator.start('chain', {
      input: {},
      timeoutMs: 1_000,
      wait: true,
      idempotencyKey: 'k2',
    });
    await vi.advanceTimersByTimeAsync(100);
    h.lookups.set(invId('inv_elsewhere'), { status: 'succeeded', output: 5 });
    await vi.advanceTimersByTimeAsync(100);
    expect(await waiting).toEqual({
      kind: 'remote',
      id: 'inv_elsewhere',
      answer: { status: 'succeeded', output: 5 },
    });
  });

  it('refuses what only the master decides, and workflows it does not hold', async () => {
    const h = setup();
    await expect(start(h, { profile: true })).rejects.toThrow(/profile: true/);
    await expect(
      h.coordinator.start('nope', { input: {}, timeoutMs: 1, wait: true }),
    ).rejects.toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
    h.holder.set(view(2, { mode: 'master' }));
    await expect(start(h)).rejects.toThrow(/MasterSP/);
  });

  it('fails a none invocation whose worker left the view', async () => {
    const h = setup({ journal: false, view: view(1, { durability: 'none' }) });
    const r = await start(h);
    h.clock.now += 6_000;
    h.holder.set(view(2, { durability: 'none', workers: [worker('w1'), worker('w3')] }));
    await r.done;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('WORKER_UNREACHABLE');
  });

  it('re-places a durable invocation from its journal when a worker leaves the view', async () => {
    const h = setup();
    const r = await start(h);
    // a is committed (its edge to b left for w2): b must be sent again to b's new owner.
    await h.journal.commit(r.id, [{ node: 'a', worker: 'w1', ref: inline({ n: 2 }) }], 1_000);
    h.clock.now += 6_000;
    h.holder.set(view(2, { workers: [worker('w1'), worker('w3')] }));
    await vi.waitFor(() => expect(r.recoveries).toBe(1));
    expect(r.status).toBe('running');
    expect(r.placement.epoch).toBe(1);
    expect(r.placement.coordinator).toBe('http://w1');
    expect(r.placement.groups[1]).not.toBe('w2');
    const resent = [...h.local, ...h.sent.map((s) => s.trigger)].filter((t) => t.node === 'b');
    expect(resent).toHaveLength(1);
    expect(resent[0]!.from).toBe('a');
    expect((await h.journal.read(r.id)).placement?.epoch).toBe(1);
  });
});
