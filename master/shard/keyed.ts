/**
 * Keyed sharding on the master (docs/guides/sharding.md §keyed sharding at run time): one routing
 * table per keyed function of every current workflow version, kept in the master store
 * (`shards:keyed`), sent to every worker and ingress with the placement view, and re-sharded by
 * the control loop (`controlStep`, shared/shard/control.ts) about once a second.
 *
 * Per cycle and function: the range loads the workers reported with their heartbeats since the
 * last cycle (a worker that sent two counts their mean, one that sent none its last figures
 * again, so heartbeat jitter does not look like load), each range's Holt forecast, and each
 * worker's measured utilisation go into one `controlStep`; a changed table is stored, pushed
 * (`onChange`) and its events kept. Before that, a replica on a worker that is no longer ready is
 * dropped, or moved to the coolest ready worker when it was the range's only one (`repair`).
 *
 * Everything here is driven by `cycle()` and `heartbeat()`; `start()` only adds the timer, so
 * tests drive it with a fake clock.
 */
import type { KeyShard } from '../../shared/dag/types.js';
import type { WorkerId } from '../../shared/ids.js';
import type { Logger } from '../../shared/logger.js';
import type { KeyedRangeLoad } from '../../shared/schema/wire.js';
import {
  controlStep,
  initialControlState,
  type ControlOptions,
  type ControlState,
  type RangeLoad,
  type ShardEvent,
} from '../../shared/shard/control.js';
import { hwForecast, hwUpdate, type HoltWintersState } from '../../shared/shard/forecast.js';
import {
  checkTable,
  initialTable,
  setReplicas,
  type RoutingTable,
} from '../../shared/shard/routing.js';
import type { MasterStore } from '../store/types.js';
import type { WorkflowVersion } from '../workflow/version.js';

export const KEYED_STORE_KEY = 'shards:keyed';
/**
 * Ranges per ready worker in a new table: narrow enough (about 2 % of the keys each on three
 * workers) that whole ranges move within the loop's key budget of 5 % per cycle, without
 * splitting first.
 */
export const RANGES_PER_WORKER = 16;
/** Cycles of history and events kept per function. */
const HISTORY = 120;
const EVENTS = 200;
/** Smoothing of the range forecasts: level and trend of a Holt model, one step ahead. */
const HOLT = { alpha: 0.6, beta: 0.2, gamma: 0, season: 0 } as const;

export interface KeyedEvent extends ShardEvent {
  /** Epoch ms. */
  at: number;
}

export interface KeyedCycle {
  at: number;
  cycle: number;
  version: number;
  /** Busy ms routed per range in the cycle and what the forecast of the cycle before said. */
  ranges: { id: number; load: number; forecast: number | null }[];
  /** Each ready worker's measured utilisation, 0..1 (null when it sent none). */
  workers: { id: string; utilization: number | null; load: number }[];
}

export interface KeyedSnapshot {
  workflow: string;
  fn: string;
  spec: KeyShard;
  table: RoutingTable;
  history: KeyedCycle[];
  events: KeyedEvent[];
}

interface Entry {
  workflow: string;
  fn: string;
  spec: KeyShard;
  table: RoutingTable;
  state: ControlState;
  forecasts: Map<number, HoltWintersState>;
  history: KeyedCycle[];
  events: KeyedEvent[];
}

interface WorkerReports {
  /** Heartbeats since the last cycle. */
  beats: KeyedRangeLoad[][];
  /** What the worker's last cycle counted (used again when no heartbeat came in time). */
  last: Map<string, KeyedRangeLoad>;
  utilization: number | null;
}

export interface KeyedShardsOptions {
  store: Pick<MasterStore, 'getValue' | 'setValue'>;
  logger: Logger;
  catalog: { current(): WorkflowVersion[] };
  /** Ready workers, by id (the ones a replica may go to). */
  workers: () => readonly string[];
  /** A table changed: push the view. */
  onChange: () => void;
  intervalMs?: number;
  now?: () => number;
  control?: Partial<ControlOptions>;
  /** Whether the master's tracker marks a worker hot (master/shard/hot.ts): it takes no range. */
  isHot?: (worker: string) => boolean;
  /** Ranges per ready worker in a new table; default RANGES_PER_WORKER. */
  rangesPerWorker?: number;
  /** false: tables stay as made (static hash routing); repair and the history go on. Default true. */
  reshard?: boolean;
}

