/**
 * Keyed sharding's runtime parts without processes: the worker's per-range meter, the master's
 * table keeper and control cycle (fake clock, catalogue and membership, an in-memory store),
 * and the CPU sampler over this very process tree.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { FunctionSpec, WorkflowDag } from '../../../shared/dag/types.js';
import { silentLogger } from '../../../shared/logger.js';
import type { KeyedRangeLoad } from '../../../shared/schema/wire.js';
import { checkTable, keyHash, lookup } from '../../../shared/shard/routing.js';
import { KEYED_STORE_KEY, KeyedShards } from '../../../master/shard/keyed.js';
import type { WorkflowVersion } from '../../../master/workflow/version.js';
import { KeyedMeter, keyString, RoutingTables } from '../../../worker/engine/keyed.js';
import { TreeCpuSampler } from '../../../worker/tree-cpu.js';
import { keyedLines } from '../../../deploy/cli/shards-format.js';

describe('KeyedMeter', () => {
  it('sums calls and busy time per range, with the median hash and the top key share', () => {
    const m = new KeyedMeter();
    m.record('t.wf', 'lookup', 1, 0, 10, 30);
    m.record('t.wf', 'lookup', 1, 0, 20, 10);
    m.record('t.wf', 'lookup', 1, 0, 10, 30);
    m.record('t.wf', 'lookup', 1, 3, 99, 5);
    const out = m.drain().sort((a, b) => a.range - b.range);
    expect(out).toEqual([
      {
        workflow: 't.wf',
        fn: 'lookup',
        version: 1,
        range: 0,
        calls: 3,
        busyMs: 70,
        keys: 2,
        medianHash: 10,
        topKeyShare: 60 / 70,
      },
      {
        workflow: 't.wf',
        fn: 'lookup',
        version: 1,
        range: 3,
        calls: 1,
        busyMs: 5,
        keys: 1,
        medianHash: 99,
        topKeyShare: 1,
      },
    ]);
    expect(m.drain()).toEqual([]);
  });

  it('keys strings as they are and anything else as JSON', () => {
    expect(keyString('u1')).toBe('u1');
    expect(keyString(42)).toBe('42');
    expect(keyString(undefined)).toBe('null');
    expect(keyString({ a: 1 })).toBe('{"a":1}');
  });
});

function version(name: string, functions: Record<string, Partial<FunctionSpec>>): WorkflowVersion {
  return {
    name,
    version: 1,
    dag: { functions } as unknown as WorkflowDag,
  } as unknown as WorkflowVersion;
}

function keeper(workers: string[]) {
  const values = new Map<string, unknown>();
  const store = {
    getValue: (k: string) => Promise.resolve(values.get(k)),
    setValue: (k: string, v: unknown) => Promise.resolve(void values.set(k, structuredClone(v))),
  };
  let now = 1_000;
  let changes = 0;
  let catalog = [
    version('t.wf', {
      lookup: { name: 'lookup', shard: { key: '$.u', replicas: 'auto', maxReplicas: 3 } },
      plain: { name: 'plain' },
    }),
  ];
  const members = { list: workers };
  const k = new KeyedShards({
    store,
    logger: silentLogger,
    catalog: { current: () => catalog },
    workers: () => members.list,
    onChange: () => void changes++,
    now: () => now,
    rangesPerWorker: 4,
  });
  return {
    k,
    values,
    members,
    changes: () => changes,
    tick: (ms = 1000) => (now += ms),
    setCatalog: (c: WorkflowVersion[]) => (catalog = c),
  };
}

const load = (range: number, busyMs: number, keys = 50, topKeyShare = 0.05): KeyedRangeLoad => ({
  workflow: 't.wf',
  fn: 'lookup',
  version: 1,
  range,
  calls: busyMs / 10,
  busyMs,
  keys,
  medianHash: 0,
  topKeyShare,
});

describe('KeyedShards', () => {
  it('makes a table per keyed function over the ready workers, stores it and says so', async () => {
    const h = keeper(['w1', 'w2', 'w3']);
    h.k.cycle();
    const routing = h.k.routing();
    expect(routing).toHaveLength(1);
    expect(routing[0]!.workflow).toBe('t.wf');
    const t = routing[0]!.table;
    checkTable(t);
    expect(t.fn).toBe('lookup');
    expect(t.ranges).toHaveLength(12);
    expect(new Set(t.ranges.flatMap((r) => r.replicas))).toEqual(new Set(['w1', 'w2', 'w3']));
    expect(h.changes()).toBe(1);
    await h.k.close();
    const stored = h.values.get(KEYED_STORE_KEY) as { entries: { table: unknown }[] };
    expect(stored.entries[0]!.table).toEqual(t);
    expect(h.k.snapshot('t.wf')[0]!.events[0]).toMatchObject({ kind: 'create' });
    expect(h.k.snapshot('t.other')).toEqual([]);
  });

  it('splits a range that stays hot, and leaves a fair spread alone', () => {
    const h = keeper(['w1', 'w2', 'w3']);
    h.k.cycle();
    const t0 = h.k.routing()[0]!.table;
    // Even load on every range for a while: no change.
    for (let i = 0; i < 5; i++) {
      for (const w of ['w1', 'w2', 'w3'])
        h.k.heartbeat(
          w,
          t0.ranges.filter((r) => r.replicas[0] === w).map((r) => load(r.id, 100)),
          0.2,
        );
      h.tick();
      h.k.cycle();
    }
    expect(h.k.routing()[0]!.table.version).toBe(t0.version);
    // Range 0 (on w1) takes ten times the rest.
    for (let i = 0; i < 4; i++) {
      h.k.heartbeat(
        'w1',
        [
          load(0, 3000),
          ...t0.ranges
            .slice(1)
            .filter((r) => r.replicas[0] === 'w1')
            .map((r) => load(r.id, 100)),
        ],
        0.5,
      );
      for (const w of ['w2', 'w3'])
        h.k.heartbeat(
          w,
          t0.ranges.filter((r) => r.replicas[0] === w).map((r) => load(r.id, 100)),
          0.2,
        );
      h.tick();
      h.k.cycle();
    }
    const after = h.k.snapshot('t.wf')[0]!;
    expect(after.table.version).toBeGreaterThan(t0.version);
    const split = after.events.find((e) => e.kind === 'split');
    expect(split).toMatchObject({ range: 0 });
    expect(split!.to).not.toBe('w1');
    expect(split!.movedShare).toBeLessThanOrEqual(0.05);
    // The history shows each cycle's load beside what the forecast of the cycle before said.
    const last = after.history.at(-1)!;
    const r0 = last.ranges.find((r) => r.id === 0)!;
    expect(r0.forecast).not.toBeNull();
  });

  it('moves the ranges of a worker that left to the ready ones', () => {
    const h = keeper(['w1', 'w2', 'w3']);
    h.k.cycle();
    h.members.list = ['w1', 'w2'];
    h.tick();
    h.k.cycle();
    const t = h.k.routing()[0]!.table;
    expect(t.ranges.every((r) => r.replicas.every((w) => w === 'w1' || w === 'w2'))).toBe(true);
    expect(h.k.snapshot('t.wf')[0]!.events.filter((e) => e.kind === 'repair')).toHaveLength(4);
    // Every key still has a worker.
    expect(['w1', 'w2']).toContain(lookup(t, 'any-key').replicas[0]);
  });

  it('restores stored tables, and drops those of removed workflows', async () => {
    const h = keeper(['w1', 'w2']);
    h.k.cycle();
    await h.k.close();
    const again = new KeyedShards({
      store: {
        getValue: (k) => Promise.resolve(h.values.get(k)),
        setValue: () => Promise.resolve(),
      },
      logger: silentLogger,
      catalog: { current: () => [] },
      workers: () => ['w1', 'w2'],
      onChange: () => undefined,
    });
    await again.load();
    expect(again.routing()[0]!.table).toEqual(h.k.routing()[0]!.table);
    again.cycle();
    expect(again.routing()).toEqual([]);
  });
});

describe('RoutingTables', () => {
  it('finds a table by workflow and function, and forgets tables a newer view lacks', () => {
    const h = keeper(['w1']);
    h.k.cycle();
    const tables = new RoutingTables();
    tables.update(h.k.routing());
    expect(tables.get('t.wf', 'lookup')?.fn).toBe('lookup');
    expect(tables.get('t.wf', 'plain')).toBeUndefined();
    tables.update(undefined);
    expect(tables.get('t.wf', 'lookup')).toBeUndefined();
    expect(keyHash('a')).toBe(keyHash('a'));
  });
});

describe('TreeCpuSampler', () => {
  it('counts a busy child process of this one', async () => {
    const s = new TreeCpuSampler(1);
    expect(s.sample()).toBeUndefined();
    const child = spawn(process.execPath, [
      '-e',
      'const end = Date.now() + 1500; while (Date.now() < end);',
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    const busy = s.sample();
    child.kill();
    await new Promise((r) => child.once('exit', r));
    // Idle, this tree uses next to nothing; the child alone spins one core (less when CI shares it).
    expect(busy).toBeGreaterThan(0.2);
  });
});

describe('faasflow shards text of a keyed function', () => {
  it('prints the table with each range load, the cycles and the events', () => {
    const h = keeper(['w1', 'w2']);
    h.k.cycle();
    h.k.heartbeat('w1', [load(0, 120)], 0.3);
    h.tick();
    h.k.cycle();
    const lines = keyedLines(h.k.snapshot('t.wf')[0]!);
    expect(lines[0]).toBe('t.wf lookup: key $.u, routing table v1, 8 range(s)');
    expect(lines.find((l) => /^ {2}0 +12\.5% +w1 +120 ms/.test(l))).toBeDefined();
    expect(
      lines.some((l) => l.includes('cycle 2 v1: actual 120 ms') && l.includes('w1 120 ms 30.0%')),
    ).toBe(true);
    expect(lines.some((l) => l.includes('create: 8 ranges over 2 workers'))).toBe(true);
  });
});
