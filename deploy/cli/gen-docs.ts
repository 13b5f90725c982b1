/**
 * `npm run docs:cli`: writes docs/reference/cli.md from the commander program. `--check` only
 * compares, exiting 1 when the file is stale (what the unit test does, for CI scripts).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from '../../bench/paths.js';
import { CLI_DOCS, cliDocsText } from './docs.js';

const file = join(repoRoot(), CLI_DOCS);
const text = cliDocsText();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== text) {
    console.error(`${CLI_DOCS} is stale: run npm run docs:cli`);
    process.exitCode = 1;
  }
} else {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${CLI_DOCS}`);
}
