/**
 * `npm run docs`: writes the generated reference pages (deploy/docs/reference.ts) into the
 * repository, found from this file's place in dist/. The only I/O of the docs generator.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configurationMarkdown, errorsMarkdown, GENERATED_PAGES } from './reference.js';

// dist/deploy/docs/main.js → the repository root three folders up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pages: [string, string][] = [
  [GENERATED_PAGES.configuration, configurationMarkdown()],
  [GENERATED_PAGES.errors, errorsMarkdown()],
];
for (const [path, text] of pages) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  process.stdout.write(`wrote ${path}\n`);
}
