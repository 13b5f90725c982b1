/** Text of `faasflow shards NAME`: the last plans of a workflow's sharded foreach nodes. */
import type { ShardPlanEntry } from '../../shared/shard/plans.js';

const ms = (x: number): string => `${x.toFixed(0)} ms`;

export function shardsLines(answer: unknown): string[] {
  const a = answer as { workflow: string; plans: ShardPlanEntry[] };
  if (a.plans.length === 0)
    return [`${a.workflow}: no sharded foreach has run yet (or none asks for shard:)`];
  const out = [`${a.workflow}: last ${a.plans.length} sharded foreach plan(s), newest first`];
  for (const p of a.plans) {
    out.push(
      `  ${new Date(p.startedAt).toISOString()} ${p.invocationId} v${p.version} ${p.node} on ${p.worker}: ${p.items} items, ${p.planned} shard(s) — ${p.reason}`,
    );
    out.push(
      `    estimate ${ms(p.predictedMs)} (${p.predictedSpeedup.toFixed(2)}×, ${p.demandSource}), actual ${ms(p.actualMs)}`,
    );
    for (const s of p.shards)
      out.push(
        `    shard ${s.shard} on ${s.worker}: ${s.items} items in ${s.batches} batch(es)${s.lost === true ? `, lost${s.error === undefined ? '' : ` (${s.error})`}` : ''}`,
      );
  }
  return out;
}
