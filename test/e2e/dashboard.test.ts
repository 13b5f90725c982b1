/**
 * The dashboard in Debian's Chromium against a live cluster (master with harvesting on, 2
 * workers; helpers/dashboard.ts): video-analytics (foreach, parallel, switch) and moderation
 * (switch with a join), a few invocations, one failing. Every view is checked in the DOM against
 * the API's own answers and screenshotted into a temp dir.
 *
 * Scenarios:
 * - the page loads only from the master (no other origin is ever requested);
 * - Workflows lists both; a workflow's DAG has one node element per DAG node, the switch is a
 *   diamond, the foreach a stacked box, and each partition group has its own colour;
 * - Invocations lists every invocation and filters by status and by workflow from the form;
 * - Invocation draws one Gantt lane per worker that ran steps, one bar per step, hatched skipped
 *   steps and cold-start marks as the timeline says; a failed one shows its error; a running one
 *   redraws by itself when it finishes;
 * - Workers lists both workers; Harvesting shows the model set and the decision table;
 * - with an API key set, every API call carries `authorization: Bearer <key>`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openBrowser,
  requireChromium,
  seed,
  shots,
  startDashboardCluster,
  visit,
  type Browser,
  type DashboardCluster,
  type Seeded,
} from '../helpers/dashboard.js';
import { requireRedis, uniquePrefix } from '../helpers/redis.js';

const ready = requireChromium() && (await requireRedis());
const shotDir = mkdtempSync(join(tmpdir(), 'faasflow-dashboard-'));

describe.skipIf(!ready)('dashboard in Chromium', () => {
  let c: DashboardCluster;
  let b: Browser;
  let seeded: Seeded;
  const origins = new Set<string>();

  beforeAll(async () => {
    c = await startDashboardCluster(uniquePrefix('e2e-dashboard'));
    seeded = await seed(c.api);
    b = await openBrowser();
    b.page.on('request', (r) => origins.add(new URL(r.url()).origin));
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await c?.close();
  });

  const shot = async (name: string): Promise<void> => {
    await b.page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
  };
  const count = (selector: string): Promise<number> => b.page.locator(selector).count();

  it('lists the workflows and draws a DAG with shapes per kind and colours per group', async () => {
    await visit(b.page, c.api.url, '#/workflows', '#workflows-table tbody tr');
    expect(await count('#workflows-table tbody tr')).toBe(2);
    expect(await b.page.textContent('#cluster-name')).toBe('demo-cluster');
    await shot('workflows');

    const w = (await c.api.request('GET', '/v1/workflows/video-analytics')).body;
    await visit(b.page, c.api.url, '#/workflows/video-analytics', 'svg.dag g.node');
    expect(await count('svg.dag g.node')).toBe(w.dag.nodes.length);
    expect(await count('svg.dag g.edge')).toBe(w.dag.edges.length);
    expect(await count('svg.dag g.node-switch polygon.shape')).toBe(1);
    expect(await count('svg.dag g.node-foreach rect.stack')).toBe(2);
    expect(await count('svg.dag g.node-pass')).toBe(
      w.dag.nodes.filter((n: any) => n.kind === 'pass').length,
    );
    // The small workers split this workflow; each group gets its own fill.
    expect(w.groups.length).toBeGreaterThan(1);
    const fills = await b.page
      .locator('svg.dag g.node')
      .evaluateAll((els) =>
        els.map((e) => `${e.getAttribute('data-group')} ${e.getAttribute('data-fill')}`),
      );
    const fillOf = new Map(fills.map((f) => f.split(' ') as [string, string]));
    expect(fillOf.size).toBe(w.groups.length);
    expect(new Set(fillOf.values()).size).toBe(w.groups.length);
    expect(await count('.legend-item[data-group]')).toBe(w.groups.length);
    await shot('workflow-video-analytics');

    await visit(b.page, c.api.url, '#/workflows/moderation', 'svg.dag g.node');
    expect(await b.page.getAttribute('svg.dag g[data-node="route"]', 'class')).toContain(
      'node-switch',
    );
    expect(await count('svg.dag .edge-label')).toBe(2);
  });

  it('lists invocations and filters them by status and workflow', async () => {
    await visit(b.page, c.api.url, '#/invocations', '#invocations-table tbody tr');
    expect(await count('#invocations-table tbody tr')).toBe(seeded.all.length);
    await shot('invocations');

    await b.page.selectOption('#filter-status', 'failed');
    await b.page.waitForSelector('#view-invocations[data-filter="status=failed"] tbody tr');
    expect(await count('#invocations-table tbody tr')).toBe(1);
    expect(await count('#invocations-table tbody tr[data-status="failed"]')).toBe(1);
    expect(await b.page.textContent('#invocations-table tbody tr')).toContain(seeded.failed);
    await shot('invocations-failed');

    await b.page.selectOption('#filter-status', '');
    await b.page.selectOption('#filter-workflow', 'moderation');
    await b.page.waitForSelector('#view-invocations[data-filter="workflow=moderation"] tbody tr');
    expect(await count('#invocations-table tbody tr:not([data-workflow="moderation"])')).toBe(0);
    const moderation =
      seeded.all.length -
      (await c.api.request('GET', '/v1/invocations?workflow=video-analytics')).body.total;
    expect(await count('#invocations-table tbody tr')).toBe(moderation);
  });

  it('draws the timeline: a lane per worker, a bar per step, skipped and cold steps marked', async () => {
    for (const id of [seeded.video, seeded.flagged]) {
      const inv = await c.api.invocation(id);
      await visit(b.page, c.api.url, `#/invocations/${id}`, 'svg.gantt g.bar');
      const workers = new Set(inv.steps.map((s: any) => s.worker));
      expect(await count('svg.gantt g.lane')).toBe(workers.size);
      for (const w of workers)
        expect(await count(`svg.gantt g.lane[data-worker="${w as string}"]`)).toBe(1);
      expect(await count('svg.gantt g.bar')).toBe(inv.steps.length);
      const skipped = inv.steps.filter((s: any) => s.status === 'skipped').length;
      expect(skipped).toBeGreaterThan(0);
      expect(await count('svg.gantt g.bar.skipped')).toBe(skipped);
      expect(await count('svg.gantt g.bar.skipped rect[fill="url(#hatch)"]')).toBe(skipped);
      expect(await count('svg.gantt g.bar.cold .cold-mark')).toBe(
        inv.steps.filter((s: any) => s.cold).length,
      );
      expect(await count('#steps-table tbody tr')).toBe(inv.steps.length);
      expect(await count('.decision-table tbody tr')).toBe(inv.harvest.nodes.length);
    }
    await shot('invocation-moderation');

    await visit(b.page, c.api.url, `#/invocations/${seeded.failed}`, '#invocation-error');
    expect(await b.page.textContent('#invocation-error')).toContain('FUNCTION_FAILED');
    expect(await count('svg.gantt g.bar.status-failed')).toBe(1);
    await shot('invocation-failed');
  });

  it('redraws a running invocation by itself when it finishes', async () => {
    const yaml = [
      'name: ui-slow',
      'functions:',
      '  wait: { builtin: { sleepMs: 4000 } }',
      'flow:',
      '  sequence:',
      '    - task: wait',
    ].join('\n');
    const deployed = await c.api.request('POST', '/v1/workflows', yaml, {
      'content-type': 'application/yaml',
    });
    expect(deployed.status).toBe(201);
    const { invocationId } = await c.api.invoke('ui-slow', {}, { wait: false });
    await visit(
      b.page,
      c.api.url,
      `#/invocations/${invocationId}`,
      '#view-invocation[data-status="running"]',
    );
    await b.page.waitForSelector('#view-invocation[data-status="succeeded"] svg.gantt g.bar', {
      timeout: 30_000,
    });
    expect(await count('svg.gantt g.bar')).toBe(1);
  });

  it('lists both workers and shows harvesting’s model set and decisions', async () => {
    await visit(b.page, c.api.url, '#/workers', '#workers-table tbody tr');
    expect(await count('#workers-table tbody tr')).toBe(2);
    expect(await count('#workers-table tbody tr[data-worker="w1"][data-status="ready"]')).toBe(1);
    expect(await count('#workers-table tbody tr[data-worker="w2"][data-status="ready"]')).toBe(1);
    await shot('workers');

    const inv = await c.api.invocation(seeded.video);
    const harvest = shots(seeded).find((s) => s.name === 'harvesting')!;
    await visit(b.page, c.api.url, harvest.hash, harvest.ready);
    expect(await count('.decision-table tbody tr')).toBe(inv.harvest.nodes.length);
    expect(await b.page.textContent('#model-summary')).toMatch(/Current set\s*v\d+/);
    await shot('harvesting');
  });

  it('sends the API key as a bearer token once one is set, and loads nothing from elsewhere', async () => {
    await b.page.evaluate(`localStorage.setItem('faasflow.apiKey', 'test-key-123')`);
    const seen: (string | undefined)[] = [];
    const listener = (r: Request): void => {
      if (new URL(r.url()).pathname.startsWith('/v1/')) seen.push(r.headers()['authorization']);
    };
    b.page.on('request', listener);
    await visit(b.page, c.api.url, '#/workflows', '#workflows-table tbody tr');
    await b.page.reload();
    await b.page.waitForSelector('#workflows-table tbody tr');
    b.page.off('request', listener);
    expect(await b.page.textContent('#api-key')).toBe('API key: set');
    await b.page.evaluate(`localStorage.removeItem('faasflow.apiKey')`);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['Bearer test-key-123']));
    expect([...origins]).toEqual([c.api.url]);
  });
});
