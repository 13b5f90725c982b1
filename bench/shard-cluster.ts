/**
 * The cluster part of `faasflow bench shard --cluster` (docs/guides/sharding.md §figures): a
 * local cluster (a master and three workers as processes, process sandboxes) runs a foreach of
 * 48 items of a sleep-bound ~50 ms function (concurrency 4) with `shard: { across: workers }`
 * against the same workflow without `shard:`, and a no-op foreach of 64 items both ways (the
 * score keeps it on one worker: the figure is what planning costs). Invocations alternate
 * sharded / unsharded after a warm-up; the figure is the ratio of the medians of the
 * client-side latency, and the foreach step's own time (its makespan) the same way.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../deploy/local-cluster.js';
import { HttpClient } from '../shared/http-client.js';
import { median } from './report.js';

export interface ShardClusterOptions {
  /** Measured invocations of each workflow. */
  runs: number;
  workers: number;
  print: (line: string) => void;
}

export interface ShardClusterRow {
  workload: string;
  items: number;
  unshardedMs: number;
  shardedMs: number;
  /** sharded / unsharded of the client-side medians. */
  ratio: number;
  /** The foreach step's own elapsed time, medians. */
  unshardedForeachMs: number;
  shardedForeachMs: number;
  foreachRatio: number;
  /** Measured runs whose foreach started a sandbox (cold), and the workers the foreach ran on. */
  coldUnsharded: number;
  coldSharded: number;
  ownersUnsharded: string[];
  ownersSharded: string[];
  /** Shards the plan chose, and items per shard, of the last sharded run. */
  shards: number;
  itemsPerShard: number[];
}

export interface ShardClusterFigures {
  workers: number;
  runs: number;
  rows: ShardClusterRow[];
}

const CALL_TIMEOUT_MS = 60_000;

function yaml(name: string, items: number, body: string, runtime: string, shard: boolean): string {
  return [
    `name: ${name}`,
    'functions:',
    '  item:',
    `    code: ${JSON.stringify(body)}`,
    `    runtime: ${runtime}`,
    'flow:',
    '  foreach:',
    "    items: '$.items'",
    `    width: ${items}`,
    '    concurrency: 4',
    '    do: { task: item }',
    ...(shard ? ['    shard: { across: workers }'] : []),
  ].join('\n');
}

const WORKLOADS = [
  {
    workload: 'sleep 50 ms',
    key: 'sleep',
    items: 48,
    body: 'export default async (x) => { await new Promise((r) => setTimeout(r, 50)); return x.i }',
    runtime: '50ms',
  },
  {
    workload: 'no-op',
    key: 'noop',
    items: 64,
    body: 'export default async (x) => x.i',
    runtime: '1ms',
  },
];

interface Step {
  kind: string;
  worker: string;
  cold: boolean;
  startedAt: number;
  finishedAt: number;
  shardPlan?: { planned: number; shards: { items: number }[] };
}

export async function runShardCluster(o: ShardClusterOptions): Promise<ShardClusterFigures> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-shard-'));
  const cluster = new LocalCluster({ workers: o.workers, logDir, runtime: 'process' });
  const http = new HttpClient({ connections: 4 });
  try {
    await cluster.start();
    const url = cluster.masterUrl;
    const call = (path: string, body?: unknown): Promise<unknown> =>
      http.json(`${url}${path}`, body === undefined ? 'GET' : 'POST', body, CALL_TIMEOUT_MS);
    for (const w of WORKLOADS)
      for (const shard of [false, true])
        await call('/v1/workflows', {
          yaml: yaml(
            `bench-shard-${w.key}-${shard ? 'on' : 'off'}`,
            w.items,
            w.body,
            w.runtime,
            shard,
          ),
          files: {},
        });
    const rows: ShardClusterRow[] = [];
    for (const w of WORKLOADS) {
      const input = { items: Array.from({ length: w.items }, (_, i) => ({ i })) };
      const one = async (shard: boolean): Promise<{ ms: number; id: string }> => {
        const t0 = process.hrtime.bigint();
        const r = (await call(
          `/v1/workflows/bench-shard-${w.key}-${shard ? 'on' : 'off'}/invocations`,
          {
            input,
          },
        )) as { status: string; invocationId: string };
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 'succeeded')
          throw new Error(`${w.key} ended ${r.status}: ${JSON.stringify(r)}`);
        return { ms, id: r.invocationId };
      };
      for (let i = 0; i < 3; i++) {
        await one(false);
        await one(true);
      }
      const runs = {
        off: [] as { ms: number; id: string }[],
        on: [] as { ms: number; id: string }[],
      };
      for (let i = 0; i < o.runs; i++) {
        runs.off.push(await one(false));
        runs.on.push(await one(true));
      }
      // The foreach steps arrive shortly after the answer.
      await new Promise((r) => setTimeout(r, 300));
      const foreachOf = async (id: string): Promise<Step | undefined> =>
        ((await call(`/v1/invocations/${id}`)) as { steps: Step[] }).steps.find(
          (s) => s.kind === 'foreach',
        );
      const feMs = async (list: { id: string }[]): Promise<number[]> =>
        (await Promise.all(list.map((r) => foreachOf(r.id)))).map((s) =>
          s ? s.finishedAt - s.startedAt : 0,
        );
      const offSteps = await Promise.all(runs.off.map((r) => foreachOf(r.id)));
      const onSteps = await Promise.all(runs.on.map((r) => foreachOf(r.id)));
      const offFe = await feMs(runs.off);
      const onFe = await feMs(runs.on);
      const owners = (l: (Step | undefined)[]): string[] =>
        [...new Set(l.map((x) => x?.worker ?? '?'))].sort();
      const last = await foreachOf(runs.on[runs.on.length - 1]!.id);
      const row: ShardClusterRow = {
        workload: w.workload,
        items: w.items,
        unshardedMs: median(runs.off.map((r) => r.ms)),
        shardedMs: median(runs.on.map((r) => r.ms)),
        ratio: 0,
        unshardedForeachMs: median(offFe),
        shardedForeachMs: median(onFe),
        foreachRatio: 0,
        coldUnsharded: offSteps.filter((x) => x?.cold === true).length,
        coldSharded: onSteps.filter((x) => x?.cold === true).length,
        ownersUnsharded: owners(offSteps),
        ownersSharded: owners(onSteps),
        shards: last?.shardPlan?.planned ?? 1,
        itemsPerShard: last?.shardPlan?.shards.map((s) => s.items) ?? [w.items],
      };
      row.ratio = row.shardedMs / row.unshardedMs;
      row.foreachRatio = row.shardedForeachMs / row.unshardedForeachMs;
      rows.push(row);
      o.print(`  ${w.workload}: done`);
    }
    return { workers: o.workers, runs: o.runs, rows };
  } catch (err) {
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  } finally {
    await http.close();
    await cluster.stop();
  }
}
