/**
 * Harvesting on the worker ingress (docs/harvesting.md, "On an ingress worker"): an invocation
 * taken here gets the same decision the master would make — the same pure core
 * (`shared/harvest/`), the master's model set of the workflow, its grid and CPU policy — so
 * taking invocations on workers does not switch harvesting off.
 *
 * The master lists the version of every model set it holds in the placement view. The worker
 * fetches a set it lacks (or holds an older version of) from `GET /v1/internal/models/:workflow`,
 * in the background, one fetch per workflow at a time; until it arrives, invocations decide
 * `no-model` ("still loading on this worker"), as the master does while it loads a set. A set no
 * longer listed is dropped. A failed fetch is retried on the next view.
 */
import { AppError } from '../../shared/errors.js';
import {
  harvestDecision,
  maxAllocation,
  wireHarvest,
  type InvocationHarvest,
} from '../../shared/harvest/invocation.js';
import { loadModelSet, type ModelSet } from '../../shared/harvest/model-set.js';
import { findStages, type StagePlan } from '../../shared/harvest/stages.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import type { Logger } from '../../shared/logger.js';
import type { NodeAllocation, PlacementView } from '../../shared/schema/wire.js';

/** Reads a model set from the master: the JSON body of GET /v1/internal/models/:workflow. */
export type FetchModelSet = (master: string, workflow: string) => Promise<unknown>;

export class IngressModels {
  private readonly sets = new Map<string, ModelSet>();
  private readonly fetching = new Map<string, number>();
  private readonly failed = new Map<string, string>();

  constructor(
    private readonly fetchSet: FetchModelSet,
    private readonly logger: Logger,
  ) {}

  /** Takes a new view: fetches what it lists that is missing here, drops what it no longer lists. */
  onView(view: PlacementView): void {
    const listed = view.harvest ? (view.models ?? {}) : {};
    for (const workflow of [...this.sets.keys()])
      if (listed[workflow] === undefined) this.sets.delete(workflow);
    for (const [workflow, version] of Object.entries(listed)) {
      if (this.sets.get(workflow)?.version === version) continue;
      if (this.fetching.get(workflow) === version) continue;
      this.fetching.set(workflow, version);
      void this.fetch(view.master, workflow, version);
    }
  }

  private async fetch(master: string, workflow: string, version: number): Promise<void> {
    try {
      const set = loadModelSet(await this.fetchSet(master, workflow));
      const held = this.sets.get(workflow);
      if (held === undefined || held.version < set.version) this.sets.set(workflow, set);
      this.failed.delete(workflow);
      this.logger.info(
        { workflow, version: set.version },
        'harvest models fetched from the master',
      );
    } catch (err) {
      const message = AppError.from(err).message;
      this.failed.set(workflow, message);
      this.logger.warn({ err, workflow, version }, 'harvest models could not be fetched');
    } finally {
      if (this.fetching.get(workflow) === version) this.fetching.delete(workflow);
    }
  }

  /** The set to decide with, or why there is none here. */
  get(workflow: string, view: PlacementView): { set: ModelSet } | { set: null; why: string } {
    const set = this.sets.get(workflow);
    if (set !== undefined) return { set };
    if (view.models?.[workflow] === undefined)
      return {
        set: null,
        why: `no model set for ${workflow} yet: profile it (faasflow profile ${workflow} …) and train (faasflow models ${workflow} --train)`,
      };
    const failed = this.failed.get(workflow);
    return {
      set: null,
      why:
        failed === undefined
          ? `the model set of ${workflow} is still loading on this worker`
          : `the model set of ${workflow} could not be fetched from the master: ${failed}`,
    };
  }

  /** Versions held here, by workflow (diagnostics and tests). */
  versions(): Record<string, number> {
    return Object.fromEntries([...this.sets].map(([w, s]) => [w, s.version]));
  }
}

/** Stage plans by deployment key (`<workflow>@<version>`): a DAG's plan never changes. */
export class StagePlans {
  private readonly plans = new Map<string, StagePlan>();

  of(key: string, dag: WorkflowDag): StagePlan {
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = findStages(dag);
      this.plans.set(key, plan);
      if (this.plans.size > 1_000) this.plans.delete(this.plans.keys().next().value!);
    }
    return plan;
  }
}

export interface IngressDecisionInput {
  workflow: string;
  dag: WorkflowDag;
  plan: StagePlan;
  /** Encoded size of the invocation's input (the models' only feature at start). */
  dagInputBytes: number;
  /** Capacities of the workers the invocation's groups were placed on. */
  capacities: readonly { cpu: number; memoryMb: number }[];
  view: PlacementView;
  models: { set: ModelSet } | { set: null; why: string };
}

/**
 * The decision, as `Harvester.decide` makes it on the master for an invocation without
 * `profile` or `demand`; a prediction that throws falls back to `no-model`, since a decision must
 * never fail an invocation.
 */
export function ingressDecision(i: IngressDecisionInput): {
  decision: InvocationHarvest;
  ctx: Record<string, NodeAllocation>;
} {
  const policy = i.view.harvestPolicy;
  const grid = policy?.grid;
  const input = {
    workflow: i.workflow,
    dag: i.dag,
    plan: i.plan,
    dagInputBytes: i.dagInputBytes,
    max: maxAllocation(i.capacities, grid),
  };
  let decision: InvocationHarvest;
  try {
    decision = harvestDecision(input, i.models, grid, policy?.cpuPolicy);
  } catch (err) {
    const why = `prediction failed: ${AppError.from(err).message}`;
    decision = harvestDecision(input, { set: null, why }, grid, policy?.cpuPolicy);
  }
  return { decision, ctx: wireHarvest(decision) };
}
