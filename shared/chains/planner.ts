/**
 * The prepare-ahead planner (issue 15, item 2): at invocation start, which sandboxes to warm,
 * where and when. Pure: the model, the DAG, who owns each node (the placement), and how many
 * idle warm sandboxes each worker has per function go in; a list of `prepare` actions comes out.
 *
 * - `off`: nothing.
 * - `eager` (the baseline): every task node whose worker has no warm sandbox for it, at 0.
 * - Never a source of the invocation itself (in any mode): its trigger reaches its worker as
 *   soon as any prepare could, so that prepare would only start a second sandbox. A source is
 *   warmed ahead only by a predecessor workflow's start (successor chains).
 * - `predictive`: a node is prepared at `predicted start − cold time − margin` (the low start
 *   quantile, so a faster run still finds it warm; the cold time's p90 once measured, so a slow
 *   start is up in time too) only when the critical-path time it is
 *   expected to save, P(runs) × max(0, cold − slack), is at least `price` × the memory-seconds it
 *   is expected to hold: memory × (P × time warm before use + (1 − P) × its time to live). A
 *   prepare carries `ttlMs`: unused by then (the node's high start quantile has passed, so its
 *   branch was not taken or its successor did not come), the worker releases it instead of
 *   keeping it for the pool's idle timeout.
 * - Successors: the nodes of a likely successor workflow (by its chain score) whose own start
 *   is too late for them are prepared on the predictive rule, timed by the gap between the two
 *   starts — when the successor's own `prewarm.mode` is `predictive`, at its controller's price,
 *   whatever the mode of this one.
 *
 * Slack is the node's float in the expected schedule (warm run times, or the catalogue's
 * runtime until measured): a node off the critical path saves only the part of its cold start
 * that its slack does not absorb. `price` is the knob the budget controller turns.
 */
import type { PrewarmMode, WorkflowDag } from '../dag/types.js';
import { topologicalOrder } from '../dag/graph.js';
import { ALL_CONTEXTS, type ChainModel } from './model.js';
import {
  foreachWidth,
  functionEstimate,
  runProbabilities,
  startOffsetMs,
  successorChains,
  type FunctionEstimate,
} from './predict.js';

export const PREWARM_MODES: readonly PrewarmMode[] = ['off', 'eager', 'predictive'];
export type { PrewarmMode };

export interface PrepareAction {
  worker: string;
  workflow: string;
  function: string;
  node: string;
  /** When to start the sandbox, ms after the invocation start. */
  atMs: number;
  /**
   * When the node is predicted to start (its low start quantile), ms after the invocation start:
   * the worker starts waiting prepares earliest-needed first.
   */
  needMs: number;
  reason: 'eager' | 'node' | 'successor';
  /** P(the node runs) (for a successor: chain score × P(node runs in it)). */
  probability: number;
  /** Expected critical-path time saved, ms. */
  savedMs: number;
  /** Expected memory-seconds held, MB·s. */
  costMbS: number;
  /**
   * Release the sandbox if no run has used it this long after `atMs` (absent: the pool's idle
   * timeout, as eager's are).
   */
  ttlMs?: number;
  /**
   * Sandboxes to have ready (absent: 1): a foreach body's first function, as many as the
   * foreach is predicted to run at once (its learned width, at most its concurrency).
   */
  count?: number;
}

export interface PlannerOptions {
  /** Warm this much before the predicted start, ms. Default 10. */
  marginMs: number;
  /** How long a prepared sandbox that is never used lives (the pool's idle timeout), ms. Default 10 s. */
  idleMs: number;
  /** Cold-start time assumed until one is measured, ms. Default 70 (process sandbox). */
  defaultColdMs: number;
  /** Quantile of the start offset the prepare is timed by. Default 0.1. */
  startQuantile: number;
  /** Quantile of the start offset after which an unused prepare is released. Default 0.98. */
  endQuantile: number;
  /** Below this P(runs) nothing is prepared, whatever the price. Default 0.02. */
  minProbability: number;
  /** Successors with a lower chain score are not considered. Default 0.1. */
  minSuccessorScore: number;
}

