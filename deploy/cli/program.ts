/**
 * The `faasflow` command line as one commander program, built apart from running it (main.ts
 * runs it; gen-docs.ts renders docs/reference/cli.md from it). Commands load their work lazily,
 * so `--help` of any command starts nothing and imports little.
 *
 * Output contract: results on stdout (`--json`: one JSON document, nothing else), progress and
 * errors on stderr; exit codes in EXIT (client.ts).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MasterConfigSchema } from '../../master/config.js';
import { WorkerConfigSchema } from '../../worker/config.js';
import type * as Actions from './actions.js';
import { addBenchCommands } from './bench.js';
import { EXAMPLES } from './examples.js';
import { addSchemaOptions, cliArgs } from './schema-options.js';
import { masterCommand, runProcess } from './run-process.js';

/** Where a finished command's exit code goes; long-running ones (up, master, worker) never call it. */
export type Done = (code: number) => void;

export function int(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`must be an integer ≥ ${min}`);
    return n;
  };
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0');
  return n;
}

/** `--levels LO..HI`: the size levels a generator sweep covers. */
function levels(text: string): [number, number] {
  const m = /^(\d+(?:\.\d+)?)\.\.(\d+(?:\.\d+)?)$/.exec(text);
  if (!m || Number(m[1]) > Number(m[2]))
    throw new InvalidArgumentError('must be LO..HI with LO ≤ HI (e.g. 1..7)');
  return [Number(m[1]), Number(m[2])];
}

const json = (): Option => new Option('--json', 'print one JSON document instead of text');
const format = (): Option =>
  new Option('--format <format>', 'file format (default: from the extension)').choices([
    'csv',
    'json',
  ]);

/**
 * `--master URL` and `--api-key KEY` on every command that talks to a master. Without a key the
 * client looks the master up in the credentials file (`faasflow up --auth on` writes it).
 */
function client(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--master <url>', 'the master to talk to')
        .env('FAASFLOW_MASTER_URL')
        .default('http://127.0.0.1:8080'),
    )
    .addOption(
      new Option(
        '--api-key <key>',
        'API key of a master with auth on (default: the credentials file, FAASFLOW_CREDENTIALS)',
      ).env('FAASFLOW_API_KEY'),
    )
    .hook('preAction', async (self) => {
      const { useApiKey } = await import('./client.js');
      useApiKey(self.opts<{ apiKey?: string }>().apiKey);
    });
}

const role = (fallback: string): Option =>
  new Option('--role <role>', `the key's role (default ${fallback})`).choices([
    'admin',
    'deploy',
    'invoke',
    'read',
  ]);

