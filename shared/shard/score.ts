/**
 * The shardability score (docs/guides/sharding.md §score): the predicted speedup of running a
 * foreach's items in k shards over running them all on one worker, counting what sharding
 * costs — a remote hop per batch a remote shard pulls, the start of each remote shard, and the
 * bytes of every remote item's input and output moved between workers.
 *
 * The model (the simulator in bench/shard-sim.ts runs the same physics item by item):
 * - a shard on a worker with `slots` free runs p = min(concurrency, slots) items at once;
 * - a local item takes d (the predicted duration per item); a remote one d + bytes/bandwidth,
 *   plus its share of a hop per batch (guided self-scheduling pulls ~ln(n/k)+1 batches);
 * - makespan(k) = max(tail, n / Σ rate) + (k > 1 ? hop + shard start : 0), where tail is the
 *   p95 item (no schedule finishes before its slowest item).
 * `size: auto` takes the smallest k within `nearBest` of the best speedup, and shards only when
 * that speedup reaches `minSpeedup`: where sharding does not pay, one worker runs it, as before.
 */
import type { Demand } from './demand.js';

export interface ShardCosts {
  /** Measured remote hop (request and answer), ms. */
  hopMs: number;
  /** Bytes per ms between two workers. */
  bandwidthBytesPerMs: number;
  /** Extra start of a remote shard (its first sandbox), ms. */
  shardStartMs: number;
}

/** Defaults until a hop is measured: a loopback-class link. */
export const DEFAULT_COSTS: ShardCosts = {
  hopMs: 2,
  bandwidthBytesPerMs: 100_000,
  shardStartMs: 20,
};

export interface ScoreInput {
  items: number;
  demand: Demand;
  /** The foreach's concurrency: items a shard runs at once, at most. */
  concurrency: number;
  /** Free slots of each worker that may take a shard, the owner's first. */
  freeSlots: readonly number[];
  costs: ShardCosts;
  maxShards: number;
}

export interface ScorePoint {
  shards: number;
  makespanMs: number;
  speedup: number;
}

export interface ShardEstimate {
  /** Shards chosen (1: do not shard). */
  shards: number;
  speedup: number;
  pays: boolean;
  /** makespan(k) and speedup(k) for every k considered. */
  curve: ScorePoint[];
  demandSource: Demand['source'];
  reason: string;
}

export const SCORE_DEFAULTS = { minSpeedup: 1.2, nearBest: 0.05 } as const;

/** Predicted makespan of `k` shards, the owner's shard first, the others by free slots. */
export function makespanMs(k: number, s: ScoreInput): number {
  const { demand: d, costs: c } = s;
  const n = s.items;
  if (n === 0) return 0;
  const itemMs = Math.max(d.durationPerItemMs, 1e-3);
  const slots = [s.freeSlots[0] ?? 1, ...[...s.freeSlots.slice(1)].sort((a, b) => b - a)];
  const batches = Math.log(Math.max(1, n / k)) + 1;
  const perBatch = Math.max(1, n / (k * batches));
  const remoteItemMs =
    itemMs +
    (d.inputBytesPerItem + d.outputBytesPerItem) / c.bandwidthBytesPerMs +
    c.hopMs / perBatch;
  let rate = 0;
  for (let i = 0; i < k; i++) {
    const p = Math.min(s.concurrency, Math.max(1, slots[i] ?? 0));
    rate += p / (i === 0 ? itemMs : remoteItemMs);
  }
  const start = k > 1 ? c.hopMs + c.shardStartMs : 0;
  return Math.max(d.tailMs, n / rate) + start;
}

/** Shards worth running for `s`; `size` fixes the count (still scored). */
export function scoreShards(
  s: ScoreInput,
  size: 'auto' | number = 'auto',
  opts: { minSpeedup?: number; nearBest?: number } = {},
): ShardEstimate {
  const minSpeedup = opts.minSpeedup ?? SCORE_DEFAULTS.minSpeedup;
  const nearBest = opts.nearBest ?? SCORE_DEFAULTS.nearBest;
  const usable =
    s.freeSlots.length === 0 ? 1 : s.freeSlots.filter((x, i) => i === 0 || x > 0).length;
  const kMax = Math.max(1, Math.min(s.maxShards, usable, Math.max(1, s.items)));
  const one = makespanMs(1, s);
  const curve: ScorePoint[] = [];
  for (let k = 1; k <= kMax; k++) {
    const m = makespanMs(k, s);
    curve.push({ shards: k, makespanMs: m, speedup: m === 0 ? 1 : one / m });
  }
  const base = { curve, demandSource: s.demand.source };
  if (size !== 'auto') {
    const k = Math.min(size, kMax);
    const p = curve[k - 1]!;
    return {
      ...base,
      shards: k,
      speedup: p.speedup,
      pays: p.speedup >= 1,
      reason:
        k < size
          ? `size ${size} asked; ${k} worker${k === 1 ? ' has' : 's have'} room`
          : `size ${size} asked`,
    };
  }
  const best = Math.max(...curve.map((p) => p.speedup));
  const chosen = curve.find((p) => p.speedup >= best * (1 - nearBest))!;
  if (chosen.shards === 1 || chosen.speedup < minSpeedup)
    return {
      ...base,
      shards: 1,
      speedup: 1,
      pays: false,
      reason:
        kMax === 1
          ? 'one worker has room: nothing to shard over'
          : `best speedup ${best.toFixed(2)}× is below ${minSpeedup}×: hops and bytes moved cost more than they save`,
    };
  return {
    ...base,
    shards: chosen.shards,
    speedup: chosen.speedup,
    pays: true,
    reason: `${chosen.shards} shards ${chosen.speedup.toFixed(2)}× faster than one (best ${best.toFixed(2)}×)`,
  };
}

/**
 * Replicas a keyed range needs (`replicas: auto`): the forecast calls per second times the
 * duration of one, over what a replica's slots carry at `targetUtilization`.
 */
export function replicasFor(
  forecastPerSecond: number,
  demand: Pick<Demand, 'durationPerItemMs'>,
  slotsPerReplica: number,
  maxReplicas: number,
  targetUtilization = 0.7,
): number {
  const busy = (forecastPerSecond * demand.durationPerItemMs) / 1000;
  const need = Math.ceil(busy / (Math.max(1, slotsPerReplica) * targetUtilization));
  return Math.max(1, Math.min(maxReplicas, need));
}
