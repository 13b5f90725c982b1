/**
 * The ESLint boundary that keeps test code out of the product: an import of test/ from any
 * folder built into dist/ is an error; the same import from a test is not. Runs the repository's
 * own ESLint config on in-memory text placed at real paths.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../bench/paths.js';

const eslint = new ESLint({ cwd: repoRoot() });

async function restricted(filePath: string, from: string): Promise<string[]> {
  const code = `import { requireRedis } from '${from}';\nexport const probe = requireRedis;\n`;
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('no product code imports test code', () => {
  it.each([
    ['bench/partition.ts', '../test/helpers/redis.js'],
    ['deploy/cli/bench.ts', '../../test/helpers/redis.js'],
    ['master/config.ts', '../test/helpers/redis.js'],
    ['worker/config.ts', '../test/helpers/redis.js'],
    ['shared/config.ts', '../test/helpers/redis.js'],
    ['faastore/index.ts', '../test/helpers/redis.js'],
  ])(
    '%s importing %s fails lint',
    async (file, from) => {
      const messages = await restricted(file, from);
      expect(messages.join('\n')).toContain('product code never imports test code');
    },
    60_000,
  );

  it('a test importing test helpers is fine', async () => {
    expect(await restricted('test/unit/cli-docs.test.ts', '../helpers/redis.js')).toEqual([]);
  }, 60_000);
});
