/**
 * docs/reference/cli.md, rendered from the commander program itself: every command, its
 * arguments and options (with defaults, choices and variables), examples and the exit codes.
 * Pure, so a unit test can check the committed file is what the program says today.
 */
import type { Argument, Command, Option } from 'commander';
import { EXIT } from './client.js';
import { EXAMPLES } from './examples.js';
import { buildProgram, commandPath, walk } from './program.js';

/** Where the reference lives, from the repository root. */
export const CLI_DOCS = 'docs/reference/cli.md';

/** The reference as the program says it today (the version is not part of it). */
export function cliDocsText(): string {
  return renderCliDocs(buildProgram(() => undefined, 'docs'));
}

const EXIT_MEANING: Record<keyof typeof EXIT, string> = {
  ok: 'the command did what it was asked (a benchmark that misses a goal still exits 0)',
  failure:
    'the work failed: an invocation did not succeed, a profiling run failed, the master answered with an error (404, 5xx), a benchmark suite crashed',
  usage:
    'bad input: unknown option, missing argument, invalid option value, an invalid workflow (`validate`, or the master answering 400 WORKFLOW_INVALID / INPUT_INVALID), an unreadable file',
  unreachable:
    'the master could not be reached at all (connection refused, unknown host): start one with `faasflow up` or pass `--master URL`',
};

/** A table cell: pipes escaped, and `<port>` outside code spans kept from reading as HTML. */
const cell = (text: string): string =>
  text
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ')
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`');

function optionExtras(o: Option): string {
  const out: string[] = [];
  if (o.argChoices) out.push(`one of ${o.argChoices.map((c) => `\`${c}\``).join(', ')}`);
  // Negatable flags (--no-wait) carry an implied default of true that says nothing.
  if (o.defaultValue !== undefined && !o.negate)
    out.push(`default ${o.defaultValueDescription ?? `\`${JSON.stringify(o.defaultValue)}\``}`);
  if (o.envVar !== undefined) out.push(`env \`${o.envVar}\``);
  return out.join('; ');
}

function argumentRow(a: Argument): string {
  return `| \`${a.name()}\` | ${a.required ? 'yes' : 'no'} | ${cell(a.description)} |`;
}

function commandSection(cmd: Command): string[] {
  const help = cmd.createHelp();
  const path = commandPath(cmd);
  const usage = `Usage: ${help.commandUsage(cmd)}`;
  const out = [`### \`${path}\``, '', cmd.description(), '', '```', usage, '```', ''];
  const args = help.visibleArguments(cmd);
  if (args.length > 0)
    out.push(
      '| Argument | Required | Description |',
      '| --- | --- | --- |',
      ...args.map(argumentRow),
      '',
    );
  const options = help.visibleOptions(cmd).filter((o) => o.long !== '--help');
  if (options.length > 0)
    out.push(
      '| Option | Description | Default, choices, variable |',
      '| --- | --- | --- |',
      ...options.map(
        (o) =>
          `| \`${o.flags.replace(/\|/g, '\\|')}\` | ${cell(o.description)} | ${cell(optionExtras(o))} |`,
      ),
      '',
    );
  const subcommands = help.visibleCommands(cmd).filter((c) => c.name() !== 'help');
  if (subcommands.length > 0)
    out.push(
      'Subcommands: ' + subcommands.map((c) => `\`${commandPath(c)}\``).join(', ') + '.',
      '',
    );
  const examples = EXAMPLES[path];
  if (examples) out.push('Examples:', '', '```sh', ...examples, '```', '');
  return out;
}

export function renderCliDocs(program: Command): string {
  const commands = walk(program).filter((c) => c !== program && c.name() !== 'help');
  const lines = [
    '# `faasflow` command line reference',
    '',
    '<!-- Generated from the commander program (deploy/cli/program.ts) by `npm run docs:cli`; do not edit by hand: test/unit/cli-docs.test.ts fails when this file and the program differ. -->',
    '',
    '`faasflow <command> --help` prints the same for one command. Results go to stdout; errors, hints and progress to stderr. With `--json` a command prints one JSON document on stdout and no progress. Progress (profiling runs, benchmark steps, large handler files of a deploy) is a bar redrawn in place when stderr is a terminal, plain lines otherwise.',
    '',
    "Client commands talk to the master at `--master URL`, else `$FAASFLOW_MASTER_URL`, else `http://127.0.0.1:8080`. `faasflow master` and `faasflow worker` options come from the processes' configuration schemas (master/config.ts, worker/config.ts); each also reads its `FAASFLOW_*` variable, and flags win over the environment, which wins over the defaults.",
    '',
    '## Exit codes',
    '',
    '| Code | Meaning |',
    '| --- | --- |',
    ...(Object.keys(EXIT) as (keyof typeof EXIT)[]).map(
      (k) => `| ${EXIT[k]} | ${cell(EXIT_MEANING[k])} |`,
    ),
    '',
    '## Commands',
    '',
    ...commands.map(
      (c) =>
        `- [\`${commandPath(c)}\`](#${anchor(commandPath(c))}): ${firstSentence(c.description())}`,
    ),
    '',
    ...commands.flatMap(commandSection),
  ];
  return `${lines.join('\n').trimEnd()}\n`;
}

/** GitHub's heading anchor of `### \`faasflow bench peer\``. */
function anchor(path: string): string {
  return path
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

function firstSentence(text: string): string {
  const m = /^(.*?)\.(\s|$)/.exec(text);
  return m?.[1] ?? text;
}
