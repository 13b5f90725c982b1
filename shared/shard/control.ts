/**
 * The re-sharding control loop (docs/guides/sharding.md §control loop), one pure step per cycle
 * (about once a second): it reads the load of every range and worker over the last cycle and
 * returns the next routing table, its own state and one event per change.
 *
 * Per cycle, in order:
 * 1. a range whose load per replica stays above `hotFactor` × the mean worker load for
 *    `holdCycles` is split at its load median and the hot half moved to the coolest worker, or,
 *    when one key carries most of its load (splitting cannot separate it), replicated on the
 *    coolest worker (up to `maxReplicas`);
 * 2. a worker whose routed load stays above `hotFactor` × the mean, or whose measured utilisation
 *    stays above `hotUtilization` (a noisy neighbour), hands its best-fitting range replica, and
 *    its largest pinned group, to the coolest worker;
 * 3. a replica is dropped when the others can carry the range below `coldFactor` × the mean, and
 *    two neighbours that stay cold together are merged.
 * Hysteresis, so load hovering near a threshold causes no churn: a condition must hold for
 * `holdCycles` consecutive cycles, a range (or worker) changed is left alone for
 * `cooldownCycles`, cold thresholds sit far below hot ones, and the keys moved in one cycle
 * (keys that gain a worker) are at most `maxMovedShare` of the keys seen.
 */
import type { WorkerId } from '../ids.js';
import {
  mergeWithNext,
  moveReplica,
  setReplicas,
  splitRange,
  widthShare,
  type KeyRange,
  type RoutingTable,
} from './routing.js';

export interface RangeLoad {
  id: number;
  /** Work routed to the range in the cycle, in any unit shared by all ranges (busy ms, calls). */
  load: number;
  /** The forecast load for the next cycle (smoothed); the loop acts on it when given. */
  forecast?: number;
  /** Distinct keys seen in the cycle. */
  keys: number;
  /** Hash below which half the range's load fell (the split point); default the midpoint. */
  medianHash?: number;
  /** Share of the range's load from its busiest key, 0..1. */
  topKeyShare?: number;
}

export interface WorkerLoad {
  worker: WorkerId;
  /** Measured busy share of the worker's CPU in the cycle, 0..1 (anything else counts too). */
  utilization: number;
  /** Work queued on it at the end of the cycle, ms, when known. */
  backlogMs?: number;
  /** Marked hot by the master's tracker (shared/shard/hot.ts): never a target, like a hot one. */
  hot?: boolean;
}

/** A group pinned to a worker (a warm placement or a running shard) the loop may move. */
export interface PinnedGroup {
  id: string;
  worker: WorkerId;
  load: number;
}

export interface ControlInput {
  ranges: readonly RangeLoad[];
  /** Every worker that may hold a replica (an idle one too). */
  workers: readonly WorkerLoad[];
  groups?: readonly PinnedGroup[];
}

export interface ControlOptions {
  /** Hot: above this multiple of the mean worker load. Default 1.25. */
  hotFactor: number;
  /** Cold: below this multiple of the mean worker load. Default 0.3. */
  coldFactor: number;
  /** Measured utilisation above which a worker is hot whatever it is routed. Default 0.9. */
  hotUtilization: number;
  /** Consecutive cycles a condition must hold before the loop acts. Default 2. */
  holdCycles: number;
  /** Cycles a changed range or worker is left alone. Default 3. */
  cooldownCycles: number;
  /** Largest share of the keys seen that may gain a worker in one cycle. Default 0.05. */
  maxMovedShare: number;
  /** Most replicas of a range. Default 4. */
  maxReplicas: number;
  /** A saturated worker is hot once its queue holds more than this much work, ms. Default 500. */
  backlogLimitMs: number;
  /** A replicated range gets replicas until its load per replica is below this × the mean. Default 0.8. */
  replicaTarget: number;
  /** Replica count is fixed (`replicas: N`): the loop splits, merges and moves only. */
  fixedReplicas?: number;
  /**
   * Fewest distinct keys a cycle must see for their split over the ranges to count as the key
   * population's (below it, a range's keys are its share of the hash space). Default 100.
   */
  minKeysSeen: number;
  /** Fewest and most ranges. Defaults 1 and 1024. */
  minRanges: number;
  maxRanges: number;
}

