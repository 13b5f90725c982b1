/**
 * Harvesting's HTTP API on the master's real fastify app (no listen: `inject`), with its store
 * in a real Redis (unique key prefix, cleaned up afterwards) and a master with harvesting off.
 *
 * Scenarios:
 * - with harvesting off, every harvesting route and `profile: true` answer 409 CONFLICT saying
 *   how to turn it on;
 * - profiles import as CSV, JSON lines or a JSON array; records of another workflow or broken
 *   lines are rejected with every problem listed;
 * - exports stream CSV or JSON lines across many store pages, page by offset/limit, and parse
 *   back to exactly what was imported; an unknown workflow without profiles is a 404;
 * - models: none before training; training on demand answers the new set's summary with the
 *   held-out evaluation, which GET then lists; too few records is a 409 naming the count;
 * - bad names and formats are 400s in the repo's error shape.
 */
import { authOff } from '../helpers/master-context.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { HttpClient } from '../../shared/http-client.js';
import { silentLogger } from '../../shared/logger.js';
import { TriggerSender } from '../../shared/trigger-sender.js';
import { PeerClient } from '../../shared/channel/peers.js';
import { buildMasterApp } from '../../master/app.js';
import { loadMasterConfig } from '../../master/config.js';
import { Harvester } from '../../master/harvest/harvester.js';
import {
  formatProfileCsv,
  formatProfileJson,
  parseProfileCsv,
  parseProfileJson,
  type ProfileRecord,
} from '../../master/harvest/profile.js';
import { createRedisHarvestStore } from '../../master/harvest/redis-store.js';
import { inlineTrainer } from '../../master/harvest/trainer.js';
import { InvocationManager } from '../../master/invocations/manager.js';
import { DeploymentTracker } from '../../master/registry/deployments.js';
import { WorkerRegistry } from '../../master/registry/workers.js';
import { MemoryMasterStore } from '../../master/store/memory.js';
import { WorkflowCatalog } from '../../master/workflow/catalog.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';
import { THESIS_GRID } from '../../shared/harvest/types.js';

const redisUp = await requireRedis();
const prefix = uniquePrefix('harvest-api');

const YAML = `
name: pair
functions:
  big: { code: "export default async (x) => x", cpu: 2, memory: 512 }
  small: { code: "export default async (x) => x", cpu: 2, memory: 512 }
flow:
  parallel: [big, small]
`;

function records(workflow: string, invocations: number): ProfileRecord[] {
  const out: ProfileRecord[] = [];
  for (let i = 0; i < invocations; i++)
    for (const [index, fn] of ['big', 'small'].entries())
      out.push({
        workflow,
        version: 1,
        function: fn,
        node: fn,
        invocationId: `inv_${i}`,
        dagInputBytes: 1000 * (i + 1),
        inputBytes: (1000 * (i + 1)) / (index + 1),
        stage: 'big+small',
        index,
        width: 2,
        peakCpuCores: fn === 'big' ? 2.5 : 0.4,
        peakMemoryMb: 150 + i,
        durationMs: 10,
        allocation: { cpu: 8, memoryMb: 8192 },
        at: 1_700_000_000_000 + i,
      });
  return out;
}

interface Master {
  app: FastifyInstance;
  close(): Promise<void>;
}

async function master(harvest: boolean): Promise<Master> {
  const config = loadMasterConfig(
    harvest ? { harvest: 'on', redisUrl: redisUrl(), redisPrefix: prefix } : {},
    {},
  );
  const http = new HttpClient();
  const peers = new PeerClient(http, null);
  const sender = new TriggerSender(peers);
  const catalog = new WorkflowCatalog();
  const registry = new WorkerRegistry(config.workerTimeoutMs);
  const deployments = new DeploymentTracker(http, silentLogger);
  const harvester = harvest
    ? new Harvester({
        store: await createRedisHarvestStore(redisUrl(), { prefix, profileLimit: 100_000 }),
        trainer: inlineTrainer(),
        logger: silentLogger,
        retrainEvery: 1_000_000,
        trainLimit: 300,
        // The thesis's grid and peak rule: the expectations below are its whole cores.
        grid: THESIS_GRID,
        cpuPolicy: 'peak',
      })
    : undefined;
  const invocations = new InvocationManager({
    catalog,
    registry,
    deployments,
    peers,
    sender,
    logger: silentLogger,
    masterUrl: () => 'http://127.0.0.1:1',
    mode: 'worker',
    placement: 'greedy-jsq',
    inlineMaxBytes: 4096,
    retain: 100,
    ...(harvester ? { harvest: harvester } : {}),
  });
  const app = buildMasterApp(
    {
      config,
      catalog,
      registry,
      deployments,
      invocations,
      store: new MemoryMasterStore(),
      ...(harvester ? { harvest: harvester } : {}),
      ...(await authOff()),
    },
    silentLogger,
  );
  const deployed = await app.inject({
    method: 'POST',
    url: '/v1/workflows',
    headers: { 'content-type': 'application/yaml' },
    payload: YAML,
  });
  expect(deployed.statusCode).toBe(201);
  return {
    app,
    async close() {
      invocations.close();
      await app.close();
      await harvester?.close();
      sender.close();
      await http.close();
    },
  };
}

