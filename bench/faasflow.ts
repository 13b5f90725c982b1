/**
 * `faasflow bench faasflow`: FaaSFlow's eight paper benchmarks, imported unchanged from their
 * flat YAML, on WorkerSP + FaaStore (our default) and on our MasterSP baseline (every trigger
 * through the master, every non-inline byte through Redis), in one run.
 *
 * Per benchmark and mode: e2e latency (client-observed, `wait: true`), scheduling overhead (e2e −
 * Σ function time along the critical path), data overhead (Σ get + put) and bytes through the
 * remote tier, p50/p99 over `repetitions` sequential invocations after `warmup`; then the co-run
 * case, all benchmarks started at once. Next to FaaSFlow's published figures and our goals.
 *
 * Locally the cluster is a master and N workers as processes with Redis from `redisUrl`. With
 * `hosts` it runs across network-namespace hosts (deploy/netns): Redis and the master on one,
 * a worker on each of the others, links capped at each `bandwidth` in turn. Writes the figures,
 * machine, commit and command line to `.bench/faasflow-<timestamp>.json`. Missed goals are
 * printed, not errors.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../deploy/local-cluster.js';
import { faasflowBenchmarks } from './paths.js';
import { invocationFigures, readBenchSteps, type InvocationFigures } from './faasflow-analysis.js';
import type { FaasflowBenchOptions, Mode } from './faasflow-flags.js';
import { BenchClient, type WorkflowShape } from './overhead-load.js';
import { formatDuration, formatTable, publishReport, summarize, type Summary } from './report.js';

export type { FaasflowBenchOptions } from './faasflow-flags.js';

/** FaaSFlow (ASPLOS'22), Python on 8-core workers: the published figures we compare with. */
export const PUBLISHED = {
  workerSpSchedulingMs: { min: 39, max: 169 },
  masterSpSchedulingMs: { min: 113, max: 947 },
  cyclesDataOverheadMs: 10_300,
} as const;

/** Goals: scheduling ≤ 1/20 of FaaSFlow's WorkerSP (its best benchmark) and ≥ 5× below MasterSP. */
export const GOALS = {
  schedulingMs: PUBLISHED.workerSpSchedulingMs.min / 20,
  masterOverWorker: 5,
  cyclesDataMs: 1_000,
  remoteMsPerMb: 1,
} as const;

/** Inputs that take the longest way through the benchmarks with switches. */
const INPUTS: Record<string, unknown> = {
  video: { split: true },
  illgal_recognizer: { illegal_flag: false, word_censor: { illegal_flag: true } },
};

/** Per invocation: generous, since MasterSP across a 25 mbit link moves everything twice. */
const INVOKE_TIMEOUT_MS = 600_000;

export interface FigureSummary {
  e2e: Summary | null;
  scheduling: Summary | null;
  criticalPath: Summary | null;
  data: Summary | null;
  remoteBytes: number | null;
  crossWorkerEdges: number | null;
  workers: number | null;
}

export interface ModeResult {
  mode: Mode;
  sequential: Record<string, FigureSummary>;
  corun: Record<string, FigureSummary> | null;
  failures: string[];
}

export interface ClusterResult {
  bandwidth: string | null;
  modes: ModeResult[];
}

export interface FaasflowBenchResult {
  options: Omit<FaasflowBenchOptions, 'print'>;
  clusters: ClusterResult[];
  goals: GoalRow[];
  reportPath: string;
}

