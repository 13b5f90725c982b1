/**
 * The noisy-neighbour part of `faasflow bench shard --cluster` (docs/guides/sharding.md §measured
 * on a cluster): a master and three workers as processes, each worker in its own CPU cgroup capped
 * at `capCores` (its sandboxes' groups nest inside: the worker's cgroup root is that group), and
 * on one of them a neighbour — `hogs` busy loops started by this benchmark inside that cap,
 * outside the worker's process tree, so the worker is not measured hot and still takes shards;
 * they leave its sandboxes about 1 / (hogs + 1) of its cap. A foreach of CPU-bound items
 * (a busy loop until `itemCpuMs` of CPU time each) sharded 3 ways runs with work stealing (`steal: true`) and with
 * an even split up front (`steal: false`), alternating; the figure is the foreach step's own
 * elapsed time (its makespan), medians.
 *
 * Needs root and the cgroup v1 cpu controller (`/sys/fs/cgroup/cpu`); it says so without.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../deploy/local-cluster.js';
import { HttpClient } from '../shared/http-client.js';
import { median } from './report.js';

export interface NoisyClusterOptions {
  runs: number;
  items: number;
  itemCpuMs: number;
  capCores: number;
  hogs: number;
  print: (line: string) => void;
}

export const NOISY_DEFAULTS: Omit<NoisyClusterOptions, 'print'> = {
  runs: 8,
  items: 96,
  itemCpuMs: 15,
  capCores: 0.5,
  hogs: 2,
};

export interface NoisyClusterRow {
  schedule: 'even split' | 'stealing';
  makespanMs: number;
  /** Items each worker ran, in the last run, by worker. */
  itemsByWorker: Record<string, number>;
  owners: string[];
}

export interface NoisyClusterFigures {
  options: Omit<NoisyClusterOptions, 'print'>;
  noisyWorker: string;
  rows: NoisyClusterRow[];
  /** 1 − stealing / even split. */
  reduction: number;
}

const WORKER_IDS = ['bench-noisy-w0', 'bench-noisy-w1', 'bench-noisy-w2'];
const PERIOD_US = 100_000;

/** The cpu controller's directory for cgroup `rel`, made and capped; undefined: no cgroups. */
function capGroup(rel: string, cores: number): string | undefined {
  const quota = Math.round(cores * PERIOD_US);
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
    const dir = join('/sys/fs/cgroup/cpu', rel);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(PERIOD_US));
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    return dir;
  }
  // cgroup v2 would need the cpu controller delegated down the tree and the worker in a leaf
  // beside its sandboxes' groups (no internal processes): not done here.
  return undefined;
}

/** Removes `dir` and the empty groups under it, deepest first; what is busy stays. */
function removeGroup(dir: string): void {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) removeGroup(join(dir, e.name));
    rmdirSync(dir);
  } catch {
    // still in use, or gone
  }
}

function yaml(name: string, items: number, cpuMs: number, cap: number, steal: boolean): string {
  return [
    `name: ${name}`,
    'functions:',
    '  item:',
    // CPU time, not wall time: a throttled or crowded sandbox takes longer to get it.
    `    code: ${JSON.stringify(`export default async (x) => { const s = process.cpuUsage(); for (;;) { const u = process.cpuUsage(s); if (u.user + u.system >= ${cpuMs * 1000}) break; } return x.i; }`)}`,
    `    runtime: ${cpuMs}ms`,
    // A sandbox's own quota nests under the worker's cap and may not exceed it (cgroup v1).
    `    cpu: ${cap}`,
    'flow:',
    '  foreach:',
    "    items: '$.items'",
    `    width: ${items}`,
    '    concurrency: 4',
    '    do: { task: item }',
    `    shard: { size: 3, maxShards: 3, steal: ${steal} }`,
  ].join('\n');
}

interface Step {
  kind: string;
  node: string;
  worker: string;
  startedAt: number;
  finishedAt: number;
}

