/**
 * `faasflow master|worker` options come from the TypeBox config schemas: every property, with
 * its description, default, literals and variable; a property added later appears by itself;
 * only what was typed is handed to the process (env and defaults stay the process's business).
 */
import { Type } from '@sinclair/typebox';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  addSchemaOptions,
  cliArgs,
  kebab,
  schemaOptions,
} from '../../deploy/cli/schema-options.js';
import { MasterConfigSchema } from '../../master/config.js';
import { WorkerConfigSchema } from '../../worker/config.js';

describe('schema options', () => {
  it.each([
    ['master', MasterConfigSchema],
    ['worker', WorkerConfigSchema],
  ] as const)('cover every property of the %s schema, each described', (_name, schema) => {
    const options = schemaOptions(schema);
    expect(options.map((o) => o.key)).toEqual(Object.keys(schema.properties));
    for (const o of options) {
      expect(o.flag).toBe(`--${kebab(o.key)}`);
      expect(o.env).toMatch(/^FAASFLOW_[A-Z0-9_]+$/);
      expect(o.description, o.key).not.toMatch(/no description/);
    }
  });

  it('turn a new property into an option with its default, literals, range and variable', () => {
    const schema = Type.Object({
      retryBudgetMs: Type.Integer({
        description: 'How long to retry, ms.',
        minimum: 1,
        maximum: 9,
        default: 5,
      }),
      colour: Type.Union([Type.Literal('red'), Type.Literal('blue')], {
        description: 'A colour.',
        default: 'red',
      }),
      cores: Type.Number({ description: "Cores. Default: the machine's.", default: 7 }),
    });
    const help = addSchemaOptions(new Command('x'), schema);
    expect(help.map((o) => o.flag)).toEqual(['--retry-budget-ms', '--colour', '--cores']);
    const cmd = new Command('x').configureHelp({ helpWidth: 300 });
    addSchemaOptions(cmd, schema);
    const text = cmd.helpInformation();
    expect(text).toMatch(
      /--retry-budget-ms <integer>\s+How long to retry, ms\. Range 1\.\.9\. \(default: 5, env: FAASFLOW_RETRY_BUDGET_MS\)/,
    );
    expect(text).toContain('choices: "red", "blue", default: "red", env: FAASFLOW_COLOUR');
    // A default stated in words wins over the value computed on this machine.
    expect(text).toMatch(
      /--cores <number>\s+Cores\. \(default: the machine's, env: FAASFLOW_CORES\)/,
    );
  });

  it('hand over only the options typed on the command line', () => {
    const cmd = new Command('worker').exitOverride();
    const options = addSchemaOptions(cmd, WorkerConfigSchema);
    cmd.action(() => undefined);
    const env = process.env['FAASFLOW_HOST'];
    process.env['FAASFLOW_HOST'] = '0.0.0.0';
    try {
      cmd.parse(['--port', '9000', '--rebalance', 'false', '--runtime=docker', '--prewarm', '2'], {
        from: 'user',
      });
    } finally {
      if (env === undefined) delete process.env['FAASFLOW_HOST'];
      else process.env['FAASFLOW_HOST'] = env;
    }
    expect(cliArgs(cmd, options)).toEqual([
      '--port=9000',
      '--runtime=docker',
      '--prewarm=2',
      '--rebalance=false',
    ]);
  });

  it('reject a value outside the literals', () => {
    const cmd = new Command('master').exitOverride().configureOutput({ writeErr: () => undefined });
    addSchemaOptions(cmd, MasterConfigSchema);
    cmd.action(() => undefined);
    expect(() => cmd.parse(['--placement', 'nearest'], { from: 'user' })).toThrow(
      /Allowed choices are greedy-jsq/,
    );
  });
});
