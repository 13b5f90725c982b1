/**
 * A master that is killed (SIGKILL, no shutdown) and started again with the same flags keeps
 * its state, once with its lmdb data dir and once with its state in Redis:
 * - every deployed workflow comes back with all its versions (and their handler files: the
 *   workflow's functions are handler files, and they run after the restart);
 * - the workers, which outlive the master, re-register by themselves and get every current
 *   version pushed again, so an invocation succeeds with no redeploy;
 * - the next deploy gets the next version number: numbers are never reused across a restart;
 * - the restarted master logs where its state came from and how many workflows it restored;
 * - (lmdb) a second master on a data dir in use refuses to start, naming the owner's pid.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distRoot, type LocalCluster } from '../../deploy/local-cluster.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';

const workflow = join(repoRoot(), 'test/fixtures/workflows/big-payload.yaml');
// Each function asks for 2 GB: with 3 GB per worker, producer and consumer use both workers.
const workerFlags = (): string[] => ['--memory-mb=3072'];

function describeRestart(
  name: string,
  setup: () => { masterFlags: string[]; dataDir?: string },
): void {
  describe(`master restart (${name})`, () => {
    let cluster: LocalCluster;
    let api: Api;

    beforeAll(async () => {
      const o = setup();
      ({ cluster, api } = await startCluster({
        workers: 2,
        workerFlags,
        masterFlags: o.masterFlags,
        ...(o.dataDir === undefined ? {} : { dataDir: o.dataDir }),
      }));
    });
    afterAll(async () => {
      await cluster?.stop();
    });

    it('keeps the catalogue across kill -9 and serves invocations again without a redeploy', async () => {
      expect((await api.deploy(workflow)).version).toBe(1);
      expect((await api.deploy(workflow)).version).toBe(2);
      const before = await api.invoke('e2e-big', { bytes: 4096 });
      expect(before).toMatchObject({ status: 'succeeded', output: { bytes: 4096 } });

      await cluster.kill('master', 'SIGKILL');
      await cluster.restartMaster();

      const list = await api.request('GET', '/v1/workflows');
      expect(list.status).toBe(200);
      expect(list.body.workflows).toEqual([
        expect.objectContaining({ name: 'e2e-big', version: 2, nodes: 2 }),
      ]);
      const detail = await api.request('GET', '/v1/workflows/e2e-big');
      expect(detail.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);

      // No one redeploys: the workers come back through their heartbeats' 404.
      await cluster.waitForWorkers(2, 30_000);
      const after = await eventually(async () => {
        const r = await api.request('POST', '/v1/workflows/e2e-big/invocations', {
          input: { bytes: 8192 },
        });
        return r.status === 200 ? r.body : undefined;
      }, 30_000);
      expect(after).toMatchObject({ status: 'succeeded', output: { bytes: 8192 } });
      const inv = await api.invocation(after.invocationId);
      expect(new Set(inv.steps.map((s: { worker: string }) => s.worker)).size).toBe(2);

      expect((await api.deploy(workflow)).version).toBe(3);

      const log = readFileSync(cluster.processes.find((p) => p.name === 'master')!.logFile, 'utf8');
      const loaded = log
        .split('\n')
        .filter((l) => l.includes('master state loaded'))
        .map((l) => JSON.parse(l) as { store: string; workflows: number });
      expect(loaded).toHaveLength(2);
      expect(loaded[0]!.workflows).toBe(0);
      expect(loaded[1]!.workflows).toBe(1);
    });

    it.skipIf(setup().dataDir === undefined)(
      'refuses to start a second master on the data dir in use',
      async () => {
        const dir = setup().dataDir!;
        const second = spawn(
          process.execPath,
          [join(distRoot(), 'master', 'main.js'), '--port=0', '--store=lmdb', `--data-dir=${dir}`],
          { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
        );
        let out = '';
        second.stdout.on('data', (c: Buffer) => (out += c.toString()));
        second.stderr.on('data', (c: Buffer) => (out += c.toString()));
        const code = await new Promise<number | null>((r) => second.once('exit', r));
        expect(code).toBe(1);
        const owner = cluster.processes.find((p) => p.name === 'master')!.child.pid;
        expect(out).toContain('failed to start');
        expect(out).toContain(`in use by another master (pid ${owner}`);
        expect(out).not.toContain('master listening');
        // The running master is unaffected.
        expect((await api.request('GET', '/v1/workflows')).body.workflows).toHaveLength(1);
      },
    );
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'ff-e2e-master-data-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
describeRestart('lmdb data dir', () => ({ masterFlags: [], dataDir }));

const redisUp = await requireRedis();
const prefix = uniquePrefix('e2e-restart');
afterAll(async () => {
  if (redisUp) await deletePrefix(prefix);
});
if (redisUp)
  describeRestart('redis', () => ({
    masterFlags: ['--store=redis', `--redis-url=${redisUrl()}`, `--redis-prefix=${prefix}`],
  }));
