/**
 * `faasflow bench chains --cluster` (docs/guides/chains.md): prewarming off, eager and
 * predictive — and an all-warm reference — side by side on one local cluster (a master and two
 * workers as processes, process or Docker sandboxes with a short idle timeout).
 *
 * Each variant is its own deployment of the same workflows, so their sandboxes never serve one
 * another: FaaSFlow's illegal recognizer (its switch takes the illegal branch 15 % of the time)
 * and FileProcessing, followed in the same session by Video 70 % of the time. Rounds come with
 * gaps longer than the idle timeout, so every sandbox has gone cold by the next one; within a
 * round the variants run one after another in a shuffled order. The all-warm variant runs each
 * invocation right after an unmeasured one of the same input, so its sandboxes are warm.
 *
 * Figures from the invocations' own timelines: cold starts on the realised critical path (a
 * step whose sandbox was started for it, or that waited more than half a cold start for one),
 * latency percentiles, the successor's cold-start rate, prepares sent, and the memory-seconds
 * of prepared sandboxes never used (the master's chain view) against all sandbox memory-seconds.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../deploy/local-cluster.js';
import { mulberry32 } from '../shared/random.js';
import type { StepRecord } from '../shared/schema/wire.js';
import { criticalPath, hasParents } from './critical-path.js';
import { BenchClient, type WorkflowShape } from './overhead-load.js';
import { faasflowBenchmarks } from './paths.js';
import { formatTable, percentile, publishReport } from './report.js';
import type { ChainsClusterOptions } from './chains-cluster-defaults.js';
export { CHAINS_CLUSTER_DEFAULTS, type ChainsClusterOptions } from './chains-cluster-defaults.js';

export type ClusterVariant = 'all-warm' | 'off' | 'eager' | 'predictive';
const VARIANTS: readonly ClusterVariant[] = ['all-warm', 'off', 'eager', 'predictive'];

/** Where a variant's critical-path cold starts after the first node were (bench output). */
export interface ColdSpot {
  variant: ClusterVariant;
  workflow: string;
  node: string;
  /** Times the node was on the realised critical path. */
  onPath: number;
  /** Of them: a sandbox started for the step. */
  started: number;
  /** Of them: a wait over half a cold start for a sandbox (one prepared but still starting). */
  waited: number;
  /** Of them: the run found a prepared sandbox. */
  prepared: number;
  /** Mean wait for a sandbox over the cold ones, ms. */
  meanQueueMs: number;
}

export interface ClusterRow {
  variant: ClusterVariant;
  invocations: number;
  criticalColdStarts: number;
  /** Of them, not on a source node. */
  criticalColdAfterSource: number;
  removed: number | null;
  removedAfterSource: number | null;
  /**
   * Mean per invocation of the time its realised critical path spent on sandboxes: cold starts
   * (`initMs`) and waits for one (`queueMs`, a prepared one still starting or the start gate), ms.
   */
  cpSandboxMs: number;
  p50Ms: number;
  p99Ms: number;
  p99VsAllWarm: number;
  prepares: number;
  wastedMbS: number;
  wasteVsEager: number | null;
  wasteFraction: number;
  successorColdRate: number;
  successorColdVsOff: number | null;
}

interface Measured {
  variant: ClusterVariant;
  shape: WorkflowShape;
  id: string;
  successor: boolean;
}

const RUNTIME_SCALE = 0.02;
const SIZE_SCALE = 0.01;

function flatSource(bench: string, prewarm: string): string {
  const text = readFileSync(join(faasflowBenchmarks(), bench, 'flat_workflow.yaml'), 'utf8');
  return `prewarm: ${prewarm}\n${text}`;
}

