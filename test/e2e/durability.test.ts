/**
 * Durability end to end (docs/durability.md): a master and three workers as real processes over
 * a real Redis, every workflow `checkpoint` (the default with Redis). The workflow is a diamond
 * whose first function returns a random number that both branches pass on, and whose join says
 * whether they agree: an output committed twice with different values would show as
 * `consistent: false`.
 *
 * Faults: `kill -9` of a worker mid-run; a worker killing itself at each seeded crash point
 * (before a commit, after a commit before the send, after the send, after recording a trigger
 * before its 202); a worker stopped with SIGTERM while running (drain); the master killed right
 * after accepting an invocation and while invocations run; Redis (AOF on) restarted mid-run.
 * Invariant checked on every history: every accepted invocation ends succeeded with one
 * consistent result, and every journal key of a finished invocation is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { distRoot } from '../../deploy/local-cluster.js';
import { client, eventually, startCluster, type Api } from '../helpers/cluster.js';
import { redisUrl, requireRedis, scanKeys, uniquePrefix } from '../helpers/redis.js';

const WORKFLOW = `name: durable-diamond
functions:
  a: { memory: 384, retries: 2, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 120)); return { id: x.id, r: Math.random() }; }" }
  b: { memory: 384, retries: 2, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 120)); return { id: x.id, r: x.r, b: true }; }" }
  c: { memory: 384, retries: 2, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 120)); return { id: x.id, r: x.r, c: true }; }" }
  d: { memory: 384, retries: 2, code: "export default async (x) => ({ id: x.b.id, consistent: x.b.r === x.c.r && typeof x.b.r === 'number' })" }
dag:
  a: { task: a }
  b: { task: b, after: [a] }
  c: { task: c, after: [a] }
  d: { task: d, after: [b, c] }
`;

const up = await requireRedis();

/** Workers offer 512 MB so every 384 MB function is a group of its own: every edge crosses. */
function clusterOptions(
  prefix: string,
  redis: string,
  env: (name: string) => Record<string, string> = () => ({}),
) {
  return {
    workers: 3,
    redisUrl: redis,
    placement: 'round-robin' as const,
    masterFlags: [
      `--redis-url=${redis}`,
      `--redis-prefix=${prefix}`,
      '--worker-timeout-ms=1500',
      ...storeFlags(prefix),
    ],
    workerFlags: () => [
      `--redis-prefix=${prefix}`,
      '--memory-mb=512',
      '--heartbeat-ms=250',
      '--drain-timeout-ms=600',
    ],
    processEnv: env,
  };
}

/** The master keeps its catalogue and records in the same Redis (store auto → redis). */
function storeFlags(_prefix: string): string[] {
  return [];
}

async function deploy(api: Api): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-durable-'));
  const file = join(dir, 'wf.yaml');
  writeFileSync(file, WORKFLOW);
  await api.deploy(file);
  rmSync(dir, { recursive: true, force: true });
}

