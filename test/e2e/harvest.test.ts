/**
 * Resource harvesting end to end: a master with `--harvest on` and Redis (a unique key prefix,
 * removed afterwards) and 2 workers as real processes, driven through the HTTP API and the
 * `faasflow` CLI from dist/ as a user would.
 *
 * Scenarios:
 * - before any training, an invocation runs every node with its user allocation, and the
 *   timeline says why per node (`no-model` in the parallel stage, `not-parallel` alone);
 * - `faasflow profile --generate N --generator FILE` (and `--inputs DIR`) runs profiling
 *   invocations: every task node at the maximum allocation with reason `profiling`; every task
 *   run is accounted for, as a profile record or as a counted skip (no peak measurement);
 *   `faasflow models --train` then trains on them, or explains why there are too few;
 * - `faasflow profiles import` + `faasflow models --train` on a workflow with known demands
 *   prints the model version and the thesis's accuracy table; the next invocation's timeline
 *   shows, per node, user allocation, raw demand, predicted and applied allocation, the reason
 *   where they differ (`scaled`), and the measured peaks;
 * - `faasflow profiles export --format csv --out FILE` writes CSV that parses back to exactly
 *   the stored records;
 * - an invocation taken by a worker's own API gets the master's decision for the same input: the
 *   worker fetched the trained model set the placement view lists;
 * - an invocation that states its nodes' demand (`demand`, the benchmark's oracle) is decided
 *   from it (mode `given`) by the same validator, and its steps ran with those allocations; a
 *   demand naming no task node, or with `profile: true`, is a 400.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distRoot, type LocalCluster } from '../../deploy/local-cluster.js';
import { MIN_PROFILES_TO_TRAIN } from '../../master/harvest/harvester.js';
import {
  formatProfileCsv,
  parseProfileCsv,
  parseProfileJson,
  type ProfileRecord,
} from '../../master/harvest/profile.js';
import { client, eventually, startCluster, type Api } from '../helpers/cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';

const redisUp = await requireRedis();
const prefix = uniquePrefix('harvest-e2e');
const fixtures = join(repoRoot(), 'test', 'fixtures', 'harvest');
const tmp = mkdtempSync(join(tmpdir(), 'faasflow-harvest-e2e-'));
let cluster: LocalCluster | undefined;
let api: Api;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distRoot(), 'deploy', 'cli', 'main.js'), ...args, '--master', api.url],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const byNode = (inv: any): Record<string, any> =>
  Object.fromEntries(inv.harvest.nodes.map((n: any) => [n.node, n]));

/** Profiles of harvest-seeded: hash-a needs 4.5 cores, hash-b 1.2, hash-c 0.3, at any size. */
function seededRecords(): ProfileRecord[] {
  const out: ProfileRecord[] = [];
  const demand: [string, number, number, number][] = [
    ['split', 0.2, 60, 1],
    ['hash-a', 4.5, 300, 0.6],
    ['hash-b', 1.2, 200, 0.3],
    ['hash-c', 0.3, 100, 0.1],
    ['join', 0.1, 50, 0.001],
  ];
  for (let i = 0; i < 30; i++) {
    const dagInputBytes = 20_000 * (i + 1);
    for (const [fn, cpu, mem, share] of demand) {
      const parallel = fn.startsWith('hash-');
      out.push({
        workflow: 'harvest-seeded',
        version: 1,
        function: fn,
        node: fn,
        invocationId: `inv_seed_${i}`,
        dagInputBytes,
        inputBytes: Math.round(dagInputBytes * share),
        stage: parallel ? 'hash-a+hash-b+hash-c' : fn,
        index: parallel ? ['hash-a', 'hash-b', 'hash-c'].indexOf(fn) : 0,
        width: parallel ? 3 : 1,
        peakCpuCores: cpu,
        peakMemoryMb: mem,
        durationMs: 40,
        allocation: { cpu: 8, memoryMb: 8192 },
        at: 1_700_000_000_000 + i,
      });
    }
  }
  return out;
}

beforeAll(async () => {
  if (!redisUp) return;
  ({ cluster, api } = await startCluster({
    workers: 2,
    masterFlags: [
      '--harvest=on',
      `--redis-url=${redisUrl()}`,
      `--redis-prefix=${prefix}`,
      '--retrain-every=1000000',
      // The thesis's whole-core grid and peak rule, whose worked example the last test checks
      // (the default fine grid and work shares are covered by the unit tests).
      '--harvest-grid=thesis',
      '--harvest-policy=peak',
    ],
    workerFlags: () => ['--cpu=8', '--memory-mb=16384'],
  }));
  await api.deploy(join(fixtures, 'fanout.yaml'));
  await api.deploy(join(fixtures, 'seeded.yaml'));
});

