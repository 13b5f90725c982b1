import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseTier, type PlacementInput } from '../../faastore/index.js';

const base: PlacementInput = {
  sizeBytes: 10_000,
  consumers: { local: 1, remote: 0 },
  inlineMaxBytes: 4096,
  memoryFreeBytes: 1_000_000,
  redisConfigured: true,
};
const place = (over: Partial<PlacementInput>) => chooseTier({ ...base, ...over });

describe('chooseTier', () => {
  it('inlines values up to inlineMaxBytes whatever the consumers', () => {
    expect(place({ sizeBytes: 4096, consumers: { local: 0, remote: 5 } })).toEqual({
      kind: 'inline',
    });
    expect(place({ sizeBytes: 0, memoryFreeBytes: 0, redisConfigured: false })).toEqual({
      kind: 'inline',
    });
    expect(place({ sizeBytes: 4097 }).kind).not.toBe('inline');
  });

  it('keeps objects with only local consumers (or none) in memory when they fit', () => {
    expect(place({})).toEqual({ kind: 'local', holder: 'memory' });
    expect(place({ consumers: { local: 0, remote: 0 } })).toEqual({
      kind: 'local',
      holder: 'memory',
    });
    expect(place({ redisConfigured: false })).toEqual({ kind: 'local', holder: 'memory' });
    expect(place({ memoryFreeBytes: 10_000 })).toEqual({ kind: 'local', holder: 'memory' });
  });

  it('spills local-only objects over the quota to Redis, or to disk without Redis', () => {
    expect(place({ memoryFreeBytes: 9_999 })).toEqual({ kind: 'redis', alsoInMemory: false });
    expect(place({ memoryFreeBytes: 9_999, redisConfigured: false })).toEqual({
      kind: 'local',
      holder: 'disk',
    });
  });

  it('puts remote-only objects in Redis, or serves them as peer objects without Redis', () => {
    const remote = { consumers: { local: 0, remote: 2 } };
    expect(place(remote)).toEqual({ kind: 'redis', alsoInMemory: false });
    expect(place({ ...remote, redisConfigured: false })).toEqual({
      kind: 'peer',
      holder: 'memory',
    });
    expect(place({ ...remote, redisConfigured: false, memoryFreeBytes: 0 })).toEqual({
      kind: 'peer',
      holder: 'disk',
    });
  });

  it('puts mixed-consumer objects in memory and Redis, Redis only over the quota', () => {
    const mixed = { consumers: { local: 1, remote: 1 } };
    expect(place(mixed)).toEqual({ kind: 'redis', alsoInMemory: true });
    expect(place({ ...mixed, memoryFreeBytes: 0 })).toEqual({ kind: 'redis', alsoInMemory: false });
    expect(place({ ...mixed, redisConfigured: false })).toEqual({ kind: 'peer', holder: 'memory' });
    expect(place({ ...mixed, redisConfigured: false, memoryFreeBytes: 0 })).toEqual({
      kind: 'peer',
      holder: 'disk',
    });
  });

  it('never places in memory more than is free, never uses Redis when absent, and reaches every remote consumer', () => {
    const input = fc.record({
      sizeBytes: fc.nat(1_000_000),
      consumers: fc.record({ local: fc.nat(4), remote: fc.nat(4) }),
      inlineMaxBytes: fc.nat(10_000),
      memoryFreeBytes: fc.integer({ min: -1000, max: 1_000_000 }),
      redisConfigured: fc.boolean(),
    });
    fc.assert(
      fc.property(input, (i) => {
        const p = chooseTier(i);
        const inMemory =
          (p.kind === 'local' && p.holder === 'memory') ||
          (p.kind === 'peer' && p.holder === 'memory') ||
          (p.kind === 'redis' && p.alsoInMemory);
        if (inMemory) expect(i.sizeBytes).toBeLessThanOrEqual(i.memoryFreeBytes);
        if (!i.redisConfigured) expect(p.kind).not.toBe('redis');
        if (i.consumers.remote > 0) expect(p.kind).not.toBe('local');
        if (p.kind === 'inline') expect(i.sizeBytes).toBeLessThanOrEqual(i.inlineMaxBytes);
      }),
    );
  });
});