export const CONTROL_DEFAULTS: ControlOptions = {
  hotFactor: 1.25,
  coldFactor: 0.3,
  hotUtilization: 0.9,
  holdCycles: 2,
  cooldownCycles: 3,
  maxMovedShare: 0.05,
  maxReplicas: 4,
  backlogLimitMs: 500,
  replicaTarget: 0.8,
  minKeysSeen: 100,
  minRanges: 1,
  maxRanges: 1024,
};

export interface ControlState {
  cycle: number;
  /** Consecutive cycles each condition has held, by `kind:id`. */
  streak: Record<string, number>;
  /** Cycle until which a range (`r:id`) or worker (`w:id`) is left alone. */
  quietUntil: Record<string, number>;
  /** Each worker's queue at the end of the previous cycle, ms (when reported). */
  backlogMs: Record<string, number>;
}

export const initialControlState = (): ControlState => ({
  cycle: 0,
  streak: {},
  quietUntil: {},
  backlogMs: {},
});

export type ShardEventKind =
  | 'split'
  | 'replicate'
  | 'unreplicate'
  | 'merge'
  | 'move'
  | 'move-group'
  /** The master made the function's first table, or replaced a replica on a worker that left. */
  | 'create'
  | 'repair';

export interface ShardEvent {
  kind: ShardEventKind;
  cycle: number;
  /** Table version after the change (unchanged for move-group). */
  version: number;
  range?: number;
  /** The new range of a split, the absorbed one of a merge. */
  other?: number;
  group?: string;
  from?: WorkerId;
  to?: WorkerId;
  reason: string;
  /** Share of the keys seen that gained a worker. */
  movedShare: number;
}

export interface ControlResult {
  table: RoutingTable;
  state: ControlState;
  events: ShardEvent[];
  /** Pinned groups after the step (moved ones on their new worker). */
  groups: PinnedGroup[];
}

