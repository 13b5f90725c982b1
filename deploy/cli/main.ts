#!/usr/bin/env node
/**
 * The `faasflow` command line. User-facing output goes to stdout, errors to stderr; exit codes:
 * 0 ok, 1 failure, 2 bad input (invalid workflow, bad flags).
 */
import { parseArgs } from '../../shared/flags.js';
import { CliError, deploy, invoke, readInput, status, workers } from './client.js';
import { up } from './up.js';
import { validate } from './validate.js';

const USAGE = `faasflow — a worker-side serverless workflow runtime

usage:
  faasflow up [--workers N] [--port P] [--runtime process|docker] [--redis URL] [--mode worker|master] [--demo] [--exit]
  faasflow master [--port P] [--mode worker|master] [--placement greedy-jsq|jsq|round-robin|hash] ...
  faasflow worker --master-url URL [--port P] [--redis-url URL] [--worker-id ID] ...
  faasflow validate FILE [--workers N] [--json]
  faasflow deploy FILE [--master URL]
  faasflow invoke NAME [--input JSON|@file] [--no-wait] [--timeout MS] [--master URL]
  faasflow status ID [--master URL]
  faasflow workers [--master URL]
  faasflow bench <suite> [options]      suites: partition, overhead, sandbox (see README)

The master URL defaults to $FAASFLOW_MASTER_URL or http://127.0.0.1:8080.`;

const BOOLEAN = new Set(['json', 'demo', 'exit', 'noWait', 'help', 'smoke']);

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
      const r = (await invoke(
        master,
        name,
        await readInput(str(flags, 'input')),
        flags['noWait'] !== true,
        timeout ? Number(timeout) : undefined,
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