export class KeyedShards {
  private readonly entries = new Map<string, Entry>();
  private readonly reports = new Map<string, WorkerReports>();
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly o: KeyedShardsOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Restores the stored tables and events (a restarted or new leader master). */
  async load(): Promise<void> {
    const stored = (await this.o.store.getValue(KEYED_STORE_KEY)) as
      | { entries?: { workflow: string; fn: string; table: RoutingTable; events: KeyedEvent[] }[] }
      | undefined;
    for (const e of stored?.entries ?? []) {
      try {
        checkTable(e.table);
      } catch (err) {
        this.o.logger.warn({ err, workflow: e.workflow, fn: e.fn }, 'stored routing table dropped');
        continue;
      }
      this.entries.set(keyOf(e.workflow, e.fn), {
        workflow: e.workflow,
        fn: e.fn,
        spec: { key: '', replicas: 'auto', maxReplicas: 4 },
        table: e.table,
        state: initialControlState(),
        forecasts: new Map(),
        history: [],
        events: e.events ?? [],
      });
    }
  }

  start(): void {
    this.timer ??= setInterval(() => this.cycle(), this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** A heartbeat of `worker`: its range loads since the last one and its utilisation. */
  heartbeat(
    worker: string,
    keyed: readonly KeyedRangeLoad[] | undefined,
    utilization?: number,
  ): void {
    let r = this.reports.get(worker);
    if (!r) {
      r = { beats: [], last: new Map(), utilization: null };
      this.reports.set(worker, r);
    }
    r.beats.push([...(keyed ?? [])]);
    if (utilization !== undefined) r.utilization = utilization;
  }

  /** The tables the view carries. */
  routing(): { workflow: string; table: RoutingTable }[] {
    return [...this.entries.values()].map((e) => ({ workflow: e.workflow, table: e.table }));
  }

  /** What `faasflow shards NAME` and the API show of the workflow's keyed functions. */
  snapshot(workflow: string): KeyedSnapshot[] {
    return [...this.entries.values()]
      .filter((e) => e.workflow === workflow)
      .map((e) => ({
        workflow: e.workflow,
        fn: e.fn,
        spec: e.spec,
        table: e.table,
        history: e.history.slice(-30),
        events: e.events.slice(-50),
      }));
  }

  /** One control cycle over every keyed function. */
  cycle(): void {
    const now = this.now();
    const workers = [...this.o.workers()].sort();
    this.sync(workers, now);
    const perWorker = this.collect(workers);
    let changed = false;
    for (const e of this.entries.values()) {
      if (workers.length === 0) continue;
      const before = e.table.version;
      this.repair(e, workers, perWorker, now);
      this.control(e, workers, perWorker, now);
      changed ||= e.table.version !== before;
    }
    if (changed) {
      this.save();
      this.o.onChange();
    }
  }

  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.saving;
  }

  /** Tables for every keyed function of the current versions; none for removed ones. */
  private sync(workers: readonly string[], now: number): void {
    const live = new Set<string>();
    for (const v of this.o.catalog.current()) {
      for (const fn of Object.values(v.dag.functions)) {
        if (fn.shard === undefined) continue;
        const k = keyOf(v.name, fn.name);
        live.add(k);
        const had = this.entries.get(k);
        if (had) {
          had.spec = fn.shard;
          continue;
        }
        if (workers.length === 0) continue;
        const replicas = fn.shard.replicas === 'auto' ? 1 : fn.shard.replicas;
        const table = initialTable(
          fn.name,
          workers as WorkerId[],
          workers.length * (this.o.rangesPerWorker ?? RANGES_PER_WORKER),
          replicas,
        );
        const e: Entry = {
          workflow: v.name,
          fn: fn.name,
          spec: fn.shard,
          table,
          state: initialControlState(),
          forecasts: new Map(),
          history: [],
          events: [],
        };
        e.events.push({
          kind: 'create',
          cycle: 0,
          version: table.version,
          at: now,
          reason: `${table.ranges.length} ranges over ${workers.length} workers, ${replicas} replica${replicas === 1 ? '' : 's'} each`,
          movedShare: 0,
        });
        this.entries.set(k, e);
        this.save();
        this.o.onChange();
      }
    }
    for (const k of [...this.entries.keys()]) if (!live.has(k)) this.entries.delete(k);
  }

  /** Per worker and range (`workflow fn range`): the cycle's load. */
  private collect(workers: readonly string[]): Map<string, Map<string, KeyedRangeLoad>> {
    const out = new Map<string, Map<string, KeyedRangeLoad>>();
    for (const w of workers) {
      const r = this.reports.get(w);
      if (!r) continue;
      if (r.beats.length === 0) {
        out.set(w, r.last);
        continue;
      }
      const sum = new Map<string, KeyedRangeLoad>();
      for (const beat of r.beats)
        for (const l of beat) {
          const k = `${keyOf(l.workflow, l.fn)}\u0000${l.range}`;
          const had = sum.get(k);
          sum.set(k, had ? mergeLoads(had, l) : { ...l });
        }
      const n = r.beats.length;
      for (const [k, l] of sum) sum.set(k, { ...l, busyMs: l.busyMs / n, calls: l.calls / n });
      r.beats = [];
      r.last = sum;
      out.set(w, sum);
    }
    for (const w of [...this.reports.keys()]) if (!workers.includes(w)) this.reports.delete(w);
    return out;
  }

  private repair(
    e: Entry,
    workers: readonly string[],
    perWorker: Map<string, Map<string, KeyedRangeLoad>>,
    now: number,
  ): void {
    const live = new Set(workers);
    for (const r of e.table.ranges) {
      const gone = r.replicas.filter((w) => !live.has(w));
      if (gone.length === 0) continue;
      let keep = r.replicas.filter((w) => live.has(w));
      if (keep.length === 0) keep = [coolest(workers, perWorker, this.reports) as WorkerId];
      e.table = setReplicas(e.table, r.id, keep);
      e.events.push({
        kind: 'repair',
        cycle: e.state.cycle,
        version: e.table.version,
        range: r.id,
        from: gone.join(',') as WorkerId,
        to: keep.join(',') as WorkerId,
        at: now,
        reason: `${gone.join(', ')} left the cluster`,
        movedShare: 0,
      });
    }
    trim(e.events, EVENTS);
  }

  private control(
    e: Entry,
    workers: readonly string[],
    perWorker: Map<string, Map<string, KeyedRangeLoad>>,
    now: number,
  ): void {
    const prefix = `${keyOf(e.workflow, e.fn)}\u0000`;
    const byRange = new Map<number, KeyedRangeLoad>();
    for (const loads of perWorker.values())
      for (const [k, l] of loads) {
        if (!k.startsWith(prefix)) continue;
        const had = byRange.get(l.range);
        byRange.set(l.range, had ? mergeLoads(had, l) : { ...l });
      }
    const ranges: RangeLoad[] = [];
    const record: KeyedCycle['ranges'] = [];
    const nextForecasts = new Map<number, HoltWintersState>();
    for (const r of e.table.ranges) {
      const l = byRange.get(r.id);
      const load = l?.busyMs ?? 0;
      const prev = e.forecasts.get(r.id);
      const said = prev === undefined ? null : round(hwForecast(prev, HOLT));
      const state: HoltWintersState =
        prev === undefined
          ? { level: load, trend: 0, seasonal: [], n: 1 }
          : hwUpdate(prev, load, HOLT);
      nextForecasts.set(r.id, state);
      const forecast = hwForecast(state, HOLT);
      ranges.push({
        id: r.id,
        load,
        forecast,
        keys: l?.keys ?? 0,
        ...(l && l.medianHash > r.start && l.medianHash < r.end
          ? { medianHash: l.medianHash }
          : {}),
        ...(l ? { topKeyShare: l.topKeyShare } : {}),
      });
      record.push({ id: r.id, load: round(load), forecast: said });
    }
    const stepped = controlStep(
      e.table,
      {
        ranges,
        workers: workers.map((w) => ({
          worker: w as WorkerId,
          utilization: this.reports.get(w)?.utilization ?? 0,
          ...(this.o.isHot?.(w) ? { hot: true } : {}),
        })),
      },
      e.state,
      {
        // Merging stops at the new table's size: a range is a small share of a worker's load
        // by design (so it can move within the budget), not a cold one.
        minRanges: workers.length * (this.o.rangesPerWorker ?? RANGES_PER_WORKER),
        ...this.o.control,
        maxReplicas: e.spec.maxReplicas,
        ...(e.spec.replicas === 'auto' ? {} : { fixedReplicas: e.spec.replicas }),
      },
    );
    // Frozen (`keyedControl: false`): the loop's view of the load is kept, its changes are not.
    const result = this.o.reshard === false ? { ...stepped, table: e.table, events: [] } : stepped;
    e.state = result.state;
    e.table = result.table;
    // A split range's halves both start from the range's forecast, halved.
    for (const r of e.table.ranges)
      if (!nextForecasts.has(r.id)) {
        const src = result.events.find((ev) => ev.other === r.id && ev.kind === 'split');
        const from = src?.range === undefined ? undefined : nextForecasts.get(src.range);
        if (from) {
          const half = { ...from, level: from.level / 2, trend: from.trend / 2 };
          nextForecasts.set(r.id, half);
          if (src?.range !== undefined) nextForecasts.set(src.range, half);
        }
      }
    e.forecasts = nextForecasts;
    for (const ev of result.events) e.events.push({ ...ev, at: now });
    trim(e.events, EVENTS);
    const routed = new Map<string, number>();
    for (const [w, loads] of perWorker) {
      let s = 0;
      for (const [k, l] of loads) if (k.startsWith(prefix)) s += l.busyMs;
      routed.set(w, round(s));
    }
    e.history.push({
      at: now,
      cycle: e.state.cycle,
      version: e.table.version,
      ranges: record,
      workers: workers.map((w) => ({
        id: w,
        utilization: this.reports.get(w)?.utilization ?? null,
        load: routed.get(w) ?? 0,
      })),
    });
    trim(e.history, HISTORY);
    if (result.events.length > 0)
      this.o.logger.info(
        { workflow: e.workflow, fn: e.fn, version: e.table.version, events: result.events },
        're-sharded',
      );
  }

  /** Stores the tables and events; one write at a time, the newest state wins. */
  private save(): void {
    const doc = {
      entries: [...this.entries.values()].map((e) => ({
        workflow: e.workflow,
        fn: e.fn,
        table: e.table,
        events: e.events.slice(-50),
      })),
    };
    this.saving = this.saving
      .then(() => this.o.store.setValue(KEYED_STORE_KEY, doc))
      .catch((err: unknown) => this.o.logger.warn({ err }, 'routing tables not stored'));
  }
}

function keyOf(workflow: string, fn: string): string {
  return `${workflow}\u0000${fn}`;
}

/** Two reports of one range: sums, the busier one's median, the busy-weighted top-key share. */
function mergeLoads(a: KeyedRangeLoad, b: KeyedRangeLoad): KeyedRangeLoad {
  const busy = a.busyMs + b.busyMs;
  return {
    ...a,
    version: Math.max(a.version, b.version),
    calls: a.calls + b.calls,
    busyMs: busy,
    keys: a.keys + b.keys,
    medianHash: b.busyMs > a.busyMs ? b.medianHash : a.medianHash,
    topKeyShare: busy > 0 ? (a.topKeyShare * a.busyMs + b.topKeyShare * b.busyMs) / busy : 0,
  };
}

function coolest(
  workers: readonly string[],
  perWorker: Map<string, Map<string, KeyedRangeLoad>>,
  reports: Map<string, WorkerReports>,
): string {
  let best = workers[0]!;
  let bestScore = Infinity;
  for (const w of workers) {
    let busy = 0;
    for (const l of perWorker.get(w)?.values() ?? []) busy += l.busyMs;
    const score = (reports.get(w)?.utilization ?? 0) * 1e6 + busy;
    if (score < bestScore) {
      best = w;
      bestScore = score;
    }
  }
  return best;
}

function trim<T>(list: T[], max: number): void {
  if (list.length > max) list.splice(0, list.length - max);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
