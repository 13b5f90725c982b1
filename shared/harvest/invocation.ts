/**
 * One invocation's harvest decision, as the master stores it and sends it to the workers: for
 * every task node outside foreach bodies, the user's allocation, the models' raw demand and its
 * normalised allocation, what the node is applied, and why when that is not the prediction.
 * Pure: the model set, the stage plan and the smallest worker in, the decision out.
 *
 * - `harvest` mode: ML1 → ML2 → normaliser → stage validator (`models.ts`, `decide.ts`). Without
 *   a model set every node of a parallel stage falls back with `no-model`; lone nodes keep
 *   theirs with `not-parallel`, as they would with one.
 * - `profiling` mode (the thesis's max-allocation runs that build the training set): every node
 *   is applied the maximum allocation, reason `profiling`.
 * - `given` mode: the caller states the demand of the nodes (`demand` in the invocation request,
 *   e.g. measured by an earlier run of the same input — the benchmark's oracle); it goes through
 *   the same normaliser and stage validator as a prediction would, so a stage still never gets
 *   more than its users' total. Nodes without a stated demand keep their user's allocation.
 * Both cap at the smallest worker that could run the invocation, so a decision is always
 * something a worker can give.
 *
 * Foreach body nodes get no entry (their width is known only at run time): they run with the
 * user's allocation.
 */
import type { FunctionSpec, WorkflowDag } from '../dag/types.js';
import { ALLOCATION_GRID, type AllocationGrid, type Resource } from './types.js';
import type { Allocation } from '../schema/wire.js';
import type { NodeAllocation } from '../schema/wire.js';
import { decideInvocation, type CpuPolicy, type DemandInput } from './decide.js';
import { fromMilli, milliAtMost, milliAxis, toMilli } from './grid.js';
import type { ModelSet } from './model-set.js';
import { predictInvocation } from './predict.js';
import type { StagePlan } from './stages.js';

export type { HarvestMode, InvocationHarvest, NodeDecision } from './types.js';
import type { InvocationHarvest, NodeDecision } from './types.js';

/** The largest grid allocation every one of `capacities` can give; the grid max without any. */
export function maxAllocation(
  capacities: readonly { cpu: number; memoryMb: number }[],
  grid: AllocationGrid = ALLOCATION_GRID,
): Allocation {
  const floor = (value: number, r: Resource): number =>
    fromMilli(milliAtMost(toMilli(value), milliAxis(grid[r])));
  if (capacities.length === 0) return { cpu: grid.cpu.max, memoryMb: grid.memoryMb.max };
  return {
    cpu: floor(Math.min(...capacities.map((c) => c.cpu)), 'cpu'),
    memoryMb: floor(Math.min(...capacities.map((c) => c.memoryMb)), 'memoryMb'),
  };
}

export interface DecisionInput {
  workflow: string;
  dag: WorkflowDag;
  plan: StagePlan;
  dagInputBytes: number;
  max: Allocation;
}

/** Harvest mode: predictions (or `no-model` with `why`) through the normaliser and validator. */
export function harvestDecision(
  input: DecisionInput,
  models: { set: ModelSet } | { set: null; why: string },
  grid: AllocationGrid = ALLOCATION_GRID,
  cpuPolicy: CpuPolicy = 'work',
): InvocationHarvest {
  const predictions: Record<string, DemandInput> = {};
  const demands = new Map<string, NonNullable<NodeDecision['demand']>>();
  if (models.set === null) {
    for (const stage of input.plan.stages) {
      if (stage.width < 2 || stage.foreach) continue;
      for (const m of stage.members)
        predictions[m.node] = { kind: 'no-model', message: models.why };
    }
  } else {
    const raw = predictInvocation(models.set, input.workflow, input.plan, input.dagInputBytes);
    for (const [node, p] of Object.entries(raw)) {
      if (p.kind === 'ok') {
        predictions[node] = {
          kind: 'ok',
          cpuCores: p.cpuCores,
          memoryMb: p.memoryMb,
          ...(p.cpuTimeMs === undefined ? {} : { cpuTimeMs: p.cpuTimeMs }),
        };
        demands.set(node, { inputBytes: p.inputBytes, cpuCores: p.cpuCores, memoryMb: p.memoryMb });
      } else predictions[node] = { kind: 'no-model', message: p.message };
    }
  }
  return decided(input, predictions, demands, grid, cpuPolicy, {
    mode: 'harvest',
    modelVersion: models.set?.version ?? null,
  });
}

/** A node's demand as a caller states it (`demand` of an invocation request). */
export interface GivenDemand {
  cpuCores: number;
  memoryMb: number;
  /** The run's CPU time (its work): the `work` policy shares a stage's CPU by it. */
  cpuTimeMs?: number;
}

