/**
 * Adaptive task chains on the master (docs/guides/chains.md): learns the chain model from every
 * finished invocation (the master's own and those shipped from ingress workers), off the request
 * path, keeps it in the master store (Redis, or the embedded store) under `chains:model`, feeds
 * the budget controller per workflow (`chains:budget`) and plans prepares at invocation start.
 *
 * Invariants: `finished` only queues (an invocation's caller never waits for learning or for the
 * store); a queued invocation is observed once; `plan` never waits for the store once `load`
 * resolved; what is persisted is the versioned model document (`parseChainModel` reads it back).
 */
import {
  BUDGET_DEFAULTS,
  PREWARM_DEFAULT_BUDGET,
  branchProbabilities,
  chainModelToJson,
  contextBucket,
  functionEstimate,
  newBudgetState,
  newChainModel,
  observe,
  parseChainModel,
  planPrepares,
  startOffsetMs,
  successorChains,
  updateBudget,
  chainKit,
  predictionsOf,
  type BudgetState,
  type ChainKit,
  type ChainModel,
  type ObservedInvocation,
  type PlannedWorkflow,
  type PrepareAction,
  type SuccessorChain,
} from '../../shared/chains/index.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import type { Logger } from '../../shared/logger.js';
import type { InvocationPrewarm, InvocationRecord } from '../../shared/invocation/record.js';
import type { MasterStore } from '../store/types.js';

/** The master store keys the model and the controllers' states live under. */
export const CHAINS_MODEL_KEY = 'chains:model';
export const CHAINS_BUDGET_KEY = 'chains:budget';

export interface ChainServiceOptions {
  store: Pick<MasterStore, 'getValue' | 'setValue'>;
  logger: Logger;
  /** How often queued invocations are observed and the model persisted, ms. Default 500. */
  flushIntervalMs?: number;
  now?: () => number;
}

/** Memory-seconds reported for one workflow (by a pool or from a finished invocation). */
export interface PrepareFeedback {
  /** Prepared sandboxes that sat unused (before their first run, or their whole life), MB·s. */
  wastedMbS: number;
  /** Prepared sandboxes that were used, MB·s (their idle time before the run). */
  usedMbS?: number;
  /** Every sandbox of the workflow, MB·s (prepares included). */
  totalMbS: number;
}

/** What `GET /v1/workflows/:name/chains` and `faasflow chains NAME` show. */
export interface ChainsView {
  workflow: string;
  mode: string;
  budget: number;
  observed: number;
  switches: { node: string; bucket: string; samples: number; branches: Record<string, number> }[];
  nodes: {
    node: string;
    function: string;
    startMs: { p10: number; p50: number; p98: number } | null;
  }[];
  functions: {
    function: string;
    coldMs: number;
    /** The cold-start time prepares are timed by (p90 of the measured ones, else `coldMs`). */
    coldHighMs: number;
    measured: boolean;
    warmMs: number;
    memoryMb: number;
    runs: number;
    colds: number;
  }[];
  successors: SuccessorChain[];
  price: number;
  /** The windowed share of unused prepare memory-seconds; null before any feedback. */
  wasteFraction: number | null;
  prepares: { wastedMbS: number; usedMbS: number };
}

interface Queued {
  dag: WorkflowDag;
  inv: ObservedInvocation;
}

