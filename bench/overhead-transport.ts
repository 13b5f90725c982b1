/**
 * `faasflow bench overhead`, transport section: the same cluster twice in one run, once with
 * `transport: http` and once with `transport: channel` (docs/design.md §4), each running the
 * local 2-chain, the remote 2-chain and the chain of 5 in a closed loop. Side by side: local
 * and remote edge engine time p50, chain-5 client p50, and the CPU time per invocation of
 * each process (user + system from /proc/<pid>/stat, over every invocation of the loops,
 * warm-ups included). The goal of issue 12 is a remote edge ≤ 0.15 ms p50.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../deploy/local-cluster.js';
import { BenchClient, closedLoop, collectTimelines } from './overhead-load.js';
import { repoRoot } from './paths.js';
import { summarize, type Summary } from './report.js';

export type TransportName = 'http' | 'channel';
export const TRANSPORTS: readonly TransportName[] = ['http', 'channel'];

/** The remote edge goal of issue 12, ms. */
export const REMOTE_EDGE_GOAL_MS = 0.15;

export interface TransportFigures {
  transport: TransportName;
  localEdgeEngineMs: Summary | null;
  remoteEdgeEngineMs: Summary | null;
  chain5ClientMs: Summary | null;
  invocations: number;
  /** CPU ms per invocation by process name (`master`, `worker-1`, …); null without /proc. */
  cpuMsPerInvocation: Record<string, number> | null;
}

const FILES = {
  local: 'chain-2-local.yaml',
  remote: 'chain-2-remote.yaml',
  chain5: 'chain-5.yaml',
} as const;

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
    return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : null;
  } catch {
    return null;
  }
}

function snapshot(cluster: LocalCluster): Map<string, number> | null {
  const out = new Map<string, number>();
  for (const p of cluster.processes) {
    const ms = cpuMs(p.child.pid);
    if (ms === null) return null;
    out.set(p.name, ms);
  }
  return out;
}

export async function measureTransport(
  transport: TransportName,
  o: { warmup: number; iterations: number; workerMemoryMb: number; placement: string },
  print: (line: string) => void,
): Promise<TransportFigures> {
  const logDir = mkdtempSync(join(tmpdir(), `faasflow-bench-transport-${transport}-`));
  print(
    `transport ${transport}: master + 2 workers with FAASFLOW_TRANSPORT=${transport}; logs in ${logDir}`,
  );
  const cluster = new LocalCluster({
    workers: 2,
    runtime: 'process',
    placement: o.placement as 'greedy-jsq',
    logDir,
    env: { FAASFLOW_TRANSPORT: transport },
    workerFlags: () => [`--memory-mb=${o.workerMemoryMb}`],
  });
  try {
    await cluster.start();
    const client = new BenchClient(cluster.masterUrl, 8);
    try {
      const dir = join(repoRoot(), 'bench', 'workflows');
      const shapes = {
        local: await client.deploy(readFileSync(join(dir, FILES.local), 'utf8')),
        remote: await client.deploy(readFileSync(join(dir, FILES.remote), 'utf8')),
        chain5: await client.deploy(readFileSync(join(dir, FILES.chain5), 'utf8')),
      };
      const before = snapshot(cluster);
      const input = { n: 1 };
      const loops = {
        local: await closedLoop(client, shapes.local.name, { ...o, input }),
        remote: await closedLoop(client, shapes.remote.name, { ...o, input }),
        chain5: await closedLoop(client, shapes.chain5.name, { ...o, input }),
      };
      const after = snapshot(cluster);
      const invocations = 3 * (o.warmup + o.iterations);
      let cpu: Record<string, number> | null = null;
      if (before && after) {
        cpu = {};
        for (const [name, ms] of after) cpu[name] = (ms - (before.get(name) ?? 0)) / invocations;
      }
      const local = await collectTimelines(client, shapes.local, loops.local.invocationIds);
      const remote = await collectTimelines(client, shapes.remote, loops.remote.invocationIds);
      return {
        transport,
        localEdgeEngineMs: summarize(local.localEdgeEngineMs),
        remoteEdgeEngineMs: summarize(remote.remoteEdgeEngineMs),
        chain5ClientMs: summarize(loops.chain5.clientMs),
        invocations,
        cpuMsPerInvocation: cpu,
      };
    } finally {
      await client.close();
    }
  } finally {
    await cluster.stop();
  }
}

const fmt = (ms: number | null | undefined): string =>
  ms === null || ms === undefined
    ? 'n/a'
    : ms < 1
      ? `${(ms * 1000).toFixed(0)} µs`
      : `${ms.toFixed(2)} ms`;

const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
  a === null || a === undefined || b === null || b === undefined || a === 0
    ? 'n/a'
    : `${(b / a).toFixed(2)}`;

/** The side-by-side table: one line per figure, http | channel | channel/http. */
export function formatTransportTable(figures: readonly TransportFigures[]): string[] {
  const http = figures.find((f) => f.transport === 'http');
  const channel = figures.find((f) => f.transport === 'channel');
  const rows: [string, number | null | undefined, number | null | undefined][] = [
    [
      'local edge: engine time p50',
      http?.localEdgeEngineMs?.p50Ms,
      channel?.localEdgeEngineMs?.p50Ms,
    ],
    [
      `remote edge: engine time p50 (goal ≤ ${REMOTE_EDGE_GOAL_MS} ms)`,
      http?.remoteEdgeEngineMs?.p50Ms,
      channel?.remoteEdgeEngineMs?.p50Ms,
    ],
    ['chain of 5: client p50', http?.chain5ClientMs?.p50Ms, channel?.chain5ClientMs?.p50Ms],
  ];
  const names = new Set([
    ...Object.keys(http?.cpuMsPerInvocation ?? {}),
    ...Object.keys(channel?.cpuMsPerInvocation ?? {}),
  ]);
  for (const n of names)
    rows.push([
      `CPU per invocation: ${n}`,
      http?.cpuMsPerInvocation?.[n],
      channel?.cpuMsPerInvocation?.[n],
    ]);
  const width = Math.max(...rows.map((r) => r[0].length));
  return [
    `${'transport'.padEnd(width)}  ${'http'.padStart(9)}  ${'channel'.padStart(9)}  channel/http`,
    ...rows.map(
      ([name, a, b]) =>
        `${name.padEnd(width)}  ${fmt(a).padStart(9)}  ${fmt(b).padStart(9)}  ${ratio(a, b).padStart(12)}`,
    ),
  ];
}
