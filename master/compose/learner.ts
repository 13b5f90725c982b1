/**
 * One workflow's composition learner (docs/guides/composition.md): the versioned model state,
 * its trained snapshot, and the decision log. Decisions read the snapshot only; outcomes queue
 * and `train()` folds them in off the request path, bumping the model version. No I/O: the
 * service persists what `persisted()` returns.
 *
 * Modes: `online` draws from the explorer and learns; `shadow` runs the default variant, logs
 * what the model would have drawn (its probability of the default is the SNIPS weight) and
 * learns, and promotes itself to `online` once the estimate's lower bound beats the default's
 * value; `frozen` runs the model's greedy pick and learns nothing.
 */
import { snips, type Estimate, type LoggedOutcome } from '../../shared/compose/estimate.js';
import { decide } from '../../shared/compose/decide.js';
import {
  encodeContext,
  featureSpace,
  hash32,
  personalIndices,
  type FeatureSpace,
} from '../../shared/compose/features.js';
import {
  DEFAULT_MODEL_OPTIONS,
  emptyState,
  observe,
  observeFunction,
  posteriorFor,
  train,
  type ModelState,
} from '../../shared/compose/model.js';
import { admissible, exploreRate } from '../../shared/compose/policy.js';
import { bindModel, rank, type BoundModel } from '../../shared/compose/rank.js';
import type { CompositionMode, CompositionSpec } from '../../shared/compose/types.js';
import { crossFeatures } from '../../shared/compose/features.js';
import type { FunctionStats } from '../../shared/compose/features.js';
import type { RecordComposition } from '../../shared/invocation/record.js';

/** Decisions the log keeps (the newest). */
export const LOG_LIMIT = 2_000;
/** Logged outcomes before shadow mode may promote itself. */
const PROMOTE_AFTER = 100;

export interface LogEntry {
  id: string;
  subTenant: string;
  variant: number;
  propensity: number;
  /** The learned policy's probability of the variant that ran. */
  target: number;
  explored: boolean;
  reward: number;
  at: number;
}

/** What is stored per workflow in the cluster store. */
export interface PersistedLearner {
  fingerprint: string;
  mode: CompositionMode;
  state: ModelState;
  log: LogEntry[];
}

export interface PendingDecision {
  subTenant: string;
  phi: number[];
  variant: number;
  propensity: number;
  target: number;
  explored: boolean;
  /** The deciding posterior's mean for the variant that ran and its variance (change detection). */
  prediction?: { mean: number; variance: number };
}

export interface Outcome {
  id: string;
  decision: PendingDecision;
  reward: number;
  functions: { fn: string; stats: FunctionStats }[];
  at: number;
}

export function fingerprintOf(spec: CompositionSpec): string {
  const s = JSON.stringify([
    spec.variants.map((v) => [v.label, v.graph]),
    Object.keys(spec.learn.context),
    spec.learn.reward,
  ]);
  return hash32(s).toString(16);
}

export class WorkflowLearner {
  readonly space: FeatureSpace;
  private model: BoundModel;
  private readonly queue: Outcome[] = [];
  mode: CompositionMode;
  readonly fingerprint: string;

  constructor(
    readonly spec: CompositionSpec,
    private readonly state: ModelState,
    readonly log: LogEntry[],
    mode: CompositionMode,
    private readonly rng: () => number,
  ) {
    this.fingerprint = fingerprintOf(spec);
    this.space = featureSpace(
      spec.variants.flatMap((v) => v.graph.nodes),
      Object.keys(spec.learn.context),
    );
    this.mode = mode;
    this.model = bindModel(
      this.space,
      spec.variants,
      train(state, DEFAULT_MODEL_OPTIONS, personalIndices(this.space)),
    );
  }

  static fresh(spec: CompositionSpec, rng: () => number): WorkflowLearner {
    const space = featureSpace(
      spec.variants.flatMap((v) => v.graph.nodes),
      Object.keys(spec.learn.context),
    );
    return new WorkflowLearner(spec, emptyState(space.dim), [], spec.learn.mode, rng);
  }

  /** From what the store held; a stale fingerprint (other variants or features) starts afresh. */
  static restore(spec: CompositionSpec, held: unknown, rng: () => number): WorkflowLearner {
    const p = held as Partial<PersistedLearner> | undefined;
    if (
      !p ||
      p.fingerprint !== fingerprintOf(spec) ||
      !p.state ||
      !Array.isArray(p.log) ||
      (p.mode !== 'shadow' && p.mode !== 'online' && p.mode !== 'frozen')
    )
      return WorkflowLearner.fresh(spec, rng);
    // A mode changed in the YAML wins over a promotion made under the old one.
    const mode = spec.learn.mode === 'shadow' ? p.mode : spec.learn.mode;
    return new WorkflowLearner(spec, p.state, p.log, mode, rng);
  }

  get version(): number {
    return this.state.version;
  }

