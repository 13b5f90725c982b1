/**
 * Adaptive task chains on a cluster (a master and one worker as processes, process sandboxes,
 * idle timeout 2 s so sandboxes go cold between invocations): with `prewarm: {mode: eager}` the
 * sandbox of the node that starts ~0.7 s after the start is prepared before its trigger
 * arrives — its step says `prepared: true`, is warm, and its worker measured no cold start —
 * while the chain model learns the workflow (`GET /v1/workflows/:name/chains`); a workflow that
 * follows another in the same session has its first node prepared from the other's start, and
 * the timeline shows what was predicted beside what happened. Invoked on the worker's own API
 * (no master on the path), the worker plans the same prepares from its kit of the master's model.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { client, eventually, startCluster, type Api } from '../helpers/cluster.js';
import { deploy } from '../../deploy/cli/client.js';

const fixture = join(repoRoot(), 'test/fixtures/workflows/chains-late.yaml');

describe('prepares ahead on a cluster', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 1,
      env: { FAASFLOW_IDLE_MS: '2000' },
    }));
    await api.deploy(fixture);
    await api.deploy(join(repoRoot(), 'test/fixtures/workflows/chains-upload.yaml'));
    await api.deploy(join(repoRoot(), 'test/fixtures/workflows/chains-analyse.yaml'));
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the late node finds a sandbox prepared before its trigger and runs warm', async () => {
    const runs: any[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api.invoke('e2e-chains', { n: i });
      expect(r.status).toBe('succeeded');
      expect(r.output).toBe(i + 1);
      runs.push(
        await eventually(async () => {
          const inv = await api.invocation(r.invocationId);
          return inv.steps?.length >= 2 && inv;
        }),
      );
      await sleep(2_400); // every sandbox goes cold in between
    }
    const last = runs[runs.length - 1];
    const late = last.steps.find((s: any) => s.node.includes('late'));
    expect(late).toBeDefined();
    expect(late.prepared).toBe(true);
    expect(late.cold).toBe(false);
    expect(late.initMs).toBeUndefined();
    const slow = last.steps.find((s: any) => s.node.includes('slow'));
    // Its trigger came when slow was done, ≥ 0.7 s after the start: the sandbox was ready then.
    expect(late.readyAt).toBeGreaterThanOrEqual(slow.finishedAt);

    const view = await eventually(async () => {
      const res = await api.request('GET', '/v1/workflows/e2e-chains/chains');
      expect(res.status).toBe(200);
      expect(res.body.observed).toBeGreaterThanOrEqual(4);
      return res.body;
    });
    expect(view.mode).toBe('eager');
    const node = view.nodes.find((n: any) => n.function === 'late');
    expect(node.startMs.p50).toBeGreaterThanOrEqual(250);
  }, 60_000);

  it('prepares ahead for an invocation taken on a worker’s own API', async () => {
    const url = await eventually(async () => {
      const r = await api.request('GET', '/v1/workers');
      return (r.body.workers as { url: string; status: string }[]).find((w) => w.status === 'ready')
        ?.url;
    });
    const worker = client(url);
    const runs: any[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await eventually(async () => {
        const r = await worker.request('POST', '/v1/workflows/e2e-chains/invocations', {
          input: { n: i },
        });
        return r.status === 200 && r;
      });
      expect(res.body.output).toBe(i + 1);
      runs.push(
        await eventually(async () => {
          const r = await worker.request('GET', `/v1/invocations/${res.body.invocationId}`);
          return r.body.steps?.length >= 2 && r.body;
        }),
      );
      await sleep(2_400); // every sandbox goes cold in between
    }
    // The first start fetched the kit (it never waits for it); the later ones planned with it.
    const last = runs[runs.length - 1];
    const late = last.steps.find((s: any) => s.node.includes('late'));
    expect(late).toMatchObject({ prepared: true, cold: false });
    expect(runs[0].prewarm).toBeUndefined();
    // Recorded on the invocation, as the master shows it once the worker shipped the record.
    const shown = await eventually(async () => (await api.invocation(last.invocationId)).prewarm);
    expect(shown.mode).toBe('eager');
    expect(shown.prepares.some((p: any) => p.node.includes('late'))).toBe(true);
  }, 60_000);

  it('prepares the first node of a workflow that follows in the same session', async () => {
    const rounds: { upload: any; analyse: any }[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = Date.now();
      const u = await api.invoke('e2e-chain-upload', { i }, { session: `s${i}` });
      expect(u.status).toBe('succeeded');
      await sleep(Math.max(0, 400 - (Date.now() - t0)));
      const a = await api.invoke('e2e-chain-analyse', { i }, { session: `s${i}` });
      expect(a).toMatchObject({ status: 'succeeded', output: { analysed: { i } } });
      const [upload, analyse] = await Promise.all(
        [u, a].map((r) =>
          eventually(async () => {
            const inv = await api.invocation(r.invocationId);
            return inv.steps?.length >= 1 && inv;
          }),
        ),
      );
      rounds.push({ upload, analyse });
      await sleep(2_400); // every sandbox goes cold in between
    }
    // Unknown at first: the analysis starts cold.
    expect(rounds[0]!.analyse.steps[0]).toMatchObject({ cold: true });
    const last = rounds[rounds.length - 1]!;
    expect(last.upload.prewarm.prepares).toContainEqual(
      expect.objectContaining({ workflow: 'e2e-chain-analyse', reason: 'successor' }),
    );
    expect(last.analyse.steps[0]).toMatchObject({ cold: false, prepared: true });
    // The upload's timeline: what was predicted beside what happened.
    const store = last.upload.prewarm.nodes[0];
    expect(store.predicted.probability).toBe(1);
    expect(store.predicted.startMs).not.toBeNull();
    expect(store.ran).toBe(true);
    expect(store.actual).toMatchObject({ cold: expect.any(Boolean) });
    const view = await api.request('GET', '/v1/workflows/e2e-chain-upload/chains');
    expect(view.body.successors[0]).toMatchObject({ workflow: 'e2e-chain-analyse' });
  }, 90_000);

  it('hands each tier its preload: files as ctx.preloaded, uploaded by faasflow deploy', async () => {
    await deploy(api.url, join(repoRoot(), 'test/fixtures/workflows/preload/workflow.yaml'));
    const r = await api.invoke('e2e-preload', null);
    expect(r.status, JSON.stringify(r)).toBe('succeeded');
    const expected = {
      names: ['data/labels.json', 'data/weights.bin'],
      labels: { cat: 0, dog: 1 },
      weightBytes: 1 + 256 * 4,
      firstWeight: 7,
    };
    expect(r.output).toEqual([expected, expected, expected]);
    // Uploaded without its preload files (the test helper sends handlers only): refused, naming each.
    await expect(
      api.deploy(join(repoRoot(), 'test/fixtures/workflows/preload/workflow.yaml'), {
        name: 'e2e-preload-missing',
      }),
    ).rejects.toThrow(
      /files are missing from the upload: inProcess \(preload data\/labels\.json\)/,
    );
  }, 60_000);
});
