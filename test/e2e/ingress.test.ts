/**
 * The worker ingress end to end (docs/design.md §4, §9): a master and three workers as real
 * processes; every function asks 384 MB of workers offering 512 MB, so each is a group of its
 * own and round-robin placement spreads one invocation over the three workers.
 *
 * Scenarios: an invocation taken by a worker with `wait: true` (its groups placed on the other
 * workers, its reports addressed to it), and with `wait: false` then read by id on that worker,
 * on another worker and on the master once the record batch has arrived (the master's list shows
 * it too); an idempotency key used on two workers returns one invocation that ran once; bad input
 * gets the master's errors; a workflow the worker does not hold is 404. With Redis
 * (`checkpoint`): the ingress worker is killed with SIGKILL mid-invocation and the master adopts
 * the invocation from the journal and finishes it with one result.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { client, eventually, startCluster, type Api } from '../helpers/cluster.js';
import { redisUrl, requireRedis, scanKeys, uniquePrefix } from '../helpers/redis.js';

const CHAIN = `name: ingress-chain
functions:
  a: { memory: 384, code: "export default async (x) => ({ n: x.n + 1 })" }
  b: { memory: 384, code: "export default async (x) => ({ n: x.n * 10, r: Math.random() })" }
  c: { memory: 384, code: "export default async (x) => ({ n: x.n + 5, r: x.r })" }
inputSchema: { type: object, required: [n], properties: { n: { type: number } } }
dag:
  a: { task: a }
  b: { task: b, after: [a] }
  c: { task: c, after: [b] }
`;

/** A slow middle step: long enough to kill the ingress while the invocation runs. */
const SLOW = `name: ingress-slow
functions:
  a: { memory: 384, retries: 2, code: "export default async (x) => ({ n: x.n + 1 })" }
  b: { memory: 384, retries: 2, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 2500)); return { n: x.n * 10, r: Math.random() }; }" }
  c: { memory: 384, retries: 2, code: "export default async (x) => ({ n: x.n + 5, r: x.r })" }
dag:
  a: { task: a }
  b: { task: b, after: [a] }
  c: { task: c, after: [b] }
`;

async function deploy(api: Api, yaml: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-ingress-'));
  const file = join(dir, 'wf.yaml');
  writeFileSync(file, yaml);
  await api.deploy(file);
  rmSync(dir, { recursive: true, force: true });
}

/** The workers' APIs, once each holds a placement view that lists all three with `name`. */
async function ingresses(api: Api, name: string): Promise<Api[]> {
  const urls = await eventually(async () => {
    const r = await api.request('GET', '/v1/workers');
    const ready = (r.body.workers as { url: string; status: string }[]).filter(
      (w) => w.status === 'ready',
    );
    return ready.length === 3 ? ready.map((w) => w.url) : undefined;
  }, 20_000);
  const workers = urls.map((u) => client(u));
  // A view arrives within the master's push interval; an invocation answers 202 once it has.
  for (const w of workers)
    await eventually(async () => {
      const r = await w.request('POST', `/v1/workflows/${name}/invocations`, {
        input: { n: 0 },
        wait: false,
      });
      return r.status === 202;
    }, 10_000);
  return workers;
}

