import { beforeEach, describe, expect, it } from 'vitest';
import type { Registration, WorkerLoad } from '../../shared/schema/wire.js';
import { WorkerRegistry, type WorkerView } from '../../master/registry/workers.js';

const TIMEOUT_MS = 1000;

function registration(id: string, cpu = 2): Registration {
  return {
    id,
    url: `http://127.0.0.1:1${id.length}00`,
    capacity: { cpu, memoryMb: 2048 },
    runtime: 'process',
    version: '0.1.0',
  };
}

const load = (running: number, queued = 0): WorkerLoad => ({
  running,
  queued,
  invocations: 1,
  memoryBytes: 4096,
});

describe('WorkerRegistry', () => {
  let nowMs: number;
  let registry: WorkerRegistry;
  let deaths: string[];

  beforeEach(() => {
    nowMs = 10_000;
    registry = new WorkerRegistry(TIMEOUT_MS, () => nowMs);
    deaths = [];
    registry.onDeath((w) => deaths.push(w.id));
  });

  it('registers a worker as registering, with no load, stamped with the clock', () => {
    const w = registry.register(registration('w1', 4));
    expect(w).toMatchObject({
      id: 'w1',
      status: 'registering',
      capacity: { cpu: 4, memoryMb: 2048 },
      load: { running: 0, queued: 0, invocations: 0, memoryBytes: 0 },
      inflight: 0,
      registeredAt: 10_000,
      lastSeenAt: 10_000,
    });
    expect(registry.get('w1')).toBe(w);
  });

  it('places only ready workers: registering → ready after markReady', () => {
    registry.register(registration('w1'));
    expect(registry.ready()).toEqual([]);
    registry.markReady('w1');
    expect(registry.get('w1')?.status).toBe('ready');
    expect(registry.ready().map((w) => w.id)).toEqual(['w1']);
  });

  it('ignores markReady for unknown and dead workers', () => {
    registry.markReady('nobody');
    expect(registry.get('nobody')).toBeUndefined();
    registry.register(registration('w1'));
    registry.markDead('w1');
    registry.markReady('w1');
    expect(registry.get('w1')?.status).toBe('dead');
  });

  it('lists workers sorted by id', () => {
    for (const id of ['w3', 'w1', 'w2']) registry.register(registration(id));
    expect(registry.list().map((w) => w.id)).toEqual(['w1', 'w2', 'w3']);
  });

  it('records load and last-seen time on heartbeat', () => {
    registry.register(registration('w1'));
    nowMs += 400;
    expect(registry.heartbeat('w1', load(3, 2))).toBe(true);
    expect(registry.get('w1')).toMatchObject({ load: load(3, 2), lastSeenAt: 10_400 });
  });

  it('refuses a heartbeat from an unknown worker', () => {
    expect(registry.heartbeat('ghost', load(1))).toBe(false);
    expect(registry.get('ghost')).toBeUndefined();
  });

  it('keeps a worker alive as long as heartbeats arrive within the timeout', () => {
    registry.register(registration('w1'));
    for (let i = 0; i < 5; i++) {
      nowMs += TIMEOUT_MS;
      expect(registry.heartbeat('w1', load(i))).toBe(true);
      expect(registry.sweep()).toEqual([]);
    }
    expect(registry.get('w1')?.status).toBe('registering');
  });

  it('marks a worker dead once it has been silent longer than the timeout', () => {
    registry.register(registration('w1'));
    registry.markReady('w1');
    nowMs += TIMEOUT_MS;
    expect(registry.sweep()).toEqual([]);
    nowMs += 1;
    const dead = registry.sweep();
    expect(dead.map((w) => w.id)).toEqual(['w1']);
    expect(registry.get('w1')?.status).toBe('dead');
    expect(registry.ready()).toEqual([]);
  });

  it('tells death listeners once per death, however often it sweeps', () => {
    const second: WorkerView[] = [];
    registry.onDeath((w) => second.push(w));
    registry.register(registration('w1'));
    registry.register(registration('w2'));
    nowMs += TIMEOUT_MS / 2;
    registry.heartbeat('w2', load(0));
    nowMs += TIMEOUT_MS;
    registry.sweep();
    registry.sweep();
    expect(deaths).toEqual(['w1']);
    expect(second.map((w) => w.id)).toEqual(['w1']);
    nowMs += TIMEOUT_MS;
    registry.sweep();
    registry.markDead('w1');
    expect(deaths).toEqual(['w1', 'w2']);
  });

  it('refuses heartbeats from a dead worker so it registers again', () => {
    registry.register(registration('w1'));
    nowMs += TIMEOUT_MS + 1;
    registry.sweep();
    expect(registry.heartbeat('w1', load(1))).toBe(false);
    expect(registry.get('w1')?.lastSeenAt).toBe(10_000);
  });

  it('markDead kills a worker at once and tells listeners once', () => {
    registry.register(registration('w1'));
    registry.markReady('w1');
    registry.markDead('w1');
    registry.markDead('w1');
    expect(registry.get('w1')?.status).toBe('dead');
    expect(deaths).toEqual(['w1']);
  });

  it('revives a dead worker that registers again, with its in-flight count reset', () => {
    const w = registry.register(registration('w1'));
    w.inflight = 3;
    registry.markDead('w1');
    nowMs += 5000;
    const again = registry.register(registration('w1', 8));
    expect(again).toMatchObject({
      status: 'registering',
      inflight: 0,
      registeredAt: 15_000,
      capacity: { cpu: 8 },
    });
    expect(registry.heartbeat('w1', load(1))).toBe(true);
    registry.markReady('w1');
    expect(registry.ready().map((x) => x.id)).toEqual(['w1']);
    registry.markDead('w1');
    expect(deaths).toEqual(['w1', 'w1']);
  });

  it('treats a live worker registering again as a new process: the old one died', () => {
    const dead: string[] = [];
    registry.onDeath((w) => dead.push(`${w.id}:${w.inflight}`));
    const w = registry.register(registration('w1'));
    w.inflight = 2;
    const again = registry.register(registration('w1'));
    expect(dead).toEqual(['w1:2']);
    expect(again.inflight).toBe(0);
    expect(again.status).toBe('registering');
  });
});
