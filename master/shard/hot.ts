/**
 * Hot workers on the master (docs/guides/sharding.md §hot workers): each heartbeat's measured
 * utilisation goes through `hotStep` (shared/shard/hot.ts); a worker that turns hot or cools is
 * an event, and the placement view is pushed so workers and ingresses place around it too.
 * Groups of new invocations then leave a hot worker: a group whose warm home is hot is placed on
 * a cool worker instead, and that move is an event of its workflow (`move-group`). Running
 * groups stay where they are (a running function is not migrated).
 *
 * Kept in memory: after a master restart the heartbeats tell it again within `holdBeats` beats.
 */
import { coolState, hotStep, type HotOptions, type HotState } from '../../shared/shard/hot.js';

/** Events kept. */
const EVENTS = 200;

export interface HotEvent {
  /** Epoch ms. */
  at: number;
  kind: 'hot' | 'cool' | 'move-group';
  worker: string;
  /** Its utilisation when it flipped. */
  utilization?: number;
  /** move-group: the workflow version and group moved, and where to. */
  workflow?: string;
  version?: number;
  group?: number;
  to?: string;
  reason: string;
}

export interface HotSnapshot {
  workers: { id: string; hot: boolean; utilization: number }[];
  events: HotEvent[];
}

export interface HotWorkersOptions {
  /** A worker flipped: push the placement view. */
  onChange: () => void;
  now?: () => number;
  options?: Partial<HotOptions>;
}

export class HotWorkers {
  private readonly states = new Map<string, HotState>();
  private readonly events: HotEvent[] = [];
  private readonly now: () => number;

  constructor(private readonly o: HotWorkersOptions) {
    this.now = o.now ?? Date.now;
  }

  /** One heartbeat's utilisation (none sent: nothing changes). */
  observe(worker: string, utilization: number | undefined): void {
    if (utilization === undefined) return;
    const step = hotStep(this.states.get(worker) ?? coolState(), utilization, this.o.options);
    this.states.set(worker, step.state);
    if (!step.changed) return;
    this.push({
      at: this.now(),
      kind: step.changed,
      worker,
      utilization,
      reason:
        step.changed === 'hot'
          ? `utilisation ${pct(utilization)} of its cores: new groups, foreach shards and key ranges go elsewhere`
          : `utilisation back to ${pct(utilization)}`,
    });
    this.o.onChange();
  }

  isHot(worker: string): boolean {
    return this.states.get(worker)?.hot === true;
  }

  /** A worker left the cluster: forget it. */
  forget(worker: string): void {
    this.states.delete(worker);
  }

  /** Placement put group `group` of `workflow@version` on `to` instead of its hot home `from`. */
  groupMoved(workflow: string, version: number, group: number, from: string, to: string): void {
    this.push({
      at: this.now(),
      kind: 'move-group',
      worker: from,
      workflow,
      version,
      group,
      to,
      reason: `its warm home ${from} runs hot (${pct(this.states.get(from)?.utilization ?? 0)})`,
    });
  }

  /** Every worker's state, and the events that concern `workflow` (flips concern all). */
  snapshot(workflow?: string): HotSnapshot {
    return {
      workers: [...this.states.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([id, s]) => ({ id, hot: s.hot, utilization: s.utilization })),
      events: this.events
        .filter((e) => e.kind !== 'move-group' || workflow === undefined || e.workflow === workflow)
        .slice(-50),
    };
  }

  private push(e: HotEvent): void {
    this.events.push(e);
    if (this.events.length > EVENTS) this.events.splice(0, this.events.length - EVENTS);
  }
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}
