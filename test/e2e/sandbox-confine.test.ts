/**
 * Confinement of the process sandbox against real processes (issue: tenants and isolation,
 * "Sandboxes"): on this root host a handler runs as `nobody`, cannot read a root-only file of the
 * worker, and — in its own network namespace — cannot reach the worker's or the master's HTTP
 * port, nor Redis. A function that declares `network: host` reaches them (which shows the probe
 * can tell the difference), still as `nobody`.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { startCluster, type Api } from '../helpers/cluster.js';

/** Tries a TCP connection to each port on 127.0.0.1; reports `open` or the error code. */
const PROBE = `export default async (x) => {
  const net = await import('node:net');
  const fs = await import('node:fs');
  const reach = (port) => new Promise((done) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(3000, () => { s.destroy(); done('timeout'); });
    s.once('connect', () => { s.destroy(); done('open'); });
    s.once('error', (e) => done(e.code ?? String(e)));
  });
  const ports = {};
  for (const [name, port] of Object.entries(x.ports)) ports[name] = await reach(port);
  let secret;
  try { fs.readFileSync(x.secret, 'utf8'); secret = 'read'; } catch (e) { secret = e.code; }
  return { uid: process.getuid(), gid: process.getgid(), ports, secret };
}`;

const yamlOf = (name: string, network: 'none' | 'host'): string => `name: ${name}
functions:
  probe: { memory: 128, network: ${network}, code: ${JSON.stringify(PROBE)} }
flow: { task: probe }
`;

describe('process sandbox confinement', () => {
  let cluster: LocalCluster;
  let api: Api;
  let dir: string;
  let ports: Record<string, number>;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root (it checks the drop)');
    ({ cluster, api } = await startCluster({ workers: 1 }));
    dir = mkdtempSync(join(tmpdir(), 'ff-confine-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'secret'), 'root only', { mode: 0o600 });
    for (const [name, network] of [
      ['confine-none', 'none'],
      ['confine-host', 'host'],
    ] as const) {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, yamlOf(name, network));
      await api.deploy(file);
    }
    const workers = (await api.request('GET', '/v1/workers')).body.workers as { url: string }[];
    ports = {
      master: Number(new URL(cluster.masterUrl).port),
      worker: Number(new URL(workers[0]!.url).port),
      redis: 6379,
    };
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a handler as nobody, in a network namespace where no port of the host answers', async () => {
    const r = await api.invoke('confine-none', { ports, secret: join(dir, 'secret') });
    expect(r.status).toBe('succeeded');
    expect(r.output).toMatchObject({ uid: 65534, gid: 65534, secret: 'EACCES' });
    for (const [name, outcome] of Object.entries(r.output.ports as Record<string, string>)) {
      expect({ name, outcome }).toEqual({ name, outcome: expect.not.stringMatching(/^open$/) });
    }
  });

  it('with network: host the same probe reaches the ports, still as nobody', async () => {
    const r = await api.invoke('confine-host', { ports, secret: join(dir, 'secret') });
    expect(r.status).toBe('succeeded');
    expect(r.output).toMatchObject({
      uid: 65534,
      secret: 'EACCES',
      ports: { master: 'open', worker: 'open' },
    });
  });
});
