import { describe, expect, it } from 'vitest';
import { StartGate, type StartTicket } from '../../worker/sandbox/start-gate.js';
import { FunctionPool, type PooledChild } from '../../worker/sandbox/pool.js';

/** Which tickets have been granted so far, by name (after the microtasks settle). */
async function grantedOf(tickets: Record<string, StartTicket>): Promise<string[]> {
  const out: string[] = [];
  for (const [name, t] of Object.entries(tickets)) void t.granted.then(() => out.push(name));
  await new Promise((r) => setImmediate(r));
  return out.sort();
}

describe('StartGate', () => {
  it('lets `limit` starts through and the next one when a slot is left', async () => {
    const gate = new StartGate(2);
    const t = {
      a: gate.enter({ demand: true }),
      b: gate.enter({ demand: true }),
      c: gate.enter({ demand: true }),
    };
    expect(await grantedOf(t)).toEqual(['a', 'b']);
    expect(gate.stats()).toEqual({ active: 2, waiting: 1 });
    t.a.leave();
    expect(await grantedOf(t)).toEqual(['a', 'b', 'c']);
    expect(gate.stats()).toEqual({ active: 2, waiting: 0 });
  });

  it('serves runs first in arrival order, then prepares earliest deadline first', async () => {
    const gate = new StartGate(1);
    const order: string[] = [];
    const hold = gate.enter({ demand: true });
    const enter = (name: string, kind: Parameters<StartGate['enter']>[0]): StartTicket => {
      const ticket = gate.enter(kind);
      void ticket.granted.then(() => {
        order.push(name);
        ticket.leave();
      });
      return ticket;
    };
    enter('late prepare', { demand: false, deadline: 3_000 });
    enter('soon prepare', { demand: false, deadline: 1_000 });
    enter('run 1', { demand: true });
    enter('run 2', { demand: true });
    enter('middle prepare', { demand: false, deadline: 2_000 });
    hold.leave();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['run 1', 'run 2', 'soon prepare', 'middle prepare', 'late prepare']);
  });

  it('puts a promoted prepare with the runs, in its arrival order', async () => {
    const gate = new StartGate(1);
    const order: string[] = [];
    const hold = gate.enter({ demand: true });
    const enter = (name: string, kind: Parameters<StartGate['enter']>[0]): StartTicket => {
      const ticket = gate.enter(kind);
      void ticket.granted.then(() => {
        order.push(name);
        ticket.leave();
      });
      return ticket;
    };
    enter('soon prepare', { demand: false, deadline: 1_000 });
    const claimed = enter('claimed prepare', { demand: false, deadline: 9_000 });
    enter('run', { demand: true });
    claimed.promote();
    hold.leave();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['claimed prepare', 'run', 'soon prepare']);
  });

  it('frees a waiting place on leave, and a slot only once however often leave is called', async () => {
    const gate = new StartGate(1);
    const t = {
      a: gate.enter({ demand: true }),
      b: gate.enter({ demand: true }),
      c: gate.enter({ demand: true }),
    };
    t.b.leave(); // gave up before its turn
    expect(gate.stats()).toEqual({ active: 1, waiting: 1 });
    t.a.leave();
    t.a.leave();
    expect(await grantedOf(t)).toEqual(['a', 'c']);
    expect(gate.stats()).toEqual({ active: 1, waiting: 0 });
  });

  it('lets everything through at limit 0 and refuses a bad limit', async () => {
    const gate = new StartGate(0);
    const t = Object.fromEntries(
      ['a', 'b', 'c', 'd'].map((n) => [n, gate.enter({ demand: true })]),
    );
    expect(await grantedOf(t)).toEqual(['a', 'b', 'c', 'd']);
    expect(() => new StartGate(-1)).toThrow(/integer ≥ 0, got -1/);
    expect(() => new StartGate(1.5)).toThrow(/integer ≥ 0, got 1.5/);
  });
});

class Child implements PooledChild {
  usable = true;
  readonly exited = Promise.resolve();
  constructor(
    readonly id: string,
    readonly heapMb: number,
  ) {}
  kill(): void {
    this.usable = false;
  }
}

describe('FunctionPool behind a shared StartGate', () => {
  /** Two pools, one gate of one slot; every start waits for `release(n)`. */
  function setup() {
    const gate = new StartGate(1);
    const begun: string[] = [];
    const held: (() => void)[] = [];
    const pool = (fn: string): FunctionPool<Child> =>
      new FunctionPool<Child>({
        label: `wf@1/${fn}`,
        maxConcurrency: 4,
        idleMs: 60_000,
        gate,
        start: (a) => {
          begun.push(fn);
          return new Promise((resolve) => held.push(() => resolve(new Child(fn, a.memoryMb))));
        },
      });
    const release = async (): Promise<void> => {
      held.shift()?.();
      await new Promise((r) => setImmediate(r));
    };
    return { gate, begun, pool, release };
  }
  const alloc = { cpu: 1, memoryMb: 128 };

  it('starts a claimed prepare first, then the prepares needed soonest', async () => {
    const { begun, pool, release } = setup();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(pool) as [
      FunctionPool<Child>,
      FunctionPool<Child>,
      FunctionPool<Child>,
      FunctionPool<Child>,
    ];
    const first = a.acquire(alloc); // takes the one slot
    const prepares = [
      d.prepare(alloc, 10_000, 1, 5_000),
      c.prepare(alloc, 10_000, 1, 1_000),
      b.prepare(alloc, 10_000, 1, 9_000),
    ];
    const run = b.acquire(alloc); // claims b's prepare: it goes to the front
    await new Promise((r) => setImmediate(r));
    expect(begun).toEqual(['a']);
    for (let i = 0; i < 4; i++) await release();
    expect(begun).toEqual(['a', 'b', 'c', 'd']);
    expect((await first).cold).toBe(true);
    expect(await run).toMatchObject({ prepared: true, cold: false });
    expect(await Promise.all(prepares)).toEqual([true, true, true]);
  });

  it('counts the wait at the gate in a run’s queueMs, not in its initMs', async () => {
    const { pool, release } = setup();
    const a = pool('a');
    const b = pool('b');
    const first = a.acquire(alloc);
    const second = b.acquire(alloc);
    await new Promise((r) => setTimeout(r, 30));
    await release(); // a is up; b begins now, after ≥ 30 ms at the gate
    await release();
    const lease = await second;
    expect((await first).queueMs).toBeLessThan(5);
    expect(lease.cold).toBe(true);
    expect(lease.queueMs).toBeGreaterThanOrEqual(25);
    expect(lease.initMs).toBeLessThan(lease.queueMs);
  });
});
