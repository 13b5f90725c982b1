/**
 * FaaSFlow's overhead figures for one invocation, computed from its timeline as the paper
 * defines them:
 * - scheduling overhead = e2e latency − Σ function time along the critical path, where the
 *   critical path is the DAG path with the largest Σ function time;
 * - data overhead = Σ over nodes of get (fetching inputs from FaaStore) + put (storing the output).
 *
 * Function time of a node is what its handler took as the worker saw it (`runMs`: request sent to
 * the sandbox → result back); a foreach's is its slowest item (Σ `runMs` of the item's body
 * steps), so queueing under the foreach's concurrency cap counts as overhead, not as function
 * time; switches, pass nodes and skipped nodes take none. Bytes through the remote tier are the
 * outputs stored in Redis or the peer tier: what crossed (or, in MasterSP mode, would cross)
 * between hosts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { DagEdgeRef } from './overhead-timeline.js';

/** The part of a timeline step these figures read (the master sends more). */
export const BenchStep = Type.Object({
  node: Type.String(),
  worker: Type.String(),
  status: Type.String(),
  tier: Type.Optional(Type.String()),
  outputBytes: Type.Optional(Type.Number()),
  runMs: Type.Optional(Type.Number()),
  getMs: Type.Optional(Type.Number()),
  putMs: Type.Optional(Type.Number()),
});
export type BenchStep = Static<typeof BenchStep>;

export interface InvocationFigures {
  e2eMs: number;
  /** Σ function time along the critical path. */
  criticalPathMs: number;
  /** e2e − critical path (FaaSFlow's definition). */
  schedulingMs: number;
  /** Σ get + put over nodes. */
  dataMs: number;
  /** Bytes stored in the remote tier (Redis or peer). */
  remoteBytes: number;
  /** Parent → child edges whose two nodes ran on different workers. */
  crossWorkerEdges: number;
  /** Distinct workers that ran a node. */
  workers: number;
}

const REMOTE_TIERS = new Set(['redis', 'peer']);

/** Steps of the master's invocation view, or why they cannot be read. */
export function readBenchSteps(view: unknown): { steps: BenchStep[] } | { problem: string } {
  const steps = (view as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return { problem: 'the invocation view has no steps[]' };
  for (const [i, s] of steps.entries()) {
    if (!Value.Check(BenchStep, s)) {
      const first = Value.Errors(BenchStep, s).First();
      return { problem: `steps[${i}]${first ? `${first.path}: ${first.message}` : ''}` };
    }
  }
  return { steps: steps as BenchStep[] };
}

/** A top-level node's function time: its own run, or its slowest foreach item. */
function functionMs(step: BenchStep | undefined, items: Map<string, number> | undefined): number {
  if (step === undefined || step.status !== 'succeeded') return 0;
  if (step.runMs !== undefined) return step.runMs;
  if (items === undefined) return 0;
  let slowest = 0;
  for (const ms of items.values()) slowest = Math.max(slowest, ms);
  return slowest;
}

/**
 * The figures of one invocation, or null while its timeline lacks a top-level node (steps reach
 * the master in batches; the caller reads again).
 */
export function invocationFigures(
  e2eMs: number,
  nodes: readonly string[],
  edges: readonly DagEdgeRef[],
  steps: readonly BenchStep[],
): InvocationFigures | null {
  const top = new Map<string, BenchStep>();
  // foreach node → item index → Σ runMs of that item's body steps.
  const items = new Map<string, Map<string, number>>();
  let dataMs = 0;
  let remoteBytes = 0;
  for (const s of steps) {
    const item = /^([^[/]+)\[(\d+)\]\//.exec(s.node);
    if (item) {
      const perItem = items.get(item[1]!) ?? new Map<string, number>();
      perItem.set(item[2]!, (perItem.get(item[2]!) ?? 0) + (s.runMs ?? 0));
      items.set(item[1]!, perItem);
      continue;
    }
    top.set(s.node, s);
    dataMs += (s.getMs ?? 0) + (s.putMs ?? 0);
    if (s.tier !== undefined && REMOTE_TIERS.has(s.tier)) remoteBytes += s.outputBytes ?? 0;
  }
  if (nodes.some((n) => !top.has(n))) return null;

  const children = new Map<string, string[]>();
  const indegree = new Map(nodes.map((n) => [n, 0]));
  for (const e of edges) {
    children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
    indegree.set(e.to, (indegree.get(e.to) ?? 0) + 1);
  }
  // Longest path by Σ function time, in topological order (Kahn).
  const best = new Map<string, number>();
  const ready = nodes.filter((n) => indegree.get(n) === 0);
  for (const n of ready) best.set(n, functionMs(top.get(n), items.get(n)));
  let criticalPathMs = 0;
  while (ready.length > 0) {
    const n = ready.pop()!;
    const here = best.get(n)!;
    criticalPathMs = Math.max(criticalPathMs, here);
    for (const c of children.get(n) ?? []) {
      best.set(c, Math.max(best.get(c) ?? 0, here + functionMs(top.get(c), items.get(c))));
      const left = indegree.get(c)! - 1;
      indegree.set(c, left);
      if (left === 0) ready.push(c);
    }
  }

  let crossWorkerEdges = 0;
  for (const e of edges) {
    const a = top.get(e.from);
    const b = top.get(e.to);
    if (a && b && a.status === 'succeeded' && b.status === 'succeeded' && a.worker !== b.worker)
      crossWorkerEdges++;
  }
  return {
    e2eMs,
    criticalPathMs,
    schedulingMs: e2eMs - criticalPathMs,
    dataMs,
    remoteBytes,
    crossWorkerEdges,
    workers: new Set([...top.values()].map((s) => s.worker)).size,
  };
}
