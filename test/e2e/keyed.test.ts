/**
 * Keyed sharding end to end (docs/guides/sharding.md §keyed sharding at run time): a master and
 * three workers as real processes. The master makes the keyed function's routing table when the
 * workflow is deployed and sends it with the placement view; every call runs on the replica the
 * table names for its key (the step says which); a hot spot of keys in one range makes the
 * control loop split or replicate that range onto other workers, and when the hot keys move to
 * another range, that one is re-sharded too — every change listed by GET /v1/workflows/:name/shards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { lookup, type RoutingTable } from '../../shared/shard/routing.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

const WORKFLOW = `name: e2e-keyed
functions:
  lookup:
    code: "export default async (x) => { await new Promise((r) => setTimeout(r, 40)); return { user: x.userId }; }"
    runtime: 40ms
    shard: { key: '$.userId', maxReplicas: 3 }
flow:
  task: lookup
`;

interface Step {
  node: string;
  worker: string;
  keyed?: { range: number; version: number; worker: string; fallback?: boolean };
}

interface Keyed {
  fn: string;
  table: RoutingTable;
  events: { kind: string; range?: number; version: number; reason: string }[];
  history: unknown[];
}

async function keyedOf(api: Api): Promise<Keyed> {
  const r = await api.request('GET', '/v1/workflows/e2e-keyed/shards');
  expect(r.status).toBe(200);
  return (r.body.keyed as Keyed[])[0]!;
}

/** Keys whose hash falls in range `id` of `table`. */
function keysIn(table: RoutingTable, id: number, n: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++)
    if (lookup(table, `${prefix}${i}`).id === id) out.push(`${prefix}${i}`);
  return out;
}

/** Open-loop calls of `keys` at `perSecond` for `ms`; resolves with their invocation ids. */
async function drive(api: Api, keys: string[], perSecond: number, ms: number): Promise<string[]> {
  const ids: Promise<string>[] = [];
  const end = Date.now() + ms;
  let i = 0;
  while (Date.now() < end) {
    const key = keys[i++ % keys.length]!;
    ids.push(
      api.invoke('e2e-keyed', { userId: key }).then((r) => {
        expect(r.status).toBe('succeeded');
        return r.invocationId as string;
      }),
    );
    await new Promise((r) => setTimeout(r, 1000 / perSecond));
  }
  return Promise.all(ids);
}

describe('keyed sharding on three workers', () => {
  const c: { cluster?: LocalCluster; api?: Api } = {};
  beforeAll(async () => {
    const started = await startCluster({
      workers: 3,
      runtime: 'process',
      workerFlags: () => ['--memory-mb=3072', '--cpu=2', '--heartbeat-ms=500'],
    });
    Object.assign(c, started);
    const dir = mkdtempSync(join(tmpdir(), 'ff-keyed-'));
    const file = join(dir, 'wf.yaml');
    writeFileSync(file, WORKFLOW);
    try {
      await started.api.deploy(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    await c.cluster?.stop();
  });

  it('routes every call to the replica its key names, and re-shards a moving hot spot', async () => {
    const api = c.api!;
    const first = await eventually(async () => {
      const k = await keyedOf(api);
      return k?.table.ranges.length === 48 ? k : null;
    }, 15_000);
    expect(new Set(first.table.ranges.flatMap((r) => r.replicas)).size).toBe(3);
    expect(first.events[0]).toMatchObject({ kind: 'create' });

    // Routing: each call ran where the table it was routed by says.
    const users = Array.from({ length: 24 }, (_, i) => `user-${i}`);
    const ids = await drive(api, users, 20, 1500);
    const seen = new Set<string>();
    for (const id of ids.slice(0, 24)) {
      const inv = (await api.invocation(id)) as { steps: Step[] };
      const step = inv.steps.find((s) => s.node === 'lookup')!;
      expect(step.keyed).toBeDefined();
      expect(step.keyed!.fallback).toBeUndefined();
      seen.add(step.keyed!.worker);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2);

    // A hot spot: many keys of one range, 40 calls/s of 40 ms — that range's worker carries
    // everything while the mean is a third of it.
    const hot = first.table.ranges[0]!.id;
    const hotKeys = keysIn(first.table, hot, 40, 'hot-a-');
    await drive(api, hotKeys, 40, 6000);
    const afterA = await eventually(async () => {
      const k = await keyedOf(api);
      return k.events.some((e) => ['split', 'replicate'].includes(e.kind) && e.range === hot)
        ? k
        : null;
    }, 10_000);
    expect(afterA.table.version).toBeGreaterThan(first.table.version);
    // The hot keys now run on more than one worker, each where the new table says.
    const spread = new Set<string>();
    for (const id of await drive(api, hotKeys, 20, 1000)) {
      const inv = (await api.invocation(id)) as { steps: Step[]; input?: unknown };
      const step = inv.steps.find((s) => s.node === 'lookup')!;
      if (step.keyed!.version >= afterA.table.version) spread.add(step.keyed!.worker);
    }
    expect(spread.size).toBeGreaterThanOrEqual(2);

    // The hot spot moves to a range on another worker: that range is re-sharded in turn.
    const base = await keyedOf(api);
    const hotRanges = new Set(hotKeys.map((k) => lookup(base.table, k).id));
    const hotWorkers = new Set(hotKeys.flatMap((k) => lookup(base.table, k).replicas));
    const candidates = base.table.ranges.filter((r) => !hotRanges.has(r.id));
    const other =
      candidates.find((r) => !r.replicas.some((w) => hotWorkers.has(w))) ?? candidates[0]!;
    const movedKeys = keysIn(base.table, other.id, 40, 'hot-b-');
    await drive(api, movedKeys, 40, 6000);
    const afterB = await eventually(async () => {
      const k = await keyedOf(api);
      return k.events.some(
        (e) =>
          e.version > base.table.version &&
          e.range === other.id &&
          ['split', 'replicate'].includes(e.kind),
      )
        ? k
        : null;
    }, 10_000);
    expect(afterB.table.version).toBeGreaterThan(base.table.version);
    // Each change moved at most the loop's share of keys.
    for (const e of afterB.events as { movedShare?: number }[])
      expect(e.movedShare ?? 0).toBeLessThanOrEqual(0.05 + 1e-9);
    expect(afterB.history.length).toBeGreaterThan(0);
  }, 90_000);
});