export interface GoalRow {
  where: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

export async function runFaasflowBench(o: FaasflowBenchOptions): Promise<FaasflowBenchResult> {
  const print = o.print ?? ((line: string) => console.log(line));
  const startedAt = new Date();
  const dir = o.benchmarksDir ?? faasflowBenchmarks();
  const sources = Object.fromEntries(
    o.benchmarks.map((b) => [b, readFileSync(join(dir, b, 'flat_workflow.yaml'), 'utf8')]),
  );
  const where =
    o.hosts === undefined
      ? `${o.workers} local workers (processes)`
      : `${o.hosts} namespace worker hosts + 1 for Redis and the master`;
  print(
    `bench faasflow: ${o.benchmarks.length} benchmarks on ${where}, ${o.runtime} sandboxes, ` +
      `runtime ×${o.runtimeScale}, sizes ×${o.sizeScale}, ${o.warmup} warm-up + ${o.repetitions} measured each`,
  );

  const clusters: ClusterResult[] = [];
  const bandwidths: (string | null)[] =
    o.hosts !== undefined && o.bandwidths.length > 0 ? o.bandwidths : [null];
  for (const bandwidth of bandwidths) {
    const modes: ModeResult[] = [];
    for (const mode of o.modes) {
      print(
        `\n${mode === 'worker' ? 'WorkerSP + FaaStore' : 'MasterSP'}${bandwidth ? ` at ${bandwidth}` : ''}…`,
      );
      modes.push(await runMode(o, mode, bandwidth, sources, print));
    }
    clusters.push({ bandwidth, modes });
    for (const line of formatCluster(o, { bandwidth, modes })) print(line);
  }

  const goals = evaluateGoals(o, clusters);
  print('');
  for (const line of formatTable(
    ['goal', 'where', 'measured', ''],
    goals.map((g) => [
      g.goal,
      g.where,
      g.measured,
      g.met === null ? 'n/a' : g.met ? 'met' : 'MISSED',
    ]),
    ['left', 'left', 'right', 'left'],
  ))
    print(line);

  const { print: _print, ...recorded } = o;
  const figures = {
    options: recorded,
    published: PUBLISHED,
    goals: GOALS,
    clusters,
    goalRows: goals,
  };
  print('');
  const reportPath = publishReport('faasflow', startedAt, figures, {
    ...(o.command === undefined ? {} : { command: o.command }),
    ...(o.reportDir === undefined ? {} : { reportDir: o.reportDir }),
    print,
  });
  return { options: recorded, clusters, goals, reportPath };
}

interface Cluster {
  masterUrl: string;
  stop(): Promise<void>;
}

async function startCluster(
  o: FaasflowBenchOptions,
  mode: Mode,
  bandwidth: string | null,
): Promise<Cluster> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-faasflow-'));
  if (o.hosts !== undefined) {
    const { startNetnsCluster } = await import('../deploy/netns/index.js');
    const c = await startNetnsCluster({
      workers: o.hosts,
      logDir,
      mode,
      token: 'bench-faasflow-token',
      ...(bandwidth === null ? {} : { bandwidth }),
      ...(o.latencyMs === undefined ? {} : { latencyMs: o.latencyMs }),
      workerFlags: () => [`--runtime=${o.runtime}`],
    });
    return { masterUrl: c.masterUrl, stop: () => c.stop() };
  }
  const c = new LocalCluster({
    workers: o.workers,
    logDir,
    mode,
    runtime: o.runtime,
    redisUrl: o.redisUrl,
  });
  try {
    await c.start();
  } catch (err) {
    await c.stop();
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  }
  return { masterUrl: c.masterUrl, stop: () => c.stop() };
}

async function runMode(
  o: FaasflowBenchOptions,
  mode: Mode,
  bandwidth: string | null,
  sources: Record<string, string>,
  print: (line: string) => void,
): Promise<ModeResult> {
  const cluster = await startCluster(o, mode, bandwidth);
  const client = new BenchClient(cluster.masterUrl, 16);
  const failures: string[] = [];
  try {
    const shapes = new Map<string, WorkflowShape>();
    for (const b of o.benchmarks) {
      shapes.set(
        b,
        await client.deploy(sources[b]!, {
          name: `ff-${b.replace(/_/g, '-')}`,
          runtimeScale: o.runtimeScale,
          sizeScale: o.sizeScale,
        }),
      );
    }
    const sequential: Record<string, FigureSummary> = {};
    for (const b of o.benchmarks) {
      const shape = shapes.get(b)!;
      const samples: InvocationFigures[] = [];
      for (let i = 0; i < o.warmup + o.repetitions; i++) {
        const f = await measureOne(client, shape, INPUTS[b] ?? {}, failures, b);
        if (f !== null && i >= o.warmup) samples.push(f);
      }
      sequential[b] = summarizeFigures(samples);
      print(
        `  ${b}: e2e p50 ${formatDuration(sequential[b].e2e?.p50Ms)}, scheduling p50 ${formatDuration(sequential[b].scheduling?.p50Ms)}`,
      );
    }
    let corun: Record<string, FigureSummary> | null = null;
    if (o.corun && o.benchmarks.length > 1) {
      const samples = new Map<string, InvocationFigures[]>(o.benchmarks.map((b) => [b, []]));
      for (let i = 0; i < o.repetitions; i++) {
        await Promise.all(
          o.benchmarks.map(async (b) => {
            const f = await measureOne(
              client,
              shapes.get(b)!,
              INPUTS[b] ?? {},
              failures,
              `${b} (co-run)`,
            );
            if (f !== null) samples.get(b)!.push(f);
          }),
        );
      }
      corun = Object.fromEntries([...samples].map(([b, s]) => [b, summarizeFigures(s)]));
      print(`  co-run: ${o.repetitions} rounds of all ${o.benchmarks.length} at once`);
    }
    return { mode, sequential, corun, failures };
  } finally {
    await client.close();
    await cluster.stop();
  }
}