describe('harvesting off', () => {
  let m: Master;
  beforeAll(async () => {
    m = await master(false);
  });
  afterAll(() => m?.close());

  it.each([
    ['GET', '/v1/workflows/pair/profiles'],
    ['POST', '/v1/workflows/pair/profiles'],
    ['GET', '/v1/workflows/pair/models'],
    ['POST', '/v1/workflows/pair/models/train'],
  ])('%s %s answers 409 saying how to turn harvesting on', async (method, url) => {
    const r = await m.app.inject({
      method: method as 'GET',
      url,
      payload: method === 'POST' ? 'x' : undefined,
      headers: method === 'POST' ? { 'content-type': 'text/csv' } : {},
    });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('--harvest on --redis-url'),
    });
  });

  it('refuses a profiling invocation', async () => {
    const r = await m.app.inject({
      method: 'POST',
      url: '/v1/workflows/pair/invocations',
      payload: { input: 1, profile: true },
    });
    expect(r.statusCode).toBe(409);
    expect(r.json().message).toContain('profile: true needs harvesting');
  });
});

describe.skipIf(!redisUp)('harvesting on', () => {
  let m: Master;
  beforeAll(async () => {
    m = await master(true);
  });
  afterAll(async () => {
    await m?.close();
    await deletePrefix(prefix);
  });

  const imported = records('pair', 1500);

  it('imports CSV, JSON lines and JSON arrays, and rejects foreign or broken records', async () => {
    const post = (payload: string, type: string) =>
      m.app.inject({
        method: 'POST',
        url: '/v1/workflows/pair/profiles',
        headers: { 'content-type': type },
        payload,
      });
    let r = await post(formatProfileCsv(imported.slice(0, 1000)), 'text/csv');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ imported: 1000, profiles: { stored: 1000 } });
    r = await post(formatProfileJson(imported.slice(1000, 2000)), 'application/x-ndjson');
    expect(r.json()).toMatchObject({ imported: 1000, profiles: { stored: 2000 } });
    r = await m.app.inject({
      method: 'POST',
      url: '/v1/workflows/pair/profiles',
      payload: imported.slice(2000),
    });
    expect(r.json()).toMatchObject({ imported: 1000, profiles: { stored: 3000 } });

    r = await post(formatProfileCsv(records('other', 2)), 'text/csv');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'BAD_REQUEST' });
    expect(r.json().details.problems).toHaveLength(4);
    expect(r.json().message).toContain('workflow is "other", not pair');
    r = await post('workflow,version\npair,1\n', 'text/csv');
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toContain('missing column');
    r = await post('{"workflow": "pair"}\nnot json\n', 'application/x-ndjson');
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/line 2: not valid JSON/);
  });

  it('streams exports across store pages that parse back to what was imported', async () => {
    const csv = await m.app.inject({ method: 'GET', url: '/v1/workflows/pair/profiles' });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.headers['x-faasflow-records']).toBe('3000');
    expect(parseProfileCsv(csv.body)).toEqual(imported);
    const json = await m.app.inject({
      method: 'GET',
      url: '/v1/workflows/pair/profiles?format=json&offset=1200&limit=5',
    });
    expect(json.headers['content-type']).toContain('application/x-ndjson');
    expect(parseProfileJson(json.body)).toEqual(imported.slice(1200, 1205));
    const past = await m.app.inject({
      method: 'GET',
      url: '/v1/workflows/pair/profiles?offset=5000',
    });
    expect(parseProfileCsv(past.body)).toEqual([]);
  });

  it('trains on demand and lists the set with its held-out accuracy', async () => {
    let r = await m.app.inject({ method: 'GET', url: '/v1/workflows/pair/models' });
    expect(r.json()).toMatchObject({ current: null, history: [], profiles: { stored: 3000 } });
    r = await m.app.inject({ method: 'POST', url: '/v1/workflows/pair/models/train' });
    expect(r.statusCode).toBe(200);
    const trained = r.json();
    expect(trained).toMatchObject({ version: 1, records: 300, ml1: 1, ml2: 2 });
    expect(trained.evaluation.pipeline.cpu.n).toBeGreaterThan(0);
    expect(trained.evaluation.overall.cpu.accuracy).toBe(1);
    r = await m.app.inject({ method: 'GET', url: '/v1/workflows/pair/models' });
    expect(r.json()).toMatchObject({
      current: { version: 1 },
      history: [{ version: 1 }],
      training: { running: false, queued: false, lastError: null },
    });
  });

  it('answers 409 to a training with too few records, 404 for an unknown workflow', async () => {
    await m.app.inject({
      method: 'POST',
      url: '/v1/workflows/lonely/profiles',
      headers: { 'content-type': 'text/csv' },
      payload: formatProfileCsv(records('lonely', 2)),
    });
    const r = await m.app.inject({ method: 'POST', url: '/v1/workflows/lonely/models/train' });
    expect(r.statusCode).toBe(409);
    expect(r.json().message).toContain('lonely has 4 usable profile records');
    const unknown = await m.app.inject({ method: 'GET', url: '/v1/workflows/ghost/profiles' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'WORKFLOW_NOT_FOUND' });
  });

  it('rejects bad workflow names and formats with 400', async () => {
    const name = await m.app.inject({ method: 'GET', url: '/v1/workflows/Bad_Name/models' });
    expect(name.statusCode).toBe(400);
    expect(name.json().message).toContain('is not a workflow name');
    const format = await m.app.inject({
      method: 'GET',
      url: '/v1/workflows/pair/profiles?format=xml',
    });
    expect(format.statusCode).toBe(400);
    expect(format.json()).toMatchObject({ code: 'BAD_REQUEST' });
  });
});
