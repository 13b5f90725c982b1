/**
 * The last sharded-foreach plans of a workflow (`GET /v1/workflows/:name/shards`, `faasflow
 * shards NAME`): from the invocation records' foreach steps, newest first — shards planned,
 * items per shard and worker, a lost shard, and the estimate against the actual time. Pure.
 */
import type { ShardPlanRecord, StepRecord } from '../schema/wire.js';

export interface ShardPlanEntry extends ShardPlanRecord {
  invocationId: string;
  version: number;
  node: string;
  worker: string;
  /** Epoch ms the foreach started. */
  startedAt: number;
}

export function lastShardPlans(
  records: readonly { id: string; version: number; steps: readonly StepRecord[] }[],
  limit: number,
): ShardPlanEntry[] {
  const out: ShardPlanEntry[] = [];
  for (let i = records.length - 1; i >= 0 && out.length < limit; i--) {
    const r = records[i]!;
    for (const s of r.steps) {
      if (s.shardPlan === undefined || out.length >= limit) continue;
      out.push({
        invocationId: r.id,
        version: r.version,
        node: s.node,
        worker: s.worker,
        startedAt: s.startedAt,
        ...s.shardPlan,
      });
    }
  }
  return out;
}
