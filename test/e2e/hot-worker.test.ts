/**
 * A worker that runs hot, end to end (docs/guides/sharding.md §hot workers): a master and three
 * workers as real processes, each offering half a core. A CPU hog — a thread a function of
 * another workflow leaves burning 0.7 of a core in its sandbox after it returned, a noisy
 * neighbour the master counts as no load at all — makes one worker's measured utilisation (its
 * process tree's CPU over its cores) stay far above 90 %. The master marks it hot and pushes
 * the view; then
 * - the keyed function's re-sharding loop moves key ranges off it (`move` or `split` events from
 *   it, "utilisation …"), while calls keep succeeding;
 * - a group whose warm home it is is placed on a cool worker (`move-group`);
 * - a sharded foreach that spread over all three workers before now leaves it out;
 * and once the hog ends, the worker cools.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

const KEYED = `name: e2e-hot-keyed
functions:
  lookup:
    code: "export default async (x) => { await new Promise((r) => setTimeout(r, 20)); return { user: x.userId }; }"
    runtime: 20ms
    shard: { key: '$.userId', maxReplicas: 2 }
flow:
  task: lookup
`;

// A noisy neighbour: with burnMs, leaves a thread burning CPU in its sandbox for that long and
// returns at once — the worker then runs nothing the master counts as load, yet its CPU is taken.
const WORK = `name: e2e-hot-work
functions:
  work:
    code: |
      import { Worker } from 'node:worker_threads';
      export default async (x) => {
        if (!x.burnMs) return { ok: true };
        // Busy 14 ms of every 20: 0.7 of a core, 140 % of the half core the worker offers.
        const burn = 'const end = Date.now() + ' + Number(x.burnMs) + '; const s = new Int32Array(new SharedArrayBuffer(4));' +
          ' while (Date.now() < end) { const t = Date.now() + 14; while (Date.now() < t); Atomics.wait(s, 0, 0, 6); }';
        new Worker(burn, { eval: true }).unref();
        return { burning: x.burnMs };
      };
flow:
  task: work
`;

const FAN = `name: e2e-hot-fan
functions:
  nap:
    code: "export default async (x) => { await new Promise((r) => setTimeout(r, 30)); return x * 2; }"
    runtime: 30ms
flow:
  foreach:
    items: '$.items'
    concurrency: 4
    do: { task: nap }
    shard: { size: 3, maxShards: 3 }
`;

interface Step {
  node: string;
  worker: string;
}

interface Event {
  kind: string;
  /** Hot-worker events: the worker that flipped, or the group's hot home. */
  worker?: string;
  workflow?: string;
  group?: number;
  from?: string;
  to?: string;
  reason: string;
}

async function workersOf(api: Api): Promise<{ id: string; hot: boolean }[]> {
  const r = await api.request('GET', '/v1/workers');
  expect(r.status).toBe(200);
  return r.body.workers as { id: string; hot: boolean }[];
}

async function shards(api: Api, name: string): Promise<any> {
  const r = await api.request('GET', `/v1/workflows/${name}/shards`);
  expect(r.status).toBe(200);
  return r.body;
}

async function stepWorkers(api: Api, id: string): Promise<string[]> {
  const inv = (await api.invocation(id)) as { status: string; steps: Step[] };
  expect(inv.status).toBe('succeeded');
  return inv.steps.map((s) => s.worker);
}

