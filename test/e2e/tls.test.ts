/**
 * TLS between real processes on network-namespace hosts (root, iproute2 and openssl needed;
 * under CI=true their absence fails the suite). A CA and a certificate per host (its address as
 * the subject alternative name) are made with the openssl CLI in the test. Scenarios:
 * - mutual TLS: a master and two workers on three hosts serve HTTPS, advertise https:// and
 *   run an invocation whose groups cross hosts, with a cluster token; a client without a
 *   certificate is refused at the handshake, one with the CA's certificate is served;
 * - a worker bound to a non-loopback address without a cluster token refuses to start, naming
 *   --token and --insecure (the namespace clusters of other suites start theirs with --insecure).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch, setGlobalDispatcher, getGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distRoot } from '../../deploy/local-cluster.js';
import {
  netnsSupport,
  startNetnsCluster,
  type NetnsCluster,
  type NetnsHost,
} from '../../deploy/netns/index.js';
import { run } from '../../deploy/netns/run.js';
import { client } from '../helpers/cluster.js';

const support = await netnsSupport().then(async (s) => {
  if (!s.ok) return s;
  return run(['openssl', 'version']).then(
    () => s,
    (err: Error) => ({ ok: false as const, reason: `openssl is missing: ${err.message}` }),
  );
});
if (!support.ok) {
  if (process.env['CI'] === 'true')
    throw new Error(`TLS e2e needs root, iproute2 and openssl: ${support.reason}`);
  console.warn(`skipping TLS e2e: ${support.reason}`);
}

const dir = mkdtempSync(join(tmpdir(), 'faasflow-tls-'));
const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
const openssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

function makeCa(): void {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ca.key]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    '1',
    '-subj',
    '/CN=faasflow test CA',
  ]);
}

/** A certificate for `address` signed by the CA (serverAuth and clientAuth). */
function certFor(address: string): { cert: string; key: string } {
  const key = join(dir, `${address}.key`);
  const csr = join(dir, `${address}.csr`);
  const cert = join(dir, `${address}.crt`);
  const ext = join(dir, `${address}.ext`);
  writeFileSync(
    ext,
    `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`,
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${address}`]);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '1',
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

const tlsFlags = (host: NetnsHost): string[] => {
  const c = certFor(host.address);
  return [`--tls-cert=${c.cert}`, `--tls-key=${c.key}`, `--tls-ca=${ca.cert}`, '--tls-mutual'];
};

const TWO_HOSTS = `
name: across
functions:
  make:
    code: "export default async (x) => ({ blob: 'b'.repeat(x.n) })"
  size:
    code: "export default async (x) => ({ length: x.blob.length })"
flow:
  sequence:
    - task: make
    - task: size
`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!support.ok)('mutual TLS across namespace hosts', () => {
  let c: NetnsCluster;
  const before = getGlobalDispatcher();
  beforeAll(async () => {
    makeCa();
    // The test process is a client too: the cluster's readiness checks go through fetch.
    const admin = certFor('198.18.255.254');
    setGlobalDispatcher(
      new Agent({
        connect: {
          ca: readFileSync(ca.cert),
          cert: readFileSync(admin.cert),
          key: readFileSync(admin.key),
        },
      }),
    );
    c = await startNetnsCluster({
      workers: 2,
      redis: false,
      token: 'tls-e2e-token-0123',
      logDir: join(dir, 'logs'),
      masterFlags: tlsFlags,
      workerFlags: (_i, host) => tlsFlags(host),
    });
  }, 120_000);
  afterAll(async () => {
    await c?.stop();
    setGlobalDispatcher(before);
  });

  it('serves HTTPS everywhere and runs an invocation across hosts', async () => {
    expect(c.masterUrl).toMatch(/^https:\/\/198\.1[89]\./);
    const api = client(c.masterUrl);
    await c.local.waitForWorkers(2, 30_000);
    const workers = (await api.request('GET', '/v1/workers')).body.workers as { url: string }[];
    expect(workers.map((w) => new URL(w.url).protocol)).toEqual(['https:', 'https:']);
    expect((await api.request('POST', '/v1/workflows', { yaml: TWO_HOSTS })).status).toBe(201);
    const r = await api.invoke('across', { n: 50_000 });
    expect(r).toMatchObject({ status: 'succeeded', output: { length: 50_000 } });
  });

  it('refuses a client without a certificate at the handshake and serves one with it', async () => {
    const bare = new Agent({ connect: { ca: readFileSync(ca.cert) } });
    const refused = await undiciFetch(`${c.masterUrl}/healthz`, { dispatcher: bare }).then(
      () => 'served',
      (err: Error & { cause?: { code?: string; message?: string } }) =>
        err.cause?.code ?? err.cause?.message ?? err.message,
    );
    expect(refused).not.toBe('served');
    await bare.close();
    const plain = await fetch(c.masterUrl.replace('https:', 'http:') + '/healthz').then(
      (res) => res.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
    expect((await fetch(`${c.masterUrl}/healthz`)).status).toBe(200);
  });
});

describe('a worker on a non-loopback address', () => {
  const start = (args: string[]): Promise<{ code: number; stderr: string; stdout: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [join(distRoot(), 'worker', 'main.js'), ...args],
        { timeout: 15_000, env: { ...process.env, FAASFLOW_TOKEN: '', LOG_LEVEL: 'info' } },
        (err, stdout, stderr) =>
          resolve({
            code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1,
            stdout,
            stderr,
          }),
      );
    });

  it('refuses to start without a cluster token, naming the way out', async () => {
    const r = await start(['--host=0.0.0.0', '--port=0', '--master-url=http://127.0.0.1:1']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/no cluster token.*--token.*--insecure/);
  });
});
