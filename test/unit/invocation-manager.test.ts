/**
 * The invocation manager's state machine with fake ports (a recording trigger sender, an HTTP
 * client that never leaves the process, a real registry and catalogue, the in-memory record
 * store and journal): persisted before anything starts; idempotency keys; duplicate and
 * out-of-order reports end in one result; a lost worker fails a `none` invocation and re-places
 * a `checkpoint` one from its journal; a restarted manager finishes what its journal says ended.
 */
import { describe, expect, it } from 'vitest';
import { encodeValue } from '../../shared/codec.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import type { NodeId } from '../../shared/ids.js';
import { MemoryJournal } from '../../shared/journal-memory.js';
import { silentLogger } from '../../shared/logger.js';
import type { Report, StoredRef, Trigger } from '../../shared/schema/wire.js';
import type { TriggerSender } from '../../shared/trigger-sender.js';
import { InvocationManager } from '../../master/invocations/manager.js';
import { MemoryRecordStore } from '../../master/invocations/persist.js';
import type { DeploymentTracker } from '../../master/registry/deployments.js';
import { WorkerRegistry } from '../../master/registry/workers.js';
import { WorkflowCatalog } from '../../master/workflow/catalog.js';
import { dagOf, until } from '../helpers/engine-harness.js';
import { invId } from '../helpers/ids.js';

const DAG = dagOf(`name: chain
functions:
  f: { code: "export default async (x) => x" }
dag:
  a: { task: f }
  b: { task: f, after: [a] }
`);

function inline(v: unknown): StoredRef {
  const b = encodeValue(v);
  return { tier: 'inline', data: b.toString('base64'), sizeBytes: b.length };
}

async function setup(
  o: { journal?: MemoryJournal; records?: MemoryRecordStore; workers?: number } = {},
) {
  const catalog = new WorkflowCatalog();
  await catalog.add({
    name: 'chain',
    dag: DAG,
    files: {},
    warnings: [],
    partition: {
      groups: [['a' as NodeId], ['b' as NodeId]],
      groupOf: { a: 0, b: 1 },
      edges: [],
      localBytes: 0,
      totalBytes: 0,
      criticalPathMs: 0,
    },
  });
  let now = 1_000_000;
  const registry = new WorkerRegistry(5_000, () => now);
  for (let i = 1; i <= (o.workers ?? 3); i++) {
    registry.register({
      id: `w${i}`,
      url: `http://w${i}`,
      capacity: { cpu: 2, memoryMb: 4096 },
      runtime: 'process',
      version: 't',
      journal: true,
    });
    registry.markReady(`w${i}`);
  }
  const sent: { url: string; trigger: Trigger }[] = [];
  const order: string[] = [];
  const sender = {
    send: (url: string, triggers: readonly Trigger[]) => {
      order.push('trigger');
      for (const trigger of triggers) sent.push({ url, trigger });
      return Promise.resolve();
    },
  } as unknown as TriggerSender;
  const peers = {
    release: () => Promise.resolve(),
    fetchObject: () => Promise.reject(new Error('no network in unit tests')),
  } as unknown as PeerClient;
  const deployments = {
    holds: () => true,
    forget: () => undefined,
  } as unknown as DeploymentTracker;
  const records = o.records ?? new MemoryRecordStore();
  const put = records.putInvocation.bind(records);
  records.putInvocation = (doc) => {
    order.push(`persist:${doc.status}`);
    return put(doc);
  };
  const manager = new InvocationManager({
    catalog,
    registry,
    deployments,
    peers,
    sender,
    logger: silentLogger,
    masterUrl: () => 'http://master',
    mode: 'worker',
    placement: 'round-robin',
    inlineMaxBytes: 4096,
    retain: 100,
    records,
    ...(o.journal ? { journal: o.journal } : {}),
    now: () => now,
  });
  return {
    manager,
    registry,
    sent,
    order,
    records,
    advance: (ms: number) => (now += ms),
  };
}

const sink = (id: string, output: unknown): Report => ({
  kind: 'sink',
  invocationId: invId(id),
  node: 'b',
  skipped: false,
  output: inline(output),
});