export async function runNoisyCluster(o: NoisyClusterOptions): Promise<NoisyClusterFigures> {
  const { print, ...options } = o;
  const groups = WORKER_IDS.map((id) => capGroup(`faasflow/${id}`, o.capCores));
  if (groups.some((g) => g === undefined))
    throw new Error(
      'the noisy-neighbour part needs the cgroup v1 cpu controller at /sys/fs/cgroup/cpu, writable (run as root on Linux with cgroup v1 or hybrid)',
    );
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-noisy-'));
  const cluster = new LocalCluster({
    workers: 3,
    logDir,
    runtime: 'process',
    // LocalCluster numbers workers from 1.
    workerFlags: (i) => [`--worker-id=${WORKER_IDS[i - 1]}`, '--memory-mb=3072', '--cpu=1'],
    // Each worker starts inside its capped group: its sandboxes' groups are made under it.
    launcher: (name) => {
      const i = /^worker-(\d+)$/.exec(name)?.[1];
      if (i === undefined) return [];
      return ['sh', '-c', `echo $$ > ${groups[Number(i) - 1]}/cgroup.procs && exec "$@"`, 'sh'];
    },
  });
  const http = new HttpClient({ connections: 4 });
  const hogs: ChildProcess[] = [];
  const noisy = WORKER_IDS[2]!;
  try {
    await cluster.start();
    const url = cluster.masterUrl;
    const call = (path: string, body?: unknown): Promise<unknown> =>
      http.json(`${url}${path}`, body === undefined ? 'GET' : 'POST', body, 120_000);
    for (const steal of [false, true])
      await call('/v1/workflows', {
        yaml: yaml(
          `bench-noisy-${steal ? 'steal' : 'even'}`,
          o.items,
          o.itemCpuMs,
          o.capCores,
          steal,
        ),
        files: {},
      });
    for (let h = 0; h < o.hogs; h++) {
      const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      writeFileSync(join(groups[2]!, 'cgroup.procs'), String(hog.pid));
      hogs.push(hog);
    }
    const input = { items: Array.from({ length: o.items }, (_, i) => ({ i })) };
    const one = async (steal: boolean): Promise<Step[]> => {
      const r = (await call(`/v1/workflows/bench-noisy-${steal ? 'steal' : 'even'}/invocations`, {
        input,
      })) as { status: string; invocationId: string };
      if (r.status !== 'succeeded') throw new Error(`foreach ended ${r.status}`);
      await new Promise((res) => setTimeout(res, 200));
      return ((await call(`/v1/invocations/${r.invocationId}`)) as { steps: Step[] }).steps;
    };
    for (let i = 0; i < 2; i++) {
      await one(false);
      await one(true);
    }
    const runs = { even: [] as Step[][], steal: [] as Step[][] };
    for (let i = 0; i < o.runs; i++) {
      runs.even.push(await one(false));
      runs.steal.push(await one(true));
    }
    const row = (schedule: NoisyClusterRow['schedule'], list: Step[][]): NoisyClusterRow => {
      const fe = list.map((steps) => steps.find((s) => s.kind === 'foreach'));
      const byWorker: Record<string, number> = {};
      for (const s of list.at(-1) ?? [])
        if (s.kind === 'task') byWorker[s.worker] = (byWorker[s.worker] ?? 0) + 1;
      return {
        schedule,
        makespanMs: median(fe.map((s) => (s ? s.finishedAt - s.startedAt : 0))),
        itemsByWorker: byWorker,
        owners: [...new Set(fe.map((s) => s?.worker ?? '?'))].sort(),
      };
    };
    const rows = [row('even split', runs.even), row('stealing', runs.steal)];
    print(`  noisy neighbour: done`);
    return {
      options,
      noisyWorker: noisy,
      rows,
      reduction: 1 - rows[1]!.makespanMs / rows[0]!.makespanMs,
    };
  } catch (err) {
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
    await http.close();
    await cluster.stop();
    for (const g of groups) if (g !== undefined) removeGroup(g);
  }
}
