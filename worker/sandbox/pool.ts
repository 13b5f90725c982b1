/**
 * The warm pool of one deployed function: children run one request at a time (like Lambda), are
 * reused most-recently-idle first, evicted after `idleMs` idle, and capped at `maxConcurrency`
 * (children running, starting or idle); requests beyond the cap wait FIFO and report the wait as
 * `queueMs`.
 *
 * Invariants: a request is settled exactly once; a child is in exactly one of idle, busy, or
 * retired; a dead or killed child never returns to idle, and the slot it frees goes to the head of
 * the queue. Generic over the child type so the Docker sandbox can reuse it.
 */
import { performance } from 'node:perf_hooks';
import { AppError } from '../../shared/errors.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { StartGate, StartTicket } from './start-gate.js';

/** What the pool needs of a sandbox child. */
export interface PooledChild {
  readonly id: string;
  /** Largest memory allocation this child can honour (e.g. its V8 heap limit). */
  readonly heapMb: number;
  readonly usable: boolean;
  readonly exited: Promise<void>;
  /** Stops the child for good; a run in flight fails, naming `reason`. */
  kill(reason: string): void;
}

export interface PoolOptions<C extends PooledChild> {
  /** Deployment key, for messages. */
  label: string;
  /** Starts one child sized for `allocation`. */
  start: (allocation: Allocation) => Promise<C>;
  /** Children (running, starting or idle) at most. */
  maxConcurrency: number;
  /** Idle children are killed after this long. */
  idleMs: number;
  /**
   * The worker's start gate (start-gate.ts), shared by every pool: how many children start at
   * once, runs' starts before prepares. Absent: every start begins at once.
   */
  gate?: StartGate;
}

export interface Lease<C> {
  child: C;
  cold: boolean;
  queueMs: number;
  initMs: number;
  /** The child was started ahead by `prepare` and this is its first run. */
  prepared?: boolean;
}

/** Memory-seconds held by prepared children since the last report (docs/guides/chains.md). */
export interface PreparedReport {
  /** Idle time before the first run of the prepared children that were used, MB·s. */
  usedMbS: number;
  /** Whole life of the prepared children released unused, MB·s. */
  wastedMbS: number;
  used: number;
  unused: number;
}

interface PreparedChild {
  readyMs: number;
  memoryMb: number;
}

interface Waiter<C> {
  allocation: Allocation;
  enqueuedMs: number;
  signal: AbortSignal | undefined;
  onAbort: () => void;
  resolve: (lease: Lease<C>) => void;
  reject: (err: unknown) => void;
}

export class FunctionPool<C extends PooledChild> {
  private readonly idle: C[] = [];
  private readonly busy = new Set<C>();
  private readonly idleTimers = new Map<C, NodeJS.Timeout>();
  private readonly queue: Waiter<C>[] = [];
  private readonly exits = new Set<Promise<void>>();
  private starting = 0;
  /**
   * Prepares whose child is still starting, by memory, that no run has claimed yet: a run that
   * finds no idle child waits for one of these rather than starting a second cold child.
   */
  private readonly unclaimed: { memoryMb: number; cold?: boolean; ticket?: StartTicket }[] = [];
  private readonly startingNow = new Set<Promise<C>>();
  private closed = false;
  /** Idle children started by `prepare` that have not run yet. */
  private readonly prepared = new Map<C, PreparedChild>();
  /**
   * Idle children started by `expect` for a run that has not taken them yet, with their start
   * time: that run's cold start, overlapped with its input read.
   */
  private readonly expected = new Map<C, number>();
  private report: PreparedReport = { usedMbS: 0, wastedMbS: 0, used: 0, unused: 0 };

  constructor(private readonly opts: PoolOptions<C>) {}

