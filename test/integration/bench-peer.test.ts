/**
 * `faasflow bench peer --smoke` as a user runs it (the built CLI from dist/; `npm run build`
 * first), against a real Redis: faasflow in its process, thread and trusted tiers and BullMQ
 * (in-process and sandboxed processors) on every shape and payload, at tiny sizes. Figures are not checked (speed is shown by the
 * benchmark, never asserted by a test).
 *
 * Scenarios:
 * - the suite exits 0 and prints its results table (a row per shape, payload and system), the
 *   goals with met or missed, and the note that BullMQ runs genome's diamond as two flows;
 * - it writes its report with the versions and the command line;
 * - it leaves no key under the prefixes it used, in either system.
 * Without Redis the suite skips on a laptop and fails under CI=true.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distRoot } from '../../deploy/local-cluster.js';
import type { PeerFigures } from '../../bench/peer.js';
import { redisUrl, requireRedis, scanKeys } from '../helpers/redis.js';

const redisUp = await requireRedis();
const out = mkdtempSync(join(tmpdir(), 'faasflow-bench-peer-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function bench(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distRoot(), 'deploy', 'cli', 'main.js'), 'bench', ...args],
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        if (code !== 0) console.error(stderr);
        resolve({ code, stdout });
      },
    );
  });
}

describe.skipIf(!redisUp)('bench peer --smoke', () => {
  it('runs faasflow and BullMQ on every shape, prints the tables and leaves no keys behind', async () => {
    const r = await bench(['peer', '--smoke', '--redis', redisUrl(), '--out', out], 700_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^shape\s+payload\s+system\s+p50\s+p99\s+n\s+inv\/s\s+jobs\/s/m);
    for (const shape of ['chain of 5', 'fan-out 8 \\+ join', 'genome', 'foreach of 64']) {
      for (const system of [
        'faasflow',
        'faasflow-thread',
        'faasflow-trusted',
        'faasflow-ingress',
        'faasflow-ingress-thread',
        'bullmq',
        'bullmq-sandboxed',
      ])
        expect(r.stdout).toMatch(new RegExp(`^${shape}.*\\s${system}\\s`, 'm'));
    }
    expect(r.stdout).toMatch(/^chain of 5, noop: p50 .*(met|MISSED)$/m);
    expect(r.stdout).toMatch(/^chain of 5, noop, thread: p50 .*(met|MISSED)$/m);
    expect(r.stdout).toMatch(/^chain of 5, 1mb, trusted: p50 .*(met|MISSED)$/m);
    expect(r.stdout).toMatch(/^chain of 5, noop, thread, ingress: jobs\/s .*(met|MISSED)$/m);
    expect(r.stdout).toMatch(/^fan-out 8 \+ join, noop: jobs\/s .*(met|MISSED)$/m);
    expect(r.stdout).toMatch(/^note: BullMQ flows are trees.*2 flows/m);
    expect(r.stdout).toMatch(/^reproduce: .*bench peer --smoke/m);

    const files = readdirSync(out).filter((f) => /^peer-.*\.json$/.test(f));
    expect(files).toHaveLength(1);
    const report = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as {
      suite: string;
      command: string;
      figures: PeerFigures;
    };
    expect(report.suite).toBe('peer');
    expect(report.command).toMatch(/bench peer --smoke/);
    const f = report.figures;
    expect(f.versions.bullmq).toMatch(/^\d+\.\d+\.\d+/);
    expect(f.versions.node).toBe(process.version);
    expect(f.results).toHaveLength(4 * 2 * 7);
    for (const res of f.results) {
      expect(res.closed?.failures.count, `${res.system} ${res.shape} ${res.payload}`).toBe(0);
      expect(res.open?.completed, `${res.system} ${res.shape} ${res.payload}`).toBeGreaterThan(0);
    }
    expect(f.goals.map((g) => g.met)).not.toContain(null);

    expect(await scanKeys(f.setup.prefixes.faasflow)).toEqual([]);
    expect(await scanKeys(`${f.setup.prefixes.bullmq}:`)).toEqual([]);
  }, 720_000);
});
