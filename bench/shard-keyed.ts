/**
 * The keyed half of `faasflow bench shard --sim`: a seeded discrete-event simulation of a sharded
 * function under an open-loop Zipf(1.2) load at 70 % of the cluster, whose hot keys move to other
 * keys halfway through. Two routers see the same arrivals (same keys, times and service times):
 * - static: hash(key) mod workers, what routing without a table does;
 * - table: shared/shard's routing table (128 ranges to start, 16 a worker), join-shortest-queue among a
 *   range's replicas, re-sharded by `controlStep` once a simulated second.
 * Workers are single-slot FCFS servers (a sleep-bound function: its time is its own, not the
 * CPU's). Figures: latency p99 after warm-up, max/mean of the work routed to each worker per
 * second around the shift, and the share of keys that gained a worker after the shift.
 */
import { summarize, zipfRanks, type Summary } from './report.js';
import { mulberry32 } from '../shared/random.js';
import type { WorkerId } from '../shared/ids.js';
import {
  controlStep,
  initialControlState,
  type ControlOptions,
  type RangeLoad,
  type ShardEvent,
} from '../shared/shard/control.js';
import {
  hwForecast,
  hwInit,
  hwUpdate,
  type HoltWintersParams,
  type HoltWintersState,
} from '../shared/shard/forecast.js';
import {
  initialTable,
  keyHash,
  movedKeyShare,
  rangeIndexOf,
  type RoutingTable,
} from '../shared/shard/routing.js';

export interface KeyedSimOptions {
  seed: number;
  workers: number;
  keys: number;
  zipf: number;
  /** Offered load as a share of the cluster's capacity. */
  load: number;
  serviceMeanMs: number;
  durationMs: number;
  /** When the hot keys move. */
  shiftAtMs: number;
  /** Latencies before this are not counted (both routers start cold). */
  warmupMs: number;
  initialRanges: number;
  cycleMs: number;
  control?: Partial<ControlOptions>;
}

export const KEYED_DEFAULTS: KeyedSimOptions = {
  seed: 1,
  workers: 8,
  keys: 1000,
  zipf: 1.2,
  load: 0.7,
  serviceMeanMs: 10,
  durationMs: 60_000,
  shiftAtMs: 30_000,
  warmupMs: 10_000,
  initialRanges: 128,
  cycleMs: 1000,
};

export interface RouterFigures {
  latency: Summary | null;
  /**
   * max/mean over workers of the work routed to each, summed over 5 s: the 5 s before the
   * shift, the first 5 s after it, and the 5 s after those. (Per second, Poisson noise alone
   * moves one worker's share by ±17 % at this rate, so 5-s sums are what balance can show.)
   */
  imbalanceBeforeShift: number;
  imbalanceFirst5s: number;
  imbalanceNext5s: number;
  /** The same per second from the shift on (index 0 = the first second after it). */
  imbalancePerSecond: number[];
}

export interface KeyedFigures {
  options: KeyedSimOptions;
  requests: number;
  static: RouterFigures;
  table: RouterFigures & {
    /** Share of all keys that gained a worker, summed over the 10 s after the shift. */
    movedShareAfterShift: number;
    /** The same over the rest of the run after those 10 s (churn). */
    movedShareLater: number;
    /** Largest share moved in one cycle. */
    maxMovedPerCycle: number;
    events: ShardEvent[];
    rangesAtEnd: number;
    version: number;
  };
  /** table p99 / static p99. */
  p99Ratio: number | null;
}

interface Arrival {
  t: number;
  key: string;
  serviceMs: number;
}

