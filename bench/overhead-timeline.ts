/**
 * Where the time of one invocation goes, from the master's timeline (`GET /v1/invocations/:id`
 * → `steps[]`, epoch ms with sub-ms precision taken on the worker that ran each node).
 *
 * Per parent → child edge, classified local or remote by the workers the two steps ran on:
 * - trigger: `child.readyAt − parent.finishedAt`, the delivery of the trigger (a call inside the
 *   engine when local, an HTTP POST between workers when remote);
 * - edge engine time: `child.startedAt − parent.finishedAt`, delivery plus the child's input
 *   assembly: everything the engine does between one function's end and the next one's start.
 * Per node: pre-run `startedAt − readyAt` and exec `finishedAt − startedAt` (the sandbox call
 * plus storing the output).
 *
 * A join becomes ready when its last parent edge arrives, so only the edge from the parent that
 * finished last is a delivery sample; its other edges also contain the wait for siblings and are
 * left out. Remote samples compare clocks of two processes on one host (each
 * `performance.timeOrigin`-based), so they carry their offset, typically a few µs.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { assertNever } from '../shared/errors.js';
import { summarize, type Summary } from './report.js';

/** The part of a timeline step this analysis reads (the master sends more). */
export const TimelineStep = Type.Object({
  node: Type.String(),
  worker: Type.String(),
  status: Type.String(),
  readyAt: Type.Number(),
  startedAt: Type.Number(),
  finishedAt: Type.Number(),
});
export type TimelineStep = Static<typeof TimelineStep>;

export interface DagEdgeRef {
  from: string;
  to: string;
}

export type EdgeKind = 'local' | 'remote';

export interface EdgeSample {
  from: string;
  to: string;
  kind: EdgeKind;
  triggerMs: number;
  edgeEngineMs: number;
}

export interface NodeSample {
  node: string;
  preRunMs: number;
  execMs: number;
}

export interface InvocationTimeline {
  edges: EdgeSample[];
  nodes: NodeSample[];
  /** Last finishedAt − first readyAt: the invocation as its workers saw it. */
  spanMs: number;
  /** Distinct workers that ran a node. */
  workers: number;
}

/** Samples of many invocations of one workflow, flattened for `summarize`. */
export interface TimelineSamples {
  invocations: number;
  /** Invocations whose timeline was missing, incomplete or had a failed step. */
  unusable: number;
  localTriggerMs: number[];
  remoteTriggerMs: number[];
  localEdgeEngineMs: number[];
  remoteEdgeEngineMs: number[];
  preRunMs: number[];
  execMs: number[];
  spanMs: number[];
  /** Most distinct workers one invocation used. */
  maxWorkers: number;
}

export function emptySamples(): TimelineSamples {
  return {
    invocations: 0,
    unusable: 0,
    localTriggerMs: [],
    remoteTriggerMs: [],
    localEdgeEngineMs: [],
    remoteEdgeEngineMs: [],
    preRunMs: [],
    execMs: [],
    spanMs: [],
    maxWorkers: 0,
  };
}

/**
 * Narrows an invocation view's `steps` to timeline steps. Returns a message naming the first
 * problem when the answer is not a timeline (a master speaking another version of the API).
 */
export function readSteps(view: unknown): { steps: TimelineStep[] } | { problem: string } {
  if (
    typeof view !== 'object' ||
    view === null ||
    !Array.isArray((view as { steps?: unknown }).steps)
  ) {
    return { problem: 'the invocation answer has no steps[] array' };
  }
  const steps = (view as { steps: unknown[] }).steps;
  for (const [i, s] of steps.entries()) {
    if (!Value.Check(TimelineStep, s)) {
      const first = Value.Errors(TimelineStep, s).First();
      return {
        problem: `steps[${i}] is not a timeline step${first ? ` (${first.path || '/'}: ${first.message})` : ''}`,
      };
    }
  }
  return { steps: steps as TimelineStep[] };
}