/** One invocation and its figures; a failure is recorded and yields null. */
async function measureOne(
  client: BenchClient,
  shape: WorkflowShape,
  input: unknown,
  failures: string[],
  label: string,
): Promise<InvocationFigures | null> {
  const r = await client.invoke(shape.name, input, INVOKE_TIMEOUT_MS).catch((err: Error) => ({
    invocationId: '',
    status: 'failed',
    durationMs: 0,
    clientMs: 0,
    error: err.message,
  }));
  if (r.status !== 'succeeded') {
    failures.push(`${label}: ${r.status}${r.error ? `: ${r.error}` : ''}`);
    return null;
  }
  // Steps reach the master in batches; read until every top-level node has one.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const read = readBenchSteps(await client.invocation(r.invocationId));
    if ('problem' in read)
      throw new Error(`invocation ${r.invocationId} of ${label}: ${read.problem}`);
    const f = invocationFigures(r.clientMs, shape.nodes, shape.edges, read.steps);
    if (f !== null) return f;
    if (Date.now() > deadline) {
      failures.push(`${label}: invocation ${r.invocationId} timeline incomplete after 5 s`);
      return null;
    }
    await new Promise((res) => setTimeout(res, 20));
  }
}

function summarizeFigures(samples: readonly InvocationFigures[]): FigureSummary {
  const median = (xs: number[]): number | null => summarize(xs)?.p50Ms ?? null;
  return {
    e2e: summarize(samples.map((s) => s.e2eMs)),
    scheduling: summarize(samples.map((s) => s.schedulingMs)),
    criticalPath: summarize(samples.map((s) => s.criticalPathMs)),
    data: summarize(samples.map((s) => s.dataMs)),
    remoteBytes: median(samples.map((s) => s.remoteBytes)),
    crossWorkerEdges: median(samples.map((s) => s.crossWorkerEdges)),
    workers: median(samples.map((s) => s.workers)),
  };
}

