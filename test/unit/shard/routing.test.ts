/** The keyed routing table: lookup, and split/merge/move/replicate keeping every key owned once. */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../shared/random.js';
import type { WorkerId } from '../../../shared/ids.js';
import {
  HASH_SPACE,
  checkTable,
  initialTable,
  keyHash,
  lookup,
  mergeWithNext,
  movedKeyShare,
  moveReplica,
  route,
  setReplicas,
  splitRange,
  type RoutingTable,
} from '../../../shared/shard/routing.js';

const W = ['w0', 'w1', 'w2', 'w3'] as WorkerId[];
const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

/** How many ranges contain each key's hash: must be exactly one for every key. */
function owners(t: RoutingTable, key: string): number {
  const h = keyHash(key);
  return t.ranges.filter((r) => r.start <= h && h < r.end).length;
}

describe('routing table', () => {
  it('starts with equal ranges over the whole hash space, spread over the workers', () => {
    const t = initialTable('lookup', W, 8, 2);
    checkTable(t);
    expect(t.version).toBe(1);
    expect(t.ranges[0]!.start).toBe(0);
    expect(t.ranges.at(-1)!.end).toBe(HASH_SPACE);
    expect(t.ranges.map((r) => r.replicas)).toContainEqual(['w1', 'w2']);
    for (const r of t.ranges) expect(new Set(r.replicas).size).toBe(2);
  });

  it('looks a key up to the range holding its hash, the same way every time', () => {
    const t = initialTable('lookup', W, 16);
    for (const k of keys.slice(0, 200)) {
      const r = lookup(t, k);
      const h = keyHash(k);
      expect(h >= r.start && h < r.end).toBe(true);
      expect(lookup(t, k)).toBe(r);
    }
  });

  it('spreads keys over ranges (no range gets twice its share of 2000 keys)', () => {
    const t = initialTable('lookup', W, 8);
    const counts = new Map<number, number>();
    for (const k of keys) counts.set(lookup(t, k).id, (counts.get(lookup(t, k).id) ?? 0) + 1);
    for (const c of counts.values()) expect(c).toBeLessThan((2 * keys.length) / 8);
  });

  it('routes to the least loaded replica of the range, by the key when all are idle', () => {
    let t = initialTable('lookup', W, 1);
    t = setReplicas(t, 0, ['w0', 'w1', 'w2'] as WorkerId[]);
    const busy: Record<string, number> = { w0: 5, w1: 0, w2: 3 };
    expect(route(t, 'user-7', (w) => busy[w]!).worker).toBe('w1');
    const idle = route(t, 'user-7').worker;
    expect(route(t, 'user-7').worker).toBe(idle);
  });

  it('keeps every key owned by exactly one range through random splits, merges, moves and replica changes', () => {
    const rnd = mulberry32(16);
    let t = initialTable('lookup', W, 4);
    for (let step = 0; step < 300; step++) {
      const before = t;
      const r = t.ranges[Math.floor(rnd() * t.ranges.length)]!;
      const op = Math.floor(rnd() * 4);
      if (op === 0 && r.end - r.start > 2) {
        const at = r.start + 1 + Math.floor(rnd() * (r.end - r.start - 1));
        t = splitRange(t, r.id, at);
      } else if (op === 1 && t.ranges.at(-1)!.id !== r.id) {
        t = mergeWithNext(t, r.id);
      } else if (op === 2) {
        const to = W.find((w) => !r.replicas.includes(w));
        if (to) t = moveReplica(t, r.id, r.replicas[0]!, to);
      } else {
        const n = 1 + Math.floor(rnd() * W.length);
        t = setReplicas(t, r.id, W.slice(0, n));
      }
      checkTable(t);
      if (t !== before) expect(t.version).toBe(before.version + 1);
    }
    for (const k of keys) expect(owners(t, k)).toBe(1);
    expect(t.version).toBeGreaterThan(200);
  });

  it('moves no key on a split that keeps the workers, and only the moved range on a move', () => {
    const t = initialTable('lookup', W, 4);
    const split = splitRange(t, 0);
    expect(movedKeyShare(t, split, keys)).toBe(0);
    const moved = moveReplica(t, 0, 'w0' as WorkerId, 'w3' as WorkerId);
    const inRange = keys.filter((k) => lookup(t, k).id === 0).length / keys.length;
    expect(movedKeyShare(t, moved, keys)).toBeCloseTo(inRange, 10);
    expect(inRange).toBeGreaterThan(0.15);
  });

  it('refuses operations that would break the table, saying why', () => {
    const t = initialTable('lookup', W, 2);
    expect(() => splitRange(t, 0, 0)).toThrow(/not inside range 0/);
    expect(() => splitRange(t, 7)).toThrow(/has no range 7/);
    expect(() => mergeWithNext(t, 1)).toThrow(/last one/);
    expect(() => moveReplica(t, 0, 'w3' as WorkerId, 'w1' as WorkerId)).toThrow(/no replica on w3/);
    expect(() => setReplicas(t, 0, [])).toThrow(/has no replica/);
    expect(() => setReplicas(t, 0, ['w1', 'w1'] as WorkerId[])).toThrow(/worker twice/);
    expect(() => initialTable('lookup', [], 2)).toThrow(/no workers/);
  });
});
