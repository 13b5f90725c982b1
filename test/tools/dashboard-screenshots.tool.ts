/**
 * `npm run docs:screenshots`: runs the dashboard's e2e flow (helpers/dashboard.ts) and writes a
 * PNG of every view into docs/screenshots/, for docs/dashboard.md. A tool, not a test: vitest
 * only runs the TypeScript (vitest.tools.config.ts), and `npm test` never includes it.
 */
import { it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  openBrowser,
  requireChromium,
  seed,
  shots,
  startDashboardCluster,
  visit,
} from '../helpers/dashboard.js';
import { repoRoot } from '../../bench/paths.js';
import { requireRedis, uniquePrefix } from '../helpers/redis.js';

it('writes a screenshot of every dashboard view into docs/screenshots', async () => {
  const out = join(repoRoot(), 'docs', 'screenshots');
  mkdirSync(out, { recursive: true });
  if (!requireChromium() || !(await requireRedis())) throw new Error('needs Chromium and Redis');
  const c = await startDashboardCluster(uniquePrefix('dashboard-shots'));
  try {
    const seeded = await seed(c.api);
    const b = await openBrowser();
    try {
      for (const shot of shots(seeded)) {
        await visit(b.page, c.api.url, shot.hash, shot.ready);
        const path = join(out, `${shot.name}.png`);
        await b.page.screenshot({ path, fullPage: true });
        console.log(path);
      }
    } finally {
      await b.close();
    }
  } finally {
    await c.close();
  }
}, 300_000);
