/**
 * The dashboard served by an ingress worker, in Debian's Chromium against a live cluster
 * (a master and 3 workers with Redis, so invocations are durable; worker w3 carries the crash
 * point `worker:after-accept:1`). The page is opened on w1 only: everything it shows comes
 * through w1 (its own routes, or the master's answers w1 passes on).
 *
 * Scenarios:
 * - `/ui` on a worker: the header says it is served by that worker, the workflow list and the
 *   invocation list are the master's (every invocation, whichever worker or the master took
 *   it), an invocation taken by another worker's ingress draws its timeline (a lane per worker,
 *   a bar per step), the workers view lists the 3 workers, the harvesting view says it is
 *   off (the master's 409 passed on), and the browser requests nothing but w1's origin;
 * - durability: a durable invocation shows its mode and no re-placement; an invocation whose
 *   ingress (w3) is killed right after accepting it is adopted by the master and finished, and
 *   its view says adopted from w3, with its re-placements;
 * - compositions: the composed workflow's graphs ranked for a context (sub-tenant and input) as
 *   GET /v1/workflows/:name/composition ranks them, with each graph's decision count and the
 *   offline estimates; the form re-ranks for another sub-tenant (a policy leaves it one graph);
 *   a composed invocation shows the graph it ran.
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { client, eventually, startCluster, type Api } from '../helpers/cluster.js';
import {
  openBrowser,
  requireChromium,
  screenshotDir,
  visit,
  type Browser,
} from '../helpers/dashboard.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';

const ready = requireChromium() && (await requireRedis());
const shotDir = screenshotDir('dashboard-ingress');

const ADOPT = `name: ui-adopt
functions:
  a: { code: "export default async (x) => ({ n: x.n + 1 })" }
  b: { code: "export default async (x) => ({ n: x.n * 10 })" }
dag:
  a: { task: a }
  b: { task: b, after: [a] }
`;

async function deployYaml(api: Api, yaml: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-ui-'));
  const file = join(dir, 'wf.yaml');
  writeFileSync(file, yaml);
  try {
    await api.deploy(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ViewWorker {
  id: string;
  status: string;
  holds: string[];
  journal?: boolean;
}

/** Until `w`'s placement view lists `count` ready, journaling workers that hold `key`. */
async function viewHolds(w: Api, key: string, count: number): Promise<void> {
  await eventually(async () => {
    const r = await w.request('GET', '/v1/cluster/view');
    if (r.status !== 200) return false;
    const ws = r.body.workers as ViewWorker[];
    return (
      ws.filter((x) => x.status === 'ready' && x.holds.includes(key) && x.journal === true)
        .length === count
    );
  }, 20_000);
}