async function startMany(api: Api, n: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api.request('POST', '/v1/workflows/durable-diamond/invocations', {
      input: { id: `${tag}-${i}` },
      wait: false,
      timeoutMs: 60_000,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    ids.push(res.body.invocationId as string);
  }
  return ids;
}

/** Waits for every invocation to end; each must have succeeded with its own consistent output. */
async function expectAllSucceeded(api: Api, ids: string[], tag: string): Promise<any[]> {
  const views = await eventually(async () => {
    const all = await Promise.all(ids.map((id) => api.request('GET', `/v1/invocations/${id}`)));
    if (all.some((v) => v.status === 200 && v.body.status === 'running')) return undefined;
    if (all.some((v) => v.status !== 200)) return undefined;
    return all.map((v) => v.body);
  }, 45_000);
  for (const [i, v] of views.entries()) {
    expect(v.status, JSON.stringify(v.error)).toBe('succeeded');
    expect(v.output).toEqual({ id: `${tag}-${i}`, consistent: true });
  }
  return views;
}

async function noJournalsLeft(prefix: string): Promise<void> {
  await eventually(
    async () => ((await scanKeys(`${prefix}j:`)).length === 0 ? true : undefined),
    5_000,
  );
}

describe.skipIf(!up)('durability: worker faults', () => {
  const prefix = uniquePrefix('durability');
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster(clusterOptions(prefix, redisUrl())));
    await deploy(api);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop(10_000);
  });

  it('recovers every invocation when a worker is killed with SIGKILL mid-run', async () => {
    const ids = await startMany(api, 12, 'kill');
    await new Promise((r) => setTimeout(r, 200));
    await cluster.kill('worker-2', 'SIGKILL', 0);
    const views = await expectAllSucceeded(api, ids, 'kill');
    expect(views.some((v) => v.durability.recoveries > 0)).toBe(true);
    expect(views.every((v) => v.durability.mode === 'checkpoint')).toBe(true);
    await noJournalsLeft(prefix);
    await cluster.restart('worker-2');
  }, 90_000);

  for (const point of [
    'worker:before-commit',
    'worker:after-commit',
    'worker:after-send',
    'worker:after-receive',
  ]) {
    it(`recovers every invocation when a worker dies at ${point}`, async () => {
      const url = await cluster.restart('worker-1', { FAASFLOW_CRASH_AT: `${point}:2` });
      await eventually(async () => {
        const w = await api.request('GET', '/v1/workers');
        const ready = w.body.workers.some(
          (x: any) => x.id === 'w1' && x.url === url && x.status === 'ready',
        );
        return ready ? true : undefined;
      }, 10_000);
      const tag = point.replace(/[^a-z]/g, '');
      const ids = await startMany(api, 9, tag);
      await eventually(
        () => Promise.resolve(cluster.exited('worker-1') ? true : undefined),
        20_000,
      );
      await expectAllSucceeded(api, ids, tag);
      await noJournalsLeft(prefix);
      await cluster.restart('worker-1');
    }, 90_000);
  }

  it('tells a handler its attempt, and stops retrying at a non-retryable error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-durable-'));
    const file = join(dir, 'wf.yaml');
    writeFileSync(
      file,
      `name: durable-attempts
functions:
  t: { retries: 3, code: "export default async (x, ctx) => { if (x.terminal) throw Object.assign(new Error('bad input'), { retryable: false }); if (ctx.attempt < 2) throw new Error('flaky'); return { attempt: ctx.attempt }; }" }
flow: { task: t }
`,
    );
    await api.deploy(file);
    rmSync(dir, { recursive: true, force: true });
    const flaky = await api.request('POST', '/v1/workflows/durable-attempts/invocations', {
      input: {},
    });
    expect(flaky.body.status).toBe('succeeded');
    expect(flaky.body.output).toEqual({ attempt: 2 });
    const terminal = await api.request('POST', '/v1/workflows/durable-attempts/invocations', {
      input: { terminal: true },
    });
    expect(terminal.body.status).toBe('failed');
    const view = await api.invocation(terminal.body.invocationId as string);
    expect(view.steps.find((s: any) => s.node === 't').attempts).toBe(1);
  }, 30_000);

  it('drains a worker stopped with SIGTERM: its running work finishes or moves, it exits 0', async () => {
    const ids = await startMany(api, 9, 'drain');
    await new Promise((r) => setTimeout(r, 150));
    const worker = cluster.processes.find((p) => p.name === 'worker-3')!;
    const exited = new Promise<number | null>((r) => worker.child.once('exit', (code) => r(code)));
    await cluster.kill('worker-3', 'SIGTERM', 20_000);
    expect(await exited).toBe(0);
    expect(readFileSync(worker.logFile, 'utf8')).toContain('worker stopped');
    await expectAllSucceeded(api, ids, 'drain');
    await cluster.restart('worker-3');
  }, 90_000);
});

