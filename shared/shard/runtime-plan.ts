/**
 * The plan a worker makes at a sharded foreach node (docs/guides/sharding.md §sharded foreach),
 * from the placement view it holds: each eligible worker's free slots, the body's demand (from
 * the declarations), the score, and where the shards go. Pure; the engine acts on it.
 */
import type { ForeachNode, FunctionSpec } from '../dag/types.js';
import type { WorkerId } from '../ids.js';
import type { ViewWorker } from '../schema/wire.js';
import { declaredBodyDemand } from './demand.js';
import { placeShards, type ShardPlacement, type WorkerRoom } from './foreach-plan.js';
import { DEFAULT_COSTS, scoreShards, type ShardCosts, type ShardEstimate } from './score.js';

/** Free slots a worker offers a shard when it runs nothing: the default sandboxes per function. */
export const SLOTS_PER_WORKER = 8;

export interface ShardRuntimeInput {
  node: ForeachNode;
  functions: Readonly<Record<string, FunctionSpec>>;
  items: number;
  owner: string;
  /** The view's workers that hold the workflow version and are ready. */
  workers: readonly Pick<ViewWorker, 'id' | 'url' | 'load' | 'hot'>[];
  slotsPerWorker?: number;
  costs?: ShardCosts;
}

export interface PlannedShard extends ShardPlacement {
  /** The worker's base URL (the owner's: its own). */
  url: string;
}

export interface ShardRuntimePlan {
  estimate: ShardEstimate;
  /** Shard 0 on the owner first; one shard only: run unsharded. */
  shards: PlannedShard[];
}

export function planShardRun(i: ShardRuntimeInput): ShardRuntimePlan {
  const shard = i.node.shard;
  const per = i.slotsPerWorker ?? SLOTS_PER_WORKER;
  const room = (w: { load: number }): number => Math.max(0, per - w.load);
  const own = i.workers.find((w) => w.id === i.owner);
  const others = i.workers.filter((w) => w.id !== i.owner);
  const rooms: WorkerRoom[] = [
    { worker: i.owner as WorkerId, freeSlots: Math.max(1, own ? room(own) : per) },
    // A hot worker (shared/shard/hot.ts) offers no room: the score does not count it either.
    ...others.map((w) => ({ worker: w.id as WorkerId, freeSlots: w.hot === true ? 0 : room(w) })),
  ];
  const estimate = scoreShards(
    {
      items: i.items,
      demand: declaredBodyDemand(i.node.body, i.functions),
      concurrency: i.node.concurrency,
      // The score's owner first, then the others by room (as placeShards takes them).
      freeSlots: [rooms[0]!.freeSlots, ...rooms.slice(1).map((r) => r.freeSlots)],
      costs: i.costs ?? DEFAULT_COSTS,
      maxShards: shard?.maxShards ?? 1,
    },
    shard?.size ?? 1,
  );
  const urls = new Map(i.workers.map((w) => [w.id, w.url]));
  const placed = placeShards(estimate.shards, i.owner as WorkerId, rooms, i.node.concurrency);
  return {
    estimate,
    shards: placed.map((p) => ({ ...p, url: urls.get(p.worker) ?? '' })),
  };
}
