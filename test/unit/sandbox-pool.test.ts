import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../shared/errors.js';
import { FunctionPool, type PooledChild } from '../../worker/sandbox/pool.js';
import type { Allocation } from '../../shared/schema/wire.js';

class FakeChild implements PooledChild {
  usable = true;
  killed = false;
  readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(
    readonly id: string,
    readonly heapMb: number,
  ) {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  kill(): void {
    this.killed = true;
    this.usable = false;
    this.markExited();
  }
}

const small: Allocation = { cpu: 1, memoryMb: 128 };

function makePool(maxConcurrency = 2, idleMs = 60_000) {
  const started: FakeChild[] = [];
  let pending: { resolve: () => void; reject: (e: unknown) => void }[] | null = null;
  const pool = new FunctionPool<FakeChild>({
    label: 'wf@1/fn',
    maxConcurrency,
    idleMs,
    start: (allocation) => {
      const child = new FakeChild(`c${started.length}`, allocation.memoryMb);
      started.push(child);
      if (pending === null) return Promise.resolve(child);
      return new Promise<FakeChild>((resolve, reject) => {
        pending!.push({ resolve: () => resolve(child), reject });
      });
    },
  });
  return {
    pool,
    started,
    /** From now on, starts wait until `finishStarts` is called. */
    holdStarts: () => (pending = []),
    finishStarts: () => {
      const held = pending ?? [];
      pending = null;
      for (const p of held) p.resolve();
    },
    /** Fails the starts held so far (later starts succeed at once). */
    failStarts: () => {
      const held = pending ?? [];
      pending = null;
      for (const p of held) p.reject(new Error('start failed'));
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('FunctionPool', () => {
  it('starts a child cold, then reuses it warm', async () => {
    const { pool, started } = makePool();
    const first = await pool.acquire(small);
    expect(first.cold).toBe(true);
    pool.release(first.child);
    const second = await pool.acquire(small);
    expect(second).toMatchObject({ cold: false, queueMs: 0, initMs: 0 });
    expect(second.child).toBe(first.child);
    expect(started).toHaveLength(1);
  });

  it('reuses the most recently idle child first', async () => {
    const { pool } = makePool();
    const a = await pool.acquire(small);
    const b = await pool.acquire(small);
    pool.release(a.child);
    pool.release(b.child);
    expect((await pool.acquire(small)).child).toBe(b.child);
  });

  it('queues requests beyond the cap and serves them first in, first out', async () => {
    const { pool, started } = makePool(1);
    const holder = await pool.acquire(small);
    const order: string[] = [];
    const w1 = pool.acquire(small).then((l) => (order.push('w1'), l));
    const w2 = pool.acquire(small).then((l) => (order.push('w2'), l));
    expect(pool.stats()).toEqual({ warm: 0, busy: 1, queued: 2 });
    pool.release(holder.child);
    const l1 = await w1;
    expect(l1.child).toBe(holder.child);
    expect(l1.cold).toBe(false);
    expect(l1.queueMs).toBeGreaterThanOrEqual(0);
    pool.release(l1.child);
    await w2;
    expect(order).toEqual(['w1', 'w2']);
    expect(started).toHaveLength(1);
  });

  it('counts children still starting against the cap', async () => {
    const { pool, started, holdStarts, finishStarts } = makePool(1);
    holdStarts();
    const first = pool.acquire(small);
    const second = pool.acquire(small);
    expect(pool.stats()).toEqual({ warm: 0, busy: 1, queued: 1 });
    finishStarts();
    pool.release((await first).child);
    expect((await second).child).toBe(started[0]);
  });

  it('never hands out a child that died, and gives its slot to the queue', async () => {
    const { pool, started } = makePool(1);
    const lease = await pool.acquire(small);
    const waiting = pool.acquire(small);
    lease.child.usable = false;
    pool.release(lease.child);
    const next = await waiting;
    expect(next.child).not.toBe(lease.child);
    expect(next.cold).toBe(true);
    expect(lease.child.killed).toBe(true);
    expect(started).toHaveLength(2);
  });

  it('forgets an idle child that exited on its own', async () => {
    const { pool } = makePool();
    const lease = await pool.acquire(small);
    pool.release(lease.child);
    lease.child.usable = false;
    pool.forget(lease.child);
    expect(pool.stats().warm).toBe(0);
    expect((await pool.acquire(small)).cold).toBe(true);
  });

  it('replaces an idle child too small for the requested memory', async () => {
    const { pool } = makePool(1);
    const lease = await pool.acquire(small);
    pool.release(lease.child);
    const bigger = await pool.acquire({ cpu: 1, memoryMb: 512 });
    expect(bigger.cold).toBe(true);
    expect(bigger.child.heapMb).toBe(512);
    expect(lease.child.killed).toBe(true);
  });

  it('evicts a child idle for idleMs', async () => {
    vi.useFakeTimers();
    const { pool } = makePool(2, 1000);
    const lease = await pool.acquire(small);
    pool.release(lease.child);
    vi.advanceTimersByTime(999);
    expect(lease.child.killed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(lease.child.killed).toBe(true);
    expect(pool.stats().warm).toBe(0);
  });

  it('cancels a queued request when its signal aborts, keeping the rest of the queue', async () => {
    const { pool } = makePool(1);
    const holder = await pool.acquire(small);
    const controller = new AbortController();
    const cancelled = pool.acquire(small, controller.signal);
    const kept = pool.acquire(small);
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(pool.stats().queued).toBe(1);
    pool.release(holder.child);
    expect((await kept).child).toBe(holder.child);
  });

  it('prewarms up to the cap', async () => {
    const { pool, started } = makePool(2);
    await pool.prewarm(5, small);
    expect(started).toHaveLength(2);
    expect(pool.stats()).toEqual({ warm: 2, busy: 0, queued: 0 });
  });

  it('reports a failed start to the request that needed it, and serves the next one', async () => {
    let fail = true;
    const pool = new FunctionPool<FakeChild>({
      label: 'wf@1/fn',
      maxConcurrency: 1,
      idleMs: 1000,
      start: () =>
        fail
          ? Promise.reject(new AppError('SANDBOX_UNAVAILABLE', 'no'))
          : Promise.resolve(new FakeChild('ok', 128)),
    });
    await expect(pool.acquire(small)).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    fail = false;
    expect((await pool.acquire(small)).child.id).toBe('ok');
  });

  it('on close fails queued requests, kills every child and refuses new requests', async () => {
    const { pool, started } = makePool(1);
    const busy = await pool.acquire(small);
    const queued = pool.acquire(small);
    await pool.close('undeployed');
    await expect(queued).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    await expect(queued).rejects.toThrow(/undeployed/);
    expect(busy.child.killed).toBe(true);
    expect(started.every((c) => c.killed)).toBe(true);
    await expect(pool.acquire(small)).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });

  it('on close retires a child that finishes starting afterwards', async () => {
    const { pool, started, holdStarts, finishStarts } = makePool(1);
    holdStarts();
    const request = pool.acquire(small);
    const closing = pool.close('closed');
    finishStarts();
    await closing;
    await expect(request).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    expect(started[0]!.killed).toBe(true);
  });
});

describe('FunctionPool.prepare (sandboxes prepared ahead)', () => {
  it('a prepared child serves the next run warm, marked prepared, and is counted used', async () => {
    const { pool, started } = makePool();
    expect(await pool.prepare(small, 5_000)).toBe(true);
    expect(pool.stats().warm).toBe(1);
    const lease = await pool.acquire(small);
    expect(lease).toMatchObject({ cold: false, prepared: true, initMs: 0 });
    expect(lease.child).toBe(started[0]);
    pool.release(lease.child);
    // Its second run is an ordinary warm one.
    const again = await pool.acquire(small);
    expect(again.prepared).toBeUndefined();
    pool.release(again.child);
    const r = pool.takePreparedReport();
    expect(r).toMatchObject({ used: 1, unused: 0, wastedMbS: 0 });
    expect(pool.takePreparedReport()).toMatchObject({ used: 0, unused: 0 });
    await pool.close('test');
  });

  it('an unused prepared child is released after ttlMs and counted wasted', async () => {
    vi.useFakeTimers();
    const { pool, started } = makePool(2, 60_000);
    expect(await pool.prepare(small, 300)).toBe(true);
    vi.advanceTimersByTime(299);
    expect(started[0]!.killed).toBe(false);
    vi.advanceTimersByTime(2);
    expect(started[0]!.killed).toBe(true);
    expect(pool.stats().warm).toBe(0);
    const r = pool.takePreparedReport();
    expect(r).toMatchObject({ used: 0, unused: 1 });
    await pool.close('test');
  });

  it('starts nothing when a fitting child is idle or the cap is reached', async () => {
    const { pool, started } = makePool(1);
    await pool.prewarm(1, small);
    expect(await pool.prepare(small, 1_000)).toBe(false);
    const lease = await pool.acquire(small);
    expect(await pool.prepare(small, 1_000)).toBe(false);
    expect(started).toHaveLength(1);
    pool.release(lease.child);
    await pool.close('test');
  });

  it('a run that comes while a prepared child starts waits for it instead of starting another', async () => {
    const { pool, started, holdStarts, finishStarts } = makePool(4);
    holdStarts();
    const prepared = pool.prepare(small, 1_000);
    const run = pool.acquire(small);
    // Room for three more children, yet the run waits for the one being prepared.
    const second = pool.acquire(small); // a second run does not: nothing else is being prepared
    finishStarts();
    expect(await prepared).toBe(true);
    const lease = await run;
    expect(lease).toMatchObject({ cold: false, prepared: true });
    expect(lease.child).toBe(started[0]);
    const other = await second;
    expect(other).toMatchObject({ cold: true });
    expect(started).toHaveLength(2);
    pool.release(lease.child);
    pool.release(other.child);
    await pool.close('test');
  });

  it('a run waiting for a prepared child that fails to start gets a child of its own', async () => {
    const { pool, started, holdStarts, failStarts } = makePool(4);
    holdStarts();
    const prepared = pool.prepare(small, 1_000);
    const run = pool.acquire(small);
    failStarts();
    await expect(prepared).rejects.toThrow();
    const lease = await run;
    expect(lease).toMatchObject({ cold: true });
    expect(started.length).toBeGreaterThanOrEqual(1);
    pool.release(lease.child);
    await pool.close('test');
  });

  it('prepares up to `want` children, counting those idle or starting', async () => {
    const { pool, started, holdStarts, finishStarts } = makePool(8);
    holdStarts();
    const three = [1, 2, 3].map(() => pool.prepare(small, 1_000, 3));
    // Three are starting: a fourth asked for the same three starts nothing.
    expect(await pool.prepare(small, 1_000, 3)).toBe(false);
    finishStarts();
    expect(await Promise.all(three)).toEqual([true, true, true]);
    expect(pool.stats().warm).toBe(3);
    expect(await pool.prepare(small, 1_000, 3)).toBe(false);
    expect(await pool.prepare(small, 1_000, 4)).toBe(true);
    expect(started).toHaveLength(4);
    await pool.close('test');
  });

  it('a run queued while the prepared child started takes it', async () => {
    const { pool, holdStarts, finishStarts } = makePool(1);
    holdStarts();
    const prepared = pool.prepare(small, 1_000);
    const run = pool.acquire(small);
    finishStarts();
    expect(await prepared).toBe(true);
    const lease = await run;
    expect(lease).toMatchObject({ cold: false, prepared: true });
    pool.release(lease.child);
    await pool.close('test');
  });

  describe('expect (a run reading its input)', () => {
    const settle = () => new Promise((r) => setImmediate(r));

    it('starts the run’s child now; the run takes it as its own cold start', async () => {
      const { pool, started } = makePool(4);
      pool.expect(small);
      await settle();
      expect(started).toHaveLength(1);
      const lease = await pool.acquire(small);
      expect(lease.cold).toBe(true);
      expect(lease.queueMs).toBe(0);
      expect(lease.prepared).toBeUndefined();
      expect(started).toHaveLength(1);
      pool.release(lease.child);
      // Warm from then on; nothing counted as prepared.
      expect((await pool.acquire(small)).cold).toBe(false);
      expect(pool.takePreparedReport()).toEqual({ usedMbS: 0, wastedMbS: 0, used: 0, unused: 0 });
      await pool.close('test');
    });

    it('a run that comes while the child starts waits for it rather than starting another', async () => {
      const { pool, started, holdStarts, finishStarts } = makePool(4);
      holdStarts();
      pool.expect(small);
      const run = pool.acquire(small);
      await settle();
      expect(started).toHaveLength(1);
      finishStarts();
      expect(await run).toMatchObject({ cold: true });
      expect(started).toHaveLength(1);
      await pool.close('test');
    });

    it('starts nothing when a child is idle, and leaves prepares their own children', async () => {
      const { pool, started, holdStarts, finishStarts } = makePool(4);
      const first = await pool.acquire(small);
      pool.release(first.child);
      pool.expect(small);
      expect(started).toHaveLength(1);
      (await pool.acquire(small)).child.kill();
      holdStarts();
      pool.expect(small);
      // The run's start does not count toward a prepare's `want`.
      const prepared = pool.prepare(small, 1_000);
      await settle();
      expect(started).toHaveLength(3);
      finishStarts();
      expect(await prepared).toBe(true);
      await pool.close('test');
    });

    it('leaves a failed start to the run’s own acquire', async () => {
      const { pool, started, holdStarts, failStarts } = makePool(4);
      holdStarts();
      pool.expect(small);
      await settle();
      failStarts();
      await settle();
      const lease = await pool.acquire(small);
      expect(lease.cold).toBe(true);
      expect(started).toHaveLength(2);
      await pool.close('test');
    });
  });
});
