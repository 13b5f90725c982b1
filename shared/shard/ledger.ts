/**
 * The owner's ledger of a sharded foreach (docs/guides/sharding.md §sharded foreach): the queue
 * of items not yet handed out, the batches each shard holds, and the results come back. It is
 * what the runtime keeps at the foreach node; no I/O.
 *
 * - `take(shard)` hands out the next batch: a batch given back by a lost shard first (whole),
 *   else the next shrinking batch of the queue (`takeBatch`), scaled to the shard's measured
 *   throughput against the others' once both are known (weighted factoring: a shard slowed by
 *   a neighbour gets smaller batches, so it holds less of the tail).
 * - `complete(shard, start, outputs)` records a batch's results; a batch the shard does not hold
 *   (a late answer of a shard declared lost) is refused, so no item is merged twice.
 * - `lose(shard)` puts every batch the shard holds back at the front: no item is lost.
 * - `result()` merges in item order (`mergeInOrder`) once every item came back.
 */
import { AppError } from '../errors.js';
import {
  mergeInOrder,
  stealQueue,
  takeBatch,
  type Batch,
  type StealQueue,
} from './foreach-plan.js';

export class ShardLedger<T> {
  private queue: StealQueue;
  private readonly givenBack: Batch[] = [];
  private readonly held = new Map<number, Batch[]>();
  private readonly parts: { start: number; outputs: readonly T[] }[] = [];
  private readonly ranBy = new Map<number, number>();
  private readonly lost = new Set<number>();
  private doneItems = 0;
  /** When each shard took its first batch, ms. */
  private readonly firstTake = new Map<number, number>();
  /** When each shard's last batch came back, ms. */
  private readonly lastDone = new Map<number, number>();
  private readonly now: () => number;

  constructor(
    readonly total: number,
    shards: number,
    o: { minBatch?: number; divisor?: number; now?: () => number } = {},
  ) {
    this.queue = stealQueue(total, shards, o);
    this.now = o.now ?? (() => performance.now());
  }

  /**
   * The shard's throughput — items returned per ms from its first batch to its last return —
   * against the mean of the shards that returned any, clamped to [0.2, 2]; 1 until the shard and
   * another have returned some.
   */
  weight(shard: number): number {
    const rate = (s: number): number | undefined => {
      const items = this.ranBy.get(s);
      const since = this.firstTake.get(s);
      const last = this.lastDone.get(s);
      if (items === undefined || since === undefined || last === undefined || last <= since)
        return undefined;
      return items / (last - since);
    };
    const mine = rate(shard);
    const all = [...this.ranBy.keys()].map(rate).filter((r): r is number => r !== undefined);
    if (mine === undefined || all.length < 2) return 1;
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    return mean > 0 ? Math.min(2, Math.max(0.2, mine / mean)) : 1;
  }

  /** The next batch for `shard`; null when nothing is left to hand out. */
  take(shard: number): Batch | null {
    if (this.lost.has(shard))
      throw new AppError('CONFLICT', `shard ${shard} was declared lost; it takes no more batches`);
    if (!this.firstTake.has(shard)) this.firstTake.set(shard, this.now());
    let b = this.givenBack.shift() ?? null;
    if (b === null) {
      const t = takeBatch(this.queue, this.weight(shard));
      if (t === null) return null;
      [b, this.queue] = t;
    }
    const list = this.held.get(shard) ?? [];
    list.push(b);
    this.held.set(shard, list);
    return b;
  }

  /** Records the outputs of the batch starting at `start` that `shard` holds. */
  complete(shard: number, start: number, outputs: readonly T[]): void {
    const list = this.held.get(shard) ?? [];
    const at = list.findIndex((b) => b.start === start);
    if (at < 0)
      throw new AppError(
        'CONFLICT',
        `shard ${shard} does not hold a batch starting at item ${start} (lost, or answered twice)`,
      );
    const b = list[at]!;
    if (outputs.length !== b.count)
      throw new AppError(
        'INTERNAL',
        `shard ${shard} returned ${outputs.length} outputs for a batch of ${b.count} items at ${start}`,
      );
    list.splice(at, 1);
    this.parts.push({ start, outputs });
    this.doneItems += b.count;
    this.ranBy.set(shard, (this.ranBy.get(shard) ?? 0) + b.count);
    this.lastDone.set(shard, this.now());
  }

  /** The shard died: its batches go back to the front of the queue. Returns the items given back. */
  lose(shard: number): number {
    this.lost.add(shard);
    const list = this.held.get(shard) ?? [];
    this.held.delete(shard);
    this.givenBack.unshift(...list);
    return list.reduce((n, b) => n + b.count, 0);
  }

  get done(): boolean {
    return this.doneItems === this.total;
  }

  /** Whether any batch of `shard` came back. */
  returned(shard: number): boolean {
    return this.ranBy.has(shard);
  }

  /** Items each shard ran (its results came back), by shard. */
  itemsByShard(): Map<number, number> {
    return new Map(this.ranBy);
  }

  /** Every output in item order; throws while an item is missing. */
  result(): T[] {
    return mergeInOrder(this.total, this.parts);
  }
}
