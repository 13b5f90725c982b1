/**
 * `faasflow bench harvest`: resource harvesting on the thesis's three skewed workloads
 * (deploy/examples/harvest: ParallelAES, video analytics, ML pipeline), driven by open-loop
 * Poisson arrivals at three loads, and placement baselines (hash, round-robin, JSQ) vs greedy-JSQ.
 *
 * The workloads run in their worker_threads versions (`--variant threads`, default: functions
 * that use the cores they get, as the thesis's do) or single-threaded (`--variant single`, the
 * control). The baseline is the thesis's: a skew-blind, uniform user allocation — every function is
 * deployed with `--user-cpu` cores (default 0.5, so a stage's total stays within the worker's
 * cores) instead of what its YAML declares. Configurations (`--modes`), each on a fresh cluster:
 * - `off`, and `off-again` (the same, to show the run-to-run noise);
 * - `predict`: harvesting with the work-proportional policy, no live rebalancing;
 * - `predict-rebalance`: the same with live rebalancing on the workers;
 * - `rebalance-only`: the user allocations (`harvestPolicy: user`), live rebalancing alone;
 * - `peak`: the thesis's peak-based policy, for comparison;
 * - `oracle`: the upper bound — `predict-rebalance` with perfect knowledge: each request is first
 *   profiled alone (same input, maximum allocation, siblings one at a time), and its timed run
 *   is decided from that measured demand instead of the models' (harvest-oracle.ts);
 * - `uncapped`: harvesting off and every function given the machine's cores — the kernel's
 *   scheduler alone, no caps.
 * Every harvested cluster runs with `freezeModels`, so measured runs neither record profiles nor
 * retrain: all configurations use the models trained in step 1. The oracle's cluster keeps its
 * profiling runs under a Redis prefix of its own and never retrains, so they move no model.
 *
 * 1. Profiling: a cluster with harvesting on and Redis runs each workload with `profile: true`
 *    (maximum allocations, siblings one at a time) over a sweep of input sizes, then trains the
 *    models and reads their held-out accuracy.
 * 2. Calibration: the mean CPU time of the requests the runs will send, interpolated from the
 *    profiling runs' CPU time by each request's size level; it scales the loads to this
 *    machine: a load is a target utilisation of its cores (low, medium, high).
 * 3. Runs: `--repetitions` fresh clusters per configuration (the models persist in Redis), a
 *    warm-up, then the same seeded requests at the same offsets for every configuration and
 *    repetition, so requests pair up.
 *
 * Reports p50/p99 latency, the parallel stage's span, the thesis's per-request speedup against
 * `off` with a paired bootstrap 95 % confidence interval on its mean, the share of requests more
 * than 10 % slower than the baseline (Libra's safety promise), CPU utilisation as used ÷
 * allocated and as used ÷ capacity, memory utilisation, and prediction accuracy, next to the
 * thesis's figures. Writes `.bench/harvest-<timestamp>.json`.
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
  busyShare,
  capacityUtilisation,
  mixCpuMs,
  parseCpuTicks,
  poissonArrivals,
  stageSpanMs,
  utilisation,
  type Arrival,
  type CpuTicks,
  type LevelCpu,
  type UsageStep,
} from './harvest-analysis.js';
import {
  describeAccuracy,
  formatResults,
  LOADS,
  THESIS,
  type HarvestBenchOptions,
  type Load,
  type Mode,
  STAGE_SIBLING,
  type BriefStep,
  type Placement,
  type RunResult,
  type Variant,
  type Workload,
} from './harvest-report.js';
import { oracleDemand, oracleKey } from './harvest-oracle.js';
import type { GivenDemand } from '../shared/harvest/invocation.js';
import { formatDuration, publishReport, summarize } from './report.js';

export {
  DEFAULTS,
  LOADS,
  MODES,
  PLACEMENTS,
  SMOKE,
  THESIS,
  WORKLOADS,
  type HarvestBenchOptions,
  type Load,
  type Mode,
  type Placement,
  type Variant,
  type Workload,
} from './harvest-report.js';

interface Generator {
  WORKFLOW: string;
  generate(sizeLevel: number, seed: number): unknown;
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
  if (o.from !== undefined) return reprint(o.from, print);
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
  const placementCalibration: Record<string, number> = {};
  const profiling: ClusterSetup = { ...setupOf('predict-rebalance', cores), freeze: false };
  await withCluster(o, profiling, async (api) => {
    for (const w of o.workloads) {
      const gen = generators.get(w)!;
      await deploy(api, root, w, o.userCpu, o.variant);
      print(`profiling ${w}: ${o.profileRuns} runs at maximum allocation…`);
      const profile: LevelCpu[] = [];
      for (let i = 0; i < o.profileRuns; i++) {
        const level = o.minLevel + ((o.maxLevel - o.minLevel) * i) / Math.max(1, o.profileRuns - 1);
        const r = await invoke(api, workflowOf(gen, o), gen.generate(level, 1000 + i), {
          profile: true,
        });
        profile.push({ sizeLevel: level, cpuMs: cpuOf(await stepsOf(api, r.invocationId)) });
      }
      const trained = (await api.json(
        `/v1/workflows/${workflowOf(gen, o)}/models/train`,
        'POST',
        {},
      )) as Record<string, unknown>;
      accuracy[w] = trained;
      print(`  trained: ${describeAccuracy(trained)}`);
      // Calibration: the mean CPU time of the requests the runs will send (their size levels do
      // not depend on the rate), from the profiling runs' CPU time at each level.
      const mix = poissonArrivals(o.requests, 1, o.seed, o.minLevel, o.maxLevel);
      const mixCpu = mixCpuMs(
        profile,
        mix.map((a) => a.sizeLevel),
      );
      if (mixCpu === null) throw new Error(`profiling ${w} measured no CPU time: cannot set loads`);
      calibration[w] = mixCpu;
      const placementMix = poissonArrivals(o.requests, 1, o.seed + 7, o.minLevel, o.maxLevel);
      placementCalibration[w] =
        mixCpuMs(
          profile,
          placementMix.map((a) => a.sizeLevel),
        ) ?? mixCpu;
      print(
        `  one request of the mix: ${formatDuration(calibration[w])} of CPU (from the profiles)`,
      );
    }
  });

  // 2. Runs. The oracle's measured demand per request, kept across loads and repetitions (the
  // same seed and size is the same input, so the same work).
  const oracle = new Map<string, Record<string, GivenDemand>>();
  const runs: RunResult[] = [];
  for (const w of o.workloads) {
    for (const load of o.loads) {
      const rate = (LOADS[load] * cores * 1000) / Math.max(1, calibration[w]!);
      const arrivals = poissonArrivals(o.requests, rate, o.seed, o.minLevel, o.maxLevel);
      for (let rep = 0; rep < o.repetitions; rep++) {
        for (const mode of o.modes) {
          runs.push({
            series: 'harvest',
            ...(await runOne(o, root, generators.get(w)!, w, load, mode, 'greedy-jsq', rate, {
              arrivals,
              repetition: rep,
              cores,
              print,
              oracle,
            })),
          });
        }
      }
    }
  }
  const [first] = o.workloads;
  if (first !== undefined && o.placements.length > 1) {
    const rate = (LOADS.medium * cores * 1000) / Math.max(1, placementCalibration[first]!);
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
          'predict-rebalance',
          p,
          rate,
          {
            arrivals,
            repetition: 0,
            cores,
            print,
            oracle,
          },
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

/** The tables of a saved report, printed again (with any analysis added since it was measured). */
function reprint(file: string, print: (line: string) => void): HarvestBenchResult {
  let saved: {
    command?: string;
    figures?: {
      options?: HarvestBenchOptions;
      accuracy?: Record<string, unknown>;
      calibration?: Record<string, number>;
      runs?: RunResult[];
    };
  };
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
  } catch (err) {
    throw new Error(
      `--from ${file}: not a readable report of bench harvest (${(err as Error).message})`,
    );
  }
  const f = saved.figures;
  if (!f?.options || !Array.isArray(f.runs))
    throw new Error(
      `--from ${file}: no figures.options and figures.runs; is it a bench harvest report?`,
    );
  print(`bench harvest report ${file}, measured by: ${saved.command ?? '(command not recorded)'}`);
  for (const [w, trained] of Object.entries(f.accuracy ?? {}))
    print(`  ${w} models: ${describeAccuracy(trained as Record<string, unknown>)}`);
  for (const line of formatResults(f.options, f.runs)) print(line);
  return {
    accuracy: f.accuracy ?? {},
    calibration: f.calibration ?? {},
    runs: f.runs,
    reportPath: file,
  };
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
  policy: 'work' | 'peak' | 'user';
  freeze: boolean;
  /** Cores every function is deployed with; undefined: `userCpu`. */
  cpu?: number;
  /**
   * The oracle: each request profiled first, then run with its measured demand; its cluster's
   * keys under a prefix of their own, and no retraining.
   */
  oracle?: boolean;
}

