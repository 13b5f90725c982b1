/**
 * The placement view this worker holds (pushed by the master, docs/design.md §4): the newest one
 * wins; one from a master with another address starts over (a failover or a restart). The
 * ingress refuses invocations (503 NO_WORKERS) without a view, or with one older than 5× the
 * master's push interval — a worker cut off from the master does not place on stale load.
 */
import { AppError } from '../../shared/errors.js';
import type { PlacementView } from '../../shared/schema/wire.js';

/** A view older than this many push intervals is stale. */
const STALE_INTERVALS = 5;

export class ViewHolder {
  private view: PlacementView | undefined;
  private receivedAt = 0;
  /** When the first view from the current master arrived. */
  private since = 0;
  private readonly listeners: ((v: PlacementView, prev: PlacementView | undefined) => void)[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes a pushed view; false when it is older than the one held. */
  set(v: PlacementView): boolean {
    const prev = this.view;
    const sameMaster = prev !== undefined && prev.master === v.master;
    if (sameMaster && v.seq <= prev.seq) return false;
    if (!sameMaster) this.since = this.now();
    this.view = v;
    this.receivedAt = this.now();
    for (const l of this.listeners) l(v, sameMaster ? prev : undefined);
    return true;
  }

  /** Called with every view taken, and the previous one from the same master (if any). */
  onView(listener: (v: PlacementView, prev: PlacementView | undefined) => void): void {
    this.listeners.push(listener);
  }

  /** How long the current master has been sending views, ms. */
  get settledMs(): number {
    return this.view === undefined ? 0 : this.now() - this.since;
  }

  /** The view to place from; 503 when there is none or it is stale. */
  current(): PlacementView {
    const v = this.view;
    if (v === undefined)
      throw new AppError(
        'NO_WORKERS',
        'this worker has no placement view from the master yet; retry shortly, or invoke on the master',
      );
    const age = this.now() - this.receivedAt;
    if (age > STALE_INTERVALS * v.intervalMs)
      throw new AppError(
        'NO_WORKERS',
        `this worker's placement view is ${age} ms old (the master pushes one every ${v.intervalMs} ms): the master is unreachable; invoke on the master or retry`,
      );
    return v;
  }

  /** The last view, stale or not (for routing records to the master). */
  get last(): PlacementView | undefined {
    return this.view;
  }
}
