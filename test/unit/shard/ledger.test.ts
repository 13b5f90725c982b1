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
  it("gives a shard that returns items at a third of the others' rate smaller batches", () => {
    let now = 0;
    const l = new ShardLedger<number>(600, 3, { now: () => now });
    const first = [0, 1, 2].map((s) => l.take(s)!);
    expect(first.map((b) => b.count)).toEqual([100, 84, 70]);
    const done = (s: number, b: { start: number; count: number }): void =>
      l.complete(
        s,
        b.start,
        Array.from({ length: b.count }, () => 0),
      );
    // Shards 0 and 1 return their batch within 100 ms, shard 2 a third as fast: 70 in 300 ms.
    now = 100;
    done(0, first[0]!);
    done(1, first[1]!);
    now = 300;
    done(2, first[2]!);
    // Throughputs 1, 0.84 and 0.23 items/ms: mean 0.69.
    expect(l.weight(2)).toBeCloseTo(0.7 / 3 / ((1 + 0.84 + 0.7 / 3) / 3), 5);
    expect(l.weight(0)).toBeGreaterThan(1.4);
    const unweighted = Math.ceil((600 - 254) / 6);
    const slow = l.take(2)!;
    const fast = l.take(0)!;
    expect(slow.count).toBeLessThan(unweighted / 2);
    expect(fast.count).toBeGreaterThan(unweighted);
    // Without any other shard's figure there is nothing to compare with.
    const alone = new ShardLedger<number>(10, 2, { now: () => now });
    alone.take(0);
    expect(alone.weight(0)).toBe(1);
  });

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
