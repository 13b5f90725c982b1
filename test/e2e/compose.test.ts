/**
 * Composition with a real cluster (a master and two workers as processes, the embedded store):
 * - the workflow deploys as one version with a variant per option; every answer and record
 *   carries `composition: { graph, variant, propensity, explored, modelVersion }`;
 * - the cluster converges to the faster graph per context (the input's language decides which
 *   OCR is fast), from measured latency alone;
 * - a sub-tenant a policy denies ocr-accurate never runs it, exploring or not;
 * - feedback is taken once per invocation inside its window and refused after;
 * - GET /v1/workflows/:name/composition ranks the graphs per sub-tenant and context, and
 *   `faasflow compose NAME --sub-tenant S` prints the same ranking (text and --json).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distRoot, type LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distRoot(), 'deploy', 'cli', 'main.js'), ...args],
      { timeout: 15_000 },
      (err, stdout) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout }),
    );
  });
}

const fixture = join(repoRoot(), 'test/fixtures/workflows/compose-ocr.yaml');

describe('composition on a cluster', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({ workers: 2 }));
    const d = await api.deploy(fixture);
    expect(d.variants).toEqual(['ocr=fast', 'ocr=accurate']);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('converges to the faster graph per context and never runs a denied option', async () => {
    const ran: { lang: string; sub: string; variant: string; explored: boolean; v: number }[] = [];
    for (let i = 0; i < 140; i++) {
      const lang = i % 2 === 0 ? 'en' : 'de';
      const sub = i % 7 === 0 ? 'acme-1' : 'beta';
      const r = await api.invoke(
        'e2e-compose',
        { text: 'x'.repeat(i % 10), lang },
        { subTenant: sub },
      );
      expect(r.status).toBe('succeeded');
      const c = r.composition;
      expect(Object.keys(c).sort()).toEqual(
        ['explored', 'graph', 'modelVersion', 'propensity', 'variant'].sort(),
      );
      expect(c.propensity).toBeGreaterThan(0);
      expect(c.propensity).toBeLessThanOrEqual(1);
      expect(r.output.by).toBe(c.variant === 'ocr=fast' ? 'fast' : 'accurate');
      ran.push({ lang, sub, variant: c.variant, explored: c.explored, v: c.modelVersion });
    }
    expect(ran.filter((x) => x.sub === 'acme-1').every((x) => x.variant === 'ocr=fast')).toBe(true);
    expect(ran.at(-1)!.v).toBeGreaterThan(0);
    const late = ran.slice(-40).filter((x) => x.sub === 'beta' && !x.explored);
    expect(late.length).toBeGreaterThan(10);
    for (const x of late) expect(x.variant).toBe(x.lang === 'en' ? 'ocr=fast' : 'ocr=accurate');

    const rank = await api.request(
      'GET',
      `/v1/workflows/e2e-compose/composition?subTenant=beta&input=${encodeURIComponent(JSON.stringify({ lang: 'de', text: 'abc' }))}`,
    );
    expect(rank.status).toBe(200);
    expect(rank.body.graphs[0]).toMatchObject({
      rank: 1,
      variant: 'ocr=accurate',
      graph: ['ocr-accurate', 'audit'],
    });
    expect(rank.body.graphs[0].expectedReward).toBeGreaterThan(rank.body.graphs[1].expectedReward);
    expect(rank.body.graphs[0].uncertainty).toBeGreaterThan(0);
    const acme = await api.request('GET', '/v1/workflows/e2e-compose/composition?subTenant=acme-7');
    expect(acme.body.admissible).toBe(1);
    expect(acme.body.graphs.map((g: { variant: string }) => g.variant)).toEqual(['ocr=fast']);

    const input = JSON.stringify({ lang: 'de', text: 'abc' });
    const asJson = await cli([
      'compose',
      'e2e-compose',
      '--master',
      api.url,
      '--sub-tenant',
      'beta',
      '--input',
      input,
      '--json',
    ]);
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout).graphs[0].variant).toBe('ocr=accurate');
    const text = await cli([
      'compose',
      'e2e-compose',
      '--master',
      api.url,
      '--sub-tenant',
      'acme-2',
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('1 of 2 graphs admissible');
    expect(text.stdout).toMatch(/ {3}1 .* ocr=fast {2}\(ocr-fast → audit\)/);
  }, 120_000);

  it('records the composition and takes one feedback within the window', async () => {
    const r = await api.invoke('e2e-compose', { lang: 'en' }, { subTenant: 'beta' });
    const inv = await api.invocation(r.invocationId);
    expect(inv.subTenant).toBe('beta');
    expect(inv.composition).toEqual(r.composition);
    const fb = await api.request('POST', `/v1/invocations/${r.invocationId}/feedback`, {
      rating: 1,
    });
    expect(fb.status).toBe(200);
    expect(fb.body).toMatchObject({ accepted: true, rating: 1 });
    expect(typeof fb.body.reward).toBe('number');
    const again = await api.request('POST', `/v1/invocations/${r.invocationId}/feedback`, {
      rating: 2,
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/feedback already/);

    const logged = async (): Promise<number> =>
      (await api.request('GET', '/v1/workflows/e2e-compose/composition')).body.decisions as number;
    const late = await api.invoke('e2e-compose', { lang: 'en' }, { subTenant: 'beta' });
    // Every composed invocation is logged once its reward is settled — this one's only after
    // its window (200 ms) closed: the 140 of the first test, the rated one, and this one.
    await eventually(async () => (await logged()) >= 142, 5_000);
    const closed = await api.request('POST', `/v1/invocations/${late.invocationId}/feedback`, {
      rating: 1,
    });
    expect(closed.status).toBe(409);
    expect(closed.body.message).toMatch(/window/);
    const bad = await api.request('POST', `/v1/invocations/${late.invocationId}/feedback`, {
      rating: 'good',
    });
    expect(bad.status).toBe(400);
  }, 30_000);
});
