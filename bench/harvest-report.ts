/**
 * `faasflow bench harvest`, the vocabulary and the printed report: workloads, loads,
 * configurations, placements, options and defaults, what one run measured, and the tables that
 * turn the runs into the thesis's figures (pure; the driver is harvest.ts).
 */
import { formatDuration, formatTable, summarize, type Summary } from './report.js';
import {
  bootstrapMeanCi,
  meanByRequest,
  pairedSpeedups,
  stageCeiling,
  type Utilisation,
} from './harvest-analysis.js';
export const WORKLOADS = ['parallel-aes', 'video-analytics', 'ml-pipeline'] as const;
export type Workload = (typeof WORKLOADS)[number];
export const LOADS = { low: 0.25, medium: 0.5, high: 0.85 } as const;
export type Load = keyof typeof LOADS;
export const MODES = [
  'off',
  'off-again',
  'predict',
  'predict-rebalance',
  'rebalance-only',
  'peak',
  'oracle',
  'uncapped',
] as const;
export type Mode = (typeof MODES)[number];
/** The workloads' worker_threads versions (`*-threads.yaml`) or the single-threaded control. */
export const VARIANTS = ['threads', 'single'] as const;
export type Variant = (typeof VARIANTS)[number];
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
  /** Re-print the tables of a saved report (its JSON) instead of measuring. */
  from?: string;
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
  /** Fresh clusters per configuration; requests are averaged over them. */
  repetitions: number;
  /** Cores every function is deployed with (the skew-blind user allocation). */
  userCpu: number;
  variant: Variant;
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
  requests: 100,
  profileRuns: 21,
  minLevel: 1,
  maxLevel: 5,
  workers: 2,
  repetitions: 3,
  userCpu: 0.5,
  variant: 'threads',
  redisUrl: 'redis://127.0.0.1:6379',
  seed: 1,
};

export const SMOKE: Partial<HarvestBenchOptions> = {
  workloads: ['parallel-aes'],
  loads: ['medium'],
  modes: ['off', 'predict-rebalance', 'oracle'],
  placements: ['hash', 'greedy-jsq'],
  requests: 4,
  repetitions: 1,
  profileRuns: 12,
  minLevel: 1,
  maxLevel: 2,
};

export interface RunResult {
  /** `harvest`: off vs on at each load; `placement`: the placement comparison. */
  series: 'harvest' | 'placement';
  workload: Workload;
  load: Load;
  mode: Mode;
  placement: Placement;
  ratePerSec: number;
  repetition: number;
  latencyMs: (number | null)[];
  /** Per request, the span of its parallel stage (first sibling start → last finish). */
  stageMs: (number | null)[];
  latency: Summary | null;
  failures: string[];
  utilisation: Utilisation;
  /** CPU time ÷ (cores × the run's wall time). */
  capacity: number | null;
  /** Share of the machine's CPU busy during the run, whoever used it (/proc/stat); null elsewhere. */
  machineBusy?: number | null;
  /** Harvested runs the CPU safeguard raised. */
  safeguarded: number;
  /** Share of harvested nodes whose applied allocation covered the measured peak. */
  covered: { cpu: number | null; memory: number | null };
  /**
   * Per request, its task steps in brief (the report's JSON only, for reading where a slow
   * request's time went): node, worker, ms after the run's first request, queue and run time,
   * CPU time, time throttled and under CPU pressure, the CPU it ran with, cold start and its time.
   */
  steps?: (BriefStep[] | null)[];
}

export interface BriefStep {
  node: string;
  worker: string;
  atMs: number;
  queueMs: number;
  runMs: number | null;
  cpuMs: number | null;
  throttledMs: number | null;
  pressureMs: number | null;
  cpu: number | null;
  cold: boolean;
  /** A cold run's sandbox start, ms. */
  initMs: number | null;
}

interface Metric {
  n: number;
  meanAbsError: number | null;
  meanPctError: number | null;
  accuracy?: number;
}

/** The held-out evaluation of a trained model set, one line: ML1 → ML2 as decisions use them. */
export function describeAccuracy(trained: Record<string, unknown>): string {
  const e = trained['evaluation'] as
    | {
        testRecords?: number;
        pipeline?: {
          cpu?: Metric;
          memory?: Metric;
          inputBytes?: Metric;
          cpuTime?: Metric;
          thesisGrid?: { cpu?: Metric; memory?: Metric };
        };
      }
    | undefined;
  const p = e?.pipeline;
  if (e === undefined || !p?.cpu || !p.memory)
    return `no held-out evaluation (${JSON.stringify(trained).slice(0, 120)})`;
  const m = (x: Metric, unit: string, thesis?: Metric): string =>
    x.meanAbsError == null
      ? 'no held-out runs'
      : `error ${x.meanAbsError.toFixed(2)} ${unit} (${(x.meanPctError ?? 0).toFixed(1)}%), accurate ${pct(x.accuracy)}` +
        (thesis ? ` (${pct(thesis.accuracy)} on the thesis's grid)` : '');
  return (
    `v${String(trained['version'])} in ${formatDuration(Number(trained['trainMs']))}, ${e.testRecords ?? 0} held-out runs: CPU ${m(p.cpu, 'cores', p.thesisGrid?.cpu)}; ` +
    `memory ${m(p.memory, 'MB', p.thesisGrid?.memory)}` +
    (p.cpuTime?.meanPctError != null
      ? `; work (CPU time) ${p.cpuTime.meanPctError.toFixed(1)}% off`
      : '') +
    (p.inputBytes ? `; ML1 input size ${(p.inputBytes.meanPctError ?? 0).toFixed(1)}% off` : '')
  );
}

