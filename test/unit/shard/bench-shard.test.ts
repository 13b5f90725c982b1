/**
 * `faasflow bench shard --sim` on its smoke sizes: it completes, writes its report, replays the
 * same figures for the same seed, and asks for --sim until the runtime lands.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runShardBench, shardOptionsFromFlags } from '../../../bench/shard.js';
import { KEYED_CLUSTER_DEFAULTS, keyedArrivals } from '../../../bench/shard-keyed-cluster.js';

describe('bench shard --sim', () => {
  it('runs the simulation, prints its tables and writes a report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-shard-'));
    const lines: string[] = [];
    const a = runShardBench({
      seed: 3,
      smoke: true,
      reportDir: dir,
      command: 'test',
      print: (l) => lines.push(l),
    });
    const b = runShardBench({
      seed: 3,
      smoke: true,
      reportDir: dir,
      command: 'test',
      print: () => undefined,
    });
    expect(b.keyed.table.latency).toEqual(a.keyed.table.latency);
    expect(b.foreach.noisy).toEqual(a.foreach.noisy);
    expect(lines.some((l) => l.includes('routing table'))).toBe(true);
    expect(lines.some((l) => l.startsWith('reproduce: test'))).toBe(true);
    expect(readdirSync(dir).some((f) => f.startsWith('shard-'))).toBe(true);
    expect(a.foreach.auto.find((r) => r.shape === 'noop')!.autoShards.every((k) => k === 1)).toBe(
      true,
    );
  });

  it('asks for --sim or --cluster, and checks its flags', () => {
    expect(shardOptionsFromFlags({})).toEqual({
      error: expect.stringMatching(/pass one of --sim .* or --cluster/),
    });
    expect(shardOptionsFromFlags({ sim: true, cluster: true })).toEqual({
      error: expect.stringMatching(/pass one of --sim/),
    });
    expect(shardOptionsFromFlags({ cluster: true, runs: '5' })).toEqual({
      options: { seed: 1, smoke: false, cluster: true, runs: 5 },
    });
    expect(shardOptionsFromFlags({ cluster: true, part: 'keyed', seconds: '30' })).toEqual({
      options: { seed: 1, smoke: false, cluster: true, runs: 15, part: 'keyed', seconds: 30 },
    });
    expect(shardOptionsFromFlags({ cluster: true, part: 'hot' })).toEqual({
      error: expect.stringMatching(/--part hot: expected foreach, keyed, noisy or all/),
    });
    expect(shardOptionsFromFlags({ cluster: true, seconds: '5' })).toEqual({
      error: expect.stringMatching(/--seconds/),
    });
    expect(shardOptionsFromFlags({ cluster: true, runs: '0' })).toEqual({
      error: expect.stringMatching(/--runs/),
    });
    expect(shardOptionsFromFlags({ sim: true, seed: '-1' })).toEqual({
      error: expect.stringMatching(/--seed must be an integer ≥ 0/),
    });
    expect(shardOptionsFromFlags({ sim: true, seed: '4' })).toEqual({
      options: { seed: 4, smoke: false, cluster: false, runs: 15 },
    });
  });
});

describe('bench shard --cluster keyed arrivals', () => {
  it('are seeded Poisson at the offered rate, Zipf-ranked, the ranking moved at the shift', () => {
    const o = { ...KEYED_CLUSTER_DEFAULTS, warmupS: 5, measureS: 40 };
    const a = keyedArrivals(o);
    expect(keyedArrivals(o)).toEqual(a);
    expect(a.rate).toBeCloseTo(35, 5);
    expect(a.arrivals.length / 45).toBeGreaterThan(31);
    expect(a.arrivals.length / 45).toBeLessThan(39);
    const top = (xs: typeof a.arrivals): string => {
      const n = new Map<string, number>();
      for (const x of xs) n.set(x.key, (n.get(x.key) ?? 0) + 1);
      return [...n.entries()].sort((p, q) => q[1] - p[1])[0]![0];
    };
    const before = a.arrivals.filter((x) => x.atMs < a.shiftAtMs);
    const after = a.arrivals.filter((x) => x.atMs >= a.shiftAtMs);
    expect(top(before)).toBe('user-0');
    expect(top(after)).toBe('user-500');
    expect(before.filter((x) => x.key === 'user-0').length / before.length).toBeGreaterThan(0.18);
    expect(a.arrivals.filter((x) => !x.measured).every((x) => x.atMs < 5000)).toBe(true);
  });
});