function formatBytes(n: number | null): string {
  if (n === null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function ratio(a: number | null | undefined, b: number | null | undefined): string {
  if (a == null || b == null || b <= 0) return '—';
  return `${(a / b).toFixed(1)}×`;
}

function formatCluster(o: FaasflowBenchOptions, c: ClusterResult): string[] {
  const lines: string[] = [''];
  const title = c.bandwidth ? ` — links capped at ${c.bandwidth}` : '';
  const worker = c.modes.find((m) => m.mode === 'worker');
  const master = c.modes.find((m) => m.mode === 'master');
  for (const [kind, pick] of [
    ['sequential', (m: ModeResult) => m.sequential],
    ['co-run (all at once)', (m: ModeResult) => m.corun],
  ] as const) {
    const w = worker ? pick(worker) : null;
    const m = master ? pick(master) : null;
    if (w === null && m === null) continue;
    lines.push(`${kind}${title}: p50 (p99), W = WorkerSP + FaaStore, M = MasterSP`);
    const rows = o.benchmarks.map((b) => {
      const fw = w?.[b];
      const fm = m?.[b];
      const cell = (s: Summary | null | undefined): string =>
        s ? `${formatDuration(s.p50Ms)} (${formatDuration(s.p99Ms)})` : '—';
      return [
        b,
        cell(fw?.e2e),
        cell(fm?.e2e),
        cell(fw?.scheduling),
        cell(fm?.scheduling),
        ratio(fm?.scheduling?.p50Ms, fw?.scheduling?.p50Ms),
        cell(fw?.data),
        cell(fm?.data),
        `${formatBytes(fw?.remoteBytes ?? null)} / ${formatBytes(fm?.remoteBytes ?? null)}`,
        fw?.workers == null ? '—' : String(fw.workers),
      ];
    });
    lines.push(
      ...formatTable(
        [
          'benchmark',
          'e2e W',
          'e2e M',
          'sched W',
          'sched M',
          'M/W',
          'data W',
          'data M',
          'remote W / M',
          'workers',
        ],
        rows,
        ['left'],
      ),
    );
    lines.push('');
  }
  for (const m of c.modes) {
    if (m.failures.length > 0)
      lines.push(`${m.mode}: ${m.failures.length} failed invocation(s); first: ${m.failures[0]}`);
  }
  lines.push(
    `FaaSFlow published (Python, 8-core workers): scheduling ${PUBLISHED.workerSpSchedulingMs.min}–${PUBLISHED.workerSpSchedulingMs.max} ms WorkerSP, ` +
      `${PUBLISHED.masterSpSchedulingMs.min}–${PUBLISHED.masterSpSchedulingMs.max} ms MasterSP; Cycles data overhead ${PUBLISHED.cyclesDataOverheadMs / 1000} s`,
  );
  return lines;
}

function evaluateGoals(o: FaasflowBenchOptions, clusters: readonly ClusterResult[]): GoalRow[] {
  const rows: GoalRow[] = [];
  for (const c of clusters) {
    const at = c.bandwidth ? ` @${c.bandwidth}` : '';
    const worker = c.modes.find((m) => m.mode === 'worker');
    const master = c.modes.find((m) => m.mode === 'master');
    if (!worker) continue;
    for (const b of o.benchmarks) {
      const w = worker.sequential[b]?.scheduling?.p50Ms;
      if (w === undefined) continue;
      rows.push({
        where: `${b}${at}`,
        goal: `scheduling ≤ ${formatDuration(GOALS.schedulingMs)} (FaaSFlow ${PUBLISHED.workerSpSchedulingMs.min} ms / 20)`,
        measured: formatDuration(w),
        met: w <= GOALS.schedulingMs,
      });
      const m = master?.sequential[b]?.scheduling?.p50Ms;
      if (m !== undefined) {
        rows.push({
          where: `${b}${at}`,
          goal: `scheduling ≥ ${GOALS.masterOverWorker}× below MasterSP`,
          measured: w > 0 ? `${(m / w).toFixed(1)}×` : '∞',
          met: w <= 0 || m / w >= GOALS.masterOverWorker,
        });
      }
    }
    const cycles = worker.sequential['cycles'];
    if (cycles?.data) {
      const full = o.sizeScale === 1;
      rows.push({
        where: `cycles${at}`,
        goal: `data overhead ≤ ${GOALS.cyclesDataMs / 1000} s at full size (FaaSFlow 10.3 s)`,
        measured: `${formatDuration(cycles.data.p50Ms)}${full ? '' : ` at sizes ×${o.sizeScale}`}`,
        met: full ? cycles.data.p50Ms <= GOALS.cyclesDataMs : null,
      });
    }
    // Remote cost per MB: all data time over the bytes that went remote (an upper bound, since it
    // includes the local edges' get and put).
    let dataMs = 0;
    let remoteBytes = 0;
    for (const f of Object.values(worker.sequential)) {
      if (f.data && f.remoteBytes !== null) {
        dataMs += f.data.p50Ms;
        remoteBytes += f.remoteBytes;
      }
    }
    if (remoteBytes >= 1024 * 1024) {
      const perMb = dataMs / (remoteBytes / 1024 / 1024);
      rows.push({
        where: `all${at}`,
        goal: `remote data ≤ ${GOALS.remoteMsPerMb} ms/MB (Σ get + put over remote MB)`,
        measured: `${perMb.toFixed(2)} ms/MB`,
        met: perMb <= GOALS.remoteMsPerMb,
      });
    }
  }
  return rows;
}
