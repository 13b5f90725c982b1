/**
 * The workflow routes over the master store (the master's fastify app, real HTTP parsing via
 * inject, the real catalogue and lmdb store in a temporary data dir):
 * - an upload answers 201 only once the version is stored: a master built again over the same
 *   data dir lists it, with its version counter;
 * - an upload whose store write fails answers 503 STORE_UNAVAILABLE and leaves nothing: the
 *   workflow is not listed and the next successful upload gets the number the failed one would
 *   have had;
 * - a delete whose store write fails answers 503 and the workflow stays deployed.
 */
import { authOff } from '../helpers/master-context.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../shared/http-client.js';
import { silentLogger } from '../../shared/logger.js';
import { buildMasterApp } from '../../master/app.js';
import { loadMasterConfig } from '../../master/config.js';
import type { InvocationManager } from '../../master/invocations/manager.js';
import { DeploymentTracker } from '../../master/registry/deployments.js';
import { WorkerRegistry } from '../../master/registry/workers.js';
import { LmdbMasterStore } from '../../master/store/lmdb.js';
import type { MasterStore } from '../../master/store/types.js';
import { WorkflowCatalog, type WorkflowVersion } from '../../master/workflow/catalog.js';

const YAML = `
name: stored
functions:
  inc: { code: "export default async (x) => ({ n: x.n + 1 })" }
flow:
  sequence: [inc]
`;

let parent = '';
beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'ff-workflow-store-'));
});
afterAll(async () => {
  await rm(parent, { recursive: true, force: true });
});

/** Fails writes while `failing` is set, as a full disk or a lost Redis would. */
function flaky(store: MasterStore): MasterStore & { failing: boolean } {
  // The real store underneath; only the two catalogue writes are intercepted.
  const s = Object.create(store) as MasterStore & { failing: boolean };
  s.failing = false;
  s.putVersion = (v: WorkflowVersion) =>
    s.failing ? Promise.reject(new Error('disk full')) : store.putVersion(v);
  s.deleteWorkflow = (name: string) =>
    s.failing ? Promise.reject(new Error('disk full')) : store.deleteWorkflow(name);
  return s;
}

const opened: { app: FastifyInstance; store: MasterStore; http: HttpClient }[] = [];
/** Closes what the test opened so far (the data dir lock included). */
async function closeAll(): Promise<void> {
  for (const m of opened.splice(0)) {
    await m.app.close();
    await m.store.close();
    await m.http.close();
  }
}
afterEach(closeAll);

async function master(
  dataDir: string,
): Promise<{ app: FastifyInstance; store: MasterStore & { failing: boolean } }> {
  const config = loadMasterConfig({ store: 'lmdb', dataDir }, {});
  const store = flaky(LmdbMasterStore.open({ dataDir, sync: 'commit', logger: silentLogger }));
  const http = new HttpClient();
  const app = buildMasterApp(
    {
      config,
      catalog: await WorkflowCatalog.load(store),
      registry: new WorkerRegistry(config.workerTimeoutMs),
      deployments: new DeploymentTracker(http, silentLogger),
      // The workflow routes never touch invocations; nothing here starts one.
      invocations: {} as InvocationManager,
      store,
      ...(await authOff()),
    },
    silentLogger,
  );
  opened.push({ app, store, http });
  return { app, store };
}

const upload = (app: FastifyInstance) =>
  app.inject({ method: 'POST', url: '/v1/workflows', payload: { yaml: YAML } });
const list = async (app: FastifyInstance) =>
  (await app.inject({ method: 'GET', url: '/v1/workflows' })).json<{
    workflows: { name: string; version: number }[];
  }>().workflows;

describe('workflow routes over the master store', () => {
  it('answers an upload once stored: a master built again over the data dir lists it', async () => {
    const dir = join(parent, 'a');
    const first = await master(dir);
    expect((await upload(first.app)).json()).toMatchObject({ name: 'stored', version: 1 });
    expect((await upload(first.app)).json()).toMatchObject({ version: 2 });
    const del = await first.app.inject({ method: 'DELETE', url: '/v1/workflows/stored' });
    expect(del.statusCode).toBe(204);
    expect((await upload(first.app)).json()).toMatchObject({ version: 3 });
    await closeAll();

    const second = await master(dir);
    expect(await list(second.app)).toEqual([
      expect.objectContaining({ name: 'stored', version: 3 }),
    ]);
    expect((await upload(second.app)).json()).toMatchObject({ version: 4 });
  });

  it('answers 503 STORE_UNAVAILABLE for an upload it could not store, and keeps nothing of it', async () => {
    const { app, store } = await master(join(parent, 'b'));
    await upload(app);
    store.failing = true;
    const failed = await upload(app);
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: expect.stringContaining('disk full'),
    });
    expect(await list(app)).toEqual([expect.objectContaining({ version: 1 })]);

    const del = await app.inject({ method: 'DELETE', url: '/v1/workflows/stored' });
    expect(del.statusCode).toBe(503);
    expect(await list(app)).toHaveLength(1);

    store.failing = false;
    expect((await upload(app)).json()).toMatchObject({ version: 2 });
  });
});