describe.skipIf(!ready)('dashboard on an ingress worker', () => {
  const prefix = uniquePrefix('e2e-dash-ingress');
  let cluster: LocalCluster;
  let api: Api;
  let byId: Map<string, Api>;
  let w1: Api;
  let b: Browser;
  const origins = new Set<string>();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 3,
      redisUrl: redisUrl(),
      placement: 'round-robin',
      masterFlags: [
        '--cluster-name=ingress-demo',
        `--redis-url=${redisUrl()}`,
        `--redis-prefix=${prefix}`,
        '--worker-timeout-ms=1500',
        '--view-interval-ms=200',
      ],
      workerFlags: () => [`--redis-prefix=${prefix}`, '--memory-mb=800', '--heartbeat-ms=250'],
      processEnv: (name): Record<string, string> =>
        name === 'worker-3' ? { FAASFLOW_CRASH_AT: 'worker:after-accept:1' } : {},
    }));
    const workers = (await api.request('GET', '/v1/workers')).body.workers as {
      id: string;
      url: string;
    }[];
    byId = new Map(workers.map((w) => [w.id, client(w.url)]));
    w1 = byId.get('w1')!;
    const examples = join(repoRoot(), 'deploy', 'examples');
    await api.deploy(join(examples, 'moderation.yaml'));
    await deployYaml(api, ADOPT);
    await api.deploy(join(repoRoot(), 'test/fixtures/workflows/compose-ocr.yaml'));
    b = await openBrowser();
    b.page.on('request', (r) => origins.add(new URL(r.url()).origin));
    b.page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await cluster?.stop(10_000);
    await deletePrefix(prefix);
  });

  const shot = async (name: string): Promise<void> => {
    await b.page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
  };
  const count = (selector: string): Promise<number> => b.page.locator(selector).count();

  it('serves /ui on a worker with the master’s workflows, invocations and timelines', async () => {
    await viewHolds(w1, 'moderation@1', 3);
    const w2 = byId.get('w2')!;
    await viewHolds(w2, 'moderation@1', 3);
    // One taken by w2's ingress, one by w1's, one by the master.
    const viaW2 = await w2.invoke('moderation', { text: 'a bad word' });
    expect(viaW2.status).toBe('succeeded');
    const viaW1 = await w1.invoke('moderation', { text: 'all good' });
    expect(viaW1.status).toBe('succeeded');
    const viaMaster = await api.invoke('moderation', { text: 'another bad one' });
    expect(viaMaster.status).toBe('succeeded');
    const ids = [viaW2.invocationId, viaW1.invocationId, viaMaster.invocationId] as string[];
    // Ingress records reach the master in batches, once ended.
    const listed = await eventually(async () => {
      const r = await api.request('GET', '/v1/invocations?limit=1000');
      const got = (r.body.invocations as { invocationId: string }[]).map((x) => x.invocationId);
      return ids.every((id) => got.includes(id)) ? got : undefined;
    }, 15_000);

    await visit(b.page, w1.url, '#/workflows', '#workflows-table tbody tr');
    expect(await b.page.textContent('#served-by')).toBe('via worker w1');
    expect(await b.page.textContent('#cluster-name')).toBe('ingress-demo');
    const workflows = (await api.request('GET', '/v1/workflows')).body.workflows as unknown[];
    expect(await count('#workflows-table tbody tr')).toBe(workflows.length);
    await shot('ingress-workflows');

    await visit(b.page, w1.url, '#/invocations', '#invocations-table tbody tr');
    expect(await count('#invocations-table tbody tr')).toBe(listed.length);
    for (const id of ids) expect(await count(`#invocations-table tbody a[href$="${id}"]`)).toBe(1);

    const inv = await eventually(async () => {
      const r = await api.request('GET', `/v1/invocations/${viaW2.invocationId as string}`);
      return r.status === 200 && r.body.steps.length > 0 ? r.body : undefined;
    });
    await visit(b.page, w1.url, `#/invocations/${viaW2.invocationId as string}`, 'svg.gantt g.bar');
    const lanes = new Set((inv.steps as { worker: string }[]).map((s) => s.worker));
    expect(await count('svg.gantt g.lane')).toBe(lanes.size);
    expect(await count('svg.gantt g.bar')).toBe(inv.steps.length);
    expect(await count('svg.gantt g.bar.skipped')).toBe(
      (inv.steps as { status: string }[]).filter((s) => s.status === 'skipped').length,
    );
    expect(await b.page.getAttribute('#invocation-durability', 'data-mode')).toBe('checkpoint');
    expect(await b.page.textContent('#durability-recoveries')).toBe('none');
    await shot('ingress-invocation');

    await visit(b.page, w1.url, '#/workers', '#workers-table tbody tr');
    for (const id of ['w1', 'w2', 'w3'])
      expect(await count(`#workers-table tbody tr[data-worker="${id}"][data-status="ready"]`)).toBe(
        1,
      );
    // Harvesting is off: the master's 409 for the models comes through as such.
    await visit(b.page, w1.url, '#/harvest?workflow=moderation', '#view-harvest');
    expect(await b.page.textContent('#view-harvest')).toContain('No model set: harvesting is off.');
    expect([...origins]).toEqual([w1.url]);
  });

  it('shows an invocation the master adopted after its ingress worker died', async () => {
    const w3 = byId.get('w3')!;
    await viewHolds(w3, 'ui-adopt@1', 3);
    // w3 journals the invocation, then kills itself before it answers or starts anything.
    const taken = await w3
      .request('POST', '/v1/workflows/ui-adopt/invocations', { input: { n: 4 }, wait: false })
      .then(
        (r) => r.status,
        () => 'cut',
      );
    expect(taken).toBe('cut');
    const done = await eventually(async () => {
      const r = await api.request('GET', '/v1/invocations?workflow=ui-adopt');
      const x = (r.body.invocations as { invocationId: string; status: string }[])[0];
      return x !== undefined && x.status !== 'running' ? x : undefined;
    }, 30_000);
    expect(done.status).toBe('succeeded');
    const inv = await api.invocation(done.invocationId);
    expect(inv.durability).toMatchObject({ mode: 'checkpoint', adoptedFrom: 'w3' });
    expect(inv.output).toEqual({ n: 50 });

    await visit(
      b.page,
      w1.url,
      `#/invocations/${done.invocationId}`,
      '#invocation-durability[data-adopted-from="w3"]',
    );
    expect(await b.page.textContent('#durability-adopted')).toContain('w3');
    expect(await b.page.getAttribute('#invocation-durability', 'data-recoveries')).toBe(
      String(inv.durability.recoveries),
    );
    expect(inv.durability.recoveries).toBeGreaterThan(0);
    expect(await count('svg.gantt g.bar')).toBe(inv.steps.length);
    await shot('invocation-adopted');
  });

  it('ranks a composed workflow’s graphs per context with their decision counts', async () => {
    const runs = 24;
    let last = '';
    for (let i = 0; i < runs; i++) {
      const r = await api.invoke(
        'e2e-compose',
        { text: 'x'.repeat(i % 5), lang: i % 2 === 0 ? 'en' : 'de' },
        { subTenant: 'beta' },
      );
      expect(r.status).toBe('succeeded');
      last = r.invocationId as string;
    }
    const input = JSON.stringify({ lang: 'de', text: 'abc' });
    const path = `/v1/workflows/e2e-compose/composition?subTenant=beta&top=32&input=${encodeURIComponent(input)}`;
    // Every outcome is logged once its feedback window (200 ms) closed; then the log is still.
    const rank = await eventually(async () => {
      const r = await api.request('GET', path);
      return r.status === 200 && r.body.decisions === runs ? r.body : undefined;
    }, 20_000);

    await visit(
      b.page,
      w1.url,
      `#/composition?workflow=e2e-compose&subTenant=beta&input=${encodeURIComponent(input)}`,
      '#composition-graphs tbody tr',
    );
    expect(await count('#composition-graphs tbody tr')).toBe(rank.admissible);
    const rows = await b.page
      .locator('#composition-graphs tbody tr')
      .evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-variant'), e.getAttribute('data-decisions')]),
      );
    expect(rows).toEqual(
      (rank.graphs as { variant: string; decisions: number }[]).map((g) => [
        g.variant,
        String(g.decisions),
      ]),
    );
    const counted = (rank.graphs as { decisions: number }[]).reduce((a, g) => a + g.decisions, 0);
    expect(counted).toBe(runs);
    expect(await b.page.textContent('#composition-decisions')).toContain(String(runs));
    expect(await count('#composition-context tbody tr')).toBe(Object.keys(rank.context).length);
    expect(await count('#composition-estimate tbody tr')).toBe(2);
    await shot('composition');

    // Another context from the form: acme-* may not run ocr-accurate, so one graph is left.
    await b.page.fill('#composition-subtenant', 'acme-1');
    await b.page.click('#composition-apply');
    await b.page.waitForSelector('#view-composition[data-sub-tenant="acme-1"]');
    expect(await count('#composition-graphs tbody tr')).toBe(1);
    expect(await b.page.getAttribute('#composition-graphs tbody tr', 'data-variant')).toBe(
      'ocr=fast',
    );

    const inv = await api.invocation(last);
    await visit(b.page, w1.url, `#/invocations/${last}`, '#invocation-composition');
    expect(await b.page.textContent('#invocation-composition')).toContain(
      inv.composition.variant as string,
    );
    expect(pageErrors).toEqual([]);
    expect([...origins]).toEqual([w1.url]);
  });
});