export async function runChainsCluster(o: ChainsClusterOptions): Promise<ClusterRow[]> {
  const { print } = o;
  const startedAt = new Date();
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-chains-'));
  const cluster = new LocalCluster({
    workers: 2,
    logDir,
    runtime: o.runtime,
    env: {
      FAASFLOW_IDLE_MS: String(o.idleMs),
      ...(o.startConcurrency === undefined
        ? {}
        : { FAASFLOW_START_CONCURRENCY: String(o.startConcurrency) }),
    },
  });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  }
  const client = new BenchClient(cluster.masterUrl, 8);
  const rnd = mulberry32(o.seed);
  try {
    print(
      `chains (cluster): 2 workers, ${o.runtime} sandboxes, idle timeout ${o.idleMs} ms, ${o.warmup} warm-up + ${o.rounds} measured rounds, runtimes ×${RUNTIME_SCALE}, budget ${o.budget}, seed ${o.seed}, sandboxes started at once ${o.startConcurrency ?? 'the cores'}`,
    );
    const shapes = new Map<string, WorkflowShape>();
    for (const v of VARIANTS) {
      const mode = v === 'all-warm' ? 'off' : v;
      const prewarm = `{ mode: ${mode}, budget: ${o.budget} }`;
      for (const [bench, short] of [
        ['illgal_recognizer', 'recognizer'],
        ['fileprocessing', 'fileproc'],
        ['video', 'video'],
      ] as const) {
        shapes.set(
          `${short}-${v}`,
          await client.deploy(flatSource(bench, prewarm), {
            name: `ch-${short}-${v}`,
            runtimeScale: RUNTIME_SCALE,
            sizeScale: SIZE_SCALE,
          }),
        );
      }
    }
    const measured: Measured[] = [];
    const invoke = async (key: string, input: unknown, session?: string): Promise<string> => {
      const shape = shapes.get(key)!;
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await client.invokeWith(shape.name, input, session);
          if (r.status !== 'succeeded')
            throw new Error(`${shape.name}: ${r.status} ${r.error ?? ''}`);
          return r.invocationId;
        } catch (err) {
          // Right after deploying, a worker may not hold the workflow yet (503 NO_WORKERS).
          if (attempt >= 20 || !/NO_WORKERS/.test(String(err))) throw err;
          await sleep(250);
        }
      }
    };
    for (let round = 0; round < o.warmup + o.rounds; round++) {
      const keep = round >= o.warmup;
      const order = [...VARIANTS].sort(() => rnd() - 0.5);
      const illegal = rnd() < 0.15;
      const follow = rnd() < 0.7;
      for (const v of order) {
        const input = { illegal_flag: illegal, word_censor: { illegal_flag: true } };
        const record = (key: string, id: string, successor = false): void => {
          if (keep) measured.push({ variant: v, shape: shapes.get(key)!, id, successor });
        };
        // Its own session: no time adjacency links it to another variant's invocations.
        if (v === 'all-warm') await invoke(`recognizer-${v}`, input, `warm-${round}-r`);
        record(`recognizer-${v}`, await invoke(`recognizer-${v}`, input, `${v}-${round}-r`));
        const session = `${v}-${round}`;
        if (v === 'all-warm') {
          await invoke(`fileproc-${v}`, {}, `warm-${round}`);
          if (follow) await invoke(`video-${v}`, { split: true }, `warm-${round}`);
        }
        const t0 = Date.now();
        record(`fileproc-${v}`, await invoke(`fileproc-${v}`, {}, session));
        if (follow) {
          if (v !== 'all-warm') await sleep(Math.max(0, t0 + o.successorGapMs - Date.now()));
          record(`video-${v}`, await invoke(`video-${v}`, { split: true }, session), true);
        }
      }
      if (round === o.warmup - 1) print(`  warm-up done (${o.warmup} rounds)`);
      await sleep(o.idleMs + 300 + -Math.log(1 - rnd()) * o.meanGapMs);
    }
    await sleep(2_000); // the last timelines and prepare reports
    const wasted = new Map<ClusterVariant, number>();
    for (const v of VARIANTS) {
      let sum = 0;
      for (const short of ['recognizer', 'fileproc', 'video']) {
        const view = (await client.get(`/v1/workflows/ch-${short}-${v}/chains`)) as {
          prepares?: { wastedMbS?: number };
        };
        sum += view.prepares?.wastedMbS ?? 0;
      }
      wasted.set(v, sum);
    }
    // What a cold start takes in the tier (a wait longer than half of it counts as cold).
    const { rows, spots } = await figures(
      client,
      measured,
      wasted,
      o.runtime === 'docker' ? 160 : 70,
    );
    printRows(rows, print);
    printSpots(spots, print);
    print(
      'Wasted MB·s counts the whole run (warm-up included); removal is against off in the same run; cp wait: mean critical-path time on sandbox starts and waits per invocation.',
    );
    if (o.reportDir !== null) {
      const { print: _p, ...options } = o;
      publishReport(
        'chains-cluster',
        startedAt,
        { options, rows, spots },
        { print, ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}) },
      );
    }
    return rows;
  } finally {
    await client.close();
    await cluster.stop();
  }
}

