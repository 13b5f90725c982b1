/**
 * `npm run docs:screenshots`: runs the dashboard's e2e flow (helpers/dashboard.ts) and writes a
 * PNG of every view into docs/screenshots/, for docs/dashboard.md.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  openBrowser,
  requireChromium,
  seed,
  shots,
  startDashboardCluster,
  visit,
} from './dashboard.js';
import { repoRoot } from './paths.js';
import { requireRedis, uniquePrefix } from './redis.js';

const out = join(repoRoot(), 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
if (!requireChromium() || !(await requireRedis())) process.exit(1);
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