const pct = (x: number | null | undefined): string =>
  x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(1)}%`;

/** The siblings of each workload's parallel stage, by node name. */
export const STAGE_SIBLING: Record<Workload, RegExp> = {
  'parallel-aes': /^encrypt-\d+$/,
  'video-analytics': /^recognize-\d+$/,
  'ml-pipeline': /^train-\d+$/,
};

/** The stage ceiling (stageCeiling) over every request of some `off` runs: mean, min, max. */
function offCeiling(
  runs: readonly RunResult[],
  w: Workload,
): { mean: number; min: number; max: number } | null {
  const cuts: number[] = [];
  for (const r of runs)
    for (const steps of r.steps ?? []) {
      if (!steps) continue;
      const c = stageCeiling(
        steps
          .filter((s) => STAGE_SIBLING[w].test(s.node))
          .map((s) => ({ cpuMs: s.cpuMs ?? 0, userCores: s.cpu ?? 0 })),
      );
      if (c !== null) cuts.push(c);
    }
  if (cuts.length === 0) return null;
  return {
    mean: cuts.reduce((a, b) => a + b, 0) / cuts.length,
    min: Math.min(...cuts),
    max: Math.max(...cuts),
  };
}

export function formatResults(o: HarvestBenchOptions, runs: readonly RunResult[]): string[] {
  const lines: string[] = [
    '',
    `harvesting (${o.variant === 'threads' ? 'worker_threads' : 'single-threaded'} workloads, greedy-jsq, user allocation ${o.userCpu} core per function, ${o.repetitions} repetition(s)): ` +
      'latency per request averaged over repetitions; speedup vs off with a paired bootstrap 95 % CI',
  ];
  const rows: string[][] = [];
  const of = (w: Workload, load: Load, mode: Mode): RunResult[] =>
    runs.filter(
      (r) =>
        r.series === 'harvest' &&
        r.workload === w &&
        r.load === load &&
        r.mode === mode &&
        r.placement === 'greedy-jsq',
    );
  for (const w of o.workloads) {
    for (const load of o.loads) {
      const baseRuns = of(w, load, 'off');
      const base = meanByRequest(baseRuns.map((r) => r.latencyMs));
      const baseStage = meanByRequest(baseRuns.map((r) => r.stageMs));
      for (const mode of o.modes) {
        const rs = of(w, load, mode);
        if (rs.length === 0) continue;
        const lat = meanByRequest(rs.map((r) => r.latencyMs));
        const stage = meanByRequest(rs.map((r) => r.stageMs));
        const all = summarize(rs.flatMap((r) => r.latencyMs).filter((x): x is number => x != null));
        const baseAll = summarize(
          baseRuns.flatMap((r) => r.latencyMs).filter((x): x is number => x != null),
        );
        const stageAll = summarize(stage.filter((x): x is number => x != null));
        const sp = mode === 'off' ? [] : pairedSpeedups(base, lat);
        const ci = bootstrapMeanCi(sp, { seed: o.seed });
        const stageSp = mode === 'off' ? [] : pairedSpeedups(baseStage, stage);
        const stageMean = stageSp.length
          ? stageSp.reduce((a, b) => a + b, 0) / stageSp.length
          : null;
        const slower = sp.length ? sp.filter((x) => x < -0.1).length / sp.length : null;
        const p99Cut = mode !== 'off' && all && baseAll ? 1 - all.p99Ms / baseAll.p99Ms : null;
        const mean = (xs: (number | null)[]): number | null => {
          const v = xs.filter((x): x is number => x != null);
          return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
        };
        rows.push([
          w,
          `${load} ${rs[0]!.ratePerSec.toFixed(2)}/s`,
          mode,
          formatDuration(all?.p50Ms),
          formatDuration(all?.p99Ms),
          formatDuration(stageAll?.p50Ms),
          ci ? `${pct(ci.mean)} [${pct(ci.low)}, ${pct(ci.high)}]` : '—',
          pct(p99Cut),
          pct(stageMean),
          pct(slower),
          pct(mean(rs.map((r) => r.utilisation.cpu))),
          pct(mean(rs.map((r) => r.capacity))),
          pct(mean(rs.map((r) => r.machineBusy ?? null))),
          pct(mean(rs.map((r) => r.utilisation.memory))),
          String(rs.reduce((s, r) => s + r.safeguarded, 0)),
          String(rs.reduce((s, r) => s + r.failures.length, 0)),
        ]);
      }
    }
  }
  lines.push(
    ...formatTable(
      [
        'workload',
        'load',
        'config',
        'p50',
        'p99',
        'stage p50',
        'speedup mean [95% CI]',
        'p99 cut',
        'stage speedup',
        '>10% slower',
        'CPU used/alloc',
        'CPU used/capacity',
        'machine busy',
        'mem util',
        'raised',
        'failed',
      ],
      rows,
      ['left', 'left', 'left'],
    ),
  );
  lines.push(
    "machine busy: the machine's CPU busy during the runs, whoever used it (the cluster's own processes included); CPU used/capacity is the sandboxes' part of it",
  );
  const ceilings: string[] = [];
  for (const w of o.workloads)
    for (const load of o.loads) {
      const c = offCeiling(of(w, load, 'off'), w);
      if (c !== null)
        ceilings.push(
          `  ${w}, ${load}: ${pct(c.mean)} (requests ${pct(c.min)} to ${pct(c.max)}), from off's measured CPU split`,
        );
    }
  if (ceilings.length > 0)
    lines.push(
      '',
      "first-principles ceiling of the stage speedup (the users' total shared by work, perfect predictions, functions that scale):",
      ...ceilings,
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
