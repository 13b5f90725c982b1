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

  /** A gate of one slot per row with both rows held; `enter` logs each grant and leaves at once. */
  function busyGate() {
    const gate = new StartGate(1);
    const order: string[] = [];
    const holdRun = gate.enter({ demand: true });
    const holdPrepare = gate.enter({ demand: false, deadline: 0 });
    const enter = (name: string, kind: Parameters<StartGate['enter']>[0]): StartTicket => {
      const ticket = gate.enter(kind);
      void ticket.granted.then(() => {
        order.push(name);
        ticket.leave();
      });
      return ticket;
    };
    return { gate, order, holdRun, holdPrepare, enter };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('serves runs in arrival order, and prepares earliest deadline first, each in its own row', async () => {
    const { order, holdRun, holdPrepare, enter } = busyGate();
    enter('late prepare', { demand: false, deadline: 3_000 });
    enter('soon prepare', { demand: false, deadline: 1_000 });
    enter('run 1', { demand: true });
    enter('run 2', { demand: true });
    enter('middle prepare', { demand: false, deadline: 2_000 });
    holdRun.leave();
    await settle();
    expect(order).toEqual(['run 1', 'run 2']);
    holdPrepare.leave();
    await settle();
    expect(order).toEqual(['run 1', 'run 2', 'soon prepare', 'middle prepare', 'late prepare']);
  });

  it('never holds a run’s start behind a prepare, nor a prepare behind runs', async () => {
    const gate = new StartGate(1);
    const prepare = gate.enter({ demand: false, deadline: 0 });
    const run = gate.enter({ demand: true });
    const t = { prepare, run, second: gate.enter({ demand: false, deadline: 1 }) };
    expect(await grantedOf(t)).toEqual(['prepare', 'run']);
    expect(gate.stats()).toEqual({ active: 2, waiting: 1 });
  });

  it('moves a promoted prepare to the runs’ row, in its arrival order', async () => {
    const { order, holdRun, holdPrepare, enter } = busyGate();
    enter('soon prepare', { demand: false, deadline: 1_000 });
    const claimed = enter('claimed prepare', { demand: false, deadline: 9_000 });
    enter('run', { demand: true });
    claimed.promote();
    holdRun.leave();
    await settle();
    expect(order).toEqual(['claimed prepare', 'run']);
    holdPrepare.leave();
    await settle();
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
  /** Pools sharing one gate of one slot per row; every start waits for `release()`. */
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

  it('starts a claimed prepare with the runs, then the prepares needed soonest', async () => {
    const { begun, pool, release } = setup();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(pool) as [
      FunctionPool<Child>,
      FunctionPool<Child>,
      FunctionPool<Child>,
      FunctionPool<Child>,
    ];
    const first = a.acquire(alloc); // the runs' slot
    const prepares = [
      d.prepare(alloc, 10_000, 1, 5_000), // the prepares' slot
      c.prepare(alloc, 10_000, 1, 1_000),
      b.prepare(alloc, 10_000, 1, 9_000),
    ];
    const run = b.acquire(alloc); // claims b's prepare: it moves to the runs' row
    await new Promise((r) => setImmediate(r));
    expect(begun).toEqual(['a', 'd']);
    await release(); // a is up: the runs' slot goes to b
    expect(begun).toEqual(['a', 'd', 'b']);
    await release(); // d is up: the prepares' slot goes to c (needed before any other)
    expect(begun).toEqual(['a', 'd', 'b', 'c']);
    await release();
    await release();
    expect((await first).cold).toBe(true);
    expect(await run).toMatchObject({ prepared: true, cold: false });
    expect(await Promise.all(prepares)).toEqual([true, true, true]);
  });

  it('counts the wait at the gate in a run’s queueMs, not in its initMs', async () => {
    const { pool, release } = setup();
    const a = pool('a');
    const b = pool('b');
    const first = a.acquire(alloc);
    const second = b.acquire(alloc); // behind a, in the runs' row
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