/** The cold starts on an invocation's realised critical path (and those not on a source). */
export function criticalColds(
  shape: Pick<WorkflowShape, 'edges'>,
  steps: readonly StepRecord[],
  coldMs: number,
): { all: number; afterSource: number } {
  let all = 0;
  let afterSource = 0;
  for (const s of criticalPath(shape.edges, steps)) {
    if (s.kind !== 'task' || !(s.cold || s.queueMs > coldMs / 2)) continue;
    all++;
    if (hasParents(shape.edges, s.node)) afterSource++;
  }
  return { all, afterSource };
}

async function figures(
  client: BenchClient,
  measured: readonly Measured[],
  wasted: ReadonlyMap<ClusterVariant, number>,
  coldMs: number,
): Promise<{ rows: ClusterRow[]; spots: ColdSpot[] }> {
  const spots = new Map<string, ColdSpot & { queueSum: number }>();
  const spot = (m: Measured, s: StepRecord, cold: boolean, onPath: boolean): void => {
    const key = `${m.variant}\0${m.shape.name}\0${s.node}`;
    const e = spots.get(key) ?? {
      variant: m.variant,
      workflow: m.shape.name,
      node: s.node,
      onPath: 0,
      started: 0,
      waited: 0,
      prepared: 0,
      meanQueueMs: 0,
      queueSum: 0,
    };
    spots.set(key, e);
    if (onPath) e.onPath++;
    if (!cold) return;
    if (s.cold) e.started++;
    else e.waited++;
    if (s.prepared === true) e.prepared++;
    e.queueSum += s.queueMs;
  };
  interface Acc {
    n: number;
    cp: number;
    cpAfter: number;
    cpSandboxMs: number;
    latencies: number[];
    prepares: number;
    totalMbS: number;
    succTasks: number;
    succCold: number;
  }
  const acc = new Map<ClusterVariant, Acc>();
  for (const m of measured) {
    const a = acc.get(m.variant) ?? {
      n: 0,
      cp: 0,
      cpAfter: 0,
      cpSandboxMs: 0,
      latencies: [],
      prepares: 0,
      totalMbS: 0,
      succTasks: 0,
      succCold: 0,
    };
    acc.set(m.variant, a);
    const inv = (await client.invocation(m.id)) as {
      durationMs: number;
      steps: StepRecord[];
      prewarm?: { prepares?: unknown[] };
    };
    a.prepares += inv.prewarm?.prepares?.length ?? 0;
    for (const s of inv.steps)
      if (s.kind === 'task' && s.status !== 'skipped')
        a.totalMbS += ((s.allocation?.memoryMb ?? 0) * (s.finishedAt - s.startedAt)) / 1000;
    if (m.successor) {
      for (const s of inv.steps) {
        if (s.kind !== 'task' || s.status === 'skipped') continue;
        a.succTasks++;
        if (s.cold) a.succCold++;
      }
      continue;
    }
    a.n++;
    a.latencies.push(inv.durationMs);
    const c = criticalColds(m.shape, inv.steps, coldMs);
    a.cp += c.all;
    a.cpAfter += c.afterSource;
    for (const s of criticalPath(m.shape.edges, inv.steps)) {
      if (s.kind !== 'task') continue;
      a.cpSandboxMs += s.queueMs + (s.cold ? (s.initMs ?? coldMs) : 0);
      if (hasParents(m.shape.edges, s.node)) spot(m, s, s.cold || s.queueMs > coldMs / 2, true);
    }
  }
  const get = (v: ClusterVariant): Acc => acc.get(v)!;
  const p = (v: ClusterVariant, q: number): number =>
    percentile(
      [...get(v).latencies].sort((x, y) => x - y),
      q,
    );
  const succ = (v: ClusterVariant): number =>
    get(v).succTasks > 0 ? get(v).succCold / get(v).succTasks : 0;
  const off = get('off');
  const coldSpots = [...spots.values()]
    .filter((e) => e.started + e.waited > 0)
    .map(({ queueSum, ...e }) => ({
      ...e,
      meanQueueMs: queueSum / (e.started + e.waited),
    }));
  const rows = VARIANTS.map((v) => {
    const a = get(v);
    const w = wasted.get(v) ?? 0;
    return {
      variant: v,
      invocations: a.n,
      criticalColdStarts: a.cp,
      criticalColdAfterSource: a.cpAfter,
      removed: v === 'off' || off.cp === 0 ? null : 1 - a.cp / off.cp,
      removedAfterSource: v === 'off' || off.cpAfter === 0 ? null : 1 - a.cpAfter / off.cpAfter,
      cpSandboxMs: a.n > 0 ? a.cpSandboxMs / a.n : 0,
      p50Ms: p(v, 0.5),
      p99Ms: p(v, 0.99),
      p99VsAllWarm: p(v, 0.99) / p('all-warm', 0.99),
      prepares: a.prepares,
      wastedMbS: w,
      wasteVsEager: (wasted.get('eager') ?? 0) > 0 ? w / wasted.get('eager')! : null,
      wasteFraction: a.totalMbS + w > 0 ? w / (a.totalMbS + w) : 0,
      successorColdRate: succ(v),
      successorColdVsOff: succ('off') > 0 ? succ(v) / succ('off') : null,
    };
  });
  return { rows, spots: coldSpots };
}

