/**
 * The sharded foreach end to end (docs/guides/sharding.md §sharded foreach): a master and three
 * workers as real processes (process sandboxes). A foreach of 48 items with `shard: { across:
 * workers }` gives the same output as the same workflow without `shard:`, its items run on all
 * three workers, and its step carries the plan and what each shard ran. Then a remote shard's
 * worker kills itself (`worker:shard-run` crash point) on its second batch: its batch goes back
 * to the owner's queue and the invocation still returns every item.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

const ITEMS = 48;

function workflow(name: string, shard: string): string {
  return `name: ${name}
functions:
  square:
    code: "export default async (x) => { await new Promise((r) => setTimeout(r, 50)); return { i: x.i, sq: x.i * x.i, tag: x.tag }; }"
    runtime: 50ms
  total:
    code: "export default async (xs) => ({ n: xs.length, sum: xs.reduce((a, x) => a + x.sq, 0), all: xs })"
flow:
  sequence:
    - foreach:
        items: '$.items'
        width: ${ITEMS}
        concurrency: 4
        do: { task: square }
        ${shard}
    - task: total
`;
}

async function deploy(api: Api, name: string, shard: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ff-shard-'));
  const file = join(dir, 'wf.yaml');
  writeFileSync(file, workflow(name, shard));
  try {
    await api.deploy(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const input = { items: Array.from({ length: ITEMS }, (_, i) => ({ i, tag: `t${i}` })) };
const expected = {
  n: ITEMS,
  sum: Array.from({ length: ITEMS }, (_, i) => i * i).reduce((a, b) => a + b, 0),
  all: input.items.map((x) => ({ i: x.i, sq: x.i * x.i, tag: x.tag })),
};

interface Step {
  node: string;
  kind: string;
  worker: string;
  status: string;
  shard?: number;
  shardPlan?: {
    planned: number;
    items: number;
    shards: { shard: number; worker: string; items: number; batches: number; lost?: boolean }[];
  };
}

/** The invocation once all its steps arrived: the foreach's and one per item. */
async function stepsOf(api: Api, id: string): Promise<Step[]> {
  return eventually(async () => {
    const inv = (await api.invocation(id)) as { steps: Step[] };
    const items = inv.steps.filter((s) => s.node.endsWith('/square') && s.status === 'succeeded');
    const fe = inv.steps.find((s) => s.kind === 'foreach');
    return fe !== undefined && items.length >= ITEMS ? inv.steps : null;
  }, 15_000);
}

/** Three workers with both workflows deployed; `env` per process (`worker-<i>`). */
function threeWorkers(env: (name: string) => Record<string, string> = () => ({})): {
  c: { cluster?: LocalCluster; api?: Api };
} {
  const c: { cluster?: LocalCluster; api?: Api } = {};
  beforeAll(async () => {
    const started = await startCluster({
      workers: 3,
      runtime: 'process',
      workerFlags: () => ['--memory-mb=3072', '--cpu=2'],
      processEnv: env,
    });
    Object.assign(c, started);
    await deploy(started.api, 'e2e-plain', '');
    await deploy(started.api, 'e2e-sharded', 'shard: { across: workers }');
  });
  afterAll(async () => {
    await c.cluster?.stop();
  });
  return { c };
}

describe('sharded foreach on three workers', () => {
  const { c } = threeWorkers();

  it('gives the unsharded result, with items run on all three workers', async () => {
    const api = c.api!;
    const plain = await api.invoke('e2e-plain', input);
    expect(plain).toMatchObject({ status: 'succeeded', output: expected });
    const sharded = await api.invoke('e2e-sharded', input);
    expect(sharded).toMatchObject({ status: 'succeeded', output: expected });

    const steps = await stepsOf(api, sharded.invocationId as string);
    const items = steps.filter((s) => s.node.endsWith('/square'));
    expect(items).toHaveLength(ITEMS);
    expect(new Set(items.map((s) => s.worker)).size).toBe(3);
    expect(new Set(items.map((s) => s.node))).toEqual(
      new Set(Array.from({ length: ITEMS }, (_, i) => `foreach[${i}]/square`)),
    );
    const fe = steps.find((s) => s.kind === 'foreach')!;
    expect(fe.shardPlan).toMatchObject({ planned: 3, items: ITEMS });
    const plan = fe.shardPlan!;
    expect(plan.shards.reduce((n, s) => n + s.items, 0)).toBe(ITEMS);
    expect(new Set(plan.shards.map((s) => s.worker)).size).toBe(3);
    // Every item step names the shard whose worker ran it.
    for (const s of items)
      expect(plan.shards.find((p) => p.shard === (s.shard ?? 0))?.worker).toBe(s.worker);

    // GET /v1/workflows/:name/shards lists the plan, newest first.
    const listed = await api.request('GET', '/v1/workflows/e2e-sharded/shards');
    expect(listed.status).toBe(200);
    expect(listed.body.plans[0]).toMatchObject({
      invocationId: sharded.invocationId,
      node: 'foreach',
      planned: 3,
      items: ITEMS,
    });

    // The unsharded run: no plan, every item on one worker.
    const plainSteps = await stepsOf(api, plain.invocationId as string);
    expect(plainSteps.find((s) => s.kind === 'foreach')!.shardPlan).toBeUndefined();
    expect(
      new Set(plainSteps.filter((s) => s.node.endsWith('/square')).map((s) => s.worker)).size,
    ).toBe(1);
  });
});

describe('sharded foreach losing a remote shard', () => {
  // The third worker kills itself on the second shard batch it is handed.
  const { c } = threeWorkers((name): Record<string, string> =>
    name === 'worker-3' ? { FAASFLOW_CRASH_AT: 'worker:shard-run:2' } : {},
  );

  it('loses no item when a remote shard dies mid-foreach', async () => {
    const api = c.api!;
    const cluster = c.cluster!;
    // worker-3 dies on its second batch as a remote shard; while it owns the foreach itself
    // (it gets no shard batch then) the run is just another sharded run.
    let lostIn: Step | undefined;
    for (let run = 0; run < 6 && !cluster.exited('worker-3'); run++) {
      const r = await api.invoke('e2e-sharded', { ...input });
      expect(r).toMatchObject({ status: 'succeeded', output: expected });
      const fe = (await stepsOf(api, r.invocationId as string)).find((s) => s.kind === 'foreach')!;
      if (fe.shardPlan?.shards.some((s) => s.lost === true)) lostIn = fe;
    }
    expect(cluster.exited('worker-3')).toBe(true);
    expect(lostIn).toBeDefined();
    const plan = lostIn!.shardPlan!;
    expect(plan.shards.reduce((n, s) => n + s.items, 0)).toBe(ITEMS);
    expect(plan.shards.find((s) => s.lost === true)).toBeDefined();
  });
});