  /**
   * Starts one child ahead of a predicted run (issue 15): it waits idle and is released after
   * `ttlMs` (at most the pool's idle timeout) if no run took it. Resolves false when `want`
   * (default 1) fitting children are idle or being prepared already, or the pool is at its cap
   * (nothing started). `needBy` (epoch ms, the node's predicted start) orders it at the gate.
   */
  async prepare(
    allocation: Allocation,
    ttlMs: number,
    want = 1,
    needBy?: number,
  ): Promise<boolean> {
    if (this.closed || this.total() >= this.opts.maxConcurrency) return false;
    const ready =
      this.idle.filter((c) => c.usable && c.heapMb >= allocation.memoryMb).length +
      // A start for a run that is reading its input (`expect`) is that run's, not a prepare's.
      this.unclaimed.filter((t) => t.cold !== true && t.memoryMb >= allocation.memoryMb).length;
    if (ready >= want) return false;
    const ticket = this.opts.gate?.enter({
      demand: false,
      ...(needBy === undefined ? {} : { deadline: needBy }),
    });
    const token = { memoryMb: allocation.memoryMb, ...(ticket ? { ticket } : {}) };
    this.unclaimed.push(token);
    const unclaim = (): void => {
      const at = this.unclaimed.indexOf(token);
      if (at >= 0) this.unclaimed.splice(at, 1);
    };
    let lease: Lease<C>;
    try {
      lease = await this.startFor(allocation, 0, ticket);
    } catch (err) {
      unclaim();
      this.pump(); // a run that waited for this child gets a child of its own
      throw err;
    }
    unclaim();
    const child = lease.child;
    this.busy.delete(child);
    // A run arrived while it started: it is that run's sandbox now.
    const to = this.handOver(child, { cold: false, initMs: 0 });
    if (to === 'run') this.report.used++;
    if (to !== 'none') return to === 'run';
    this.prepared.set(child, { readyMs: performance.now(), memoryMb: allocation.memoryMb });
    this.park(child, Math.min(ttlMs, this.opts.idleMs));
    return true;
  }

  /**
   * A run is coming (its node is reading its input): start its child now, at a run's place at
   * the gate, unless a fitting one is idle or starting unclaimed. The run finds it as its own cold
   * start (`cold`, with the start's `initMs`), overlapped with the read. Never throws: a start
   * that fails is left to the run's own `acquire`.
   */
  expect(allocation: Allocation): void {
    if (this.closed || this.total() >= this.opts.maxConcurrency) return;
    const fits = (c: { memoryMb: number }): boolean => c.memoryMb >= allocation.memoryMb;
    if (this.idle.some((c) => c.usable && c.heapMb >= allocation.memoryMb)) return;
    if (this.unclaimed.some(fits)) return;
    const ticket = this.opts.gate?.enter({ demand: true });
    const token = { memoryMb: allocation.memoryMb, cold: true, ...(ticket ? { ticket } : {}) };
    this.unclaimed.push(token);
    const unclaim = (): void => {
      const at = this.unclaimed.indexOf(token);
      if (at >= 0) this.unclaimed.splice(at, 1);
    };
    this.startFor(allocation, 0, ticket).then(
      (lease) => {
        unclaim();
        const child = lease.child;
        this.busy.delete(child);
        if (this.handOver(child, { cold: true, initMs: lease.initMs }) !== 'none') return;
        this.expected.set(child, lease.initMs);
        this.park(child, this.opts.idleMs);
      },
      () => {
        unclaim();
        this.pump(); // a run that waited for this child gets a child of its own
      },
    );
  }

  /**
   * A child started ahead is up: to the run waiting at the head of the queue (`run`), or, when
   * none waits, back to the caller to keep idle (`none`). `retired` when the pool closed, the
   * child died, or the waiting run needs more memory than it has (that run gets a child of its own).
   */
  private handOver(child: C, how: { cold: boolean; initMs: number }): 'run' | 'none' | 'retired' {
    if (this.closed || !child.usable) {
      this.retire(child, 'function closed');
      this.pump();
      return 'retired';
    }
    const waiter = this.queue.shift();
    if (waiter === undefined) return 'none';
    if (child.heapMb < waiter.allocation.memoryMb) {
      this.queue.unshift(waiter);
      this.retire(child, 'started ahead with a smaller memory allocation than the run needs');
      this.pump();
      return 'retired';
    }
    this.busy.add(child);
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.resolve({
      child,
      cold: how.cold,
      queueMs: performance.now() - waiter.enqueuedMs,
      initMs: how.initMs,
      ...(how.cold ? {} : { prepared: true }),
    });
    return 'run';
  }

  /** What prepared children held since the last call (then reset). */
  takePreparedReport(): PreparedReport {
    const r = this.report;
    this.report = { usedMbS: 0, wastedMbS: 0, used: 0, unused: 0 };
    return r;
  }

