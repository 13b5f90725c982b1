/**
 * `faasflow master` and `faasflow worker` options, generated from the processes' TypeBox config
 * schemas (master/config.ts, worker/config.ts): each property becomes `--kebab-case` with its
 * `description`, default, literals and environment variable, so an option added to a schema
 * shows in `--help` and docs/reference/cli.md by itself.
 *
 * The options only validate and document: the process re-reads its own argv (master/main.ts,
 * worker/main.ts), so the precedence flags > FAASFLOW_* env > defaults stays in one place.
 * `cliArgs` hands over the options typed on the command line and nothing else.
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { Option, type Command } from 'commander';
import { envName } from '../../shared/config.js';

export interface SchemaOption {
  key: string;
  flag: string;
  env: string;
  description: string;
  /** The schema's default value. */
  default?: unknown;
  /** The default in words, from the description's closing "Default: …" sentence. */
  defaultWords?: string;
  choices?: string[];
  kind: 'string' | 'number' | 'integer' | 'boolean';
  range?: string;
}

export const kebab = (key: string): string =>
  key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

interface Described {
  description?: string;
  default?: unknown;
  type?: unknown;
  anyOf?: { const?: unknown }[];
  minimum?: number;
  maximum?: number;
}

/** Every property of `schema`, in declaration order. */
export function schemaOptions(schema: TObject): SchemaOption[] {
  return Object.entries(schema.properties).map(([key, prop]: [string, TSchema]) => {
    const s = prop as Described;
    // A description may state its default in words ("Default: the machine's."), which beats a
    // value computed on this machine: help and the generated docs stay the same everywhere.
    const raw = s.description ?? '(no description in the schema)';
    const words = /\s*Default: ([^]*?)\.?$/.exec(raw);
    const description = words ? raw.slice(0, words.index).trim() : raw;
    const literals = s.anyOf?.every((x) => typeof x.const === 'string')
      ? s.anyOf.map((x) => String(x.const))
      : undefined;
    const kind =
      s.type === 'integer' || s.type === 'number' || s.type === 'boolean' ? s.type : 'string';
    const range =
      s.maximum !== undefined
        ? `${s.minimum ?? '-∞'}..${s.maximum}`
        : s.minimum !== undefined
          ? `≥ ${s.minimum}`
          : undefined;
    return {
      key,
      flag: `--${kebab(key)}`,
      env: envName(key),
      description,
      kind,
      ...(s.default !== undefined ? { default: s.default } : {}),
      ...(words?.[1] !== undefined ? { defaultWords: words[1] } : {}),
      ...(literals ? { choices: literals } : {}),
      ...(range !== undefined ? { range } : {}),
    };
  });
}

/** The commander option of one schema property (no value applied: see the file comment). */
export function commanderOption(o: SchemaOption): Option {
  const arg = o.kind === 'boolean' ? '[boolean]' : o.choices ? '<value>' : `<${o.kind}>`;
  const text = o.range ? `${o.description} Range ${o.range}.` : o.description;
  const opt = new Option(`${o.flag} ${arg}`, text).env(o.env);
  if (o.choices) opt.choices(o.choices);
  // Defaults and env values are shown by --help and never handed over (cliArgs keeps what was
  // typed): the process applies them itself, in the same order.
  if (o.defaultWords !== undefined) opt.default(o.defaultWords, o.defaultWords);
  else if (o.default !== undefined) opt.default(o.default);
  return opt;
}

export function addSchemaOptions(cmd: Command, schema: TObject): SchemaOption[] {
  const options = schemaOptions(schema);
  for (const o of options) cmd.addOption(commanderOption(o));
  return options;
}

/** The options typed on the command line, as `--kebab=value` for the process's own parser. */
export function cliArgs(cmd: Command, options: readonly SchemaOption[]): string[] {
  const values = cmd.opts<Record<string, unknown>>();
  const out: string[] = [];
  for (const o of options) {
    if (cmd.getOptionValueSource(o.key) !== 'cli') continue;
    const v = values[o.key];
    out.push(v === true ? o.flag : `${o.flag}=${String(v)}`);
  }
  return out;
}
