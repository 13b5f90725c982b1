/** The sharded foreach's plan: placement by free room, guided stealing batches, ordered merge. */
import { describe, expect, it } from 'vitest';
import type { WorkerId } from '../../../shared/ids.js';
import {
  batchSizes,
  evenSplit,
  mergeInOrder,
  placeShards,
  stealQueue,
  takeBatch,
} from '../../../shared/shard/foreach-plan.js';
import { runForeach } from '../../../bench/shard-foreach.js';

const w = (s: string): WorkerId => s as WorkerId;

describe('sharded foreach plan', () => {
  it('keeps shard 0 on the owner and spreads the rest over the roomiest cool workers', () => {
    const p = placeShards(
      3,
      w('w0'),
      [
        { worker: w('w0'), freeSlots: 2 },
        { worker: w('w1'), freeSlots: 1 },
        { worker: w('w2'), freeSlots: 6 },
        { worker: w('w3'), freeSlots: 8, utilization: 0.97 },
        { worker: w('w4'), freeSlots: 0 },
      ],
      4,
    );
    expect(p).toEqual([
      { shard: 0, worker: 'w0', slots: 2 },
      { shard: 1, worker: 'w2', slots: 4 },
      { shard: 2, worker: 'w1', slots: 1 },
    ]);
  });

  it('hands out shrinking batches that cover every item once (guided self-scheduling)', () => {
    const sizes = batchSizes(100, 4);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(100);
    expect(sizes[0]).toBe(13); // ceil(100 / (2 · 4))
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeLessThanOrEqual(sizes[i - 1]!);
    expect(sizes.at(-1)).toBe(1);
    expect(batchSizes(100, 4, { minBatch: 5 }).at(-1)).toBeLessThanOrEqual(5);
    let q = stealQueue(3, 2);
    const seen: number[] = [];
    for (let b = takeBatch(q); b; b = takeBatch(q)) {
      for (let i = 0; i < b[0].count; i++) seen.push(b[0].start + i);
      q = b[1];
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(takeBatch(stealQueue(0, 3))).toBeNull();
  });

  it('splits evenly into contiguous blocks for the comparison', () => {
    expect(evenSplit(10, 3)).toEqual([
      { start: 0, count: 3 },
      { start: 3, count: 3 },
      { start: 6, count: 4 },
    ]);
  });

  it('merges results in item order whatever order the batches came back in', () => {
    const out = mergeInOrder(5, [
      { start: 3, outputs: ['d', 'e'] },
      { start: 0, outputs: ['a'] },
      { start: 1, outputs: ['b', 'c'] },
    ]);
    expect(out).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('fails loudly on an item missing or returned twice', () => {
    expect(() => mergeInOrder(3, [{ start: 0, outputs: [1, 2] }])).toThrow(
      /item 2 .* never came back/,
    );
    expect(() =>
      mergeInOrder(2, [
        { start: 0, outputs: [1, 2] },
        { start: 1, outputs: [2] },
      ]),
    ).toThrow(/item 1 .* twice/);
  });

  it('with a slow shard, stealing finishes well before the even split (simulated)', () => {
    const costs = Array.from({ length: 120 }, () => 10);
    const shards = [
      { slots: 2, slowdown: 1 },
      { slots: 2, slowdown: 1 },
      { slots: 2, slowdown: 4 },
    ];
    const net = { hopMs: 1, bandwidthBytesPerMs: 10_000, shardStartMs: 5, bytesPerItem: 100 };
    const even = runForeach(costs, shards, 'even', net);
    const steal = runForeach(costs, shards, 'steal', net);
    expect(even.itemsPerShard).toEqual([40, 40, 40]);
    expect(steal.itemsPerShard.reduce((a, b) => a + b, 0)).toBe(120);
    expect(steal.itemsPerShard[2]).toBeLessThan(steal.itemsPerShard[0]!);
    expect(steal.makespanMs).toBeLessThan(0.65 * even.makespanMs);
  });
});
