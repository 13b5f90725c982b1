/**
 * The rows of `faasflow bench overhead`'s table: each figure with where it came from, and the
 * goals from the issue (2-core machine): local edge ≤ 50 µs of engine time, remote edge ≤ 0.3 ms
 * p50, chain of 5 ≤ 1.2 ms p50, fan-out 8 + join ≤ 1.5 ms p50. A goal is judged on p50; a goal
 * whose figure was not measured counts as missed ("not measured"), never as met.
 */
import type { TimelineSamples } from './overhead-timeline.js';
import { formatDuration, formatTable, summarize } from './report.js';
import { assertNever } from '../shared/errors.js';

export type OverheadRow =
  | {
      kind: 'latency';
      metric: string;
      p50Ms: number | null;
      p99Ms: number | null;
      samples: number;
      goalP50Ms: number | null;
      /** null when there is no goal. */
      met: boolean | null;
      note: string;
    }
  | {
      kind: 'rate';
      metric: string;
      perSec: number;
      samples: number;
      note: string;
    };

/** One closed-loop workflow's raw samples. */
export interface WorkflowRun {
  name: string;
  groups: number;
  clientMs: readonly number[];
  masterMs: readonly number[];
  timeline: TimelineSamples;
}

export interface RowInputs {
  floorCallMs: readonly number[];
  workflows: Record<'localChain' | 'remoteChain' | 'chain5' | 'fanout', WorkflowRun>;
  throughput: {
    concurrency: number;
    elapsedMs: number;
    completed: number;
    invocationsPerSec: number;
    clientMs: readonly number[];
    failed: number;
  };
}

export const GOALS_MS = { localEdge: 0.05, remoteEdge: 0.3, chain5: 1.2, fanout: 1.5 } as const;

function latency(
  metric: string,
  samplesMs: readonly number[],
  note: string,
  goalP50Ms: number | null = null,
): OverheadRow {
  const s = summarize(samplesMs);
  const p50Ms = s?.p50Ms ?? null;
  return {
    kind: 'latency',
    metric,
    p50Ms,
    p99Ms: s?.p99Ms ?? null,
    samples: s?.count ?? 0,
    goalP50Ms,
    met: goalP50Ms === null ? null : p50Ms !== null && p50Ms <= goalP50Ms,
    note,
  };
}

/** How the workflow ran: groups, workers, and how many measured edges were local and remote. */
function placementNote(w: WorkflowRun): string {
  const t = w.timeline;
  return `${w.groups} group(s) on ≤ ${t.maxWorkers} worker(s); edges ${t.localTriggerMs.length} local, ${t.remoteTriggerMs.length} remote`;
}

export function buildRows({ floorCallMs, workflows, throughput }: RowInputs): OverheadRow[] {
  const { localChain, remoteChain, chain5, fanout } = workflows;
  const floorP50 = summarize(floorCallMs)?.p50Ms ?? 0;
  const rows: OverheadRow[] = [
    latency('sandbox call, no-op (floor)', floorCallMs, 'in the bench process, warm child'),
    latency(
      'local edge: trigger delivery',
      localChain.timeline.localTriggerMs,
      `${localChain.name}: next.ready − prev.finished`,
    ),
    latency(
      'local edge: engine time',
      localChain.timeline.localEdgeEngineMs,
      `${localChain.name}: next.started − prev.finished`,
      GOALS_MS.localEdge,
    ),
    latency(
      'remote edge: trigger delivery',
      remoteChain.timeline.remoteTriggerMs,
      `${remoteChain.name}: next.ready − prev.finished`,
    ),
    latency(
      'remote edge: engine time',
      remoteChain.timeline.remoteEdgeEngineMs,
      `${remoteChain.name}: next.started − prev.finished`,
      GOALS_MS.remoteEdge,
    ),
    latency(
      'node: ready → started',
      chain5.timeline.preRunMs,
      `${chain5.name}, every node: input assembly`,
    ),
    latency(
      'node: exec − sandbox floor',
      chain5.timeline.execMs.map((x) => x - floorP50),
      `${chain5.name}: finished − started − ${formatDuration(floorP50)}`,
    ),
  ];
  const e2e = (label: string, w: WorkflowRun, goal: number | null): void => {
    rows.push(latency(`${label}: client`, w.clientMs, placementNote(w), goal));
    rows.push(latency(`${label}: master durationMs`, w.masterMs, 'whole ms (Date.now)'));
    rows.push(latency(`${label}: workers' span`, w.timeline.spanMs, 'first ready → last finished'));
  };
  e2e('chain of 2, local', localChain, null);
  e2e('chain of 2, remote', remoteChain, null);
  e2e('chain of 5', chain5, GOALS_MS.chain5);
  e2e('fan-out 8 + join', fanout, GOALS_MS.fanout);
  rows.push({
    kind: 'rate',
    metric: `no-op invocations/s (${throughput.concurrency} callers)`,
    perSec: throughput.invocationsPerSec,
    samples: throughput.completed,
    note: `${(throughput.elapsedMs / 1000).toFixed(1)} s, ${throughput.failed} failed`,
  });
  rows.push(
    latency('no-op under load: client', throughput.clientMs, `${throughput.concurrency} callers`),
  );
  return rows;
}

/** "metric (p50 1.8 ms > 1.2 ms)" for every goal missed, in table order. */
export function missedGoals(rows: readonly OverheadRow[]): string[] {
  const missed: string[] = [];
  for (const r of rows) {
    if (r.kind !== 'latency' || r.goalP50Ms === null || r.met === true) continue;
    missed.push(
      r.p50Ms === null
        ? `${r.metric} (not measured)`
        : `${r.metric} (p50 ${formatDuration(r.p50Ms)} > ${formatDuration(r.goalP50Ms)})`,
    );
  }
  return missed;
}

export function formatRows(rows: readonly OverheadRow[]): string[] {
  const cells = rows.map((r): string[] => {
    switch (r.kind) {
      case 'latency':
        return [
          r.metric,
          formatDuration(r.p50Ms),
          formatDuration(r.p99Ms),
          String(r.samples),
          r.goalP50Ms === null ? '' : `≤ ${formatDuration(r.goalP50Ms)}`,
          r.met === null ? '' : r.met ? 'yes' : r.p50Ms === null ? 'n/a' : 'NO',
          r.note,
        ];
      case 'rate':
        return [r.metric, `${Math.round(r.perSec)}/s`, '', String(r.samples), '', '', r.note];
      default:
        return assertNever(r, 'row kind');
    }
  });
  return formatTable(['metric', 'p50', 'p99', 'n', 'goal', 'met?', 'notes'], cells, [
    'left',
    'right',
    'right',
    'right',
    'right',
    'left',
    'left',
  ]);
}
