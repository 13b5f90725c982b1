/**
 * `faasflow bench chains --sim`: off vs eager vs predictive prewarming in one seeded simulated
 * run (bench/chains-sim.ts), on FaaSFlow's Genome and illegal-recognizer DAGs (its two switches
 * given skewed branches) and a pair, FileProcessing followed by Epigenomics in the same session
 * 70 % of the time. Runtimes are FaaSFlow's × 0.02, as `bench faasflow` runs them; placement is
 * the partitioner's groups over 3 workers.
 *
 * Figures, over the invocations after the warm-up: critical-path cold starts and the share
 * removed against `off` (all of them, and those after the first node, the ones a prepare at
 * invocation start can reach); p99 latency against the all-warm run (cold start 0); wasted
 * prewarm memory-seconds against eager's; the waste fraction against the budget; and the cold
 * start rate of the successor workflow against `off`. The real-cluster run comes once the
 * runtime calls the planner (docs/guides/chains.md).
 */
import { join } from 'node:path';
import { partition } from '../master/partition/index.js';
import { loadWorkflowFile } from '../master/workflow/index.js';
import type { PrewarmMode } from '../shared/chains/planner.js';
import type { WorkflowDag } from '../shared/dag/types.js';
import { simulate, type SimOptions, type SimResult, type SimWorkflow } from './chains-sim.js';
import { CHAINS_CLUSTER_DEFAULTS } from './chains-cluster-defaults.js';
import { flagReader } from './flag-reader.js';
import { faasflowBenchmarks } from './paths.js';
import { formatTable, percentile, publishReport } from './report.js';

export interface ChainsBenchOptions extends SimOptions {
  sim: boolean;
  /** The real-cluster run (bench/chains-cluster.ts) instead of the simulation. */
  cluster: boolean;
  /** Cluster: measured rounds (warm-up: a quarter, 2..8). */
  rounds: number;
  /** Cluster: the workers' sandbox tier. */
  runtime: 'process' | 'docker';
  /** Cluster: the workers' idle timeout (`--idle-ms`; default 1,500). */
  clusterIdleMs: number;
  /** Cluster: sandboxes each worker starts at once (`--start-concurrency`; default its cores). */
  startConcurrency?: number;
  /** Data ahead on namespace hosts (bench/chains-data.ts) instead of the simulation. */
  data: boolean;
  /** A burst of sandbox starts, the start gate off and on (bench/chains-starts.ts). */
  starts: boolean;
  /** Placement near a labelled database on namespace hosts (bench/chains-near.ts). */
  near: boolean;
  /** Near: the object the query reads, KB. */
  blobKb: number;
  /** Starts: prepares asked for at once. */
  burst: number;
  hosts: number;
  bandwidth: string;
  repetitions: number;
  workers: number;
  reportDir?: string | null;
  print?: (line: string) => void;
}

export const CHAINS_DEFAULTS: Omit<ChainsBenchOptions, 'sim'> = {
  seed: 1,
  invocations: 800,
  warmup: 150,
  meanGapMs: 4000,
  idleMs: 3000,
  coldMs: 70,
  noise: 0.1,
  budget: 0.1,
  workers: 3,
  cluster: false,
  rounds: CHAINS_CLUSTER_DEFAULTS.rounds,
  runtime: 'process',
  clusterIdleMs: CHAINS_CLUSTER_DEFAULTS.idleMs,
  data: false,
  starts: false,
  burst: 8,
  near: false,
  blobKb: 1024,
  hosts: 3,
  bandwidth: '25mbit',
  repetitions: 5,
};

const SMOKE = { invocations: 120, warmup: 30, rounds: 4, repetitions: 2 };

const KNOWN = [
  'sim',
  'cluster',
  'rounds',
  'runtime',
  'data',
  'starts',
  'burst',
  'near',
  'blob-kb',
  'hosts',
  'bandwidth',
  'repetitions',
  'smoke',
  'seed',
  'invocations',
  'budget',
  'cold-ms',
  'idle-ms',
  'start-concurrency',
  'out',
] as const;

