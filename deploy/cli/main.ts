#!/usr/bin/env node
/**
 * The `faasflow` command line. User-facing output goes to stdout, errors to stderr; exit codes:
 * 0 ok, 1 failure, 2 bad input (invalid workflow, bad flags).
 */
import { parseArgs } from '../../shared/flags.js';
import { CliError, deploy, invoke, readInput, status, workers } from './client.js';
import { exportProfiles, importProfiles, models, profile } from './harvest.js';
import { up } from './up.js';
import { validate } from './validate.js';

const USAGE = `faasflow — a worker-side serverless workflow runtime

usage:
  faasflow up [--workers N] [--port P] [--runtime process|docker] [--redis URL] [--mode worker|master] [--demo] [--exit]
  faasflow master [--port P] [--mode worker|master] [--placement greedy-jsq|composition-jsq|jsq|round-robin|hash]
                  [--harvest on --redis-url URL [--retrain-every N] [--profile-limit N]] ...
  faasflow worker --master-url URL [--port P] [--redis-url URL] [--worker-id ID] ...
  faasflow validate FILE [--workers N] [--json]
  faasflow deploy FILE [--master URL]
  faasflow invoke NAME [--input JSON|@file] [--no-wait] [--timeout MS] [--profile] [--data-bytes N] [--master URL]
  faasflow status ID [--master URL]
  faasflow profile NAME (--inputs DIR | --generate N --generator FILE.js [--levels 1..7] [--seed S])
                   [--concurrency C] [--timeout MS] [--no-train]      profiling runs, then a training
  faasflow profiles export NAME [--format csv|json] [--out FILE]
  faasflow profiles import NAME FILE [--format csv|json]
  faasflow models NAME [--train] [--json]                            model set and held-out accuracy
  faasflow workers [--master URL]
  faasflow bench <suite> [options]      suites: partition, overhead, sandbox, faasflow, peer, harvest

The master URL defaults to $FAASFLOW_MASTER_URL or http://127.0.0.1:8080. Harvesting needs a
master started with --harvest on --redis-url URL (README: Resource harvesting).`;

const BOOLEAN = new Set([
  'json',
  'demo',
  'exit',
  'noWait',
  'help',
  'smoke',
  'profile',
  'train',
  'noTrain',
]);