export const PLANNER_DEFAULTS: PlannerOptions = {
  marginMs: 10,
  idleMs: 10_000,
  defaultColdMs: 70,
  startQuantile: 0.1,
  endQuantile: 0.98,
  minProbability: 0.02,
  minSuccessorScore: 0.1,
};

export interface PlannedWorkflow {
  dag: WorkflowDag;
  /** Node id → the worker that owns it. */
  owners: Readonly<Record<string, string>>;
}

export interface PlanInput extends PlannedWorkflow {
  model: ChainModel;
  mode: PrewarmMode;
  /** Idle warm sandboxes `worker` has for function `fn` of `workflow` now. */
  warm: (worker: string, workflow: string, fn: string) => number;
  /** ms saved per MB·s held: the controller's price. */
  price: number;
  /** Epoch ms now (successor recency). */
  nowMs: number;
  context?: string;
  /**
   * Where a successor workflow would run, by name (its predicted placement). Only those whose
   * own `prewarm.mode` is `predictive` are prepared, whatever this workflow's mode.
   */
  successors?: Readonly<Record<string, PlannedWorkflow>>;
  /** The price for a successor's prepares (its own controller's); default `price`. */
  successorPrice?: (workflow: string) => number;
  options?: Partial<PlannerOptions>;
}

interface Candidate extends Omit<PrepareAction, 'needMs'> {
  startMs: number;
  /** Whether a prepare at its own invocation's start is early enough for this node. */
  inOwnReach: boolean;
  /**
   * A source of its workflow: its own invocation never prepares it (its trigger reaches the
   * worker before any prepare could); only a predecessor workflow's start can.
   */
  source: boolean;
}

export function planPrepares(input: PlanInput): PrepareAction[] {
  const o = { ...PLANNER_DEFAULTS, ...input.options };
  const candidates: Candidate[] = [];
  if (input.mode !== 'off') {
    const own = nodeCandidates(input, input, o, 1, input.context ?? ALL_CONTEXTS);
    if (input.mode === 'eager') {
      for (const { ttlMs: _t, ...c } of own)
        if (!c.source) candidates.push({ ...c, atMs: 0, reason: 'eager' });
    } else candidates.push(...own.filter((c) => !c.source && worthIt(c, input.price, o)));
  }
  for (const chain of successorChains(input.model, input.dag.name, input.nowMs)) {
    const next = input.successors?.[chain.workflow];
    // A successor's prepares follow its own setting and its own controller's price.
    if (!next || next.dag.prewarm?.mode !== 'predictive') continue;
    if (chain.score < o.minSuccessorScore || chain.gapMs === null) continue;
    const price = input.successorPrice?.(chain.workflow) ?? input.price;
    const list = nodeCandidates(input, next, o, chain.score, ALL_CONTEXTS, chain.gapMs);
    // Only what the successor's own plan at its start cannot warm in time: its nodes that
    // start sooner than a cold start after it (its first nodes).
    for (const c of list)
      if (c.inOwnReach === false && worthIt(c, price, o))
        candidates.push({ ...c, reason: 'successor' });
  }
  // A warm idle sandbox serves the earliest node that needs one; the rest get a prepare.
  candidates.sort((a, b) => a.startMs - b.startMs || (a.node < b.node ? -1 : 1));
  const used = new Map<string, number>();
  const out: PrepareAction[] = [];
  for (const c of candidates) {
    const key = `${c.worker}\u0000${c.workflow}\u0000${c.function}`;
    const taken = used.get(key) ?? 0;
    used.set(key, taken + 1);
    if (taken < input.warm(c.worker, c.workflow, c.function)) continue;
    const { startMs, inOwnReach: _r, source: _src, ...action } = c;
    out.push({ ...action, needMs: Math.max(action.atMs, startMs) });
  }
  return out.sort(
    (a, b) =>
      a.atMs - b.atMs ||
      (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0) ||
      (a.node < b.node ? -1 : a.node > b.node ? 1 : 0),
  );
}