export function chainsOptionsFromFlags(
  camelFlags: Record<string, string | boolean>,
): { options: ChainsBenchOptions } | { error: string } {
  const { flags, problems, str, int } = flagReader(camelFlags, 'chains', KNOWN);
  const o: ChainsBenchOptions = {
    ...CHAINS_DEFAULTS,
    ...(flags['smoke'] === true ? SMOKE : {}),
    sim: flags['sim'] === true,
    cluster: flags['cluster'] === true,
    data: flags['data'] === true,
    starts: flags['starts'] === true,
    near: flags['near'] === true,
  };
  if ([o.sim, o.cluster, o.data, o.starts, o.near].filter(Boolean).length !== 1)
    problems.push(
      'give one of --sim (seeded simulated pools), --cluster (a local cluster of processes), --data (namespace hosts with capped links), --starts (a burst of sandbox starts) or --near (placement near a labelled database on namespace hosts)',
    );
  const blobKb = int('blob-kb', 1);
  if (blobKb !== undefined) o.blobKb = blobKb;
  const burst = int('burst', 2);
  if (burst !== undefined) o.burst = burst;
  const hosts = int('hosts', 2);
  if (hosts !== undefined) o.hosts = hosts;
  const reps = int('repetitions', 1);
  if (reps !== undefined) o.repetitions = reps;
  const bandwidth = str('bandwidth');
  if (bandwidth !== undefined) {
    if (/^\d+(\.\d+)?[kmg]bit$/.test(bandwidth)) o.bandwidth = bandwidth;
    else
      problems.push(`--bandwidth must be a rate like 25mbit, 500kbit or 1gbit, got ${bandwidth}`);
  }
  const rounds = int('rounds', 2);
  if (rounds !== undefined) o.rounds = rounds;
  const runtime = str('runtime');
  if (runtime !== undefined) {
    if (runtime === 'process' || runtime === 'docker') o.runtime = runtime;
    else problems.push(`--runtime must be process or docker, got ${runtime}`);
  }
  const seed = int('seed', 0);
  if (seed !== undefined) o.seed = seed;
  const n = int('invocations', 20);
  if (n !== undefined) {
    o.invocations = n;
    o.warmup = Math.min(o.warmup, Math.floor(n / 4));
  }
  const coldMs = int('cold-ms', 1);
  if (coldMs !== undefined) o.coldMs = coldMs;
  const idleMs = int('idle-ms', 1);
  if (idleMs !== undefined) o.idleMs = o.clusterIdleMs = idleMs;
  const startConcurrency = int('start-concurrency', 0);
  if (startConcurrency !== undefined) o.startConcurrency = startConcurrency;
  const budget = str('budget');
  if (budget !== undefined) {
    const b = Number(budget);
    if (!(Number.isFinite(b) && b > 0 && b < 1))
      problems.push(`--budget must be a fraction between 0 and 1 (e.g. 0.1), got ${budget}`);
    else o.budget = b;
  }
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}

async function load(name: string): Promise<WorkflowDag> {
  const file = join(faasflowBenchmarks(), name, 'flat_workflow.yaml');
  const r = await loadWorkflowFile(file, { name: name.replace(/_/g, '-'), runtimeScale: 0.02 });
  if (!r.dag)
    throw new Error(`bench chains: ${file} does not compile: ${JSON.stringify(r.issues)}`);
  return r.dag;
}

function owners(dag: WorkflowDag, workers: number): Record<string, string> {
  const p = partition(dag, { workers });
  const out: Record<string, string> = {};
  for (const n of dag.nodes) out[n.id] = `w${(p.groupOf[n.id] ?? 0) % workers}`;
  return out;
}

/** The workload: Genome, the illegal recognizer with skewed switches, and a successor pair. */
export async function chainsWorkload(workers: number): Promise<SimWorkflow[]> {
  const [genome, illegal, fileproc, epi] = await Promise.all(
    ['genome', 'illgal_recognizer', 'fileprocessing', 'epigenomics'].map(load),
  );
  const branches: Record<string, Record<string, number>> = {};
  for (const n of illegal!.nodes)
    if (n.kind === 'switch') branches[n.id] = { '0': 0.85, '1': 0.15 };
  return [
    { dag: genome!, owners: owners(genome!, workers), weight: 1 },
    { dag: illegal!, owners: owners(illegal!, workers), weight: 1, branches },
    {
      dag: fileproc!,
      owners: owners(fileproc!, workers),
      weight: 1,
      successor: { workflow: epi!.name, probability: 0.7, gapMs: 1500 },
    },
    { dag: epi!, owners: owners(epi!, workers), weight: 0 },
  ];
}

export interface ModeFigures {
  mode: PrewarmMode | 'all-warm';
  invocations: number;
  criticalColdStarts: number;
  criticalColdAfterSource: number;
  /** Share of off's critical-path cold starts removed (null for off itself). */
  removed: number | null;
  removedAfterSource: number | null;
  p99Ms: number;
  p99VsAllWarm: number;
  prepares: number;
  wasteMbS: number;
  wasteVsEager: number | null;
  wasteFraction: number;
  /** Mean |windowed waste fraction − budget| the controller saw (predictive). */
  trackingError: number | null;
  successorColdRate: number;
  successorColdVsOff: number | null;
}