describe('worker ingress', () => {
  let cluster: LocalCluster;
  let api: Api;
  let workers: Api[];

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 3,
      placement: 'round-robin',
      masterFlags: ['--view-interval-ms=200'],
      workerFlags: () => ['--memory-mb=512'],
    }));
    await deploy(api, CHAIN);
    workers = await ingresses(api, 'ingress-chain');
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop(10_000);
  });

  it('answers a wait: true invocation itself, its groups placed on the other workers', async () => {
    const w = workers[0]!;
    const res = await w.request('POST', '/v1/workflows/ingress-chain/invocations', {
      input: { n: 1 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('succeeded');
    expect(res.body.output.n).toBe(25);
    expect(typeof res.body.durationMs).toBe('number');
    const view = await eventually(async () => {
      const r = await w.request('GET', `/v1/invocations/${res.body.invocationId}`);
      return r.body.steps?.length === 3 ? r.body : undefined;
    });
    expect(view.status).toBe('succeeded');
    expect(new Set(view.steps.map((s: { worker: string }) => s.worker)).size).toBe(3);
    // The sink's output came back inside its report: nothing was stored for it.
    expect(view.steps.find((s: { node: string }) => s.node === 'c').tier).toBe('inline');
  });

  it('takes wait: false, and the id reads on this worker, another one, and the master after the batch', async () => {
    const res = await workers[1]!.request('POST', '/v1/workflows/ingress-chain/invocations', {
      input: { n: 2 },
      wait: false,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.invocationId as string;
    const mine = await eventually(async () => {
      const r = await workers[1]!.request('GET', `/v1/invocations/${id}`);
      return r.body.status === 'succeeded' ? r.body : undefined;
    });
    expect(mine.output.n).toBe(35);
    const atMaster = await eventually(async () => {
      const r = await api.request('GET', `/v1/invocations/${id}`);
      return r.status === 200 && r.body.steps?.length === 3 ? r.body : undefined;
    });
    expect(atMaster.status).toBe('succeeded');
    expect(atMaster.output).toEqual(mine.output);
    const elsewhere = await workers[2]!.request('GET', `/v1/invocations/${id}`);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.output).toEqual(mine.output);
    const list = await api.request('GET', '/v1/invocations?workflow=ingress-chain&limit=200');
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).toContain(id);
  });

  it('runs an idempotency key once, whichever worker gets it', async () => {
    const body = { input: { n: 3 }, idempotencyKey: `key-${Date.now()}` };
    const first = await workers[0]!.request(
      'POST',
      '/v1/workflows/ingress-chain/invocations',
      body,
    );
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const again = await workers[0]!.request(
      'POST',
      '/v1/workflows/ingress-chain/invocations',
      body,
    );
    expect(again.body.invocationId).toBe(first.body.invocationId);
    expect(again.body.output).toEqual(first.body.output);
    const other = await workers[2]!.request(
      'POST',
      '/v1/workflows/ingress-chain/invocations',
      body,
    );
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    expect(other.body.invocationId).toBe(first.body.invocationId);
    // The random number of b is the same: one run, not three.
    expect(other.body.output.r).toBe(first.body.output.r);
    const atMaster = await api.request('POST', '/v1/workflows/ingress-chain/invocations', body);
    expect(atMaster.body.invocationId).toBe(first.body.invocationId);
  });

  it("gives the master's errors for bad input and unknown workflows", async () => {
    const w = workers[1]!;
    const bad = await w.request('POST', '/v1/workflows/ingress-chain/invocations', {
      input: { n: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INPUT_INVALID');
    const big = await w.request('POST', '/v1/workflows/ingress-chain/invocations', {
      input: { n: 1 },
      timeoutMs: 999_999_999,
    });
    expect(big.status).toBe(400);
    expect(big.body.message).toContain('timeoutMs');
    const unknown = await w.request('POST', '/v1/workflows/nope/invocations', { input: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('WORKFLOW_NOT_FOUND');
    const missing = await w.request('GET', '/v1/invocations/inv_doesnotexist');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('INVOCATION_NOT_FOUND');
  });
});

const up = await requireRedis();

describe.skipIf(!up)('worker ingress: durability', () => {
  const prefix = uniquePrefix('ingress');
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 3,
      redisUrl: redisUrl(),
      placement: 'round-robin',
      masterFlags: [
        `--redis-url=${redisUrl()}`,
        `--redis-prefix=${prefix}`,
        '--worker-timeout-ms=1500',
        '--view-interval-ms=200',
      ],
      workerFlags: () => [`--redis-prefix=${prefix}`, '--memory-mb=512', '--heartbeat-ms=250'],
    }));
    await deploy(api, SLOW);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop(10_000);
  });

  it('finishes an invocation through the master when its ingress worker is killed mid-run', async () => {
    const workers = await ingresses(api, 'ingress-slow');
    const ingress = workers[0]!;
    // The warm-up invocations of `ingresses` end first, so only ours is left to adopt.
    await new Promise((r) => setTimeout(r, 3_500));
    const res = await ingress.request('POST', '/v1/workflows/ingress-slow/invocations', {
      input: { n: 4 },
      wait: false,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.invocationId as string;
    await new Promise((r) => setTimeout(r, 600));
    const wid = (await api.request('GET', '/v1/workers')).body.workers.find(
      (w: { url: string }) => w.url === ingress.url,
    ).id as string;
    await cluster.kill(`worker-${wid.slice(1)}`, 'SIGKILL', 0);
    const view = await eventually(async () => {
      const r = await api.request('GET', `/v1/invocations/${id}`);
      return r.status === 200 && r.body.status !== 'running' ? r.body : undefined;
    }, 30_000);
    expect(view.status, JSON.stringify(view.error)).toBe('succeeded');
    expect(view.output.n).toBe(55);
    expect(view.durability.mode).toBe('checkpoint');
    expect(view.durability.recoveries).toBeGreaterThan(0);
    await eventually(
      async () => ((await scanKeys(`${prefix}j:${id}`)).length === 0 ? true : undefined),
      5_000,
    );
  }, 90_000);
});