/**
 * Breaks one invocation's timeline down; null when a node has no step, or a step did not
 * succeed (a failed or skipped node says nothing about trigger overhead).
 */
export function analyzeTimeline(
  nodes: readonly string[],
  edges: readonly DagEdgeRef[],
  steps: readonly TimelineStep[],
): InvocationTimeline | null {
  const byNode = new Map<string, TimelineStep>();
  for (const s of steps) byNode.set(s.node, s);
  for (const n of nodes) {
    const s = byNode.get(n);
    if (!s || s.status !== 'succeeded') return null;
  }
  const parents = new Map<string, string[]>();
  for (const e of edges) parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);

  const edgeSamples: EdgeSample[] = [];
  for (const [to, froms] of parents) {
    const child = byNode.get(to)!;
    // The parent that finished last is the one whose trigger made the child ready.
    let last = byNode.get(froms[0]!)!;
    let lastFrom = froms[0]!;
    for (const from of froms.slice(1)) {
      const p = byNode.get(from)!;
      if (p.finishedAt > last.finishedAt) {
        last = p;
        lastFrom = from;
      }
    }
    edgeSamples.push({
      from: lastFrom,
      to,
      kind: last.worker === child.worker ? 'local' : 'remote',
      triggerMs: child.readyAt - last.finishedAt,
      edgeEngineMs: child.startedAt - last.finishedAt,
    });
  }

  const nodeSamples: NodeSample[] = nodes.map((n) => {
    const s = byNode.get(n)!;
    return { node: n, preRunMs: s.startedAt - s.readyAt, execMs: s.finishedAt - s.startedAt };
  });
  const used = nodes.map((n) => byNode.get(n)!);
  const first = Math.min(...used.map((s) => s.readyAt));
  const end = Math.max(...used.map((s) => s.finishedAt));
  return {
    edges: edgeSamples,
    nodes: nodeSamples,
    spanMs: end - first,
    workers: new Set(used.map((s) => s.worker)).size,
  };
}

/** Adds one invocation's breakdown (or its absence) to `into`. */
export function addTimeline(into: TimelineSamples, t: InvocationTimeline | null): void {
  into.invocations++;
  if (t === null) {
    into.unusable++;
    return;
  }
  for (const e of t.edges) {
    switch (e.kind) {
      case 'local':
        into.localTriggerMs.push(e.triggerMs);
        into.localEdgeEngineMs.push(e.edgeEngineMs);
        break;
      case 'remote':
        into.remoteTriggerMs.push(e.triggerMs);
        into.remoteEdgeEngineMs.push(e.edgeEngineMs);
        break;
      default:
        assertNever(e.kind, 'edge kind');
    }
  }
  for (const n of t.nodes) {
    into.preRunMs.push(n.preRunMs);
    into.execMs.push(n.execMs);
  }
  into.spanMs.push(t.spanMs);
  into.maxWorkers = Math.max(into.maxWorkers, t.workers);
}

export interface TimelineSummary {
  invocations: number;
  unusable: number;
  maxWorkers: number;
  localTriggerMs: Summary | null;
  remoteTriggerMs: Summary | null;
  localEdgeEngineMs: Summary | null;
  remoteEdgeEngineMs: Summary | null;
  preRunMs: Summary | null;
  execMs: Summary | null;
  spanMs: Summary | null;
}

/** What the JSON report keeps of the samples: counts and percentiles, not every value. */
export function summarizeTimeline(t: TimelineSamples): TimelineSummary {
  return {
    invocations: t.invocations,
    unusable: t.unusable,
    maxWorkers: t.maxWorkers,
    localTriggerMs: summarize(t.localTriggerMs),
    remoteTriggerMs: summarize(t.remoteTriggerMs),
    localEdgeEngineMs: summarize(t.localEdgeEngineMs),
    remoteEdgeEngineMs: summarize(t.remoteEdgeEngineMs),
    preRunMs: summarize(t.preRunMs),
    execMs: summarize(t.execMs),
    spanMs: summarize(t.spanMs),
  };
}
