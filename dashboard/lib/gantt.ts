/**
 * Turns an invocation's steps into a Gantt chart's model: one lane per worker, each lane split
 * into rows so that no two bars in a row overlap, and each bar into segments.
 *
 * A step's segments, in time order: `queue` (ready → started: waiting for a sandbox slot),
 * `get` (input from FaaStore), `start` (what the worker spent before the handler ran: a cold
 * sandbox's start, or the engine's own work when warm), `run` (the handler), `put` (output to
 * FaaStore). The worker measures get/run/put; `start` is what is left of the step's span, so the
 * segments always add up to it. Nodes without a handler (switch, pass, foreach) have `engine`
 * instead of start and run: the engine's own work (for a foreach, waiting on its body's runs).
 * Pure: no DOM, so it runs in unit tests.
 */
import type { StepRecord } from './types.js';

export type SegmentKind = 'queue' | 'get' | 'start' | 'run' | 'engine' | 'put';

export interface Segment {
  kind: SegmentKind;
  /** Ms since the chart's origin. */
  from: number;
  to: number;
}

export interface Bar {
  node: string;
  worker: string;
  status: StepRecord['status'];
  kind: string;
  cold: boolean;
  attempts: number;
  /** Ms since the chart's origin: ready, and finished. */
  from: number;
  to: number;
  segments: Segment[];
  step: StepRecord;
}

export interface Lane {
  worker: string;
  /** Bars in rows; bars in one row never overlap. */
  rows: Bar[][];
}

export interface Gantt {
  /** Epoch ms of the chart's 0: the earliest readyAt. */
  origin: number;
  /** Ms from the origin to the last finish (at least 1). */
  spanMs: number;
  lanes: Lane[];
  bars: number;
}

/** The segments of one step, ms since `origin`, clipped to the step's span and never negative. */
export function segments(s: StepRecord, origin: number): Segment[] {
  const out: Segment[] = [];
  const push = (kind: SegmentKind, from: number, to: number): void => {
    if (to > from) out.push({ kind, from: from - origin, to: to - origin });
  };
  const started = Math.max(s.readyAt, s.startedAt);
  const end = Math.max(started, s.finishedAt);
  push('queue', s.readyAt, started);
  if (s.status === 'skipped') return out;
  const get = clamp(s.getMs ?? 0, 0, end - started);
  const put = clamp(s.putMs ?? 0, 0, end - started - get);
  const run = clamp(s.runMs ?? 0, 0, end - started - get - put);
  const hasRun = s.runMs !== undefined;
  const rest = end - started - get - put - run;
  let t = started;
  push('get', t, (t += get));
  if (hasRun) {
    push('start', t, (t += rest));
    push('run', t, (t += run));
  } else if (s.kind === 'task') {
    // A task that failed before reporting its handler's time: its span is all its own.
    push('run', t, (t += rest));
  } else push('engine', t, (t += rest));
  push('put', t, end);
  return out;
}

/**
 * The chart for `steps`. `drawnEnd(bar, spanMs)`: where the bar's drawing ends, ms since the
 * origin (the bar at its least width plus its label); rows are packed with it, so nothing drawn
 * overlaps. Default: the bar's own end.
 */
export function buildGantt(
  steps: readonly StepRecord[],
  drawnEnd: (b: Bar, spanMs: number) => number = (b) => b.to,
): Gantt {
  if (steps.length === 0) return { origin: 0, spanMs: 1, lanes: [], bars: 0 };
  const origin = Math.min(...steps.map((s) => s.readyAt));
  const spanMs = Math.max(1, Math.max(...steps.map((s) => s.finishedAt)) - origin);
  const byWorker = new Map<string, Bar[]>();
  for (const s of steps) {
    const bar: Bar = {
      node: s.node,
      worker: s.worker,
      status: s.status,
      kind: s.kind,
      cold: s.cold,
      attempts: s.attempts,
      from: s.readyAt - origin,
      to: Math.max(s.readyAt, s.finishedAt) - origin,
      segments: segments(s, origin),
      step: s,
    };
    const list = byWorker.get(s.worker);
    if (list) list.push(bar);
    else byWorker.set(s.worker, [bar]);
  }
  const lanes = [...byWorker.entries()]
    .sort(([a], [b]) => compareIds(a, b))
    .map(([worker, bars]) => ({ worker, rows: pack(bars, (b) => drawnEnd(b, spanMs)) }));
  return { origin, spanMs, lanes, bars: steps.length };
}

/** Greedy interval packing: each bar, by start, goes into the first row free at its start. */
export function pack(bars: readonly Bar[], end: (b: Bar) => number = (b) => b.to): Bar[][] {
  const sorted = [...bars].sort((a, b) => a.from - b.from || (a.node < b.node ? -1 : 1));
  const rows: Bar[][] = [];
  const ends: number[] = [];
  for (const b of sorted) {
    const until = Math.max(b.to, end(b));
    const i = ends.findIndex((e) => e <= b.from);
    if (i >= 0) {
      rows[i]!.push(b);
      ends[i] = until;
    } else {
      rows.push([b]);
      ends.push(until);
    }
  }
  return rows;
}

/** `w2` before `w10`: ids compared with their numbers as numbers. */
export function compareIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Round tick steps (1, 2, 5 × 10^k ms) giving about `target` ticks over `spanMs`. */
export function ticks(spanMs: number, target = 8): number[] {
  const raw = spanMs / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? pow * 10;
  const out: number[] = [];
  for (let t = 0; t <= spanMs + 1e-9; t += step) out.push(Math.round(t * 1000) / 1000);
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), Math.max(lo, hi));
}
