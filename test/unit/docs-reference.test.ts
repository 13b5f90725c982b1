/**
 * The generated reference pages (docs/reference/configuration.md, errors.md) must be exactly what
 * deploy/docs/reference.ts makes of the schemas and the error table today, so a new option or
 * error code cannot ship undocumented. Also: the generator itself reads the schemas faithfully.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  configurationMarkdown,
  defaultOf,
  envVarFor,
  errorsMarkdown,
  flagFor,
  GENERATED_PAGES,
  optionsTable,
  typeOf,
} from '../../deploy/docs/reference.js';
import { MasterConfigSchema } from '../../master/config.js';
import { envFor, loadConfig } from '../../shared/config.js';
import { ERROR_CODES } from '../../shared/errors.js';
import { parseFlags } from '../../shared/flags.js';
import { WorkerConfigSchema } from '../../worker/config.js';
import { repoRoot } from '../../bench/paths.js';

function committed(path: string): string {
  return readFileSync(join(repoRoot(), path), 'utf8');
}

/** A diff-friendly failure: the first differing line, and what to run. */
function expectSame(path: string, generated: string): void {
  const have = committed(path);
  if (have === generated) return;
  const a = have.split('\n');
  const b = generated.split('\n');
  let i = 0;
  while (i < Math.max(a.length, b.length) && a[i] === b[i]) i++;
  expect.fail(
    `${path} is out of date: run npm run docs and commit it.\n` +
      `  line ${i + 1} committed: ${JSON.stringify(a[i] ?? '(end of file)')}\n` +
      `  line ${i + 1} generated: ${JSON.stringify(b[i] ?? '(end of file)')}`,
  );
}

describe('generated reference pages', () => {
  it('configuration.md is what the config schemas generate (run npm run docs)', () => {
    expectSame(GENERATED_PAGES.configuration, configurationMarkdown());
  });

  it('errors.md is what the error-code table generates (run npm run docs)', () => {
    expectSame(GENERATED_PAGES.errors, errorsMarkdown());
  });

  it('lists every option of both schemas with a flag and an environment variable the loaders read', () => {
    const page = configurationMarkdown();
    for (const schema of [MasterConfigSchema, WorkerConfigSchema]) {
      for (const key of Object.keys(schema.properties)) {
        const flag = flagFor(key);
        const env = envVarFor(key);
        expect(page).toContain(`| \`${key}\` | \`${flag}\` | \`${env}\` |`);
        expect(parseFlags([`${flag}=1`])).toHaveProperty(key);
        expect(envFor(schema, { [env]: '1' })).toHaveProperty(key);
      }
    }
    expect(flagFor('bandwidthBytesPerSec')).toBe('--bandwidth-bytes-per-sec');
    expect(envVarFor('maxConcurrencyPerFunction')).toBe('FAASFLOW_MAX_CONCURRENCY_PER_FUNCTION');
  });

  it('lists every error code with its status and retryability', () => {
    const page = errorsMarkdown();
    for (const [name, c] of Object.entries(ERROR_CODES)) {
      expect(page).toMatch(
        new RegExp(
          `^\\| \`${name}\` \\| ${c.statusCode} \\| ${c.retryable ? 'yes' : 'no'} \\| \\S`,
          'm',
        ),
      );
    }
  });

  it("prints a machine-dependent default by its x-default text, not this machine's value", () => {
    const page = configurationMarkdown();
    expect(page).toContain(
      "| `cpu` | `--cpu` | `FAASFLOW_CPU` | number ≥ 0.1 | the machine's cores |",
    );
    expect(page).not.toContain(`| ${String(WorkerConfigSchema.properties.memoryMb.default)} |`);
  });
});

describe('reading a schema into a table', () => {
  const schema = Type.Object({
    listenPort: Type.Integer({ minimum: 1, maximum: 9, default: 3, description: 'where | how' }),
    flavour: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'b' }),
    spillBytes: Type.Integer({ minimum: 0, default: 2 * 1024 * 1024 }),
    waitMs: Type.Integer({ default: 90_000 }),
    secret: Type.Optional(Type.String({ minLength: 8 })),
  });

  it('gives type, allowed values and defaults, and leaves a missing description empty', () => {
    expect(optionsTable(schema).split('\n').slice(2)).toEqual([
      '| `listenPort` | `--listen-port` | `FAASFLOW_LISTEN_PORT` | integer 1–9 | `3` | where \\| how |',
      '| `flavour` | `--flavour` | `FAASFLOW_FLAVOUR` | `a` \\| `b` | `b` |  |',
      '| `spillBytes` | `--spill-bytes` | `FAASFLOW_SPILL_BYTES` | integer ≥ 0 | `2097152` (2 MiB) |  |',
      '| `waitMs` | `--wait-ms` | `FAASFLOW_WAIT_MS` | integer | `90000` (90 s) |  |',
      '| `secret` | `--secret` | `FAASFLOW_SECRET` | string of at least 8 characters |  |  |',
    ]);
  });

  it('agrees with what loadConfig accepts', () => {
    expect(typeOf(schema.properties.flavour)).toBe('`a` \\| `b`');
    expect(defaultOf('flavour', schema.properties.flavour)).toBe('`b`');
    expect(loadConfig(schema, {})).toMatchObject({ listenPort: 3, flavour: 'b', waitMs: 90_000 });
    expect(() => loadConfig(schema, { flavour: 'c' })).toThrow(/"a", "b"/);
  });
});
