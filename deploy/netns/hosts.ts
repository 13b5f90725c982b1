/**
 * Namespace "hosts" on this machine: `createHosts({count, bandwidth?, latencyMs?})` builds the
 * plan of plan.ts, runs commands inside the hosts, and `destroy()` removes everything it made.
 *
 * What it created is recorded in a state file (STATE_DIR/<prefix>.json, with the owner's pid)
 * before the first command runs, so teardown also happens
 * - when setup fails half-way (destroy runs before the error is rethrown),
 * - when the owning process exits without calling destroy (a synchronous `exit` handler),
 * - when the owner was killed outright (the next createHosts, or `faasflow-netns down --stale`,
 *   removes clusters whose owner is gone).
 * Only names recorded in our own state files are ever deleted, and only processes running
 * inside those namespaces are ever signalled.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  namespacesOf,
  planHosts,
  setupCommands,
  teardownCommands,
  type NetnsPlan,
} from './plan.js';
import { run, runSyncIgnoringErrors, type RunResult } from './run.js';
import { claimSubnet, STATE_DIR } from './subnet.js';

export interface HostsOptions {
  /** Number of hosts (namespaces), 1..200. */
  count: number;
  /** Rate cap per host link and direction: `25mbit`, `100mbit`, or bits per second. */
  bandwidth?: string | number;
  /** One-way delay added to every packet a host sends, ms. Needs netem in the kernel. */
  latencyMs?: number;
  /** Name prefix (2-10 of [a-z0-9], starting with a letter). Default: `ff` + 6 random hex. */
  prefix?: string;
  /** A /24 of 198.18.0.0/15 as three octets (`198.18.7`). Default: a random free one. */
  subnet?: string;
}

export interface NetnsHost {
  name: string;
  address: string;
  namespace: string;
}

export interface LinkStats {
  txBytes: number;
  rxBytes: number;
}

export interface HostSet {
  readonly prefix: string;
  readonly hosts: readonly NetnsHost[];
  /** This (root) namespace's address on the hosts' network. */
  readonly gatewayAddress: string;
  /** The command prefix that runs a program inside `host`. */
  launcher(host: NetnsHost): string[];
  /** Runs `argv` inside `host`; rejects on a non-zero exit. */
  exec(host: NetnsHost, argv: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** Starts a long-running program inside `host`. */
  spawn(host: NetnsHost, argv: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Bytes through the host's link since it was created. */
  linkStats(host: NetnsHost): Promise<LinkStats>;
  /** Stops every process inside the hosts, removes every namespace and link. Idempotent. */
  destroy(): Promise<void>;
}

interface StateFile {
  prefix: string;
  pid: number;
  plan: NetnsPlan;
}

const live = new Map<string, NetnsPlan>();
let exitHookInstalled = false;

/** Creates `count` hosts; on any failure removes what was created, then rethrows. */
export async function createHosts(o: HostsOptions): Promise<HostSet> {
  await preflight();
  // Leftovers of killed owners; one that cannot be removed is `faasflow-netns down`'s to report.
  await sweepStaleHosts().catch(() => []);
  const prefix = o.prefix ?? `ff${randomBytes(3).toString('hex')}`;
  const claim = await claimSubnet(o.subnet);
  let plan: NetnsPlan;
  try {
    plan = planHosts({ ...o, prefix, subnet: claim.subnet });
  } catch (err) {
    claim.release();
    throw err;
  }
  const existing = (await run(['ip', 'netns', 'list'])).stdout;
  if (namespacesOf(plan).some((ns) => existing.split('\n').some((l) => l.split(' ')[0] === ns))) {
    claim.release();
    throw new Error(`namespaces with prefix ${prefix}- already exist; choose another prefix`);
  }
  writeState(plan);
  try {
    for (const argv of setupCommands(plan)) await run(argv);
  } catch (err) {
    await teardown(plan).catch(() => undefined);
    throw explainSetupFailure(err, o);
  }
  return hostSet(plan);
}

function hostSet(plan: NetnsPlan): HostSet {
  const hosts = plan.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    namespace: h.namespace,
  }));
  let destroying: Promise<void> | null = null;
  const launcher = (host: NetnsHost): string[] => ['ip', 'netns', 'exec', owned(plan, host)];
  return {
    prefix: plan.prefix,
    hosts,
    gatewayAddress: plan.uplink.address,
    launcher,
    exec: (host, argv, timeoutMs) => run([...launcher(host), ...argv], timeoutMs),
    spawn: (host, argv, options = {}) => {
      const [file, ...args] = [...launcher(host), ...argv];
      return spawn(file!, args, options);
    },
    async linkStats(host) {
      const out = await run([
        'ip',
        '-n',
        owned(plan, host),
        '-j',
        '-s',
        'link',
        'show',
        'dev',
        'eth0',
      ]);
      const [link] = JSON.parse(out.stdout) as {
        stats64?: { rx?: { bytes?: number }; tx?: { bytes?: number } };
      }[];
      return { txBytes: link?.stats64?.tx?.bytes ?? 0, rxBytes: link?.stats64?.rx?.bytes ?? 0 };
    },
    destroy() {
      destroying ??= teardown(plan);
      return destroying;
    },
  };
}

