#!/usr/bin/env node
/**
 * `faasflow-netns`: namespace test hosts from the command line. `hosts` and `cluster` stay in the
 * foreground and remove everything on Ctrl-C (or SIGTERM); `down` removes clusters left behind by
 * processes that were killed outright. Output: one JSON document on stdout; errors on stderr.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../shared/flags.js';
import { createHosts, startNetnsCluster, sweepStaleHosts } from './index.js';

const USAGE = `faasflow-netns — network-namespace test hosts on this machine (root, iproute2)

usage:
  faasflow-netns hosts --count N [--bandwidth 25mbit] [--latency-ms 5] [--prefix P]
  faasflow-netns cluster --workers N [--bandwidth 25mbit] [--latency-ms 5] [--token T] [--mode worker|master]
  faasflow-netns down [--all]       remove clusters whose owner is gone (--all: every recorded one)

hosts and cluster run in the foreground and remove what they created on Ctrl-C.`;

function out(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function opt(flags: Record<string, string | boolean>, key: string): string | undefined {
  const v = flags[key];
  if (v === true) throw new Error(`--${key} needs a value`);
  return v === false ? undefined : v;
}

function count(flags: Record<string, string | boolean>, key: string): number {
  const n = Number(opt(flags, key));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${key} must be a positive integer`);
  return n;
}

function untilSignal(): Promise<void> {
  // Signal listeners do not keep Node alive; the timer does, until a signal arrives.
  const keepAlive = setInterval(() => undefined, 60_000);
  return new Promise((resolve) => {
    const done = (): void => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { flags } = parseArgs(rest, new Set(['all', 'help']));
  const bandwidth = opt(flags, 'bandwidth');
  const latency = opt(flags, 'latencyMs');
  const shaping = {
    ...(bandwidth === undefined ? {} : { bandwidth }),
    ...(latency === undefined ? {} : { latencyMs: Number(latency) }),
  };
  switch (command) {
    case 'hosts': {
      const prefix = opt(flags, 'prefix');
      const set = await createHosts({
        count: count(flags, 'count'),
        ...shaping,
        ...(prefix ? { prefix } : {}),
      });
      out({ prefix: set.prefix, gateway: set.gatewayAddress, hosts: set.hosts });
      await untilSignal();
      await set.destroy();
      return 0;
    }
    case 'cluster': {
      const token = opt(flags, 'token');
      const mode = opt(flags, 'mode');
      if (mode !== undefined && mode !== 'worker' && mode !== 'master')
        throw new Error('--mode must be worker or master');
      const logDir = mkdtempSync(join(tmpdir(), 'faasflow-netns-'));
      const c = await startNetnsCluster({
        workers: count(flags, 'workers'),
        logDir,
        ...shaping,
        ...(token ? { token } : {}),
        ...(mode ? { mode } : {}),
      });
      out({
        masterUrl: c.masterUrl,
        redisUrl: c.redisUrl,
        logDir,
        prefix: c.hosts.prefix,
        hosts: c.hosts.hosts,
      });
      await untilSignal();
      await c.stop();
      return 0;
    }
    case 'down':
      out({ removed: await sweepStaleHosts(flags['all'] === true) });
      return 0;
    case undefined:
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command ${command}\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`faasflow-netns: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
