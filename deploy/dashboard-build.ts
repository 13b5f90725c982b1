/**
 * Builds the dashboard (dashboard/ → dist/dashboard/): bundles its TypeScript with dagre into
 * one app.js with esbuild and copies the page and its stylesheet. Run by `npm run build` after
 * tsc; the typecheck is tsc's (dashboard/tsconfig.json), esbuild only strips and bundles.
 * The only file that imports esbuild.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
// Compiled to dist/deploy/dashboard-build.js: the repository is two folders up.
const root = fileURLToPath(new URL('../..', import.meta.url));
const src = join(root, 'dashboard');
const out = join(root, 'dist', 'dashboard');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(src, f), join(out, f));