describe.skipIf(!up)('durability: master faults', () => {
  const prefix = uniquePrefix('durability-master');
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster(clusterOptions(prefix, redisUrl())));
    await deploy(api);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop(10_000);
  });

  it('collects the results of invocations that ran while the master was down', async () => {
    const ids = await startMany(api, 6, 'down');
    await cluster.kill('master', 'SIGKILL', 0);
    await new Promise((r) => setTimeout(r, 1_200));
    await cluster.restart('master');
    await expectAllSucceeded(api, ids, 'down');
  }, 90_000);

  it('gives a client cut off by a master crash its one result for the same idempotency key', async () => {
    await cluster.restart('master', { FAASFLOW_CRASH_AT: 'master:after-accept:1' });
    await workersBack(api, 3);
    const body = { input: { id: 'idem-0' }, idempotencyKey: 'order-42', timeoutMs: 60_000 };
    const cut = await api.request('POST', '/v1/workflows/durable-diamond/invocations', body).then(
      (r) => `answered ${r.status} ${JSON.stringify(r.body)}`,
      () => 'cut',
    );
    expect(cut).toBe('cut');
    await cluster.restart('master');
    await workersBack(api, 3);
    const again = await api.request('POST', '/v1/workflows/durable-diamond/invocations', body);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.status).toBe('succeeded');
    expect(again.body.output).toEqual({ id: 'idem-0', consistent: true });
    const third = await api.request('POST', '/v1/workflows/durable-diamond/invocations', body);
    expect(third.body.invocationId).toBe(again.body.invocationId);
  }, 90_000);
});

describe.skipIf(!up)('durability: two masters over one Redis', () => {
  const prefix = uniquePrefix('durability-ha');
  const flags = [
    `--redis-url=${redisUrl()}`,
    `--redis-prefix=${prefix}`,
    '--store=redis',
    '--lease-ms=1500',
    '--worker-timeout-ms=1500',
  ];
  let cluster: LocalCluster;
  let api: Api;
  let standby: ChildProcess | undefined;
  let standbyLog = '';

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      ...clusterOptions(prefix, redisUrl()),
      masterFlags: flags,
    }));
    await deploy(api);
  }, 60_000);

  afterAll(async () => {
    standby?.kill('SIGKILL');
    await cluster?.stop(10_000);
  });

  it('a standby takes the lease over when the leader dies; workers follow; results survive', async () => {
    const port = await freePort();
    standby = spawn(
      process.execPath,
      [
        join(distRoot(), 'master', 'main.js'),
        `--port=${port}`,
        '--placement=round-robin',
        ...flags,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
    );
    standby.stdout!.on('data', (d: Buffer) => (standbyLog += d.toString()));
    standby.stderr!.on('data', (d: Buffer) => (standbyLog += d.toString()));
    await eventually(
      () =>
        Promise.resolve(standbyLog.includes('standby: waiting for the lease') ? true : undefined),
      15_000,
    );
    const ids = await startMany(api, 6, 'ha');
    await cluster.kill('master', 'SIGKILL', 0);
    await eventually(
      () => Promise.resolve(standbyLog.includes('master listening') ? true : undefined),
      15_000,
    );
    const second = client(`http://127.0.0.1:${port}`);
    await workersBack(second, 3);
    await expectAllSucceeded(second, ids, 'ha');
    const after = await second.request('POST', '/v1/workflows/durable-diamond/invocations', {
      input: { id: 'ha-after' },
    });
    expect(after.body.status).toBe('succeeded');
  }, 90_000);
});

describe.skipIf(!up)('durability: Redis restarted mid-run (AOF on)', () => {
  const prefix = uniquePrefix('durability-redis');
  const dir = mkdtempSync(join(tmpdir(), 'ff-redis-aof-'));
  let port = 0;
  let redis: ChildProcess | undefined;
  let cluster: LocalCluster;
  let api: Api;

  const startRedis = async (): Promise<void> => {
    redis = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    await eventually(async () => ((await ping(port)) ? true : undefined), 10_000);
  };

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    ({ cluster, api } = await startCluster(clusterOptions(prefix, `redis://127.0.0.1:${port}`)));
    await deploy(api);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop(10_000);
    redis?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing acknowledged and every invocation succeeds', async () => {
    const ids = await startMany(api, 6, 'redis');
    await new Promise((r) => setTimeout(r, 150));
    const stopped = new Promise((r) => redis!.once('exit', r));
    redis!.kill('SIGKILL');
    await stopped;
    await new Promise((r) => setTimeout(r, 500));
    await startRedis();
    await expectAllSucceeded(api, ids, 'redis');
  }, 90_000);
});

/** A restarted master knows its workers again once they re-register (their next heartbeat). */
async function workersBack(api: Api, n: number): Promise<void> {
  await eventually(async () => {
    const h = await api.request('GET', '/healthz');
    return h.status === 200 && h.body.workers >= n ? true : undefined;
  }, 15_000);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
}

async function ping(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}