/** How each configuration's cluster is set up (see the header). */
export function setupOf(
  mode: Mode,
  cores: number,
  placement: Placement = 'greedy-jsq',
): ClusterSetup {
  const base = { placement, freeze: true, policy: 'work' as const };
  switch (mode) {
    case 'off':
    case 'off-again':
      return { ...base, harvest: false, rebalance: false };
    case 'predict':
      return { ...base, harvest: true, rebalance: false };
    case 'predict-rebalance':
      return { ...base, harvest: true, rebalance: true };
    case 'rebalance-only':
      return { ...base, harvest: true, rebalance: true, policy: 'user' };
    case 'peak':
      return { ...base, harvest: true, rebalance: false, policy: 'peak' };
    case 'oracle':
      return { ...base, harvest: true, rebalance: true, oracle: true };
    case 'uncapped':
      return { ...base, harvest: false, rebalance: false, cpu: cores };
  }
}

async function withCluster<T>(
  o: HarvestBenchOptions,
  setup: ClusterSetup,
  body: (api: Api) => Promise<T>,
): Promise<T> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-harvest-'));
  // The oracle's profiling runs are recorded: under a prefix of their own, they move no model.
  const prefix = `${o.redisPrefix ?? 'ff:'}${setup.oracle === true ? 'oracle:' : ''}`;
  const cluster = new LocalCluster({
    workers: o.workers,
    logDir,
    redisUrl: o.redisUrl,
    placement: setup.placement,
    masterFlags: [
      `--harvest=${setup.harvest ? 'on' : 'off'}`,
      `--redis-url=${o.redisUrl}`,
      `--redis-prefix=${prefix}`,
      `--harvest-policy=${setup.policy}`,
      `--freeze-models=${setup.freeze}`,
      // The oracle needs no model: its profiling runs must not start a training mid-run.
      ...(setup.oracle === true ? ['--retrain-every=1000000000'] : []),
    ],
    workerFlags: () => [`--rebalance=${setup.rebalance}`, `--redis-prefix=${prefix}`],
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

/** Deploys workload `w` with every function's `cpu:` set to `cpu` cores (the user allocation). */
async function deploy(
  api: Api,
  root: string,
  w: Workload,
  cpu: number,
  variant: Variant,
): Promise<void> {
  const file = join(root, w, variant === 'threads' ? `${w}-threads.yaml` : `${w}.yaml`);
  const yaml = withCpu(readFileSync(file, 'utf8'), cpu);
  const files: Record<string, string> = {};
  for (const m of yaml.matchAll(/handler:\s*(\S+)/g)) {
    files[m[1]!] = readFileSync(join(root, w, m[1]!)).toString('base64');
  }
  await api.json('/v1/workflows', 'POST', { yaml, files });
}

/** The workflow a variant deploys: `<name>-threads` for the worker_threads version. */
function workflowOf(gen: Generator, o: Pick<HarvestBenchOptions, 'variant'>): string {
  return o.variant === 'threads' ? `${gen.WORKFLOW}-threads` : gen.WORKFLOW;
}

/** The workflow YAML with every function's `cpu:` replaced. */
export function withCpu(yaml: string, cpu: number): string {
  return yaml.replace(/^([ \t]+cpu:[ \t]*)[\d.]+m?[ \t]*$/gm, `$1${cpu}`);
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
  worker: string;
  startedAt: number;
  finishedAt: number;
  queueMs: number;
  cold: boolean;
  initMs?: number;
  throttledMs?: number | null;
  pressureMs?: number | null;
  harvest?: { applied: { cpu: number; memoryMb: number }; predicted: unknown };
  peakCpuCores?: number | null;
  safeguardAtMs?: number;
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
  run: {
    arrivals: readonly Arrival[];
    repetition: number;
    cores: number;
    print: (line: string) => void;
    /** The oracle's measured demand per request (oracleKey), filled on first need. */
    oracle: Map<string, Record<string, GivenDemand>>;
  },
): Promise<Omit<RunResult, 'series'>> {
  const { arrivals, repetition, cores, print, oracle } = run;
  print(
    `${workload}, ${load} load (${ratePerSec.toFixed(2)}/s), ${mode}, ${placement}, repetition ${repetition + 1}…`,
  );
  const setup = setupOf(mode, cores, placement);
  return withCluster(o, setup, async (api) => {
    await deploy(api, root, workload, setup.cpu ?? o.userCpu, o.variant);
    // Warm-up: start every function's sandbox on the workers.
    for (let i = 0; i < 2; i++)
      await invoke(api, workflowOf(gen, o), gen.generate(o.minLevel, 7 + i), {});
    if (setup.oracle === true) {
      // Profile first: each request alone, one at a time, its demand measured.
      let profiled = 0;
      for (const a of arrivals) {
        const key = oracleKey(workload, a);
        if (oracle.has(key)) continue;
        const r = await invoke(api, workflowOf(gen, o), gen.generate(a.sizeLevel, a.seed), {
          profile: true,
        });
        if (r.status !== 'succeeded')
          throw new Error(`oracle: profiling request ${key} ${r.status}: ${r.error ?? ''}`);
        oracle.set(key, oracleDemand(await stepsOf(api, r.invocationId)));
        profiled++;
      }
      print(`  oracle: ${profiled} request(s) profiled, ${arrivals.length - profiled} known`);
    }
    const latencyMs: (number | null)[] = arrivals.map(() => null);
    const ids: (string | null)[] = arrivals.map(() => null);
    const failures: string[] = [];
    const ticksBefore = cpuTicks();
    const t0 = performance.now();
    await Promise.all(
      arrivals.map(async (a, i) => {
        const wait = a.atMs - (performance.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        try {
          const demand = setup.oracle === true ? oracle.get(oracleKey(workload, a)) : undefined;
          const r = await invoke(
            api,
            workflowOf(gen, o),
            gen.generate(a.sizeLevel, a.seed),
            demand === undefined ? {} : { demand },
          );
          if (r.status === 'succeeded') {
            latencyMs[i] = r.clientMs;
            ids[i] = r.invocationId;
          } else failures.push(`${r.status}: ${r.error ?? ''}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }),
    );
    const wallMs = performance.now() - t0;
    const machineBusy = busyShare(ticksBefore, cpuTicks());
    const steps: BenchStep[] = [];
    const stageMs: (number | null)[] = [];
    const brief: (BriefStep[] | null)[] = [];
    const epoch = Date.now() - (performance.now() - t0);
    for (const id of ids) {
      if (id === null) {
        stageMs.push(null);
        brief.push(null);
        continue;
      }
      const s = await stepsOf(api, id);
      steps.push(...s);
      stageMs.push(stageSpanMs(s, (n) => STAGE_SIBLING[workload].test(n)));
      brief.push(s.map((x) => briefOf(x, epoch)));
    }
    const latency = summarize(latencyMs.filter((x): x is number => x !== null));
    print(
      `  p50 ${formatDuration(latency?.p50Ms)}, p99 ${formatDuration(latency?.p99Ms)}` +
        (machineBusy === null ? '' : `, machine ${(machineBusy * 100).toFixed(0)}% busy`) +
        (failures.length ? `, ${failures.length} failed: ${failures[0]}` : ''),
    );
    return {
      workload,
      load,
      mode,
      placement,
      ratePerSec,
      repetition,
      latencyMs,
      stageMs,
      latency,
      failures,
      utilisation: utilisation(steps),
      capacity: capacityUtilisation(steps, cores, wallMs),
      machineBusy,
      safeguarded: steps.filter((x) => x.safeguardAtMs !== undefined).length,
      covered: coverage(steps),
      steps: brief,
    };
  });
}

/** The machine's CPU counters now; null where /proc/stat is not readable (not Linux). */
function cpuTicks(): CpuTicks | null {
  try {
    return parseCpuTicks(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/** CPU time of an invocation's task steps (run time where CPU time was not measured). */
function cpuOf(steps: readonly BenchStep[]): number {
  return steps.reduce((sum, x) => sum + (x.cpuTimeMs ?? x.runMs ?? 0), 0);
}

function briefOf(s: BenchStep, epoch: number): BriefStep {
  return {
    node: s.node,
    worker: s.worker,
    atMs: Math.round(s.startedAt - epoch),
    queueMs: Math.round(s.queueMs),
    runMs: s.runMs ?? null,
    cpuMs: s.cpuTimeMs ?? null,
    throttledMs: s.throttledMs ?? null,
    pressureMs: s.pressureMs ?? null,
    cpu: s.allocation?.cpu ?? null,
    cold: s.cold,
    initMs: s.initMs ?? null,
  };
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