function owned(plan: NetnsPlan, host: NetnsHost): string {
  if (!plan.hosts.some((h) => h.namespace === host.namespace)) {
    throw new Error(
      `host ${host.name} (${host.namespace}) is not one of cluster ${plan.prefix}'s hosts`,
    );
  }
  return host.namespace;
}

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('namespace hosts need root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run as root');
  }
  try {
    await run(['ip', '-V']);
    await run(['tc', '-V']);
  } catch (err) {
    throw new Error(`namespace hosts need iproute2 (ip and tc): ${(err as Error).message}`);
  }
}

function explainSetupFailure(err: unknown, o: HostsOptions): Error {
  const message = (err as Error).message;
  if (o.latencyMs !== undefined && /netem/.test(message) && /unknown/i.test(message)) {
    return new Error(
      `latencyMs needs the netem qdisc, which this kernel lacks (CONFIG_NET_SCH_NETEM): ${message}; run without latencyMs, or on a kernel with netem`,
      { cause: err },
    );
  }
  return new Error(`creating namespace hosts failed (everything created was removed): ${message}`, {
    cause: err,
  });
}

function stateFile(prefix: string): string {
  return join(STATE_DIR, `${prefix}.json`);
}

function writeState(plan: NetnsPlan): void {
  const state: StateFile = { prefix: plan.prefix, pid: process.pid, plan };
  writeFileSync(stateFile(plan.prefix), JSON.stringify(state), { mode: 0o600 });
  live.set(plan.prefix, plan);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of live.values()) teardownSync(p);
    });
  }
}

function forget(plan: NetnsPlan): void {
  live.delete(plan.prefix);
  rmSync(stateFile(plan.prefix), { force: true });
  rmSync(join(STATE_DIR, `subnet-${plan.subnet}`), { force: true });
}

/** Processes inside the plan's namespaces. */
async function pidsIn(plan: NetnsPlan): Promise<number[]> {
  const pids: number[] = [];
  for (const ns of namespacesOf(plan)) {
    const out = await run(['ip', 'netns', 'pids', ns]).catch(() => ({ stdout: '' }));
    for (const line of out.stdout.split('\n'))
      if (/^\d+$/.test(line.trim())) pids.push(Number(line));
  }
  return pids;
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

async function teardown(plan: NetnsPlan, graceMs = 5_000): Promise<void> {
  let pids = await pidsIn(plan);
  signal(pids, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.length > 0 && Date.now() < deadline) {
    await sleep(50);
    pids = await pidsIn(plan);
  }
  signal(pids, 'SIGKILL');
  for (const argv of teardownCommands(plan)) await run(argv).catch(() => undefined);
  const left = (await run(['ip', 'netns', 'list'])).stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((ns) => namespacesOf(plan).includes(ns));
  if (left.length > 0) {
    throw new Error(
      `could not remove namespaces ${left.join(', ')}; remove them with \`ip netns del\``,
    );
  }
  forget(plan);
}

function teardownSync(plan: NetnsPlan): void {
  for (const ns of namespacesOf(plan)) {
    const out = runSyncIgnoringErrors(['ip', 'netns', 'pids', ns]);
    signal(
      out
        .split('\n')
        .filter((l) => /^\d+$/.test(l.trim()))
        .map(Number),
      'SIGKILL',
    );
  }
  for (const argv of teardownCommands(plan)) runSyncIgnoringErrors(argv);
  forget(plan);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the clusters recorded in STATE_DIR whose owning process is gone (or all of them with
 * `all`); returns their prefixes.
 */
export async function sweepStaleHosts(all = false): Promise<string[]> {
  let files: string[];
  try {
    files = readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const removed: string[] = [];
  const failed: string[] = [];
  for (const f of files) {
    let state: StateFile;
    try {
      state = JSON.parse(readFileSync(join(STATE_DIR, f), 'utf8')) as StateFile;
    } catch {
      continue;
    }
    if (!all && (state.pid === process.pid || alive(state.pid))) continue;
    try {
      await teardown(state.plan);
      removed.push(state.prefix);
    } catch (err) {
      failed.push(`${state.prefix}: ${(err as Error).message}`);
    }
  }
  if (failed.length > 0)
    throw new Error(`could not remove every stale cluster: ${failed.join('; ')}`);
  return removed;
}
