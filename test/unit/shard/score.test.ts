/** The shardability score and `size: auto`: shard only where it pays, counting hops and bytes. */
import { describe, expect, it } from 'vitest';
import type { Demand } from '../../../shared/shard/demand.js';
import {
  makespanMs,
  replicasFor,
  scoreShards,
  type ScoreInput,
} from '../../../shared/shard/score.js';

const demand = (ms: number, bytes = 1000): Demand => ({
  source: 'declared',
  samples: 0,
  durationPerItemMs: ms,
  tailMs: ms,
  cpuCores: 1,
  memoryMb: 256,
  inputBytesPerItem: bytes / 2,
  outputBytesPerItem: bytes / 2,
});

const input = (o: Partial<ScoreInput> = {}): ScoreInput => ({
  items: 200,
  demand: demand(20),
  concurrency: 4,
  freeSlots: [4, 4, 4, 4, 4, 4, 4, 4],
  costs: { hopMs: 2, bandwidthBytesPerMs: 10_000, shardStartMs: 20 },
  maxShards: 8,
  ...o,
});

describe('shardability score', () => {
  it('predicts one worker running the items `concurrency` at a time', () => {
    expect(makespanMs(1, input())).toBeCloseTo((200 * 20) / 4, 6);
  });

  it('shards wide, slow items and predicts a speedup that grows with the shards', () => {
    const e = scoreShards(input());
    expect(e.pays).toBe(true);
    expect(e.shards).toBeGreaterThanOrEqual(6);
    expect(e.speedup).toBeGreaterThan(4);
    const speedups = e.curve.map((p) => p.speedup);
    for (let i = 1; i < speedups.length; i++) expect(speedups[i]).toBeGreaterThan(speedups[i - 1]!);
  });

  it('does not shard when hops cost more than they save (a no-op foreach stays on one worker)', () => {
    const e = scoreShards(input({ items: 64, demand: demand(0.05, 100) }));
    expect(e).toMatchObject({ shards: 1, pays: false, speedup: 1 });
    expect(e.reason).toMatch(/below 1.2×/);
  });

  it('predicts less from sharding when every item drags many bytes over a slow link', () => {
    const light = scoreShards(input({ demand: demand(5, 1000) }));
    const heavy = scoreShards(input({ demand: demand(5, 200_000) }));
    expect(heavy.speedup).toBeLessThan(light.speedup / 2);
    // A remote item costs its bytes: 200 KB at 10 MB/s is 20 ms on top of its 5 ms.
    expect(makespanMs(2, input({ demand: demand(5, 200_000) }))).toBeGreaterThan(
      makespanMs(2, input({ demand: demand(5, 1000) })) + 50,
    );
  });

  it('counts only workers with free slots, and caps at maxShards and the item count', () => {
    expect(scoreShards(input({ freeSlots: [4, 0, 0, 4] })).curve.length).toBe(2);
    expect(scoreShards(input({ maxShards: 3 })).curve.length).toBe(3);
    expect(scoreShards(input({ items: 2 })).curve.length).toBe(2);
    expect(scoreShards(input({ freeSlots: [4] })).reason).toMatch(/nothing to shard over/);
  });

  it('scores a fixed size as asked, saying when fewer workers have room', () => {
    const e = scoreShards(input({ freeSlots: [4, 4] }), 6);
    expect(e.shards).toBe(2);
    expect(e.reason).toMatch(/size 6 asked; 2 workers have room/);
  });

  it('is bounded below by the slowest item however many shards run', () => {
    const tail = { ...demand(10), tailMs: 900 };
    expect(makespanMs(8, input({ demand: tail }))).toBeGreaterThanOrEqual(900);
  });

  it('sizes keyed replicas from the forecast rate, within maxReplicas', () => {
    expect(replicasFor(0, demand(10), 1, 4)).toBe(1);
    // 200 calls/s × 10 ms = 2 busy slots; at 70 % that is 3 single-slot replicas.
    expect(replicasFor(200, demand(10), 1, 8)).toBe(3);
    expect(replicasFor(10_000, demand(10), 1, 4)).toBe(4);
  });
});
