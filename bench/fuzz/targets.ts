/**
 * The doors under fuzz: a real master (in-memory store) and a real worker (process sandboxes)
 * started in this process on loopback port 0, the worker registered with the master and the
 * `hello` example deployed and invoked once, so requests can name things that exist. Requests
 * are injected in-process (no socket per case); the master and worker still talk over HTTP.
 *
 * What "stored" means for each (a rejected request must leave it as it was):
 * - master: the catalogue (names and versions), the invocation list's total, the workers;
 * - worker: every file under its data folder (deployments write handler files there) and the
 *   invocations it holds.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../shared/logger.js';
import { silentLogger } from '../../shared/logger.js';
import { loadMasterConfig } from '../../master/config.js';
import { MasterServer } from '../../master/server.js';
import { loadWorkerConfig } from '../../worker/config.js';
import { WorkerServer } from '../../worker/server.js';
import { repoRoot } from '../paths.js';
import type { FuzzTarget } from './http.js';

export interface FuzzCluster {
  master: FuzzTarget;
  worker: FuzzTarget;
  /** The worker's data folder (deployments write there). */
  workerDataPath: string;
  close(): Promise<void>;
}

async function json(t: { inject: FuzzTarget['inject'] }, url: string): Promise<unknown> {
  const res = await t.inject({ method: 'GET', url });
  return JSON.parse(res.body) as unknown;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${p.slice(dir.length)}:${(await stat(p).catch(() => null))?.size ?? '-'}`);
    }
  };
  await walk(dir);
  return out.sort();
}

export async function startFuzzCluster(logger: Logger = silentLogger): Promise<FuzzCluster> {
  const m = await MasterServer.start(
    loadMasterConfig({ host: '127.0.0.1', port: 0, store: 'memory' }, {}),
    logger,
  );
  let w: WorkerServer | undefined;
  try {
    w = await WorkerServer.start(
      loadWorkerConfig(
        {
          workerId: `fuzz-${process.pid}`,
          host: '127.0.0.1',
          port: 0,
          masterUrl: m.url,
          cpu: 2,
          memoryMb: 1024,
        },
        {},
      ),
      logger,
    );
    const worker = w;
    // Registration finishes (deployments pushed, marked ready) after the worker has started.
    for (let deadline = Date.now() + 20_000; ;) {
      const list = (await json(m, '/v1/workers')) as { workers: { status: string }[] };
      if (list.workers.some((x) => x.status === 'ready')) break;
      if (Date.now() > deadline) throw new Error('fuzz setup: the worker never became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const yaml = await readFile(join(repoRoot(), 'deploy/examples/hello.yaml'), 'utf8');
    const deployed = await m.inject({
      method: 'POST',
      url: '/v1/workflows',
      headers: { 'content-type': 'application/yaml' },
      payload: yaml,
    });
    if (deployed.statusCode !== 201) throw new Error(`fuzz setup: deploy said ${deployed.body}`);
    const invoked = await m.inject({
      method: 'POST',
      url: '/v1/workflows/hello/invocations',
      payload: { input: { name: 'fuzz' } },
    });
    const { invocationId } = JSON.parse(invoked.body) as { invocationId: string };
    if (invoked.statusCode !== 200) throw new Error(`fuzz setup: invoke said ${invoked.body}`);
    const known = {
      name: ['hello'],
      workflow: ['hello'],
      version: ['1'],
      // Not the worker's id: a request that deregisters it is accepted (2xx), and its
      // re-registration would then change the state under a later case.
      id: [invocationId],
      key: [`default:${invocationId}:upper`],
      file: ['index.html', 'app.js'],
    };
    const master: FuzzTarget = {
      name: 'master',
      routes: m.routes,
      inject: (r) => m.inject(r),
      known,
      async snapshot() {
        const workflows = (await json(m, '/v1/workflows')) as {
          workflows: { name: string; version: number }[];
        };
        const invocations = (await json(m, '/v1/invocations?limit=1')) as { total: number };
        const workers = (await json(m, '/v1/workers')) as {
          workers: { id: string }[];
        };
        return JSON.stringify({
          workflows: workflows.workflows.map((x) => `${x.name}@${x.version}`),
          invocations: invocations.total,
          // Ids only: statuses move on their own (heartbeats, timeouts).
          workers: workers.workers.map((x) => x.id).sort(),
        });
      },
    };
    const workerTarget: FuzzTarget = {
      name: 'worker',
      // Not the placement view's PUT: a valid view replaces the one the master pushed (a 2xx
      // that changes where later cases forward to), as a registration would on the master.
      routes: worker.routes.filter((r) => !(r.method === 'PUT' && r.url === '/v1/cluster/view')),
      inject: (r) => worker.inject(r),
      known,
      async snapshot() {
        return JSON.stringify({ files: await listFiles(worker.dataPath) });
      },
    };
    return {
      master,
      worker: workerTarget,
      workerDataPath: worker.dataPath,
      async close() {
        await worker.close();
        await m.close();
      },
    };
  } catch (err) {
    await w?.close();
    await m.close();
    throw err;
  }
}