  /** The variant to run for this context and sub-tenant, and what to remember about it. */
  decide(
    values: Readonly<Record<string, unknown>>,
    subTenant: string,
  ): { composition: RecordComposition; pending: PendingDecision } {
    const candidates = admissible(this.spec.variants, this.spec.policies, subTenant);
    if (candidates.length === 0)
      throw new Error(`the policies leave no graph for sub-tenant ${JSON.stringify(subTenant)}`);
    const x = encodeContext(this.space, values);
    const rate =
      this.mode === 'frozen'
        ? 0
        : exploreRate(this.spec.learn.explore.rate, this.spec.policies, subTenant);
    const d = decide({
      space: this.space,
      posterior: posteriorFor(this.model.snapshot, subTenant),
      graphs: this.model.graphs,
      candidates,
      context: x,
      algorithm: this.spec.learn.explore.algorithm,
      rate,
      rng: this.rng,
    });
    let ran = d.index;
    let propensity = d.propensity;
    let explored = d.explored;
    let target = ran === d.greedy ? 1 : 0;
    let prediction = d.prediction;
    let wouldRun: string | undefined;
    if (this.mode === 'shadow') {
      ran = candidates.includes(0) ? 0 : candidates[0]!;
      propensity = 1;
      explored = false;
      target = d.distribution[candidates.indexOf(ran)]!;
      // The default's mean; its variance is not computed (the detector treats it as known).
      prediction = { mean: d.means[candidates.indexOf(ran)]!, variance: 0 };
      wouldRun = this.spec.variants[d.index]!.label;
    }
    const phi = Array.from(
      crossFeatures(this.space, this.model.graphs[ran]!, x, new Float64Array(this.space.dim)),
    );
    const v = this.spec.variants[ran]!;
    return {
      composition: {
        index: ran,
        graph: [...v.graph.nodes],
        variant: v.label,
        propensity,
        explored,
        modelVersion: this.state.version,
        ...(wouldRun === undefined ? {} : { wouldRun }),
      },
      pending: { subTenant, phi, variant: ran, propensity, target, explored, prediction },
    };
  }

  enqueue(o: Outcome): void {
    this.queue.push(o);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Folds the queued outcomes in; true when the model changed (a new version). */
  train(): boolean {
    if (this.queue.length === 0) return false;
    const batch = this.queue.splice(0, this.queue.length);
    for (const o of batch) {
      this.log.push({
        id: o.id,
        subTenant: o.decision.subTenant,
        variant: o.decision.variant,
        propensity: o.decision.propensity,
        target: o.decision.target,
        explored: o.decision.explored,
        reward: o.reward,
        at: o.at,
      });
      if (this.mode === 'frozen') continue;
      observe(
        this.state,
        DEFAULT_MODEL_OPTIONS,
        o.decision.subTenant,
        o.decision.phi,
        o.reward,
        o.decision.prediction,
      );
      for (const f of o.functions) observeFunction(this.state, f.fn, f.stats);
    }
    if (this.log.length > LOG_LIMIT) this.log.splice(0, this.log.length - LOG_LIMIT);
    if (this.mode === 'frozen') return false;
    this.state.version++;
    this.model = bindModel(
      this.space,
      this.spec.variants,
      train(this.state, DEFAULT_MODEL_OPTIONS, personalIndices(this.space)),
    );
    if (this.mode === 'shadow' && this.promotable()) this.mode = 'online';
    return true;
  }

  /** Shadow: the learned policy's lower bound beats the default's value. */
  promotable(): boolean {
    const e = this.estimates();
    return (
      this.log.length >= PROMOTE_AFTER &&
      e.learned !== null &&
      e.default !== null &&
      e.learned.lower - e.default.value > 1e-9 * Math.max(1, Math.abs(e.default.value))
    );
  }

  /** SNIPS of the learned policy and of the default, over the log. */
  estimates(): { learned: Estimate | null; default: Estimate | null } {
    const learned: LoggedOutcome[] = this.log.map((e) => ({
      reward: e.reward,
      propensity: e.propensity,
      target: e.target,
    }));
    const def: LoggedOutcome[] = this.log.map((e) => ({
      reward: e.reward,
      propensity: e.propensity,
      target: e.variant === 0 ? 1 : 0,
    }));
    return { learned: snips(learned), default: snips(def) };
  }

  /** The ranked top-N admissible graphs for a sub-tenant and context. */
  ranking(values: Readonly<Record<string, unknown>>, subTenant: string, topN: number) {
    const candidates = admissible(this.spec.variants, this.spec.policies, subTenant);
    const x = encodeContext(this.space, values);
    return {
      candidates,
      ranked: candidates.length === 0 ? [] : rank(this.model, subTenant, candidates, x, topN),
    };
  }

  persisted(): PersistedLearner {
    return { fingerprint: this.fingerprint, mode: this.mode, state: this.state, log: this.log };
  }
}
