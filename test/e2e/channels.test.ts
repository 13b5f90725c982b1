/**
 * Channels between real processes (docs/design.md §4, "Channels"):
 * - a master and 3 workers with a cluster token run a fan-out + join and a dag-join over
 *   channels: triggers between workers, start triggers, sink reports and releases are served on
 *   the channels (the processes' /metrics count them), results as over HTTP;
 * - a channel handshake without the token, or with a wrong one, is refused UNAUTHORIZED;
 * - a worker with `transport: http` (a peer that refuses the upgrade) takes part through the
 *   HTTP fallback in both directions, and the workflows give the same results.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { dial } from '../../shared/channel/handshake.js';
import { startCluster, type Api } from '../helpers/cluster.js';

const fixtures = join(repoRoot(), 'test/fixtures/workflows');
const TOKEN = 'channels-e2e-token';

async function served(url: string, who: 'worker' | 'master'): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  const re = new RegExp(`^faasflow_${who}_channel_requests_total\\{op="([^"]+)"\\} (\\d+)$`, 'gm');
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
  return out;
}

async function workerUrls(api: Api): Promise<string[]> {
  const r = await api.request('GET', '/v1/workers');
  return (r.body.workers as { url: string }[]).map((w) => w.url).sort();
}

const sum = (xs: Record<string, number>[], op: string): number =>
  xs.reduce((s, x) => s + (x[op] ?? 0), 0);

describe('a cluster over channels', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 3,
      masterFlags: [`--token=${TOKEN}`],
      workerFlags: () => [`--token=${TOKEN}`, '--heartbeat-ms=250'],
    }));
    await api.deploy(join(fixtures, 'fanout.yaml'));
    await api.deploy(join(fixtures, 'dag-join.yaml'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs workflows with triggers, reports and releases on the channels', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await api.invoke('e2e-fanout', { base: 10 });
      expect(r).toMatchObject({ status: 'succeeded', output: { total: 116, count: 8 } });
    }
    const j = await api.invoke('e2e-dag-join', { v: 3 });
    expect(j).toMatchObject({ status: 'succeeded', output: { sum: 37 } });
    const workers = await Promise.all((await workerUrls(api)).map((u) => served(u, 'worker')));
    const master = await served(cluster.masterUrl, 'master');
    expect(sum(workers, 'triggers')).toBeGreaterThanOrEqual(6); // at least the start triggers
    expect(master['reports'] ?? 0).toBeGreaterThan(0);
    // Releases linger 20 ms and heartbeats come every 250 ms; poll rather than sleep.
    const until = Date.now() + 5_000;
    let releases = 0;
    let heartbeats = 0;
    while (Date.now() < until) {
      const now = await Promise.all((await workerUrls(api)).map((u) => served(u, 'worker')));
      releases = sum(now, 'release');
      heartbeats = (await served(cluster.masterUrl, 'master'))['heartbeat'] ?? 0;
      if (releases > 0 && heartbeats > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(releases).toBeGreaterThan(0);
    expect(heartbeats).toBeGreaterThan(0);
  });

  it('refuses a channel handshake without the cluster token or with a wrong one', async () => {
    const [url] = await workerUrls(api);
    for (const target of [url!, cluster.masterUrl]) {
      await expect(dial(target, { handlers: {}, timeoutMs: 2_000 })).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
        retryable: false,
      });
      await expect(
        dial(target, { handlers: {}, timeoutMs: 2_000, token: 'not-the-token' }),
      ).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      const ok = await dial(target, { handlers: {}, timeoutMs: 2_000, token: TOKEN });
      await ok.close();
    }
  });
});

describe('a worker with transport: http among channel peers', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 2,
      // Round-robin placement and workers too small for the whole fan-out: the groups span both
      // workers, so the channel worker is sent triggers whatever the partition.
      placement: 'round-robin',
      workerFlags: (i) => ['--memory-mb=512', ...(i === 1 ? ['--transport=http'] : [])],
    }));
    await api.deploy(join(fixtures, 'fanout.yaml'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('is reached over HTTP and reaches the others over HTTP, with the same results', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await api.invoke('e2e-fanout', { base: i });
      expect(r).toMatchObject({ status: 'succeeded', output: { total: 8 * i + 36, count: 8 } });
    }
    const inv = await api.invoke('e2e-fanout', { base: 1 });
    const steps = (await api.invocation(inv.invocationId)).steps as { worker: string }[];
    expect(new Set(steps.map((s) => s.worker)).size).toBe(2);
    const urls = await workerUrls(api);
    const metrics = await Promise.all(urls.map(async (u) => (await fetch(`${u}/metrics`)).text()));
    // One worker has no channels at all; the other serves triggers on its channels.
    const httpOnly = urls.filter((_, i) => !metrics[i]!.includes('faasflow_worker_channels'));
    expect(httpOnly).toHaveLength(1);
    expect(metrics.some((m) => /channel_requests_total\{op="triggers"\} [1-9]/.test(m))).toBe(true);
    await expect(dial(httpOnly[0]!, { handlers: {}, timeoutMs: 2_000 })).rejects.toMatchObject({
      name: 'ChannelRefused',
      status: 404,
    });
  });
});
