/**
 * The dashboard's browser flow, shared by its e2e test and `npm run docs:screenshots`: a real
 * cluster (master with harvesting on, 2 small workers so workflows split into several groups),
 * two example workflows and a few invocations (one failing), and Debian's Chromium driven by
 * playwright-core. Chromium runs with every background connection off: it must reach nothing
 * but the master on loopback.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { startCluster, type Api } from './cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { deletePrefix, redisUrl } from './redis.js';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * True when Chromium is installed. When it is not: throws under `CI=true` (the dashboard's
 * checks must run in CI), otherwise prints why and returns false so the suite can skip.
 */
export function requireChromium(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  const reason = `Chromium not found at ${CHROMIUM_PATH} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`;
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: Chromium is required)`);
  console.warn(`skipping dashboard tests: ${reason}`);
  return false;
}

export interface DashboardCluster {
  cluster: LocalCluster;
  api: Api;
  close(): Promise<void>;
}

/** Master (harvesting on, its own Redis prefix) and 2 workers small enough to split groups. */
export async function startDashboardCluster(prefix: string): Promise<DashboardCluster> {
  const { cluster, api } = await startCluster({
    workers: 2,
    masterFlags: [
      '--cluster-name=demo-cluster',
      '--harvest=on',
      `--redis-url=${redisUrl()}`,
      `--redis-prefix=${prefix}`,
    ],
    workerFlags: () => ['--cpu=1', '--memory-mb=800'],
  });
  return {
    cluster,
    api,
    async close() {
      await cluster.stop();
      await deletePrefix(prefix);
    },
  };
}

export interface Seeded {
  /** video-analytics: split → foreach → parallel → switch (mosaic skipped). */
  video: string;
  /** moderation with a flagged text: blur runs, keep is skipped. */
  flagged: string;
  /** moderation with a clean text. */
  clean: string;
  /** moderation without text: scan throws, the invocation fails. */
  failed: string;
  all: string[];
}

export async function seed(api: Api): Promise<Seeded> {
  const examples = join(repoRoot(), 'deploy', 'examples');
  await api.deploy(join(examples, 'video-analytics.yaml'));
  await api.deploy(join(examples, 'moderation.yaml'));
  const id = async (name: string, input: unknown, status: string): Promise<string> => {
    const r = await api.invoke(name, input);
    if (r.status !== status)
      throw new Error(
        `${name} ${JSON.stringify(input)}: ${r.status}, expected ${status}: ${JSON.stringify(r.error ?? null)}`,
      );
    return r.invocationId as string;
  };
  // Enough runs for harvesting to train a model set, so the next decisions are predictions.
  for (let i = 1; i <= 16; i++)
    await id('video-analytics', { video: `warmup-${i}.mp4`, segments: 1 + (i % 5) }, 'succeeded');
  const trained = await api.request('POST', '/v1/workflows/video-analytics/models/train');
  if (trained.status !== 200)
    throw new Error(`training video-analytics: ${trained.status} ${JSON.stringify(trained.body)}`);
  const video = await id('video-analytics', { video: 'cats.mp4', segments: 6 }, 'succeeded');
  const flagged = await id('moderation', { text: 'a bad word' }, 'succeeded');
  const clean = await id('moderation', { text: 'all good' }, 'succeeded');
  const failed = await id('moderation', {}, 'failed');
  const list = await api.request('GET', '/v1/invocations?limit=1000');
  return {
    video,
    flagged,
    clean,
    failed,
    all: list.body.invocations.map((r: any) => r.invocationId),
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'faasflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens `hash` of the dashboard and waits for `selector` (deadline: `timeoutMs`). */
export async function visit(
  page: Page,
  baseUrl: string,
  hash: string,
  selector: string,
  timeoutMs = 15_000,
): Promise<void> {
  await page.goto(`${baseUrl}/ui/${hash}`, { timeout: timeoutMs });
  await page.waitForSelector(selector, { timeout: timeoutMs });
}

/**
 * Where a dashboard e2e test writes its screenshots: a temp dir, or `FAASFLOW_SCREENSHOT_DIR`
 * (`npm run docs:screenshots` points it at docs/screenshots, so the docs show what the tests saw).
 */
export function screenshotDir(name: string): string {
  const dir = process.env['FAASFLOW_SCREENSHOT_DIR'];
  if (dir === undefined || dir === '') return mkdtempSync(join(tmpdir(), `faasflow-${name}-`));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Shot {
  /** File name without `.png`. */
  name: string;
  hash: string;
  /** Present once the view has drawn its data. */
  ready: string;
}

/** Every view, as the docs show it. */
export function shots(s: Seeded): Shot[] {
  return [
    { name: 'workflows', hash: '#/workflows', ready: '#workflows-table tbody tr' },
    {
      name: 'workflow-video-analytics',
      hash: '#/workflows/video-analytics',
      ready: 'svg.dag g.node-foreach',
    },
    { name: 'workflow-moderation', hash: '#/workflows/moderation', ready: 'svg.dag g.node-switch' },
    { name: 'invocations', hash: '#/invocations', ready: '#invocations-table tbody tr' },
    {
      name: 'invocations-failed',
      hash: '#/invocations?status=failed',
      ready: '#invocations-table tbody tr[data-status="failed"]',
    },
    { name: 'invocation-video', hash: `#/invocations/${s.video}`, ready: 'svg.gantt g.bar' },
    {
      name: 'invocation-moderation',
      hash: `#/invocations/${s.flagged}`,
      ready: 'svg.gantt g.bar.skipped',
    },
    { name: 'invocation-failed', hash: `#/invocations/${s.failed}`, ready: '#invocation-error' },
    { name: 'workers', hash: '#/workers', ready: '#workers-table tbody tr' },
    {
      name: 'harvesting',
      hash: `#/harvest?workflow=video-analytics&invocation=${s.video}`,
      ready: '.decision-table tbody tr',
    },
  ];
}
