/**
 * `faasflow bench harvest`: resource harvesting on the thesis's three skewed workloads
 * (deploy/examples/harvest: ParallelAES, video analytics, ML pipeline), driven by open-loop
 * Poisson arrivals at three loads, harvesting off vs on (predictions only, then with live
 * rebalancing), and placement baselines (hash, round-robin, JSQ) vs greedy-JSQ.
 *
 * 1. Profiling: a cluster with harvesting on and Redis runs each workload with `profile: true`
 *    (maximum allocations) over a sweep of input sizes, then trains the models and reads their
 *    held-out accuracy.
 * 2. Calibration: the mean CPU time of one invocation of the request mix, which scales the loads
 *    to this machine: a load is a target utilisation of its cores (low, medium, high).
 * 3. Runs: a fresh cluster per configuration (the models persist in Redis), a warm-up, then the
 *    same seeded requests at the same offsets for every configuration, so requests pair up.
 *
 * Reports p50/p99 latency, the thesis's per-request speedup against harvesting off, CPU and memory
 * utilisation (used / allocated), and prediction accuracy, next to the thesis's figures. Writes
 * `.bench/harvest-<timestamp>.json`.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalCluster } from '../deploy/local-cluster.js';
import { HttpClient } from '../shared/http-client.js';
import { repoRoot } from './paths.js';
import { deletePrefix, redisUrl, uniquePrefix } from './redis.js';
import {
  poissonArrivals,
  speedups,
  utilisation,
  type Arrival,
  type SpeedupStats,
  type UsageStep,
  type Utilisation,
} from './harvest-analysis.js';
import { formatDuration, formatTable, publishReport, summarize, type Summary } from './report.js';

export const WORKLOADS = ['parallel-aes', 'video-analytics', 'ml-pipeline'] as const;
export type Workload = (typeof WORKLOADS)[number];
export const LOADS = { low: 0.25, medium: 0.5, high: 0.85 } as const;
export type Load = keyof typeof LOADS;
export const MODES = ['off', 'predict', 'rebalance'] as const;
export type Mode = (typeof MODES)[number];
export const PLACEMENTS = ['hash', 'round-robin', 'jsq', 'composition-jsq', 'greedy-jsq'] as const;
export type Placement = (typeof PLACEMENTS)[number];

/** The thesis's results (OpenWhisk, 2 invokers of 8 cores), the anchors to beat. */
export const THESIS = {
  averageSpeedup: 0.44,
  p99ReductionLowLoad: 0.57,
  cpuUtilisation: { before: 0.196, after: 0.599 },
  memoryUtilisation: { before: 0.3866, after: 0.4896 },
  greedyJsqBetterThanDefault: 0.1,
} as const;

export interface HarvestBenchOptions {
  workloads: Workload[];
  loads: Load[];
  modes: Mode[];
  /** Placements compared (harvesting with rebalancing, medium load, the first workload). */
  placements: Placement[];
  /** Requests per run. */
  requests: number;
  /** Profiling invocations per workload, over the size sweep. */
  profileRuns: number;
  /** Size levels of requests and profiling (the generators' 1..7). */
  minLevel: number;
  maxLevel: number;
  workers: number;
  redisUrl: string;
  seed: number;
  /** Redis key prefix of the clusters (the bench sets one per run). */
  redisPrefix?: string;
  reportDir?: string;
  command?: string;
  print?: (line: string) => void;
}

export const DEFAULTS: HarvestBenchOptions = {
  workloads: [...WORKLOADS],
  loads: ['low', 'medium', 'high'],
  modes: [...MODES],
  placements: [...PLACEMENTS],
  requests: 24,
  profileRuns: 21,
  minLevel: 1,
  maxLevel: 5,
  workers: 2,
  redisUrl: 'redis://127.0.0.1:6379',
  seed: 1,
};

export const SMOKE: Partial<HarvestBenchOptions> = {
  workloads: ['parallel-aes'],
  loads: ['medium'],
  modes: ['off', 'rebalance'],
  placements: ['hash', 'greedy-jsq'],
  requests: 4,
  profileRuns: 12,
  minLevel: 1,
  maxLevel: 2,
};