export function buildProgram(done: Done, version: string): Command {
  const program = new Command('faasflow')
    .description('faasflow: a worker-side serverless workflow runtime')
    .version(version, '-V, --version', 'print the version')
    .helpCommand('help [command]', 'show the help of a command')
    .showSuggestionAfterError(true);

  program
    .command('up')
    .description(
      'Run a local cluster in the foreground: a master and N workers as processes (Ctrl-C stops them). `npm start` is `up --demo`.',
    )
    .addOption(new Option('--workers <n>', 'workers to start').argParser(int(1)).default(2))
    .addOption(new Option('--port <port>', "the master's port").argParser(int(0)).default(8080))
    .addOption(
      new Option('--runtime <runtime>', 'sandbox of the functions')
        .choices(['process', 'docker'])
        .default('process'),
    )
    .addOption(
      new Option(
        '--redis <url>',
        "Redis for cross-worker data, the invocation journal and the master's state (default: peer data tier, lmdb store)",
      ),
    )
    .addOption(
      new Option(
        '--data-dir <dir>',
        'where the master keeps its state without Redis (lmdb)',
      ).default('.faasflow'),
    )
    .addOption(
      new Option('--mode <mode>', 'worker: WorkerSP; master: the MasterSP baseline')
        .choices(['worker', 'master'])
        .default('worker'),
    )
    .addOption(
      new Option(
        '--auth <auth>',
        'on: API keys required; the admin key is saved in the credentials file, where the CLI finds it',
      )
        .choices(['on', 'off'])
        .default('off'),
    )
    .option('--demo', 'deploy the example workflows and run one')
    .option('--exit', 'with --demo: stop after the demo instead of staying in the foreground')
    .action(
      async (o: {
        workers: number;
        port: number;
        runtime: 'process' | 'docker';
        mode: 'worker' | 'master';
        redis?: string;
        dataDir: string;
        auth: 'on' | 'off';
        demo?: boolean;
        exit?: boolean;
      }) => {
        const { up } = await import('./up.js');
        done(
          await up({
            workers: o.workers,
            port: o.port,
            runtime: o.runtime,
            mode: o.mode,
            demo: o.demo === true,
            exitAfterDemo: o.exit === true,
            dataDir: o.dataDir,
            auth: o.auth,
            ...(o.redis !== undefined ? { redisUrl: o.redis } : {}),
          }),
        );
      },
    );

  const master = program
    .command('master')
    .description(
      'Run a master in the foreground. Every option is also read from its FAASFLOW_* variable; flags win, then the environment, then the defaults.',
    );
  const masterOptions = addSchemaOptions(master, MasterConfigSchema);
  master.action(async (_o: unknown, self: Command) =>
    runProcess('master', cliArgs(self, masterOptions)),
  );

  const worker = program
    .command('worker')
    .description(
      'Run a worker in the foreground; it registers with --master-url. Every option is also read from its FAASFLOW_* variable; flags win, then the environment, then the defaults.',
    );
  const workerOptions = addSchemaOptions(worker, WorkerConfigSchema);
  worker.addOption(new Option('--master <url>', 'the same as --master-url'));
  worker.action(async (o: { master?: string }, self: Command) =>
    runProcess('worker', masterCommand(cliArgs(self, workerOptions), o.master)),
  );

  program
    .command('validate')
    .description('Parse, check, compile and partition a workflow file without a master.')
    .argument('<file>', 'the workflow YAML')
    .addOption(new Option('--workers <n>', 'workers to partition for').argParser(int(1)).default(1))
    .addOption(
      new Option('--runtime-scale <x>', "multiplies each function's declared runtime").argParser(
        positive,
      ),
    )
    .addOption(json())
    .action(async (file: string, o: { workers: number; runtimeScale?: number; json?: boolean }) => {
      const { validate } = await import('./validate.js');
      done(
        await validate(file, {
          workers: o.workers,
          json: o.json === true,
          ...(o.runtimeScale !== undefined ? { runtimeScale: o.runtimeScale } : {}),
        }),
      );
    });

  const actions = (): Promise<typeof Actions> => import('./actions.js');

  client(
    program
      .command('deploy')
      .description('Upload a workflow with the handler files it names (found next to the YAML).')
      .argument('<file>', 'the workflow YAML')
      .option('--name <name>', 'deploy under this name instead of the one in the file')
      .addOption(json()),
  ).action(async (file: string, o: { master: string; name?: string; json?: boolean }) =>
    done(await (await actions()).deployCommand(file, o)),
  );

  client(
    program
      .command('invoke')
      .description('Invoke a deployed workflow; waits for it and prints its output and status.')
      .argument('<name>', 'the workflow')
      .option(
        '--input <json>',
        'the input: JSON text, or @FILE to read it from a file (default: null)',
      )
      .option('--no-wait', 'return the invocation id at once instead of waiting')
      .addOption(new Option('--timeout <ms>', 'invocation timeout').argParser(int(1)))
      .option(
        '--ingress <url>',
        "send the invocation to this worker's own invocation API instead of the master's",
      )
      .addOption(
        new Option(
          '--via <where>',
          "master: the master's API; worker: the least-loaded ready worker's (from GET /v1/workers)",
        )
          .choices(['master', 'worker'])
          .default('master'),
      )
      .option('--profile', 'harvesting: run at the maximum allocation and record a profile')
      .addOption(
        new Option('--data-bytes <n>', 'harvesting: the data size the models see').argParser(
          int(0),
        ),
      )
      .option(
        '--sub-tenant <id>',
        "the tenant's end user this run is for (recorded on the invocation, its profiles and decisions)",
      )
      .option(
        '--session <id>',
        'chains: the caller session; a workflow invoked next in the same session is learned as its successor',
      )
      .addOption(json()),
  ).action(async (name: string, o: Actions.InvokeOptions) =>
    done(await (await actions()).invokeCommand(name, o)),
  );

  client(
    program
      .command('compose')
      .description(
        'Composition: the ranked top-N graphs of a workflow with choose: steps, with expected reward and uncertainty, for a sub-tenant and an input.',
      )
      .argument('<name>', 'the workflow')
      .option('--sub-tenant <name>', 'rank for this sub-tenant (default: default)')
      .option('--input <json>', 'the context: an invocation input as JSON, or @FILE')
      .addOption(new Option('--top <n>', 'graphs to show').argParser(int(1)).default(5))
      .addOption(json()),
  ).action(async (name: string, o: Actions.ComposeOptions) =>
    done(await (await actions()).composeCommand(name, o)),
  );

  client(
    program
      .command('chains')
      .description(
        'Adaptive task chains: what the chain model learned of a workflow (branch probabilities, start offsets, cold times, successors with scores) and its prewarm budget and price.',
      )
      .argument('<name>', 'the workflow')
      .addOption(json()),
  ).action(async (name: string, o: Actions.ClientOptions) =>
    done(await (await actions()).chainsCommand(name, o)),
  );

  client(
    program
      .command('shards')
      .description(
        "Sharding: each keyed function's routing table (ranges, replicas, load per range, forecast vs actual, re-sharding events), then the last plans of the workflow's sharded foreach nodes (shards, items per shard and worker, lost shards, estimate vs actual).",
      )
      .argument('<name>', 'the workflow')
      .addOption(new Option('--limit <n>', 'plans to show').argParser(int(1)).default(10))
      .addOption(json()),
  ).action(async (name: string, o: Actions.ShardsOptions) =>
    done(await (await actions()).shardsCommand(name, o)),
  );

  client(
    program
      .command('feedback')
      .description(
        "Composition: rate a composed invocation; the rating is $feedback in the workflow's reward while its window is open.",
      )
      .argument('<id>', 'the invocation id')
      .argument('<rating>', 'a number', (v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
        return n;
      })
      .addOption(json()),
  ).action(async (id: string, rating: number, o: { master: string; json?: boolean }) =>
    done(await (await actions()).feedbackCommand(id, rating, o)),
  );

  client(
    program
      .command('status')
      .description('Show an invocation: its status, output and timeline.')
      .argument('<id>', 'the invocation id')
      .addOption(json()),
  ).action(async (id: string, o: { master: string; json?: boolean }) =>
    done(await (await actions()).statusCommand(id, o)),
  );

  client(
    program
      .command('workers')
      .description('List the workers registered with the master.')
      .addOption(json()),
  ).action(async (o: { master: string; json?: boolean }) =>
    done(await (await actions()).workersCommand(o)),
  );

  client(
    program
      .command('profile')
      .description(
        'Harvesting: profiling runs at the maximum allocation over inputs of varying size, then a training. Needs a master started with --harvest on --redis-url URL.',
      )
      .argument('<name>', 'the workflow')
      .option('--inputs <dir>', 'run once per .json file of this folder')
      .addOption(new Option('--generate <n>', 'run n generated inputs').argParser(int(1)))
      .option('--generator <file>', 'module exporting generate(sizeLevel, seed) (with --generate)')
      .addOption(
        new Option('--levels <lo..hi>', 'size levels the generated inputs sweep')
          .argParser(levels)
          .default([1, 7], '1..7'),
      )
      .addOption(
        new Option('--seed <n>', 'seed of the first input (then +1 each)')
          .argParser(int(0))
          .default(1),
      )
      .addOption(
        new Option('--concurrency <n>', 'invocations at once').argParser(int(1)).default(1),
      )
      .addOption(new Option('--timeout <ms>', 'timeout of each invocation').argParser(int(1)))
      .option('--no-train', 'only profile; do not train afterwards')
      .addOption(json()),
  ).action(async (name: string, o: Actions.ProfileCommandOptions) =>
    done(await (await actions()).profileCommand(name, o)),
  );

  const profiles = program
    .command('profiles')
    .description("Harvesting: move a workflow's profile records in and out of the master.");
  client(
    profiles
      .command('export')
      .description('Write the profile records of a workflow (stdout, or --out FILE).')
      .argument('<name>', 'the workflow')
      .addOption(
        new Option('--format <format>', 'csv or json (NDJSON)')
          .choices(['csv', 'json'])
          .default('csv'),
      )
      .addOption(new Option('--json', 'the same as --format json'))
      .option('--out <file>', 'write to this file instead of stdout'),
  ).action(
    async (
      name: string,
      o: { master: string; format: 'csv' | 'json'; json?: boolean; out?: string },
    ) => done(await (await actions()).exportCommand(name, o)),
  );
  client(
    profiles
      .command('import')
      .description('Load profile records into a workflow (CSV or NDJSON, as export writes them).')
      .argument('<name>', 'the workflow')
      .argument('<file>', 'the records')
      .addOption(format())
      .addOption(json()),
  ).action(
    async (
      name: string,
      file: string,
      o: { master: string; format?: 'csv' | 'json'; json?: boolean },
    ) => done(await (await actions()).importCommand(name, file, o)),
  );

  client(
    program
      .command('models')
      .description("Harvesting: a workflow's model set, its held-out accuracy and its profiles.")
      .argument('<name>', 'the workflow')
      .option('--train', 'train a new model set first')
      .addOption(json()),
  ).action(async (name: string, o: { master: string; train?: boolean; json?: boolean }) =>
    done(await (await actions()).modelsCommand(name, o)),
  );

  const tenants = program
    .command('tenants')
    .description('Tenants of a master with auth on (the cluster admin key): create, list, delete.');
  client(
    tenants
      .command('create')
      .description('Create a tenant and its first key (shown once; the master keeps its hash).')
      .argument('<name>', 'the tenant (lower-case letters, digits and -)')
      .addOption(role('admin'))
      .addOption(json()),
  ).action(async (name: string, o: { master: string; role?: string; json?: boolean }) =>
    done(await (await actions()).tenantsCreateCommand(name, o)),
  );
  client(tenants.command('list').description('List the tenants.').addOption(json())).action(
    async (o: { master: string; json?: boolean }) =>
      done(await (await actions()).tenantsListCommand(o)),
  );
  client(
    tenants
      .command('delete')
      .description('Delete a tenant with its keys and workflows.')
      .argument('<name>', 'the tenant')
      .addOption(json()),
  ).action(async (name: string, o: { master: string; json?: boolean }) =>
    done(await (await actions()).tenantsDeleteCommand(name, o)),
  );

  const keys = program
    .command('keys')
    .description("A tenant's API keys (its admin key or the cluster's): create, list, revoke.");
  client(
    keys
      .command('create')
      .description('Create a key (shown once; the master keeps its hash).')
      .argument('<tenant>', 'the tenant')
      .addOption(role('invoke'))
      .addOption(json()),
  ).action(async (tenant: string, o: { master: string; role?: string; json?: boolean }) =>
    done(await (await actions()).keysCreateCommand(tenant, o)),
  );
  client(
    keys
      .command('list')
      .description("List a tenant's keys by id and role (never the secrets).")
      .argument('<tenant>', 'the tenant')
      .addOption(json()),
  ).action(async (tenant: string, o: { master: string; json?: boolean }) =>
    done(await (await actions()).keysListCommand(tenant, o)),
  );
  client(
    keys
      .command('revoke')
      .description('Revoke a key: it is refused from the next request on.')
      .argument('<tenant>', 'the tenant')
      .argument('<id>', 'the key id (keys list shows them)')
      .addOption(json()),
  ).action(async (tenant: string, id: string, o: { master: string; json?: boolean }) =>
    done(await (await actions()).keysRevokeCommand(tenant, id, o)),
  );

  addBenchCommands(program, done);

  for (const cmd of walk(program)) {
    const path = commandPath(cmd);
    const examples = EXAMPLES[path];
    if (examples)
      cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`);
    cmd.showHelpAfterError(`(run "${path} --help" for the usage)`);
    // main.ts maps commander's outcomes to our exit codes instead of commander exiting.
    cmd.exitOverride();
  }
  return program;
}

/** Every command of the program, depth first, the program itself first. */
export function walk(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap((c) => walk(c))];
}

/** `faasflow profiles export`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
