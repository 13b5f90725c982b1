/**
 * Text of `faasflow shards NAME`: the routing table of each keyed function (ranges, replicas,
 * load per range, forecast vs actual, the re-sharding events), then the last plans of the
 * workflow's sharded foreach nodes.
 */
import type { HotSnapshot } from '../../master/shard/hot.js';
import type { KeyedSnapshot } from '../../master/shard/keyed.js';
import { HASH_SPACE } from '../../shared/shard/routing.js';
import type { ShardPlanEntry } from '../../shared/shard/plans.js';

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function shardsLines(answer: unknown): string[] {
  const a = answer as {
    workflow: string;
    plans: ShardPlanEntry[];
    keyed?: KeyedSnapshot[];
    hot?: HotSnapshot;
  };
  const out: string[] = [];
  for (const k of a.keyed ?? []) out.push(...keyedLines(k));
  if (a.hot) out.push(...hotLines(a.hot));
  if (a.plans.length === 0) {
    if ((a.keyed ?? []).length === 0)
      out.push(
        `${a.workflow}: no keyed function and no sharded foreach has run yet (or none asks for shard:)`,
      );
    return out;
  }
  out.push(`${a.workflow}: last ${a.plans.length} sharded foreach plan(s), newest first`);
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

/** One keyed function: its table with the last cycle's load, the recent cycles, the events. */
export function keyedLines(k: KeyedSnapshot): string[] {
  const last = k.history.at(-1);
  const loadOf = new Map(last?.ranges.map((r) => [r.id, r]) ?? []);
  const out = [
    `${k.workflow} ${k.fn}: key ${k.spec.key}, routing table v${k.table.version}, ${k.table.ranges.length} range(s)`,
    `  range  hash share  replicas                 load (last cycle)  forecast said`,
  ];
  for (const r of k.table.ranges) {
    const l = loadOf.get(r.id);
    out.push(
      `  ${String(r.id).padEnd(5)}  ${pct((r.end - r.start) / HASH_SPACE).padStart(10)}  ${r.replicas.join(',').padEnd(23)}  ${(l === undefined ? '—' : ms(l.load)).padStart(17)}  ${l?.forecast == null ? '—' : ms(l.forecast)}`,
    );
  }
  if (k.history.length > 0) {
    out.push(
      `  last ${k.history.length} cycle(s): busy ms routed, forecast vs actual; per worker load and utilisation`,
    );
    for (const c of k.history.slice(-10)) {
      const actual = c.ranges.reduce((s, r) => s + r.load, 0);
      const said = c.ranges.every((r) => r.forecast === null)
        ? null
        : c.ranges.reduce((s, r) => s + (r.forecast ?? 0), 0);
      const workers = c.workers
        .map(
          (w) => `${w.id} ${ms(w.load)}${w.utilization === null ? '' : ` ${pct(w.utilization)}`}`,
        )
        .join(', ');
      out.push(
        `    ${new Date(c.at).toISOString()} cycle ${c.cycle} v${c.version}: actual ${ms(actual)}, forecast ${said === null ? '—' : ms(said)}; ${workers}`,
      );
    }
  }
  if (k.events.length > 0) {
    out.push(`  events (newest last):`);
    for (const e of k.events.slice(-15))
      out.push(
        `    ${new Date(e.at).toISOString()} cycle ${e.cycle} v${e.version} ${e.kind}${e.range === undefined ? '' : ` range ${e.range}`}${e.other === undefined ? '' : ` (+${e.other})`}${e.from === undefined ? '' : ` from ${e.from}`}${e.to === undefined ? '' : ` to ${e.to}`}: ${e.reason}${e.movedShare > 0 ? `, ${pct(e.movedShare)} of keys moved` : ''}`,
      );
  }
  return out;
}

/** Hot workers now, and the flips and group moves (of this workflow) that were recorded. */
export function hotLines(h: HotSnapshot): string[] {
  const hot = h.workers.filter((w) => w.hot);
  if (hot.length === 0 && h.events.length === 0) return [];
  const out = [
    hot.length === 0
      ? 'hot workers: none now'
      : `hot workers: ${hot.map((w) => `${w.id} (${pct(w.utilization)})`).join(', ')} — no new groups, foreach shards or key ranges go there`,
  ];
  for (const e of h.events.slice(-15))
    out.push(
      `  ${new Date(e.at).toISOString()} ${e.kind} ${e.worker}${e.kind === 'move-group' ? `: group ${e.group} of v${e.version} to ${e.to}` : ''} — ${e.reason}`,
    );
  return out;
}
