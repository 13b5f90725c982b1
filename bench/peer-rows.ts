/**
 * The figures of `faasflow bench peer` and the goals they are judged against, as rows and text
 * tables. Goals (issue 12), judged on ratios taken in one run against BullMQ with in-process
 * processors: chain of 5 and fan-out 8 + join p50 ≤ 1× BullMQ's in the process tier and ≤ 1/3 in
 * the thread and trusted tiers; throughput ≥ 2× BullMQ's in jobs/s in each tier measured. A goal
 * whose figures are missing counts as missed ("not measured"), never as met.
 */
import type { LoopFailures } from './peer-load.js';
import { FAASFLOW_TIERS, FAASFLOW_VIA, isFaasflowSystem, type SystemName } from './peer-flags.js';
import { SHAPE_INFO, type PayloadName, type ShapeName } from './peer-shapes.js';
import { formatDuration, formatTable, type Summary } from './report.js';

export interface LatencyFigures {
  warmup: number;
  repetitions: number;
  latency: Summary | null;
  failures: LoopFailures;
  gaveUp: boolean;
}

export interface ThroughputFigures {
  concurrency: number;
  warmupMs: number;
  elapsedMs: number;
  completed: number;
  invocationsPerSec: number;
  jobsPerSec: number;
  latency: Summary | null;
  failures: LoopFailures;
  gaveUp: boolean;
}

export interface PeerResult {
  shape: ShapeName;
  payload: PayloadName;
  system: SystemName;
  /** Functions (jobs) per invocation. */
  functions: number;
  closed: LatencyFigures | null;
  open: ThroughputFigures | null;
  /** How the system ran the shape (groups, flows). */
  note: string;
  /** faasflow: CPU µs per invocation of each process (master, each worker), per loop. */
  cpuUs?: { closed?: Record<string, number>; open?: Record<string, number> };
}

export interface PeerGoal {
  kind: 'latency' | 'throughput';
  goal: string;
  faasflow: number | null;
  bullmq: number | null;
  /** faasflow ÷ BullMQ. */
  ratio: number | null;
  /** latency: ratio ≤ target; throughput: ratio ≥ target. */
  target: number;
  met: boolean | null;
}

/** Thread and trusted tiers; the process tier's goal is `PROCESS_LATENCY_RATIO_GOAL`. */
export const LATENCY_RATIO_GOAL = 1 / 3;
export const PROCESS_LATENCY_RATIO_GOAL = 1;
export const THROUGHPUT_RATIO_GOAL = 2;
const LATENCY_GOAL_SHAPES: readonly ShapeName[] = ['chain5', 'fanout'];

export function buildGoals(results: readonly PeerResult[]): PeerGoal[] {
  const find = (
    shape: ShapeName,
    payload: PayloadName,
    system: SystemName,
  ): PeerResult | undefined =>
    results.find((r) => r.shape === shape && r.payload === payload && r.system === system);
  const pairs = new Map<string, { shape: ShapeName; payload: PayloadName }>();
  for (const r of results)
    pairs.set(`${r.shape}/${r.payload}`, { shape: r.shape, payload: r.payload });
  const goals: PeerGoal[] = [];
  const judge = (
    kind: PeerGoal['kind'],
    goal: string,
    ours: number | null,
    theirs: number | null,
    target: number,
  ): void => {
    const ratio = ours !== null && theirs !== null && theirs > 0 ? ours / theirs : null;
    const met = ratio === null ? null : kind === 'latency' ? ratio <= target : ratio >= target;
    goals.push({ kind, goal, faasflow: ours, bullmq: theirs, ratio, target, met });
  };
  const systems = [...new Set(results.map((r) => r.system))].filter(isFaasflowSystem);
  // The process tier through the master keeps the goal names it always had; the others say
  // their tier and whether the workers' ingress took the invocations.
  const named = (system: (typeof systems)[number], what: string): string => {
    const tier = FAASFLOW_TIERS[system];
    const how = [
      ...(tier === null ? [] : [tier]),
      ...(FAASFLOW_VIA[system] === 'worker' ? ['ingress'] : []),
    ].join(', ');
    return how === '' ? what : what.replace(/: /, `, ${how}: `);
  };
  for (const system of systems) {
    for (const { shape, payload } of pairs.values()) {
      if (!LATENCY_GOAL_SHAPES.includes(shape)) continue;
      judge(
        'latency',
        named(system, `${SHAPE_INFO[shape].label}, ${payload}: p50`),
        find(shape, payload, system)?.closed?.latency?.p50Ms ?? null,
        find(shape, payload, 'bullmq')?.closed?.latency?.p50Ms ?? null,
        FAASFLOW_TIERS[system] === null ? PROCESS_LATENCY_RATIO_GOAL : LATENCY_RATIO_GOAL,
      );
    }
  }
  for (const system of systems) {
    for (const { shape, payload } of pairs.values()) {
      judge(
        'throughput',
        named(system, `${SHAPE_INFO[shape].label}, ${payload}: jobs/s`),
        find(shape, payload, system)?.open?.jobsPerSec ?? null,
        find(shape, payload, 'bullmq')?.open?.jobsPerSec ?? null,
        THROUGHPUT_RATIO_GOAL,
      );
    }
  }
  return goals;
}