interface Generator {
  WORKFLOW: string;
  generate(sizeLevel: number, seed: number): unknown;
}

interface RunResult {
  /** `harvest`: off vs on at each load; `placement`: the placement comparison. */
  series: 'harvest' | 'placement';
  workload: Workload;
  load: Load;
  mode: Mode;
  placement: Placement;
  ratePerSec: number;
  latencyMs: (number | null)[];
  latency: Summary | null;
  failures: string[];
  utilisation: Utilisation;
  /** Share of harvested nodes whose applied allocation covered the measured peak. */
  covered: { cpu: number | null; memory: number | null };
}

export interface HarvestBenchResult {
  accuracy: Record<string, unknown>;
  calibration: Record<string, number>;
  runs: RunResult[];
  reportPath: string;
}

const CALL_TIMEOUT_MS = 300_000;

export async function runHarvestBench(o: HarvestBenchOptions): Promise<HarvestBenchResult> {
  const print = o.print ?? ((line: string) => console.log(line));
  const startedAt = new Date();
  const root = join(repoRoot(), 'deploy', 'examples', 'harvest');
  const generators = new Map<Workload, Generator>();
  for (const w of o.workloads) {
    generators.set(
      w,
      (await import(
        pathToFileURL(join(distExamples(), w, 'input-generator.js')).href
      )) as Generator,
    );
  }
  const cores = availableParallelism();
  // Profiles and models of this run only, under a prefix of its own, removed at the end.
  const prefix = uniquePrefix('bench-harvest');
  try {
    return await measure({ ...o, redisPrefix: prefix }, root, generators, cores, startedAt, print);
  } finally {
    if (o.redisUrl === redisUrl()) await deletePrefix(prefix).catch(() => undefined);
    else print(`(keys under ${prefix} on ${o.redisUrl} are left for you to remove)`);
  }
}

async function measure(
  o: HarvestBenchOptions,
  root: string,
  generators: Map<Workload, Generator>,
  cores: number,
  startedAt: Date,
  print: (line: string) => void,
): Promise<HarvestBenchResult> {
  print(
    `bench harvest: ${o.workloads.join(', ')} on ${o.workers} workers (${cores} cores), ` +
      `${o.requests} Poisson requests per run, size levels ${o.minLevel}–${o.maxLevel}`,
  );

  // 1. Profiling and training, on a cluster with harvesting on.
  const accuracy: Record<string, unknown> = {};
  const calibration: Record<string, number> = {};
  await withCluster(o, { harvest: true, rebalance: true, placement: 'greedy-jsq' }, async (api) => {
    for (const w of o.workloads) {
      const gen = generators.get(w)!;
      await deploy(api, root, w);
      print(`profiling ${w}: ${o.profileRuns} runs at maximum allocation…`);
      for (let i = 0; i < o.profileRuns; i++) {
        const level = o.minLevel + ((o.maxLevel - o.minLevel) * i) / Math.max(1, o.profileRuns - 1);
        await invoke(api, gen.WORKFLOW, gen.generate(level, 1000 + i), { profile: true });
      }
      const trained = (await api.json(
        `/v1/workflows/${gen.WORKFLOW}/models/train`,
        'POST',
        {},
      )) as Record<string, unknown>;
      accuracy[w] = trained;
      print(`  trained: ${describeAccuracy(trained)}`);
      // Calibration: mean CPU time of the request mix, harvesting off (user allocations).
      const sample = poissonArrivals(4, 1, o.seed + 99, o.minLevel, o.maxLevel);
      let cpuMs = 0;
      for (const a of sample) {
        const r = await invoke(api, gen.WORKFLOW, gen.generate(a.sizeLevel, a.seed), {});
        cpuMs += (await stepsOf(api, r.invocationId)).reduce(
          (s, x) => s + (x.cpuTimeMs ?? x.runMs ?? 0),
          0,
        );
      }
      calibration[w] = cpuMs / sample.length;
      print(`  one request of the mix: ${formatDuration(calibration[w])} of CPU`);
    }
  });

  // 2. Runs.
  const runs: RunResult[] = [];
  for (const w of o.workloads) {
    for (const load of o.loads) {
      const rate = (LOADS[load] * cores * 1000) / Math.max(1, calibration[w]!);
      const arrivals = poissonArrivals(o.requests, rate, o.seed, o.minLevel, o.maxLevel);
      for (const mode of o.modes) {
        runs.push({
          series: 'harvest',
          ...(await runOne(
            o,
            root,
            generators.get(w)!,
            w,
            load,
            mode,
            'greedy-jsq',
            rate,
            arrivals,
            print,
          )),
        });
      }
    }
  }
  const [first] = o.workloads;
  if (first !== undefined && o.placements.length > 1) {
    const rate = (LOADS.medium * cores * 1000) / Math.max(1, calibration[first]!);
    const arrivals = poissonArrivals(o.requests, rate, o.seed + 7, o.minLevel, o.maxLevel);
    for (const p of o.placements) {
      runs.push({
        series: 'placement',
        ...(await runOne(
          o,
          root,
          generators.get(first)!,
          first,
          'medium',
          'rebalance',
          p,
          rate,
          arrivals,
          print,
        )),
      });
    }
  }

  for (const line of formatResults(o, runs)) print(line);
  const { print: _p, ...recorded } = o;
  print('');
  const reportPath = publishReport(
    'harvest',
    startedAt,
    { options: recorded, thesis: THESIS, accuracy, calibration, runs },
    {
      ...(o.command === undefined ? {} : { command: o.command }),
      ...(o.reportDir === undefined ? {} : { reportDir: o.reportDir }),
      print,
    },
  );
  return { accuracy, calibration, runs, reportPath };
}

