import { describe, expect, it } from 'vitest';
import { ShardLedger } from '../../../shared/shard/ledger.js';

/** Runs every batch `shard` takes with outputs item * 10. */
function drain(l: ShardLedger<number>, shard: number, limit = Infinity): number {
  let n = 0;
  for (let b = l.take(shard); b && n < limit; b = n < limit ? l.take(shard) : null) {
    l.complete(
      shard,
      b.start,
      Array.from({ length: b.count }, (_, i) => (b.start + i) * 10),
    );
    n++;
  }
  return n;
}

describe('ShardLedger', () => {
  it('merges batches of several shards in item order', () => {
    const l = new ShardLedger<number>(48, 3);
    const a = l.take(0)!;
    const b = l.take(1)!;
    const c = l.take(2)!;
    expect(a.count).toBeGreaterThan(c.count - 1);
    for (const [s, x] of [
      [2, c],
      [0, a],
      [1, b],
    ] as const)
      l.complete(
        s,
        x.start,
        Array.from({ length: x.count }, (_, i) => (x.start + i) * 10),
      );
    drain(l, 1);
    expect(l.done).toBe(true);
    expect(l.result()).toEqual(Array.from({ length: 48 }, (_, i) => i * 10));
    const ran = l.itemsByShard();
    expect([...ran.values()].reduce((x, y) => x + y, 0)).toBe(48);
  });

  it('gives a lost shard its batches back to the queue: no item lost', () => {
    const l = new ShardLedger<number>(20, 2);
    const held = l.take(1)!;
    expect(l.lose(1)).toBe(held.count);
    expect(() => l.complete(1, held.start, [])).toThrow(/does not hold/);
    expect(() => l.take(1)).toThrow(/declared lost/);
    const again = l.take(0)!;
    expect(again).toEqual(held);
    l.complete(
      0,
      again.start,
      Array.from({ length: again.count }, (_, i) => (again.start + i) * 10),
    );
    drain(l, 0);
    expect(l.result()).toEqual(Array.from({ length: 20 }, (_, i) => i * 10));
    expect(l.itemsByShard().get(1)).toBeUndefined();
  });

  it('refuses a batch answered twice or with the wrong number of outputs', () => {
    const l = new ShardLedger<number>(10, 2);
    const b = l.take(0)!;
    expect(() => l.complete(0, b.start, [1])).toThrow(/returned 1 outputs/);
    l.complete(
      0,
      b.start,
      Array.from({ length: b.count }, () => 0),
    );
    expect(() => l.complete(0, b.start, [])).toThrow(/does not hold/);
    expect(l.done).toBe(false);
    expect(() => l.result()).toThrow(/never came back/);
  });
});
