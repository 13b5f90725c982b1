/**
 * The seeded simulator behind `faasflow bench chains --sim`: one run of a workload under one
 * prewarm mode, with warm pools (idle timeout, cold start), Poisson arrivals, switches with
 * skewed branches and a workflow pair with a cross-workflow successor. The chain model learns
 * from every finished invocation (`observe`), the planner prepares sandboxes at each start, and
 * the budget controller turns the planner's price from what the pools report.
 *
 * Deterministic in the seed: the arrivals, branch choices and run-time noise are drawn from
 * per-invocation streams, so every mode sees the same workload. Invocations are simulated one
 * after the other in arrival order against time-stamped pools; at the arrival rates used
 * (slow enough for sandboxes to go cold) they rarely overlap, and when they do a sandbox busy
 * in a later part of an earlier invocation counts as busy.
 *
 * A prepare with a `ttlMs` is released unused at `atMs + ttlMs`, else it lives the idle timeout.
 * Accounting: a sandbox's memory-seconds run from its start to its eviction; a prepared one's
 * waste is the time it sat idle before its first run (its whole life when never used).
 */
import { planPrepares, type PlannedWorkflow, type PrewarmMode } from '../shared/chains/planner.js';
import { newBudgetState, updateBudget, type BudgetOptions } from '../shared/chains/budget.js';
import {
  newChainModel,
  observe,
  type ChainModel,
  type ObservedStep,
} from '../shared/chains/model.js';
import { topologicalOrder } from '../shared/dag/graph.js';
import type { WorkflowDag } from '../shared/dag/types.js';
import { mulberry32 } from '../shared/random.js';

export interface SimWorkflow extends PlannedWorkflow {
  /** Share of the primary arrivals (successors arrive only after their predecessor). */
  weight: number;
  /** Switch node → probability of each branch index (in `switchBranches` order: -1, 0, 1 …). */
  branches?: Record<string, Record<string, number>>;
  /** A successor: after this workflow, `workflow` starts with `probability`, `gapMs` ± 25 % later. */
  successor?: { workflow: string; probability: number; gapMs: number };
}

export interface SimOptions {
  seed: number;
  /** Primary arrivals. */
  invocations: number;
  /** Figures skip the first this many (the model learns from them too). */
  warmup: number;
  meanGapMs: number;
  idleMs: number;
  coldMs: number;
  /** Run time varies uniformly by ± this fraction. */
  noise: number;
  budget: number;
  budgetOptions?: Partial<BudgetOptions>;
}

export interface Arrival {
  workflow: string;
  atMs: number;
  seed: number;
  session?: string;
  /** Set on a successor's arrival: it followed a predecessor. */
  successor: boolean;
}