function int(flags: Record<string, string | boolean>, key: string, fallback: number): number {
  const v = flags[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new CliError(`--${key} must be a non-negative integer, got ${String(v)}`, 2);
  return n;
}

function str(flags: Record<string, string | boolean>, key: string): string | undefined {
  const v = flags[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new CliError(`--${key} needs a value`, 2);
  return v;
}

/** `--levels LO..HI`: the size levels a generator sweep covers. */
function levels(text: string): [number, number] {
  const m = /^(\d+(?:\.\d+)?)\.\.(\d+(?:\.\d+)?)$/.exec(text);
  if (!m || Number(m[1]) > Number(m[2]))
    throw new CliError(`--levels must be LO..HI with LO ≤ HI (e.g. 1..7), got ${text}`, 2);
  return [Number(m[1]), Number(m[2])];
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { flags, positional } = parseArgs(rest, BOOLEAN);
  const master =
    str(flags, 'master') ?? process.env['FAASFLOW_MASTER_URL'] ?? 'http://127.0.0.1:8080';
  const print = (v: unknown): void => console.log(JSON.stringify(v, null, 2));
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    case 'up': {
      const runtime = str(flags, 'runtime') ?? 'process';
      const mode = str(flags, 'mode') ?? 'worker';
      if (runtime !== 'process' && runtime !== 'docker')
        throw new CliError('--runtime must be process or docker', 2);
      if (mode !== 'worker' && mode !== 'master')
        throw new CliError('--mode must be worker or master', 2);
      const redisUrl = str(flags, 'redis');
      return up({
        workers: int(flags, 'workers', 2),
        port: int(flags, 'port', 8080),
        runtime,
        mode,
        demo: flags['demo'] === true,
        exitAfterDemo: flags['exit'] === true,
        ...(redisUrl ? { redisUrl } : {}),
      });
    }
    case 'master':
      process.argv = [process.argv[0]!, 'master', ...rest];
      await import('../../master/main.js');
      return new Promise<number>(() => undefined);
    case 'worker':
      process.argv = [
        process.argv[0]!,
        'worker',
        ...rest.map((a) =>
          a === '--master'
            ? '--master-url'
            : a.startsWith('--master=')
              ? `--master-url=${a.slice(9)}`
              : a,
        ),
      ];
      await import('../../worker/main.js');
      return new Promise<number>(() => undefined);
    case 'validate': {
      const file = positional[0];
      if (!file) throw new CliError('usage: faasflow validate FILE [--workers N] [--json]', 2);
      const scale = str(flags, 'runtimeScale');
      return validate(file, {
        workers: Math.max(1, int(flags, 'workers', 1)),
        json: flags['json'] === true,
        ...(scale ? { runtimeScale: Number(scale) } : {}),
      });
    }
    case 'deploy': {
      const file = positional[0];
      if (!file) throw new CliError('usage: faasflow deploy FILE [--master URL]', 2);
      print(await deploy(master, file, str(flags, 'name')));
      return 0;
    }
    case 'invoke': {
      const name = positional[0];
      if (!name) throw new CliError('usage: faasflow invoke NAME [--input JSON|@file]', 2);
      const timeout = str(flags, 'timeout');
      const dataBytes = str(flags, 'dataBytes');
      const r = (await invoke(
        master,
        name,
        await readInput(str(flags, 'input')),
        flags['noWait'] !== true,
        timeout ? Number(timeout) : undefined,
        {
          ...(flags['profile'] === true ? { profile: true } : {}),
          ...(dataBytes !== undefined ? { dataBytes: int(flags, 'dataBytes', 0) } : {}),
        },
      )) as { status?: string };
      print(r);
      return r.status === undefined || r.status === 'succeeded' ? 0 : 1;
    }
    case 'status': {
      const id = positional[0];
      if (!id) throw new CliError('usage: faasflow status ID', 2);
      print(await status(master, id));
      return 0;
    }
    case 'workers':
      print(await workers(master));
      return 0;
    case 'profile': {
      const name = positional[0];
      if (!name)
        throw new CliError(
          'usage: faasflow profile NAME (--inputs DIR | --generate N --generator FILE.js)',
          2,
        );
      const inputs = str(flags, 'inputs');
      const generator = str(flags, 'generator');
      const timeout = str(flags, 'timeout');
      return profile(master, name, {
        ...(inputs !== undefined ? { inputs } : {}),
        ...(flags['generate'] !== undefined ? { generate: int(flags, 'generate', 0) } : {}),
        ...(generator !== undefined ? { generator } : {}),
        levels: levels(str(flags, 'levels') ?? '1..7'),
        seed: int(flags, 'seed', 1),
        concurrency: Math.max(1, int(flags, 'concurrency', 1)),
        ...(timeout !== undefined ? { timeoutMs: int(flags, 'timeout', 0) } : {}),
        train: flags['noTrain'] !== true,
      });
    }
    case 'profiles': {
      const [sub, name, file] = positional;
      const format = str(flags, 'format');
      if (format !== undefined && format !== 'csv' && format !== 'json')
        throw new CliError('--format must be csv or json', 2);
      if (sub === 'export' && name)
        return exportProfiles(master, name, {
          format: format ?? 'csv',
          ...(str(flags, 'out') !== undefined ? { out: str(flags, 'out')! } : {}),
        });
      if (sub === 'import' && name && file) return importProfiles(master, name, file, format);
      throw new CliError(
        'usage: faasflow profiles export NAME [--format csv|json] [--out FILE]\n       faasflow profiles import NAME FILE [--format csv|json]',
        2,
      );
    }
    case 'models': {
      const name = positional[0];
      if (!name) throw new CliError('usage: faasflow models NAME [--train] [--json]', 2);
      return models(master, name, { train: flags['train'] === true, json: flags['json'] === true });
    }
    case 'bench': {
      const { runBench } = await import('./bench.js');
      return runBench(positional, flags);
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      console.error(`faasflow: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