function arrivals(o: KeyedSimOptions): { list: Arrival[]; keys: string[] } {
  const rnd = mulberry32(o.seed);
  const keys = Array.from({ length: o.keys }, (_, i) => `user-${i}`);
  const rankOf = zipfRanks(o.keys, o.zipf);
  // rank → key, before and after the shift (a fresh permutation: the hot spot moves).
  const perm = (): number[] => {
    const p = keys.map((_, i) => i);
    for (let i = p.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  };
  const before = perm();
  const after = perm();
  const ratePerMs = (o.load * o.workers) / o.serviceMeanMs;
  const list: Arrival[] = [];
  for (
    let t = -Math.log(1 - rnd()) / ratePerMs;
    t < o.durationMs;
    t += -Math.log(1 - rnd()) / ratePerMs
  ) {
    const rank = rankOf(rnd());
    const key = keys[(t < o.shiftAtMs ? before : after)[rank]!]!;
    list.push({ t, key, serviceMs: -Math.log(1 - rnd()) * o.serviceMeanMs });
  }
  return { list, keys };
}

/** Per-worker FCFS single server: when it is next free, and work routed per second. */
class Servers {
  readonly freeAt: number[];
  readonly routed: number[][];
  readonly busy: number[][];
  constructor(n: number, seconds: number) {
    this.freeAt = new Array<number>(n).fill(0);
    this.routed = Array.from({ length: n }, () => new Array<number>(seconds + 1).fill(0));
    this.busy = Array.from({ length: n }, () => new Array<number>(seconds + 60).fill(0));
  }
  backlog(w: number, t: number): number {
    return Math.max(0, this.freeAt[w]! - t);
  }
  serve(w: number, a: Arrival): number {
    const start = Math.max(a.t, this.freeAt[w]!);
    const end = start + a.serviceMs;
    this.freeAt[w] = end;
    this.routed[w]![Math.floor(a.t / 1000)]! += a.serviceMs;
    for (let s = Math.floor(start / 1000); s * 1000 < end && s < this.busy[w]!.length; s++)
      this.busy[w]![s]! += Math.min(end, (s + 1) * 1000) - Math.max(start, s * 1000);
    return end - a.t;
  }
}

/** max/mean over workers of the work routed to each in seconds [from, to). */
function imbalance(s: Servers, from: number, to: number): number {
  const xs = s.routed.map((r) => r.slice(from, to).reduce((a, b) => a + b, 0));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return mean === 0 ? 1 : Math.max(...xs) / mean;
}

function figures(s: Servers, latencies: number[], o: KeyedSimOptions): RouterFigures {
  const shift = Math.floor(o.shiftAtMs / 1000);
  const last = Math.floor(o.durationMs / 1000);
  const perSecond: number[] = [];
  for (let sec = shift; sec < last; sec++) perSecond.push(imbalance(s, sec, sec + 1));
  return {
    latency: summarize(latencies),
    imbalanceBeforeShift: imbalance(s, shift - 5, shift),
    imbalanceFirst5s: imbalance(s, shift, shift + 5),
    imbalanceNext5s: imbalance(s, shift + 5, shift + 10),
    imbalancePerSecond: perSecond,
  };
}

export function simulateKeyed(options: Partial<KeyedSimOptions> = {}): KeyedFigures {
  const o = { ...KEYED_DEFAULTS, ...options };
  const { list, keys } = arrivals(o);
  const seconds = Math.ceil(o.durationMs / 1000);
  const workers = Array.from({ length: o.workers }, (_, i) => `w${i}` as WorkerId);
  const index = new Map(workers.map((w, i) => [w, i]));

  // Static hash routing.
  const st = new Servers(o.workers, seconds);
  const stLat: number[] = [];
  for (const a of list) {
    const l = st.serve(keyHash(a.key) % o.workers, a);
    if (a.t >= o.warmupMs) stLat.push(l);
  }

  // The routing table, re-sharded each cycle.
  const tb = new Servers(o.workers, seconds);
  const tbLat: number[] = [];
  let table: RoutingTable = initialTable('lookup', workers, o.initialRanges, 1);
  let state = initialControlState();
  const events: ShardEvent[] = [];
  let moved = 0;
  let movedLater = 0;
  let maxMoved = 0;
  let cycleEnd = o.cycleMs;
  let window = new Map<
    number,
    { load: number; keys: Map<string, number>; hashes: [number, number][] }
  >();
  // One smoothed forecast per range (Holt–Winters without trend or season: the noise of one
  // second's Poisson arrivals must not move ranges).
  const smooth: HoltWintersParams = { alpha: 0.6, beta: 0, gamma: 0, season: 0 };
  const forecasts = new Map<number, HoltWintersState>();
  const closeCycle = (): void => {
    const sec = Math.floor((cycleEnd - 1) / 1000);
    const ranges: RangeLoad[] = table.ranges.map((r) => {
      const w = window.get(r.id);
      const f = forecasts.get(r.id);
      const next = f ? hwUpdate(f, w?.load ?? 0, smooth) : hwInit([w?.load ?? 0], smooth);
      forecasts.set(r.id, next);
      const forecast = hwForecast(next, smooth);
      if (!w) return { id: r.id, load: 0, forecast, keys: 0 };
      const top = Math.max(0, ...w.keys.values());
      w.hashes.sort((x, y) => x[0] - y[0]);
      let acc = 0;
      let median = r.start;
      for (const [h, cost] of w.hashes) {
        acc += cost;
        if (acc >= w.load / 2) {
          median = h;
          break;
        }
      }
      return {
        id: r.id,
        load: w.load,
        forecast,
        keys: w.keys.size,
        medianHash: median,
        topKeyShare: w.load === 0 ? 0 : top / w.load,
      };
    });
    const before = table;
    const r = controlStep(
      table,
      {
        ranges,
        workers: workers.map((w, i) => ({
          worker: w,
          utilization: (tb.busy[i]![sec] ?? 0) / o.cycleMs,
          backlogMs: tb.backlog(i, cycleEnd),
        })),
      },
      state,
      { minRanges: o.initialRanges, ...o.control },
    );
    table = r.table;
    state = r.state;
    for (const e of r.events) events.push({ ...e, cycle: state.cycle });
    if (r.events.length > 0) {
      const share = movedKeyShare(before, table, keys);
      maxMoved = Math.max(maxMoved, share);
      if (cycleEnd > o.shiftAtMs + 10_000) movedLater += share;
      else if (cycleEnd > o.shiftAtMs) moved += share;
    }
    window = new Map();
    cycleEnd += o.cycleMs;
  };
  for (const a of list) {
    while (a.t >= cycleEnd) closeCycle();
    const h = keyHash(a.key);
    const range = table.ranges[rangeIndexOf(table, h)]!;
    let best = index.get(range.replicas[0]!)!;
    for (const w of range.replicas.slice(1)) {
      const i = index.get(w)!;
      if (tb.backlog(i, a.t) < tb.backlog(best, a.t)) best = i;
    }
    const l = tb.serve(best, a);
    if (a.t >= o.warmupMs) tbLat.push(l);
    let w = window.get(range.id);
    if (!w) window.set(range.id, (w = { load: 0, keys: new Map(), hashes: [] }));
    w.load += a.serviceMs;
    w.keys.set(a.key, (w.keys.get(a.key) ?? 0) + a.serviceMs);
    w.hashes.push([h, a.serviceMs]);
  }
  const s = figures(st, stLat, o);
  const t = figures(tb, tbLat, o);
  return {
    options: o,
    requests: list.length,
    static: s,
    table: {
      ...t,
      movedShareAfterShift: moved,
      movedShareLater: movedLater,
      maxMovedPerCycle: maxMoved,
      events,
      rangesAtEnd: table.ranges.length,
      version: table.version,
    },
    p99Ratio: s.latency && t.latency ? t.latency.p99Ms / s.latency.p99Ms : null,
  };
}