/** The arrivals of a run (the same for every mode): Poisson primaries, then their successors. */
export function arrivals(workflows: readonly SimWorkflow[], o: SimOptions): Arrival[] {
  const rnd = mulberry32(o.seed);
  const total = workflows.reduce((s, w) => s + w.weight, 0);
  const out: Arrival[] = [];
  let t = 0;
  for (let i = 0; i < o.invocations; i++) {
    t += -Math.log(1 - rnd()) * o.meanGapMs;
    let pick = rnd() * total;
    const w = workflows.find((x) => (pick -= x.weight) < 0) ?? workflows[workflows.length - 1]!;
    const s = w.successor;
    const session = s ? `s${i}` : undefined;
    out.push({
      workflow: w.dag.name,
      atMs: t,
      seed: Math.floor(rnd() * 2 ** 31),
      successor: false,
      ...(session ? { session } : {}),
    });
    if (s && rnd() < s.probability)
      out.push({
        workflow: s.workflow,
        atMs: t + s.gapMs * (0.75 + 0.5 * rnd()),
        seed: Math.floor(rnd() * 2 ** 31),
        successor: true,
        ...(session ? { session } : {}),
      });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

interface Sandbox {
  createdAt: number;
  readyAt: number;
  freeAt: number;
  evictAt: number;
  memoryMb: number;
  prepared: boolean;
  firstUseAt: number | null;
}

export interface InvocationOutcome {
  workflow: string;
  successor: boolean;
  measured: boolean;
  latencyMs: number;
  taskStarts: number;
  coldStarts: number;
  /** Cold starts on the realised critical path; and those of them not on a source node. */
  criticalColdStarts: number;
  criticalColdAfterSource: number;
}

export interface SimResult {
  mode: PrewarmMode;
  outcomes: InvocationOutcome[];
  prepares: number;
  /** Over the measured part: memory-seconds of all sandboxes and prepared-but-idle waste. */
  totalMbS: number;
  wasteMbS: number;
  /** Windowed waste fraction the controller saw, one per measured invocation. */
  fractions: number[];
  finalPrice: number;
  /** The chain model at the end of the run. */
  model: ChainModel;
}

export function simulate(
  workflows: readonly SimWorkflow[],
  mode: PrewarmMode,
  o: SimOptions,
): SimResult {
  const byName = new Map(workflows.map((w) => [w.dag.name, w]));
  const planned: Record<string, PlannedWorkflow> = {};
  // Every workflow of the run has the run's mode (a successor's prepares follow its own).
  for (const w of workflows)
    planned[w.dag.name] = {
      dag: { ...w.dag, prewarm: { mode, budget: o.budget } },
      owners: w.owners,
    };
  const pools = new Map<string, Sandbox[]>();
  const pool = (worker: string, wf: string, fn: string): Sandbox[] => {
    const k = `${worker}/${wf}/${fn}`;
    let p = pools.get(k);
    if (!p) pools.set(k, (p = []));
    return p;
  };
  let model = newChainModel({ successorWindowMs: 30_000 });
  let budget = newBudgetState(o.budgetOptions);
  const result: SimResult = {
    mode,
    outcomes: [],
    prepares: 0,
    totalMbS: 0,
    wasteMbS: 0,
    fractions: [],
    finalPrice: budget.price,
    model,
  };
  let periodWaste = 0;
  let periodTotal = 0;
  let measuring = false;
  const evict = (until: number): void => {
    for (const list of pools.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        const s = list[i]!;
        if (s.evictAt > until) continue;
        const total = (s.memoryMb * (s.evictAt - s.createdAt)) / 1000;
        const idleEnd = s.firstUseAt ?? s.evictAt;
        const waste = s.prepared ? (s.memoryMb * Math.max(0, idleEnd - s.createdAt)) / 1000 : 0;
        periodTotal += total;
        periodWaste += waste;
        if (measuring) {
          result.totalMbS += total;
          result.wasteMbS += waste;
        }
        list.splice(i, 1);
      }
    }
  };
  const list = arrivals(workflows, o);
  let primaries = 0;
  for (const a of list) {
    if (!a.successor) primaries++;
    measuring = primaries > o.warmup;
    const w = byName.get(a.workflow)!;
    const T = a.atMs;
    evict(T);
    budget = updateBudget(
      budget,
      { wastedMbS: periodWaste, totalMbS: periodTotal },
      o.budget,
      o.budgetOptions,
    );
    periodWaste = 0;
    periodTotal = 0;
    if (measuring && budget.fraction !== null) result.fractions.push(budget.fraction);
    const actions = planPrepares({
      model,
      dag: w.dag,
      owners: w.owners,
      mode,
      price: budget.price,
      nowMs: T,
      successors: planned,
      warm: (worker, wf, fn) =>
        pool(worker, wf, fn).filter((s) => s.freeAt <= T && s.readyAt <= T && s.evictAt > T).length,
      options: { idleMs: o.idleMs, defaultColdMs: o.coldMs },
    });
    for (const act of actions) {
      const at = T + act.atMs;
      const spec = byName.get(act.workflow)?.dag.functions[act.function];
      for (let k = 0; k < (act.count ?? 1); k++)
        pool(act.worker, act.workflow, act.function).push({
          createdAt: at,
          readyAt: at + o.coldMs,
          freeAt: at + o.coldMs,
          evictAt: at + Math.max(o.coldMs, act.ttlMs ?? o.coldMs + o.idleMs),
          memoryMb: spec?.memoryMb ?? 256,
          prepared: true,
          firstUseAt: null,
        });
      result.prepares += act.count ?? 1;
    }
    const { steps, outcome } = runOne(w, a, pool, o);
    result.outcomes.push({ ...outcome, measured: measuring });
    model = observe(model, w.dag, {
      workflow: w.dag.name,
      startedAt: T,
      steps,
      ...(a.session ? { session: a.session } : {}),
    });
  }
  evict(Infinity);
  result.finalPrice = budget.price;
  result.model = model;
  return result;
}

function runOne(
  w: SimWorkflow,
  a: Arrival,
  pool: (worker: string, wf: string, fn: string) => Sandbox[],
  o: SimOptions,
): { steps: ObservedStep[]; outcome: Omit<InvocationOutcome, 'measured'> } {
  const dag: WorkflowDag = w.dag;
  const rnd = mulberry32(a.seed);
  const chosen = new Map<string, number>();
  for (const n of dag.nodes) {
    if (n.kind !== 'switch') continue;
    const probs = w.branches?.[n.id] ?? {};
    const keys = Object.keys(probs);
    let r = rnd();
    const pick = keys.find((k) => (r -= probs[k]!) < 0) ?? keys[keys.length - 1];
    const fallback = dag.edges.find((e) => e.from === n.id && e.branch !== undefined)?.branch;
    chosen.set(n.id, pick !== undefined ? Number(pick) : (fallback ?? 0));
  }
  const { order } = topologicalOrder(dag.nodes, dag.edges);
  const byId = new Map(dag.nodes.map((n) => [n.id as string, n]));
  const incoming = new Map<string, typeof dag.edges>();
  for (const e of dag.edges) incoming.set(e.to, [...(incoming.get(e.to) ?? []), e]);
  const runs = new Map<string, boolean>();
  const finish = new Map<string, number>();
  const cold = new Map<string, boolean>();
  const steps: ObservedStep[] = [];
  let taskStarts = 0;
  let coldStarts = 0;
  for (const id of order ?? []) {
    const edges = incoming.get(id) ?? [];
    const live =
      edges.length === 0 ||
      edges.some(
        (e) =>
          runs.get(e.from) === true && (e.branch === undefined || chosen.get(e.from) === e.branch),
      );
    runs.set(id, live);
    const ready =
      a.atMs + 0 + Math.max(0, ...edges.map((e) => (finish.get(e.from) ?? a.atMs) - a.atMs));
    const node = byId.get(id)!;
    if (!live || node.kind !== 'task') {
      finish.set(id, ready);
      steps.push({
        node: id,
        status: live ? 'succeeded' : 'skipped',
        startedAt: ready,
        finishedAt: ready,
        queueMs: 0,
        cold: false,
      });
      continue;
    }
    const fn = dag.functions[node.fn]!;
    const worker = w.owners[id]!;
    const list = pool(worker, dag.name, node.fn);
    // A free warm one first, then one being prepared (wait for it), else a cold start.
    let s = list.find((x) => x.freeAt <= ready && x.readyAt <= ready && x.evictAt > ready);
    s ??= list
      .filter((x) => x.firstUseAt === null && x.createdAt <= ready && x.readyAt > ready)
      .sort((x, y) => x.readyAt - y.readyAt)[0];
    let started = false;
    if (!s) {
      // As the worker's pool does: a prepare not yet fired is not there; start one now.
      started = true;
      s = {
        createdAt: ready,
        readyAt: ready + o.coldMs,
        freeAt: 0,
        evictAt: 0,
        memoryMb: fn.memoryMb,
        prepared: false,
        firstUseAt: null,
      };
      list.push(s);
    }
    const start = Math.max(ready, s.readyAt);
    const waitMs = start - ready;
    const isCold = waitMs > o.coldMs / 2;
    const runMs = fn.runtimeMs * (1 + o.noise * (2 * rnd() - 1));
    const end = start + runMs;
    s.firstUseAt ??= start;
    s.freeAt = end;
    s.evictAt = end + o.idleMs;
    taskStarts++;
    if (isCold) coldStarts++;
    cold.set(id, isCold);
    finish.set(id, end);
    steps.push({
      node: id,
      status: 'succeeded',
      startedAt: ready,
      finishedAt: end,
      // Started for this node: a cold start the worker measures; waiting for a prepare still
      // starting: time queued for a sandbox.
      queueMs: started ? 0 : waitMs,
      cold: started && waitMs > 0,
      ...(started && waitMs > 0 ? { initMs: waitMs } : {}),
      allocation: { memoryMb: fn.memoryMb },
    });
  }
  // The realised critical path: from the last finisher back through the parent that finished last.
  let last: string | undefined;
  for (const [id, f] of finish) if (last === undefined || f > finish.get(last)!) last = id;
  let criticalColdStarts = 0;
  let criticalColdAfterSource = 0;
  for (let id = last; id !== undefined;) {
    const parents = (incoming.get(id) ?? []).map((e) => e.from);
    if (cold.get(id) === true) {
      criticalColdStarts++;
      if (parents.length > 0) criticalColdAfterSource++;
    }
    id = parents.sort((x, y) => finish.get(y)! - finish.get(x)!)[0];
  }
  const end = Math.max(...finish.values());
  return {
    steps,
    outcome: {
      workflow: dag.name,
      successor: a.successor,
      latencyMs: end - a.atMs,
      taskStarts,
      coldStarts,
      criticalColdStarts,
      criticalColdAfterSource,
    },
  };
}