/** "goal (ratio 0.52, needs ≤ 0.33)" for every goal not met, in table order. */
export function missedGoals(goals: readonly PeerGoal[]): string[] {
  return goals
    .filter((g) => g.met !== true)
    .map((g) =>
      g.ratio === null
        ? `${g.goal} (not measured)`
        : `${g.goal} (ratio ${g.ratio.toFixed(2)}, needs ${g.kind === 'latency' ? '≤' : '≥'} ${g.target.toFixed(2)})`,
    );
}

const rate = (perSec: number | null | undefined): string =>
  perSec === null || perSec === undefined
    ? '—'
    : perSec < 10
      ? `${perSec.toFixed(1)}/s`
      : `${Math.round(perSec).toLocaleString('en-US')}/s`;

function failureNote(label: string, f: LoopFailures | undefined, gaveUp: boolean): string {
  if (!f || f.count === 0) return '';
  return `; ${label}: ${f.count} failed${gaveUp ? ' (gave up)' : ''}`;
}

export function formatResults(results: readonly PeerResult[]): string[] {
  const cells = results.map((r) => [
    SHAPE_INFO[r.shape].label,
    r.payload,
    r.system,
    formatDuration(r.closed?.latency?.p50Ms),
    formatDuration(r.closed?.latency?.p99Ms),
    String(r.closed?.latency?.count ?? 0),
    rate(r.open?.invocationsPerSec),
    rate(r.open?.jobsPerSec),
    r.open ? String(r.open.concurrency) : '',
    r.note +
      failureNote('latency', r.closed?.failures, r.closed?.gaveUp ?? false) +
      failureNote('throughput', r.open?.failures, r.open?.gaveUp ?? false),
  ]);
  return formatTable(
    ['shape', 'payload', 'system', 'p50', 'p99', 'n', 'inv/s', 'jobs/s', 'C', 'notes'],
    cells,
    ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'left'],
  );
}

export function formatGoals(goals: readonly PeerGoal[]): string[] {
  const value = (g: PeerGoal, v: number | null): string =>
    g.kind === 'latency' ? formatDuration(v) : rate(v);
  const cells = goals.map((g) => [
    g.goal,
    value(g, g.faasflow),
    value(g, g.bullmq),
    g.ratio === null ? '—' : g.ratio.toFixed(2),
    `${g.kind === 'latency' ? '≤' : '≥'} ${g.target.toFixed(2)}`,
    g.met === null ? 'n/a' : g.met ? 'met' : 'MISSED',
  ]);
  return formatTable(
    ['goal (faasflow ÷ BullMQ)', 'faasflow', 'BullMQ', 'ratio', 'target', 'met?'],
    cells,
    ['left', 'right', 'right', 'right', 'right', 'left'],
  );
}
