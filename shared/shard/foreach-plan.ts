/**
 * The sharded foreach's plan (docs/guides/sharding.md §sharded foreach): where its shards run,
 * the work-stealing batches they pull from the owner, and the ordered merge of their results.
 *
 * - Placement: shard 0 stays on the owner (the worker the foreach node was placed on); the
 *   others go to the workers with the most free slots, one shard per worker, never to a worker
 *   running hot (measured utilisation at or above `hotUtilization`).
 * - Stealing: every shard asks the owner for its next batch when it runs dry; a batch is
 *   ceil(remaining · weight / (divisor · shards)) items, at least `minBatch` — guided
 *   self-scheduling with a divisor (2 by default, "factoring"), so batches shrink as the queue
 *   drains, and the asking shard's weight (its measured speed against the others', from
 *   `ShardLedger`; 1 until known), so a slow shard holds at most a small last batch.
 * - Merge: results come back as (start, outputs); the merge puts every item in its place and
 *   fails loudly on an item missing or given twice.
 */
import { AppError } from '../errors.js';
import type { WorkerId } from '../ids.js';

export interface WorkerRoom {
  worker: WorkerId;
  freeSlots: number;
  /** Measured utilisation 0..1; hot workers take no shard. */
  utilization?: number;
}

export interface ShardPlacement {
  shard: number;
  worker: WorkerId;
  /** Items the shard runs at once. */
  slots: number;
}

export function placeShards(
  shards: number,
  owner: WorkerId,
  workers: readonly WorkerRoom[],
  concurrency: number,
  hotUtilization = 0.9,
): ShardPlacement[] {
  const own = workers.find((w) => w.worker === owner);
  const out: ShardPlacement[] = [
    { shard: 0, worker: owner, slots: Math.max(1, Math.min(concurrency, own?.freeSlots ?? 1)) },
  ];
  const others = workers
    .filter((w) => w.worker !== owner && w.freeSlots > 0 && (w.utilization ?? 0) < hotUtilization)
    .sort((a, b) => b.freeSlots - a.freeSlots || (a.worker < b.worker ? -1 : 1));
  for (const w of others.slice(0, Math.max(0, shards - 1)))
    out.push({ shard: out.length, worker: w.worker, slots: Math.min(concurrency, w.freeSlots) });
  return out;
}

export interface Batch {
  start: number;
  count: number;
}

/** The owner's queue of items not yet handed out. */
export interface StealQueue {
  next: number;
  total: number;
  shards: number;
  minBatch: number;
  divisor: number;
}

export function stealQueue(
  total: number,
  shards: number,
  o: { minBatch?: number; divisor?: number } = {},
): StealQueue {
  if (!(Number.isInteger(total) && total >= 0))
    throw new AppError('BAD_REQUEST', `a foreach has a whole number of items, got ${total}`);
  return {
    next: 0,
    total,
    shards: Math.max(1, shards),
    minBatch: Math.max(1, o.minBatch ?? 1),
    divisor: Math.max(1, o.divisor ?? 2),
  };
}

/**
 * The next batch for whichever shard asks, and the queue after it; null when drained. `weight`
 * scales the batch to the asking shard's speed against the others' (1: as fast as the mean).
 */
export function takeBatch(q: StealQueue, weight = 1): [Batch, StealQueue] | null {
  const remaining = q.total - q.next;
  if (remaining <= 0) return null;
  const count = Math.min(
    remaining,
    Math.max(q.minBatch, Math.ceil((remaining * weight) / (q.divisor * q.shards))),
  );
  return [
    { start: q.next, count },
    { ...q, next: q.next + count },
  ];
}

/** Every batch of a queue in hand-out order (what the schedule looks like). */
export function batchSizes(
  total: number,
  shards: number,
  o: { minBatch?: number; divisor?: number } = {},
): number[] {
  const sizes: number[] = [];
  let q = stealQueue(total, shards, o);
  for (let b = takeBatch(q); b; b = takeBatch(q)) {
    sizes.push(b[0].count);
    q = b[1];
  }
  return sizes;
}

/** The even split stealing is compared with: shard i gets one contiguous block up front. */
export function evenSplit(total: number, shards: number): Batch[] {
  const k = Math.max(1, shards);
  const out: Batch[] = [];
  for (let i = 0; i < k; i++) {
    const start = Math.floor((i * total) / k);
    const end = Math.floor(((i + 1) * total) / k);
    if (end > start) out.push({ start, count: end - start });
  }
  return out;
}

/** The outputs of `total` items from batches returned in any order, in item order. */
export function mergeInOrder<T>(
  total: number,
  parts: readonly { start: number; outputs: readonly T[] }[],
): T[] {
  const out = new Array<T>(total);
  const filled = new Uint8Array(total);
  for (const p of parts) {
    for (let i = 0; i < p.outputs.length; i++) {
      const at = p.start + i;
      if (at < 0 || at >= total)
        throw new AppError(
          'INTERNAL',
          `a shard returned item ${at} of a foreach of ${total} items`,
        );
      if (filled[at])
        throw new AppError('INTERNAL', `item ${at} of a sharded foreach came back twice`);
      filled[at] = 1;
      out[at] = p.outputs[i]!;
    }
  }
  const missing = filled.indexOf(0);
  if (missing >= 0)
    throw new AppError('INTERNAL', `item ${missing} of a sharded foreach never came back`, {
      details: { missing: [...filled].flatMap((f, i) => (f ? [] : [i])).slice(0, 20) },
    });
  return out;
}