/** Given mode: the caller's demand per node instead of the models' predictions. */
export function givenDecision(
  input: DecisionInput,
  demand: Readonly<Record<string, GivenDemand>>,
  grid: AllocationGrid = ALLOCATION_GRID,
  cpuPolicy: CpuPolicy = 'work',
): InvocationHarvest {
  const predictions: Record<string, DemandInput> = {};
  const demands = new Map<string, NonNullable<NodeDecision['demand']>>();
  for (const [node, d] of Object.entries(demand)) {
    predictions[node] = {
      kind: 'ok',
      cpuCores: d.cpuCores,
      memoryMb: d.memoryMb,
      ...(d.cpuTimeMs === undefined ? {} : { cpuTimeMs: d.cpuTimeMs }),
    };
    demands.set(node, { cpuCores: d.cpuCores, memoryMb: d.memoryMb });
  }
  return decided(input, predictions, demands, grid, cpuPolicy, {
    mode: 'given',
    modelVersion: null,
  });
}

function decided(
  input: DecisionInput,
  predictions: Record<string, DemandInput>,
  demands: ReadonlyMap<string, NonNullable<NodeDecision['demand']>>,
  grid: AllocationGrid,
  cpuPolicy: CpuPolicy,
  head: Pick<InvocationHarvest, 'mode' | 'modelVersion'>,
): InvocationHarvest {
  const maxByFunction: Record<string, Allocation> = {};
  for (const fn of Object.keys(input.dag.functions)) maxByFunction[fn] = input.max;
  const decided = decideInvocation(
    { plan: input.plan, functions: input.dag.functions, predictions, maxByFunction },
    { grid, cpuPolicy },
  );
  return {
    ...head,
    dagInputBytes: input.dagInputBytes,
    max: input.max,
    nodes: decided.map((d) => ({
      node: d.node,
      fn: d.fn,
      stage: d.stage,
      user: d.user,
      demand: d.predicted === null ? null : (demands.get(d.node) ?? null),
      predicted: d.predicted,
      applied: d.applied,
      ...(d.reason ? { reason: d.reason } : {}),
      ...(d.workCpuMs === undefined ? {} : { workCpuMs: d.workCpuMs }),
    })),
  };
}

/**
 * Profiling mode: every task node outside foreach bodies at `max`. With `serial` (default) the
 * siblings of a parallel stage run one at a time on their worker, so each profile measures the
 * function alone — run concurrently, siblings share the cores and the models would learn their
 * contention as demand.
 */
export function profilingDecision(input: DecisionInput, serial = true): InvocationHarvest {
  const max = input.max;
  const message = `profiling run at the maximum allocation (${max.cpu} cores, ${max.memoryMb} MB)`;
  const nodes: NodeDecision[] = [];
  for (const stage of input.plan.stages) {
    if (stage.foreach) continue;
    for (const m of stage.members) {
      const spec: Pick<FunctionSpec, 'cpu' | 'memoryMb'> | undefined = input.dag.functions[m.fn];
      nodes.push({
        node: m.node,
        fn: m.fn,
        stage: stage.id,
        user: { cpu: spec?.cpu ?? max.cpu, memoryMb: spec?.memoryMb ?? max.memoryMb },
        demand: null,
        predicted: null,
        applied: { ...max },
        reason: { code: 'profiling', message, resources: ['cpu', 'memoryMb'] },
        ...(serial && stage.width > 1 ? { serial: true } : {}),
      });
    }
  }
  return { mode: 'profiling', modelVersion: null, dagInputBytes: input.dagInputBytes, max, nodes };
}

/** What travels in `InvocationContext.harvest`: per node, the contract's fields only. */
export function wireHarvest(h: InvocationHarvest): Record<string, NodeAllocation> {
  const out: Record<string, NodeAllocation> = {};
  for (const n of h.nodes) {
    out[n.node] = {
      stage: n.stage,
      user: { ...n.user },
      predicted: n.predicted ? { ...n.predicted } : null,
      applied: { ...n.applied },
      ...(n.reason ? { reason: n.reason.code } : {}),
      ...(n.workCpuMs === undefined ? {} : { workCpuMs: n.workCpuMs }),
      ...(n.serial === true ? { serial: true } : {}),
    };
  }
  return out;
}

/** The decision as an invocation's record keeps it: tagged with its sub-tenant, if any. */
export function recordedHarvest(
  decision: InvocationHarvest,
  subTenant: string | undefined,
): InvocationHarvest {
  return subTenant === undefined ? decision : { ...decision, subTenant };
}