  stats(): { warm: number; busy: number; queued: number } {
    return {
      warm: this.idle.length,
      busy: this.busy.size + this.starting,
      queued: this.queue.length,
    };
  }

  /** Live children, idle or busy. */
  children(): C[] {
    return [...this.idle, ...this.busy];
  }

  /** A child for one request: warm if one fits, else a new one, else a place in the queue. */
  acquire(allocation: Allocation, signal?: AbortSignal): Promise<Lease<C>> {
    if (this.closed) return Promise.reject(this.closedError());
    if (signal?.aborted === true) return Promise.reject(cancelled(this.opts.label));
    const warm = this.takeIdle(allocation.memoryMb);
    if (warm !== null) {
      const initMs = this.expected.get(warm);
      if (initMs !== undefined) {
        // Started for this run while it read its input: its cold start, already paid.
        this.expected.delete(warm);
        return Promise.resolve({ child: warm, cold: true, queueMs: 0, initMs });
      }
      const prepared = this.settlePrepared(warm, 'used');
      return Promise.resolve({
        child: warm,
        cold: false,
        queueMs: 0,
        initMs: 0,
        ...(prepared ? { prepared: true } : {}),
      });
    }
    // A prepared child that is still starting is nearer than a new cold start: wait for it.
    const claim = this.unclaimed.findIndex((t) => t.memoryMb >= allocation.memoryMb);
    if (claim >= 0) this.unclaimed.splice(claim, 1)[0]!.ticket?.promote();
    else if (this.total() < this.opts.maxConcurrency) return this.startFor(allocation, 0);
    return new Promise<Lease<C>>((resolve, reject) => {
      const waiter: Waiter<C> = {
        allocation,
        enqueuedMs: performance.now(),
        signal,
        onAbort: () => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) this.queue.splice(at, 1);
          reject(cancelled(this.opts.label));
        },
        resolve,
        reject,
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Returns a child after its run: to the next waiter, to idle, or (when dead) nowhere. */
  release(child: C): void {
    this.busy.delete(child);
    if (this.closed || !child.usable) {
      this.retire(child, this.closed ? 'function closed' : 'no longer usable');
      this.pump();
      return;
    }
    const waiter = this.queue.shift();
    if (waiter === undefined) {
      this.park(child, this.opts.idleMs);
      return;
    }
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    const queueMs = performance.now() - waiter.enqueuedMs;
    if (child.heapMb >= waiter.allocation.memoryMb) {
      this.busy.add(child);
      waiter.resolve({ child, cold: false, queueMs, initMs: 0 });
      return;
    }
    this.retire(child, 'replaced by a child with a larger memory allocation');
    this.startFor(waiter.allocation, queueMs).then(waiter.resolve, waiter.reject);
  }

  /** Starts children until `count` are idle (bounded by the cap). */
  async prewarm(count: number, allocation: Allocation): Promise<void> {
    const wanted = Math.min(count, this.opts.maxConcurrency) - this.idle.length;
    const room = this.opts.maxConcurrency - this.total();
    const leases = await Promise.allSettled(
      Array.from({ length: Math.max(0, Math.min(wanted, room)) }, () =>
        this.startFor(allocation, 0),
      ),
    );
    for (const l of leases) if (l.status === 'fulfilled') this.release(l.value.child);
    const failed = leases.find((l) => l.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** Forgets a child that is gone or going (called when it exits on its own). */
  forget(child: C): void {
    const at = this.idle.indexOf(child);
    if (at >= 0) {
      this.idle.splice(at, 1);
      this.clearIdleTimer(child);
      this.expected.delete(child);
      this.settlePrepared(child, 'unused');
      this.pump();
    }
  }

  /** Kills every child, fails every waiter; resolves when all children have exited. */
  async close(reason: string): Promise<void> {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(this.closedError(reason));
    }
    for (const child of this.idle.splice(0)) this.retire(child, reason);
    // Busy children stay in `busy` until their run's owner releases them; only kill them here.
    for (const child of this.busy) this.retire(child, reason);
    // Children still starting are retired by startFor as they come up.
    await Promise.allSettled([...this.startingNow]);
    await Promise.all([...this.exits]);
  }

  private total(): number {
    return this.idle.length + this.busy.size + this.starting;
  }

  private takeIdle(memoryMb: number): C | null {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const child = this.idle[i]!;
      if (!child.usable || child.heapMb < memoryMb) continue;
      this.idle.splice(i, 1);
      this.clearIdleTimer(child);
      this.busy.add(child);
      return child;
    }
    // At the cap with only too-small idle children: replace one rather than queue forever.
    if (this.total() >= this.opts.maxConcurrency) {
      const small = this.idle.shift();
      if (small !== undefined)
        this.retire(small, 'replaced by a child with a larger memory allocation');
    }
    return null;
  }

  /**
   * Starts one child once the gate lets it (`ticket`: a prepare's place; else a run's, at the
   * front). The wait at the gate counts in the run's `queueMs`, not in `initMs`.
   */
  private async startFor(
    allocation: Allocation,
    queueMs: number,
    ticket: StartTicket | undefined = this.opts.gate?.enter({ demand: true }),
  ): Promise<Lease<C>> {
    this.starting++;
    const gatedMs = performance.now();
    let child: C;
    let startedMs = gatedMs;
    try {
      if (ticket !== undefined) {
        await ticket.granted;
        startedMs = performance.now();
      }
      if (this.closed) throw this.closedError();
      const start = this.opts.start(allocation);
      this.startingNow.add(start);
      try {
        child = await start;
      } finally {
        this.startingNow.delete(start);
      }
    } finally {
      this.starting--;
      ticket?.leave();
    }
    if (this.closed) {
      this.retire(child, 'function closed');
      throw this.closedError();
    }
    this.busy.add(child);
    return {
      child,
      cold: true,
      queueMs: queueMs + (startedMs - gatedMs),
      initMs: performance.now() - startedMs,
    };
  }

  /** Gives freed capacity to the head of the queue. */
  private pump(): void {
    while (this.queue.length > 0 && this.total() < this.opts.maxConcurrency && !this.closed) {
      const waiter = this.queue.shift()!;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      const queueMs = performance.now() - waiter.enqueuedMs;
      this.startFor(waiter.allocation, queueMs).then(waiter.resolve, (err: unknown) => {
        waiter.reject(err);
        this.pump();
      });
    }
  }

  /** Idle, evicted after `ms` unless a run takes it first. */
  private park(child: C, ms: number): void {
    this.idle.push(child);
    const timer = setTimeout(() => this.evict(child), ms);
    timer.unref();
    this.idleTimers.set(child, timer);
  }

  private evict(child: C): void {
    const at = this.idle.indexOf(child);
    if (at < 0) return;
    this.idle.splice(at, 1);
    this.retire(
      child,
      this.prepared.has(child) ? 'prepared ahead, unused' : `idle for ${this.opts.idleMs} ms`,
    );
  }

  /**
   * A prepared child's first run took it (`used`: its idle time before it counts) or it left
   * without one (`unused`: its whole life counts as waste); false when it was not prepared.
   */
  private settlePrepared(child: C, how: 'used' | 'unused'): boolean {
    const p = this.prepared.get(child);
    if (p === undefined) return false;
    this.prepared.delete(child);
    const mbS = (p.memoryMb * (performance.now() - p.readyMs)) / 1000;
    if (how === 'used') {
      this.report.used++;
      this.report.usedMbS += mbS;
    } else {
      this.report.unused++;
      this.report.wastedMbS += mbS;
    }
    return true;
  }

  private retire(child: C, reason: string): void {
    this.clearIdleTimer(child);
    this.expected.delete(child);
    this.settlePrepared(child, 'unused');
    child.kill(reason);
    const exit = child.exited.finally(() => this.exits.delete(exit));
    this.exits.add(exit);
  }

  private clearIdleTimer(child: C): void {
    const timer = this.idleTimers.get(child);
    if (timer !== undefined) clearTimeout(timer);
    this.idleTimers.delete(child);
  }

  private closedError(reason = 'closed'): AppError {
    return new AppError(
      'SANDBOX_UNAVAILABLE',
      `function ${this.opts.label} is not available: ${reason}`,
    );
  }
}

function cancelled(label: string): AppError {
  return new AppError('CANCELLED', `run of ${label} cancelled while waiting for a sandbox`);
}