export class ChainService {
  private model: ChainModel = newChainModel();
  private budgets: Record<string, BudgetState> = {};
  private readonly queue: Queued[] = [];
  private readonly feedback = new Map<string, PrepareFeedback>();
  private readonly totals = new Map<string, { wastedMbS: number; usedMbS: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private flushing: Promise<void> | undefined;
  private dirty = false;
  private closed = false;

  constructor(private readonly o: ChainServiceOptions) {
    this.now = o.now ?? Date.now;
    this.timer = setInterval(() => void this.flush(), o.flushIntervalMs ?? 500);
    this.timer.unref();
  }

  /** Reads the stored model and budgets (a missing or unreadable model starts empty). */
  async load(): Promise<void> {
    const text = await this.o.store.getValue(CHAINS_MODEL_KEY);
    if (typeof text === 'string') {
      try {
        this.model = parseChainModel(text);
      } catch (err) {
        this.o.logger.warn({ err }, `stored ${CHAINS_MODEL_KEY} is unreadable; starting empty`);
      }
    }
    const budgets = await this.o.store.getValue(CHAINS_BUDGET_KEY);
    if (budgets !== null && typeof budgets === 'object')
      this.budgets = budgets as Record<string, BudgetState>;
  }

  /** A finished invocation of `dag` (any status): queued, observed on the next flush. */
  finished(r: InvocationRecord, dag: WorkflowDag): void {
    if (this.closed || r.steps.length === 0) return;
    const inputBytes =
      r.steps.find((s) => (dag.sources as readonly string[]).includes(s.node))?.inputBytes ?? 0;
    this.queue.push({
      dag,
      inv: {
        workflow: r.workflow,
        startedAt: r.startedAt,
        steps: r.steps,
        context: contextBucket(inputBytes),
        // Per tenant: two tenants' equal session ids never link their workflows.
        ...(r.session === undefined ? {} : { session: `${r.ctx.tenant}\u0000${r.session}` }),
      },
    });
    let total = 0;
    for (const s of r.steps)
      if (s.kind === 'task' && s.status !== 'skipped')
        total += ((s.allocation?.memoryMb ?? 0) * Math.max(0, s.finishedAt - s.startedAt)) / 1000;
    if (total > 0) this.addFeedback(r.workflow, { wastedMbS: 0, totalMbS: total });
  }

  /** Prepare memory-seconds a worker's pool reported; fed to the controller on the next flush. */
  addFeedback(workflow: string, f: PrepareFeedback): void {
    const acc = this.feedback.get(workflow) ?? { wastedMbS: 0, usedMbS: 0, totalMbS: 0 };
    acc.wastedMbS += f.wastedMbS;
    acc.usedMbS = (acc.usedMbS ?? 0) + (f.usedMbS ?? 0);
    acc.totalMbS += f.totalMbS;
    this.feedback.set(workflow, acc);
    const t = this.totals.get(workflow) ?? { wastedMbS: 0, usedMbS: 0 };
    t.wastedMbS += f.wastedMbS;
    t.usedMbS += f.usedMbS ?? 0;
    this.totals.set(workflow, t);
  }

  /** The planner's price for `workflow` now (the controller's, else its initial price). */
  price(workflow: string): number {
    return this.budgets[workflow]?.price ?? BUDGET_DEFAULTS.initialPrice;
  }

  /** The workflows likely to follow `workflow` now, best first (the planner's threshold applies). */
  successorsOf(workflow: string): SuccessorChain[] {
    return successorChains(this.model, workflow, this.now());
  }

  current(): ChainModel {
    return this.model;
  }

  /**
   * The prepares for an invocation of `w` starting now: its own by its `prewarm` mode (none
   * when off or absent), and its likely successors' first nodes where their mode is predictive.
   */
  plan(
    w: PlannedWorkflow,
    warm: (worker: string, workflow: string, fn: string) => number,
    inputBytes: number,
    successors?: Readonly<Record<string, PlannedWorkflow>>,
  ): PrepareAction[] {
    const mode = w.dag.prewarm?.mode ?? 'off';
    const next = Object.values(successors ?? {});
    if (mode === 'off' && !next.some((s) => s.dag.prewarm?.mode === 'predictive')) return [];
    return planPrepares({
      ...w,
      model: this.model,
      mode,
      warm,
      price: this.price(w.dag.name),
      successorPrice: (workflow) => this.price(workflow),
      nowMs: this.now(),
      context: contextBucket(inputBytes),
      ...(successors === undefined ? {} : { successors }),
    });
  }

  /**
   * What the model predicts for an invocation of `dag` starting now (recorded on it as its
   * timeline's `prewarm` part): per task node P(runs) and the median start offset, per switch
   * the branch probabilities.
   */
  predictions(dag: WorkflowDag, inputBytes: number): Pick<InvocationPrewarm, 'nodes' | 'switches'> {
    return predictionsOf(this.model, dag, inputBytes);
  }

  /** What an ingress plans `workflow`'s starts with (GET /v1/internal/chains/:workflow). */
  kit(workflow: string): ChainKit {
    return chainKit(this.model, workflow, (w) => this.price(w), this.now());
  }

  /** Observes what is queued, feeds the controllers and persists; one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.doFlush().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    const batch = this.queue.splice(0);
    for (const q of batch) {
      try {
        this.model = observe(this.model, q.dag, q.inv);
        this.dirty = true;
      } catch (err) {
        this.o.logger.warn({ err, workflow: q.inv.workflow }, 'chain model: observation skipped');
      }
    }
    const budgetOf = new Map(batch.map((q) => [q.dag.name, q.dag.prewarm?.budget]));
    for (const [workflow, f] of this.feedback) {
      const state = this.budgets[workflow] ?? newBudgetState();
      const budget = budgetOf.get(workflow) ?? PREWARM_DEFAULT_BUDGET;
      this.budgets[workflow] = updateBudget(state, f, budget);
      this.dirty = true;
    }
    this.feedback.clear();
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.o.store.setValue(CHAINS_MODEL_KEY, chainModelToJson(this.model));
      await this.o.store.setValue(CHAINS_BUDGET_KEY, this.budgets);
    } catch (err) {
      this.dirty = true;
      this.o.logger.warn({ err }, 'chain model not persisted (retried on the next flush)');
    }
  }

  view(dag: WorkflowDag): ChainsView {
    const m = this.model;
    const wf = m.workflows[dag.name];
    const switches = dag.nodes
      .filter((n) => n.kind === 'switch')
      .map((n) => {
        const b = branchProbabilities(m, dag, n.id);
        return { node: n.id, bucket: b.bucket, samples: b.samples, branches: b.probabilities };
      });
    const nodes = dag.nodes.flatMap((n) => {
      if (n.kind !== 'task') return [];
      const q = (p: number): number | null => startOffsetMs(m, dag.name, n.id, p);
      const p10 = q(0.1);
      const p50 = q(0.5);
      const p98 = q(0.98);
      return [
        {
          node: n.id,
          function: n.fn,
          startMs: p10 === null || p50 === null || p98 === null ? null : { p10, p50, p98 },
        },
      ];
    });
    const functions = Object.keys(dag.functions)
      .sort()
      .map((fn) => {
        const e = functionEstimate(m, dag, fn, 70);
        const f = wf?.functions[fn];
        return { function: fn, ...e, runs: f?.runs ?? 0, colds: f?.colds ?? 0 };
      });
    const b = this.budgets[dag.name];
    return {
      workflow: dag.name,
      mode: dag.prewarm?.mode ?? 'off',
      budget: dag.prewarm?.budget ?? PREWARM_DEFAULT_BUDGET,
      observed: wf?.observed ?? 0,
      switches,
      nodes,
      functions,
      successors: successorChains(m, dag.name, this.now()),
      price: this.price(dag.name),
      wasteFraction: b?.fraction ?? null,
      prepares: this.totals.get(dag.name) ?? { wastedMbS: 0, usedMbS: 0 },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }
}
