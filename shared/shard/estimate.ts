/**
 * The shardability estimate of a workflow as `faasflow validate` (and later the invocation's
 * timeline) shows it: for every foreach that asks for `shard:`, the score at its declared width
 * on `workers` workers of `slotsPerWorker` free slots; for every function with a `shard:` key,
 * the replicas `replicas: auto` would start with at `callsPerSecond`. Without measured runs
 * the figures come from the declared `runtime:` and `outputBytes:` (docs/guides/sharding.md).
 */
import type { ForeachNode, WorkflowDag } from '../dag/types.js';
import {
  declaredBodyDemand,
  declaredFunctionDemand,
  predictDemand,
  type Demand,
  type DemandSample,
} from './demand.js';
import {
  DEFAULT_COSTS,
  replicasFor,
  scoreShards,
  type ShardCosts,
  type ShardEstimate,
} from './score.js';

export interface ForeachEstimate {
  node: string;
  path: string;
  width: number;
  size: 'auto' | number;
  demand: Demand;
  estimate: ShardEstimate;
}

export interface KeyedEstimate {
  fn: string;
  key: string;
  replicas: 'auto' | number;
  /** What `auto` starts with at `callsPerSecond` (or the fixed count). */
  startReplicas: number;
  demand: Demand;
}

export interface WorkflowShardEstimate {
  foreach: ForeachEstimate[];
  keyed: KeyedEstimate[];
}

export interface EstimateOptions {
  workers: number;
  slotsPerWorker: number;
  costs?: ShardCosts;
  /** Measured per-item samples of a foreach node, by node id (oldest first). */
  samples?: Readonly<Record<string, readonly DemandSample[]>>;
  /** Calls per second a keyed function is expected to take, for `replicas: auto`. */
  callsPerSecond?: number;
}

export function estimateSharding(dag: WorkflowDag, o: EstimateOptions): WorkflowShardEstimate {
  const foreach: ForeachEstimate[] = [];
  const visit = (d: WorkflowDag): void => {
    for (const n of d.nodes) {
      if (n.kind !== 'foreach') continue;
      if (n.shard) foreach.push(foreachEstimate(n, dag, o));
      visit(n.body);
    }
  };
  visit(dag);
  const keyed: KeyedEstimate[] = [];
  for (const f of Object.values(dag.functions)) {
    if (!f.shard) continue;
    const demand = declaredFunctionDemand(f);
    const start =
      f.shard.replicas === 'auto'
        ? replicasFor(o.callsPerSecond ?? 0, demand, o.slotsPerWorker, f.shard.maxReplicas)
        : f.shard.replicas;
    keyed.push({
      fn: f.name,
      key: f.shard.key,
      replicas: f.shard.replicas,
      startReplicas: start,
      demand,
    });
  }
  return { foreach, keyed };
}

function foreachEstimate(n: ForeachNode, dag: WorkflowDag, o: EstimateOptions): ForeachEstimate {
  const shard = n.shard!;
  const demand = predictDemand(declaredBodyDemand(n.body, dag.functions), o.samples?.[n.id] ?? []);
  const estimate = scoreShards(
    {
      items: n.estimatedWidth,
      demand,
      concurrency: n.concurrency,
      freeSlots: Array.from({ length: Math.max(1, o.workers) }, () => o.slotsPerWorker),
      costs: o.costs ?? DEFAULT_COSTS,
      maxShards: shard.maxShards,
    },
    shard.size,
  );
  return { node: n.id, path: n.path, width: n.estimatedWidth, size: shard.size, demand, estimate };
}
