/**
 * docs/reference/cli.md is generated from the commander program (`npm run docs:cli`); this
 * fails when a command, option, default or example changed and the file was not regenerated.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../bench/paths.js';
import { CLI_DOCS, cliDocsText } from '../../deploy/cli/docs.js';
import { buildProgram, commandPath, walk } from '../../deploy/cli/program.js';

describe('docs/reference/cli.md', () => {
  const committed = readFileSync(join(repoRoot(), CLI_DOCS), 'utf8');

  it('is what npm run docs:cli generates from the program today', () => {
    // On failure: npm run docs:cli, then commit docs/reference/cli.md.
    expect(committed).toBe(cliDocsText());
  });

  it('has a section for every command and lists the exit codes', () => {
    for (const cmd of walk(buildProgram(() => undefined, 'test'))) {
      if (cmd.parent === null || cmd.name() === 'help') continue;
      expect(committed).toContain(`### \`${commandPath(cmd)}\``);
    }
    for (const code of ['| 0 |', '| 1 |', '| 2 |', '| 3 |']) expect(committed).toContain(code);
  });
});