describe('invocation manager', () => {
  it('persists an invocation before any trigger leaves, and its result before callers hear it', async () => {
    const t = await setup();
    const r = await t.manager.start('chain', { input: { x: 1 }, timeoutMs: 10_000 });
    expect(t.order).toEqual(['persist:running', 'trigger']);
    t.manager.accept([sink(r.id, { done: 1 })]);
    await r.done;
    expect(t.order).toEqual(['persist:running', 'trigger', 'persist:succeeded']);
    expect((await t.records.getInvocation(r.id))?.['output']).toEqual({ done: 1 });
    t.manager.close();
  });

  it('returns the same invocation for the same idempotency key, started once', async () => {
    const t = await setup();
    const a = await t.manager.start('chain', { input: 1, timeoutMs: 10_000, idempotencyKey: 'k' });
    const b = await t.manager.start('chain', { input: 2, timeoutMs: 10_000, idempotencyKey: 'k' });
    const c = await t.manager.start('chain', { input: 3, timeoutMs: 10_000, idempotencyKey: 'j' });
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
    expect(t.sent.filter((s) => s.trigger.invocationId === a.id)).toHaveLength(1);
    t.manager.close();
  });

  it('ends with one result whatever the order and repetition of reports', async () => {
    const t = await setup();
    const r = await t.manager.start('chain', { input: null, timeoutMs: 10_000 });
    t.manager.accept([sink(r.id, 'first'), sink(r.id, 'second')]);
    t.manager.accept([
      {
        kind: 'failed',
        invocationId: r.id,
        node: 'a',
        error: { code: 'FUNCTION_FAILED', message: 'late' },
      },
    ]);
    await r.done;
    expect(r.status).toBe('succeeded');
    expect(r.output).toBe('first');
    t.manager.close();
  });

  it('fails a none invocation whose worker is lost', async () => {
    const t = await setup();
    const r = await t.manager.start('chain', { input: null, timeoutMs: 10_000 });
    t.registry.markDead(r.placement.groups[0]!);
    await r.done;
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('WORKER_UNREACHABLE');
    t.manager.close();
  });

  it('re-places a checkpoint invocation from its journal and finishes it once', async () => {
    const journal = new MemoryJournal();
    const t = await setup({ journal });
    const r = await t.manager.start('chain', { input: { x: 1 }, timeoutMs: 10_000 });
    expect(r.durability).toBe('checkpoint');
    const [g0, g1] = r.placement.groups as [string, string];
    // a ran on g0 and committed its output; then g1, which was to run b, died.
    await journal.commit(r.id, [{ node: 'a', worker: g0, ref: inline({ a: 1 }) }], 60_000);
    t.registry.markDead(g1);
    await until(() => r.recoveries === 1);
    expect(r.placement.epoch).toBe(1);
    expect(r.placement.groups[0]).toBe(g0);
    expect(r.placement.groups[1]).not.toBe(g1);
    const resent = t.sent.filter((s) => s.trigger.node === 'b');
    expect(resent).toHaveLength(1);
    expect(resent[0]!.url).toBe(`http://${r.placement.groups[1]}`);
    expect(resent[0]!.trigger).toMatchObject({ from: 'a', ref: inline({ a: 1 }) });
    expect(resent[0]!.trigger.placement.epoch).toBe(1);
    t.manager.accept([sink(r.id, { b: 1 })]);
    await r.done;
    expect(r.status).toBe('succeeded');
    t.manager.close();
  });

  it('restarts the source when the lost worker had not committed it', async () => {
    const journal = new MemoryJournal();
    const t = await setup({ journal });
    const r = await t.manager.start('chain', { input: 7, timeoutMs: 10_000 });
    const g0 = r.placement.groups[0]!;
    t.registry.markDead(g0);
    await until(() => r.recoveries === 1);
    const starts = t.sent.filter((s) => s.trigger.node === 'a');
    expect(starts).toHaveLength(2);
    expect(starts[1]!.url).not.toBe(`http://${g0}`);
    t.manager.close();
  });

  it('fails a recovery that finds a journaled failure', async () => {
    const journal = new MemoryJournal();
    const t = await setup({ journal });
    const r = await t.manager.start('chain', { input: 7, timeoutMs: 10_000 });
    await journal.commitFailure(
      r.id,
      { node: 'a', worker: 'w1', error: { code: 'FUNCTION_FAILED', message: 'boom' } },
      60_000,
    );
    t.registry.markDead(r.placement.groups[1]!);
    await r.done;
    expect(r.status).toBe('failed');
    expect(r.error?.message).toBe('boom');
    t.manager.close();
  });

  it('after a restart, finishes a running invocation whose sink its journal holds', async () => {
    const journal = new MemoryJournal();
    const records = new MemoryRecordStore();
    const first = await setup({ journal, records });
    const r = await first.manager.start('chain', { input: 1, timeoutMs: 10_000 });
    first.manager.close();
    await journal.commit(r.id, [{ node: 'b', worker: 'w2', ref: inline('done') }], 60_000);

    const second = await setup({ journal, records });
    const restored = await second.manager.restore();
    expect(restored.running).toBe(1);
    const again = second.manager.get(r.id);
    await again.done;
    expect(again.status).toBe('succeeded');
    expect(again.output).toBe('done');
    second.manager.close();
  });
});
