/**
 * Tenants, API keys and isolation against real processes: a master with `--auth on` (lmdb
 * store, an admin key file it creates, an audit log file) and one worker, both from dist/.
 * - without a key, or with a wrong one, a client route answers 401 and the audit log has the
 *   failure with the caller's address; /healthz stays open; the admin key file is 0600;
 * - the admin key creates tenants; a tenant's keys carry roles: read may not deploy, invoke may
 *   not delete, a tenant's admin may not manage tenants (403), another tenant's keys are 404;
 * - two tenants each deploy `x` and each runs its own; neither sees the other's workflow or
 *   invocation (404, as if absent); `subTenant` is recorded on the invocation;
 * - a revoked key is refused at once; tenants and keys survive a master restart;
 * - only the admin key and a tenant named in --privileged-tenants may deploy functions outside
 *   the sandbox's confinement (isolation thread/trusted, network host): others get 403;
 * - limits: maxConcurrent and maxVersions answer 429 with Retry-After, and the refused deploy
 *   leaves no version behind; maxWorkflowBytes refuses an upload over it;
 * - the worker refuses a trigger whose workflow or object reference is another tenant's (403),
 *   and runs a tenant's large-input invocation (the master's input object) normally;
 * - the CLI: `tenants create|list|delete`, `keys create|list|revoke` with --api-key, and
 *   `up --auth on` saving its admin key where `faasflow workers` finds it without --api-key.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distRoot, type LocalCluster } from '../../deploy/local-cluster.js';
import { client, eventually, startCluster, type Api } from '../helpers/cluster.js';

const tmp = mkdtempSync(join(tmpdir(), 'faasflow-tenants-'));
const keyFile = join(tmp, 'admin.key');
const auditFile = join(tmp, 'audit.log');

const workflow = (name: string, answer: string): string => `
name: ${name}
functions:
  f:
    code: "export default async (x) => ({ answer: '${answer}', got: x })"
flow:
  task: f
`;
const SLOW = `
name: slow
functions:
  wait:
    code: "export default async (x) => { await new Promise((r) => setTimeout(r, x.ms)); return { waited: x.ms } }"
flow:
  task: wait
`;

let cluster: LocalCluster;
let api: Api;
let adminKey = '';

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
const as = (key: string) => ({
  get: (path: string) => api.request('GET', path, undefined, bearer(key)),
  post: (path: string, body: unknown = {}) => api.request('POST', path, body, bearer(key)),
  del: (path: string) => api.request('DELETE', path, undefined, bearer(key)),
  deploy: (yaml: string) => api.request('POST', '/v1/workflows', { yaml }, bearer(key)),
  invoke: (name: string, body: Record<string, unknown> = {}) =>
    api.request('POST', `/v1/workflows/${name}/invocations`, body, bearer(key)),
});

async function newTenant(
  name: string,
  extra: Record<string, unknown> = {},
): Promise<{ apiKey: string; keyId: string }> {
  const r = await as(adminKey).post('/v1/tenants', { name, ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return { apiKey: r.body.apiKey as string, keyId: r.body.key.id as string };
}

async function keyOf(tenant: string, tenantAdmin: string, role: string): Promise<string> {
  const r = await as(tenantAdmin).post(`/v1/tenants/${tenant}/keys`, { role });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.apiKey as string;
}

function auditLines(): Record<string, unknown>[] {
  return readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  ({ cluster, api } = await startCluster({
    workers: 1,
    masterFlags: [
      '--auth=on',
      `--admin-key-file=${keyFile}`,
      `--audit-log=${auditFile}`,
      '--privileged-tenants=trusted-team',
    ],
  }));
  await cluster.waitForWorkers(1, 20_000);
  adminKey = readFileSync(keyFile, 'utf8').trim();
});

afterAll(async () => {
  await cluster?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('auth on', () => {
  it('answers 401 without a key or with a wrong one, audits it with the address, keeps /healthz open', async () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const masterLog = cluster.processes.find((p) => p.name === 'master')!.logFile;
    expect(readFileSync(masterLog, 'utf8')).toContain('admin key created');
    const missing = await api.request('GET', '/v1/workflows');
    expect(missing.status).toBe(401);
    expect(missing.body.code).toBe('UNAUTHORIZED');
    const wrong = await api.request('GET', '/v1/workflows', undefined, bearer('ffk_nope'));
    expect(wrong.status).toBe(401);
    expect((await api.request('GET', '/healthz')).status).toBe(200);
    expect(auditLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'auth.failed',
          ip: '127.0.0.1',
          url: '/v1/workflows',
          reason: 'missing',
        }),
        expect.objectContaining({ event: 'auth.failed', reason: 'invalid' }),
      ]),
    );
  });

  it('gives each role what it may do and 403 for the rest', async () => {
    const acme = await newTenant('roles');
    const read = await keyOf('roles', acme.apiKey, 'read');
    const invoke = await keyOf('roles', acme.apiKey, 'invoke');
    expect((await as(read).deploy(workflow('x', 'r'))).status).toBe(403);
    const deployed = await as(acme.apiKey).deploy(workflow('x', 'r'));
    expect(deployed.status).toBe(201);
    expect((await as(read).get('/v1/workflows')).body.workflows).toHaveLength(1);
    expect((await as(read).invoke('x')).status).toBe(403);
    expect((await as(invoke).invoke('x')).body.status).toBe('succeeded');
    const del = await as(invoke).del('/v1/workflows/x');
    expect(del.status).toBe(403);
    expect(del.body.code).toBe('FORBIDDEN');
    expect((await as(acme.apiKey).post('/v1/tenants', { name: 'sneaky' })).status).toBe(403);
    expect((await as(invoke).post('/v1/tenants/roles/keys', { role: 'admin' })).status).toBe(403);
    const listed = await as(acme.apiKey).get('/v1/tenants/roles/keys');
    expect(listed.body.keys.map((k: { role: string }) => k.role).sort()).toEqual([
      'admin',
      'invoke',
      'read',
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(read);
  });

  it("isolates two tenants' same-named workflows and invocations", async () => {
    const a = await newTenant('acme');
    const b = await newTenant('beta');
    expect((await as(a.apiKey).deploy(workflow('x', 'from-acme'))).status).toBe(201);
    expect((await as(b.apiKey).deploy(workflow('x', 'from-beta'))).status).toBe(201);
    const ra = await as(a.apiKey).invoke('x', { input: 1, subTenant: 'user-7.eu' });
    const rb = await as(b.apiKey).invoke('x', { input: 2 });
    expect(ra.body.output).toEqual({ answer: 'from-acme', got: 1 });
    expect(rb.body.output).toEqual({ answer: 'from-beta', got: 2 });

    const mine = await as(a.apiKey).get(`/v1/invocations/${ra.body.invocationId}`);
    expect(mine.body).toMatchObject({ workflow: 'x', tenant: 'acme', subTenant: 'user-7.eu' });
    const theirs = await as(a.apiKey).get(`/v1/invocations/${rb.body.invocationId}`);
    expect(theirs.status).toBe(404);
    expect(theirs.body.code).toBe('INVOCATION_NOT_FOUND');
    expect((await as(a.apiKey).post(`/v1/invocations/${rb.body.invocationId}/cancel`)).status).toBe(
      404,
    );
    expect(
      (await as(a.apiKey).get('/v1/invocations')).body.invocations.map(
        (i: { invocationId: string }) => i.invocationId,
      ),
    ).toEqual([ra.body.invocationId]);
    // A name qualified by hand does not reach the other tenant's workflow.
    expect((await as(a.apiKey).invoke('beta.x')).status).toBe(404);
    expect((await as(a.apiKey).get('/v1/tenants/beta/keys')).status).toBe(404);
    expect((await as(a.apiKey).del('/v1/workflows/x')).status).toBe(204);
    expect((await as(b.apiKey).invoke('x', { input: 3 })).body.output.answer).toBe('from-beta');
    expect((await as(a.apiKey).invoke('x')).status).toBe(404);
    expect((await as(b.apiKey).invoke('bad', { subTenant: 'has space' })).status).toBe(400);
    expect(auditLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'tenant.created', tenant: 'acme', by: 'admin' }),
        expect.objectContaining({ event: 'workflow.deployed', tenant: 'beta', workflow: 'x' }),
        expect.objectContaining({ event: 'workflow.deleted', tenant: 'acme', workflow: 'x' }),
      ]),
    );
  });

  it('refuses a revoked key at once and keeps tenants and keys across a master restart', async () => {
    const t = await newTenant('keep');
    const extra = await keyOf('keep', t.apiKey, 'read');
    const extraId = (await as(t.apiKey).get('/v1/tenants/keep/keys')).body.keys.find(
      (k: { id: string }) => k.id !== t.keyId,
    ).id as string;
    expect((await as(t.apiKey).del(`/v1/tenants/keep/keys/${extraId}`)).status).toBe(204);
    expect((await as(extra).get('/v1/workflows')).status).toBe(401);
    expect(auditLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'key.revoked', tenant: 'keep', key: extraId }),
      ]),
    );
    await cluster.kill('master', 'SIGTERM');
    await cluster.restartMaster();
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(adminKey);
    expect((await as(t.apiKey).get('/v1/workflows')).status).toBe(200);
    expect((await as(extra).get('/v1/workflows')).status).toBe(401);
    await cluster.waitForWorkers(1, 20_000);
  });

  it('answers 429 with Retry-After over a limit, leaving nothing of the refused request', async () => {
    const t = await newTenant('small', {
      limits: { maxConcurrent: 1, maxVersions: 1, maxWorkflowBytes: 2_000 },
    });
    expect((await as(t.apiKey).deploy(SLOW)).status).toBe(201);
    const again = await as(t.apiKey).deploy(SLOW);
    expect(again.status).toBe(429);
    expect(again.body.code).toBe('LIMIT_EXCEEDED');
    const info = await as(t.apiKey).get('/v1/workflows/slow');
    expect(info.body.versions).toHaveLength(1);
    const big = await as(t.apiKey).deploy(workflow('big', 'y'.repeat(3_000)));
    expect(big.status).toBe(429);
    expect((await as(t.apiKey).get('/v1/workflows')).body.workflows).toHaveLength(1);

    const first = await as(t.apiKey).invoke('slow', { input: { ms: 1_500 }, wait: false });
    expect(first.status).toBe(202);
    const res = await fetch(`${api.url}/v1/workflows/slow/invocations`, {
      method: 'POST',
      headers: { ...bearer(t.apiKey), 'content-type': 'application/json' },
      body: JSON.stringify({ input: { ms: 1 } }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another tenant is not held back by this one's limit.
    const other = await newTenant('roomy');
    expect((await as(other.apiKey).deploy(workflow('x', 'ok'))).status).toBe(201);
    expect((await as(other.apiKey).invoke('x')).body.status).toBe('succeeded');
    await eventually(async () => {
      const r = await as(t.apiKey).get(`/v1/invocations/${first.body.invocationId}`);
      return r.body.status === 'succeeded';
    }, 15_000);
    await eventually(
      async () => (await as(t.apiKey).invoke('slow', { input: { ms: 1 } })).status === 200,
      5_000,
    );
  });

  it('lets only the admin key and privileged tenants deploy functions outside the confinement', async () => {
    const unconfined = `
name: loose
functions:
  near: { isolation: trusted, code: "export default async () => ({ ran: 'trusted' })" }
  wide: { network: host, code: "export default async () => ({ ran: 'host' })" }
flow: { sequence: [near, wide] }
`;
    const t = await newTenant('plain');
    const refused = await as(t.apiKey).deploy(unconfined);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('FORBIDDEN');
    expect(refused.body.message).toContain('functions.near.isolation: trusted');
    expect(refused.body.message).toContain('functions.wide.network: host');
    expect((await as(t.apiKey).get('/v1/workflows/loose')).status).toBe(404);
    // The operator named `trusted-team` on the master's command line.
    const p = await newTenant('trusted-team');
    expect((await as(p.apiKey).deploy(unconfined)).status).toBe(201);
    expect((await as(p.apiKey).invoke('loose')).body).toMatchObject({
      status: 'succeeded',
      output: { ran: 'host' },
    });
    expect((await as(adminKey).deploy(unconfined)).status).toBe(201);
  });
});

describe('the worker', () => {
  async function workerUrl(): Promise<string> {
    const r = await as(adminKey).get('/v1/workers');
    return r.body.workers[0].url as string;
  }
  const trigger = (workflow: string, tenant: string, ref: unknown) => ({
    invocationId: 'inv_0000000000abcdefabcdefab',
    workflow,
    version: 1,
    node: 'f',
    from: null,
    ref,
    placement: { groups: ['w'], workers: { w: 'http://127.0.0.1:1' } },
    ctx: {
      tenant,
      deadline: Date.now() + 10_000,
      input: { tier: 'inline', data: '', sizeBytes: 0 },
      master: 'http://127.0.0.1:1',
      mode: 'worker',
    },
  });

  it("refuses a trigger of another tenant's workflow or naming another tenant's object", async () => {
    const w = client(await workerUrl());
    const inline = { tier: 'inline', data: 'bnVsbA==', sizeBytes: 4 };
    const foreignWorkflow = await w.request(
      'POST',
      '/v1/trigger',
      trigger('beta.x', 'acme', inline),
    );
    expect(foreignWorkflow.status).toBe(403);
    expect(foreignWorkflow.body.message).toMatch(/belongs to tenant beta/);
    const peek = {
      tier: 'peer',
      key: 'beta:inv_0000000000abcdefabcdefab:f',
      worker: 'w',
      url: 'http://127.0.0.1:1',
      sizeBytes: 10,
    };
    const foreignObject = await w.request('POST', '/v1/trigger', trigger('acme.x', 'acme', peek));
    expect(foreignObject.status).toBe(403);
    expect(foreignObject.body.code).toBe('FORBIDDEN');
  });

  it("runs a tenant's invocation whose input the master serves as an object", async () => {
    const t = await newTenant('large');
    expect((await as(t.apiKey).deploy(workflow('x', 'big'))).status).toBe(201);
    const input = 'z'.repeat(20_000);
    const r = await as(t.apiKey).invoke('x', { input });
    expect(r.body.status).toBe('succeeded');
    expect(r.body.output).toEqual({ answer: 'big', got: input });
  });
});

describe('the CLI', () => {
  const cli = (
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(distRoot(), 'deploy', 'cli', 'main.js'), ...args],
        {
          timeout: 20_000,
          env: { ...process.env, FAASFLOW_CREDENTIALS: join(tmp, 'none.json'), ...env },
        },
        (err, stdout, stderr) =>
          resolve({
            code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1,
            stdout,
            stderr,
          }),
      );
    });

  it('creates, lists and deletes tenants and keys with --api-key or FAASFLOW_API_KEY', async () => {
    const m = ['--master', api.url];
    const noKey = await cli(['tenants', 'list', ...m]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/401 UNAUTHORIZED.*\n.*--api-key/);
    const made = await cli(['tenants', 'create', 'cli-t', '--json', ...m, '--api-key', adminKey]);
    expect(made.code, made.stderr).toBe(0);
    const tenantKey = (JSON.parse(made.stdout) as { apiKey: string }).apiKey;
    const env = { FAASFLOW_API_KEY: tenantKey };
    const key = await cli(['keys', 'create', 'cli-t', '--role', 'read', '--json', ...m], env);
    expect(key.code, key.stderr).toBe(0);
    const id = (JSON.parse(key.stdout) as { key: { id: string } }).key.id;
    const listed = await cli(['keys', 'list', 'cli-t', ...m], env);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(tenantKey);
    expect((await cli(['keys', 'revoke', 'cli-t', id, ...m], env)).code).toBe(0);
    expect((await cli(['keys', 'list', 'cli-t', ...m], env)).stdout).not.toContain(id);
    expect((await cli(['tenants', 'list', ...m], { FAASFLOW_API_KEY: adminKey })).stdout).toMatch(
      /cli-t/,
    );
    expect(
      (await cli(['tenants', 'delete', 'cli-t', ...m], { FAASFLOW_API_KEY: adminKey })).code,
    ).toBe(0);
    expect((await cli(['workers', ...m], env)).code).toBe(1);
  });

  it('`up --auth on` saves its admin key where the other commands find it', async () => {
    const dir = mkdtempSync(join(tmp, 'up-'));
    const credentials = join(dir, 'credentials.json');
    const up = spawn(
      process.execPath,
      [
        join(distRoot(), 'deploy', 'cli', 'main.js'),
        'up',
        '--auth',
        'on',
        '--workers',
        '1',
        '--port',
        '0',
        '--data-dir',
        join(dir, 'data'),
      ],
      { env: { ...process.env, FAASFLOW_CREDENTIALS: credentials }, stdio: 'pipe' },
    );
    let out = '';
    up.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const url = await eventually(
        () => Promise.resolve(/auth on: .* saved for (http:\/\/\S+) in/.exec(out)?.[1]),
        40_000,
      );
      expect(statSync(credentials).mode & 0o777).toBe(0o600);
      expect((await fetch(`${url}/v1/workers`)).status).toBe(401);
      const workers = await cli(['workers', '--json', '--master', url], {
        FAASFLOW_CREDENTIALS: credentials,
      });
      expect(workers.code, workers.stderr).toBe(0);
      expect((JSON.parse(workers.stdout) as { workers: unknown[] }).workers).toHaveLength(1);
    } finally {
      up.kill('SIGTERM');
      await new Promise((r) => up.once('exit', r));
    }
  });
});
