import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../../master/workflow/index.js';
import type { ForeachNode, FunctionSpec } from '../../../shared/dag/types.js';
import type { StepRecord } from '../../../shared/schema/wire.js';
import { lastShardPlans } from '../../../shared/shard/plans.js';
import { planShardRun } from '../../../shared/shard/runtime-plan.js';
import { shardsLines } from '../../../deploy/cli/shards-format.js';

function workflow(
  size: 'auto' | number,
  runtime: string,
): { node: ForeachNode; functions: Record<string, FunctionSpec> } {
  const r = loadWorkflow(
    `name: s\nfunctions:\n  f: { code: 'export default async (x) => x', runtime: ${runtime} }\nflow:\n  foreach:\n    items: '$'\n    concurrency: 4\n    do: { task: f }\n    shard: { size: ${size} }`,
  );
  expect(r.issues).toEqual([]);
  const node = r.dag!.nodes.find((n) => n.kind === 'foreach') as ForeachNode;
  return { node, functions: r.dag!.functions };
}

const workers = [
  { id: 'w1', url: 'http://127.0.0.1:1', load: 0 },
  { id: 'w2', url: 'http://127.0.0.1:2', load: 1 },
  { id: 'w3', url: 'http://127.0.0.1:3', load: 8 },
];

describe('planShardRun', () => {
  it('keeps shard 0 on the owner and places the others on workers with room', () => {
    const p = planShardRun({
      ...workflow('auto', '50ms'),
      items: 48,
      owner: 'w2',
      workers,
    });
    // w3 has no free slot (load 8 of 8): two shards, the owner's and w1's.
    expect(p.shards.map((s) => [s.shard, s.worker, s.url])).toEqual([
      [0, 'w2', 'http://127.0.0.1:2'],
      [1, 'w1', 'http://127.0.0.1:1'],
    ]);
    expect(p.estimate.pays).toBe(true);
  });

  it('runs a no-op foreach on one worker, and a fixed size as asked', () => {
    const noop = planShardRun({
      ...workflow('auto', '1ms'),
      items: 64,
      owner: 'w1',
      workers,
    });
    expect(noop.shards).toHaveLength(1);
    expect(noop.estimate.reason).toMatch(/below 1.2×/);
    const fixed = planShardRun({
      ...workflow(2, '1ms'),
      items: 64,
      owner: 'w1',
      workers,
    });
    expect(fixed.shards.map((s) => s.worker)).toEqual(['w1', 'w2']);
  });

  it('has nothing to shard over without other workers', () => {
    const p = planShardRun({
      ...workflow('auto', '50ms'),
      items: 48,
      owner: 'w1',
      workers: [],
    });
    expect(p.shards.map((s) => s.worker)).toEqual(['w1']);
  });
});

describe('lastShardPlans', () => {
  const plan = {
    items: 4,
    planned: 2,
    predictedMs: 10,
    predictedSpeedup: 1.8,
    demandSource: 'declared',
    reason: '2 shards',
    actualMs: 12,
    shards: [
      { shard: 0, worker: 'w1', items: 3, batches: 2 },
      { shard: 1, worker: 'w2', items: 1, batches: 2, lost: true, error: 'gone' },
    ],
  };
  const step = (node: string, withPlan: boolean): StepRecord =>
    ({
      node,
      worker: 'w1',
      kind: 'foreach',
      startedAt: 0,
      ...(withPlan ? { shardPlan: plan } : {}),
    }) as unknown as StepRecord;

  it('lists the foreach plans newest first, up to the limit', () => {
    const records = [
      { id: 'a', version: 1, steps: [step('fe', true)] },
      { id: 'b', version: 2, steps: [step('x', false), step('fe', true)] },
    ];
    const got = lastShardPlans(records, 10);
    expect(got.map((p) => p.invocationId)).toEqual(['b', 'a']);
    expect(got[0]).toMatchObject({ node: 'fe', version: 2, planned: 2, actualMs: 12 });
    expect(lastShardPlans(records, 1).map((p) => p.invocationId)).toEqual(['b']);
    const text = shardsLines({ workflow: 'wf', plans: got }).join('\n');
    expect(text).toMatch(/shard 1 on w2: 1 items in 2 batch\(es\), lost \(gone\)/);
    expect(shardsLines({ workflow: 'wf', plans: [] })[0]).toMatch(/no sharded foreach/);
  });
});