export function controlStep(
  table: RoutingTable,
  input: ControlInput,
  prev: ControlState,
  options: Partial<ControlOptions> = {},
): ControlResult {
  const o: ControlOptions = { ...CONTROL_DEFAULTS, ...options };
  const cycle = prev.cycle + 1;
  const streak: Record<string, number> = {};
  const quietUntil = { ...prev.quietUntil };
  const backlogMs: Record<string, number> = {};
  for (const w of input.workers) if (w.backlogMs !== undefined) backlogMs[w.worker] = w.backlogMs;
  const events: ShardEvent[] = [];
  let t = table;
  let groups = [...(input.groups ?? [])];

  const byId = new Map(input.ranges.map((r) => [r.id, r]));
  const loadOf = (id: number): number => {
    const r = byId.get(id);
    return r ? (r.forecast ?? r.load) : 0;
  };
  const keysSeen = input.ranges.reduce((s, r) => s + r.keys, 0);
  // Keys of a range: its share of the keys seen, or of the hash space when that is more (keys
  // not requested this cycle still live there and move with it). A cycle that saw fewer than
  // `minKeysSeen` keys is no sample of the key population: the hash space alone then.
  const keyShare = (id: number, fraction = 1): number => {
    const r = t.ranges.find((x) => x.id === id);
    const seen =
      keysSeen < o.minKeysSeen || keysSeen === 0 ? 0 : (byId.get(id)?.keys ?? 0) / keysSeen;
    return Math.max(seen, r ? widthShare(r) : 0) * fraction;
  };
  let budget = o.maxMovedShare;
  const workers = input.workers.map((w) => w.worker);
  const util = new Map(input.workers.map((w) => [w.worker, w.utilization]));
  const groupLoad = (w: WorkerId): number =>
    groups.filter((g) => g.worker === w).reduce((s, g) => s + g.load, 0);
  // Routed load per worker, kept up to date as the step changes the table.
  const routed = (): Map<WorkerId, number> => {
    const m = new Map<WorkerId, number>(workers.map((w) => [w, groupLoad(w)]));
    for (const r of t.ranges)
      for (const w of r.replicas) m.set(w, (m.get(w) ?? 0) + loadOf(r.id) / r.replicas.length);
    return m;
  };
  const total = [...routed().values()].reduce((a, b) => a + b, 0);
  const mean = workers.length === 0 ? 0 : total / workers.length;
  // A worker may take load when it is neither measured over the threshold nor marked hot.
  const cool = (w: WorkerLoad): boolean => w.utilization < o.hotUtilization && w.hot !== true;
  const coolCount = input.workers.filter(cool).length;
  const coolMean = total / Math.max(1, coolCount);
  const coolIds = new Set(input.workers.filter(cool).map((w) => w.worker));
  const held = (key: string, cond: boolean): boolean => {
    if (!cond) return false;
    streak[key] = (prev.streak[key] ?? 0) + 1;
    return streak[key] >= o.holdCycles;
  };
  const quiet = (key: string): boolean => (quietUntil[key] ?? 0) > cycle;
  const touch = (...keys: string[]): void => {
    for (const k of keys) {
      quietUntil[k] = cycle + o.cooldownCycles;
      delete streak[k];
    }
  };
  /**
   * Saturated and not catching up: its queue is over `backlogLimitMs` and not shrinking (a
   * worker draining a queue needs no help), or, without a queue figure, it carries routed load
   * at all: whatever takes its CPU (a noisy neighbour, or the keyed calls themselves), the calls
   * routed there wait for it, and `coolest` only hands them to a worker that is not hot itself.
   */
  const saturated = (w: WorkerId, load: number): boolean => {
    const x = input.workers.find((v) => v.worker === w);
    if (!x || !(x.utilization > o.hotUtilization)) return false;
    if (x.backlogMs === undefined) return load > 0;
    return x.backlogMs > o.backlogLimitMs && x.backlogMs >= (prev.backlogMs[w] ?? 0);
  };
  /** Coolest worker (routed load, then utilisation) not in `exclude` and not hot itself. */
  const coolest = (exclude: readonly WorkerId[]): WorkerId | undefined => {
    const m = routed();
    return workers
      .filter((w) => !exclude.includes(w) && coolIds.has(w))
      .sort((a, b) => m.get(a)! - m.get(b)! || util.get(a)! - util.get(b)! || cmp(a, b))[0];
  };
  const emit = (e: Omit<ShardEvent, 'cycle' | 'version'>): void => {
    budget -= e.movedShare;
    events.push({ ...e, cycle, version: t.version });
  };
  if (mean <= 0)
    return { table: t, state: { cycle, streak, quietUntil, backlogMs }, events, groups };
  const maxReplicas = o.fixedReplicas ?? o.maxReplicas;

  /** Splits range `id`, or replicates it when one key dominates it; false when it cannot. */
  const relieve = (id: number, why: string): boolean => {
    const current = t.ranges.find((x) => x.id === id)!;
    const perReplica = loadOf(id) / current.replicas.length;
    const stats = byId.get(id);
    const oneKey = (stats?.topKeyShare ?? 0) > 0.5 || current.end - current.start < 2;
    if (!oneKey && t.ranges.length < o.maxRanges) {
      const cut = splitPoint(current, stats?.medianHash);
      const to = coolest(current.replicas);
      const rightShare = keyShare(id, (current.end - cut) / (current.end - current.start));
      if (to === undefined || rightShare > budget) return false;
      const movedTo = current.replicas.length === 1 ? [to] : [to, ...current.replicas.slice(1)];
      t = splitRange(t, id, cut, movedTo);
      const other = t.nextId - 1;
      touch(`r:${id}`, `r:${other}`);
      emit({
        kind: 'split',
        range: id,
        other,
        to,
        reason: `load per replica ${ratio(perReplica, mean)} of the mean ${why}`,
        movedShare: rightShare,
      });
      return true;
    }
    if (current.replicas.length >= maxReplicas || o.fixedReplicas !== undefined) return false;
    // As many replicas as bring the load per replica down to `replicaTarget` × the mean.
    const share = keyShare(id);
    if (share > budget) return false;
    const load = loadOf(id);
    const replicas = [...current.replicas];
    while (replicas.length < maxReplicas && load / replicas.length > o.replicaTarget * mean) {
      const to = coolest(replicas);
      if (to === undefined) break;
      replicas.push(to);
    }
    if (replicas.length === current.replicas.length) return false;
    t = setReplicas(t, id, replicas);
    touch(`r:${id}`);
    emit({
      kind: 'replicate',
      range: id,
      to: replicas[replicas.length - 1]!,
      reason: `one key carries ${pct(stats?.topKeyShare ?? 1)} of a range at ${ratio(perReplica, mean)} of the mean ${why}: ${replicas.length} replicas`,
      movedShare: share,
    });
    return true;
  };
  const hotAlone = (r: KeyRange): boolean => loadOf(r.id) / r.replicas.length > o.hotFactor * mean;

  /**
   * Splits `w`'s busiest range that allows it and moves the right part's replica on `w` to the
   * coolest worker, when that worker stays under the hot bar (the cool workers' mean off a
   * measured-hot worker) and, off a routed-hot one, under what `w` is left with.
   */
  const splitOff = (w: WorkerId, why: string, measuredHot: boolean): boolean => {
    if (t.ranges.length >= o.maxRanges) return false;
    const mine = t.ranges
      .filter((r) => r.replicas.includes(w) && !quiet(`r:${r.id}`) && r.end - r.start >= 2)
      .sort((a, b) => loadOf(b.id) - loadOf(a.id) || a.id - b.id);
    for (const r of mine) {
      if (!(loadOf(r.id) > 0)) return false;
      // At the load median, or nearer the end when that half would move more than the budget.
      const width = r.end - r.start;
      const whole = keyShare(r.id);
      const median = (r.end - splitPoint(r, byId.get(r.id)?.medianHash)) / width;
      const fraction = Math.min(median, whole > 0 ? (budget / whole) * 0.999 : median);
      const cut = r.end - Math.max(1, Math.floor(fraction * width));
      const share = keyShare(r.id, (r.end - cut) / width);
      const to = coolest(r.replicas);
      if (to === undefined || cut <= r.start || share > budget) continue;
      const now = routed();
      // Half the range's load lies right of its median; a cut further right (the budget) takes
      // that half's width share of it.
      const medianCut = splitPoint(r, byId.get(r.id)?.medianHash);
      const moved =
        (loadOf(r.id) / r.replicas.length) * 0.5 * Math.min(1, (r.end - cut) / (r.end - medianCut));
      const target = now.get(to)! + moved;
      const fits = measuredHot
        ? target <= o.hotFactor * coolMean
        : target <= o.hotFactor * mean && target < now.get(w)! - moved;
      if (!fits) continue;
      t = splitRange(
        t,
        r.id,
        cut,
        r.replicas.map((x) => (x === w ? to : x)),
      );
      const other = t.nextId - 1;
      touch(`r:${r.id}`, `r:${other}`);
      emit({ kind: 'split', range: r.id, other, from: w, to, reason: why, movedShare: share });
      return true;
    }
    return false;
  };

  // 1. Hot ranges: split, or replicate a range one key dominates.
  const hotRanges = [...t.ranges]
    .map((r) => ({ r, perReplica: loadOf(r.id) / r.replicas.length }))
    .sort((a, b) => b.perReplica - a.perReplica || a.r.id - b.r.id);
  for (const { r } of hotRanges) {
    if (!held(`hot:${r.id}`, hotAlone(r)) || quiet(`r:${r.id}`)) continue;
    relieve(r.id, `for ${o.holdCycles} cycles`);
  }

  // 2. Hot workers: hand a range replica (the one leaving both sides nearest the mean) and
  //    the largest pinned group to the coolest worker.
  const before = routed();
  for (const w of [...workers].sort((a, b) => before.get(b)! - before.get(a)! || cmp(a, b))) {
    const m = routed();
    const load = m.get(w)!;
    const measuredHot = saturated(w, load);
    if (!held(`hotw:${w}`, load > o.hotFactor * mean || measuredHot) || quiet(`w:${w}`)) continue;
    const reason = measuredHot
      ? `utilisation ${pct(util.get(w)!)} over ${pct(o.hotUtilization)}`
      : `routed load ${ratio(load, mean)} of the mean`;
    const group = groups
      .filter((g) => g.worker === w)
      .sort((a, b) => b.load - a.load || cmp(a.id, b.id))[0];
    const groupTo = group && coolest([w]);
    if (group && groupTo) {
      groups = groups.map((g) => (g.id === group.id ? { ...g, worker: groupTo } : g));
      touch(`w:${w}`, `w:${groupTo}`);
      emit({ kind: 'move-group', group: group.id, from: w, to: groupTo, reason, movedShare: 0 });
      continue;
    }
    // Routed-hot: move ranges off until the worker is under the threshold (within the budget);
    // measured-hot only: one range per cycle (its routed load may be fair, its CPU is not).
    let movedAny = false;
    // First a range too hot for any one worker: split or replicate it here and now.
    const alone = t.ranges.find(
      (r) => r.replicas.includes(w) && hotAlone(r) && !quiet(`r:${r.id}`),
    );
    if (alone && relieve(alone.id, `on hot worker ${w}`)) {
      // Let the new replicas or the split show in the next cycle before moving anything else.
      touch(`w:${w}`);
      continue;
    }
    for (;;) {
      const now = routed();
      const left = now.get(w)!;
      if (movedAny && !(left > o.hotFactor * mean)) break;
      // The range that relieves the most load per key moved, among those whose move leaves
      // both workers below where this one is.
      // A range hot on its own is split or replicated instead: moving it moves the problem.
      let best: { r: KeyRange; to: WorkerId; perKey: number } | undefined;
      for (const r of t.ranges) {
        if (!r.replicas.includes(w) || quiet(`r:${r.id}`) || keyShare(r.id) > budget) continue;
        if (hotAlone(r)) continue;
        const to = coolest(r.replicas);
        if (to === undefined) continue;
        const share = loadOf(r.id) / r.replicas.length;
        const target = now.get(to)! + share;
        const perKey = share / keyShare(r.id);
        // Off a measured-hot worker the cool workers must carry its share: their mean is the
        // bar, and the target may end above this worker's routed load (its CPU is what is short).
        const fits = measuredHot
          ? target <= o.hotFactor * coolMean
          : target <= o.hotFactor * mean && target < left;
        if (fits && share > 0) if (!best || perKey > best.perKey) best = { r, to, perKey };
      }
      if (!best) {
        // Nothing fits: every range there is too wide for the key budget (or moving it whole
        // would overload the target). Split its busiest range and hand the right part over.
        if (!movedAny) movedAny = splitOff(w, reason, measuredHot);
        break;
      }
      t = moveReplica(t, best.r.id, w, best.to);
      touch(`r:${best.r.id}`);
      movedAny = true;
      emit({
        kind: 'move',
        range: best.r.id,
        from: w,
        to: best.to,
        reason,
        movedShare: keyShare(best.r.id),
      });
      if (measuredHot && !(left > o.hotFactor * mean)) break;
    }
    if (movedAny) touch(`w:${w}`);
  }

  // 3. Cold: drop a replica the others can carry, merge neighbours that are cold together.
  for (const r of [...t.ranges]) {
    const n = r.replicas.length;
    if (n < 2 || o.fixedReplicas !== undefined || quiet(`r:${r.id}`)) continue;
    if (!held(`extra:${r.id}`, loadOf(r.id) / (n - 1) < o.coldFactor * mean)) continue;
    const m = routed();
    const drop = [...r.replicas].sort((a, b) => m.get(b)! - m.get(a)! || cmp(a, b))[0]!;
    t = setReplicas(
      t,
      r.id,
      r.replicas.filter((x) => x !== drop),
    );
    touch(`r:${r.id}`);
    emit({
      kind: 'unreplicate',
      range: r.id,
      from: drop,
      reason: `${n - 1} replicas carry it below ${o.coldFactor}× the mean`,
      movedShare: 0,
    });
  }
  for (let i = 0; i + 1 < t.ranges.length && t.ranges.length > o.minRanges; i++) {
    const a = t.ranges[i]!;
    const b = t.ranges[i + 1]!;
    const both = loadOf(a.id) / a.replicas.length + loadOf(b.id) / b.replicas.length;
    const pair = `cold:${a.id}+${b.id}`;
    if (!held(pair, both < o.coldFactor * mean) || quiet(`r:${a.id}`) || quiet(`r:${b.id}`))
      continue;
    // The busier side keeps its workers; the other side's keys move unless they are the same.
    const keep = loadOf(a.id) >= loadOf(b.id) ? a : b;
    const gone = keep === a ? b : a;
    const same = sameSet(a.replicas, b.replicas);
    // Keys never move onto a worker that may not take load.
    if (!same && keep.replicas.some((x) => !coolIds.has(x))) continue;
    const share = same ? 0 : keyShare(gone.id);
    if (share > budget) continue;
    t = mergeWithNext(t, a.id, keep.replicas);
    touch(`r:${a.id}`);
    emit({
      kind: 'merge',
      range: a.id,
      other: b.id,
      reason: `neighbours together below ${o.coldFactor}× the mean for ${o.holdCycles} cycles`,
      movedShare: share,
    });
  }
  return { table: t, state: { cycle, streak, quietUntil, backlogMs }, events, groups };
}

function splitPoint(r: KeyRange, median: number | undefined): number {
  if (median !== undefined && Number.isInteger(median) && median > r.start && median < r.end)
    return median;
  return r.start + Math.floor((r.end - r.start) / 2);
}

function sameSet(a: readonly WorkerId[], b: readonly WorkerId[]): boolean {
  return a.length === b.length && a.every((w) => b.includes(w));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const ratio = (x: number, mean: number): string => `${(x / mean).toFixed(2)}×`;
const pct = (x: number): string => `${Math.round(x * 100)}%`;