/** The compiled generators (dist/deploy/examples/harvest) beside this file's dist/bench. */
function distExamples(): string {
  const here = new URL('.', import.meta.url).pathname;
  return join(here, '..', 'deploy', 'examples', 'harvest');
}

interface Api {
  json(path: string, method: string, body?: unknown): Promise<unknown>;
}

interface ClusterSetup {
  harvest: boolean;
  rebalance: boolean;
  placement: Placement;
}

async function withCluster<T>(
  o: HarvestBenchOptions,
  setup: ClusterSetup,
  body: (api: Api) => Promise<T>,
): Promise<T> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-harvest-'));
  const cluster = new LocalCluster({
    workers: o.workers,
    logDir,
    redisUrl: o.redisUrl,
    placement: setup.placement,
    masterFlags: [
      `--harvest=${setup.harvest ? 'on' : 'off'}`,
      `--redis-url=${o.redisUrl}`,
      `--redis-prefix=${o.redisPrefix ?? 'ff:'}`,
    ],
    workerFlags: () => [
      `--rebalance=${setup.rebalance}`,
      `--redis-prefix=${o.redisPrefix ?? 'ff:'}`,
    ],
  });
  const http = new HttpClient({ connections: 64 });
  try {
    await cluster.start();
    const api: Api = {
      json: (path, method, b) =>
        http.json(`${cluster.masterUrl}${path}`, method, b, CALL_TIMEOUT_MS),
    };
    return await body(api);
  } catch (err) {
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  } finally {
    await http.close();
    await cluster.stop();
  }
}

async function deploy(api: Api, root: string, w: Workload): Promise<void> {
  const file = join(root, w, `${w}.yaml`);
  const yaml = readFileSync(file, 'utf8');
  const files: Record<string, string> = {};
  for (const m of yaml.matchAll(/handler:\s*(\S+)/g)) {
    files[m[1]!] = readFileSync(join(root, w, m[1]!)).toString('base64');
  }
  await api.json('/v1/workflows', 'POST', { yaml, files });
}

interface Invoked {
  invocationId: string;
  status: string;
  clientMs: number;
  error?: string;
}

async function invoke(
  api: Api,
  workflow: string,
  input: unknown,
  extra: Record<string, unknown>,
): Promise<Invoked> {
  const start = performance.now();
  const body = (await api.json(`/v1/workflows/${workflow}/invocations`, 'POST', {
    input,
    wait: true,
    timeoutMs: CALL_TIMEOUT_MS,
    ...extra,
  })) as { invocationId: string; status: string; error?: { message?: string } };
  return {
    invocationId: body.invocationId,
    status: body.status,
    clientMs: performance.now() - start,
    ...(body.error?.message ? { error: body.error.message } : {}),
  };
}

