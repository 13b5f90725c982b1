import { describe, expect, it } from 'vitest';
import { MemoryTier } from '../../faastore/index.js';

function clock(startMs = 1_000) {
  let now = startMs;
  return { nowMs: () => now, advance: (ms: number) => (now += ms) };
}

describe('memory tier accounting', () => {
  it('stores only what fits the quota and counts a replaced key as free', () => {
    const tier = new MemoryTier();
    expect(tier.tryPut('a', Buffer.alloc(60), 60_000, 100)).toBe(true);
    expect(tier.tryPut('b', Buffer.alloc(41), 60_000, 100)).toBe(false);
    expect(tier.tryPut('b', Buffer.alloc(40), 60_000, 100)).toBe(true);
    expect(tier.usedBytes).toBe(100);
    expect(tier.tryPut('a', Buffer.alloc(60), 60_000, 100)).toBe(true);
    expect(tier.tryPut('a', Buffer.alloc(61), 60_000, 100)).toBe(false);
    expect(tier.usedBytes).toBe(100);
    expect(tier.peek('a')?.length).toBe(60);
  });

  it('returns released bytes exactly on delete and group release', async () => {
    const tier = new MemoryTier();
    tier.putSync('a', Buffer.alloc(10), 60_000, 'g1');
    tier.putSync('b', Buffer.alloc(20), 60_000, 'g1');
    tier.putSync('c', Buffer.alloc(30), 60_000, 'g2');
    expect(tier.deleteSync(['a', 'missing'])).toBe(10);
    expect(await tier.releaseGroup('g1')).toBe(1);
    expect({ bytes: tier.usedBytes, objects: tier.objectCount }).toEqual({ bytes: 30, objects: 1 });
    await tier.close();
  });

  it('moves a key re-put with another group out of its old group', async () => {
    const tier = new MemoryTier();
    tier.putSync('a', Buffer.alloc(10), 60_000, 'old');
    tier.putSync('a', Buffer.alloc(5), 60_000, 'new');
    expect(await tier.releaseGroup('old')).toBe(0);
    expect(tier.usedBytes).toBe(5);
    expect(await tier.releaseGroup('new')).toBe(1);
    expect(tier.usedBytes).toBe(0);
    await tier.close();
  });

  it('hides an expired object at once and counts its bytes until the sweep frees them', async () => {
    const c = clock();
    const tier = new MemoryTier({ nowMs: c.nowMs, sweepIntervalMs: 60_000 });
    tier.putSync('a', Buffer.alloc(10), 100);
    c.advance(100);
    expect(tier.peek('a')).toBeUndefined();
    await expect(tier.getBuffer('a')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    expect(tier.usedBytes).toBe(10);
    expect(tier.tryPut('b', Buffer.alloc(5), 100, 14)).toBe(false);
    await tier.close();
    expect(tier.usedBytes).toBe(0);
  });

  it('hands back the very Buffer it was given, without copying', async () => {
    const tier = new MemoryTier();
    const value = Buffer.from('zero copy');
    tier.putSync('a', value, 60_000);
    expect(await tier.getBuffer('a')).toBe(value);
    await tier.close();
  });
});