export function figures(results: Record<string, SimResult>, budget: number): ModeFigures[] {
  const p99 = (r: SimResult): number =>
    percentile(
      r.outcomes
        .filter((x) => x.measured)
        .map((x) => x.latencyMs)
        .sort((a, b) => a - b),
      0.99,
    );
  const sum = (r: SimResult, f: (x: SimResult['outcomes'][number]) => number): number =>
    r.outcomes.filter((x) => x.measured).reduce((s, x) => s + f(x), 0);
  const succRate = (r: SimResult): number => {
    const s = r.outcomes.filter((x) => x.measured && x.successor);
    const starts = s.reduce((a, x) => a + x.taskStarts, 0);
    return starts > 0 ? s.reduce((a, x) => a + x.coldStarts, 0) / starts : 0;
  };
  const off = results['off']!;
  const warm = results['all-warm']!;
  const eager = results['eager'];
  const offCp = sum(off, (x) => x.criticalColdStarts);
  const offCpAfter = sum(off, (x) => x.criticalColdAfterSource);
  return Object.entries(results).map(([mode, r]) => {
    const cp = sum(r, (x) => x.criticalColdStarts);
    const cpAfter = sum(r, (x) => x.criticalColdAfterSource);
    const tracking =
      mode === 'predictive' && r.fractions.length > 0
        ? r.fractions.reduce((s, f) => s + Math.abs(f - budget), 0) / r.fractions.length
        : null;
    return {
      mode: mode as ModeFigures['mode'],
      invocations: r.outcomes.filter((x) => x.measured).length,
      criticalColdStarts: cp,
      criticalColdAfterSource: cpAfter,
      removed: mode === 'off' || offCp === 0 ? null : 1 - cp / offCp,
      removedAfterSource: mode === 'off' || offCpAfter === 0 ? null : 1 - cpAfter / offCpAfter,
      p99Ms: p99(r),
      p99VsAllWarm: p99(r) / p99(warm),
      prepares: r.prepares,
      wasteMbS: r.wasteMbS,
      wasteVsEager: eager && eager.wasteMbS > 0 ? r.wasteMbS / eager.wasteMbS : null,
      wasteFraction: r.totalMbS > 0 ? r.wasteMbS / r.totalMbS : 0,
      trackingError: tracking,
      successorColdRate: succRate(r),
      successorColdVsOff: succRate(off) > 0 ? succRate(r) / succRate(off) : null,
    };
  });
}

export async function runChainsBench(o: ChainsBenchOptions): Promise<ModeFigures[]> {
  const print = o.print ?? ((line: string) => console.log(line));
  if (o.data) {
    const { runChainsData, CHAINS_DATA_DEFAULTS } = await import('./chains-data.js');
    await runChainsData({
      ...CHAINS_DATA_DEFAULTS,
      hosts: o.hosts,
      bandwidth: o.bandwidth,
      repetitions: o.repetitions,
      ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
      print,
    });
    return [];
  }
  if (o.near) {
    const { runChainsNear } = await import('./chains-near.js');
    await runChainsNear({
      hosts: o.hosts,
      bandwidth: o.bandwidth,
      blobKb: o.blobKb,
      warmup: 2,
      repetitions: o.repetitions,
      ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
      print,
    });
    return [];
  }
  if (o.starts) {
    const { runStartsBench } = await import('./chains-starts.js');
    await runStartsBench({
      runtime: o.runtime,
      burst: o.burst,
      repetitions: o.repetitions,
      ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
      print,
    });
    return [];
  }
  if (o.cluster) {
    const { runChainsCluster } = await import('./chains-cluster.js');
    await runChainsCluster({
      ...CHAINS_CLUSTER_DEFAULTS,
      rounds: o.rounds,
      warmup: Math.max(2, Math.min(8, Math.floor(o.rounds / 4))),
      idleMs: o.clusterIdleMs,
      runtime: o.runtime,
      budget: o.budget,
      seed: o.seed,
      ...(o.startConcurrency !== undefined ? { startConcurrency: o.startConcurrency } : {}),
      ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
      print,
    });
    return [];
  }
  const startedAt = new Date();
  const workload = await chainsWorkload(o.workers);
  const results: Record<string, SimResult> = {};
  results['all-warm'] = simulate(workload, 'off', { ...o, coldMs: 0 });
  for (const mode of ['off', 'eager', 'predictive'] as const)
    results[mode] = simulate(workload, mode, o);
  const rows = figures(results, o.budget);
  const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
  const ratio = (x: number | null): string => (x === null ? '—' : `${x.toFixed(2)}×`);
  print(
    `chains (simulated): ${o.invocations} primary invocations, Poisson mean gap ${o.meanGapMs} ms, cold start ${o.coldMs} ms, idle timeout ${o.idleMs} ms, budget ${pct(o.budget)}, seed ${o.seed}`,
  );
  for (const line of formatTable(
    [
      'mode',
      'cp cold',
      'removed',
      'after 1st',
      'p99',
      'vs warm',
      'prepares',
      'waste MB·s',
      'vs eager',
      'waste %',
      'track err',
      'succ cold',
      'vs off',
    ],
    rows.map((r) => [
      r.mode,
      String(r.criticalColdStarts),
      pct(r.removed),
      pct(r.removedAfterSource),
      `${r.p99Ms.toFixed(0)} ms`,
      ratio(r.p99VsAllWarm),
      String(r.prepares),
      r.wasteMbS.toFixed(0),
      ratio(r.wasteVsEager),
      pct(r.wasteFraction),
      r.trackingError === null ? '—' : `${(r.trackingError * 100).toFixed(2)} pt`,
      pct(r.successorColdRate),
      ratio(r.successorColdVsOff),
    ]),
    ['left'],
  ))
    print(line);
  print(
    'Simulated pools, not a cluster: `bench chains --cluster` runs the same modes on processes.',
  );
  if (o.reportDir !== null)
    publishReport(
      'chains',
      startedAt,
      { options: o, rows },
      {
        print,
        ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
      },
    );
  return rows;
}