interface BenchStep extends UsageStep {
  node: string;
  harvest?: { applied: { cpu: number; memoryMb: number }; predicted: unknown };
  peakCpuCores?: number | null;
}

async function stepsOf(api: Api, id: string): Promise<BenchStep[]> {
  const view = (await api.json(`/v1/invocations/${id}`, 'GET')) as { steps?: BenchStep[] };
  return (view.steps ?? []).filter((s) => s.kind === undefined || s.kind === 'task');
}

async function runOne(
  o: HarvestBenchOptions,
  root: string,
  gen: Generator,
  workload: Workload,
  load: Load,
  mode: Mode,
  placement: Placement,
  ratePerSec: number,
  arrivals: readonly Arrival[],
  print: (line: string) => void,
): Promise<Omit<RunResult, 'series'>> {
  print(`${workload}, ${load} load (${ratePerSec.toFixed(2)}/s), harvest ${mode}, ${placement}…`);
  return withCluster(
    o,
    { harvest: mode !== 'off', rebalance: mode === 'rebalance', placement },
    async (api) => {
      await deploy(api, root, workload);
      // Warm-up: start every function's sandbox on the workers.
      for (let i = 0; i < 2; i++)
        await invoke(api, gen.WORKFLOW, gen.generate(o.minLevel, 7 + i), {});
      const latencyMs: (number | null)[] = arrivals.map(() => null);
      const ids: (string | null)[] = arrivals.map(() => null);
      const failures: string[] = [];
      const t0 = performance.now();
      await Promise.all(
        arrivals.map(async (a, i) => {
          const wait = a.atMs - (performance.now() - t0);
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          try {
            const r = await invoke(api, gen.WORKFLOW, gen.generate(a.sizeLevel, a.seed), {});
            if (r.status === 'succeeded') {
              latencyMs[i] = r.clientMs;
              ids[i] = r.invocationId;
            } else failures.push(`${r.status}: ${r.error ?? ''}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }),
      );
      const steps: BenchStep[] = [];
      for (const id of ids) if (id !== null) steps.push(...(await stepsOf(api, id)));
      const latency = summarize(latencyMs.filter((x): x is number => x !== null));
      print(
        `  p50 ${formatDuration(latency?.p50Ms)}, p99 ${formatDuration(latency?.p99Ms)}${failures.length ? `, ${failures.length} failed: ${failures[0]}` : ''}`,
      );
      return {
        workload,
        load,
        mode,
        placement,
        ratePerSec,
        latencyMs,
        latency,
        failures,
        utilisation: utilisation(steps),
        covered: coverage(steps),
      };
    },
  );
}

/** Of the steps with a decision, how often the applied allocation covered the measured peak. */
function coverage(steps: readonly BenchStep[]): RunResult['covered'] {
  let cpuN = 0;
  let cpuOk = 0;
  let memN = 0;
  let memOk = 0;
  for (const s of steps) {
    const applied = s.harvest?.applied;
    if (!applied) continue;
    if (s.peakCpuCores != null) {
      cpuN++;
      if (s.peakCpuCores <= applied.cpu + 0.05) cpuOk++;
    }
    if (s.peakMemoryMb != null) {
      memN++;
      if (s.peakMemoryMb <= applied.memoryMb) memOk++;
    }
  }
  return { cpu: cpuN ? cpuOk / cpuN : null, memory: memN ? memOk / memN : null };
}

interface Metric {
  n: number;
  meanAbsError: number;
  meanPctError: number | null;
  accuracy?: number;
}

/** The held-out evaluation of a trained model set, one line: ML1 → ML2 as decisions use them. */
function describeAccuracy(trained: Record<string, unknown>): string {
  const e = trained['evaluation'] as
    | { testRecords?: number; pipeline?: { cpu?: Metric; memory?: Metric; inputBytes?: Metric } }
    | undefined;
  const p = e?.pipeline;
  if (e === undefined || !p?.cpu || !p.memory)
    return `no held-out evaluation (${JSON.stringify(trained).slice(0, 120)})`;
  const m = (x: Metric, unit: string): string =>
    `error ${x.meanAbsError.toFixed(2)} ${unit} (${(x.meanPctError ?? 0).toFixed(1)}%), accurate ${pct(x.accuracy)}`;
  return (
    `v${String(trained['version'])} in ${formatDuration(Number(trained['trainMs']))}, ${e.testRecords ?? 0} held-out runs: CPU ${m(p.cpu, 'cores')}; ` +
    `memory ${m(p.memory, 'MB')}` +
    (p.inputBytes ? `; ML1 input size ${(p.inputBytes.meanPctError ?? 0).toFixed(1)}% off` : '')
  );
}

const pct = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)}%`;

function formatResults(o: HarvestBenchOptions, runs: readonly RunResult[]): string[] {
  const lines: string[] = [
    '',
    'harvesting (greedy-jsq placement): p50 / p99 latency, per-request speedup vs off, utilisation',
  ];
  const rows: string[][] = [];
  for (const w of o.workloads) {
    for (const load of o.loads) {
      const base = runs.find(
        (r) =>
          r.series === 'harvest' &&
          r.workload === w &&
          r.load === load &&
          r.mode === 'off' &&
          r.placement === 'greedy-jsq',
      );
      for (const mode of o.modes) {
        const r = runs.find(
          (x) =>
            x.series === 'harvest' &&
            x.workload === w &&
            x.load === load &&
            x.mode === mode &&
            x.placement === 'greedy-jsq',
        );
        if (!r) continue;
        const s: SpeedupStats | null =
          base && mode !== 'off' ? speedups(base.latencyMs, r.latencyMs) : null;
        const p99Cut =
          base?.latency && r.latency && mode !== 'off'
            ? 1 - r.latency.p99Ms / base.latency.p99Ms
            : null;
        rows.push([
          w,
          `${load} ${r.ratePerSec.toFixed(2)}/s`,
          mode,
          formatDuration(r.latency?.p50Ms),
          formatDuration(r.latency?.p99Ms),
          s ? `${pct(s.mean)} / ${pct(s.median)}` : '—',
          s ? `${pct(s.min)} … ${pct(s.max)}` : '—',
          pct(p99Cut),
          pct(r.utilisation.cpu),
          pct(r.utilisation.memory),
          `${pct(r.covered.cpu)} / ${pct(r.covered.memory)}`,
          String(r.failures.length),
        ]);
      }
    }
  }
  lines.push(
    ...formatTable(
      [
        'workload',
        'load',
        'harvest',
        'p50',
        'p99',
        'speedup mean/median',
        'speedup min…max',
        'p99 cut',
        'CPU util',
        'mem util',
        'peak covered cpu/mem',
        'failed',
      ],
      rows,
      ['left', 'left', 'left'],
    ),
  );
  const placementRuns = runs.filter((r) => r.series === 'placement');
  const hash = placementRuns.find((r) => r.placement === 'hash');
  if (placementRuns.length > 1) {
    lines.push(
      '',
      `placement (${o.workloads[0]}, medium load, harvesting with rebalancing): mean latency vs hash`,
    );
    lines.push(
      ...formatTable(
        ['placement', 'mean', 'p50', 'p99', 'vs hash'],
        placementRuns.map((r) => [
          r.placement,
          formatDuration(r.latency?.meanMs),
          formatDuration(r.latency?.p50Ms),
          formatDuration(r.latency?.p99Ms),
          hash?.latency && r.latency ? pct(1 - r.latency.meanMs / hash.latency.meanMs) : '—',
        ]),
        ['left'],
      ),
    );
  }
  lines.push(
    '',
    `thesis (OpenWhisk, 2 × 8 cores): average speedup ${pct(THESIS.averageSpeedup)}, p99 −${pct(THESIS.p99ReductionLowLoad)} at low load, ` +
      `CPU utilisation ${pct(THESIS.cpuUtilisation.before)} → ${pct(THESIS.cpuUtilisation.after)}, ` +
      `memory ${pct(THESIS.memoryUtilisation.before)} → ${pct(THESIS.memoryUtilisation.after)}, GreedyJSQ ${pct(THESIS.greedyJsqBetterThanDefault)} better than hash`,
  );
  return lines;
}