function worthIt(c: Candidate, price: number, o: PlannerOptions): boolean {
  return c.probability >= o.minProbability && c.savedMs > 0 && c.savedMs >= price * c.costMbS;
}

/** One candidate per task node of `w`, timed from `offsetMs` (0, or the successor's gap). */
function nodeCandidates(
  input: PlanInput,
  w: PlannedWorkflow,
  o: PlannerOptions,
  scale: number,
  context: string,
  gap: { low: number; median: number; high: number } = { low: 0, median: 0, high: 0 },
): Candidate[] {
  const { model } = input;
  const dag = w.dag;
  const runP = runProbabilities(model, dag, context);
  const fns = new Map<string, FunctionEstimate>();
  const est = (fn: string): FunctionEstimate => {
    let e = fns.get(fn);
    if (!e) fns.set(fn, (e = functionEstimate(model, dag, fn, o.defaultColdMs)));
    return e;
  };
  const schedule = expectedSchedule(dag, est);
  const sources = new Set<string>(dag.sources);
  const out: Candidate[] = [];
  for (const n of dag.nodes) {
    if (n.kind === 'foreach') {
      out.push(
        ...foreachCandidates(input, w, o, n, runP.get(n.id) ?? 1, scale, gap, schedule, sources),
      );
      continue;
    }
    if (n.kind !== 'task') continue;
    const worker = w.owners[n.id];
    if (worker === undefined) continue;
    out.push(
      candidate(o, {
        worker,
        workflow: dag.name,
        fn: n.fn,
        node: n.id,
        e: est(n.fn),
        slackMs: (schedule.get(n.id) ?? { slackMs: 0 }).slackMs,
        starts: startsOf(model, dag.name, n.id, o, schedule),
        gap,
        probability: (runP.get(n.id) ?? 1) * scale,
        count: 1,
        source: sources.has(n.id),
      }),
    );
  }
  return out;
}

/**
 * A foreach's body: its first functions (no parent inside the body) are prepared on the
 * foreach's worker at the foreach's predicted start, as many as it runs at once — its learned
 * width (else its estimate) up to its concurrency. Each item starts one, so the critical path
 * through the foreach saves one cold start.
 */
function foreachCandidates(
  input: PlanInput,
  w: PlannedWorkflow,
  o: PlannerOptions,
  n: Extract<WorkflowDag['nodes'][number], { kind: 'foreach' }>,
  runP: number,
  scale: number,
  gap: { low: number; median: number; high: number },
  schedule: ReadonlyMap<string, { earliestMs: number; slackMs: number }>,
  sources: ReadonlySet<string>,
): Candidate[] {
  const worker = w.owners[n.id];
  // A sharded foreach runs its items on other workers too: not prepared here.
  if (worker === undefined || n.shard !== undefined) return [];
  const { model } = input;
  const dag = w.dag;
  const width = foreachWidth(model, dag.name, n.id) ?? n.estimatedWidth;
  const count = Math.min(n.concurrency, Math.round(width), 64);
  if (count < 1) return [];
  const inner = new Set(n.body.edges.map((e) => e.to as string));
  const starts = startsOf(model, dag.name, n.id, o, schedule);
  const slackMs = (schedule.get(n.id) ?? { slackMs: 0 }).slackMs;
  const out: Candidate[] = [];
  for (const b of n.body.nodes) {
    if (b.kind !== 'task' || inner.has(b.id)) continue;
    out.push(
      candidate(o, {
        worker,
        workflow: dag.name,
        fn: b.fn,
        node: `${n.id}/${b.id}`,
        e: functionEstimate(model, dag, b.fn, o.defaultColdMs),
        slackMs,
        starts,
        gap,
        probability: runP * scale,
        count,
        source: sources.has(n.id),
      }),
    );
  }
  return out;
}

