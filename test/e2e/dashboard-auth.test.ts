/**
 * The dashboard behind API keys, in Debian's Chromium: a master with `--auth on` (an admin key
 * file it creates) and one worker, with a cluster token between them; two tenants, each with its
 * own workflow and invocations.
 *
 * Scenarios:
 * - without a key the page shows an "API key needed" state: no data, no table, no script error;
 * - a key set through that state's button (the browser's prompt) shows that tenant's workflows
 *   and invocations only, and its invocations' timelines;
 * - another tenant's key shows none of them, and the first tenant's invocation is not found;
 * - an unknown key is "API key refused";
 * - on the worker's /ui the same: no key, no data; the tenant's key, the tenant's invocations
 *   (the worker passes the key on and the master judges it; the cluster token is not asked for
 *   there, and still guards the worker's other routes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { client, startCluster, type Api } from '../helpers/cluster.js';

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
import {
  openBrowser,
  requireChromium,
  screenshotDir,
  visit,
  type Browser,
} from '../helpers/dashboard.js';

const ready = requireChromium();
const shotDir = screenshotDir('dashboard-auth');
const tmp = mkdtempSync(join(tmpdir(), 'faasflow-dash-auth-'));
const TOKEN = 'dashboard-auth-e2e-token';

const workflow = (name: string): string => `
name: ${name}
functions:
  f: { code: "export default async (x) => ({ seen: x })" }
  g: { code: "export default async (x) => ({ done: x.seen })" }
dag:
  f: { task: f }
  g: { task: g, after: [f] }
`;

interface Tenant {
  key: string;
  workflow: string;
  invocations: string[];
}

describe.skipIf(!ready)('dashboard behind API keys', () => {
  let cluster: LocalCluster;
  let api: Api;
  let workerUrl: string;
  let b: Browser;
  const pageErrors: string[] = [];
  const tenants: Record<'alpha' | 'beta', Tenant> = {
    alpha: { key: '', workflow: 'alpha-report', invocations: [] },
    beta: { key: '', workflow: 'beta-digest', invocations: [] },
  };

  beforeAll(async () => {
    const keyFile = join(tmp, 'admin.key');
    ({ cluster, api } = await startCluster({
      workers: 1,
      masterFlags: [
        '--auth=on',
        `--admin-key-file=${keyFile}`,
        '--cluster-name=secured',
        `--token=${TOKEN}`,
      ],
      workerFlags: () => [`--token=${TOKEN}`],
    }));
    const admin = { authorization: `Bearer ${readFileSync(keyFile, 'utf8').trim()}` };
    for (const [name, t] of Object.entries(tenants)) {
      const created = await api.request('POST', '/v1/tenants', { name }, admin);
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      t.key = created.body.apiKey as string;
      const as = { authorization: `Bearer ${t.key}` };
      const deployed = await api.request(
        'POST',
        '/v1/workflows',
        { yaml: workflow(t.workflow) },
        as,
      );
      expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
      for (let i = 0; i < 2; i++) {
        const r = await api.request(
          'POST',
          `/v1/workflows/${t.workflow}/invocations`,
          { input: { i } },
          as,
        );
        expect(r.body.status, JSON.stringify(r.body)).toBe('succeeded');
        t.invocations.push(r.body.invocationId as string);
      }
    }
    const workers = await api.request('GET', '/v1/workers', undefined, admin);
    workerUrl = workers.body.workers[0].url as string;
    b = await openBrowser();
    b.page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await cluster?.stop(10_000);
    rmSync(tmp, { recursive: true, force: true });
  });

  const shot = async (name: string): Promise<void> => {
    await b.page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
  };
  const count = (selector: string): Promise<number> => b.page.locator(selector).count();
  const listedIds = (): Promise<string[]> =>
    b.page
      .locator('#invocations-table tbody tr td:first-child a')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
  /** Sets the key through the page's own prompt, from `button`. */
  const enterKey = async (button: string, key: string): Promise<void> => {
    b.page.once('dialog', (d) => void d.accept(key));
    await b.page.click(button);
  };

  it('shows "API key needed" without a key, and no data', async () => {
    for (const hash of ['#/workflows', '#/invocations']) {
      await visit(b.page, api.url, hash, '#auth-needed');
      expect(await b.page.textContent('#auth-needed h1')).toBe('API key needed');
      expect(await count('table')).toBe(0);
    }
    expect(await b.page.textContent('#api-key')).toBe('API key: none');
    expect(await count('#cluster-badges .badge')).toBe(0);
    await shot('auth-needed');
    expect(pageErrors).toEqual([]);
  });

  it('with a tenant key shows that tenant’s workflows and invocations only', async () => {
    const { alpha, beta } = tenants;
    await visit(b.page, api.url, '#/invocations', '#auth-needed');
    await enterKey('#auth-set-key', alpha.key);
    await b.page.waitForSelector('#invocations-table tbody tr');
    expect(new Set(await listedIds())).toEqual(new Set(alpha.invocations));
    expect(await b.page.textContent('#api-key')).toBe('API key: set');
    expect(await b.page.textContent('#cluster-name')).toBe('secured');
    await shot('tenant-invocations');

    await visit(b.page, api.url, '#/workflows', '#workflows-table tbody tr');
    const names = await b.page
      .locator('#workflows-table tbody tr td:first-child a')
      .evaluateAll((els) => els.map((e) => e.textContent));
    expect(names).toEqual([alpha.workflow]);
    await visit(b.page, api.url, `#/invocations/${alpha.invocations[0]!}`, 'svg.gantt g.bar');
    expect(await count('svg.gantt g.bar')).toBe(2);

    // Beta's key: none of alpha's, and alpha's invocation is not found.
    await enterKey('#api-key', beta.key);
    await b.page.waitForSelector('#invocation-error, .error');
    expect(await b.page.textContent('.error')).toContain('INVOCATION_NOT_FOUND');
    await visit(b.page, api.url, '#/invocations', '#invocations-table tbody tr');
    const seen = await listedIds();
    expect(new Set(seen)).toEqual(new Set(beta.invocations));
    for (const id of alpha.invocations) expect(seen).not.toContain(id);

    await enterKey('#api-key', `ffk_000000000000_${'x'.repeat(32)}`);
    await b.page.waitForSelector('#auth-needed');
    expect(await b.page.textContent('#auth-needed h1')).toBe('API key refused');
    expect(await count('table')).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('on the worker’s /ui: no data without a key, the tenant’s with its key', async () => {
    const { alpha, beta } = tenants;
    // Another origin, so another localStorage: no key yet.
    await visit(b.page, workerUrl, '#/invocations', '#auth-needed');
    expect(await count('table')).toBe(0);
    await enterKey('#auth-set-key', alpha.key);
    await b.page.waitForSelector('#invocations-table tbody tr');
    const seen = await listedIds();
    expect(new Set(seen)).toEqual(new Set(alpha.invocations));
    for (const id of beta.invocations) expect(seen).not.toContain(id);
    expect(await b.page.textContent('#served-by')).toBe('via worker w1');
    await visit(b.page, workerUrl, `#/invocations/${alpha.invocations[1]!}`, 'svg.gantt g.bar');
    expect(await count('svg.gantt g.bar')).toBe(2);
    await visit(b.page, workerUrl, `#/invocations/${beta.invocations[0]!}`, '.error');
    expect(await b.page.textContent('.error')).toContain('INVOCATION_NOT_FOUND');
    // The token still guards the worker's own routes.
    const worker = client(workerUrl);
    const view = await worker.request('GET', '/v1/cluster/view', undefined, {
      authorization: `Bearer ${alpha.key}`,
    });
    expect(view.status).toBe(401);
    expect((await worker.request('GET', '/v1/cluster/view', undefined, bearer(TOKEN))).status).toBe(
      200,
    );
    expect(pageErrors).toEqual([]);
  });

  it('a worker answers a cancel with the caller’s key, as the master would', async () => {
    const { alpha, beta } = tenants;
    const worker = client(workerUrl);
    const cancel = (id: string, key?: string) =>
      worker.request(
        'POST',
        `/v1/invocations/${id}/cancel`,
        undefined,
        key === undefined ? undefined : { authorization: `Bearer ${key}` },
      );
    const own = await cancel(alpha.invocations[0]!, alpha.key);
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    // It had finished: a cancel changes nothing.
    expect(own.body).toMatchObject({ invocationId: alpha.invocations[0], status: 'succeeded' });
    const theirs = await cancel(beta.invocations[0]!, alpha.key);
    expect(theirs.status).toBe(404);
    expect(theirs.body.code).toBe('INVOCATION_NOT_FOUND');
    expect((await cancel(alpha.invocations[0]!)).status).toBe(401);
  });
});