describe('a worker that runs hot', () => {
  const c: { cluster?: LocalCluster; api?: Api; driving?: boolean } = {};
  beforeAll(async () => {
    const started = await startCluster({
      workers: 3,
      runtime: 'process',
      workerFlags: () => ['--memory-mb=3072', '--cpu=0.5', '--heartbeat-ms=500'],
    });
    Object.assign(c, started);
    const dir = mkdtempSync(join(tmpdir(), 'ff-hot-'));
    try {
      for (const [name, yaml] of Object.entries({ KEYED, WORK, FAN })) {
        const file = join(dir, `${name}.yaml`);
        writeFileSync(file, yaml);
        await started.api.deploy(file);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => {
    c.driving = false;
    await c.cluster?.stop();
  });

  it('moves key ranges, groups and foreach shards off it, and lets it cool', async () => {
    const api = c.api!;
    await eventually(async () => {
      const k = (await shards(api, 'e2e-hot-keyed')).keyed[0];
      return k?.table.ranges.length === 48;
    }, 15_000);
    const items = Array.from({ length: 24 }, (_, i) => i);

    // Before: the fan-out spreads over all three workers; the work group has a warm home.
    const before = await api.invoke('e2e-hot-fan', { items });
    expect(before.status).toBe('succeeded');
    expect(new Set(await stepWorkers(api, before.invocationId)).size).toBe(3);
    const first = await api.invoke('e2e-hot-work', {});
    expect(first.status).toBe('succeeded');
    expect(await stepWorkers(api, first.invocationId)).toHaveLength(1);

    // Keyed calls all along, so every worker's ranges carry load.
    c.driving = true;
    const calls: Promise<string>[] = [];
    const driver = (async () => {
      for (let i = 0; c.driving; i++) {
        calls.push(
          api.invoke('e2e-hot-keyed', { userId: `user-${i % 200}` }).then(
            (r) => r.status as string,
            (err: unknown) => String(err),
          ),
        );
        await new Promise((r) => setTimeout(r, 120));
      }
    })();

    // Starting sandboxes on half a core is itself hot for a moment: wait until all is calm.
    await eventually(async () => !(await workersOf(api)).some((w) => w.hot), 20_000, 200);

    // The hog, in the work group: where it ran is the group's warm home now.
    const hog = await api.invoke('e2e-hot-work', { burnMs: 15_000 });
    expect(hog.status).toBe('succeeded');
    const [hot] = await stepWorkers(api, hog.invocationId);
    await eventually(
      async () => (await workersOf(api)).find((w) => w.id === hot)?.hot,
      10_000,
      100,
    );
    expect((await workersOf(api)).filter((w) => w.hot).map((w) => w.id)).toContain(hot);

    // A group whose warm home is hot goes elsewhere, and says so.
    const moved = await api.invoke('e2e-hot-work', {});
    expect(moved.status).toBe('succeeded');
    expect(await stepWorkers(api, moved.invocationId)).not.toContain(hot);
    const hotEvents = (await shards(api, 'e2e-hot-work')).hot.events as Event[];
    expect(hotEvents.map((e) => e.kind)).toEqual(expect.arrayContaining(['hot', 'move-group']));
    const groupMove = hotEvents.find((e) => e.kind === 'move-group')!;
    expect(groupMove).toMatchObject({ worker: hot, workflow: 'e2e-hot-work', group: 0 });
    expect(groupMove.to).not.toBe(hot);

    // The sharded foreach leaves it out.
    const during = await api.invoke('e2e-hot-fan', { items });
    expect(during.status).toBe('succeeded');
    const fanWorkers = await stepWorkers(api, during.invocationId);
    expect(fanWorkers).not.toContain(hot);
    const plan = (await shards(api, 'e2e-hot-fan')).plans[0] as { shards: { worker: string }[] };
    expect(plan.shards.length).toBeGreaterThanOrEqual(1);
    expect(plan.shards.map((x) => x.worker)).not.toContain(hot);
    expect(during.output).toEqual(before.output);

    // The keyed loop moves key ranges off it.
    const off = await eventually(
      async () => {
        const k = (await shards(api, 'e2e-hot-keyed')).keyed[0];
        return (k.events as Event[]).find(
          (e) => (e.kind === 'move' || e.kind === 'split') && e.from === hot,
        );
      },
      15_000,
      250,
    );
    expect(off.reason).toMatch(/utilisation \d+% over 90%/);
    expect(off.to).not.toBe(hot);

    // The burn ends; the worker cools.
    await eventually(async () => !(await workersOf(api)).some((w) => w.hot), 25_000, 200);
    c.driving = false;
    await driver;
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['succeeded']));
    const events = (await shards(api, 'e2e-hot-keyed')).hot.events as Event[];
    expect(events.filter((e) => e.kind === 'cool').length).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