/** A node's start offsets: the low and median quantiles (else its expected start) and the high. */
interface Starts {
  low: number;
  median: number;
  high: number | null;
}

function startsOf(
  model: ChainModel,
  workflow: string,
  id: string,
  o: PlannerOptions,
  schedule: ReadonlyMap<string, { earliestMs: number; slackMs: number }>,
): Starts {
  const earliest = schedule.get(id)?.earliestMs ?? 0;
  return {
    low: startOffsetMs(model, workflow, id, o.startQuantile) ?? earliest,
    median: startOffsetMs(model, workflow, id, 0.5) ?? earliest,
    high: startOffsetMs(model, workflow, id, o.endQuantile),
  };
}

/**
 * One prepare candidate: timed a cold start (and the margin) before the low start, released
 * after the high start has passed (the idle timeout for a node never seen), saving what the
 * slack does not absorb, costing `count` sandboxes' memory for the time they are expected to wait.
 */
function candidate(
  o: PlannerOptions,
  c: {
    worker: string;
    workflow: string;
    fn: string;
    node: string;
    e: FunctionEstimate;
    slackMs: number;
    starts: Starts;
    gap: { low: number; median: number; high: number };
    probability: number;
    count: number;
    source: boolean;
  },
): Candidate {
  const { e, starts, gap, probability } = c;
  const startMs = gap.low + starts.low;
  // Timed by a slow start (the high quantile of the measured ones): one that runs late is a cold
  // start after all; the saving is counted at the mean.
  const atMs = Math.max(0, startMs - e.coldHighMs - o.marginMs);
  const holdMs = Math.max(0, gap.median + starts.median - atMs);
  const ttlMs =
    starts.high === null
      ? o.idleMs
      : Math.min(o.idleMs, Math.max(gap.high + starts.high - atMs, e.coldHighMs) + 2 * o.marginMs);
  return {
    worker: c.worker,
    workflow: c.workflow,
    function: c.fn,
    node: c.node,
    atMs,
    reason: 'node',
    probability,
    savedMs: probability * Math.max(0, e.coldMs - c.slackMs),
    costMbS: (c.count * e.memoryMb * (probability * holdMs + (1 - probability) * ttlMs)) / 1000,
    ...(ttlMs < o.idleMs ? { ttlMs } : {}),
    ...(c.count > 1 ? { count: c.count } : {}),
    startMs,
    inOwnReach: starts.low >= e.coldHighMs + o.marginMs,
    source: c.source,
  };
}

/** Earliest start and slack per node with expected (warm) run times; joins wait for all parents. */
export function expectedSchedule(
  dag: WorkflowDag,
  est: (fn: string) => FunctionEstimate,
): Map<string, { earliestMs: number; slackMs: number }> {
  const { order } = topologicalOrder(dag.nodes, dag.edges);
  const ids = order ?? dag.nodes.map((n) => n.id);
  const byId = new Map(dag.nodes.map((n) => [n.id as string, n]));
  const dur = (id: string): number => {
    const n = byId.get(id);
    return n?.kind === 'task' ? est(n.fn).warmMs : 0;
  };
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  for (const e of dag.edges) {
    parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
    children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
  }
  const es = new Map<string, number>();
  let makespan = 0;
  for (const id of ids) {
    const start = Math.max(0, ...(parents.get(id) ?? []).map((p) => es.get(p)! + dur(p)));
    es.set(id, start);
    makespan = Math.max(makespan, start + dur(id));
  }
  const ls = new Map<string, number>();
  for (const id of [...ids].reverse()) {
    const kids = children.get(id) ?? [];
    const latestFinish = kids.length === 0 ? makespan : Math.min(...kids.map((k) => ls.get(k)!));
    ls.set(id, latestFinish - dur(id));
  }
  const out = new Map<string, { earliestMs: number; slackMs: number }>();
  for (const id of ids)
    out.set(id, { earliestMs: es.get(id)!, slackMs: Math.max(0, ls.get(id)! - es.get(id)!) });
  return out;
}