/** The remaining critical-path cold starts after the first node, by variant and node. */
function printSpots(spots: readonly ColdSpot[], print: (line: string) => void): void {
  const shown = spots.filter((e) => e.variant === 'eager' || e.variant === 'predictive');
  if (shown.length === 0) return;
  print('Critical-path cold starts after the first node (eager and predictive), by node:');
  for (const line of formatTable(
    ['variant', 'workflow', 'node', 'on path', 'started', 'waited', 'prepared', 'mean wait'],
    [...shown]
      .sort((a, b) => b.started + b.waited - (a.started + a.waited))
      .map((e) => [
        e.variant,
        e.workflow,
        e.node,
        String(e.onPath),
        String(e.started),
        String(e.waited),
        String(e.prepared),
        `${e.meanQueueMs.toFixed(0)} ms`,
      ]),
    ['left', 'left', 'left'],
  ))
    print(line);
}

function printRows(rows: readonly ClusterRow[], print: (line: string) => void): void {
  const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
  const ratio = (x: number | null): string => (x === null ? '—' : `${x.toFixed(2)}×`);
  for (const line of formatTable(
    [
      'variant',
      'cp cold',
      'removed',
      'after 1st',
      'cp wait',
      'p50',
      'p99',
      'vs warm',
      'prepares',
      'waste MB·s',
      'vs eager',
      'waste %',
      'succ cold',
      'vs off',
    ],
    rows.map((r) => [
      r.variant,
      String(r.criticalColdStarts),
      pct(r.removed),
      pct(r.removedAfterSource),
      `${r.cpSandboxMs.toFixed(0)} ms`,
      `${r.p50Ms.toFixed(0)} ms`,
      `${r.p99Ms.toFixed(0)} ms`,
      ratio(r.p99VsAllWarm),
      String(r.prepares),
      r.wastedMbS.toFixed(1),
      ratio(r.wasteVsEager),
      pct(r.wasteFraction),
      pct(r.successorColdRate),
      ratio(r.successorColdVsOff),
    ]),
    ['left'],
  ))
    print(line);
}
