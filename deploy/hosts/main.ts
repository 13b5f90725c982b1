#!/usr/bin/env node
/**
 * `faasflow-hosts`: install, start, stop, upgrade and check a faasflow cluster described by an
 * inventory, over ssh. Progress goes to stdout, one line per fact or change; exit codes: 0 ok,
 * 1 a host failed, 2 bad inventory or usage, 3 (status) not every component is healthy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../../shared/flags.js';
import { runCommand, type Command } from './commands.js';
import { InventoryError, loadInventory, type Inventory } from './inventory.js';
import { planHosts, transportArgv } from './plan.js';
import { buildRelease, packageRoot, type Release } from './release.js';

const USAGE = `faasflow-hosts — run a faasflow cluster on several hosts over ssh

usage:
  faasflow-hosts <command> [--inventory FILE] [--dry-run] [--print-script] [--parallel N] [--wait-s S]

commands:
  check     parse the inventory and show what runs where (no host is contacted)
  install   upload the release, write configuration and units (idempotent; starts nothing)
  start     start the master, then the workers; wait until every worker has registered
  stop      stop the workers, then the master
  upgrade   install, then restart the master and each worker host in turn, each healthy first
  status    show every component's state, pid, release and health (exit 3 unless all healthy)

The inventory defaults to $FAASFLOW_INVENTORY, else ./inventory. See docs/guides/multi-host.md.`;

const COMMANDS = ['install', 'start', 'stop', 'upgrade', 'status'] as const;

function positiveInt(
  flags: Record<string, string | boolean>,
  key: string,
  fallback: number,
): number {
  const v = flags[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(
      `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive integer, got ${String(v)}`,
    );
  return n;
}

class UsageError extends Error {}

function describe(inv: Inventory, out: (line: string) => void): void {
  out(
    `inventory ${inv.file}: master ${inv.master.name}, ${inv.workers.length} worker(s), sandbox ${inv.cluster.sandbox}, redis ${inv.cluster.redisUrl ?? 'none (peer transfers)'}`,
  );
  for (const h of planHosts(inv)) {
    out(`  ${transportArgv(inv, h.dest).join(' ')}`);
    for (const c of h.components)
      out(
        `    ${c.kind} ${c.name}: ${c.env.find(([k]) => k === 'FAASFLOW_ADVERTISE_URL')?.[1] ?? ''} (unit ${c.unitName})`,
      );
  }
}

async function main(argv: string[]): Promise<number> {
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const { flags, positional } = parseArgs(argv, new Set(['dryRun', 'printScript', 'help']));
  const [command] = positional;
  if (command === undefined || command === 'help' || flags['help'] === true) {
    out(USAGE);
    return command === undefined && flags['help'] !== true ? 2 : 0;
  }
  const file =
    typeof flags['inventory'] === 'string'
      ? flags['inventory']
      : (process.env['FAASFLOW_INVENTORY'] ?? 'inventory');
  if (command !== 'check' && !(COMMANDS as readonly string[]).includes(command)) {
    throw new UsageError(
      `unknown command ${command}; valid commands: check, ${COMMANDS.join(', ')}`,
    );
  }
  const inv = loadInventory(file);
  if (command === 'check') {
    describe(inv, out);
    return 0;
  }
  let release: Promise<Release> | null = null;
  return runCommand(command as Command, {
    inv,
    agent: readFileSync(join(packageRoot(), 'deploy', 'hosts', 'agent.sh'), 'utf8'),
    release: () => (release ??= buildRelease()),
    out,
    dryRun: flags['dryRun'] === true,
    printScript: flags['printScript'] === true,
    parallel: positiveInt(flags, 'parallel', 8),
    waitS: positiveInt(flags, 'waitS', 60),
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const usage = err instanceof UsageError || err instanceof InventoryError;
    process.stderr.write(`faasflow-hosts: ${(err as Error).message}\n`);
    process.exit(usage ? 2 : 1);
  },
);