afterAll(async () => {
  await cluster?.stop();
  if (redisUp) await deletePrefix(prefix);
  rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!redisUp)('resource harvesting', () => {
  it('runs with the user allocations before any training, saying why per node', async () => {
    const r = await api.invoke('harvest-fanout', { seed: 1, bytes: 50_000, rounds: 4 });
    expect(r.status).toBe('succeeded');
    const inv = await api.invocation(r.invocationId);
    expect(inv.harvest).toMatchObject({ mode: 'harvest', modelVersion: null });
    const n = byNode(inv);
    expect(Object.keys(n)).toEqual(['split', 'hash-a', 'hash-b', 'hash-c', 'join']);
    expect(n['hash-a']).toMatchObject({
      user: { cpu: 2, memoryMb: 512 },
      predicted: null,
      applied: { cpu: 2, memoryMb: 512 },
      reason: { code: 'no-model', message: expect.stringContaining('faasflow profile') },
    });
    expect(n['join']).toMatchObject({
      applied: { cpu: 1, memoryMb: 256 },
      reason: { code: 'not-parallel' },
    });
  });

  it('profiles at the maximum allocation and accounts for every task run', async () => {
    const p = await cli([
      'profile',
      'harvest-fanout',
      '--generate',
      '8',
      '--generator',
      join(fixtures, 'input-generator.js'),
      '--concurrency',
      '2',
      '--no-train',
    ]);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('8 succeeded, 0 failed');
    const id = /\[8\/8\] level 7\.00 seed 8 \(1\.0 MB\): succeeded in \d+ ms {2}(inv_\S+)/.exec(
      p.stdout,
    )?.[1];
    expect(id, p.stdout).toBeDefined();
    const inv = await api.invocation(id!);
    expect(inv.harvest).toMatchObject({ mode: 'profiling', max: { cpu: 8, memoryMb: 8192 } });
    for (const node of inv.harvest.nodes)
      expect(node).toMatchObject({
        applied: { cpu: 8, memoryMb: 8192 },
        reason: { code: 'profiling' },
      });

    const dir = await cli([
      'profile',
      'harvest-fanout',
      '--inputs',
      join(fixtures, 'inputs'),
      '--no-train',
    ]);
    expect(dir.code).toBe(0);
    expect(dir.stdout).toContain('[2/2] 02-large.json: succeeded');

    // 1 + 8 + 2 invocations of 5 task runs each: a record each, or a counted skip.
    const models = (await api.request('GET', '/v1/workflows/harvest-fanout/models')).body;
    const skipped = Object.values(models.profiles.skipped as Record<string, number>).reduce(
      (s, n) => s + n,
      0,
    );
    expect(models.profiles.appended + skipped).toBe(55);
    const exported = await api.request('GET', '/v1/workflows/harvest-fanout/profiles?format=json');
    const records = parseProfileJson(exported.body === null ? '' : String(exported.body));
    expect(records).toHaveLength(models.profiles.stored);
    for (const r of records) expect(r.dagInputBytes).toBeGreaterThan(0);

    const train = await cli(['models', 'harvest-fanout', '--train']);
    if (models.profiles.stored >= MIN_PROFILES_TO_TRAIN) {
      expect(train.code).toBe(0);
      expect(train.stdout).toMatch(/model set v1, trained/);
    } else {
      // Without peak measurements there is nothing to learn from, and the CLI says so.
      expect(train.code).toBe(1);
      expect(train.stderr).toContain(`training needs at least ${MIN_PROFILES_TO_TRAIN}`);
    }
  });

  it('trains on imported profiles and prints the version and the accuracy table', async () => {
    const file = join(tmp, 'seeded.csv');
    writeFileSync(file, formatProfileCsv(seededRecords()));
    const imp = await cli(['profiles', 'import', 'harvest-seeded', file]);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain('imported 150 profile records into harvest-seeded');
    const m = await cli(['models', 'harvest-seeded', '--train']);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toContain('model set v1, trained');
    expect(m.stdout).toContain('150 read, 0 excluded');
    expect(m.stdout).toMatch(/held-out accuracy on 30 records of 6 invocations/);
    expect(m.stdout).toMatch(/ML2: peaks, per function .*CPU accurate/);
    expect(m.stdout).toMatch(/\n\s+hash-a\s+6\s/);
  });

  it('exports CSV that parses back to exactly the stored records', async () => {
    const file = join(tmp, 'export.csv');
    const e = await cli(['profiles', 'export', 'harvest-seeded', '--format', 'csv', '--out', file]);
    expect(e.code).toBe(0);
    expect(e.stderr).toContain('wrote 150 profile records of harvest-seeded');
    expect(parseProfileCsv(readFileSync(file, 'utf8'))).toEqual(seededRecords());
  });

  it('shows the decision per node after training: demand, predicted, applied, reason, peaks', async () => {
    const r = await api.invoke(
      'harvest-seeded',
      { seed: 3, bytes: 60_000, rounds: 4 },
      { dataBytes: 300_000 },
    );
    expect(r.status).toBe('succeeded');
    const inv = await api.invocation(r.invocationId);
    expect(inv.harvest).toMatchObject({ mode: 'harvest', modelVersion: 1, dagInputBytes: 300_000 });
    const n = byNode(inv);
    // 5 + 2 + 1 cores predicted, 6 allocated by the users: shared 4 + 1 + 1 in proportion.
    expect(n['hash-a']).toMatchObject({
      user: { cpu: 2, memoryMb: 512 },
      predicted: { cpu: 5, memoryMb: 384 },
      applied: { cpu: 4, memoryMb: 384 },
      reason: { code: 'scaled', resources: ['cpu'] },
    });
    expect(n['hash-a'].demand.cpuCores).toBeCloseTo(4.5, 1);
    expect(n['hash-b']).toMatchObject({
      predicted: { cpu: 2, memoryMb: 256 },
      applied: { cpu: 1, memoryMb: 256 },
      reason: { code: 'scaled' },
    });
    expect(n['hash-c']).toMatchObject({
      predicted: { cpu: 1, memoryMb: 128 },
      applied: { cpu: 1 },
    });
    expect(n['hash-c'].reason).toBeUndefined();
    expect(n['split']).toMatchObject({
      applied: { cpu: 2, memoryMb: 512 },
      reason: { code: 'not-parallel' },
    });
    for (const node of inv.harvest.nodes) expect(node).toHaveProperty('measured');
    const status = await cli(['status', r.invocationId, '--json']);
    expect(JSON.parse(status.stdout).harvest.nodes).toHaveLength(5);
  });

  it("decides an invocation taken by a worker as the master does, with the master's models", async () => {
    const input = { seed: 4, bytes: 60_000, rounds: 4 };
    const onMaster = await api.invocation((await api.invoke('harvest-seeded', input)).invocationId);
    expect(onMaster.harvest).toMatchObject({ mode: 'harvest', modelVersion: 1 });
    const workers = (await api.request('GET', '/v1/workers')).body.workers as { url: string }[];
    const ingress = client(workers[0]!.url);
    // The worker fetches the model set off the path once the view lists it: until then its
    // invocations say so (no-model, "still loading on this worker").
    const taken = await eventually(async () => {
      const r = await ingress.request('POST', '/v1/workflows/harvest-seeded/invocations', {
        input,
      });
      if (r.status !== 200) return undefined;
      const inv = (await ingress.request('GET', `/v1/invocations/${r.body.invocationId}`)).body;
      return inv.harvest?.modelVersion === 1 ? inv : undefined;
    }, 20_000);
    const applied = (inv: any): Record<string, unknown> =>
      Object.fromEntries(inv.harvest.nodes.map((n: any) => [n.node, [n.applied, n.reason?.code]]));
    expect(applied(taken)).toEqual(applied(onMaster));
    expect(byNode(taken)['hash-a'].reason).toMatchObject({ code: 'scaled' });
    // The master keeps its record (sent in a batch), decision included.
    const seen = await eventually(async () => {
      const r = await api.request('GET', `/v1/invocations/${taken.invocationId}`);
      return r.status === 200 && r.body.status === 'succeeded' ? r.body : undefined;
    }, 10_000);
    expect(seen.harvest).toMatchObject({ mode: 'harvest', modelVersion: 1 });
  });

  it('decides from a stated demand through the same validator, and the workers apply it', async () => {
    const demand = {
      'hash-a': { cpuCores: 3.2, memoryMb: 300, cpuTimeMs: 900 },
      'hash-b': { cpuCores: 1.5, memoryMb: 200, cpuTimeMs: 300 },
      'hash-c': { cpuCores: 0.4, memoryMb: 100, cpuTimeMs: 100 },
    };
    const r = await api.invoke('harvest-seeded', { seed: 3, bytes: 60_000, rounds: 4 }, { demand });
    expect(r.status).toBe('succeeded');
    const inv = await api.invocation(r.invocationId);
    expect(inv.harvest).toMatchObject({ mode: 'given', modelVersion: null });
    const n = byNode(inv);
    // 4 + 2 + 1 cores stated (rounded up to whole cores), 6 allocated by the users: 3 + 2 + 1.
    expect(n['hash-a']).toMatchObject({
      demand: { cpuCores: 3.2, memoryMb: 300 },
      predicted: { cpu: 4, memoryMb: 384 },
      applied: { cpu: 3, memoryMb: 384 },
      reason: { code: 'scaled' },
    });
    expect(n['hash-b']).toMatchObject({ applied: { cpu: 2, memoryMb: 256 } });
    expect(n['hash-c']).toMatchObject({ applied: { cpu: 1, memoryMb: 128 } });
    expect(n['split']).toMatchObject({ reason: { code: 'not-parallel' } });
    for (const node of ['hash-a', 'hash-b', 'hash-c'])
      expect(inv.steps.find((s: any) => s.node === node).allocation).toEqual(n[node].applied);

    const unknown = await api.request('POST', '/v1/workflows/harvest-seeded/invocations', {
      input: { seed: 3, bytes: 100, rounds: 1 },
      demand: { nope: { cpuCores: 1, memoryMb: 64 } },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('"nope", not task nodes of harvest-seeded');
    const both = await api.request('POST', '/v1/workflows/harvest-seeded/invocations', {
      input: { seed: 3, bytes: 100, rounds: 1 },
      profile: true,
      demand,
    });
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('demand and profile: true exclude each other');
  });
});
