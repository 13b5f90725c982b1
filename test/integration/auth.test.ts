/**
 * Cluster-token authentication between master and workers, on real sockets (port 0, loopback),
 * master and worker started in this process with a logger we read:
 * - the master's worker-facing routes answer 401 without a token and with a wrong one, and log
 *   the rejection (address and path); with the token the request is served;
 * - every worker route but /healthz and /metrics answers 401 without or with a wrong token, and
 *   logs it; with the token it is served;
 * - a worker and a master sharing the token register, deploy and run an invocation end to end
 *   (deploys, triggers and reports all carry the token);
 * - a worker process started with a wrong token is refused by the master and exits non-zero,
 *   saying why.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distRoot } from '../../deploy/local-cluster.js';
import type { Logger } from '../../shared/logger.js';
import { loadMasterConfig } from '../../master/config.js';
import { MasterServer } from '../../master/server.js';
import { loadWorkerConfig } from '../../worker/config.js';
import { WorkerServer } from '../../worker/server.js';
import { client, eventually } from '../helpers/cluster.js';
import { repoRoot } from '../../bench/paths.js';

const TOKEN = 'integration-token-0123';
const WRONG = 'integration-token-9999';

interface LogRecord {
  level: number;
  msg: string;
  url?: string;
  ip?: string;
}

function capturingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) },
  );
  return { logger, records };
}

const masterLog = capturingLogger();
const wrongDataDir = mkdtempSync(join(tmpdir(), 'faasflow-auth-wrong-data-'));
const workerLog = capturingLogger();
let master: MasterServer;
let worker: WorkerServer;

beforeAll(async () => {
  master = await MasterServer.start(
    loadMasterConfig({ host: '127.0.0.1', port: 0, token: TOKEN }, {}),
    masterLog.logger,
  );
  worker = await WorkerServer.start(
    loadWorkerConfig(
      {
        workerId: 'auth-w1',
        host: '127.0.0.1',
        port: 0,
        masterUrl: master.url,
        token: TOKEN,
        cpu: 2,
        memoryMb: 1024,
      },
      {},
    ),
    workerLog.logger,
  );
});

afterAll(async () => {
  await worker?.close();
  await master?.close();
  // The workers' default spill folders, named after this file's worker ids.
  for (const id of ['auth-w1', 'auth-wrong'])
    rmSync(join(tmpdir(), `faasflow-${id}`), { recursive: true, force: true });
  rmSync(wrongDataDir, { recursive: true, force: true });
});

async function send(
  url: string,
  method: string,
  headers: Record<string, string> = {},
  body?: unknown,
) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

const registration = {
  id: 'auth-probe',
  url: 'http://127.0.0.1:9',
  capacity: { cpu: 1, memoryMb: 128 },
  runtime: 'process',
  version: 'test',
};

describe('master: worker-facing routes', () => {
  it.each([
    ['without a token', {}],
    ['with a wrong token', { authorization: `Bearer ${WRONG}` }],
    ['with the token but no Bearer scheme', { authorization: TOKEN }],
  ])('rejects a registration %s with 401 and logs it', async (_case, headers) => {
    const before = masterLog.records.length;
    const r = await send(`${master.url}/v1/workers`, 'POST', headers, registration);
    expect(r.status).toBe(401);
    expect(r.body).toEqual({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/cluster token/),
    });
    const logged = masterLog.records.slice(before);
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: expect.stringMatching(/rejected .*token/),
        url: '/v1/workers',
        ip: expect.any(String),
      }),
    );
  });

  it('rejects reports and triggers without the token', async () => {
    expect(
      (await send(`${master.url}/v1/internal/reports`, 'POST', {}, { reports: [] })).status,
    ).toBe(401);
    expect(
      (await send(`${master.url}/v1/trigger`, 'POST', { authorization: `Bearer ${WRONG}` }, {}))
        .status,
    ).toBe(401);
  });

  it('serves a request that carries the token', async () => {
    // A heartbeat from a worker it does not know: past auth, the route itself answers 404.
    const r = await send(
      `${master.url}/v1/workers/nobody/heartbeat`,
      'POST',
      { authorization: `Bearer ${TOKEN}` },
      {
        load: { running: 0, queued: 0, invocations: 0, memoryBytes: 0 },
      },
    );
    expect(r.status).toBe(404);
  });
});

describe('worker: every route but health and metrics', () => {
  it.each([
    ['POST', '/v1/trigger'],
    ['GET', '/v1/objects/some-key'],
    ['POST', '/v1/invocations/release'],
    ['DELETE', '/v1/deployments/some-workflow'],
  ])(
    '%s %s answers 401 without a token and with a wrong one, and logs both',
    async (method, path) => {
      const before = workerLog.records.length;
      const attempts: Record<string, string>[] = [{}, { authorization: `Bearer ${WRONG}` }];
      for (const headers of attempts) {
        const r = await send(`${worker.url}${path}`, method, headers);
        expect(r.status).toBe(401);
        expect(r.body.code).toBe('UNAUTHORIZED');
      }
      const logged = workerLog.records
        .slice(before)
        .filter((x) => x.level === 40 && /token/.test(x.msg));
      expect(logged.map((x) => x.url)).toEqual([path, path]);
    },
  );

  it('serves a request that carries the token', async () => {
    const r = await send(`${worker.url}/v1/objects/some-key`, 'GET', {
      authorization: `Bearer ${TOKEN}`,
    });
    expect(r.status).not.toBe(401);
    expect(r.body.code).not.toBe('UNAUTHORIZED');
  });

  it('POST /v1/objects/fetch never calls out for a peer ref held elsewhere (no SSRF)', async () => {
    let connections = 0;
    const bait = createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((done) => bait.listen(0, '127.0.0.1', done));
    const port = (bait.address() as AddressInfo).port;
    try {
      const ref = {
        tier: 'peer',
        key: 'default:inv-1:a',
        worker: 'someone-else',
        url: `http://127.0.0.1:${port}`,
        sizeBytes: 1,
      };
      const r = await fetch(`${worker.url}/v1/objects/fetch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ref }),
      });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { message: string }).message).toMatch(
        /held by worker someone-else; read it from that worker/,
      );
      expect(connections).toBe(0);
    } finally {
      bait.close();
    }
  });

  it('leaves /healthz and /metrics open for probes and scrapers', async () => {
    expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/metrics`)).status).toBe(200);
  });
});

describe('master and worker sharing the token', () => {
  it('register, deploy and run an invocation end to end', async () => {
    const api = client(master.url);
    await eventually(async () => {
      const r = await api.request('GET', '/v1/workers');
      return r.body.workers.some(
        (w: { id: string; status: string }) => w.id === 'auth-w1' && w.status === 'ready',
      );
    });
    await api.deploy(join(repoRoot(), 'deploy', 'examples', 'hello.yaml'));
    const r = await api.invoke('hello', { name: 'ada' });
    expect(r).toMatchObject({ status: 'succeeded', output: { greeting: 'Hello, ADA!' } });
  });
});

describe('a worker with the wrong token', () => {
  it('is refused by the master and exits non-zero, naming the token', async () => {
    const before = masterLog.records.length;
    const child = spawn(
      process.execPath,
      [
        join(distRoot(), 'worker', 'main.js'),
        '--worker-id=auth-wrong',
        '--port=0',
        `--master-url=${master.url}`,
        `--token=${WRONG}`,
        `--data-dir=${wrongDataDir}`,
      ],
      {
        env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toMatch(/failed to start/);
    expect(output).toMatch(/UNAUTHORIZED|cluster token/);
    expect(masterLog.records.slice(before)).toContainEqual(
      expect.objectContaining({ url: '/v1/workers', level: 40 }),
    );
  });
});
