/**
 * Every benchmark suite but peer (test/integration/bench-peer.test.ts), as a user runs it (`faasflow bench <suite> --smoke` from dist/), at tiny
 * sizes: it exits 0, prints its table and the command that reproduces it, and writes its JSON
 * report. Figures are not checked here (speed is shown by the benchmarks, not asserted by tests).
 * Needs Redis (faasflow), Docker (the container sandbox) and root with iproute2 (the
 * namespace-hosts run); under CI=true a missing one fails the suite.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distRoot } from '../../deploy/local-cluster.js';
import { netnsSupport } from '../../deploy/netns/index.js';
import { requireDocker } from '../helpers/docker.js';
import { requireRedis } from '../helpers/redis.js';

const out = mkdtempSync(join(tmpdir(), 'faasflow-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const redis = await requireRedis();
const docker = await requireDocker();
const netns = await netnsSupport();
if (!netns.ok && process.env['CI'] === 'true')
  throw new Error(`bench smoke across hosts needs root and iproute2: ${netns.reason}`);

function bench(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distRoot(), 'deploy', 'cli', 'main.js'), 'bench', ...args, '--out', out],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        if (code !== 0) console.error(stderr);
        resolve({ code, stdout });
      },
    );
  });
}

/** The newest report of `suite`, parsed. */
function report(suite: string): { suite: string; command: string; figures: unknown } {
  const files = readdirSync(out)
    .filter((f) => f.startsWith(`${suite}-`) && f.endsWith('.json'))
    .sort();
  expect(files.length).toBeGreaterThan(0);
  return JSON.parse(readFileSync(join(out, files[files.length - 1]!), 'utf8')) as {
    suite: string;
    command: string;
    figures: unknown;
  };
}

describe('bench suites, smoke', () => {
  it('partition prints its table and writes its report', async () => {
    const r = await bench(['partition', '--smoke'], 120_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/genome-200/);
    expect(r.stdout).toMatch(/reproduce: .*bench partition --smoke/);
    expect(report('partition').suite).toBe('partition');
  }, 150_000);

  it('fuzz runs every door, prints cases per second and writes its report', async () => {
    const r = await bench(['fuzz', '--smoke', '--seed', '1'], 180_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cases\/s/);
    expect(r.stdout).toMatch(/reproduce: .*bench fuzz --smoke --seed 1/);
    const figures = report('fuzz').figures as {
      seed: number;
      rows: { target: string; cases: number; failure: unknown }[];
    };
    expect(figures.seed).toBe(1);
    expect(figures.rows.map((x) => x.target)).toEqual([
      'yaml',
      'yaml',
      'yaml',
      'yaml',
      'master',
      'worker',
    ]);
    for (const row of figures.rows) {
      expect(row.cases).toBe(50);
      expect(row.failure).toBeNull();
    }
  }, 200_000);

  it('overhead prints its table and writes its report', async () => {
    const r = await bench(['overhead', '--smoke'], 180_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/chain of 5/);
    expect(report('overhead').suite).toBe('overhead');
  }, 200_000);

  it.skipIf(!redis)(
    'durability prints the cost per boundary and a recovery',
    async () => {
      const r = await bench(['durability', '--smoke'], 180_000);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/checkpoint/);
      expect(r.stdout).toMatch(/recovery: 6 invocations in flight/);
      const figures = report('durability').figures as {
        recovery: { invocations: number; succeeded: number; consistent: number };
      };
      expect(figures.recovery.succeeded).toBe(figures.recovery.invocations);
      expect(figures.recovery.consistent).toBe(figures.recovery.invocations);
    },
    200_000,
  );

  it.skipIf(!docker)(
    'sandbox prints a row per tier: process, container, thread and trusted',
    async () => {
      const r = await bench(['sandbox', '--smoke'], 300_000);
      expect(r.code).toBe(0);
      for (const tier of ['process', 'docker', 'thread', 'trusted'])
        expect(r.stdout).toMatch(new RegExp(`^${tier}\\s+\\S.*\\d`, 'm'));
      expect(r.stdout).toMatch(/chain5 1MB p50/);
      expect(report('sandbox').suite).toBe('sandbox');
    },
    320_000,
  );

  it.skipIf(!redis)(
    "faasflow runs FaaSFlow's eight benchmarks in both modes and the co-run",
    async () => {
      const r = await bench(['faasflow', '--smoke'], 600_000);
      expect(r.code).toBe(0);
      for (const b of ['cycles', 'epigenomics', 'genome', 'soykb', 'video', 'wordcount'])
        expect(r.stdout).toMatch(new RegExp(`^${b} `, 'm'));
      expect(r.stdout).toMatch(/co-run \(all at once\)/);
      expect(r.stdout).toMatch(/FaaSFlow published/);
      const figures = report('faasflow').figures as {
        clusters: { modes: { mode: string; failures: string[] }[] }[];
      };
      const modes = figures.clusters[0]!.modes;
      expect(modes.map((m) => m.mode)).toEqual(['worker', 'master']);
      for (const m of modes) expect(m.failures).toEqual([]);
    },
    620_000,
  );

  it.skipIf(!redis)(
    'harvest profiles, trains, and compares harvesting and placements',
    async () => {
      const r = await bench(['harvest', '--smoke'], 300_000);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/trained: v\d+ in [^,]+, \d+ held-out runs/);
      expect(r.stdout).toMatch(/^parallel-aes +medium .* off /m);
      expect(r.stdout).toMatch(/^parallel-aes +medium .* predict-rebalance /m);
      expect(r.stdout).toMatch(/placement \(parallel-aes/);
      const figures = report('harvest').figures as { runs: { failures: string[] }[] };
      for (const run of figures.runs) expect(run.failures).toEqual([]);
    },
    320_000,
  );

  it.skipIf(!netns.ok)(
    'faasflow runs across namespace hosts under a bandwidth cap',
    async () => {
      const r = await bench(
        [
          'faasflow',
          '--smoke',
          '--hosts',
          '2',
          '--bandwidth',
          '100mbit',
          '--benchmarks',
          'genome,fileprocessing',
          '--no-corun',
        ],
        300_000,
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/links capped at 100mbit/);
      const figures = report('faasflow').figures as {
        clusters: { bandwidth: string; modes: { failures: string[] }[] }[];
      };
      expect(figures.clusters.map((c) => c.bandwidth)).toEqual(['100mbit']);
      for (const m of figures.clusters[0]!.modes) expect(m.failures).toEqual([]);
    },
    320_000,
  );
});
