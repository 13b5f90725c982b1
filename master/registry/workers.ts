/**
 * Worker membership: registration, heartbeats with capacity and load, and death detection.
 * A worker is `ready` once the master has pushed it every current deployment; it is `dead` when
 * its heartbeats stop, and listeners are told so they can fail the invocations placed on it.
 */
import type { Capacity, Registration, WorkerLoad } from '../../shared/schema/wire.js';

export interface WorkerView {
  id: string;
  url: string;
  capacity: Capacity;
  runtime: Registration['runtime'];
  version: string;
  /** It can write the invocation journal (durable invocations are placed only on such). */
  journal?: boolean;
  /** Its labels (shared/labels.ts), as it registered them. */
  labels?: Readonly<Record<string, string>>;
  /** `draining`: stopping; keeps its running work, gets no new invocations. */
  status: 'registering' | 'ready' | 'draining' | 'dead';
  load: WorkerLoad;
  /** Invocation groups the master has placed on it that are still running. */
  inflight: number;
  registeredAt: number;
  lastSeenAt: number;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerView>();
  private readonly deathListeners: ((w: WorkerView) => void)[] = [];
  private readonly changeListeners: (() => void)[] = [];

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  register(r: Registration): WorkerView {
    const now = this.now();
    const prev = this.workers.get(r.id);
    // A live worker registering again is a new process under the old id: whatever the old one
    // held died with it, so its invocations are recovered (or failed) like a death's.
    if (prev && prev.status !== 'dead') {
      prev.status = 'dead';
      for (const l of this.deathListeners) l(prev);
    }
    const w: WorkerView = {
      ...r,
      status: 'registering',
      load: { running: 0, queued: 0, invocations: 0, memoryBytes: 0 },
      inflight: prev?.status === 'dead' ? 0 : (prev?.inflight ?? 0),
      registeredAt: now,
      lastSeenAt: now,
    };
    this.workers.set(r.id, w);
    return w;
  }

  markReady(id: string): void {
    const w = this.workers.get(id);
    if (w && w.status === 'registering') {
      w.status = 'ready';
      this.changed();
    }
  }

  /** False when the worker is unknown or dead (it must register again). */
  heartbeat(id: string, load: WorkerLoad): boolean {
    const w = this.workers.get(id);
    if (!w || w.status === 'dead') return false;
    // The keyed range loads are a delta for the re-sharding loop, not state of the worker.
    const { keyed, ...rest } = load;
    w.load = rest;
    w.lastSeenAt = this.now();
    for (const l of this.heartbeatListeners) l(w, keyed);
    return true;
  }

  /** Told of every heartbeat, with its keyed range loads (docs/guides/sharding.md). */
  onHeartbeat(listener: (w: WorkerView, keyed: WorkerLoad['keyed']) => void): void {
    this.heartbeatListeners.push(listener);
  }

  private readonly heartbeatListeners: ((w: WorkerView, keyed: WorkerLoad['keyed']) => void)[] = [];

  get(id: string): WorkerView | undefined {
    return this.workers.get(id);
  }

  list(): WorkerView[] {
    return [...this.workers.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  ready(): WorkerView[] {
    return this.list().filter((w) => w.status === 'ready');
  }

  onDeath(listener: (w: WorkerView) => void): void {
    this.deathListeners.push(listener);
  }

  /** Called when a worker becomes ready, drains or dies (the placement view changed). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }

  /** Marks workers whose heartbeats stopped as dead; returns them. */
  sweep(): WorkerView[] {
    const now = this.now();
    const dead: WorkerView[] = [];
    for (const w of this.workers.values()) {
      if (w.status !== 'dead' && now - w.lastSeenAt > this.timeoutMs) {
        w.status = 'dead';
        dead.push(w);
      }
    }
    for (const w of dead) for (const l of this.deathListeners) l(w);
    if (dead.length > 0) this.changed();
    return dead;
  }

  /** A worker that is stopping: no new invocations are placed on it. False when unknown. */
  drain(id: string): boolean {
    const w = this.workers.get(id);
    if (!w || w.status === 'dead') return false;
    w.status = 'draining';
    this.changed();
    return true;
  }

  /** Marks one worker dead at once (it stopped answering requests, or left). */
  markDead(id: string): void {
    const w = this.workers.get(id);
    if (!w || w.status === 'dead') return;
    w.status = 'dead';
    for (const l of this.deathListeners) l(w);
    this.changed();
  }
}
